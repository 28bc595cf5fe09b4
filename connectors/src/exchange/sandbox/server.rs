//! The sandbox's HTTP server on hyper: parses requests into [`Req`], applies faults and
//! latency, and routes to the venue dialect by path. The accept loop ([`serve_with`]),
//! [`read`] and [`render`] also serve the sandbox issuing bank.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::{binance, coinbase, kraken, Fault, Operation, Shared};

/// A request, with query and form parameters merged.
#[derive(Debug)]
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub params: BTreeMap<String, String>,
    /// The raw query string, empty when there is none (signatures cover the bytes as sent).
    pub query: String,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Req {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer: status, JSON body, extra headers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            body: body.to_string(),
            headers: Vec::new(),
        }
    }
}

pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    serve_with(listener, move |req| handle(shared.clone(), req)).await;
}

/// Accepts connections and answers each request with `handler`, until the task is aborted.
pub(crate) async fn serve_with<F, Fut>(listener: tokio::net::TcpListener, handler: F)
where
    F: Fn(Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let handler = handler.clone();
                async move {
                    let reply = handler(read(request).await).await;
                    Ok::<_, Infallible>(render(reply))
                }
            });
            // A client that hangs up mid-answer (a timeout) is expected under fault injection.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(shared: Arc<Shared>, req: Req) -> Reply {
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    if let Some(refusal) = super::auth::refuse(&shared, &req, operation(&req)) {
        return refusal;
    }
    with_fault(shared.take_fault(operation(&req)), route(&shared, &req)).await
}

/// Answers `route` as the injected `fault` (if any) says: before executing (503, 429), or
/// after it (500, or the answer held past the client's timeout).
pub(crate) async fn with_fault(fault: Option<Fault>, route: impl Future<Output = Reply>) -> Reply {
    match fault {
        Some(Fault::Outage) => Reply::json(
            503,
            serde_json::json!({ "message": "sandbox outage", "sandbox": true }),
        ),
        Some(Fault::RateLimit { retry_after_secs }) => {
            let mut reply = Reply::json(
                429,
                serde_json::json!({ "message": "sandbox rate limit", "sandbox": true }),
            );
            reply
                .headers
                .push(("Retry-After", retry_after_secs.to_string()));
            reply
        }
        Some(Fault::ErrorAfterExecuting) => {
            let _ = route.await;
            Reply::json(
                500,
                serde_json::json!({ "message": "sandbox error after executing", "sandbox": true }),
            )
        }
        Some(Fault::SlowAfterExecuting { delay }) => {
            let reply = route.await;
            tokio::time::sleep(delay).await;
            reply
        }
        None => route.await,
    }
}

pub(crate) async fn read(request: Request<Incoming>) -> Req {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let mut params: BTreeMap<String, String> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let is_form = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(form_urlencoded::parse(&body).into_owned());
    }
    Req {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        params,
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    }
}

/// Which fault queue a request draws from.
fn operation(req: &Req) -> Operation {
    let post = req.method == Method::POST;
    match req.path.as_str() {
        "/api/v3/order" | "/0/private/AddOrder" | "/api/v3/brokerage/orders" if post => {
            Operation::PlaceOrder
        }
        "/sapi/v1/capital/withdraw/apply" | "/0/private/Withdraw" => Operation::Withdraw,
        p if post && p.starts_with("/v2/accounts/") && p.ends_with("/transactions") => {
            Operation::Withdraw
        }
        _ => Operation::Read,
    }
}

async fn route(shared: &Shared, req: &Req) -> Reply {
    let path = req.path.as_str();
    if path.starts_with("/0/") {
        kraken::handle(shared, req).await
    } else if path.starts_with("/api/v3/brokerage/") || path.starts_with("/v2/") {
        coinbase::handle(shared, req).await
    } else if path.starts_with("/api/v3/") || path.starts_with("/sapi/") {
        binance::handle(shared, req).await
    } else {
        Reply::json(
            404,
            serde_json::json!({ "message": format!("no sandbox route for {path}") }),
        )
    }
}

pub(crate) fn render(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    for (name, value) in reply.headers {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}
