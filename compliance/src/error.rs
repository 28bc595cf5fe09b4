//! The crate's one error type.

/// Everything that can go wrong inside compliance. Note what is *not* here: a sanctions hit or a
/// rule breach is a [`crate::Decision`], not an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComplianceError {
    #[error("list {list}: line {line}: {reason}")]
    MalformedList {
        list: String,
        line: usize,
        reason: String,
    },
    #[error("list {list} is empty (a failed download?)")]
    EmptyList { list: String },
    #[error("csv {file}: record {record}: {reason}")]
    MalformedCsv {
        file: String,
        record: usize,
        reason: String,
    },
    #[error("OFAC manifest: {reason}")]
    MalformedManifest { reason: String },
    #[error("not a screenable address: {reason}")]
    MalformedAddress { reason: String },
    #[error("not an ISO 3166-1 alpha-2 country code: {0:?}")]
    UnknownCountry(String),
    /// The external screener did not answer in time. Maps to Review, never Clear.
    #[error("external screener {provider} timed out")]
    ScreenerTimeout { provider: String },
    /// The external screener is down, refused us, or rate-limited us. Maps to Review.
    #[error("external screener {provider} unavailable: {reason}")]
    ScreenerUnavailable { provider: String, reason: String },
    /// The external screener answered something we could not understand. Maps to Review.
    #[error("external screener {provider} sent an invalid answer: {reason}")]
    ScreenerInvalidResponse { provider: String, reason: String },
    #[error("audit chain broken at record {} ({})", .0.index, .0.id)]
    ChainBroken(crate::audit::BrokenAt),
    /// A payer's date of birth, nationality or ID number that is not well formed.
    #[error("invalid identifier: {reason}")]
    InvalidIdentifier { reason: String },
    #[error("decision cannot be released: {reason}")]
    NotReleasable { reason: String },
}

impl From<crate::audit::BrokenAt> for ComplianceError {
    fn from(value: crate::audit::BrokenAt) -> Self {
        ComplianceError::ChainBroken(value)
    }
}
