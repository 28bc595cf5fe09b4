//! The issuer's domain types. They are also the documented wire format (`docs/issuer-api.md`):
//! the issuer API is Rialto's own, so there is no venue dialect to map from. A real bank with a
//! different API gets its own wire types inside its own implementation.

use rialto_core::ChainId;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// The kind of a state-changing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Onboarding,
    Mint,
    Redemption,
}

/// Where a request stands: `pending` until the bank executes it (at once, or at the next
/// window after a cut-off), then `completed` or `rejected` for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Completed,
    Rejected,
}

/// Why the bank refused a request. Stable codes: callers branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The mint's wallet is not on the token's allow-list.
    WalletNotAllowListed,
    /// The USD account cannot cover the mint and its fee.
    InsufficientFunds,
    /// Not a positive amount in whole cents, below the minimum, or not above the fee.
    InvalidAmount,
    /// The bank issues no token on that chain.
    UnsupportedChain,
    /// Not an address of the chain's family.
    InvalidWallet,
    /// The named transaction is no burn of (or transfer to the bank's redemption address in)
    /// the token.
    RedemptionNotFound,
    /// The burn exists but its amount or sender is not the request's (a sender not onboarded
    /// by this account included).
    RedemptionMismatch,
    /// The burn was already redeemed by another request.
    RedemptionAlreadyClaimed,
    /// The chain refused the bank's mint or allow-list transaction; any USD debited is back.
    ChainFailed,
}

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WalletNotAllowListed => "wallet_not_allow_listed",
            Self::InsufficientFunds => "insufficient_funds",
            Self::InvalidAmount => "invalid_amount",
            Self::UnsupportedChain => "unsupported_chain",
            Self::InvalidWallet => "invalid_wallet",
            Self::RedemptionNotFound => "redemption_not_found",
            Self::RedemptionMismatch => "redemption_mismatch",
            Self::RedemptionAlreadyClaimed => "redemption_already_claimed",
            Self::ChainFailed => "chain_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub code: RejectionCode,
    pub message: String,
}

/// Onboard an institution: the bank allow-lists its wallet on the token's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnboardingRequest {
    pub reference: String,
    /// The institution's legal name, as the bank's onboarding records it.
    pub institution: String,
    pub chain: ChainId,
    pub wallet: String,
}

/// Mint `amount` tokens to an allow-listed `wallet`, debiting `amount` plus the fee in USD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    pub reference: String,
    pub chain: ChainId,
    pub wallet: String,
    /// Whole tokens (1 token = 1 USD), in whole cents.
    pub amount: Decimal,
}

/// Redeem `amount` tokens for USD: the account is credited `amount` minus the fee. Either the
/// holder already burned them (or sent them to the redemption address) in `tx_hash`, or it
/// names `wallet` (one it onboarded, no `tx_hash`) and the bank burns `amount` from it with its
/// burner role (JPMD-style: `burn(from, amount)`, a `Transfer` to the zero address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedemptionRequest {
    pub reference: String,
    pub chain: ChainId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// The onboarded wallet the bank burns from, when there is no `tx_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    pub amount: Decimal,
}

/// The bank's record of one request, found by its reference (`object: "issuer_request"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerRequest {
    pub reference: String,
    pub kind: RequestKind,
    pub status: RequestStatus,
    pub chain: ChainId,
    /// The wallet allow-listed, minted to, or that burned.
    pub wallet: Option<String>,
    pub institution: Option<String>,
    /// Tokens minted or redeemed (none for an onboarding).
    pub amount: Option<Decimal>,
    pub fee: Decimal,
    /// USD debited (mint: amount + fee) or credited (redemption: amount − fee).
    pub usd_amount: Option<Decimal>,
    /// The bank's own transaction (allow-list or mint), or the redeemed burn.
    pub tx_hash: Option<String>,
    pub rejection: Option<Rejection>,
    pub created_at_ms: u64,
    /// When the bank executes (or executed) it: later than `created_at_ms` after a cut-off.
    pub executes_at_ms: u64,
}

/// The account's USD at the bank (`object: "balance"`). Mints debit at acceptance, so a
/// pending mint's USD is already out of `available`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsdBalance {
    pub currency: String,
    pub available: Decimal,
}

/// A fee: `fixed + amount × rate`, the rate's part rounded up to the cent (the bank's way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    pub fixed: Decimal,
    pub rate: Decimal,
}

impl FeeSchedule {
    pub fn fee(&self, amount: Decimal) -> Decimal {
        let variable =
            (amount * self.rate).round_dp_with_strategy(2, RoundingStrategy::AwayFromZero);
        self.fixed + variable
    }
}

/// The daily window (UTC) in which the bank executes mints and redemptions; requests outside
/// it wait, pending, for the next opening. Seconds since UTC midnight, `opens_at < closes_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutOffWindow {
    pub opens_at_secs: u32,
    pub closes_at_secs: u32,
}

const DAY_MS: u64 = 86_400_000;

impl CutOffWindow {
    /// The first instant at or after `at_ms` that is inside the window.
    pub fn next_execution(&self, at_ms: u64) -> u64 {
        let day_start = at_ms - at_ms % DAY_MS;
        let opens = day_start + u64::from(self.opens_at_secs) * 1000;
        let closes = day_start + u64::from(self.closes_at_secs) * 1000;
        if at_ms < opens {
            opens
        } else if at_ms < closes {
            at_ms
        } else {
            opens + DAY_MS
        }
    }
}

/// What a mint or redemption of `amount` would cost and when it would execute if asked now
/// (`object: "issuer_quote"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerQuote {
    pub kind: RequestKind,
    pub amount: Decimal,
    pub fee: Decimal,
    /// USD debited (mint) or credited (redemption).
    pub usd_amount: Decimal,
    pub minimum: Decimal,
    pub executes_at_ms: u64,
    pub window: Option<CutOffWindow>,
    /// The schedule `fee` came from, where the bank publishes it: a router can then price
    /// other amounts exactly. Absent: `fee` holds for `amount` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_schedule: Option<FeeSchedule>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_fee_rounds_its_rate_part_up_to_the_cent() {
        let fee = FeeSchedule {
            fixed: d("0.25"),
            rate: d("0.0005"),
        };
        // 10.01 × 0.0005 = 0.005005 → 0.01.
        assert_eq!(fee.fee(d("10.01")), d("0.26"));
        assert_eq!(fee.fee(d("1000.00")), d("0.75"));
    }

    #[test]
    fn a_request_after_the_cut_off_executes_at_the_next_days_opening() {
        let window = CutOffWindow {
            opens_at_secs: 9 * 3600,
            closes_at_secs: 17 * 3600,
        };
        let day = 20_000 * DAY_MS;
        assert_eq!(window.next_execution(day + 3_600_000), day + 9 * 3_600_000);
        assert_eq!(
            window.next_execution(day + 10 * 3_600_000),
            day + 10 * 3_600_000
        );
        assert_eq!(
            window.next_execution(day + 17 * 3_600_000),
            day + DAY_MS + 9 * 3_600_000
        );
    }
}
