//! `place_order_once` / `withdraw_once` against a scripted exchange: every path through the
//! helper, counting sends.

mod support;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rialto_connectors::exchange::{
    place_order_once, withdraw_once, AssetCode, Balance, Capabilities, DepositAddress, Exchange,
    ExchangeError, Order, OrderRequest, OrderStatus, Pair, Quote, Side, Venue, Withdrawal,
    WithdrawalRequest, WithdrawalStatus, WithdrawalTerms,
};
use rialto_core::ChainId;
use rust_decimal::Decimal;
use support::*;

type Script<T> = Mutex<VecDeque<Result<T, ExchangeError>>>;

/// Answers each call with the next scripted result and counts sends.
#[derive(Default)]
struct Scripted {
    caps: Capabilities,
    sends: Script<Order>,
    lookups: Script<Option<Order>>,
    withdrawals: Script<Withdrawal>,
    withdrawal_lookups: Script<Option<Withdrawal>>,
    sent: Mutex<u32>,
    looked_up: Mutex<u32>,
}

fn next<T>(script: &Script<T>) -> Result<T, ExchangeError> {
    script
        .lock()
        .expect("lock")
        .pop_front()
        .expect("script ran out: an unexpected call")
}

fn bump(counter: &Mutex<u32>) {
    *counter.lock().expect("lock") += 1;
}

fn unsupported<T>() -> Result<T, ExchangeError> {
    Err(ExchangeError::Unsupported {
        venue: Venue::Sandbox,
        what: "not scripted".into(),
    })
}

#[async_trait]
impl Exchange for Scripted {
    fn venue(&self) -> Venue {
        Venue::Sandbox
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        unsupported()
    }
    async fn quote(&self, _: &Pair, _: Side, _: Decimal) -> Result<Quote, ExchangeError> {
        unsupported()
    }
    async fn place_order(&self, _: &OrderRequest) -> Result<Order, ExchangeError> {
        bump(&self.sent);
        next(&self.sends)
    }
    async fn order_status(&self, _: &Pair, _: &str) -> Result<Order, ExchangeError> {
        unsupported()
    }
    async fn find_order(&self, _: &OrderRequest) -> Result<Option<Order>, ExchangeError> {
        bump(&self.looked_up);
        next(&self.lookups)
    }
    async fn withdrawal_terms(
        &self,
        _: &AssetCode,
        _: &ChainId,
    ) -> Result<WithdrawalTerms, ExchangeError> {
        unsupported()
    }
    async fn withdraw(&self, _: &WithdrawalRequest) -> Result<Withdrawal, ExchangeError> {
        bump(&self.sent);
        next(&self.withdrawals)
    }
    async fn withdrawal_status(&self, _: &AssetCode, _: &str) -> Result<Withdrawal, ExchangeError> {
        unsupported()
    }
    async fn find_withdrawal(
        &self,
        _: &WithdrawalRequest,
    ) -> Result<Option<Withdrawal>, ExchangeError> {
        bump(&self.looked_up);
        next(&self.withdrawal_lookups)
    }
    async fn deposit_address(
        &self,
        _: &AssetCode,
        _: &ChainId,
    ) -> Result<DepositAddress, ExchangeError> {
        unsupported()
    }
}

fn order() -> Order {
    Order {
        venue: Venue::Sandbox,
        venue_order_id: "o-1".into(),
        client_order_id: known_leg().to_string(),
        pair: pair("BTC", "USD"),
        side: Side::Buy,
        status: OrderStatus::Filled,
        filled_base: d("0.25"),
        filled_quote: d("15000"),
        fee: d("15"),
        fee_asset: Some(asset("USD")),
    }
}

fn withdrawal() -> Withdrawal {
    Withdrawal {
        venue: Venue::Sandbox,
        venue_withdrawal_id: "w-1".into(),
        asset: asset("USDC"),
        network: Some(base_chain()),
        address: Some(MERCHANT.into()),
        amount: d("100"),
        fee: None,
        status: WithdrawalStatus::Pending,
        tx_hash: None,
    }
}

fn unknown() -> ExchangeError {
    ExchangeError::Unknown {
        venue: Venue::Sandbox,
        operation: "place order",
        message: "timed out".into(),
    }
}

fn unavailable() -> ExchangeError {
    ExchangeError::Unavailable {
        venue: Venue::Sandbox,
        message: "503".into(),
    }
}

fn scripted(
    sends: Vec<Result<Order, ExchangeError>>,
    lookups: Vec<Result<Option<Order>, ExchangeError>>,
) -> Scripted {
    Scripted {
        sends: Mutex::new(sends.into()),
        lookups: Mutex::new(lookups.into()),
        ..Scripted::default()
    }
}

fn counts(ex: &Scripted) -> (u32, u32) {
    (
        *ex.sent.lock().expect("lock"),
        *ex.looked_up.lock().expect("lock"),
    )
}

fn request() -> OrderRequest {
    market_buy(known_leg(), pair("BTC", "USD"))
}

#[tokio::test]
async fn an_unknown_outcome_found_by_lookup_is_not_sent_again() {
    let ex = scripted(vec![Err(unknown())], vec![Ok(Some(order()))]);
    let got = place_order_once(&ex, &request(), &fast_policy())
        .await
        .expect("found");
    assert_eq!(got.venue_order_id, "o-1");
    assert_eq!(counts(&ex), (1, 1));
}

#[tokio::test]
async fn an_unknown_outcome_the_venue_never_saw_is_sent_once_more() {
    let ex = scripted(vec![Err(unknown()), Ok(order())], vec![Ok(None)]);
    place_order_once(&ex, &request(), &fast_policy())
        .await
        .expect("resent");
    assert_eq!(counts(&ex), (2, 1));
}

#[tokio::test]
async fn a_lookup_that_keeps_failing_leaves_the_outcome_unknown_and_sends_nothing_more() {
    let ex = scripted(
        vec![Err(unknown())],
        vec![Err(unavailable()), Err(unavailable()), Err(unavailable())],
    );
    let err = place_order_once(&ex, &request(), &fast_policy())
        .await
        .expect_err("unresolved");
    assert!(err.is_unknown_outcome(), "{err:?}");
    assert_eq!(counts(&ex), (1, 3), "one send, max_lookups lookups");
}

#[tokio::test]
async fn a_transient_refusal_is_retried_and_a_venue_rejection_is_not() {
    let limited = ExchangeError::RateLimited {
        venue: Venue::Sandbox,
        retry_after: Some(Duration::from_millis(1)),
    };
    let ex = scripted(vec![Err(limited), Err(unavailable()), Ok(order())], vec![]);
    place_order_once(&ex, &request(), &fast_policy())
        .await
        .expect("third time");
    assert_eq!(counts(&ex), (3, 0));

    let rejected = ExchangeError::InsufficientFunds {
        venue: Venue::Sandbox,
        message: "no".into(),
    };
    let ex = scripted(vec![Err(rejected)], vec![]);
    let err = place_order_once(&ex, &request(), &fast_policy())
        .await
        .expect_err("rejected");
    assert!(matches!(err, ExchangeError::InsufficientFunds { .. }));
    assert_eq!(counts(&ex), (1, 0));
}

#[tokio::test]
async fn sends_stop_at_the_policy_limit_even_if_the_venue_never_saw_any() {
    let ex = scripted(
        vec![Err(unknown()), Err(unknown()), Err(unknown())],
        vec![Ok(None), Ok(None), Ok(None)],
    );
    let err = place_order_once(&ex, &request(), &fast_policy())
        .await
        .expect_err("gave up");
    assert!(err.is_unknown_outcome());
    assert_eq!(counts(&ex), (3, 3));
}

#[tokio::test]
async fn a_withdrawal_with_an_unknown_outcome_is_found_not_resent() {
    let ex = Scripted {
        withdrawals: Mutex::new(vec![Err(unknown())].into()),
        withdrawal_lookups: Mutex::new(vec![Ok(Some(withdrawal()))].into()),
        ..Scripted::default()
    };
    let got = withdraw_once(&ex, &usdc_withdrawal(known_leg(), "100"), &fast_policy())
        .await
        .expect("found");
    assert_eq!(got.venue_withdrawal_id, "w-1");
    assert_eq!(counts(&ex), (1, 1));
}
