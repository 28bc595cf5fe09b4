//! Persisting refunds, payouts and merchant settings (see `crate::refunds`, `crate::payouts`).
//!
//! Both refunds and payouts spend a merchant's held balance. Creating one *reserves* it: the
//! reserving transaction first bumps the merchant's `balance_version` (a row lock on
//! PostgreSQL, the single writer on SQLite), then re-reads the balance from the ledger's
//! entries, and only then records the object with its reservation posting. Two concurrent
//! reservations therefore never both spend the same funds.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::ledger::Account;
use rialto_core::id::{MerchantId, PaymentIntentId, PayoutId, RefundId};
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rust_decimal::Decimal;

use super::{CasOutcome, Event, IdempotencyRecord, Page, StoreError};
use crate::ledger::Posting;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    /// Above the merchant's approval limit to an address other than the payer's: reserved,
    /// waiting for a second key (see `crate::approvals`); nothing is sent until then.
    PendingApproval,
    /// The merchant's balance and refund reserve could not cover it (a merchant on immediate
    /// settlement holds nothing): recorded with no reservation, nothing sent, until the
    /// merchant funds it from its settlement address or tops up its reserve
    /// (`crate::refund_funding`).
    RequiresFunding,
    /// Recorded with its reservation; the transfer may or may not be signed or sent yet.
    Pending,
    Succeeded,
    /// The transfer failed on chain, or could not be sent: the reservation went back.
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::PendingApproval => "pending_approval",
            RefundStatus::RequiresFunding => "requires_funding",
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::PendingApproval,
            Self::RequiresFunding,
            Self::Pending,
            Self::Succeeded,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub payment_intent_id: PaymentIntentId,
    /// Whole units of `asset`.
    pub amount: Decimal,
    /// CAIP-19.
    pub asset: String,
    pub chain_id: String,
    pub destination: String,
    pub reason: String,
    pub status: RefundStatus,
    pub failure_code: Option<String>,
    pub tx_hash: Option<String>,
    pub created_by: String,
    pub metadata: BTreeMap<String, String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// A refund in another asset than the one received: its locked conversion and the
    /// progress of its legs, JSON of [`crate::refund_convert::RefundConversion`]. `None` for a
    /// refund in the asset received.
    pub conversion: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoutStatus {
    /// Above the merchant's approval limit: waits for a second key.
    PendingApproval,
    /// Approved (or below the limit); not yet sent.
    Pending,
    /// The transfer is recorded and on its way.
    InTransit,
    Paid,
    Failed,
    /// The destination failed screening: nothing was sent, the balance went back.
    Blocked,
    Canceled,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 7] = [
        Self::PendingApproval,
        Self::Pending,
        Self::InTransit,
        Self::Paid,
        Self::Failed,
        Self::Blocked,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::PendingApproval => "pending_approval",
            PayoutStatus::Pending => "pending",
            PayoutStatus::InTransit => "in_transit",
            PayoutStatus::Paid => "paid",
            PayoutStatus::Failed => "failed",
            PayoutStatus::Blocked => "blocked",
            PayoutStatus::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: PayoutId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub amount: Decimal,
    pub asset: String,
    pub chain_id: String,
    pub destination: String,
    pub status: PayoutStatus,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub approved_at_ms: Option<i64>,
    pub failure_code: Option<String>,
    pub tx_hash: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Which objects [`MoneyStore::claim_money_object`] claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyTable {
    Refunds,
    Payouts,
}

/// The balance a reservation spends: `amount` of `asset` from ledger account `account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub account: Account,
    pub asset: String,
    pub amount: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveOutcome {
    Reserved,
    /// The account holds less than the amount; nothing was written.
    Insufficient {
        available: Decimal,
    },
    /// The intent moved since it was read (compare-and-set failed); nothing was written.
    Conflict,
}

/// A verified on-chain transfer from a merchant's address to Rialto's treasury that funded a
/// refund or topped up a refund reserve. Unique by `(chain_id, tx_hash)`: a transaction funds
/// one thing, once. Reconciliation expects it as an incoming transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funding {
    pub chain_id: String,
    pub tx_hash: String,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    /// `refund` (funds `reference`, a `re_…`) or `refund_reserve` (a top-up).
    pub purpose: String,
    pub reference: String,
    /// CAIP-19.
    pub asset: String,
    /// Whole units of `asset`.
    pub amount: Decimal,
    pub from_address: String,
    pub to_address: String,
    pub block_number: i64,
    pub created_at_ms: i64,
}

/// Where funding a refund left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FundOutcome {
    Funded,
    /// The funding transaction already funded something; nothing was written.
    ProofUsed,
    /// The reserve holds less than the refund; nothing was written.
    Insufficient {
        available: Decimal,
    },
    /// The refund is no longer in the expected status; nothing was written.
    Conflict,
}

/// What else a write changes in the same transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Effects<'a> {
    /// Compare-and-set of an intent: (expected status, next).
    pub intent: Option<(PaymentStatus, &'a PaymentIntent)>,
    /// Posted before a reservation reads the balance (funds the reservation then spends).
    pub credit: &'a [Posting],
    pub postings: &'a [Posting],
    pub events: &'a [Event],
    pub idempotency: Option<&'a IdempotencyRecord>,
}

#[async_trait]
pub trait MoneyStore: Send + Sync + 'static {
    /// The merchant's settings JSON in one mode, if set.
    async fn merchant_settings(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Option<String>, StoreError>;

    async fn set_merchant_settings(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        settings_json: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Every merchant with settings in `livemode` (the payout scheduler's work list).
    async fn merchants_with_settings(
        &self,
        livemode: bool,
    ) -> Result<Vec<(MerchantId, String)>, StoreError>;

    /// Reserves the balance and records the refund with `effects`, all or nothing.
    async fn create_refund(
        &self,
        refund: &Refund,
        reservation: &Reservation,
        effects: Effects<'_>,
    ) -> Result<ReserveOutcome, StoreError>;

    async fn get_refund(&self, id: &RefundId) -> Result<Option<Refund>, StoreError>;

    /// The merchant's refunds, newest first; only those of `intent` when given.
    async fn list_refunds(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        intent: Option<&PaymentIntentId>,
        starting_after: Option<&RefundId>,
        limit: u32,
    ) -> Result<Page<Refund>, StoreError>;

    /// Refunds in `status`, oldest first (the refund worker's queue).
    async fn refunds_in(&self, status: RefundStatus, limit: u32)
        -> Result<Vec<Refund>, StoreError>;

    /// Compare-and-set of the refund's status (from `expected`) with `effects`.
    async fn update_refund(
        &self,
        next: &Refund,
        expected: RefundStatus,
        effects: Effects<'_>,
    ) -> Result<CasOutcome, StoreError>;

    /// Reserves the balance and records the payout with `effects`, all or nothing.
    async fn create_payout(
        &self,
        payout: &Payout,
        reservation: &Reservation,
        effects: Effects<'_>,
    ) -> Result<ReserveOutcome, StoreError>;

    async fn get_payout(&self, id: &PayoutId) -> Result<Option<Payout>, StoreError>;

    /// Reserves the balance and records `effects` alone (a write-off), all or nothing.
    async fn reserve_and_post(
        &self,
        reservation: &Reservation,
        effects: Effects<'_>,
        now_ms: i64,
    ) -> Result<ReserveOutcome, StoreError>;

    async fn list_payouts(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        starting_after: Option<&PayoutId>,
        limit: u32,
    ) -> Result<Page<Payout>, StoreError>;

    /// Payouts in `status`, oldest first.
    async fn payouts_in(&self, status: PayoutStatus, limit: u32)
        -> Result<Vec<Payout>, StoreError>;

    /// The newest payout of the merchant in `asset` (any status but canceled), for schedules.
    async fn last_payout(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        asset: &str,
    ) -> Result<Option<Payout>, StoreError>;

    /// Compare-and-set of the payout's status (from `expected`) with `effects`.
    async fn update_payout(
        &self,
        next: &Payout,
        expected: PayoutStatus,
        effects: Effects<'_>,
    ) -> Result<CasOutcome, StoreError>;

    /// What the `payment` postings of `intent` credited to `account` (what the merchant was
    /// paid, whatever funded it).
    async fn paid_into(
        &self,
        intent: &PaymentIntentId,
        account: &Account,
    ) -> Result<Decimal, StoreError>;

    /// Takes the refund (`table` = `refunds`) or payout (`payouts`) `id` in `status` for this
    /// instance until `until_ms`, unless another instance holds it: `true` when taken.
    async fn claim_money_object(
        &self,
        table: MoneyTable,
        id: &str,
        status: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Moves a refund from `expected` to `next` (its funded status) in one transaction with:
    /// the funding record, refused as [`FundOutcome::ProofUsed`] when its transaction is
    /// already recorded; and/or a reservation of the merchant's reserve, serialized like every
    /// reservation. All or nothing.
    async fn fund_refund(
        &self,
        next: &Refund,
        expected: RefundStatus,
        funding: Option<&Funding>,
        reservation: Option<&Reservation>,
        effects: Effects<'_>,
    ) -> Result<FundOutcome, StoreError>;

    /// Records a funding (a reserve top-up) with `effects`; `false` (nothing written) when its
    /// transaction is already recorded.
    async fn record_funding(
        &self,
        funding: &Funding,
        effects: Effects<'_>,
    ) -> Result<bool, StoreError>;

    /// The funding recorded for a transaction, if any.
    async fn get_funding(
        &self,
        chain_id: &str,
        tx_hash: &str,
    ) -> Result<Option<Funding>, StoreError>;

    /// Every funding on `chain_id` (reconciliation's expected incoming transfers).
    async fn fundings_on(&self, chain_id: &str) -> Result<Vec<Funding>, StoreError>;

    /// Sum of `account`'s entries in `asset` posted in `livemode`.
    async fn account_balance(
        &self,
        account: &Account,
        asset: &str,
        livemode: bool,
    ) -> Result<Decimal, StoreError>;
}
