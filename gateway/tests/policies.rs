//! The merchant's payment policy on real anvil chains: each branch (under-payment accepted,
//! topped up, refunded; over-payment kept or its surplus refunded; late funds accepted or
//! refunded) with the exact on-chain balances, `payment_detail`, its event and a balanced ledger.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use serde_json::{json, Value};

use common::devnet::{
    deposit_address, pay_usdc, settings, start_clocked, status_of, usdc_balance, wait_for,
    DevnetApp, MERCHANT,
};
use common::{assert_ledger_balanced, TestApp};

fn payer(chain: &ChainManifest) -> String {
    chain.payers[0].address.to_string()
}

async fn pay(chain: &ChainManifest, to: &str, units: u64) {
    pay_usdc(chain, 0, to, U256::from(units)).await;
}

/// An intent for `amount` USD in USDC on devnet-base, and its deposit address.
async fn deposit_intent(app: &TestApp, amount: &str) -> (Value, String) {
    let intent = app
        .create_intent(
            json!({"amount": amount, "currency": "usd", "expires_in": 60,
            "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}),
        )
        .await;
    let address = deposit_address(app, &intent).await;
    (intent, address)
}

async fn detail(app: &TestApp, intent: &Value) -> Value {
    let id = intent["id"].as_str().unwrap();
    app.get_json(&format!("/v1/payment_intents/{id}")).await["payment_detail"].clone()
}

/// Polls until the intent's `payment_detail.resolution` is `want`; 30 s at most.
async fn wait_for_resolution(app: &TestApp, intent: &Value, want: &str) -> Value {
    let started = Instant::now();
    loop {
        let d = detail(app, intent).await;
        if d["resolution"] == want {
            return d;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{d} never became {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until the intent's refunds (all of them) succeeded; returns them.
async fn wait_for_refunds(app: &TestApp, intent: &Value, count: usize) -> Vec<Value> {
    let id = intent["id"].as_str().unwrap();
    let started = Instant::now();
    loop {
        let list = app
            .get_json(&format!("/v1/refunds?payment_intent={id}"))
            .await;
        let data = list["data"].as_array().cloned().unwrap_or_default();
        if data.len() == count && data.iter().all(|r| r["status"] == "succeeded") {
            return data;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "refunds stuck: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn event_types(app: &TestApp) -> Vec<String> {
    let list = app.get_json("/v1/events?limit=100").await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn setup(clock: Option<Arc<dyn Clock>>) -> DevnetApp {
    start_clocked(1, clock).await
}

#[tokio::test]
async fn an_underpayment_within_tolerance_is_accepted_and_a_short_one_waits_for_a_top_up() {
    let setup = setup(None).await;
    let (app, chain) = (&setup.app, &setup.chain);
    settings(app, json!({"underpaid_tolerance_percent": "2"})).await;
    let before = usdc_balance(chain, MERCHANT).await;

    let (within, address) = deposit_intent(app, "25.00").await;
    pay(chain, &address, 24_600_000).await; // 1.6% short
    wait_for(app, &within, "succeeded").await;
    let d = detail(app, &within).await;
    assert_eq!(
        (d["type"].as_str(), d["resolution"].as_str()),
        (Some("underpaid"), Some("accepted"))
    );
    assert_eq!(
        (d["expected"].as_str(), d["received"].as_str()),
        (Some("25"), Some("24.6"))
    );

    let (short, address) = deposit_intent(app, "25.00").await;
    pay(chain, &address, 10_000_000).await;
    let d = wait_for_resolution(app, &short, "awaiting_top_up").await;
    assert_eq!(d["received"], "10");
    assert_eq!(status_of(app, &short).await, "awaiting_funds");
    pay(chain, &address, 15_000_000).await;
    wait_for(app, &short, "succeeded").await;
    assert_eq!(
        detail(app, &short).await,
        Value::Null,
        "paid in full after the top-up"
    );

    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(24_600_000u64 + 25_000_000),
        "both swept to the merchant, exactly"
    );
    let events = event_types(app).await;
    for kind in [
        "payment_intent.underpaid_accepted",
        "payment_intent.underpaid_awaiting_top_up",
    ] {
        assert!(events.iter().any(|e| e == kind), "{kind} in {events:?}");
    }
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn an_overpayment_is_kept_or_its_surplus_goes_back_to_the_payer() {
    let setup = setup(None).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer_address = payer(chain);
    let before = usdc_balance(chain, MERCHANT).await;

    let (kept, address) = deposit_intent(app, "25.00").await;
    pay(chain, &address, 30_000_000).await;
    wait_for(app, &kept, "succeeded").await;
    let d = detail(app, &kept).await;
    assert_eq!(
        (d["type"].as_str(), d["resolution"].as_str()),
        (Some("overpaid"), Some("accepted"))
    );
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(30_000_000u64)
    );

    settings(app, json!({"overpaid": "refund_surplus"})).await;
    let before = usdc_balance(chain, MERCHANT).await;
    let (surplus, address) = deposit_intent(app, "25.00").await;
    // Read before paying: the surplus may come back before the payment's receipt is read.
    let payer_before = usdc_balance(chain, &payer_address).await;
    pay(chain, &address, 30_000_000).await;
    wait_for(app, &surplus, "succeeded").await;
    let refunds = wait_for_refunds(app, &surplus, 1).await;
    assert_eq!(refunds[0]["amount"], "5");
    assert_eq!(refunds[0]["reason"], "overpaid");
    assert_eq!(
        refunds[0]["destination"].as_str().map(str::to_lowercase),
        Some(payer_address.to_lowercase())
    );
    assert_eq!(
        payer_before - usdc_balance(chain, &payer_address).await,
        U256::from(25_000_000u64),
        "paid 30, 5 came back"
    );
    // The merchant is paid the amount, by the payout that settles the held funds.
    let started = Instant::now();
    while usdc_balance(chain, MERCHANT).await - before != U256::from(25_000_000u64) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "merchant never paid"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = detail(app, &surplus).await;
    assert_eq!(
        (d["resolution"].as_str(), d["refund"].as_str()),
        (Some("surplus_refunded"), Some("5"))
    );
    let events = event_types(app).await;
    for kind in [
        "payment_intent.overpaid_kept",
        "payment_intent.overpaid_surplus_refunded",
        "refund.succeeded",
        "payout.paid",
    ] {
        assert!(events.iter().any(|e| e == kind), "{kind} in {events:?}");
    }
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn short_funds_at_expiry_and_late_funds_after_the_window_are_refunded_late_funds_within_it_accepted(
) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup = setup(Some(clock.clone())).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer_address = payer(chain);
    settings(app, json!({"late_payment_window_secs": 3600})).await;
    let store = app.store.clone();
    let expire = || {
        let (store, clock) = (store.clone(), clock.clone());
        async move {
            rialto_gateway::workers::expire_due_intents(store.as_ref(), clock.as_ref())
                .await
                .unwrap()
        }
    };

    // Short, then the intent expires: everything goes back.
    let (short, short_address) = deposit_intent(app, "25.00").await;
    pay(chain, &short_address, 10_000_000).await;
    wait_for_resolution(app, &short, "awaiting_top_up").await;
    // Late: nothing arrives before expiry.
    let (late, late_address) = deposit_intent(app, "25.00").await;
    let (too_late, too_late_address) = deposit_intent(app, "25.00").await;
    // Read before expiry: the worker may send the refund as soon as the intent expires.
    let payer_before = usdc_balance(chain, &payer_address).await;
    clock.advance_ms(61_000);
    assert_eq!(expire().await, 3);
    let refunds = wait_for_refunds(app, &short, 1).await;
    assert_eq!(
        (refunds[0]["amount"].as_str(), refunds[0]["reason"].as_str()),
        (Some("10"), Some("underpaid"))
    );
    let d = detail(app, &short).await;
    assert_eq!(
        (d["type"].as_str(), d["resolution"].as_str()),
        (Some("underpaid"), Some("refunded"))
    );
    assert_eq!(status_of(app, &short).await, "expired");
    assert_eq!(
        usdc_balance(chain, &payer_address).await - payer_before,
        U256::from(10_000_000u64)
    );

    // Late, within the window: the intent reopens and settles.
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    pay(chain, &late_address, 25_000_000).await;
    wait_for(app, &late, "succeeded").await;
    let d = detail(app, &late).await;
    assert_eq!(
        (d["type"].as_str(), d["resolution"].as_str()),
        (Some("late"), Some("accepted"))
    );
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        U256::from(25_000_000u64)
    );

    // Late, after the window: refunded.
    clock.advance_ms(3_600_000);
    let payer_before = usdc_balance(chain, &payer_address).await;
    pay(chain, &too_late_address, 25_000_000).await;
    let refunds = wait_for_refunds(app, &too_late, 1).await;
    assert_eq!(
        (refunds[0]["amount"].as_str(), refunds[0]["reason"].as_str()),
        (Some("25"), Some("late"))
    );
    let d = detail(app, &too_late).await;
    assert_eq!(
        (d["type"].as_str(), d["resolution"].as_str()),
        (Some("late"), Some("refunded"))
    );
    assert_eq!(status_of(app, &too_late).await, "expired");
    assert_eq!(
        usdc_balance(chain, &payer_address).await,
        payer_before,
        "sent 25, got 25 back"
    );
    let events = event_types(app).await;
    for kind in [
        "payment_intent.underpaid_refunded",
        "payment_intent.late_accepted",
        "payment_intent.late_refunded",
    ] {
        assert!(events.iter().any(|e| e == kind), "{kind} in {events:?}");
    }
    assert_ledger_balanced(app).await;
}
