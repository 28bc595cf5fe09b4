//! Edge math: constant-product exact output, book walking with partial levels, withdrawals,
//! bridges, and the rounding direction of every one of them.

mod support;

use rialto_connectors::exchange::{walk_book, AssetCode, BookLevel, Pair, Side, Venue};
use rialto_router::{BookTrade, EdgeKind, EdgeRefusal, Pool};
use rust_decimal::Decimal;
use support::d;

fn pool(fee_bps: u32) -> EdgeKind {
    EdgeKind::Dex(Pool {
        reserve_in: d("1000"),
        reserve_out: d("1000"),
        fee_bps,
    })
}

fn asks() -> Vec<BookLevel> {
    vec![
        BookLevel {
            price: d("1.0001"),
            size: d("100"),
        },
        BookLevel {
            price: d("1.0003"),
            size: d("200"),
        },
        BookLevel {
            price: d("1.0010"),
            size: d("1000"),
        },
    ]
}

#[test]
fn a_constant_product_pool_asks_the_exact_input_rounded_up_for_an_exact_output() {
    // in = R_in·out / ((R_out − out)·γ) = 1000·100 / (900·0.997) = 111.44544745…
    let priced = pool(30).inverse(d("100"), 6).expect("inverse");
    assert_eq!(priced.input, d("111.445448"));
    // One unit less would not be enough, so the rounding is up and tight.
    let short = pool(30).forward(d("111.445447"), 6).expect("forward");
    assert!(short.output < d("100"), "{short:?}");
    let enough = pool(30).forward(priced.input, 6).expect("forward");
    assert_eq!(enough.output, d("100"));
}

#[test]
fn a_pool_refuses_an_output_it_cannot_hold() {
    assert_eq!(
        pool(30).inverse(d("1000"), 6).expect_err("drains the pool"),
        EdgeRefusal::InsufficientLiquidity
    );
}

#[test]
fn buying_walks_partial_levels_and_agrees_with_the_connectors_book_walk() {
    let trade = EdgeKind::Trade(BookTrade {
        side: Side::Buy,
        levels: asks(),
        taker_fee_rate: d("0.001"),
    });
    // 250 base: 100 @ 1.0001 + 150 @ 1.0003 = 250.055 gross, +0.250055 fee.
    let priced = trade.inverse(d("250"), 6).expect("inverse");
    assert_eq!(priced.input, d("250.305055"));
    let pair = Pair::new(
        AssetCode::new("USDT").expect("usdt"),
        AssetCode::new("USDC").expect("usdc"),
    );
    let reference = walk_book(
        Venue::Sandbox,
        &pair,
        Side::Buy,
        d("250"),
        &asks(),
        d("0.001"),
    )
    .expect("walk");
    assert_eq!(
        priced.input,
        rialto_router::edge::round_up(reference.net_quote, 6)
    );
    // Spending that input buys at least the 250 asked for, rounded down.
    let back = trade.forward(priced.input, 6).expect("forward");
    assert!(back.output >= d("250"), "{back:?}");
}

#[test]
fn selling_for_an_exact_quote_amount_takes_a_partial_level_pro_rata() {
    let bids = vec![
        BookLevel {
            price: d("0.9999"),
            size: d("10"),
        },
        BookLevel {
            price: d("0.9990"),
            size: d("1000"),
        },
    ];
    let trade = EdgeKind::Trade(BookTrade {
        side: Side::Sell,
        levels: bids,
        taker_fee_rate: Decimal::ZERO,
    });
    // 20 quote: 10 base give 9.999, the other 10.001 quote need 10.001 / 0.999 base.
    let priced = trade.inverse(d("20"), 6).expect("inverse");
    assert_eq!(priced.input, d("20.011012"));
    let back = trade.forward(priced.input, 6).expect("forward");
    assert!(back.output >= d("20"));
    assert_eq!(back.output, d("20.000000"));
}

#[test]
fn a_book_too_thin_for_the_amount_is_insufficient_liquidity() {
    let trade = EdgeKind::Trade(BookTrade {
        side: Side::Buy,
        levels: asks(),
        taker_fee_rate: Decimal::ZERO,
    });
    assert_eq!(
        trade.inverse(d("1301"), 6).expect_err("thin"),
        EdgeRefusal::InsufficientLiquidity
    );
}

#[test]
fn outputs_round_down_and_inputs_round_up_to_the_asset_decimals() {
    let bridge = EdgeKind::Bridge {
        fee_bps: 3,
        fixed: Decimal::ZERO,
    };
    // 10 · (1 − 0.0003) = 9.997 exactly; 10.0000001 would give 9.99700009997: floored.
    assert_eq!(
        bridge.forward(d("10.0000001"), 6).expect("forward").output,
        d("9.997000")
    );
    // 9.997 / 0.9997 = 10 exactly; 9.9970001 / 0.9997 = 10.00000010003…: ceiled.
    assert_eq!(
        bridge.inverse(d("9.997"), 6).expect("inverse").input,
        d("10")
    );
    assert_eq!(
        bridge.inverse(d("9.9970001"), 6).expect("inverse").input,
        d("10.000001")
    );
}

#[test]
fn a_withdrawal_deducts_its_fee_and_honours_the_venue_minimum() {
    let w = EdgeKind::Withdrawal {
        fee: d("1"),
        minimum: d("10"),
    };
    assert_eq!(w.inverse(d("50"), 6).expect("inverse").input, d("51"));
    // Below the minimum, the input is the minimum and the merchant side gets the surplus.
    assert_eq!(w.inverse(d("2"), 6).expect("inverse").input, d("10"));
    assert_eq!(
        w.forward(d("9"), 6).expect_err("below minimum"),
        EdgeRefusal::BelowMinimum
    );
    assert_eq!(w.forward(d("51"), 6).expect("forward").output, d("50"));
}

#[test]
fn ccip_moves_the_amount_whole_and_charges_its_router_fee_as_a_network_fee() {
    let ccip = EdgeKind::Ccip {
        network_fee_usd: d("2.41"),
    };
    assert_eq!(ccip.inverse(d("100"), 6).expect("inverse").input, d("100"));
    assert_eq!(ccip.forward(d("100"), 6).expect("forward").output, d("100"));
    assert_eq!(ccip.gas_usd(), d("2.41"));
    assert_eq!(ccip.leg_kind(), rialto_router::LegKind::Ccip);
}
