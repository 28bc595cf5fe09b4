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

    /// The merchant's ledger transactions in one mode, oldest first, with their entries.
    async fn merchant_postings(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Vec<Posting>, StoreError>;

    /// Every ledger transaction with its entries (reconciliation, and the tests' invariant).
    async fn all_postings(&self) -> Result<Vec<Posting>, StoreError>;
}
