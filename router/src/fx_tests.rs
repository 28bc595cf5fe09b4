use std::collections::HashMap;

use rialto_core::money::{Currency, CurrencyKind, Money};
use rust_decimal::Decimal;

use super::*;
use crate::oracle::OracleReading;

const NOW: u64 = 1_800_000_000;

struct Feeds(HashMap<String, OracleReading>);

impl Oracle for Feeds {
    fn reading(&self, pair: &str) -> Option<OracleReading> {
        self.0.get(pair).cloned()
    }
}

fn reading(pair: &str, price: &str, round_id: u128, updated_at: u64) -> OracleReading {
    OracleReading {
        pair: pair.into(),
        price: price.parse().unwrap(),
        round_id,
        updated_at,
        heartbeat: 86_400,
        sequencer_up: true,
    }
}

fn feeds(rows: &[(&str, &str)]) -> Feeds {
    Feeds(
        rows.iter()
            .enumerate()
            .map(|(i, (pair, price))| {
                let round = 18_446_744_073_709_551_617 + i as u128;
                (pair.to_string(), reading(pair, price, round, NOW - 30))
            })
            .collect(),
    )
}

fn usdc() -> Currency {
    Currency::new("usdc", 6, CurrencyKind::Stablecoin)
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn lock(
    amount: &Money,
    to: &Currency,
    spread_bps: u32,
    oracle: &Feeds,
) -> Result<FxLock, FxRefusal> {
    let req = FxRequest {
        amount,
        settlement: to,
        spread_bps,
        ttl_secs: 600,
    };
    lock_fx(&req, oracle, None, NOW, &PricePolicy::default())
}

#[test]
fn an_eur_amount_is_priced_in_usdc_through_usd_with_both_rounds_named() {
    let oracle = feeds(&[("EUR/USD", "1.08"), ("USDC/USD", "0.9998")]);
    let eur = Money::parse("100.00", Currency::eur()).unwrap();
    let got = lock(&eur, &usdc(), 0, &oracle).unwrap();
    // 100 × 1.08 / 0.9998 = 108.021604320864…, rounded up at 6 decimals.
    assert_eq!(got.settlement_amount, dec("108.021605"));
    assert_eq!(got.payer_amount, got.settlement_amount);
    assert_eq!(got.spread_amount, Decimal::ZERO);
    assert_eq!(got.rate, dec("1.0802160432"));
    let pairs: Vec<_> = got.sources.iter().map(|s| s.pair.as_str()).collect();
    assert_eq!(pairs, ["EUR/USD", "USDC/USD"]);
    assert_eq!(got.sources[0].round_id, 18_446_744_073_709_551_617);
    assert_eq!(got.sources[0].updated_at, NOW - 30);
    assert_eq!((got.locked_at, got.expires_at), (NOW, NOW + 600));
    assert!(got.is_live(NOW + 599) && !got.is_live(NOW + 600));
}

#[test]
fn the_merchant_amount_is_above_the_exact_value_by_less_than_one_base_unit() {
    let oracle = feeds(&[("GBP/USD", "1.27123457"), ("USDT/USD", "1.00012")]);
    let usdt = Currency::new("usdt", 6, CurrencyKind::Stablecoin);
    for text in ["0.01", "1.00", "19.99", "1234567.89"] {
        let gbp = Money::parse(text, Currency::fiat("gbp").unwrap()).unwrap();
        let got = lock(&gbp, &usdt, 0, &oracle).unwrap();
        let exact = gbp.amount() * dec("1.27123457") / dec("1.00012");
        let over = got.settlement_amount - exact;
        assert!(over >= Decimal::ZERO, "{text}: {over}");
        assert!(over < dec("0.000001"), "{text}: {over}");
        assert_eq!(
            got.settlement_amount.scale().min(6),
            got.settlement_amount.scale()
        );
    }
}

#[test]
fn a_jpy_amount_with_no_minor_unit_is_priced_and_fractional_yen_is_refused() {
    let jpy = Currency::fiat("jpy").unwrap();
    assert_eq!(jpy.decimals(), 0);
    assert!(Money::parse("1500.5", jpy.clone()).is_err());
    let oracle = feeds(&[("JPY/USD", "0.00667"), ("USDC/USD", "1")]);
    let yen = Money::parse("1500", jpy).unwrap();
    let got = lock(&yen, &usdc(), 0, &oracle).unwrap();
    // 1500 × 0.00667 = 10.005 exactly: nothing to round.
    assert_eq!(got.settlement_amount, dec("10.005"));
    let one = Money::parse("1", Currency::fiat("jpy").unwrap()).unwrap();
    let got = lock(
        &one,
        &usdc(),
        0,
        &feeds(&[("JPY/USD", "0.0066712345"), ("USDC/USD", "1")]),
    )
    .unwrap();
    // 0.0066712345 rounds up to 0.006672: the merchant's favour, by under one base unit.
    assert_eq!(got.settlement_amount, dec("0.006672"));
}

#[test]
fn the_spread_is_what_the_payer_pays_above_the_merchant_amount_and_the_three_add_up() {
    let oracle = feeds(&[("CHF/USD", "1.13"), ("USDC/USD", "1")]);
    let chf = Money::parse("49.99", Currency::fiat("chf").unwrap()).unwrap();
    let got = lock(&chf, &usdc(), 75, &oracle).unwrap();
    // Mid: 49.99 × 1.13 = 56.4887; payer: × 1.0075 = 56.91236525 → 56.912366.
    assert_eq!(got.settlement_amount, dec("56.4887"));
    assert_eq!(got.payer_amount, dec("56.912366"));
    assert_eq!(got.spread_amount, dec("0.423666"));
    assert_eq!(got.settlement_amount + got.spread_amount, got.payer_amount);
}

#[test]
fn a_usd_amount_reads_only_the_settlement_assets_feed() {
    let oracle = feeds(&[("USDC/USD", "0.5")]);
    let usd = Money::parse("10.00", Currency::usd()).unwrap();
    let got = lock(&usd, &usdc(), 0, &oracle).unwrap();
    assert_eq!(got.settlement_amount, dec("20"));
    assert_eq!(got.sources.len(), 1);
}

#[test]
fn a_stale_feed_refuses_the_lock() {
    let mut oracle = feeds(&[("EUR/USD", "1.08"), ("USDC/USD", "1")]);
    let stale = NOW - 86_400 - PricePolicy::default().staleness_margin_secs - 1;
    oracle
        .0
        .insert("EUR/USD".into(), reading("EUR/USD", "1.08", 7, stale));
    let eur = Money::parse("10.00", Currency::eur()).unwrap();
    assert_eq!(
        lock(&eur, &usdc(), 0, &oracle),
        Err(FxRefusal::Price {
            pair: "EUR/USD".into(),
            refusal: PriceRefusal::Stale
        })
    );
}

#[test]
fn a_feed_read_while_the_sequencer_is_down_or_missing_refuses_the_lock() {
    let mut oracle = feeds(&[("USDC/USD", "1")]);
    let mut down = reading("EUR/USD", "1.08", 7, NOW);
    down.sequencer_up = false;
    oracle.0.insert("EUR/USD".into(), down);
    let eur = Money::parse("10.00", Currency::eur()).unwrap();
    let refusal = |r| FxRefusal::Price {
        pair: "EUR/USD".into(),
        refusal: r,
    };
    assert_eq!(
        lock(&eur, &usdc(), 0, &oracle),
        Err(refusal(PriceRefusal::SequencerDown))
    );
    oracle.0.remove("EUR/USD");
    assert_eq!(
        lock(&eur, &usdc(), 0, &oracle),
        Err(refusal(PriceRefusal::Unavailable))
    );
}

#[test]
fn two_sources_that_disagree_beyond_the_bound_refuse_and_close_ones_lock() {
    let first = feeds(&[("EUR/USD", "1.08"), ("USDC/USD", "1")]);
    let eur = Money::parse("10.00", Currency::eur()).unwrap();
    let req = FxRequest {
        amount: &eur,
        settlement: &usdc(),
        spread_bps: 0,
        ttl_secs: 60,
    };
    let policy = PricePolicy::default();
    let far = feeds(&[("EUR/USD", "1.11")]);
    assert_eq!(
        lock_fx(&req, &first, Some(&far), NOW, &policy),
        Err(FxRefusal::SourcesDisagree {
            pair: "EUR/USD".into(),
            max_bps: 150
        })
    );
    let near = feeds(&[("EUR/USD", "1.085")]);
    assert!(lock_fx(&req, &first, Some(&near), NOW, &policy).is_ok());
}

#[test]
fn a_non_fiat_price_currency_or_a_fiat_settlement_is_refused() {
    let oracle = feeds(&[("EUR/USD", "1.08"), ("USDC/USD", "1")]);
    let in_usdc = Money::parse("10", usdc()).unwrap();
    assert!(matches!(
        lock(&in_usdc, &usdc(), 0, &oracle),
        Err(FxRefusal::Unsupported { .. })
    ));
    let eur = Money::parse("10", Currency::eur()).unwrap();
    assert!(matches!(
        lock(&eur, &Currency::usd(), 0, &oracle),
        Err(FxRefusal::Unsupported { .. })
    ));
}

#[test]
fn an_amount_too_large_for_exact_arithmetic_is_refused_not_rounded() {
    let oracle = feeds(&[
        ("EUR/USD", "1.081234567890123456789012"),
        ("USDC/USD", "0.99987654321"),
    ]);
    let eur = Money::parse("999999999999.99", Currency::eur()).unwrap();
    assert_eq!(lock(&eur, &usdc(), 0, &oracle), Err(FxRefusal::TooLarge));
}

#[test]
fn the_pairs_to_read_go_through_usd_and_skip_usd_itself() {
    assert_eq!(
        pairs_for(&Currency::eur(), &usdc()),
        ["EUR/USD", "USDC/USD"]
    );
    assert_eq!(pairs_for(&Currency::usd(), &usdc()), ["USDC/USD"]);
}
