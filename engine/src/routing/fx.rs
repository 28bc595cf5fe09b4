//! Locking an intent's fiat price in its settlement asset: the router's pure
//! [`rialto_router::fx::lock_fx`] over the mode's price feeds (Chainlink; the devnet's
//! `MockV3Aggregator`s in sandbox mode), and the `fx` object intents and receipts show.
//!
//! The feeds are read on the intent's settlement chain first, then on the mode's other chains
//! (the same reader as quotes, [`super::oracle::readings`]); a refused or unreadable feed
//! leaves no reading, and the router refuses the lock with the pair named. Nothing here writes:
//! the caller stores the lock with the intent.

use rialto_core::intent::PaymentIntent;
use rialto_router::fx::{lock_fx, pairs_for, FxLock, FxRefusal, FxRequest};
use rialto_router::PricePolicy;
use serde_json::{json, Value};

use crate::error::{EngineError, ErrorCode};
use crate::services::Engine;

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

/// The `fx` object of an intent or receipt. Amounts are decimal strings in whole units; round
/// ids are strings (Chainlink's are 80-bit, beyond a JSON number's exact range); times are
/// Unix seconds, as the feeds give them.
pub fn fx_json(lock: &FxLock, now: u64) -> Value {
    let sources: Vec<Value> = lock
        .sources
        .iter()
        .map(|s| {
            json!({
                "pair": s.pair,
                "price": s.price.normalize().to_string(),
                "round_id": s.round_id.to_string(),
                "updated_at": s.updated_at,
            })
        })
        .collect();
    json!({
        "object": "fx_lock",
        "price_currency": lock.price_currency,
        "settlement_currency": lock.settlement_currency,
        "amount": lock.amount.normalize().to_string(),
        "rate": lock.rate.normalize().to_string(),
        "spread_bps": lock.spread_bps,
        "settlement_amount": lock.settlement_amount.normalize().to_string(),
        "spread_amount": lock.spread_amount.normalize().to_string(),
        "payer_amount": lock.payer_amount.normalize().to_string(),
        "sources": sources,
        "locked_at": lock.locked_at,
        "expires_at": lock.expires_at,
        "status": if lock.is_live(now) { "locked" } else { "expired" },
    })
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
    fn the_fx_object_names_each_round_as_a_string_and_says_when_the_lock_expired() {
        let live = fx_json(&sample(), 1_800_000_609);
        assert_eq!(live["sources"][0]["round_id"], "18446744073709551617");
        assert_eq!(live["sources"][0]["updated_at"], 1_800_000_000u64);
        assert_eq!(live["sources"][0]["price"], "1.08");
        assert_eq!(live["amount"], "100");
        assert_eq!(live["settlement_amount"], "108");
        assert_eq!(live["payer_amount"], "108.54");
        assert_eq!(live["status"], "locked");
        assert_eq!(fx_json(&sample(), 1_800_000_610)["status"], "expired");
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
