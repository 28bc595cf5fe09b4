//! The engine's outbound-HTTP port ([`HttpClient`]) implemented with reqwest: the client
//! webhook deliveries and the external address screener send through.
//!
//! Redirects are never followed, connecting is bounded by the client's connect timeout and the
//! whole exchange by each request's own deadline, bodies are read chunk by chunk and refused
//! past the request's cap, and failures come back as the port's fixed reasons (reqwest's own
//! messages carry URLs and OS detail). TLS is rustls with the webpki roots, as for every other
//! outbound connection of the gateway.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use rialto_engine::outbound::{HttpClient, HttpError, HttpRequest, HttpResponse, ReadBody};

/// How long connecting may take, whatever the request's own (shorter) deadline.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The reqwest implementation of the port. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    /// Builds the client: no redirects, connecting bounded by `connect_timeout`, proxies from
    /// the environment as reqwest reads them. Fails only when the TLS backend cannot start.
    pub fn new(connect_timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .build()?;
        Ok(Self { client })
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut builder = self
            .client
            .post(request.url)
            .timeout(request.timeout)
            .body(request.body);
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::Other("invalid header"))?;
            let mut value =
                HeaderValue::from_str(value).map_err(|_| HttpError::Other("invalid header"))?;
            value.set_sensitive(name == reqwest::header::AUTHORIZATION);
            builder = builder.header(name, value);
        }
        let response = builder.send().await.map_err(|e| send_error(&e))?;
        let status = response.status().as_u16();
        let body = match request.read_body {
            ReadBody::OnSuccess { max_bytes } if response.status().is_success() => {
                read_capped(response, max_bytes).await?
            }
            ReadBody::OnSuccess { .. } | ReadBody::Never => Vec::new(),
        };
        Ok(HttpResponse { status, body })
    }
}

#[async_trait]
impl HttpClient for ReqwestHttpClient {
    async fn post(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        // reqwest's per-request timeout covers the body too; this makes the port's deadline
        // hold even if a future reqwest changes what its timeout covers.
        let deadline = request.timeout;
        tokio::time::timeout(deadline, self.exchange(request))
            .await
            .unwrap_or(Err(HttpError::Timeout))
    }
}

/// The client deliveries and screenings share, as the engine's port. Building it only fails
/// when the TLS backend cannot start; start-up stops then.
pub fn outbound(connect_timeout: Duration) -> Result<Arc<dyn HttpClient>, reqwest::Error> {
    Ok(Arc::new(ReqwestHttpClient::new(connect_timeout)?))
}

/// Like [`outbound`], for callers that cannot stop: when the client cannot be built, the error
/// is logged and the answer is a client that fails every request, so deliveries wait for their
/// retries and screenings go to review; nothing is sent with weaker settings.
pub fn outbound_or_failing(connect_timeout: Duration) -> Arc<dyn HttpClient> {
    outbound(connect_timeout).unwrap_or_else(|error| {
        tracing::error!(error = %error, "outbound HTTP client unavailable; every request will fail");
        Arc::new(Unavailable)
    })
}

/// Fails every request: what [`outbound_or_failing`] answers when no client could be built.
#[derive(Debug)]
struct Unavailable;

#[async_trait]
impl HttpClient for Unavailable {
    async fn post(&self, _request: HttpRequest) -> Result<HttpResponse, HttpError> {
        Err(HttpError::Other("HTTP client unavailable"))
    }
}

fn send_error(error: &reqwest::Error) -> HttpError {
    if error.is_timeout() {
        HttpError::Timeout
    } else if error.is_connect() {
        HttpError::Connect
    } else if error.is_builder() {
        HttpError::Other("invalid request")
    } else {
        HttpError::Other("request failed")
    }
}

/// Reads the body chunk by chunk so an oversized answer is refused before it is buffered.
async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, HttpError> {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > max_bytes {
                    return Err(HttpError::TooLarge { max_bytes });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(e) if e.is_timeout() => return Err(HttpError::Timeout),
            Err(_) => return Err(HttpError::BodyCutOff),
        }
    }
}

#[cfg(test)]
#[path = "http_client_tests.rs"]
mod tests;
