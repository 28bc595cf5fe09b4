//! The relay queue: EIP-3009 authorizations accepted for an intent and waiting to be relayed
//! in a `BatchRelayer` batch (issue 21, point 7; docs/evm.md, "Batched relays").
//!
//! The protocol, in the order it happens, so that a crash anywhere neither loses an accepted
//! authorization nor relays one twice:
//! 1. [`RelayQueueStore::enqueue_relay`]: at most one live authorization per intent (the row is
//!    keyed by intent) and per signed authorization (chain, token, payer, nonce). Only a
//!    `skipped` or `failed` row may be replaced by a new authorization for its intent.
//! 2. [`RelayQueueStore::assign_relay_batch`]: queued rows are bound to a batch id (compare and
//!    set, so two gateways never put one row in two batches) BEFORE the batch transaction is
//!    recorded. A batch's items never change afterwards.
//! 3. The batch transaction is recorded (signed) by the rail under `(eip3009_batch, batch id)`
//!    before it is sent; after a crash the same batch id finds the same transaction.
//! 4. [`RelayQueueStore::finish_relay_item`]: once the batch is mined, each item is decided from
//!    the receipt: `relayed` (its payment transaction is bound to the intent) or `skipped`
//!    (the token refused it; the intent stays awaiting funds).

use async_trait::async_trait;
use rialto_core::id::PaymentIntentId;

use super::StoreError;

/// Why a relayed item is failed when its batch transaction is bound to another payment (never
/// for a batch the gateway built).
pub const BOUND_ELSEWHERE: &str = "the batch transaction is bound to another payment";

/// Where a queued authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelayItemStatus {
    /// Accepted and screened; waiting for a batch.
    Queued,
    /// Bound to a batch (`batch_id`); its transaction is recorded or about to be.
    Batched,
    /// The batch was mined and the token spent this authorization.
    Relayed,
    /// The batch was mined and the token refused this authorization; nothing moved.
    Skipped,
    /// The whole batch transaction failed (reverted or was cancelled); nothing moved.
    Failed,
}

impl RelayItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RelayItemStatus::Queued => "queued",
            RelayItemStatus::Batched => "batched",
            RelayItemStatus::Relayed => "relayed",
            RelayItemStatus::Skipped => "skipped",
            RelayItemStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            RelayItemStatus::Queued,
            RelayItemStatus::Batched,
            RelayItemStatus::Relayed,
            RelayItemStatus::Skipped,
            RelayItemStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether the authorization is done with: a new one may take the intent's row.
    pub fn is_final_without_payment(self) -> bool {
        matches!(self, RelayItemStatus::Skipped | RelayItemStatus::Failed)
    }
}

/// What a mined batch made of one of its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDecision {
    pub payment_intent_id: PaymentIntentId,
    /// `relayed`, `skipped` or `failed`.
    pub status: RelayItemStatus,
    /// Why a skipped or failed item moved nothing.
    pub reason: Option<String>,
    /// A relayed item's payment transaction: bound to its intent before the item is marked
    /// relayed, in the same database transaction.
    pub claim: Option<crate::store::PaymentTransaction>,
}

/// One authorization in the relay queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayItem {
    pub payment_intent_id: PaymentIntentId,
    /// CAIP-2.
    pub chain_id: String,
    pub livemode: bool,
    /// Token contract, lower case.
    pub token: String,
    /// `authorization.from`, lower case.
    pub payer: String,
    /// `authorization.nonce`, lower case `0x` + 64 hex digits.
    pub nonce: String,
    /// `authorization.value`, base units.
    pub amount_units: String,
    /// The checked `transferWithAuthorization` calldata, `0x` hex: the batch item is decoded
    /// from it, so what is relayed is exactly what was checked.
    pub calldata: String,
    pub status: RelayItemStatus,
    pub batch_id: Option<String>,
    /// Position among the batch's items (gaps possible; order is what counts).
    pub batch_index: Option<i64>,
    /// The batch transaction: its first hash once recorded, the mined one once decided.
    pub tx_hash: Option<String>,
    /// Why a skipped or failed item moved nothing (the token's revert reason).
    pub reason: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[async_trait]
pub trait RelayQueueStore: Send + Sync + 'static {
    /// Queues `item` (status `queued`) unless its intent holds a live row already: answers the
    /// row that stands for the intent afterwards, which is `item` when it was queued (a new
    /// row, or one replacing a `skipped`/`failed` row) and the earlier row otherwise (the
    /// caller compares payer and nonce). `None` when the same authorization (chain, token,
    /// payer, nonce) is queued for another intent: nothing stored.
    async fn enqueue_relay(&self, item: &RelayItem) -> Result<Option<RelayItem>, StoreError>;

    /// The intent's row, if it has one.
    async fn get_relay_item(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Option<RelayItem>, StoreError>;

    /// Queued rows of a chain, oldest first.
    async fn queued_relays(&self, chain_id: &str, limit: u32)
        -> Result<Vec<RelayItem>, StoreError>;

    /// Binds each of `intents` still `queued` to `batch_id` (in that order) and answers the
    /// batch's items as they now stand. Rows another gateway took meanwhile are left out.
    async fn assign_relay_batch(
        &self,
        batch_id: &str,
        intents: &[PaymentIntentId],
        now_ms: i64,
    ) -> Result<Vec<RelayItem>, StoreError>;

    /// Batch ids of a chain with items still `batched` (in flight or not yet recorded).
    async fn open_relay_batches(&self, chain_id: &str) -> Result<Vec<String>, StoreError>;

    /// A batch's items, in batch order.
    async fn relay_batch(&self, batch_id: &str) -> Result<Vec<RelayItem>, StoreError>;

    /// Notes the batch's recorded transaction on its items (for the payer's answer).
    async fn set_relay_batch_tx(
        &self,
        batch_id: &str,
        tx_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Moves a `batched` item to `status` with the mined transaction and the reason (compare
    /// and set): `false` when it was not `batched` any more.
    async fn finish_relay_item(
        &self,
        intent: &PaymentIntentId,
        status: RelayItemStatus,
        tx_hash: &str,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Decides many `batched` items of the mined batch transaction `tx_hash` in one database
    /// transaction: for each, binds its claim first (as `ComplianceStore::claim_transaction`;
    /// a transaction already bound to another payment makes the item `failed`), then moves it
    /// compare-and-set from `batched`. Answers each item's status afterwards (`None`: it was
    /// not `batched` any more and nothing changed).
    async fn decide_relay_items(
        &self,
        tx_hash: &str,
        decisions: &[ItemDecision],
        now_ms: i64,
    ) -> Result<Vec<Option<RelayItemStatus>>, StoreError>;
}
