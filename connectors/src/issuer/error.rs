//! The one error type of the issuer layer. A refusal of the request itself (not allow-listed,
//! insufficient USD) is not an error: it is a request with status `rejected` and a
//! [`super::RejectionCode`], kept under its reference like any other outcome.

use std::time::Duration;

/// Everything an [`super::Issuer`] call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// 5xx, 503, connection refused, or a read that timed out. A retry is safe, and for a
    /// state-changing request it must carry the same reference: the bank executes a reference
    /// at most once (a 500 may come after the bank executed it).
    #[error("issuer unavailable: {message}")]
    Unavailable { message: String },
    /// The bank asked us to slow down. Nothing was executed.
    #[error("issuer rate limited the request (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// A state-changing request was sent and no answer came back in time: it may have
    /// executed. Retrying with the same reference is safe and answers the first result.
    #[error("issuer: no answer to {operation} in time")]
    Timeout { operation: &'static str },
    /// The bank refused our credentials or signature.
    #[error("issuer refused the credentials: {message}")]
    Auth { message: String },
    /// The reference was used before for a different request; nothing was executed.
    #[error("issuer reference {reference} was used for a different request")]
    ReferenceReused { reference: String },
    /// No request under that reference.
    #[error("issuer knows no request {reference}")]
    NotFound { reference: String },
    /// The bank could not read the request (a malformed body): a bug on our side.
    #[error("issuer refused a malformed request: {message}")]
    InvalidRequest { message: String },
    /// The bank answered something we could not read.
    #[error("unreadable issuer response: {message}")]
    Decode { message: String },
    /// Our side is misconfigured (bad base URL).
    #[error("issuer configuration error: {message}")]
    Config { message: String },
    /// The mint guard (secure mint: supply + mint ≤ reserves) refused; nothing was sent.
    #[error("mint refused by the guard: {message}")]
    MintGuardRefused { message: String },
}

impl IssuerError {
    /// The stable snake_case code callers, logs and API errors carry.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "issuer_unavailable",
            Self::RateLimited { .. } => "issuer_rate_limited",
            Self::Timeout { .. } => "issuer_timeout",
            Self::Auth { .. } => "issuer_auth_failed",
            Self::ReferenceReused { .. } => "issuer_reference_reused",
            Self::NotFound { .. } => "issuer_request_not_found",
            Self::InvalidRequest { .. } => "issuer_invalid_request",
            Self::Decode { .. } => "issuer_decode_failed",
            Self::Config { .. } => "issuer_config_error",
            Self::MintGuardRefused { .. } => "mint_guard_refused",
        }
    }

    /// Whether sending the same request again (same reference) is the right move.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::RateLimited { .. } | Self::Timeout { .. } => true,
            Self::Auth { .. }
            | Self::ReferenceReused { .. }
            | Self::NotFound { .. }
            | Self::InvalidRequest { .. }
            | Self::Decode { .. }
            | Self::Config { .. }
            | Self::MintGuardRefused { .. } => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}
