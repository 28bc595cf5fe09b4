//! Solana Pay on the devnet's Solana simnet, with no report from the payer: every intent
//! settling on Solana carries a fresh reference key in its transfer-request URL, and the
//! gateway's watcher finds the payment by that key, checks it pays the intent's settlement
//! address exactly the amount in its mint, and binds it to that one intent. The
//! transaction-request flow (`GET`/`POST /solana_pay/{id}`) hands a wallet the transaction to
//! sign, and the same watcher completes the intent.
//!
//! The simnet comes from `SOLANA_SIMNET_BIN` (set by tools/test.sh) or the workspace's build.

mod common;
mod solana_support;

use std::str::FromStr;

use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_core::payment_uri::solana_pay::SolanaPayRequest;
use rialto_gateway::store::chain::ChainStore;
use rialto_solana::devnet::manifest::devnet_keypair;
use rialto_solana::sdk::{Keypair, Pubkey, Signer};
use serde_json::{json, Value};
use solana_support::{setup, setup_with};

/// Where the tests' gateway says it is reached: transaction-request links must be `https`.
const PUBLIC_URL: &str = "https://pay.example.test";

async fn intent(app: &TestApp, asset: &str, merchant: &Keypair) -> Value {
    app.create_intent(json!({"amount": "25.00", "currency": "usd",
        "settlement": {"asset": asset, "chain": "devnet-solana", "address": merchant.pubkey().to_string()}}))
        .await
}

fn reference_of(intent: &Value) -> Pubkey {
    Pubkey::from_str(intent["payment_reference"].as_str().expect("a reference")).unwrap()
}

/// The signatures bound to `intent`, in the order they were bound.
async fn bound(app: &TestApp, intent: &Value) -> Vec<String> {
    let id = intent["id"].as_str().unwrap().parse().unwrap();
    app.store
        .payment_transactions_of(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.tx_hash)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_found_by_its_reference_succeeds_with_no_report_and_the_merchant_paid_exactly() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new();
    let payer = devnet_keypair("payer 1");
    let intent = intent(app, "usdc", &merchant).await;
    let reference = reference_of(&intent);
    // The intent's own URL says what to pay: recipient, amount, mint and the reference.
    let url = intent["solana_pay_url"].as_str().expect("a Solana Pay URL");
    let SolanaPayRequest::Transfer(request) = SolanaPayRequest::parse(url).unwrap() else {
        panic!("a transfer request: {url}");
    };
    assert_eq!(request.recipient.to_string(), merchant.pubkey().to_string());
    assert_eq!(request.amount.unwrap().to_string(), "25");
    assert_eq!(
        request.spl_token.unwrap().to_string(),
        devnet.usdc.mint.to_string()
    );
    assert_eq!(request.references.len(), 1);
    assert_eq!(request.references[0].to_string(), reference.to_string());
    // A second intent gets a key of its own.
    let other = self::intent(app, "usdc", &merchant).await;
    assert_ne!(reference_of(&other), reference);

    let signature = devnet
        .pay_request(
            &payer,
            &merchant.pubkey(),
            &devnet.usdc,
            25_000_000,
            &reference,
            None,
        )
        .await
        .unwrap();
    let id = intent["id"].as_str().unwrap();
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
    assert_eq!(bound(app, &intent).await, vec![signature]);
    assert!(
        bound(app, &other).await.is_empty(),
        "the other intent is untouched"
    );
    assert_ledger_balanced(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_naming_the_reference_with_a_wrong_mint_amount_or_recipient_is_not_bound() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new();
    let payer = devnet_keypair("payer 2");
    let intent = intent(app, "usdc", &merchant).await;
    let reference = reference_of(&intent);
    let to = merchant.pubkey();
    let elsewhere = Keypair::new().pubkey();
    for (mint, recipient, units) in [
        (&devnet.pyusd, &to, 25_000_000),
        (&devnet.usdc, &to, 24_999_999),
        (&devnet.usdc, &to, 25_000_001),
        (&devnet.usdc, &elsewhere, 25_000_000),
    ] {
        devnet
            .pay_request(&payer, recipient, mint, units, &reference, None)
            .await
            .unwrap();
    }
    // Then the right one: only it is bound, so the wrong ones were seen and passed over.
    let right = devnet
        .pay_request(&payer, &to, &devnet.usdc, 25_000_000, &reference, None)
        .await
        .unwrap();
    let id = intent["id"].as_str().unwrap();
    app.wait_status(&format!("/v1/payment_intents/{id}"), "succeeded")
        .await;
    assert_eq!(bound(app, &intent).await, vec![right]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_pays_through_the_transaction_request_and_the_watcher_completes_the_intent() {
    let setup = setup_with(|c| c.server.public_url = PUBLIC_URL.into()).await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new();
    let payer = devnet_keypair("payer 3");
    let intent = intent(app, "usdc", &merchant).await;
    let id = intent["id"].as_str().unwrap();
    let link = intent["solana_pay_transaction_url"].as_str().unwrap();
    assert_eq!(link, format!("solana:{PUBLIC_URL}/solana_pay/{id}"));
    let SolanaPayRequest::Transaction(request) = SolanaPayRequest::parse(link).unwrap() else {
        panic!("a transaction request: {link}");
    };
    // The wallet reaches the same path on this gateway, with no API key.
    let path = request.link.strip_prefix(PUBLIC_URL).unwrap().to_owned();
    let url = format!("{}{path}", app.base);
    let info: Value = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        info["label"].as_str().is_some_and(|l| !l.is_empty()),
        "{info}"
    );
    assert_eq!(info["icon"], format!("{PUBLIC_URL}/solana_pay/icon.svg"));

    // Bad input gets the error object, and no transaction.
    let bad = app
        .client
        .post(&url)
        .json(&json!({"account": "0xnot-base58"}))
        .send();
    expect_error(bad.await.unwrap(), 400, "parameter_invalid").await;
    let unknown = url.replace(id, "pi_unknown");
    let missing = app
        .client
        .post(&unknown)
        .json(&json!({"account": payer.pubkey().to_string()}));
    expect_error(missing.send().await.unwrap(), 404, "resource_missing").await;

    let answer: Value = app
        .client
        .post(&url)
        .json(&json!({"account": payer.pubkey().to_string()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer["message"].as_str().is_some(), "{answer}");
    let mut tx = rialto_solana::tx::decode(answer["transaction"].as_str().unwrap()).unwrap();
    assert_eq!(
        tx.message.account_keys[0],
        payer.pubkey(),
        "the payer pays the fee"
    );
    let keys = tx.message.account_keys.clone();
    let transfer = tx
        .message
        .instructions
        .iter()
        .find(|ix| ix.data.first() == Some(&12))
        .expect("a transferChecked");
    assert_eq!(
        u64::from_le_bytes(transfer.data[1..9].try_into().unwrap()),
        25_000_000
    );
    let named: Vec<Pubkey> = transfer
        .accounts
        .iter()
        .map(|&i| keys[usize::from(i)])
        .collect();
    assert!(
        named.contains(&reference_of(&intent)),
        "the transfer names the reference"
    );

    let blockhash = tx.message.recent_blockhash;
    tx.partial_sign(&[&payer], blockhash);
    devnet
        .rpc()
        .send_and_confirm_transaction(&tx)
        .await
        .unwrap();
    app.wait_status(&format!("/v1/payment_intents/{id}"), "succeeded")
        .await;
    assert_eq!(
        devnet
            .token_balance(&merchant.pubkey(), &devnet.usdc)
            .await
            .unwrap(),
        25_000_000,
        "the merchant's token account, created by the transaction, holds exactly the amount"
    );
    // Paid: the request is closed.
    let closed = app
        .client
        .post(&url)
        .json(&json!({"account": payer.pubkey().to_string()}));
    expect_error(
        closed.send().await.unwrap(),
        400,
        "payment_intent_unexpected_state",
    )
    .await;
}
