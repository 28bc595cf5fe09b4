//! HTTP plumbing shared by the venue clients: sending, classifying transport failures and
//! HTTP statuses, and reading bodies. Venue-specific error bodies are mapped in each venue
//! module; this module only knows what HTTP itself says.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use super::{ExchangeError, Venue};

/// Whether a request moves money. It decides what an ambiguous failure means: for a read, a
/// timeout is just an outage (retry); for an order or withdrawal it is an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Read,
    MovesMoney(&'static str),
}

/// A complete venue answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Sends a request and reads the whole body.
///
/// Connection failures before anything was sent are `Unavailable` whatever the effect: the
/// venue never saw the request. Timeouts and broken bodies are `Unavailable` for reads and
/// `Unknown` for money-moving requests.
pub(crate) async fn send(
    venue: Venue,
    request: RequestBuilder,
    effect: Effect,
) -> Result<RawResponse, ExchangeError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(venue, e, effect))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(venue, e, effect))?
        .to_vec();
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn transport_error(venue: Venue, error: reqwest::Error, effect: Effect) -> ExchangeError {
    // The URL can carry signed query parameters; errors travel into logs, so it is dropped.
    let error = error.without_url();
    // `is_connect` means the TCP/TLS connection never came up: nothing reached the venue.
    if error.is_connect() {
        return ExchangeError::Unavailable {
            venue,
            message: format!("connection failed: {error}"),
        };
    }
    if error.is_builder() {
        return ExchangeError::Config {
            venue,
            message: error.to_string(),
        };
    }
    let message = if error.is_timeout() {
        format!("timed out: {error}")
    } else {
        format!("transport error: {error}")
    };
    match effect {
        Effect::Read => ExchangeError::Unavailable { venue, message },
        Effect::MovesMoney(operation) => ExchangeError::Unknown {
            venue,
            operation,
            message,
        },
    }
}

/// What the HTTP status alone says, before the venue's body is looked at:
/// 429 and 418 (Binance's IP ban) are rate limits with `Retry-After`; 5xx is an outage for a
/// read and an unknown outcome for a money-moving request (Binance documents that a 5xx order
/// "could have been a success"). Anything else is left to the venue's body mapping.
pub(crate) fn classify_status(
    venue: Venue,
    response: &RawResponse,
    effect: Effect,
) -> Option<ExchangeError> {
    let status = response.status;
    if status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 418 {
        return Some(ExchangeError::RateLimited {
            venue,
            retry_after: retry_after(&response.headers),
        });
    }
    if status.is_server_error() {
        let message = format!("HTTP {status}: {}", snippet(&response.body));
        return Some(match effect {
            Effect::Read => ExchangeError::Unavailable { venue, message },
            Effect::MovesMoney(operation) => ExchangeError::Unknown {
                venue,
                operation,
                message,
            },
        });
    }
    None
}

/// `Retry-After` in delta-seconds. The HTTP-date form is not used by these venues; it reads as
/// "no hint" rather than a guess.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Parses a body as `T`. A malformed or truncated body is `Decode` for a read, and `Unknown`
/// for a money-moving request: the venue may have acted on it even if we cannot read its answer.
pub(crate) fn parse<T: DeserializeOwned>(
    venue: Venue,
    body: &[u8],
    effect: Effect,
) -> Result<T, ExchangeError> {
    serde_json::from_slice(body).map_err(|e| {
        let message = format!("{e}: {}", snippet(body));
        match effect {
            Effect::Read => ExchangeError::Decode { venue, message },
            Effect::MovesMoney(operation) => ExchangeError::Unknown {
                venue,
                operation,
                message,
            },
        }
    })
}

/// The start of a body, for error messages (bodies can be large HTML error pages).
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect()
}

/// A decoding failure found after parsing (a missing field, a number that is not a decimal).
pub(crate) fn decode_error(venue: Venue, effect: Effect, message: String) -> ExchangeError {
    match effect {
        Effect::Read => ExchangeError::Decode { venue, message },
        Effect::MovesMoney(operation) => ExchangeError::Unknown {
            venue,
            operation,
            message,
        },
    }
}
