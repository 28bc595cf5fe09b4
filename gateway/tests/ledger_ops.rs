//! Ledger money events beyond payments: the network fees of the gateway's own transactions and
//! operators' write-offs, on real anvil chains, with the invariant checked at the end.

mod common;

use alloy::primitives::U256;
use rialto_gateway::cli_ops::create_operator;
use serde_json::{json, Value};

use common::devnet::{pay_usdc, start, wait_for, MERCHANT};
use common::{assert_ledger_balanced, TestApp};

async fn balance_transactions(app: &TestApp) -> Vec<Value> {
    app.get_json("/v1/balance_transactions?limit=100").await["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn network_fees_are_posted_per_leg_and_operators_write_off_held_balance() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let settings = app
        .post("/v1/settings", app.sk())
        .json(
            &json!({"settlement_schedule": "batched", "payout_threshold": "1000",
            "payout_addresses": {"devnet-base": MERCHANT}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 200);
    let intent = app
        .create_intent(json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}))
        .await;
    let id = intent["id"].as_str().unwrap();
    let deposit: Value = app
        .post(
            &format!("/v1/payment_intents/{id}/deposit_address"),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    pay_usdc(
        chain,
        0,
        deposit["address"].as_str().unwrap(),
        U256::from(25_000_000u64),
    )
    .await;
    wait_for(app, &intent, "succeeded").await;

    // The gas leg and the sweep each paid gas: one network_fee per leg, in the native asset.
    let fees: Vec<Value> = balance_transactions(app)
        .await
        .into_iter()
        .filter(|t| t["type"] == "network_fee")
        .collect();
    assert_eq!(fees.len(), 2, "{fees:?}");
    let postings = {
        use rialto_gateway::store::ledger::LedgerStore;
        app.store.all_postings().await.unwrap()
    };
    for fee in postings.iter().filter(|p| p.kind == "network_fee") {
        let spent: rust_decimal::Decimal = fee
            .entries
            .iter()
            .filter(|e| e.account.to_string() == "rialto:network_fees")
            .map(|e| e.amount)
            .sum();
        assert!(spent > rust_decimal::Decimal::ZERO, "{fee:?}");
        assert!(
            fee.entries.iter().all(|e| e.asset.contains("slip44")),
            "{fee:?}"
        );
    }

    // Write-offs: operators only, never more than the balance holds, exact.
    let body = json!({"merchant": app.merchant.id, "asset": "usdc", "chain": "devnet-base",
        "amount": "0.25", "reason": "dust below the payout threshold", "reference": "ticket-42"});
    let by_merchant = app
        .post("/v1/ledger/write_offs", app.sk())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(by_merchant.status(), 403);
    let op = create_operator(app.store.as_ref(), "olga", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let too_much = app
        .post("/v1/ledger/write_offs", &op)
        .json(
            &json!({"merchant": app.merchant.id, "asset": "usdc", "chain": "devnet-base",
            "amount": "25.01", "reason": "x", "reference": "ticket-41"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(too_much.status(), 400);
    let err: Value = too_much.json().await.unwrap();
    assert_eq!(err["error"]["code"], "balance_insufficient");
    let write_off = || {
        app.post("/v1/ledger/write_offs", &op)
            .header("idempotency-key", "write-off-ticket-42")
            .json(&body)
            .send()
    };
    let written = write_off().await.unwrap();
    assert_eq!(written.status(), 200);
    let written = written.text().await.unwrap();
    let retried = write_off().await.unwrap();
    assert_eq!(
        retried.status(),
        200,
        "a retry with its key gets the first answer"
    );
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(retried.text().await.unwrap(), written);
    let written: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(
        written["id"],
        format!("wo_{}_test_ticket-42", app.merchant.id),
        "the mode is in the id: a live write-off with the same reference is another one"
    );
    let again = app
        .post("/v1/ledger/write_offs", &op)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        409,
        "a retry without a key never writes off twice"
    );
    let balance = app.get_json("/v1/balance").await;
    assert_eq!(balance["available"][0]["amount"], "24.75", "{balance}");
    assert!(balance_transactions(app)
        .await
        .iter()
        .any(|t| t["type"] == "write_off"));
    assert_ledger_balanced(app).await;
}
