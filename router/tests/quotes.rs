//! Quotes, locked quotes and the search against the exhaustive optimum.

mod support;

use rialto_router::exhaustive::cheapest_route;
use rialto_router::{
    lock, quote, Exclusions, LegKind, QuoteRequest, RouteRequest, RouterError, ScorePolicy, Source,
};
use rust_decimal::Decimal;
use support::{base, d, Market, NOW};

fn market() -> Market {
    let mut m = Market::new();
    m.dex_usdt_usdc_base("uniswap-base", 30);
    m.via_kraken();
    m
}

fn request(m: &mut Market, amount: &str) -> QuoteRequest {
    let usdt = m.usdt;
    let usdc = m.usdc;
    let source = m.node(usdt, base());
    let target = m.node(usdc, base());
    QuoteRequest {
        sources: vec![Source {
            node: source,
            available: None,
        }],
        target,
        amount: d(amount),
        ttl_secs: 60,
    }
}

#[test]
fn a_quote_spells_out_amounts_legs_fees_time_and_expiry() {
    let mut m = market();
    let req = request(&mut m, "1000");
    let prices = m.prices();
    let q = quote(&m.ctx(&prices), &req, NOW).expect("quote");
    assert!(q.merchant_amount >= d("1000"));
    assert_eq!(q.intent_amount, d("1000"));
    assert!(
        q.payer_amount > d("1000"),
        "fees are paid by the payer: {}",
        q.payer_amount
    );
    assert!(q.payer_amount.scale() <= 6);
    let leg_fees: Decimal = q.legs.iter().map(|l| l.fee_usd).sum();
    // Every leg's fee plus the 0.01 USD settlement gas.
    assert_eq!(q.total_fee_usd, leg_fees + d("0.01"));
    let leg_secs: u64 = q.legs.iter().map(|l| u64::from(l.expected_seconds)).sum();
    assert_eq!(q.expected_seconds, leg_secs + 5);
    assert_eq!(q.expires_at, NOW + 60);
    assert!(q.id.to_string().starts_with("qt_"));
}

#[test]
fn the_cheaper_route_wins_when_time_costs_nothing() {
    // The DEX costs 30 bps; kraken ~ 3 bps + 0.5 USDC fee + gas: cheaper for 10 000 USDC.
    let mut m = market();
    let req = request(&mut m, "10000");
    let small = request(&mut m, "10");
    let prices = m.prices();
    let mut ctx = m.ctx(&prices);
    ctx.score = ScorePolicy {
        bps_per_minute: Decimal::ZERO,
        failure_penalty_bps: Decimal::ZERO,
    };
    let q = quote(&ctx, &req, NOW).expect("quote");
    let kinds: Vec<LegKind> = q.legs.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        [LegKind::Transfer, LegKind::Trade, LegKind::Withdrawal]
    );
    // And for 10 USDC the fixed withdrawal fee makes the DEX cheaper.
    let q = quote(&ctx, &small, NOW).expect("quote");
    assert_eq!(
        q.legs.iter().map(|l| l.kind).collect::<Vec<_>>(),
        [LegKind::DexSwap]
    );
}

#[test]
fn the_search_finds_the_exhaustive_optimum_when_scored_on_cost_alone() {
    let mut m = market();
    for amount in ["10", "250", "1000", "10000", "150000"] {
        let req = request(&mut m, amount);
        let prices = m.prices();
        let mut ctx = m.ctx(&prices);
        ctx.score = ScorePolicy {
            bps_per_minute: Decimal::ZERO,
            failure_penalty_bps: Decimal::ZERO,
        };
        let q = quote(&ctx, &req, NOW).expect("quote");
        let exclusions = Exclusions::default();
        let (best, paths) = cheapest_route(
            &ctx,
            &RouteRequest {
                sources: &req.sources,
                target: req.target,
                amount: req.amount,
                exclusions: &exclusions,
            },
        );
        assert_eq!(paths, 2, "{amount}");
        assert_eq!(Some(q.cost_bps), best.map(|b| b.cost_bps), "{amount}");
    }
}

#[test]
fn an_amount_with_more_decimals_than_the_asset_is_refused_not_rounded() {
    let mut m = market();
    let req = request(&mut m, "1.0000001");
    let prices = m.prices();
    assert!(matches!(
        quote(&m.ctx(&prices), &req, NOW),
        Err(RouterError::InvalidAmount(_))
    ));
}

#[test]
fn a_source_holding_too_little_gets_no_route() {
    let mut m = market();
    let mut req = request(&mut m, "1000");
    req.sources[0].available = Some(d("1000"));
    let prices = m.prices();
    assert!(matches!(
        quote(&m.ctx(&prices), &req, NOW),
        Err(RouterError::NoRoute { .. })
    ));
}

#[test]
fn a_locked_quote_is_accepted_until_it_expires_and_refused_after() {
    let mut m = market();
    let req = request(&mut m, "100");
    let prices = m.prices();
    let q = quote(&m.ctx(&prices), &req, NOW).expect("quote");
    let locked = lock(q.clone(), NOW + 10).expect("lock");
    assert_eq!(locked.guaranteed_amount(), d("100"));
    assert!(locked.accept(NOW + 59).is_ok());
    assert_eq!(
        locked.accept(NOW + 60).expect_err("expired"),
        RouterError::QuoteExpired {
            expired_at: NOW + 60
        }
    );
    assert!(matches!(
        lock(q, NOW + 61),
        Err(RouterError::QuoteExpired { .. })
    ));
}
