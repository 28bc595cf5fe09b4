//! Persisting the ledger (see `crate::ledger`).

use async_trait::async_trait;
use rialto_core::id::MerchantId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};

use super::{CasOutcome, Event, StoreError};
use crate::ledger::Posting;

#[async_trait]
pub trait LedgerStore: Send + Sync + 'static {
    /// Compare-and-set of the intent (as `update_intent`) with its event and the postings, in
    /// one transaction: the money event is recorded exactly when the status change is.
    async fn update_intent_with_postings(
        &self,
        expected: PaymentStatus,
        next: &PaymentIntent,
        event: &Event,
        postings: &[Posting],
    ) -> Result<CasOutcome, StoreError>;

    /// Many compare-and-sets, each as [`Self::update_intent_with_postings`] with its own
    /// events, written in one database transaction (a worker settling many intents pays one
    /// commit for all of them). Each write stands alone: one whose intent another worker moved
    /// first is skipped (`Conflict`) and the others still apply. Answers each write's outcome,
    /// in order. Fails as a whole (nothing written) only when a posting does not balance or the
    /// database fails.
    async fn update_intents_with_postings(
        &self,
        writes: &[IntentWrite],
    ) -> Result<Vec<CasOutcome>, StoreError>;

    /// The merchant's ledger transactions in one mode, oldest first, with their entries.
    async fn merchant_postings(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Vec<Posting>, StoreError>;

    /// Every ledger transaction with its entries (reconciliation, and the tests' invariant).
    async fn all_postings(&self) -> Result<Vec<Posting>, StoreError>;
}

/// One intent's step for [`LedgerStore::update_intents_with_postings`]: the row must still be
/// at `expected` status and `expected_version` (the intent as it was read, so several
/// transitions made in memory land as one), and becomes `next` with its events and postings.
#[derive(Debug, Clone)]
pub struct IntentWrite {
    pub expected: PaymentStatus,
    pub expected_version: i64,
    pub next: PaymentIntent,
    pub events: Vec<Event>,
    pub postings: Vec<Posting>,
}
