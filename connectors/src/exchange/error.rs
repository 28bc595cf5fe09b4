//! The one error type of the exchange layer.

use std::time::Duration;

use super::Venue;

/// Everything an exchange call can fail with.
///
/// The split that matters to callers is between *transient* failures (retry later, maybe after
/// `retry_after`), *venue rejections* (the venue refused; retrying the same request is pointless)
/// and [`ExchangeError::Unknown`] (we sent a money-moving request and cannot tell whether it
/// happened: look it up, never resend blind).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// The venue (HTTP 429/418 or its own rate-limit error) or our local limiter refused the
    /// request. Nothing was executed.
    #[error("{venue} rate limited the request (retry after {retry_after:?})")]
    RateLimited {
        venue: Venue,
        retry_after: Option<Duration>,
    },
    /// 5xx, connection refused, a timeout on a request that moves no money, or a venue saying it
    /// is busy. Nothing was executed (or it did not matter), so a retry is safe.
    #[error("{venue} unavailable: {message}")]
    Unavailable { venue: Venue, message: String },
    /// A money-moving request (order, withdrawal) was sent but its outcome is unknown: the
    /// connection timed out or broke after sending, or the answer was unreadable. Resolve with
    /// [`super::Exchange::find_order`] / [`super::Exchange::find_withdrawal`] before any retry.
    #[error("{venue}: outcome of {operation} unknown: {message}")]
    Unknown {
        venue: Venue,
        operation: &'static str,
        message: String,
    },
    #[error("{venue}: insufficient funds: {message}")]
    InsufficientFunds { venue: Venue, message: String },
    #[error("{venue}: below the venue minimum: {message}")]
    BelowMinimum { venue: Venue, message: String },
    #[error("{venue}: withdrawal address not whitelisted: {message}")]
    AddressNotWhitelisted { venue: Venue, message: String },
    #[error("{venue}: invalid symbol: {message}")]
    InvalidSymbol { venue: Venue, message: String },
    /// The visible book cannot fill the requested size.
    #[error("{venue}: not enough liquidity: {message}")]
    InsufficientLiquidity { venue: Venue, message: String },
    /// Credentials refused (bad key, bad signature, missing permission, stale nonce/timestamp).
    #[error("{venue}: authentication refused: {message}")]
    Auth { venue: Venue, message: String },
    /// Any other refusal, with the venue's own words.
    #[error("{venue} rejected the request: {message}")]
    Rejected { venue: Venue, message: String },
    /// The venue does not offer this (asset, network, order type, operation).
    #[error("{venue} does not support {what}")]
    Unsupported { venue: Venue, what: String },
    /// The venue answered a read with something we could not parse (malformed or truncated
    /// JSON, a missing field). Not retryable: the same answer would come back.
    #[error("{venue}: unreadable response: {message}")]
    Decode { venue: Venue, message: String },
    /// Our side is misconfigured (unparseable secret, bad base URL).
    #[error("{venue}: configuration error: {message}")]
    Config { venue: Venue, message: String },
}

impl ExchangeError {
    /// Whether the same request may simply be sent again (after [`Self::retry_after`]).
    /// `Unknown` is deliberately not retryable: it needs a lookup first.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unavailable { .. } => true,
            Self::Unknown { .. }
            | Self::InsufficientFunds { .. }
            | Self::BelowMinimum { .. }
            | Self::AddressNotWhitelisted { .. }
            | Self::InvalidSymbol { .. }
            | Self::InsufficientLiquidity { .. }
            | Self::Auth { .. }
            | Self::Rejected { .. }
            | Self::Unsupported { .. }
            | Self::Decode { .. }
            | Self::Config { .. } => false,
        }
    }

    /// How long the venue asked us to wait, where it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the outcome of a money-moving request is unknown.
    pub fn is_unknown_outcome(&self) -> bool {
        matches!(self, Self::Unknown { .. })
    }

    /// The venue the error came from.
    pub fn venue(&self) -> Venue {
        match self {
            Self::RateLimited { venue, .. }
            | Self::Unavailable { venue, .. }
            | Self::Unknown { venue, .. }
            | Self::InsufficientFunds { venue, .. }
            | Self::BelowMinimum { venue, .. }
            | Self::AddressNotWhitelisted { venue, .. }
            | Self::InvalidSymbol { venue, .. }
            | Self::InsufficientLiquidity { venue, .. }
            | Self::Auth { venue, .. }
            | Self::Rejected { venue, .. }
            | Self::Unsupported { venue, .. }
            | Self::Decode { venue, .. }
            | Self::Config { venue, .. } => *venue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_and_outages_are_retryable() {
        let v = Venue::Kraken;
        let m = || "m".to_owned();
        assert!(ExchangeError::RateLimited {
            venue: v,
            retry_after: None
        }
        .is_retryable());
        assert!(ExchangeError::Unavailable {
            venue: v,
            message: m()
        }
        .is_retryable());
        let unknown = ExchangeError::Unknown {
            venue: v,
            operation: "order",
            message: m(),
        };
        assert!(!unknown.is_retryable());
        assert!(unknown.is_unknown_outcome());
        assert!(!ExchangeError::InsufficientFunds {
            venue: v,
            message: m()
        }
        .is_retryable());
        assert!(!ExchangeError::Decode {
            venue: v,
            message: m()
        }
        .is_retryable());
    }

    #[test]
    fn retry_after_is_carried_only_by_rate_limits() {
        let wait = Some(Duration::from_secs(7));
        let limited = ExchangeError::RateLimited {
            venue: Venue::Binance,
            retry_after: wait,
        };
        assert_eq!(limited.retry_after(), wait);
        let rejected = ExchangeError::Rejected {
            venue: Venue::Binance,
            message: "x".into(),
        };
        assert_eq!(rejected.retry_after(), None);
    }
}

/// Signing a venue request, or reading a key or a nonce for it, failed: nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("API secret is not base64: {0}")]
    SecretNotBase64(String),
    #[error("the API secret is not a usable HMAC key")]
    HmacKey,
    #[error("CDP key is neither a SEC1 nor a PKCS#8 P-256 PEM")]
    BadPem,
    #[error("not a P-256 scalar")]
    BadScalar,
    #[error("PEM encoding failed")]
    PemEncoding,
    #[error("JWT encoding failed: {0}")]
    Encoding(String),
    /// The nonce store could not hand out the next nonce.
    #[error("{0}")]
    Nonce(String),
}
