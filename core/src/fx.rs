//! A locked FX conversion: what an intent priced in a fiat currency costs in its settlement
//! asset, fixed for a while, with the feed rounds it was priced from. The router computes it
//! (`rialto_router::fx::lock_fx`); the intent carries it once the payer commits to pay
//! (docs/money.md, "Fiat pricing and FX locks").

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One feed round the rate was computed from, for the intent and the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxSource {
    /// `EUR/USD`.
    pub pair: String,
    pub price: Decimal,
    pub round_id: u128,
    /// Unix seconds of the round's last update (Chainlink's `updatedAt`).
    pub updated_at: u64,
}

/// A locked conversion: until `expires_at`, the payer owes `payer_amount` of the settlement
/// asset and the merchant is owed exactly `settlement_amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxLock {
    /// The fiat currency the intent is priced in (`eur`).
    pub price_currency: String,
    /// The settlement asset (`usdc`).
    pub settlement_currency: String,
    /// The fiat amount priced.
    pub amount: Decimal,
    /// Settlement units per one unit of the fiat currency at the mid rate, rounded for display
    /// to 10 decimals (the amounts are computed from the feed answers, not from this).
    pub rate: Decimal,
    pub spread_bps: u32,
    /// What the merchant receives, exactly.
    pub settlement_amount: Decimal,
    /// Rialto's FX revenue: `payer_amount − settlement_amount`.
    pub spread_amount: Decimal,
    /// What the payer must send.
    pub payer_amount: Decimal,
    /// The feed rounds used, fiat first (none for USD).
    pub sources: Vec<FxSource>,
    /// Unix seconds.
    pub locked_at: u64,
    pub expires_at: u64,
}

impl FxLock {
    /// Whether the lock still holds at `now` (Unix seconds): it ends at `expires_at`.
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }
}
