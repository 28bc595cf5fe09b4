//! Refunds, batched payouts and maker-checker approval end to end on the local devnet (real
//! anvil chains): payments into deposit addresses held in the merchant's balance, paid out in
//! one transfer from the treasury, refunded to the payer exactly, never twice, never from
//! blocked funds; concurrent refund requests and two gateway workers on one database.
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use common::devnet::{
    deposit_address, intent, pay_usdc, settings, start, usdc_balance, wait_for, DevnetApp, MERCHANT,
};
use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::api::AppState;
use rialto_gateway::cli_ops::create_operator;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn units(amount: &str) -> U256 {
    let d = dec(amount) * Decimal::from(1_000_000);
    U256::from(u64::try_from(d.normalize().mantissa()).unwrap())
}

fn payer_address(chain: &ChainManifest, payer: usize) -> String {
    chain.payers[payer].address.to_string()
}

async fn operator(app: &TestApp) -> String {
    let created = create_operator(app.store.as_ref(), "olga", 0)
        .await
        .unwrap();
    created["operator_key"].as_str().unwrap().to_owned()
}

async fn batched(app: &TestApp, threshold: &str, extra: Value) {
    let mut body = json!({"settlement_schedule": "batched", "payout_threshold": threshold,
                          "payout_addresses": {"devnet-base": MERCHANT}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    settings(app, body).await;
}

/// An intent of `amount` USD paid by `payer` into its deposit address, waited to `succeeded`.
async fn pay_by_deposit(setup: &DevnetApp, amount: &str, payer: usize) -> Value {
    let (app, chain) = (&setup.app, &setup.chain);
    let paying = intent(app, amount).await;
    let id = paying["id"].as_str().unwrap();
    let to = deposit_address(app, &paying).await;
    pay_usdc(chain, payer, &to, units(amount)).await;
    wait_for(app, &paying, "succeeded").await;
    app.get_json(&format!("/v1/payment_intents/{id}")).await
}

async fn post_refund(app: &TestApp, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut request = app.post("/v1/refunds", app.sk()).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn refund_ok(app: &TestApp, body: Value) -> Value {
    let r = post_refund(app, &body, None).await;
    let status = r.status();
    let value: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "refund refused: {value}");
    assert_eq!(value["object"], "refund");
    assert!(value["id"].as_str().unwrap().starts_with("re_"), "{value}");
    value
}

async fn available(app: &TestApp) -> Decimal {
    amount_in(&app.get_json("/v1/balance").await, "available")
}

fn amount_in(balance: &Value, field: &str) -> Decimal {
    balance[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| dec(row["amount"].as_str().unwrap()))
        .sum()
}

async fn payouts(app: &TestApp) -> Vec<Value> {
    app.get_json("/v1/payouts?limit=100").await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn event_types(app: &TestApp) -> Vec<String> {
    app.get_json("/v1/events?limit=100").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// `(reference, count)` of the chain legs with `purpose`, read straight from the database.
async fn legs(app: &TestApp, purpose: &str) -> Vec<(String, i64)> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let rows = sqlx::query(
        "SELECT reference, COUNT(*) AS n FROM chain_transfers WHERE purpose = $1 GROUP BY \
         reference ORDER BY reference",
    )
    .bind(purpose.to_owned())
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| (r.get::<String, _>("reference"), r.get::<i64, _>("n")))
        .collect()
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

#[tokio::test]
async fn batched_payments_are_held_and_paid_out_in_one_transfer_at_the_threshold() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    batched(app, "30", json!({})).await;
    let merchant_before = usdc_balance(chain, MERCHANT).await;

    pay_by_deposit(&setup, "25.00", 0).await;
    // Below the threshold: held by Rialto, nothing reached the merchant's address.
    assert_eq!(usdc_balance(chain, MERCHANT).await, merchant_before);
    assert_eq!(available(app).await, dec("25"));
    assert!(payouts(app).await.is_empty(), "no payout below threshold");
    assert_eq!(legs(app, "sweep_treasury").await.len(), 1);
    assert!(legs(app, "sweep").await.is_empty(), "not swept to merchant");

    pay_by_deposit(&setup, "10.00", 0).await;
    let started = Instant::now();
    let payout = loop {
        if let Some(p) = payouts(app).await.into_iter().next() {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no payout");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(id(&payout).starts_with("po_"), "{payout}");
    assert_eq!(dec(payout["amount"].as_str().unwrap()), dec("35"));
    let paid = app
        .wait_status(&format!("/v1/payouts/{}", id(&payout)), "paid")
        .await;
    assert_eq!(paid["destination"], MERCHANT);
    assert!(paid["transaction_hash"].is_string(), "{paid}");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units("35")
    );
    // One payout, one transfer.
    assert_eq!(payouts(app).await.len(), 1);
    assert_eq!(legs(app, "payout").await, vec![(id(&payout).to_owned(), 1)]);
    let balance = app.get_json("/v1/balance").await;
    assert_eq!(amount_in(&balance, "available"), Decimal::ZERO, "{balance}");
    assert_eq!(amount_in(&balance, "settled"), dec("35"), "{balance}");
    let events = event_types(app).await;
    for kind in ["payout.created", "payout.paid"] {
        assert!(events.iter().any(|e| e == kind), "{kind} in {events:?}");
    }
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn partial_refunds_add_up_to_the_payment_and_reach_the_payer_exactly() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    batched(app, "1000000", json!({})).await;
    let paid = pay_by_deposit(&setup, "25.00", 0).await;
    let pi = id(&paid).to_owned();
    let payer = payer_address(chain, 0);
    let other = payer_address(chain, 1);
    let payer_before = usdc_balance(chain, &payer).await;
    let other_before = usdc_balance(chain, &other).await;

    let first = refund_ok(app, json!({"payment_intent": pi, "amount": "10.00"})).await;
    assert_eq!(first["destination"], payer.as_str());
    assert_eq!(first["status"], "pending");
    let second = refund_ok(
        app,
        json!({"payment_intent": pi, "amount": "5.50", "destination": other, "reason": "duplicate"}),
    )
    .await;
    assert_eq!(second["destination"], other.as_str());
    let third = post_refund(app, &json!({"payment_intent": pi, "amount": "9.51"}), None).await;
    expect_error(third, 400, "refund_exceeds_payment").await;

    for refund in [&first, &second] {
        let done = app
            .wait_status(&format!("/v1/refunds/{}", id(refund)), "succeeded")
            .await;
        assert!(done["transaction_hash"].is_string(), "{done}");
    }
    assert_eq!(
        usdc_balance(chain, &payer).await - payer_before,
        units("10")
    );
    assert_eq!(
        usdc_balance(chain, &other).await - other_before,
        units("5.5")
    );
    let after = app.get_json(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(dec(after["amount_refunded"].as_str().unwrap()), dec("15.5"));
    assert_eq!(available(app).await, dec("9.5"));
    // The rest, exactly, is still refundable (amount left out = everything left).
    let rest = refund_ok(app, json!({"payment_intent": pi})).await;
    assert_eq!(dec(rest["amount"].as_str().unwrap()), dec("9.5"));
    app.wait_status(&format!("/v1/refunds/{}", id(&rest)), "succeeded")
        .await;
    assert_eq!(
        usdc_balance(chain, &payer).await - payer_before,
        units("19.5")
    );
    let events = event_types(app).await;
    for kind in ["refund.created", "refund.succeeded"] {
        assert!(events.iter().any(|e| e == kind), "{kind} in {events:?}");
    }
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn bad_refund_requests_are_refused_and_replays_create_nothing() {
    let setup = start(1).await;
    let app = &setup.app;
    batched(app, "1000000", json!({})).await;
    let paid = pay_by_deposit(&setup, "20.00", 0).await;
    let pi = id(&paid).to_owned();

    let cases = [
        (
            json!({"payment_intent": pi, "amount": "1.0000001"}),
            400,
            "invalid_amount",
        ),
        (
            json!({"payment_intent": pi, "amount": "-1"}),
            400,
            "invalid_amount",
        ),
        (
            json!({"payment_intent": pi, "amount": "ten"}),
            400,
            "invalid_amount",
        ),
        (
            json!({"payment_intent": "pi_01m8r5d7jj9hezeb9afpyg0c2s"}),
            404,
            "resource_missing",
        ),
        (
            json!({"payment_intent": pi, "reason": "because"}),
            400,
            "parameter_invalid",
        ),
    ];
    for (body, status, code) in cases {
        expect_error(post_refund(app, &body, None).await, status, code).await;
    }
    let waiting = intent(app, "5.00").await;
    let r = post_refund(app, &json!({"payment_intent": id(&waiting)}), None).await;
    expect_error(r, 400, "payment_intent_unexpected_state").await;

    // Same key, same body: the stored response, byte for byte, and one refund only.
    let body = json!({"payment_intent": pi, "amount": "2.00"});
    let once = post_refund(app, &body, Some("refund-1")).await;
    assert_eq!(once.status(), 200);
    let once = once.text().await.unwrap();
    let again = post_refund(app, &body, Some("refund-1")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.text().await.unwrap(), once);
    let other = post_refund(
        app,
        &json!({"payment_intent": pi, "amount": "3.00"}),
        Some("refund-1"),
    )
    .await;
    expect_error(other, 422, "idempotency_key_reused").await;
    let list = app
        .get_json(&format!("/v1/refunds?payment_intent={pi}"))
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    let refund: Value = serde_json::from_str(&once).unwrap();
    app.wait_status(&format!("/v1/refunds/{}", id(&refund)), "succeeded")
        .await;
    let after = app.get_json(&format!("/v1/payment_intents/{pi}")).await;
    assert_eq!(dec(after["amount_refunded"].as_str().unwrap()), dec("2"));
    assert_eq!(legs(app, "refund").await.len(), 1);
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn an_immediately_settled_payment_refunded_from_an_empty_balance_waits_for_funding_and_moves_nothing(
) {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let paid = pay_by_deposit(&setup, "12.00", 0).await;
    let payer = payer_address(chain, 0);
    let payer_before = usdc_balance(chain, &payer).await;
    let r = post_refund(
        app,
        &json!({"payment_intent": id(&paid), "amount": "1.00"}),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let refund: Value = r.json().await.unwrap();
    // Nothing is held for the merchant: the refund waits for the merchant to fund it
    // (`docs/money.md`, refunds that require funding; `gateway/tests/refund_funding.rs`).
    assert_eq!(refund["status"], "requires_funding", "{refund}");
    let after = app
        .get_json(&format!("/v1/payment_intents/{}", id(&paid)))
        .await;
    // The waiting refund counts against what may still be refunded.
    assert_eq!(dec(after["amount_refunded"].as_str().unwrap()), dec("1"));
    assert_eq!(usdc_balance(chain, &payer).await, payer_before);
    assert!(legs(app, "refund").await.is_empty());
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn blocked_funds_are_never_refundable_and_block_listed_destinations_are_refused() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    batched(app, "1000000", json!({})).await;
    let op = operator(app).await;
    // A payer on the operator's block list: its reported payment is blocked.
    let blocked_payer = "0x8ba1f109551bD432803012645Ac136ddd64DBA72";
    let r = app
        .post("/v1/compliance/list_entries", &op)
        .json(&json!({"kind": "block", "address": blocked_payer}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let frozen = app
        .create_intent(json!({"amount": "5.00", "currency": "usd"}))
        .await;
    let funded: Value = app
        .post(
            &format!("/v1/test_helpers/payment_intents/{}/fund", id(&frozen)),
            app.sk(),
        )
        .json(&json!({"chain": "base", "payer_address": blocked_payer}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(funded["status"], "blocked", "{funded}");
    for body in [
        json!({"payment_intent": id(&frozen)}),
        json!({"payment_intent": id(&frozen), "amount": "1.00", "destination": MERCHANT}),
    ] {
        let r = post_refund(app, &body, None).await;
        expect_error(r, 400, "refund_not_allowed").await;
    }

    // A succeeded payment may not be refunded to a block-listed address (operator's or
    // merchant's own list), whoever paid it.
    let paid = pay_by_deposit(&setup, "8.00", 0).await;
    let merchant_listed = payer_address(chain, 1);
    let r = app
        .post("/v1/compliance/list_entries", app.sk())
        .json(&json!({"kind": "block", "address": merchant_listed}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for destination in [blocked_payer.to_owned(), merchant_listed] {
        let body =
            json!({"payment_intent": id(&paid), "amount": "1.00", "destination": destination});
        let r = post_refund(app, &body, None).await;
        let error = expect_error(r, 400, "refund_destination_refused").await;
        let text = error.to_string().to_lowercase();
        assert!(!text.contains("ofac") && !text.contains("list"), "{text}");
    }
    assert!(app.get_json("/v1/refunds").await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(available(app).await, dec("8"));
    assert!(legs(app, "refund").await.is_empty());
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn a_payout_above_the_approval_limit_waits_for_a_second_key() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    batched(app, "1000000", json!({"payout_approval_above": "10"})).await;
    pay_by_deposit(&setup, "25.00", 0).await;
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let r = app
        .post("/v1/payouts", app.sk())
        .json(&json!({"asset": "usdc", "chain": "devnet-base"}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let payout: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{payout}");
    assert_eq!(payout["status"], "pending_approval");
    assert_eq!(dec(payout["amount"].as_str().unwrap()), dec("25"));
    let path = format!("/v1/payouts/{}", id(&payout));
    // Several worker passes later, still waiting and nothing sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.get_json(&path).await["status"], "pending_approval");
    assert!(legs(app, "payout").await.is_empty());
    assert_eq!(usdc_balance(chain, MERCHANT).await, merchant_before);
    // Reserved: not available to spend twice.
    assert_eq!(available(app).await, Decimal::ZERO);

    let same = app
        .post(&format!("{path}/approve"), app.sk())
        .send()
        .await
        .unwrap();
    expect_error(same, 400, "approval_requires_second_key").await;
    let op = operator(app).await;
    let approved = app
        .post(&format!("{path}/approve"), &op)
        .send()
        .await
        .unwrap();
    let status = approved.status();
    let approved: Value = approved.json().await.unwrap();
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["approved_by"], "operator:olga");
    let paid = app.wait_status(&path, "paid").await;
    assert_eq!(paid["approved_by"], "operator:olga");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units("25")
    );
    // Approving again is refused: it is no longer pending approval.
    let twice = app
        .post(&format!("{path}/approve"), &op)
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    assert_eq!(legs(app, "payout").await.len(), 1);
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn concurrent_refunds_never_spend_more_than_was_paid() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    batched(app, "1000000", json!({})).await;
    let paid = pay_by_deposit(&setup, "25.00", 0).await;
    let payer = payer_address(chain, 0);
    let payer_before = usdc_balance(chain, &payer).await;
    let body = json!({"payment_intent": id(&paid), "amount": "10.00"});
    let answers = futures::future::join_all((0..8).map(|_| async {
        let r = post_refund(app, &body, None).await;
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    }))
    .await;
    let mut succeeded = Vec::new();
    for (status, answer) in &answers {
        if *status == 200 {
            succeeded.push(id(answer).to_owned());
        } else {
            let code = answer["error"]["code"].as_str().unwrap();
            assert!(
                ["refund_exceeds_payment", "balance_insufficient"].contains(&code),
                "{status} {answer}"
            );
        }
    }
    assert!(
        (1..=2).contains(&succeeded.len()),
        "{} refunds of 10 out of 25: {answers:?}",
        succeeded.len()
    );
    for refund in &succeeded {
        app.wait_status(&format!("/v1/refunds/{refund}"), "succeeded")
            .await;
    }
    let sum = units("10") * U256::from(succeeded.len());
    assert_eq!(usdc_balance(chain, &payer).await - payer_before, sum);
    let after = app
        .get_json(&format!("/v1/payment_intents/{}", id(&paid)))
        .await;
    assert_eq!(
        dec(after["amount_refunded"].as_str().unwrap()),
        Decimal::from(10 * succeeded.len())
    );
    assert_eq!(legs(app, "refund").await.len(), succeeded.len());
    assert_ledger_balanced(app).await;
}

/// A second gateway on the same database and devnet, as a second `rialto serve` would be.
async fn second_gateway(setup: &DevnetApp) -> AppState {
    use rialto_gateway::clock::SystemClock;
    use rialto_gateway::compliance::Compliance;
    use rialto_gateway::config::Config;
    use rialto_gateway::server::{metrics_handle, open_store, sandbox_chains};
    let mut config = Config::default();
    config.database.url = setup.app.database_url.clone();
    config.sandbox.devnet_manifest = setup.manifest_path.display().to_string();
    config.sandbox.confirmations = 1;
    config.sandbox.poll_ms = 50;
    let registry = common::registry();
    let store = Arc::new(open_store(&config, registry.clone()).await.unwrap());
    let http = rialto_gateway::http_client::outbound(rialto_gateway::http_client::CONNECT_TIMEOUT)
        .unwrap();
    let compliance = Arc::new(Compliance::new(&config.compliance, http).unwrap());
    let chains = sandbox_chains(&config, &registry, Arc::new(SystemClock)).unwrap();
    AppState::new(
        store,
        registry,
        Arc::new(config),
        Arc::new(SystemClock),
        metrics_handle(),
        setup.app.sealer.clone(),
        compliance,
    )
    .with_chains(chains)
}

#[tokio::test]
async fn two_gateway_workers_never_pay_one_balance_out_twice() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    // A threshold no single payment reaches: the payout is created while both workers run.
    batched(app, "30", json!({})).await;
    let second = second_gateway(&setup).await;
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(rialto_gateway::chain::worker::run_chain_worker(
        second.engine.clone(),
        stop_rx,
    ));
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    pay_by_deposit(&setup, "20.00", 0).await;
    // And extra passes racing each other and the two workers' own.
    let racing = tokio::spawn({
        let second = second.clone();
        async move {
            for _ in 0..20 {
                tokio::join!(
                    rialto_gateway::chain::worker::money_pass(&second),
                    rialto_gateway::chain::worker::money_pass(&second)
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    pay_by_deposit(&setup, "15.00", 1).await;
    racing.await.unwrap();
    let started = Instant::now();
    let payout = loop {
        if let Some(p) = payouts(app).await.into_iter().next() {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no payout");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    app.wait_status(&format!("/v1/payouts/{}", id(&payout)), "paid")
        .await;
    // Let both workers run a few more passes over the paid payout.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(payouts(app).await.len(), 1, "{:?}", payouts(app).await);
    assert_eq!(legs(app, "payout").await, vec![(id(&payout).to_owned(), 1)]);
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units("35")
    );
    assert_eq!(available(app).await, Decimal::ZERO);
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn a_payout_to_a_block_listed_address_is_blocked_once_and_the_balance_stays_held() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payout_address = payer_address(chain, 1);
    settings(
        app,
        json!({"settlement_schedule": "batched", "payout_threshold": "10",
               "payout_addresses": {"devnet-base": payout_address}}),
    )
    .await;
    // The list changes after the settings were accepted.
    let op = operator(app).await;
    let r = app
        .post("/v1/compliance/list_entries", &op)
        .json(&json!({"kind": "block", "address": payout_address}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let before = usdc_balance(chain, &payout_address).await;
    pay_by_deposit(&setup, "12.00", 0).await;
    let started = Instant::now();
    let blocked = loop {
        if let Some(p) = payouts(app)
            .await
            .into_iter()
            .find(|p| p["status"] == "blocked")
        {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no blocked payout: {:?}, balance {}",
            payouts(app).await,
            app.get_json("/v1/balance").await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(blocked["failure_code"], "destination_refused");
    // Many worker passes later: the schedule did not retry the refused address over and over.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let all = payouts(app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(legs(app, "payout").await.is_empty());
    assert_eq!(usdc_balance(chain, &payout_address).await, before);
    assert_eq!(available(app).await, dec("12"));
    assert_ledger_balanced(app).await;
}

/// Another secret key of the same merchant (there is no API for one yet: written as
/// `create_merchant` writes its keys).
async fn second_secret_key(app: &TestApp) -> String {
    use rialto_gateway::keys::generate_key;
    use rialto_gateway::store::KeyKind;
    let merchant = app.merchant.id.parse().unwrap();
    let (key, record) = generate_key(merchant, KeyKind::Secret, false, 0);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    sqlx::query(
        "INSERT INTO api_keys (id, merchant_id, kind, livemode, key_hash, key_hint, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(record.id.to_string())
    .bind(record.merchant_id.to_string())
    .bind(record.kind.as_str())
    .bind(0i64)
    .bind(record.key_hash.clone())
    .bind(record.key_hint.clone())
    .bind(0i64)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    key
}

#[tokio::test]
async fn another_secret_key_of_the_merchant_may_approve_a_payout_and_a_refund_needs_a_balance() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    batched(app, "1000000", json!({"payout_approval_above": "5"})).await;
    let paid = pay_by_deposit(&setup, "9.00", 0).await;
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let r = app
        .post("/v1/payouts", app.sk())
        .json(&json!({"asset": "usdc", "chain": "devnet-base", "amount": "9.0000001"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_amount").await;
    let r = app
        .post("/v1/payouts", app.sk())
        .json(&json!({"asset": "usdc", "chain": "devnet-base", "amount": "9.01"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "balance_insufficient").await;
    let payout: Value = app
        .post("/v1/payouts", app.sk())
        .json(&json!({"asset": "usdc", "chain": "devnet-base"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(payout["status"], "pending_approval", "{payout}");
    // The whole balance is reserved: a refund now has nothing to come out of and waits for
    // the merchant to fund it.
    let r = post_refund(
        app,
        &json!({"payment_intent": id(&paid), "amount": "1.00"}),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let waiting: Value = r.json().await.unwrap();
    assert_eq!(waiting["status"], "requires_funding", "{waiting}");
    let checker = second_secret_key(app).await;
    let path = format!("/v1/payouts/{}", id(&payout));
    let approved = app
        .post(&format!("{path}/approve"), &checker)
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let paid_out = app.wait_status(&path, "paid").await;
    assert!(paid_out["approved_by"]
        .as_str()
        .unwrap()
        .starts_with("key:"));
    assert_ne!(paid_out["approved_by"], paid_out["created_by"]);
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units("9")
    );
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn settings_are_validated_and_read_back() {
    let app = common::spawn_app(common::Db::Sqlite).await;
    let defaults = app.get_json("/v1/settings").await;
    assert_eq!(defaults["object"], "settings");
    assert_eq!(defaults["settlement_schedule"], "immediate");
    let refused = [
        (
            json!({"settlement_schedule": "batched"}),
            "settings_invalid",
        ),
        (json!({"payout_threshold": "0"}), "settings_invalid"),
        (json!({"payout_interval_secs": 0}), "settings_invalid"),
        (
            json!({"underpaid_tolerance_percent": "10.5"}),
            "settings_invalid",
        ),
        (
            json!({"late_payment_window_secs": 2_592_001}),
            "settings_invalid",
        ),
        (
            json!({"payout_addresses": {"nowhere": MERCHANT}}),
            "invalid_chain",
        ),
        (
            json!({"payout_addresses": {"base": "0x1234"}}),
            "invalid_address",
        ),
        (json!({"payout_thresh": "1"}), "parameter_unknown"),
    ];
    for (body, code) in refused {
        let r = app
            .post("/v1/settings", app.sk())
            .json(&body)
            .send()
            .await
            .unwrap();
        let got = r.status().as_u16();
        let answer: Value = r.json().await.unwrap();
        assert_eq!(got, 400, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
    }
    // Nothing refused was stored.
    assert_eq!(app.get_json("/v1/settings").await, defaults);
    let body = json!({"settlement_schedule": "batched", "payout_threshold": "100.50",
                      "payout_interval_secs": 3600, "payout_addresses": {"base": MERCHANT},
                      "payout_approval_above": "1000", "underpaid_tolerance_percent": "1.5",
                      "overpaid": "refund_surplus", "late_payment_window_secs": 600});
    settings(&app, body).await;
    let stored = app.get_json("/v1/settings").await;
    assert_eq!(stored["settlement_schedule"], "batched");
    assert_eq!(stored["payout_threshold"], "100.50");
    assert_eq!(stored["payout_addresses"]["base"], MERCHANT);
    assert_eq!(stored["overpaid"], "refund_surplus");
    assert_eq!(stored["late_payment_window_secs"], 600);
}
