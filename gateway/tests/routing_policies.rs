//! The merchant's payment policy on routed wallet payments (engine/src/routing/policy.rs),
//! end to end on anvil with the gateway's worker: a short funding waits for a top-up until
//! the quote's lock ends, a top-up completes it, a funding never topped up goes back whole,
//! and a late funding within the late window starts a fresh plan at current prices.

mod common;
mod routing_support;

use common::devnet::{intent, status_of, usdc_balance, MERCHANT};
use common::expect_error;
use routing_support::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// The intent's `payment_detail`: type, resolution, expected, received, refund.
async fn detail(
    app: &common::TestApp,
    paying: &Value,
) -> (String, String, Decimal, Decimal, Decimal) {
    let id = paying["id"].as_str().unwrap();
    let d = app.get_json(&format!("/v1/payment_intents/{id}")).await["payment_detail"].clone();
    let text = |k: &str| {
        d[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {d}"))
            .to_owned()
    };
    (
        text("type"),
        text("resolution"),
        dec(&d["expected"]),
        dec(&d["received"]),
        dec(&d["refund"]),
    )
}

/// Reports payer 0's transfer of `amount` USDC to the execution's `pay_to`: the transaction
/// hash and the answer's execution.
async fn pay_and_report(
    setup: &common::devnet::DevnetApp,
    exec: &Value,
    amount: Decimal,
) -> (String, Value) {
    let (app, chain) = (&setup.app, &setup.chain);
    let id = exec["id"].as_str().unwrap();
    let pay_to = exec["pay_to"]["address"].as_str().unwrap();
    let hash = pay_usdc_hash(chain, 0, pay_to, units(amount)).await;
    let answer = report_funding(app, chain, 0, id, &hash).await;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    (hash, body)
}

/// Books balance, nothing is left in Rialto's routing account, and reconciliation explains
/// every transfer on chain.
async fn assert_books(app: &common::TestApp) {
    let (held, _kinds) = routing_books(app).await;
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    common::assert_ledger_balanced(app).await;
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
}

#[tokio::test]
async fn a_short_routed_funding_waits_and_a_top_up_within_the_quote_pays_the_locked_amount() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer = chain.payers[0].address.to_string();
    let (merchant_before, payer_before) = (
        usdc_balance(chain, MERCHANT).await,
        usdc_balance(chain, &payer).await,
    );
    let paying = intent(app, "20.00").await;
    let (quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let quoted = dec(&exec["pay_to"]["amount"]);
    let locked = dec(&quote["merchant_amount"]);
    let first = Decimal::new(1500, 2);

    // 15 of the quoted amount: far below any tolerance, so it waits for the rest.
    let (first_hash, answer) = pay_and_report(&setup, &exec, first).await;
    assert_eq!(answer["status"], "awaiting_funds", "{answer}");
    assert_eq!(dec(&answer["received"]), first, "{answer}");
    assert_eq!(answer["legs"], json!([]), "{answer}");
    assert_eq!(status_of(app, &paying).await, "awaiting_funds");
    assert_eq!(
        detail(app, &paying).await,
        (
            "underpaid".into(),
            "awaiting_top_up".into(),
            quoted,
            first,
            Decimal::ZERO
        )
    );
    // The same transaction reported again counts once.
    let again = report_funding(app, chain, 0, &exec_id, &first_hash).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(dec(&again["received"]), first, "{again}");

    // The rest, in a second transfer: the plan starts from the total.
    let (top_up_hash, _) = pay_and_report(&setup, &exec, quoted - first).await;
    let done = wait_execution(app, &exec_id, "succeeded").await;
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(dec(&done["received"]), quoted, "{done}");
    assert_eq!(
        kinds(&done),
        vec![("settlement".into(), "confirmed".into())],
        "{done}"
    );
    let settled = dec(&done["legs"][0]["received"]);
    assert_eq!(settled, locked, "{done}");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units(locked),
        "the merchant got exactly the locked amount"
    );
    assert_eq!(
        payer_before - usdc_balance(chain, &payer).await,
        units(quoted),
        "the payer paid the quote, in two transfers"
    );
    // Topped up to the quote exactly: nothing differs any more.
    let id = paying["id"].as_str().unwrap();
    let pi = app.get_json(&format!("/v1/payment_intents/{id}")).await;
    assert_eq!(pi["payment_detail"], Value::Null, "{pi}");

    // A top-up transaction funds its execution only.
    let other = intent(app, "20.00").await;
    let (_q, other_exec) = accept_base_usdc(app, &payer, &other).await;
    let other_id = other_exec["id"].as_str().unwrap();
    let reused = report_funding(app, chain, 0, other_id, &top_up_hash).await;
    expect_error(reused, 409, "transaction_already_used").await;
    assert_books(app).await;
}

#[tokio::test]
async fn a_short_routed_funding_never_topped_up_goes_back_whole_when_the_quote_ends() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer = chain.payers[0].address.to_string();
    let (merchant_before, payer_before) = (
        usdc_balance(chain, MERCHANT).await,
        usdc_balance(chain, &payer).await,
    );
    let paying = intent(app, "20.00").await;
    let (quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let quoted = dec(&exec["pay_to"]["amount"]);
    let first = Decimal::new(1234, 2);
    let (_hash, answer) = pay_and_report(&setup, &exec, first).await;
    assert_eq!(answer["status"], "awaiting_funds", "{answer}");
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before - units(first)
    );

    // The quote's lock ends, and the grace after it: everything goes back, Rialto paying the
    // gas.
    let life = quote["expires_at"].as_u64().unwrap() - quote["created_at"].as_u64().unwrap();
    clock.advance_ms((life as i64 + 1) * 1000 + 5 * 60_000);
    let failed = wait_execution(app, &exec_id, "failed").await;
    assert_eq!(failed["failure_code"], "funding_short", "{failed}");
    assert_eq!(kinds(&failed), vec![("return".into(), "confirmed".into())]);
    assert_eq!(dec(&failed["legs"][0]["received"]), first, "{failed}");
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before,
        "the payer has every unit back"
    );
    assert_eq!(usdc_balance(chain, MERCHANT).await, merchant_before);
    assert_eq!(status_of(app, &paying).await, "awaiting_funds");
    assert_eq!(
        detail(app, &paying).await,
        ("underpaid".into(), "refunded".into(), quoted, first, first)
    );
    assert_books(app).await;
}

#[tokio::test]
async fn a_routed_funding_reported_late_within_the_window_starts_a_fresh_plan() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    common::devnet::settings(app, json!({"late_payment_window_secs": 3600})).await;
    let payer = chain.payers[0].address.to_string();
    let (merchant_before, payer_before) = (
        usdc_balance(chain, MERCHANT).await,
        usdc_balance(chain, &payer).await,
    );
    let paying = intent(app, "20.00").await;
    let (quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let quoted = dec(&exec["pay_to"]["amount"]);
    // Past the quote's life, well within the hour the merchant accepts late payments for.
    let life = quote["expires_at"].as_u64().unwrap() - quote["created_at"].as_u64().unwrap();
    clock.advance_ms((life as i64 + 1) * 1000);
    let _ = pay_and_report(&setup, &exec, quoted).await;
    let done = wait_execution(app, &exec_id, "succeeded").await;
    wait_intent(app, &paying, "succeeded").await;
    // A fresh quote at the same devnet prices asks the same payer amount.
    let (kind, resolution, expected, received, refund) = detail(app, &paying).await;
    assert_eq!(
        (kind.as_str(), resolution.as_str(), received, refund),
        ("late", "accepted", quoted, Decimal::ZERO)
    );
    assert_eq!(expected, dec(&done["pay_to"]["amount"]), "{done}");
    assert!(expected <= quoted, "{done}");
    assert_eq!(
        kinds(&done),
        vec![("settlement".into(), "confirmed".into())],
        "{done}"
    );
    let settled = dec(&done["legs"][0]["received"]);
    assert!(settled >= Decimal::new(2000, 2), "{done}");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units(settled)
    );
    assert_eq!(
        payer_before - usdc_balance(chain, &payer).await,
        units(quoted)
    );
    assert_books(app).await;
}
