//! The outbound-HTTP port: how the engine sends a request to an outside party (a merchant's
//! webhook endpoint, the external address screener) without holding an HTTP client itself.
//!
//! The engine builds an [`HttpRequest`] from plain data (a URL, header pairs, body bytes, a
//! deadline and a rule for the answer's body) and gets back an [`HttpResponse`] (the status as
//! a `u16` and the body) or an [`HttpError`] with a fixed reason. The gateway implements
//! [`HttpClient`] with reqwest; tests may implement it with a fake.
//!
//! # Contract every implementation keeps
//! - **Redirects are never followed.** A 3xx answer comes back as the response, status and
//!   all: a redirect could lead anywhere (inside the network, or carry credentials to another
//!   host), and neither caller has a reason to accept one.
//! - **One deadline for everything.** [`HttpRequest::timeout`] bounds the whole exchange:
//!   resolving, connecting, sending, the answer's head and reading its body. Past it the call
//!   returns [`HttpError::Timeout`].
//! - **Bounded bodies.** [`HttpRequest::read_body`] says which bodies are read and how much of
//!   them; a body longer than the cap is refused ([`HttpError::TooLarge`]) before more than
//!   the cap is held in memory.
//! - **No leaking errors.** Failures are an [`HttpError`] whose reasons are fixed strings:
//!   no URL, address or operating-system detail reaches compliance cases or delivery logs.
//! - **One attempt.** The client never retries; the caller owns its retry policy.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
pub use url::Url;

/// Which part of the answer's body the client reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBody {
    /// The body is never read: only the status matters. The response's body is empty.
    Never,
    /// The body of a 2xx answer is read, up to `max_bytes` (more is [`HttpError::TooLarge`]);
    /// any other status comes back at once with an empty body, unread.
    OnSuccess {
        /// The most body bytes accepted.
        max_bytes: usize,
    },
}

/// One POST request.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Where it goes (http or https).
    pub url: Url,
    /// Header names and values, sent as given (names are case-insensitive). An `authorization`
    /// header is treated as sensitive by the client and never shown by `Debug`.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: Vec<u8>,
    /// The deadline of the whole exchange, connection and body included.
    pub timeout: Duration,
    /// Which answers' bodies are read, and the most bytes accepted.
    pub read_body: ReadBody,
}

impl HttpRequest {
    /// A POST to `url` with `body`, no headers yet, a deadline of `timeout`, and the answer's
    /// body left unread.
    pub fn post(url: Url, body: Vec<u8>, timeout: Duration) -> Self {
        Self {
            url,
            headers: Vec::new(),
            body,
            timeout,
            read_body: ReadBody::Never,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets which answers' bodies are read.
    pub fn read_body(mut self, read_body: ReadBody) -> Self {
        self.read_body = read_body;
        self
    }
}

/// Shows the URL, the header names (values may be credentials or signatures), the body's size
/// and the limits.
impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("url", &self.url.as_str())
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .field("timeout", &self.timeout)
            .field("read_body", &self.read_body)
            .finish()
    }
}

/// The answer: its status and the body the request's [`ReadBody`] asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code, e.g. 200, 302, 503.
    pub status: u16,
    /// The body as read (empty when it was not read).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no usable answer. The reasons are fixed strings by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The deadline passed (connecting, waiting for the answer, or reading its body).
    #[error("timed out")]
    Timeout,
    /// No connection could be made (refused, unreachable, name not resolved, TLS failed).
    #[error("connection failed")]
    Connect,
    /// The server's TLS certificate was refused: not issued by a trusted CA (the webpki roots
    /// or the configured extra CA), expired, or for another host name. Not retried into
    /// success by waiting: the operator's trust settings or the server must change.
    #[error("the server's TLS certificate was refused (untrusted issuer or wrong host name)")]
    Certificate,
    /// The body was longer than the request allowed.
    #[error("response body larger than {max_bytes} bytes")]
    TooLarge {
        /// The cap the request set.
        max_bytes: usize,
    },
    /// The connection dropped while the body was being read: what arrived is truncated.
    #[error("response body cut off")]
    BodyCutOff,
    /// Anything else (the request could not be built or sent, the answer was not HTTP).
    #[error("{0}")]
    Other(&'static str),
}

/// Sends requests to outside parties. Object-safe: the engine holds an `Arc<dyn HttpClient>`.
///
/// Implementations keep the contract of this module: redirects are never followed, the
/// request's deadline covers the whole exchange, bodies are read only as [`ReadBody`] says,
/// errors carry fixed reasons only, and nothing is retried.
#[async_trait]
pub trait HttpClient: Send + Sync + fmt::Debug {
    /// POSTs `request` and returns the answer, whatever its status.
    async fn post(&self, request: HttpRequest) -> Result<HttpResponse, HttpError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_header_names_but_never_their_values() {
        let url = Url::parse("https://screener.example/v2").unwrap();
        let request = HttpRequest::post(url, b"[]".to_vec(), Duration::from_secs(3))
            .header("authorization", "Basic c2VjcmV0OnNlY3JldA==")
            .read_body(ReadBody::OnSuccess { max_bytes: 10 });
        let shown = format!("{request:?}");
        assert!(shown.contains("authorization"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("body_bytes: 2"), "{shown}");
    }

    #[test]
    fn only_2xx_is_success_and_errors_read_as_fixed_reasons() {
        let answer = |status| HttpResponse {
            status,
            body: Vec::new(),
        };
        assert!(answer(200).is_success() && answer(299).is_success());
        assert!(!answer(199).is_success() && !answer(302).is_success());
        assert_eq!(HttpError::Connect.to_string(), "connection failed");
        assert_eq!(
            HttpError::TooLarge { max_bytes: 5 }.to_string(),
            "response body larger than 5 bytes"
        );
    }
}
