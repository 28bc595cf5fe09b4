//! Redemptions of deposit tokens at the issuing bank (`crate::issuer_redemption`): one row per
//! redemption, stored before anything moves. Its id is the bank's request reference.

use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::ledger::Posting;

/// Where a redemption stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    /// Recorded; the request is on its way to the bank (or its outcome is being read).
    Pending,
    /// Burned on chain (a `Transfer` of exactly the amount from the treasury to the zero
    /// address) and credited at the bank; booked.
    Completed,
    /// The bank refused it: nothing burned, nothing credited.
    Failed,
    /// Sent, but the bank or the chain did not confirm what was asked: never sent again, for
    /// an operator and reconciliation.
    Unknown,
}

impl RedemptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }
}

/// One redemption of the treasury's deposit tokens at an issuing bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerRedemption {
    /// `leg_…`: the bank's request reference.
    pub id: String,
    pub livemode: bool,
    /// The desk's name (`sandbox-bank`).
    pub issuer: String,
    /// The token's symbol.
    pub asset: String,
    /// CAIP-19 of the token.
    pub asset_id: String,
    /// CAIP-2.
    pub chain: String,
    /// The token's contract.
    pub token: String,
    pub decimals: u32,
    /// The treasury's allow-listed wallet the tokens are burned from.
    pub wallet: String,
    pub amount: Decimal,
    pub status: RedemptionStatus,
    /// The bank's fee and the USD it credited (amount − fee), once it said.
    pub fee: Option<Decimal>,
    pub usd_credited: Option<Decimal>,
    /// The burn's transaction and block.
    pub tx_hash: Option<String>,
    pub block_number: Option<i64>,
    /// Why it failed or is unknown.
    pub reason: Option<String>,
    /// `operator:<key name>`.
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[async_trait]
pub trait IssuerRedemptionStore: Send + Sync + 'static {
    /// Records a new redemption (status `pending`).
    async fn create_issuer_redemption(&self, row: &IssuerRedemption) -> Result<(), StoreError>;

    async fn get_issuer_redemption(&self, id: &str)
        -> Result<Option<IssuerRedemption>, StoreError>;

    /// A mode's redemptions, newest first.
    async fn list_issuer_redemptions(
        &self,
        livemode: bool,
        limit: u32,
    ) -> Result<Vec<IssuerRedemption>, StoreError>;

    /// Every redemption on `chain` (reconciliation expects their burns).
    async fn issuer_redemptions_on(&self, chain: &str)
        -> Result<Vec<IssuerRedemption>, StoreError>;

    /// Writes `row` if the stored one is still `expected`, with `postings`, in one
    /// transaction; `false` (nothing written) otherwise.
    async fn update_issuer_redemption(
        &self,
        row: &IssuerRedemption,
        expected: RedemptionStatus,
        postings: &[Posting],
    ) -> Result<bool, StoreError>;
}
