//! Operators resolve a route leg whose outcome is unknown (issue 20, point 4; docs/router.md,
//! "Unknown legs"), on two real anvil chains: a USDC payer on devnet-ethereum pays a JPMD-DEV
//! merchant on devnet-base through CCIP and the sandbox bank's mint; the DON stand-in is not
//! running, so the CCIP message is not delivered in time and its leg is `unknown`. The operator
//! list shows the execution (merchant keys refused); a leg that is not unknown cannot be
//! resolved. Then the DON stand-in carries the message once, the operator resolves the leg
//! `delivered` with what arrived on devnet-base, and the execution goes on to `succeeded`: the
//! merchant holds exactly the amount on chain, the books balance, reconciliation explains every
//! transfer, and the audit chain names the operator. A leg resolved `failed` instead falls
//! back: with CCIP the only lane the plan gives up, and since the USDC really left in the
//! ccipSend the return cannot be funded: the execution is listed as `return_failed`.

mod common;
mod deposit_token_support;
mod routing_support;

use std::sync::Arc;

use alloy::primitives::U256;
use common::devnet::{self, DevnetApp};
use common::{assert_ledger_balanced, expect_error, TestApp};
use deposit_token_support::*;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::store::reconcile::ReconcileStore;
use rialto_gateway::store::ComplianceStore;
use routing_support::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

async fn operator_key(app: &TestApp) -> String {
    rialto_gateway::cli_ops::create_operator(app.store.as_ref(), "night-ops", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn list(app: &TestApp, key: &str, query: &str) -> reqwest::Response {
    app.get(&format!("/v1/operator/route_executions{query}"), key)
        .send()
        .await
        .unwrap()
}

async fn resolve(
    app: &TestApp,
    key: &str,
    exec: &str,
    leg: &str,
    body: Value,
) -> reqwest::Response {
    app.post(
        &format!("/v1/operator/route_executions/{exec}/legs/{leg}/resolve"),
        key,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

/// A devnet with the sandbox bank, CCIP the only USDC lane and a short delivery wait; no DON.
async fn setup() -> (DevnetApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup =
        devnet::start_configured(1, Some(clock.clone() as Arc<dyn Clock>), None, None, |c| {
            c.sandbox.bank = true;
            c.sandbox.burn_mint_bridge = false;
            c.sandbox.ccip_delivery_secs = 60;
        })
        .await;
    devnet::past_the_deploy(&setup, &clock).await;
    (setup, clock)
}

/// An execution whose CCIP leg is `unknown` (the DON stand-in never ran), as operators see it.
struct UnknownLeg {
    operator: String,
    merchant: String,
    paying: Value,
    exec_id: String,
    leg_id: String,
}

/// A USDC payer on devnet-ethereum pays the JPMD-DEV merchant through CCIP; the message is
/// sent and not delivered in time. On the way, resolving the leg while it is still asked about
/// is refused.
async fn unknown_ccip_leg(setup: &DevnetApp, clock: &ManualClock) -> UnknownLeg {
    let (app, other) = (&setup.app, &setup.other_chain);
    let operator = operator_key(app).await;
    let merchant = onboarded_merchant(setup).await;
    let paying = jpmd_intent(setup, &merchant).await;
    let source = json!({"type": "wallet", "chain": "devnet-ethereum", "asset": "usdc"});
    let quote = quote_through(app, &paying, source, "ccip").await;
    let who = other.payers[0].address.to_string();
    let accepted: Value = accept(app, &quote, json!({ "payer_address": who }))
        .await
        .json()
        .await
        .unwrap();
    let exec = &accepted["execution"];
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let hash = pay_usdc_hash(
        other,
        0,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(dec(&exec["pay_to"]["amount"])),
    )
    .await;
    let answer = report_funding(app, other, 0, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    // The ccipSend is mined on devnet-ethereum; the leg is `submitted`, not unknown yet.
    let sent = loop {
        let now = execution(app, &exec_id).await;
        if now["legs"][0]["kind"] == "ccip" && now["legs"][0]["status"] == "submitted" {
            let send_ref = format!("{}:ccip_send", now["legs"][0]["id"].as_str().unwrap());
            let sends = app.store.legs_for_references(&[send_ref]).await.unwrap();
            if sends.iter().any(|l| l.block_number.is_some()) {
                break now;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let leg_id = sent["legs"][0]["id"].as_str().unwrap().to_owned();
    // A leg whose outcome is known (still being asked about) cannot be resolved.
    let early = resolve(
        app,
        &operator,
        &exec_id,
        &leg_id,
        json!({"outcome": "failed", "note": "too early"}),
    )
    .await;
    expect_error(early, 409, "route_leg_not_resolvable").await;
    // The delivery wait passes with no DON: the leg is unknown, the execution waits.
    clock.advance_ms(61_000);
    let held = loop {
        let now = execution(app, &exec_id).await;
        if now["legs"][0]["status"] == "unknown" {
            break now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(held["status"], "awaiting_reconciliation", "{held:#}");
    UnknownLeg {
        operator,
        merchant,
        paying,
        exec_id,
        leg_id,
    }
}

#[tokio::test]
async fn an_operator_resolves_an_undelivered_ccip_leg_delivered_and_the_execution_pays_the_merchant(
) {
    let (setup, clock) = setup().await;
    let (app, base) = (&setup.app, &setup.chain);
    let merchant_key = app.merchant.secret_key.clone();
    let hot_base = base.gateway_hot_wallet.address.to_string();
    let usdc_base = token_balance(base, "USDC", &hot_base).await;
    let UnknownLeg {
        operator,
        merchant,
        paying,
        exec_id,
        leg_id,
    } = unknown_ccip_leg(&setup, &clock).await;
    let held = execution(app, &exec_id).await;
    assert_eq!(held["legs"].as_array().unwrap().len(), 1, "{held:#}");
    // Listed for operators, with its legs; merchants are refused.
    let listed: Value = list(app, &operator, "").await.json().await.unwrap();
    let rows: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == exec_id.as_str())
        .collect();
    assert_eq!(rows.len(), 1, "{listed:#}");
    assert_eq!(rows[0]["status"], "awaiting_reconciliation", "{listed:#}");
    assert_eq!(rows[0]["payment_intent"], paying["id"], "{listed:#}");
    assert_eq!(rows[0]["legs"][0]["kind"], "ccip", "{listed:#}");
    assert_eq!(rows[0]["legs"][0]["status"], "unknown", "{listed:#}");
    assert_eq!(dec(&rows[0]["legs"][0]["input"]), d("25.02"), "{listed:#}");
    let failed_only: Value = list(app, &operator, "?status=return_failed")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed_only["data"], json!([]), "{failed_only:#}");
    expect_error(
        list(app, &operator, "?status=running").await,
        400,
        "parameter_invalid",
    )
    .await;
    expect_error(
        list(app, &merchant_key, "").await,
        403,
        "operator_key_required",
    )
    .await;
    let by_merchant = resolve(
        app,
        &merchant_key,
        &exec_id,
        &leg_id,
        json!({"outcome": "failed", "note": "mine"}),
    )
    .await;
    expect_error(by_merchant, 403, "operator_key_required").await;
    let nowhere = resolve(
        app,
        &operator,
        &exec_id,
        "leg_00000000000000000000000000",
        json!({"outcome": "failed", "note": "x"}),
    )
    .await;
    expect_error(nowhere, 404, "resource_missing").await;
    let bad = resolve(
        app,
        &operator,
        &exec_id,
        &leg_id,
        json!({"outcome": "delivered", "received": "-1", "evidence": "0x00"}),
    )
    .await;
    expect_error(bad, 400, "invalid_amount").await;
    // Nothing moved on devnet-base yet.
    assert_eq!(token_balance(base, "USDC", &hot_base).await, usdc_base);
    // The DON stand-in carries the message once: the USDC arrives in the treasury on base.
    let manifest = rialto_evm::manifest::DevnetManifest::read(&setup.manifest_path).unwrap();
    let don = rialto_evm::devnet_don::DevnetDonStandIn::from_manifest(&manifest)
        .await
        .unwrap();
    let carried = don.pass().await.unwrap();
    assert_eq!(carried.len(), 1, "{carried:?}");
    let arrived_units = token_balance(base, "USDC", &hot_base).await - usdc_base;
    assert_eq!(arrived_units, U256::from(25_020_000u64));
    let arrived = Decimal::from(u64::try_from(arrived_units).unwrap()) / Decimal::from(1_000_000);
    let delivered = resolve(
        app,
        &operator,
        &exec_id,
        &leg_id,
        json!({
            "outcome": "delivered",
            "received": arrived.to_string(),
            "evidence": carried[0].tx_hash.to_string(),
            "note": "executed on devnet-base by the DON stand-in",
        }),
    )
    .await;
    assert_eq!(delivered.status(), 200);
    let resolved: Value = delivered.json().await.unwrap();
    assert_eq!(resolved["legs"][0]["status"], "confirmed", "{resolved:#}");
    assert_eq!(
        dec(&resolved["legs"][0]["received"]),
        d("25.02"),
        "{resolved:#}"
    );
    // Resolved once: a second answer is refused.
    let again = resolve(
        app,
        &operator,
        &exec_id,
        &leg_id,
        json!({"outcome": "failed", "note": "twice"}),
    )
    .await;
    expect_error(again, 409, "route_leg_not_resolvable").await;
    // The plan goes on: the bank's mint, then the merchant's transfer.
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("ccip".into(), "confirmed".into()),
            ("issuer_mint".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done:#}"
    );
    assert_eq!(
        done["legs"][0]["tx_hash"].as_str().unwrap(),
        carried[0].tx_hash.to_string(),
        "{done:#}"
    );
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(
        token_units(base, &merchant).await,
        U256::from(25_000_000u64)
    );
    assert_eq!(token_units(base, &hot_base).await, U256::ZERO);
    assert_eq!(
        token_balance(base, "USDC", &hot_base).await - usdc_base,
        U256::from(25_020_000u64)
    );
    assert_ledger_balanced(app).await;
    // The payer's USDC in, the ccipSend's lock, the off-ramp's delivery, the mint, the
    // merchant's transfer: all matched.
    assert_reconciled(app, 5).await;
    // No longer waiting for an operator.
    let listed: Value = list(app, &operator, "").await.json().await.unwrap();
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != exec_id.as_str()),
        "{listed:#}"
    );
    // Audited: who, how, with what evidence.
    let audit = app.store.audit_records(0, 10_000).await.unwrap();
    let entries: Vec<_> = audit
        .iter()
        .filter(|r| r.entry.kind.starts_with("route_leg:"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0].entry;
    assert_eq!(
        (
            entry.kind.as_str(),
            entry.id.as_str(),
            entry.subject.as_str()
        ),
        ("route_leg:delivered", leg_id.as_str(), exec_id.as_str())
    );
    let detail: Value = serde_json::from_str(&entry.detail).unwrap();
    assert_eq!(detail["by"], "operator:night-ops", "{detail}");
    assert_eq!(detail["received"], "25.02", "{detail}");
}

#[tokio::test]
async fn an_unknown_leg_resolved_failed_falls_back_and_a_return_rialto_cannot_fund_is_listed() {
    let (setup, clock) = setup().await;
    let (app, base, other) = (&setup.app, &setup.chain, &setup.other_chain);
    let payer = other.payers[0].address.to_string();
    let usdc_payer = token_balance(other, "USDC", &payer).await;
    let UnknownLeg {
        operator,
        merchant,
        paying,
        exec_id,
        leg_id,
    } = unknown_ccip_leg(&setup, &clock).await;
    assert_eq!(
        token_balance(other, "USDC", &payer).await,
        usdc_payer - U256::from(25_020_000u64)
    );
    // `failed` needs a note.
    let bare = resolve(
        app,
        &operator,
        &exec_id,
        &leg_id,
        json!({"outcome": "failed"}),
    )
    .await;
    expect_error(bare, 400, "parameter_missing").await;
    let answer = resolve(
        app,
        &operator,
        &exec_id,
        &leg_id,
        json!({"outcome": "failed", "note": "the lane says the message was never sent"}),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let resolved: Value = answer.json().await.unwrap();
    assert_eq!(resolved["legs"][0]["status"], "failed", "{resolved:#}");
    // CCIP was the only lane: the plan gives up. The USDC really left in the ccipSend (the
    // operator's `failed` was wrong on this devnet), so the hot wallet on devnet-ethereum cannot
    // send it back: the return fails and the execution waits for operators as `return_failed`.
    let mut passes = 0;
    let ended = loop {
        let now = execution(app, &exec_id).await;
        if now["status"] == "return_failed" {
            break now;
        }
        assert!(
            !matches!(now["status"].as_str(), Some("succeeded" | "failed")),
            "{now:#}"
        );
        passes += 1;
        assert!(passes < 100, "never ended: {now:#}");
        clock.advance_ms(120_000);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(ended["failure_code"], "no_route", "{ended:#}");
    assert_eq!(
        kinds(&ended),
        vec![
            ("ccip".into(), "failed".into()),
            ("return".into(), "failed".into()),
        ],
        "{ended:#}"
    );
    assert_eq!(
        token_balance(other, "USDC", &payer).await,
        usdc_payer - U256::from(25_020_000u64)
    );
    assert_eq!(token_units(base, &merchant).await, U256::ZERO);
    let listed: Value = list(app, &operator, "?status=return_failed")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&json!(exec_id)], "{listed:#}");
    assert_eq!(devnet::status_of(app, &paying).await, "failed");
    assert_ledger_balanced(app).await;
    let audit = app.store.audit_records(0, 10_000).await.unwrap();
    let entry = audit
        .iter()
        .find(|r| r.entry.kind == "route_leg:failed")
        .expect("audited");
    let detail: Value = serde_json::from_str(&entry.entry.detail).unwrap();
    assert_eq!(detail["by"], "operator:night-ops", "{detail}");
    assert_eq!(
        detail["note"], "the lane says the message was never sent",
        "{detail}"
    );
}
