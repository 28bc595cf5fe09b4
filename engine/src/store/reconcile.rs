//! What reconciliation and the reports read and persist: the gateway's chain records in pages
//! (with the merchant each belongs to), the addresses it must explain every inflow of, and
//! the runs with their exceptions.

use async_trait::async_trait;
use rialto_core::id::MerchantId;

use super::chain::ChainTransfer;
use super::{PaymentTransaction, StoreError};

/// A leg with the merchant and mode of its payment intent, where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedLeg {
    pub leg: ChainTransfer,
    pub merchant_id: Option<String>,
    pub livemode: Option<bool>,
}

/// A payment transaction with its intent's merchant, mode and where the money was sent (the
/// deposit address for deposits, else the intent's settlement address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPayment {
    pub tx: PaymentTransaction,
    pub merchant_id: String,
    pub livemode: bool,
    pub recipient: String,
    pub intent_status: String,
    pub intent_amount: String,
    pub intent_currency: String,
}

/// An address on a chain and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedAddress {
    pub address: String,
    pub merchant_id: String,
    pub livemode: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationRun {
    pub id: String,
    pub period_start_ms: Option<i64>,
    pub period_end_ms: Option<i64>,
    /// JSON list of `{chain, livemode, from_block, to_block}`.
    pub block_ranges: String,
    pub expected_count: i64,
    pub observed_count: i64,
    pub matched_count: i64,
    pub ledger_count: i64,
    pub exception_count: i64,
    /// `succeeded` or `failed`.
    pub status: String,
    pub failure: Option<String>,
    /// `operator:{name}` or the merchant id.
    pub created_by: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRecord {
    pub run_id: String,
    pub seq: i64,
    pub kind: String,
    pub merchant_id: Option<String>,
    pub livemode: bool,
    pub chain_id: Option<String>,
    pub tx_hash: Option<String>,
    pub log_index: Option<i64>,
    /// Block number (Solana: slot) of the transaction, where known.
    pub block_number: Option<i64>,
    pub expected_amount: Option<String>,
    pub observed_amount: Option<String>,
    pub asset: Option<String>,
    pub purpose: Option<String>,
    pub reference: Option<String>,
    pub detail: String,
    pub created_at_ms: i64,
}

/// Whose rows and which period a report or exception listing reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportScope {
    /// `None`: every merchant (operator export).
    pub merchant: Option<(MerchantId, bool)>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// At most this many rows (the caller asks for one more to learn `has_more`).
    pub limit: u32,
}

#[async_trait]
pub trait ReconcileStore: Send + Sync + 'static {
    /// Legs of `chain_id` ordered by leg id, after `after` (exclusive), at most `limit`.
    async fn legs_page(
        &self,
        chain_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OwnedLeg>, StoreError>;

    /// Payment transactions of `chain_id` ordered by tx hash, after `after`, at most `limit`.
    async fn payments_page(
        &self,
        chain_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OwnedPayment>, StoreError>;

    /// Every deposit address handed out on `chain_id`, whatever its intent's status.
    async fn deposit_addresses_on(&self, chain_id: &str) -> Result<Vec<OwnedAddress>, StoreError>;

    /// The distinct addresses the gateway has signed legs from on `chain_id` (its hot wallet,
    /// deposit addresses, a sandbox bridge's minter): every one is gateway-controlled.
    async fn leg_senders_on(&self, chain_id: &str) -> Result<Vec<String>, StoreError>;

    /// The distinct settlement addresses intents on `chain_id` settle to.
    async fn settlement_addresses_on(
        &self,
        chain_id: &str,
    ) -> Result<Vec<OwnedAddress>, StoreError>;

    /// Legs whose reference is one of `references`.
    async fn legs_for_references(
        &self,
        references: &[String],
    ) -> Result<Vec<ChainTransfer>, StoreError>;

    /// Payment transactions (with their intents) in the scope, by creation time then hash.
    async fn payment_rows(&self, scope: &ReportScope) -> Result<Vec<OwnedPayment>, StoreError>;

    /// Stores a run and its exceptions in one transaction.
    async fn create_reconciliation_run(
        &self,
        run: &ReconciliationRun,
        exceptions: &[ExceptionRecord],
    ) -> Result<(), StoreError>;

    async fn get_reconciliation_run(
        &self,
        id: &str,
    ) -> Result<Option<ReconciliationRun>, StoreError>;

    /// A run's exceptions in order, only the merchant's (and mode's) when `merchant` is set.
    async fn run_exceptions(
        &self,
        run_id: &str,
        merchant: Option<(MerchantId, bool)>,
    ) -> Result<Vec<ExceptionRecord>, StoreError>;

    /// Exceptions of every run in the scope, oldest first.
    async fn exception_rows(&self, scope: &ReportScope)
        -> Result<Vec<ExceptionRecord>, StoreError>;
}
