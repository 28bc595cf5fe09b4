//! The conformance suite every [`Exchange`] implementation passes: the three venue clients
//! against recorded answers and against the sandbox, and the sandbox itself
//! (`SandboxExchange`, in `tests/sandbox.rs`).
//!
//! It checks the trait's promises, not a venue's numbers: quotes are internally consistent,
//! orders carry the leg-derived client id and can be found by it, unknown legs are `None`
//! rather than errors, withdrawals can be followed to their transaction hash.

use rialto_connectors::exchange::{
    client_order_id, AssetCode, Exchange, ExchangeError, OrderRequest, OrderStatus, OrderType,
    Pair, Side, WithdrawalRequest, WithdrawalStatus,
};
use rust_decimal::Decimal;

/// What the venue under test is expected to know about.
#[derive(Debug)]
pub struct Scenario {
    pub pair: Pair,
    /// A size the book can fill.
    pub size: Decimal,
    /// A size it cannot.
    pub too_large: Decimal,
    pub funded_asset: AssetCode,
    /// An order the venue fills.
    pub order: OrderRequest,
    /// An order whose leg the venue never saw.
    pub unknown_order: OrderRequest,
    /// A withdrawal the venue completes.
    pub withdrawal: WithdrawalRequest,
    /// A withdrawal the venue never received.
    pub unknown_withdrawal: WithdrawalRequest,
}

pub async fn run<E: Exchange>(exchange: &E, s: &Scenario) {
    capabilities_cover_the_scenario(exchange, s);
    balances_are_non_negative_and_distinct(exchange, s).await;
    quotes_walk_the_book_and_charge_the_fee(exchange, s).await;
    orders_carry_the_leg_id_and_can_be_found_by_it(exchange, s).await;
    withdrawals_can_be_followed_to_their_hash(exchange, s).await;
    let address = exchange
        .deposit_address(&s.withdrawal.asset, &s.withdrawal.network)
        .await
        .expect("deposit address");
    assert!(!address.address.is_empty());
    assert_eq!(address.network, s.withdrawal.network);
}

fn capabilities_cover_the_scenario<E: Exchange>(exchange: &E, s: &Scenario) {
    let caps = exchange.capabilities();
    assert!(caps.supports_order_type(OrderType::Market));
    assert!(caps.supports_order_type(OrderType::LimitIoc));
    assert!(caps.supports_network(&s.withdrawal.asset, &s.withdrawal.network));
}

async fn balances_are_non_negative_and_distinct<E: Exchange>(exchange: &E, s: &Scenario) {
    let balances = exchange.balances().await.expect("balances");
    let mut seen = std::collections::BTreeSet::new();
    for b in &balances {
        assert!(
            b.available >= Decimal::ZERO && b.held >= Decimal::ZERO,
            "{b:?}"
        );
        assert!(
            !(b.available.is_zero() && b.held.is_zero()),
            "zero balance listed: {b:?}"
        );
        assert!(seen.insert(b.asset.clone()), "{} listed twice", b.asset);
    }
    let funded = balances
        .iter()
        .find(|b| b.asset == s.funded_asset)
        .expect("funded asset");
    assert!(funded.available > Decimal::ZERO);
}

async fn quotes_walk_the_book_and_charge_the_fee<E: Exchange>(exchange: &E, s: &Scenario) {
    for side in [Side::Buy, Side::Sell] {
        let q = exchange.quote(&s.pair, side, s.size).await.expect("quote");
        assert_eq!(q.venue, exchange.venue());
        assert_eq!(q.base_size, s.size);
        assert!(q.gross_quote > Decimal::ZERO);
        assert_eq!(q.fee, q.gross_quote * q.taker_fee_rate);
        assert!(
            q.taker_fee_rate > Decimal::ZERO,
            "a real venue charges a taker fee"
        );
        match side {
            Side::Buy => {
                assert_eq!(q.net_quote, q.gross_quote + q.fee);
                assert!(q.worst_price >= q.average_price);
            }
            Side::Sell => {
                assert_eq!(q.net_quote, q.gross_quote - q.fee);
                assert!(q.worst_price <= q.average_price);
            }
        }
    }
    let thin = exchange.quote(&s.pair, Side::Buy, s.too_large).await;
    assert!(
        matches!(thin, Err(ExchangeError::InsufficientLiquidity { .. })),
        "{thin:?}"
    );
}

async fn orders_carry_the_leg_id_and_can_be_found_by_it<E: Exchange>(exchange: &E, s: &Scenario) {
    let venue = exchange.venue();
    let placed = exchange.place_order(&s.order).await.expect("place order");
    assert_eq!(placed.client_order_id, client_order_id(venue, &s.order.leg));
    assert_eq!(
        (placed.pair.clone(), placed.side),
        (s.order.pair.clone(), s.order.side)
    );
    assert!(!placed.venue_order_id.is_empty());

    let status = exchange
        .order_status(&s.order.pair, &placed.venue_order_id)
        .await
        .expect("status");
    assert_eq!(status.venue_order_id, placed.venue_order_id);
    assert_eq!(status.status, OrderStatus::Filled);
    assert!(status.status.is_final());
    assert_eq!(status.filled_base, s.order.base_size);
    assert!(status.filled_quote > Decimal::ZERO);

    let found = exchange
        .find_order(&s.order)
        .await
        .expect("find order")
        .expect("order exists");
    assert_eq!(found.venue_order_id, placed.venue_order_id);
    assert_eq!(found.client_order_id, placed.client_order_id);
    let missing = exchange
        .find_order(&s.unknown_order)
        .await
        .expect("lookup of an unknown leg");
    assert!(missing.is_none(), "{missing:?}");
}

async fn withdrawals_can_be_followed_to_their_hash<E: Exchange>(exchange: &E, s: &Scenario) {
    let w = &s.withdrawal;
    let terms = exchange
        .withdrawal_terms(&w.asset, &w.network)
        .await
        .expect("terms");
    assert!(
        terms.fee >= Decimal::ZERO && terms.minimum > Decimal::ZERO,
        "{terms:?}"
    );
    assert!(w.amount >= terms.minimum);

    let sent = exchange.withdraw(w).await.expect("withdraw");
    assert!(!sent.venue_withdrawal_id.is_empty());
    assert_eq!(sent.asset, w.asset);

    let status = exchange
        .withdrawal_status(&w.asset, &sent.venue_withdrawal_id)
        .await
        .expect("status");
    assert_eq!(status.venue_withdrawal_id, sent.venue_withdrawal_id);
    assert_eq!(status.status, WithdrawalStatus::Completed);
    assert!(
        status
            .tx_hash
            .as_deref()
            .is_some_and(|h| h.starts_with("0x")),
        "{status:?}"
    );

    let found = exchange
        .find_withdrawal(w)
        .await
        .expect("find")
        .expect("withdrawal exists");
    assert_eq!(found.venue_withdrawal_id, sent.venue_withdrawal_id);
    let missing = exchange
        .find_withdrawal(&s.unknown_withdrawal)
        .await
        .expect("lookup");
    assert!(missing.is_none(), "{missing:?}");
}
