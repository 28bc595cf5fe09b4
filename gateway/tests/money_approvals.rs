//! Maker-checker on money leaving Rialto, end to end on the local devnet: a refund above the
//! approval limit to an address other than the payer's waits for a second custody (a refund to
//! the payer's own address does not), and no key its maker minted or rolled through the API
//! approves a payout. anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm
//! package.

mod common;

use std::time::Duration;

use alloy::primitives::U256;
use common::devnet::{
    deposit_address, intent, pay_usdc, settings, start, usdc_balance, wait_for, DevnetApp, MERCHANT,
};
use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_evm::manifest::ChainManifest;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn units(amount: &str) -> U256 {
    let d: Decimal = amount.parse::<Decimal>().unwrap() * Decimal::from(1_000_000);
    U256::from(u64::try_from(d.normalize().mantissa()).unwrap())
}

fn payer_address(chain: &ChainManifest, payer: usize) -> String {
    chain.payers[payer].address.to_string()
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

async fn batched(app: &TestApp, threshold: &str, extra: Value) {
    let mut body = json!({"settlement_schedule": "batched", "payout_threshold": threshold,
                          "payout_addresses": {"devnet-base": MERCHANT}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    settings(app, body).await;
}

async fn pay_by_deposit(setup: &DevnetApp, amount: &str, payer: usize) -> Value {
    let (app, chain) = (&setup.app, &setup.chain);
    let paying = intent(app, amount).await;
    let to = deposit_address(app, &paying).await;
    pay_usdc(chain, payer, &to, units(amount)).await;
    wait_for(app, &paying, "succeeded").await;
    app.get_json(&format!("/v1/payment_intents/{}", id(&paying)))
        .await
}

async fn refund_ok(app: &TestApp, body: Value) -> Value {
    let r = app
        .post("/v1/refunds", app.sk())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let value: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "refund refused: {value}");
    value
}

#[tokio::test]
async fn a_refund_above_the_limit_to_another_address_waits_for_a_second_custody_and_to_the_payer_does_not(
) {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    batched(app, "1000000", json!({"payout_approval_above": "5"})).await;
    let paid = pay_by_deposit(&setup, "20.00", 0).await;
    // To the payer's own address: no approval, whatever the amount.
    let to_payer = refund_ok(app, json!({"payment_intent": id(&paid), "amount": "6.00"})).await;
    assert_eq!(to_payer["status"], "pending", "{to_payer}");
    // Elsewhere, above the limit: reserved, nothing sent until a second custody approves.
    let elsewhere = payer_address(chain, 1);
    let before = usdc_balance(chain, &elsewhere).await;
    let held = refund_ok(
        app,
        json!({"payment_intent": id(&paid), "amount": "7.00", "destination": elsewhere}),
    )
    .await;
    assert_eq!(held["status"], "pending_approval", "{held}");
    let path = format!("/v1/refunds/{}", id(&held));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.get_json(&path).await["status"], "pending_approval");
    assert_eq!(usdc_balance(chain, &elsewhere).await, before);
    // The maker, and a key the maker minted through the API, are one custody.
    let minted: Value = app
        .post("/v1/api_keys", app.sk())
        .json(&json!({"name": "minted"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [app.sk(), minted["secret"].as_str().unwrap()] {
        let r = app
            .post(&format!("{path}/approve"), key)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "approval_requires_second_key").await;
    }
    let made = rialto_gateway::cli_ops::create_key(
        app.store.as_ref(),
        &app.merchant.id,
        ("checker", false, false),
        0,
    )
    .await
    .unwrap();
    let approved = app
        .post(&format!("{path}/approve"), made["secret"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    app.wait_status(&path, "succeeded").await;
    assert_eq!(usdc_balance(chain, &elsewhere).await - before, units("7"));
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn a_payout_cannot_be_approved_by_a_key_its_maker_minted_or_rolled() {
    let setup = start(1).await;
    let app = &setup.app;
    batched(app, "1000000", json!({"payout_approval_above": "5"})).await;
    pay_by_deposit(&setup, "9.00", 0).await;
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
    let minted: Value = app
        .post("/v1/api_keys", app.sk())
        .json(&json!({"name": "minted"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rolled: Value = app
        .post(
            &format!("/v1/api_keys/{}/roll", id(&minted)),
            minted["secret"].as_str().unwrap(),
        )
        .json(&json!({"expires_in_seconds": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/v1/payouts/{}/approve", id(&payout));
    for key in [minted["secret"].as_str(), rolled["secret"].as_str()] {
        let r = app.post(&path, key.unwrap()).send().await.unwrap();
        expect_error(r, 400, "approval_requires_second_key").await;
    }
    let get = format!("/v1/payouts/{}", id(&payout));
    assert_eq!(app.get_json(&get).await["status"], "pending_approval");
}
