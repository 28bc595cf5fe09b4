//! Reconciliation on the devnet's Solana simnet: what the gateway's records say was paid,
//! checked against the token balance changes the chain shows, by signature and slot (Solana's
//! transaction reference and block number). A settled payment (found by its reference or
//! reported with its proof) is expected and observed once and raises nothing; a tampered
//! record or a transfer to a watched address that nothing books is an exception naming the
//! transaction's signature and the slot it landed in.
//!
//! The simnet comes from `SOLANA_SIMNET_BIN` (set by tools/test.sh) or the workspace's build.

mod common;
mod solana_support;

use std::str::FromStr;

use common::{assert_ledger_balanced, TestApp};
use rialto_solana::devnet::manifest::devnet_keypair;
use rialto_solana::devnet::sign_message_hex;
use rialto_solana::sdk::{Keypair, Pubkey, Signer};
use serde_json::{json, Value};
use solana_support::{reconcile as run, setup};

async fn intent(app: &TestApp, merchant: &Keypair) -> Value {
    app.create_intent(json!({"amount": "25.00", "currency": "usd",
        "settlement": {"asset": "usdc", "chain": "devnet-solana", "address": merchant.pubkey().to_string()}}))
        .await
}

async fn succeeded(app: &TestApp, intent: &Value) {
    let id = intent["id"].as_str().unwrap();
    app.wait_status(&format!("/v1/payment_intents/{id}"), "succeeded")
        .await;
}

/// Pays `intent` by Solana Pay with its reference key; the signature.
async fn pay_by_reference(
    setup: &solana_support::Setup,
    intent: &Value,
    payer: &Keypair,
) -> String {
    let merchant = intent["settlement"]["address"].as_str().unwrap();
    let reference = Pubkey::from_str(intent["payment_reference"].as_str().unwrap()).unwrap();
    let devnet = &setup.devnet;
    let to = Pubkey::from_str(merchant).unwrap();
    devnet
        .pay_request(payer, &to, &devnet.usdc, 25_000_000, &reference, None)
        .await
        .unwrap()
}

/// Pays `intent` with a plain transfer and reports the signature with the payer's proof.
async fn pay_and_report(setup: &solana_support::Setup, intent: &Value, payer: &Keypair) -> String {
    let (app, devnet) = (&setup.app, &setup.devnet);
    let id = intent["id"].as_str().unwrap();
    let to = Pubkey::from_str(intent["settlement"]["address"].as_str().unwrap()).unwrap();
    let signature = devnet
        .pay(payer, &to, &devnet.usdc, 25_000_000)
        .await
        .unwrap();
    let message = rialto_gateway::api::executions::funding_message(id, &signature);
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/transactions"), app.sk())
        .json(&json!({"tx_hash": signature, "signature": sign_message_hex(payer, &message)}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    signature
}

fn kinds(run: &Value) -> Vec<String> {
    let mut k: Vec<String> = run["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

fn exception<'a>(run: &'a Value, kind: &str) -> &'a Value {
    run["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {run}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_solana_payments_by_reference_and_reported_are_expected_observed_and_clean() {
    let setup = setup().await;
    let app = &setup.app;
    let merchant = Keypair::new();
    let by_reference = intent(app, &merchant).await;
    pay_by_reference(&setup, &by_reference, &devnet_keypair("payer 1")).await;
    let reported = intent(app, &merchant).await;
    pay_and_report(&setup, &reported, &devnet_keypair("payer 2")).await;
    succeeded(app, &by_reference).await;
    succeeded(app, &reported).await;
    assert_ledger_balanced(app).await;

    let run = run(app).await;
    assert_eq!(
        kinds(&run),
        Vec::<String>::new(),
        "no false positives: {run}"
    );
    // Not blind: both payments were expected from the records and seen on chain.
    assert_eq!(run["counts"]["expected"], 2, "{run}");
    assert_eq!(run["counts"]["observed"], 2, "{run}");
    assert_eq!(run["counts"]["matched"], 2, "{run}");
    let range = &run["block_ranges"][0];
    assert!(
        range["chain"].as_str().unwrap().starts_with("solana:"),
        "{run}"
    );
    assert!(
        range["to_block"].as_u64().unwrap() > 0,
        "slots stand for blocks: {run}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_solana_record_and_an_unbooked_transfer_are_exceptions_with_signature_and_slot()
{
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new();
    let paid = intent(app, &merchant).await;
    let payer = devnet_keypair("payer 3");
    let signature = pay_by_reference(&setup, &paid, &payer).await;
    succeeded(app, &paid).await;
    // Money reaches the merchant's settlement address with no intent behind it.
    let stray = devnet
        .pay(&payer, &merchant.pubkey(), &devnet.usdc, 1_500_000)
        .await
        .unwrap();
    // The bound payment's recorded amount is tampered with.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let changed = sqlx::query("UPDATE payment_transactions SET amount = '24.5' WHERE tx_hash = $1")
        .bind(signature.clone())
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        changed.rows_affected(),
        1,
        "the record is keyed by the signature as written"
    );

    let run = run(app).await;
    assert_eq!(
        kinds(&run),
        ["amount_mismatch", "unexpected_inflow"],
        "exactly the seeded ones: {run}"
    );
    let mismatch = exception(&run, "amount_mismatch");
    assert_eq!(mismatch["tx_hash"], signature.as_str(), "base58, case kept");
    assert_eq!(
        mismatch["block_number"],
        devnet.slot_of(&signature).await.unwrap()
    );
    assert_eq!(
        (&mismatch["expected_amount"], &mismatch["observed_amount"]),
        (&json!("24.5"), &json!("25"))
    );
    assert_eq!(mismatch["reference"], paid["id"]);
    let inflow = exception(&run, "unexpected_inflow");
    assert_eq!(inflow["tx_hash"], stray.as_str());
    assert_eq!(
        inflow["block_number"],
        devnet.slot_of(&stray).await.unwrap()
    );
    assert_eq!(inflow["observed_amount"], "1.5");
    assert_eq!(inflow["merchant_id"], app.merchant.id.as_str());
    assert!(
        inflow["asset"].as_str().unwrap().starts_with("solana:"),
        "{inflow}"
    );
}
