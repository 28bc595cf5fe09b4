//! Locking an intent's fiat price in its settlement asset: the router's pure
//! [`rialto_router::fx::lock_fx`] over the mode's price feeds (Chainlink; the devnet's
//! `MockV3Aggregator`s in sandbox mode), and the `fx` object intents and receipts show.
//!
//! The feeds are read on the intent's settlement chain first, then on the mode's other chains
//! (the same reader as quotes, [`super::oracle::readings`]); a refused or unreadable feed
//! leaves no reading, and the router refuses the lock with the pair named. [`commit`] stores
//! the lock with the intent when the payer commits to a payment method.

use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rialto_router::fx::{lock_fx, pairs_for, FxLock, FxRefusal, FxRequest};
use rialto_router::PricePolicy;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{EngineError, ErrorCode};
use crate::services::Engine;
use crate::store::CasOutcome;

/// How long a lock holds unless the intent expires first: long enough to sign and send a
/// transfer, short enough that the rate is still close to the market when the funds arrive.
pub const LOCK_TTL_SECS: u64 = 600;

/// Prices `intent`'s amount in its settlement asset at `now_ms`, with `spread_bps`, and locks
/// it until [`LOCK_TTL_SECS`] from now or the intent's expiry, whichever comes first. Read-only.
pub async fn lock_for_intent(
    state: &Engine,
    intent: &PaymentIntent,
    spread_bps: u32,
    now_ms: i64,
) -> Result<FxLock, EngineError> {
    let now = u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
    let until_expiry = u64::try_from((intent.expires_at_ms - now_ms).div_euclid(1000)).unwrap_or(0);
    if until_expiry == 0 {
        return Err(EngineError::new(
            ErrorCode::PaymentMethodUnavailable,
            "This payment intent has expired; no rate can be locked for it.",
        ));
    }
    let settlement = intent.settlement.asset.currency();
    let pairs = pairs_for(intent.amount.currency(), &settlement);
    let target = intent.settlement.asset.id.chain().to_string();
    let readings = super::oracle::readings(state, intent.livemode, &target, &pairs, now)
        .await
        .map_err(|e| EngineError::new(ErrorCode::OracleUnavailable, e.to_string()))?;
    let request = FxRequest {
        amount: &intent.amount,
        settlement: &settlement,
        spread_bps,
        ttl_secs: LOCK_TTL_SECS.min(until_expiry),
    };
    lock_fx(&request, &readings, None, now, &PricePolicy::default()).map_err(|r| refusal_error(&r))
}

/// The engine error of a refused lock: a feed problem is ours and temporary (503
/// `oracle_unavailable`, retry later), an unsupported pair or amount is the caller's.
pub fn refusal_error(refusal: &FxRefusal) -> EngineError {
    match refusal {
        FxRefusal::Unsupported { from, to } => EngineError::new(
            ErrorCode::PaymentMethodUnavailable,
            format!("An amount in {from} cannot be settled in {to} at a locked rate."),
        ),
        FxRefusal::Price { pair, .. } | FxRefusal::SourcesDisagree { pair, .. } => {
            let mut err = EngineError::new(
                ErrorCode::OracleUnavailable,
                format!("The {pair} price could not be checked now; no rate was locked."),
            );
            err.retry_after = Some(30);
            err
        }
        FxRefusal::TooLarge => EngineError::new(
            ErrorCode::AmountTooLarge,
            "The amount is too large to convert at a locked rate.",
        )
        .param("amount"),
    }
}

/// How the payer pays: decides whether Rialto may keep a spread (only where it holds the
/// funds before the merchant is paid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayMethod {
    /// The funds go straight to the merchant's address (a reported transfer, an EIP-3009
    /// authorization, Solana Pay, an exchange withdrawal): no spread can be kept.
    Direct,
    /// A deposit address Rialto sweeps: a spread is kept when the merchant settles batched
    /// (the sweep goes to Rialto's treasury; on immediate settlement it goes to the merchant).
    Deposit,
    /// A SmartFunding route: the route delivers the merchant's amount; no spread is added.
    Routed,
}

/// The spread a payment by `method` carries for this merchant, in bps.
async fn spread_for(
    state: &Engine,
    intent: &PaymentIntent,
    method: PayMethod,
) -> Result<u32, EngineError> {
    if method != PayMethod::Deposit {
        return Ok(0);
    }
    let settings =
        crate::settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode).await?;
    Ok(match settings.settlement_schedule {
        crate::settings::Schedule::Batched => settings.fx_spread_bps,
        crate::settings::Schedule::Immediate => 0,
    })
}

/// The payer commits to pay `intent` by `method`: an intent priced in another unit than its
/// settlement asset gets its rate locked (stored with the intent, compare-and-set), and the
/// intent is returned as it now stands. One-for-one intents are returned unchanged.
///
/// A live lock with the method's spread is kept. An expired one, or one with another spread,
/// is replaced, but only while nothing has been paid: once funds are seen (a payment
/// transaction of any status) the lock is final and funds are judged against it.
pub async fn commit(
    state: &Engine,
    intent: &PaymentIntent,
    method: PayMethod,
    now_ms: i64,
) -> Result<PaymentIntent, EngineError> {
    if crate::chain::one_for_one(intent) {
        return Ok(intent.clone());
    }
    let mut current = intent.clone();
    // Two tries: a concurrent commit that won the compare-and-set usually made the lock we need.
    for _ in 0..2 {
        if current.status != PaymentStatus::AwaitingFunds {
            return Ok(current);
        }
        let spread = spread_for(state, &current, method).await?;
        let now = u64::try_from(now_ms.div_euclid(1000)).unwrap_or(0);
        if let Some(lock) = &current.fx {
            let fits = lock.is_live(now) && lock.spread_bps == spread;
            if fits || funds_seen(state, &current).await? {
                return Ok(current);
            }
        }
        let lock = lock_for_intent(state, &current, spread, now_ms).await?;
        let mut next = current.clone();
        next.fx = Some(lock);
        next.version += 1;
        next.updated_at_ms = now_ms;
        let outcome = state
            .store
            .update_intent(PaymentStatus::AwaitingFunds, &next, None, None)
            .await?;
        if outcome == CasOutcome::Updated {
            return Ok(next);
        }
        current = state
            .store
            .get_intent_unscoped(&current.id)
            .await?
            .ok_or_else(|| {
                EngineError::new(ErrorCode::ResourceMissing, "No such payment intent.")
            })?;
    }
    Err(EngineError::new(
        ErrorCode::PaymentIntentUnexpectedState,
        "This payment intent changed while its rate was being locked; try again.",
    ))
}

/// Whether any funds were seen for the intent (claimed, pending or confirmed).
async fn funds_seen(state: &Engine, intent: &PaymentIntent) -> Result<bool, EngineError> {
    Ok(!state
        .store
        .payment_transactions_of(&intent.id)
        .await?
        .is_empty())
}

/// One feed round of a lock, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FxRoundObject {
    /// The feed's pair, `EUR/USD`.
    pub pair: String,
    /// The feed's answer, in USD.
    pub price: String,
    /// Chainlink's round id, as a string (80 bits: beyond a JSON number's exact range).
    pub round_id: String,
    /// The round's `updatedAt`, Unix seconds.
    pub updated_at: u64,
}

/// The locked rate of an intent priced in another unit than its settlement asset. Amounts are
/// decimal strings in whole units of the settlement asset; times are Unix seconds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FxLockObject {
    /// Always `fx_lock`.
    pub object: &'static str,
    /// `EUR/USDC`: the intent's currency, then its settlement asset.
    pub pair: String,
    /// The intent's amount, in its currency.
    pub amount: String,
    /// Settlement units per unit of the intent's currency that the payer pays (spread
    /// included), rounded to 10 decimals for display.
    pub rate: String,
    /// The mid rate from the feeds, rounded to 10 decimals for display.
    pub mid_rate: String,
    /// Rialto's spread in bps of the mid amount (0 on direct payments).
    pub spread_bps: u32,
    /// `payer_amount − settlement_amount`: Rialto's FX revenue.
    pub spread_amount: String,
    /// What the merchant receives, exactly (the mid amount rounded up at the asset's precision).
    pub settlement_amount: String,
    /// What the payer sends.
    pub payer_amount: String,
    /// The feed rounds the rate was priced from, the intent's currency first.
    pub feed_rounds: Vec<FxRoundObject>,
    pub locked_at: u64,
    /// After this, a payer-side step locks a fresh rate unless funds were already seen.
    pub expires_at: u64,
}

impl FxLockObject {
    pub fn new(lock: &FxLock) -> Self {
        let text = |d: rust_decimal::Decimal| d.normalize().to_string();
        let rate = if lock.amount.is_zero() {
            lock.rate
        } else {
            (lock.payer_amount / lock.amount).round_dp(10)
        };
        Self {
            object: "fx_lock",
            pair: format!(
                "{}/{}",
                lock.price_currency.to_uppercase(),
                lock.settlement_currency.to_uppercase()
            ),
            amount: text(lock.amount),
            rate: text(rate),
            mid_rate: text(lock.rate),
            spread_bps: lock.spread_bps,
            spread_amount: text(lock.spread_amount),
            settlement_amount: text(lock.settlement_amount),
            payer_amount: text(lock.payer_amount),
            feed_rounds: lock
                .sources
                .iter()
                .map(|s| FxRoundObject {
                    pair: s.pair.clone(),
                    price: text(s.price),
                    round_id: s.round_id.to_string(),
                    updated_at: s.updated_at,
                })
                .collect(),
            locked_at: lock.locked_at,
            expires_at: lock.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use rialto_router::fx::FxSource;
    use rialto_router::PriceRefusal;

    use super::*;

    fn sample() -> FxLock {
        FxLock {
            price_currency: "eur".into(),
            settlement_currency: "usdc".into(),
            amount: "100.00".parse().unwrap(),
            rate: "1.0800000000".parse().unwrap(),
            spread_bps: 50,
            settlement_amount: "108".parse().unwrap(),
            spread_amount: "0.54".parse().unwrap(),
            payer_amount: "108.54".parse().unwrap(),
            sources: vec![FxSource {
                pair: "EUR/USD".into(),
                price: "1.08000000".parse().unwrap(),
                round_id: 18_446_744_073_709_551_617,
                updated_at: 1_800_000_000,
            }],
            locked_at: 1_800_000_010,
            expires_at: 1_800_000_610,
        }
    }

    #[test]
    fn the_fx_object_names_each_round_as_a_string_and_shows_the_payers_rate_beside_the_mid() {
        let fx = serde_json::to_value(FxLockObject::new(&sample())).unwrap();
        assert_eq!(fx["pair"], "EUR/USDC");
        assert_eq!(fx["feed_rounds"][0]["round_id"], "18446744073709551617");
        assert_eq!(fx["feed_rounds"][0]["updated_at"], 1_800_000_000u64);
        assert_eq!(fx["feed_rounds"][0]["price"], "1.08");
        assert_eq!(fx["amount"], "100");
        assert_eq!(fx["settlement_amount"], "108");
        assert_eq!(fx["payer_amount"], "108.54");
        assert_eq!(fx["mid_rate"], "1.08");
        assert_eq!(fx["rate"], "1.0854");
        assert_eq!(fx["expires_at"], 1_800_000_610u64);
    }

    #[test]
    fn a_refused_feed_is_a_retryable_oracle_error_and_a_bad_pair_is_the_callers() {
        let stale = refusal_error(&FxRefusal::Price {
            pair: "EUR/USD".into(),
            refusal: PriceRefusal::Stale,
        });
        assert_eq!(stale.code.as_str(), "oracle_unavailable");
        assert_eq!(stale.retry_after, Some(30));
        assert!(stale.message.contains("EUR/USD"));
        let pair = refusal_error(&FxRefusal::Unsupported {
            from: "usdc".into(),
            to: "usd".into(),
        });
        assert_eq!(pair.code.as_str(), "payment_method_unavailable");
        assert_eq!(
            refusal_error(&FxRefusal::TooLarge).code.as_str(),
            "amount_too_large"
        );
    }
}
