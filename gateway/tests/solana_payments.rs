//! Paying an intent on the devnet's Solana simnet (`rialto-solana-simnet`, a real Solana
//! JSON-RPC endpoint on 127.0.0.1) and reporting its signature with the payer's ed25519 proof:
//! the gateway reads the token balance changes from the chain, checks the proof is a sender's,
//! binds the signature to one intent and settles it. Devnet USDC is a classic SPL Token mint,
//! devnet PYUSD a Token-2022 one. A wrong mint, a short amount, a wrong recipient, a reused
//! signature or a missing proof is refused and moves no money.
//!
//! The simnet comes from `SOLANA_SIMNET_BIN` (set by tools/test.sh) or the workspace's build.

mod common;
mod solana_support;

use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_solana::devnet::manifest::devnet_keypair;
use rialto_solana::devnet::sign_message_hex;
use rialto_solana::sdk::{Keypair, Signer};
use serde_json::{json, Value};
use solana_support::setup;

async fn intent(app: &TestApp, asset: &str, merchant: &Keypair) -> Value {
    app.create_intent(json!({"amount": "25.00", "currency": "usd",
        "settlement": {"asset": asset, "chain": "devnet-solana", "address": merchant.pubkey().to_string()}}))
        .await
}

/// A report of `signature` for `intent`, proven by `payer`.
fn proven(intent: &Value, signature: &str, payer: &Keypair) -> Value {
    let id = intent["id"].as_str().unwrap();
    let message = rialto_gateway::api::executions::funding_message(id, signature);
    json!({"tx_hash": signature, "signature": sign_message_hex(payer, &message)})
}

async fn submit(app: &TestApp, intent: &Value, body: Value) -> reqwest::Response {
    let id = intent["id"].as_str().unwrap();
    app.post(&format!("/v1/payment_intents/{id}/transactions"), app.sk())
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solana_usdc_payment_reported_with_its_proof_succeeds_with_the_merchant_paid_exactly() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new();
    let payer = devnet_keypair("payer 1");
    let first = intent(app, "usdc", &merchant).await;
    assert_eq!(first["settlement"]["chain"], "devnet-solana", "{first}");
    let signature = devnet
        .pay(&payer, &merchant.pubkey(), &devnet.usdc, 25_000_000)
        .await
        .unwrap();
    let paid = submit(app, &first, proven(&first, &signature, &payer)).await;
    assert_eq!(paid.status(), 200);
    let id = first["id"].as_str().unwrap();
    app.wait_status(&format!("/v1/payment_intents/{id}"), "succeeded")
        .await;
    assert_eq!(
        devnet
            .token_balance(&merchant.pubkey(), &devnet.usdc)
            .await
            .unwrap(),
        25_000_000,
        "the merchant's token account is up by exactly the amount"
    );
    // The same signature can never pay a second intent, even proven for it.
    let second = intent(app, "usdc", &merchant).await;
    expect_error(
        submit(app, &second, proven(&second, &signature, &payer)).await,
        409,
        "transaction_already_used",
    )
    .await;
    assert_ledger_balanced(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pyusd_payment_on_token_2022_succeeds() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new();
    let payer = devnet_keypair("payer 2");
    let intent = intent(app, "pyusd", &merchant).await;
    let signature = devnet
        .pay(&payer, &merchant.pubkey(), &devnet.pyusd, 25_000_000)
        .await
        .unwrap();
    assert_eq!(
        submit(app, &intent, proven(&intent, &signature, &payer))
            .await
            .status(),
        200
    );
    let id = intent["id"].as_str().unwrap();
    app.wait_status(&format!("/v1/payment_intents/{id}"), "succeeded")
        .await;
    assert_eq!(
        devnet
            .token_balance(&merchant.pubkey(), &devnet.pyusd)
            .await
            .unwrap(),
        25_000_000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_mint_short_amount_wrong_recipient_and_missing_proof_are_refused_and_move_nothing() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new();
    let payer = devnet_keypair("payer 3");
    let intent = intent(app, "usdc", &merchant).await;
    let hot = devnet_keypair("gateway hot wallet").pubkey();
    let hot_before = devnet.rpc().get_balance(&hot).await.unwrap();

    let wrong_mint = devnet
        .pay(&payer, &merchant.pubkey(), &devnet.pyusd, 25_000_000)
        .await
        .unwrap();
    expect_error(
        submit(app, &intent, proven(&intent, &wrong_mint, &payer)).await,
        400,
        "transaction_mismatch",
    )
    .await;
    let short = devnet
        .pay(&payer, &merchant.pubkey(), &devnet.usdc, 24_999_999)
        .await
        .unwrap();
    expect_error(
        submit(app, &intent, proven(&intent, &short, &payer)).await,
        400,
        "transaction_amount_too_low",
    )
    .await;
    let elsewhere = Keypair::new().pubkey();
    let wrong_to = devnet
        .pay(&payer, &elsewhere, &devnet.usdc, 25_000_000)
        .await
        .unwrap();
    expect_error(
        submit(app, &intent, proven(&intent, &wrong_to, &payer)).await,
        400,
        "transaction_mismatch",
    )
    .await;
    let right = devnet
        .pay(&payer, &merchant.pubkey(), &devnet.usdc, 25_000_000)
        .await
        .unwrap();
    expect_error(
        submit(app, &intent, json!({"tx_hash": right})).await,
        400,
        "payer_proof_required",
    )
    .await;
    // Someone else's signature over the right text is no proof of this payment.
    let stranger = Keypair::new();
    expect_error(
        submit(app, &intent, proven(&intent, &right, &stranger)).await,
        400,
        "payer_proof_invalid",
    )
    .await;

    let id = intent["id"].as_str().unwrap();
    let now = app.get_json(&format!("/v1/payment_intents/{id}")).await;
    assert_eq!(now["status"], "awaiting_funds", "{now}");
    assert_eq!(
        devnet.rpc().get_balance(&hot).await.unwrap(),
        hot_before,
        "the gateway sent nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solana_sender_on_the_merchants_block_list_is_blocked_by_its_exact_base58_address() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new();
    let payer = Keypair::new();
    devnet
        .fund(&payer.pubkey(), 1_000_000_000, &devnet.usdc, 100_000_000)
        .await
        .unwrap();
    let entry = app
        .post("/v1/compliance/list_entries", app.sk())
        .json(&json!({"kind": "block", "address": payer.pubkey().to_string(), "note": "fraud"}))
        .send()
        .await
        .unwrap();
    assert_eq!(entry.status(), 200);
    let entry: Value = entry.json().await.unwrap();
    assert_eq!(
        entry["address"],
        payer.pubkey().to_string(),
        "kept exactly: base58 is case-sensitive"
    );
    let intent = intent(app, "usdc", &merchant).await;
    let signature = devnet
        .pay(&payer, &merchant.pubkey(), &devnet.usdc, 25_000_000)
        .await
        .unwrap();
    assert_eq!(
        submit(app, &intent, proven(&intent, &signature, &payer))
            .await
            .status(),
        200
    );
    let id = intent["id"].as_str().unwrap();
    app.wait_status(&format!("/v1/payment_intents/{id}"), "blocked")
        .await;
}
