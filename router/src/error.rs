//! The router's one error type.

use crate::search::Refusal;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    #[error("asset `{0}` is registered twice")]
    DuplicateAsset(String),
    #[error("unknown asset `{0}`")]
    UnknownAsset(String),
    #[error("the route graph is too large for its indices")]
    GraphTooLarge,
    #[error("a {0} edge cannot join these two nodes")]
    InvalidEdge(String),
    #[error("amount `{0}` must be positive and fit the asset's decimals")]
    InvalidAmount(String),
    /// No route reaches the merchant; `refusals` counts why edges were left out.
    #[error("no route can deliver the amount")]
    NoRoute { refusals: Vec<(Refusal, u32)> },
    #[error("the quote expired at {expired_at}")]
    QuoteExpired { expired_at: u64 },
    #[error("a persisted graph or plan does not fit together: {0}")]
    Inconsistent(String),
    #[error("the quote carries no route (it was deserialized, not quoted)")]
    QuoteWithoutRoute,
}
