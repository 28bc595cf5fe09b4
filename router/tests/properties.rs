//! Property: whatever the amount and market, a quote never promises the merchant less than
//! the intent amount, and replaying its route forwards from the payer amount delivers it.

mod support;

use proptest::prelude::*;
use rialto_connectors::exchange::{BookLevel, Side};
use rialto_router::search::price_path;
use rialto_router::{quote, BookTrade, EdgeKind, Pool, QuoteRequest, Source};
use rust_decimal::Decimal;
use support::{base, d, kraken, Market, NOW};

fn market(reserve: u64, skew_bps: u32, fee_bps: u32, level_size: u64, taker_ppm: u32) -> Market {
    let mut m = Market::new();
    let (usdt, usdc) = (m.usdt, m.usdc);
    let from = m.node(usdt, base());
    let to = m.node(usdc, base());
    let reserve = Decimal::from(reserve);
    m.edge(
        from,
        to,
        EdgeKind::Dex(Pool {
            reserve_in: reserve,
            reserve_out: reserve * (Decimal::ONE - Decimal::new(i64::from(skew_bps), 4)),
            fee_bps,
        }),
        "pool",
        15,
    );
    let usdt_k = m.node(usdt, kraken());
    let usdc_k = m.node(usdc, kraken());
    m.edge(
        from,
        usdt_k,
        EdgeKind::Transfer { gas_usd: d("0.02") },
        "kraken",
        60,
    );
    let levels = (0..6)
        .map(|i| BookLevel {
            price: d("0.9999") - Decimal::new(i, 4),
            size: Decimal::from(level_size) + Decimal::new(123_457 * i, 6),
        })
        .collect();
    m.edge(
        usdt_k,
        usdc_k,
        EdgeKind::Trade(BookTrade {
            side: Side::Sell,
            levels,
            taker_fee_rate: Decimal::new(i64::from(taker_ppm), 6),
        }),
        "kraken",
        2,
    );
    m.edge(
        usdc_k,
        to,
        EdgeKind::Withdrawal {
            fee: d("0.8"),
            minimum: d("10"),
        },
        "kraken",
        300,
    );
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_quote_never_gives_the_merchant_less_than_the_intent_amount(
        micro in 1u64..100_000_000_000,
        reserve in 10_000u64..50_000_000,
        skew_bps in 0u32..60,
        fee_bps in 0u32..60,
        level_size in 1u64..200_000,
        taker_ppm in 0u32..3_000,
    ) {
        let amount = Decimal::new(i64::try_from(micro).expect("fits"), 6);
        let mut m = market(reserve, skew_bps, fee_bps, level_size, taker_ppm);
        let (usdt, usdc) = (m.usdt, m.usdc);
        let req = QuoteRequest {
            sources: vec![Source { node: m.node(usdt, base()), available: None }],
            target: m.node(usdc, base()),
            amount,
            ttl_secs: 60,
        };
        let prices = m.prices();
        let ctx = m.ctx(&prices);
        let quoted = quote(&ctx, &req, NOW);
        // Small against the pool (price impact under 10 bps, fee + skew under 120): the
        // pool alone is within the deviation bound, so a quote must exist.
        if amount * Decimal::from(1_000) <= Decimal::from(reserve) {
            prop_assert!(quoted.is_ok(), "{quoted:?}");
        }
        if let Ok(q) = quoted {
            prop_assert!(q.merchant_amount >= amount, "{} < {}", q.merchant_amount, amount);
            prop_assert!(q.payer_amount.scale() <= 6);
            let route = q.route().expect("route");
            let edges: Vec<_> = route.legs.iter().map(|l| l.edge).collect();
            // Exactly the payer amount, forwards: no nudging allowed, it must already suffice.
            let replay = price_path(&ctx, route.source, route.target, &edges, q.payer_amount, amount)
                .expect("replay");
            prop_assert_eq!(replay.input, q.payer_amount);
            prop_assert!(replay.output >= amount);
        }
    }
}
