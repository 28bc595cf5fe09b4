//! Fiat pricing: what an amount priced in a fiat currency (USD, EUR, GBP, CHF, JPY) costs in a
//! settlement stablecoin, and the lock that fixes it for a while (docs/money.md, "FX").
//!
//! The rate goes through USD, the quote currency of every Chainlink fiat and stablecoin feed:
//! `EUR → USDC = EUR/USD ÷ USDC/USD`. `USD/USD` is one by definition and never read. Both
//! readings pass the same checks as every conversion ([`check_reading`]: positive, within
//! heartbeat plus margin, sequencer up); when a second source answers the same pair, the two
//! must agree within the policy's `max_deviation_bps`, else nothing is locked.
//!
//! Rounding happens once per amount, from the exact fraction, at the settlement asset's
//! precision and upwards: the merchant's amount is never below the fiat amount at the mid
//! rate, and above it by less than one base unit. The spread (bps of the mid amount) is
//! rounded the same way, as part of what the payer pays: `payer = ceil(mid × (1 + bps))`,
//! `merchant = ceil(mid)`, `spread = payer − merchant`, so the three always add up exactly.
//! The arithmetic is on integers (`i128`); an amount too large for it is refused
//! ([`FxRefusal::TooLarge`]), never rounded.

use rialto_core::money::{Currency, CurrencyKind, Money};
use rust_decimal::Decimal;

use crate::oracle::{check_reading, CheckedPrice, Oracle, PricePolicy, PriceRefusal};

/// The reference currency: every feed used here is quoted in it.
const USD: &str = "usd";
/// Decimals the displayed rate is rounded to (the amounts never use it: see the module docs).
const RATE_DISPLAY_DP: u32 = 10;

/// What to price and lock.
#[derive(Debug, Clone)]
pub struct FxRequest<'a> {
    /// The intent's amount, in its fiat currency.
    pub amount: &'a Money,
    /// The settlement asset's unit (its code names its feed: `usdc` → `USDC/USD`).
    pub settlement: &'a Currency,
    /// Rialto's spread in bps of the mid amount (0 for none).
    pub spread_bps: u32,
    /// How long the lock holds, in seconds.
    pub ttl_secs: u64,
}

// The lock is a domain type: the intent carries it (core), the router computes it.
pub use rialto_core::fx::{FxLock, FxSource};

/// Why no rate could be locked. Each maps to its own stable error code at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxRefusal {
    /// The intent's currency is not a fiat currency Rialto prices in, or the settlement is not
    /// a stablecoin or deposit token.
    #[error("cannot price {from} in {to}")]
    Unsupported { from: String, to: String },
    /// A feed's answer was refused (stale, not positive, sequencer down) or not read at all.
    #[error("the {pair} price was refused: {refusal:?}")]
    Price { pair: String, refusal: PriceRefusal },
    /// Two sources of the same pair disagree by more than the policy allows.
    #[error("the sources of {pair} disagree by more than {max_bps} bps")]
    SourcesDisagree { pair: String, max_bps: u32 },
    /// The amount is too large for exact arithmetic.
    #[error("the amount is too large to price exactly")]
    TooLarge,
}

/// Prices `req` at `now` (Unix seconds) from `oracle`, cross-checked against `second` when it
/// has a reading of the same pair, and locks it for `req.ttl_secs`.
pub fn lock_fx(
    req: &FxRequest<'_>,
    oracle: &dyn Oracle,
    second: Option<&dyn Oracle>,
    now: u64,
    policy: &PricePolicy,
) -> Result<FxLock, FxRefusal> {
    let from = req.amount.currency();
    let unsupported = || FxRefusal::Unsupported {
        from: from.code().to_owned(),
        to: req.settlement.code().to_owned(),
    };
    let settleable = matches!(
        req.settlement.kind(),
        CurrencyKind::Stablecoin | CurrencyKind::DepositToken
    );
    if from.kind() != CurrencyKind::Fiat || Currency::fiat(from.code()).is_none() || !settleable {
        return Err(unsupported());
    }
    let mut sources = Vec::new();
    let fiat_usd = if from.code() == USD {
        None
    } else {
        Some(checked(&pair_of(from.code()), oracle, second, now, policy)?)
    };
    let asset_usd = checked(&pair_of(req.settlement.code()), oracle, second, now, policy)?;
    let fiat_price = fiat_usd.as_ref().map_or(Decimal::ONE, |p| p.price);
    sources.extend(fiat_usd.map(source));
    sources.push(source(asset_usd.clone()));
    let ratio = Ratio::new(fiat_price, asset_usd.price);
    let decimals = req.settlement.decimals();
    let amount = req.amount.amount();
    let merchant = ratio.ceil_at(amount, 10_000, decimals)?;
    let payer = ratio.ceil_at(amount, 10_000 + i128::from(req.spread_bps), decimals)?;
    Ok(FxLock {
        price_currency: from.code().to_owned(),
        settlement_currency: req.settlement.code().to_owned(),
        amount,
        rate: (fiat_price / asset_usd.price).round_dp(RATE_DISPLAY_DP),
        spread_bps: req.spread_bps,
        settlement_amount: merchant,
        spread_amount: payer - merchant,
        payer_amount: payer,
        sources,
        locked_at: now,
        expires_at: now.saturating_add(req.ttl_secs),
    })
}

/// The feed pairs [`lock_fx`] reads to price `from` in `to`, in the order it reads them
/// (`USD` needs none of its own).
pub fn pairs_for(from: &Currency, to: &Currency) -> Vec<String> {
    [from, to]
        .into_iter()
        .filter(|c| c.code() != USD)
        .map(|c| pair_of(c.code()))
        .collect()
}

/// `BASE/USD` for a currency code.
fn pair_of(code: &str) -> String {
    format!("{}/USD", code.to_ascii_uppercase())
}

fn source(p: CheckedPrice) -> FxSource {
    FxSource {
        pair: p.pair,
        price: p.price,
        round_id: p.round_id,
        updated_at: p.updated_at,
    }
}

/// One pair, checked, and compared with the second source when it has the pair too.
fn checked(
    pair: &str,
    oracle: &dyn Oracle,
    second: Option<&dyn Oracle>,
    now: u64,
    policy: &PricePolicy,
) -> Result<CheckedPrice, FxRefusal> {
    let refused = |refusal| FxRefusal::Price {
        pair: pair.to_owned(),
        refusal,
    };
    let first = check_reading(oracle.reading(pair), now, policy).map_err(refused)?;
    let Some(other) = second.and_then(|o| o.reading(pair)) else {
        return Ok(first);
    };
    let other = check_reading(Some(other), now, policy).map_err(refused)?;
    let distance = (first.price - other.price).abs() * Decimal::from(10_000u32);
    if distance > first.price * Decimal::from(policy.max_deviation_bps) {
        return Err(FxRefusal::SourcesDisagree {
            pair: pair.to_owned(),
            max_bps: policy.max_deviation_bps,
        });
    }
    Ok(first)
}

/// `numerator / denominator` kept as two exact decimals.
struct Ratio {
    num: Decimal,
    den: Decimal,
}

impl Ratio {
    fn new(num: Decimal, den: Decimal) -> Self {
        Self { num, den }
    }

    /// `ceil(amount × ratio × per_10k / 10_000)` at `decimals` places, on integers.
    fn ceil_at(&self, amount: Decimal, per_10k: i128, decimals: u32) -> Result<Decimal, FxRefusal> {
        let too_large = || FxRefusal::TooLarge;
        // amount × num × per_10k × 10^decimals / (den × 10_000), with every decimal's scale
        // moved to one power of ten on whichever side it lands.
        let mut top = amount
            .mantissa()
            .checked_mul(self.num.mantissa())
            .and_then(|v| v.checked_mul(per_10k))
            .ok_or_else(too_large)?;
        let mut bottom = self
            .den
            .mantissa()
            .checked_mul(10_000)
            .ok_or_else(too_large)?;
        let shift = i64::from(decimals) + i64::from(self.den.scale())
            - i64::from(amount.scale())
            - i64::from(self.num.scale());
        let power = 10i128
            .checked_pow(u32::try_from(shift.unsigned_abs()).map_err(|_| too_large())?)
            .ok_or_else(too_large)?;
        if shift >= 0 {
            top = top.checked_mul(power).ok_or_else(too_large)?;
        } else {
            bottom = bottom.checked_mul(power).ok_or_else(too_large)?;
        }
        if top < 0 || bottom <= 0 {
            return Err(too_large()); // prices are checked positive; never reached
        }
        let units = top / bottom + i128::from(top % bottom != 0);
        Decimal::try_from_i128_with_scale(units, decimals)
            .map(|d| d.normalize())
            .map_err(|_| too_large())
    }
}

#[cfg(test)]
#[path = "fx_tests.rs"]
mod tests;
