//! The merchant's payment policy on payments that go straight to the merchant's address (a
//! reported transfer, a relayed EIP-3009 authorization) on real anvil chains, through the
//! gateway: under-payments within tolerance accepted, over-payments kept, returned (made out to
//! the deposit address) or recorded as owed by the merchant, late payments reopened or recorded
//! as owed; exact on-chain balances and a balanced ledger after each (`docs/money.md`).

mod common;
mod routing_support;

use std::sync::Arc;

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use rialto_core::address::Address;
use rialto_core::ChainNamespace;
use rialto_evm::eip3009::{self, Authorization, AuthorizationKind, TokenDomain};
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use common::devnet::{
    deposit_address, intent, pay_usdc, payer_proof, settings, start, start_clocked, status_of,
    usdc_balance, wait_for, MERCHANT,
};
use common::{assert_ledger_balanced, expect_error, TestApp};

/// Payer 0 sends `units` of USDC to `to`; answers the transaction hash.
async fn pay(chain: &ChainManifest, to: &str, units: u64) -> String {
    let before = latest_tx(chain).await;
    pay_usdc(chain, 0, to, U256::from(units)).await;
    let after = latest_tx(chain).await;
    assert_ne!(before, after, "a new transaction was mined");
    after
}

/// The hash of the newest block's first transaction.
async fn latest_tx(chain: &ChainManifest) -> String {
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    let block = node
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    block
        .transactions
        .hashes()
        .next()
        .map(|h| format!("{h:#x}"))
        .unwrap_or_default()
}

async fn report(
    app: &TestApp,
    chain: &ChainManifest,
    intent: &Value,
    hash: &str,
) -> reqwest::Response {
    let id = intent["id"].as_str().unwrap();
    app.post(&format!("/v1/payment_intents/{id}/transactions"), app.sk())
        .json(&json!({"tx_hash": hash, "signature": payer_proof(chain, 0, id, hash).await}))
        .send()
        .await
        .unwrap()
}

async fn detail(app: &TestApp, intent: &Value) -> Value {
    let id = intent["id"].as_str().unwrap();
    app.get_json(&format!("/v1/payment_intents/{id}")).await["payment_detail"].clone()
}

fn kind_and_resolution(d: &Value) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        d["type"].as_str(),
        d["resolution"].as_str(),
        d["refund"].as_str(),
    )
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

fn payer_key(chain: &ChainManifest) -> PrivateKeySigner {
    chain.payers[0].private_key.expose_secret().parse().unwrap()
}

/// The typed data the gateway asks payer 0 to sign, as an [`Authorization`].
async fn authorization_for(
    app: &TestApp,
    chain: &ChainManifest,
    intent: &Value,
) -> (TokenDomain, Authorization) {
    let id = intent["id"].as_str().unwrap();
    let request: Value = app
        .get_json(&format!("/v1/payment_intents/{id}/authorization_request"))
        .await;
    let (domain, message) = (&request["domain"], &request["message"]);
    let evm = |v: &Value| Address::parse(v.as_str().unwrap(), ChainNamespace::Eip155).unwrap();
    let domain = TokenDomain {
        name: domain["name"].as_str().unwrap().to_owned(),
        version: domain["version"].as_str().unwrap().to_owned(),
        chain_id: domain["chainId"].as_u64().unwrap(),
        verifying_contract: evm(&domain["verifyingContract"]),
    };
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: rialto_evm::contracts::from_wire(payer_key(chain).address()),
        to: evm(&message["to"]),
        value: message["value"].as_str().unwrap().parse().unwrap(),
        valid_after: message["validAfter"].as_str().unwrap().parse().unwrap(),
        valid_before: message["validBefore"].as_str().unwrap().parse().unwrap(),
        nonce: message["nonce"].as_str().unwrap().parse().unwrap(),
    };
    (domain, auth)
}

/// Signs `auth` as payer 0 and submits it; answers the gateway's response.
async fn submit(
    app: &TestApp,
    chain: &ChainManifest,
    intent: &Value,
    domain: &TokenDomain,
    auth: &Authorization,
) -> reqwest::Response {
    let signature = eip3009::sign(&payer_key(chain), domain, auth).unwrap();
    let id = intent["id"].as_str().unwrap();
    app.post(
        &format!("/v1/payment_intents/{id}/authorizations"),
        app.sk(),
    )
    .json(&json!({
        "from": auth.from.to_string(),
        "to": auth.to.to_string(),
        "value": auth.value.to_string(),
        "valid_after": auth.valid_after.to_string(),
        "valid_before": auth.valid_before.to_string(),
        "nonce": format!("{:#x}", auth.nonce),
        "signature": format!("0x{}", alloy::hex::encode(signature)),
    }))
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn an_underpaid_reported_transfer_within_tolerance_succeeds_and_a_shorter_one_is_refused() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    settings(app, json!({"underpaid_tolerance_percent": "2"})).await;
    let before = usdc_balance(chain, MERCHANT).await;

    let within = intent(app, "25.00").await;
    let hash = pay(chain, MERCHANT, 24_600_000).await; // 1.6 % short
    assert_eq!(report(app, chain, &within, &hash).await.status(), 200);
    wait_for(app, &within, "succeeded").await;
    let d = detail(app, &within).await;
    assert_eq!(
        kind_and_resolution(&d),
        (Some("underpaid"), Some("accepted"), Some("0"))
    );
    assert_eq!(
        (d["expected"].as_str(), d["received"].as_str()),
        (Some("25"), Some("24.6"))
    );

    let short = intent(app, "25.00").await;
    let hash = pay(chain, MERCHANT, 24_000_000).await; // 4 % short
    let refused = expect_error(
        report(app, chain, &short, &hash).await,
        400,
        "transaction_amount_too_low",
    )
    .await;
    assert!(
        refused["message"].as_str().unwrap().contains("24.5"),
        "names the least accepted: {refused}"
    );
    assert_eq!(status_of(app, &short).await, "awaiting_funds");

    // The merchant holds both transfers (they went to its address); the ledger books the one
    // that paid an intent, exactly as received.
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(48_600_000u64)
    );
    let balance: Value = app.get_json("/v1/balance").await;
    assert_eq!(balance["settled"][0]["amount"], "24.6", "{balance}");
    assert!(event_types(app)
        .await
        .iter()
        .any(|e| e == "payment_intent.underpaid_accepted"));
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn an_overpaid_reported_transfer_is_settled_and_its_surplus_shown_as_owed_by_the_merchant() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    settings(app, json!({"overpaid": "refund_surplus"})).await;
    let paying = intent(app, "25.00").await;
    let hash = pay(chain, MERCHANT, 30_000_000).await;
    assert_eq!(report(app, chain, &paying, &hash).await.status(), 200);
    wait_for(app, &paying, "succeeded").await;
    let d = detail(app, &paying).await;
    assert_eq!(
        kind_and_resolution(&d),
        (Some("overpaid"), Some("owed_by_merchant"), Some("5"))
    );
    let balance: Value = app.get_json("/v1/balance").await;
    assert_eq!(balance["settled"][0]["amount"], "30", "{balance}");
    assert!(event_types(app)
        .await
        .iter()
        .any(|e| e == "payment_intent.overpaid_surplus_owed"));
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn an_overpaid_authorization_to_the_deposit_address_returns_its_surplus_and_one_to_the_merchant_is_refused(
) {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    settings(
        app,
        json!({"overpaid": "refund_surplus", "underpaid_tolerance_percent": "2"}),
    )
    .await;
    let payer = chain.payers[0].address.to_string();
    let (merchant_before, payer_before) = (
        usdc_balance(chain, MERCHANT).await,
        usdc_balance(chain, &payer).await,
    );

    // 30 for 25 to the merchant's own address: refused before anything is relayed.
    let paying = intent(app, "25.00").await;
    let (domain, mut auth) = authorization_for(app, chain, &paying).await;
    auth.value = U256::from(30_000_000u64);
    expect_error(
        submit(app, chain, &paying, &domain, &auth).await,
        400,
        "authorization_amount_too_high",
    )
    .await;
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before,
        "nothing moved"
    );

    // The same 30 made out to the intent's deposit address: relayed, the surplus returned.
    let deposit = deposit_address(app, &paying).await;
    auth.to = Address::parse(&deposit, ChainNamespace::Eip155).unwrap();
    assert_eq!(
        submit(app, chain, &paying, &domain, &auth).await.status(),
        202
    );
    wait_for(app, &paying, "succeeded").await;
    let id = paying["id"].as_str().unwrap();
    let refunds = wait_for_refunds(app, id).await;
    assert_eq!(
        (refunds[0]["amount"].as_str(), refunds[0]["reason"].as_str()),
        (Some("5"), Some("overpaid"))
    );
    let d = detail(app, &paying).await;
    assert_eq!(
        kind_and_resolution(&d),
        (Some("overpaid"), Some("surplus_refunded"), Some("5"))
    );

    // Within the tolerance, to the merchant's address: relayed and accepted.
    let within = intent(app, "10.00").await;
    let (domain, mut auth) = authorization_for(app, chain, &within).await;
    auth.value = U256::from(9_900_000u64);
    assert_eq!(
        submit(app, chain, &within, &domain, &auth).await.status(),
        202
    );
    wait_for(app, &within, "succeeded").await;
    assert_eq!(
        kind_and_resolution(&detail(app, &within).await),
        (Some("underpaid"), Some("accepted"), Some("0"))
    );

    // The merchant holds exactly 25 (paid out of the held funds) + 9.9; the payer paid exactly
    // that (the relays' gas is the gateway's).
    let started = std::time::Instant::now();
    while usdc_balance(chain, MERCHANT).await - merchant_before != U256::from(34_900_000u64) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "merchant never paid exactly 34.9"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        payer_before - usdc_balance(chain, &payer).await,
        U256::from(34_900_000u64)
    );
    assert_ledger_balanced(app).await;
    // Every transfer (the relays, the sweep, the surplus refund) is explained.
    let run = routing_support::reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
}

/// Polls until the intent has a refund and all its refunds succeeded; 30 s at most.
async fn wait_for_refunds(app: &TestApp, id: &str) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let list = app
            .get_json(&format!("/v1/refunds?payment_intent={id}"))
            .await;
        let data = list["data"].as_array().cloned().unwrap_or_default();
        if !data.is_empty() && data.iter().all(|r| r["status"] == "succeeded") {
            return data;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "refunds stuck: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Moves the chain's clock `secs` ahead: the next block is mined that much later.
async fn chain_later(chain: &ChainManifest, secs: u64) {
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    node.raw_request::<_, Value>("evm_increaseTime".into(), (U256::from(secs),))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_late_reported_transfer_within_the_window_reopens_the_intent_and_one_after_it_is_owed_by_the_merchant(
) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup = start_clocked(1, Some(clock.clone())).await;
    let (app, chain) = (&setup.app, &setup.chain);
    settings(app, json!({"late_payment_window_secs": 3600})).await;
    let body = json!({"amount": "25.00", "currency": "usd", "expires_in": 60,
        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}});
    let late = app.create_intent(body.clone()).await;
    let too_late = app.create_intent(body).await;
    clock.advance_ms(120_000);
    let expired = rialto_gateway::workers::expire_due_intents(app.store.as_ref(), clock.as_ref())
        .await
        .unwrap();
    assert_eq!(expired, 2);

    // Mined two minutes after the intent was made: late, within the hour's window.
    chain_later(chain, 120).await;
    let hash = pay(chain, MERCHANT, 25_000_000).await;
    assert_eq!(report(app, chain, &late, &hash).await.status(), 200);
    wait_for(app, &late, "succeeded").await;
    assert_eq!(
        kind_and_resolution(&detail(app, &late).await),
        (Some("late"), Some("accepted"), Some("0"))
    );

    // Mined after the window: recorded on the expired intent, owed back by the merchant.
    chain_later(chain, 3_700).await;
    clock.advance_ms(3_700_000);
    let hash = pay(chain, MERCHANT, 25_000_000).await;
    assert_eq!(report(app, chain, &too_late, &hash).await.status(), 200);
    assert_eq!(status_of(app, &too_late).await, "expired");
    assert_eq!(
        kind_and_resolution(&detail(app, &too_late).await),
        (Some("late"), Some("owed_by_merchant"), Some("25"))
    );
    // The same transaction cannot be claimed for another intent afterwards.
    let other = intent(app, "25.00").await;
    expect_error(
        report(app, chain, &other, &hash).await,
        409,
        "transaction_already_used",
    )
    .await;
    let events = event_types(app).await;
    for kind in [
        "payment_intent.late_accepted",
        "payment_intent.late_refund_owed",
    ] {
        assert!(events.iter().any(|e| e == kind), "{kind} in {events:?}");
    }
    let balance: Value = app.get_json("/v1/balance").await;
    assert_eq!(
        balance["settled"][0]["amount"], "25",
        "only the accepted one is booked: {balance}"
    );
    assert_ledger_balanced(app).await;
}
