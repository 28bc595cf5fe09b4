//! Price safety: each kind of bad oracle reading refuses the routes that need it, with its own
//! reason; the deviation bound; the depeg breaker.

mod support;

use rialto_router::{
    check_reading, depegged_assets, quote, PricePolicy, PriceRefusal, QuoteRequest, Refusal,
    RouterError, Source,
};
use support::{base, d, Market, NOW};

fn dex_market() -> Market {
    let mut m = Market::new();
    m.dex_usdt_usdc_base("uniswap-base", 5);
    m
}

fn request(from: rialto_router::AssetIx, m: &mut Market) -> QuoteRequest {
    let source = m.node(from, base());
    let target = m.node(m.usdc, base());
    QuoteRequest {
        sources: vec![Source {
            node: source,
            available: None,
        }],
        target,
        amount: d("100"),
        ttl_secs: 60,
    }
}

fn refusal_of(m: &mut Market) -> Vec<Refusal> {
    let req = request(m.usdt, m);
    let prices = m.prices();
    match quote(&m.ctx(&prices), &req, NOW) {
        Err(RouterError::NoRoute { refusals }) => refusals.into_iter().map(|(r, _)| r).collect(),
        other => panic!("expected no route, got {other:?}"),
    }
}

#[test]
fn a_healthy_reading_lets_the_conversion_through_and_the_quote_names_its_rounds() {
    let mut m = dex_market();
    let req = request(m.usdt, &mut m);
    let prices = m.prices();
    let q = quote(&m.ctx(&prices), &req, NOW).expect("quote");
    let pairs: Vec<&str> = q.price_sources.iter().map(|p| p.pair.as_str()).collect();
    assert_eq!(pairs, ["USDT/USD", "USDC/USD"]);
    assert!(q
        .price_sources
        .iter()
        .all(|p| p.round_id == 42 && p.updated_at == NOW - 10));
    assert_eq!(q.legs[0].price_sources.len(), 2);
}

#[test]
fn a_stale_reading_refuses_the_route_as_stale() {
    let mut m = dex_market();
    // Heartbeat 86 400 s + 60 s margin: one second beyond is stale.
    m.oracle
        .edit("USDT/USD", |r| r.updated_at = NOW - 86_400 - 61);
    assert_eq!(refusal_of(&mut m), [Refusal::Price(PriceRefusal::Stale)]);
}

#[test]
fn a_reading_exactly_at_heartbeat_plus_margin_is_still_usable() {
    let mut m = dex_market();
    m.oracle
        .edit("USDT/USD", |r| r.updated_at = NOW - 86_400 - 60);
    let req = request(m.usdt, &mut m);
    let prices = m.prices();
    assert!(quote(&m.ctx(&prices), &req, NOW).is_ok());
}

#[test]
fn a_zero_or_negative_price_refuses_the_route_as_not_positive() {
    for price in ["0", "-1"] {
        let mut m = dex_market();
        m.oracle.edit("USDC/USD", |r| r.price = d(price));
        assert_eq!(
            refusal_of(&mut m),
            [Refusal::Price(PriceRefusal::NotPositive)],
            "{price}"
        );
    }
}

#[test]
fn a_reading_taken_while_the_sequencer_is_down_refuses_the_route() {
    let mut m = dex_market();
    m.oracle.edit("USDT/USD", |r| r.sequencer_up = false);
    assert_eq!(
        refusal_of(&mut m),
        [Refusal::Price(PriceRefusal::SequencerDown)]
    );
}

#[test]
fn a_missing_feed_refuses_the_route_as_unavailable() {
    let mut m = dex_market();
    m.oracle.readings.remove("USDT/USD");
    assert_eq!(
        refusal_of(&mut m),
        [Refusal::Price(PriceRefusal::Unavailable)]
    );
}

#[test]
fn a_pool_priced_beyond_the_deviation_bound_is_refused() {
    let mut m = Market::new();
    let from = m.node(m.usdt, base());
    let to = m.node(m.usdc, base());
    // 2% off the oracle: beyond the default 150 bps.
    m.edge(
        from,
        to,
        rialto_router::EdgeKind::Dex(rialto_router::Pool {
            reserve_in: d("1000000"),
            reserve_out: d("980000"),
            fee_bps: 0,
        }),
        "skewed",
        15,
    );
    assert_eq!(
        refusal_of(&mut m),
        [Refusal::Price(PriceRefusal::Deviation)]
    );
}

#[test]
fn the_deviation_bound_applies_both_ways() {
    let prices_ok = |mut m: Market, rate: &str| {
        m.oracle.set("USDT/USD", rate);
        let req = request(m.usdt, &mut m);
        let prices = m.prices();
        quote(&m.ctx(&prices), &req, NOW).is_ok()
    };
    // A pool at 1:1 while the oracle says USDT is worth 0.97 (the route looks 3% too good).
    assert!(!prices_ok(dex_market(), "0.97"));
    assert!(prices_ok(dex_market(), "0.995"));
}

#[test]
fn check_reading_reports_each_refusal_in_order_of_severity() {
    let policy = PricePolicy::default();
    assert_eq!(
        check_reading(None, NOW, &policy),
        Err(PriceRefusal::Unavailable)
    );
    let mut m = Market::new();
    m.oracle.edit("USDC/USD", |r| {
        r.price = d("0");
        r.sequencer_up = false;
    });
    let reading = m.oracle.readings.get("USDC/USD").cloned();
    assert_eq!(
        check_reading(reading, NOW, &policy),
        Err(PriceRefusal::NotPositive)
    );
}

#[test]
fn a_depegged_stablecoin_gets_no_route_converting_into_it() {
    let mut m = dex_market();
    m.oracle.set("USDC/USD", "0.97");
    // Would also be a deviation; widen the bound so only the breaker can refuse.
    let req = request(m.usdt, &mut m);
    let policy = PricePolicy {
        max_deviation_bps: 1_000,
        ..PricePolicy::default()
    };
    let prices = rialto_router::PriceTable::build(&m.graph, &m.oracle, NOW, policy);
    match quote(&m.ctx(&prices), &req, NOW) {
        Err(RouterError::NoRoute { refusals }) => {
            assert_eq!(refusals, [(Refusal::Price(PriceRefusal::Depegged), 1)]);
        }
        other => panic!("expected the breaker, got {other:?}"),
    }
    // Paying in the same asset converts nothing and is still possible.
    let same = request(m.usdc, &mut m);
    assert!(quote(&m.ctx(&prices), &same, NOW).is_ok());
}

#[test]
fn the_breaker_lists_exactly_the_depegged_settlement_assets() {
    let mut m = Market::new();
    m.oracle.set("USDT/USD", "0.95");
    // EURC at 1.00 USD while EUR is 1.08: 0.926 of its peg.
    m.oracle.set("EURC/USD", "1.00");
    m.oracle.set("DAI/USD", "0.985");
    let prices = m.prices();
    let settled = [m.usdc, m.usdt, m.eurc, m.dai, m.usdt];
    assert_eq!(depegged_assets(&prices, &settled), vec![m.usdt, m.eurc]);
}
