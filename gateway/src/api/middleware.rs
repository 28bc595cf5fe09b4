//! The layer around every request: a request id (header `Request-Id`, in every log line and in
//! every error body), a log line per request, and Prometheus metrics.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use rialto_core::id::{Id, IdKind};
use tracing::Instrument;

use crate::error::ErrorMarker;

/// Marker for request ids (`req_`).
#[derive(Debug)]
pub enum RequestKind {}
impl IdKind for RequestKind {
    const PREFIX: &'static str = "req";
}

/// Error bodies are small; anything larger is passed through unstamped.
const MAX_STAMPED_BODY: usize = 64 * 1024;

pub async fn request_context(req: Request, next: Next) -> Response {
    let request_id = Id::<RequestKind>::generate().to_string();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", request_id = %request_id, %method, %route);
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    if response.extensions().get::<ErrorMarker>().is_some() {
        response = stamp_request_id(response, &request_id).await;
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
    });
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("rialto_http_requests_total", &labels).increment(1);
    metrics::histogram!("rialto_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", value);
    }
    response
}

async fn stamp_request_id(response: Response, request_id: &str) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_STAMPED_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let stamped = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|mut value| {
            let error = value.get_mut("error")?.as_object_mut()?;
            error.insert("request_id".into(), request_id.into());
            serde_json::to_vec(&value).ok()
        });
    let mut parts = parts;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(stamped.unwrap_or_else(|| bytes.to_vec())))
}
