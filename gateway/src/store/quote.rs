//! Quotes the router gave payers (see `gateway/src/routing`).

use async_trait::async_trait;
use rialto_core::id::{MerchantId, PaymentIntentId};

use super::StoreError;

/// One stored quote: the API object as JSON, with what accepting it checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRecord {
    /// `qt_…`.
    pub id: String,
    pub payment_intent_id: PaymentIntentId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    /// `open`, `accepted`, `expired`.
    pub status: String,
    /// The quote object as the API answered it.
    pub body: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub created_at: i64,
    pub accepted_at: Option<i64>,
}

/// What a compare-and-set accept found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOutcome {
    Accepted,
    /// This quote, or another quote of the same intent, is already accepted.
    AlreadyAccepted,
    /// Past its expiry (now marked `expired`).
    Expired,
    NotFound,
}

#[async_trait]
pub trait QuoteStore: Send + Sync + 'static {
    async fn create_quotes(&self, quotes: &[QuoteRecord]) -> Result<(), StoreError>;

    async fn get_quote(&self, id: &str) -> Result<Option<QuoteRecord>, StoreError>;

    /// Moves the quote from `open` to `accepted` if it has not expired at `now` (Unix seconds)
    /// and no other quote of its intent is accepted: a compare-and-set, so two concurrent
    /// accepts cannot both win.
    async fn accept_quote(&self, id: &str, now: i64) -> Result<AcceptOutcome, StoreError>;
}
