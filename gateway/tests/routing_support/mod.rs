//! Helpers the routing test files share.
#![allow(dead_code)]

use crate::common::devnet::{intent, start_clocked, status_of, DevnetApp};
use crate::common::TestApp;
use alloy::primitives::U256;
use rialto_gateway::cli_ops::create_operator;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::store::ledger::LedgerStore;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SECRET: &str = "c2VjcmV0LW9mLXRoZS1wYXllcg==";

pub fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("decimal string, got {v}"))
        .parse()
        .unwrap()
}

pub async fn clocked() -> (DevnetApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup = start_clocked(1, Some(clock.clone() as Arc<dyn Clock>)).await;
    crate::common::devnet::past_the_deploy(&setup, &clock).await;
    (setup, clock)
}

pub async fn best_quote(app: &TestApp, intent: &Value, source: Value) -> Value {
    let id = intent["id"].as_str().unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/quotes"), app.sk())
        .json(&json!({ "source": source }))
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["data"][0].clone()
}

pub async fn accept(app: &TestApp, quote: &Value, body: Value) -> reqwest::Response {
    let id = quote["id"].as_str().unwrap();
    app.post(&format!("/v1/quotes/{id}/accept"), app.sk())
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// An intent of `amount` and its best quote from the payer's Binance USD.
pub async fn binance_quote(app: &TestApp, amount: &str) -> (Value, Value) {
    let paying = intent(app, amount).await;
    let source = json!({"type": "exchange", "venue": "binance", "asset": "usd"});
    let quote = best_quote(app, &paying, source).await;
    (paying, quote)
}

/// Accepts an exchange quote with the sandbox payer's credentials; the execution id.
pub async fn accept_exchange(app: &TestApp, quote: &Value) -> String {
    let answer = accept(
        app,
        quote,
        json!({"exchange_credentials": {"api_key": "payer-key", "api_secret": SECRET}}),
    )
    .await;
    let status = answer.status();
    let accepted: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{accepted}");
    accepted["execution"]["id"].as_str().unwrap().to_owned()
}

pub async fn execution(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/v1/route_executions/{id}")).await
}

/// Waits until the execution is in `want`; fails on any other final status.
pub async fn wait_execution(app: &TestApp, id: &str, want: &str) -> Value {
    let started = Instant::now();
    loop {
        let exec = execution(app, id).await;
        let status = exec["status"].as_str().unwrap().to_owned();
        if status == want {
            return exec;
        }
        assert!(
            !matches!(status.as_str(), "succeeded" | "failed"),
            "execution ended {status}, wanted {want}: {exec}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "execution stuck in {status}, wanted {want}: {exec}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn wait_intent(app: &TestApp, intent: &Value, want: &str) {
    let started = Instant::now();
    while status_of(app, intent).await != want {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "intent {} never reached {want}",
            intent["id"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn units(amount: Decimal) -> U256 {
    U256::from(
        u128::try_from(amount * Decimal::from(1_000_000u32))
            .unwrap_or_else(|_| panic!("{amount} in base units")),
    )
}

pub fn kinds(exec: &Value) -> Vec<(String, String)> {
    exec["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// What Rialto's routing account holds per asset, and the kinds of postings made.
/// A reconciliation run over every chain, as an operator.
pub async fn reconcile(app: &TestApp) -> Value {
    let name = format!("recon-{}", rialto_core::id::LegId::generate());
    let created = create_operator(app.store.as_ref(), &name, 0).await.unwrap();
    let op = created["operator_key"].as_str().unwrap();
    let answer = app
        .post("/v1/reconciliation_runs", op)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let run: Value = answer.json().await.unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    run
}

/// Every routed transfer the run observed on chain is explained by exactly one of the
/// gateway's records (`transfers` of them): no exception at all.
pub async fn assert_reconciled(app: &TestApp, transfers: u64) {
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
    assert_eq!(run["counts"]["observed"], transfers, "{run:#}");
    assert_eq!(run["counts"]["matched"], transfers, "{run:#}");
}

pub async fn routing_books(
    app: &TestApp,
) -> (std::collections::BTreeMap<String, Decimal>, Vec<String>) {
    let mut held = std::collections::BTreeMap::new();
    let mut kinds = Vec::new();
    for posting in app.store.all_postings().await.unwrap() {
        kinds.push(posting.kind.clone());
        for e in posting.entries {
            if e.account == rialto_gateway::ledger::Account::Routing {
                *held.entry(e.asset).or_insert(Decimal::ZERO) += e.amount;
            }
        }
    }
    (held, kinds)
}

/// Payer `payer`'s signature of the funding text for `exec` and `tx_hash`.
pub async fn sign_funding(
    chain: &rialto_evm::manifest::ChainManifest,
    payer: usize,
    exec: &str,
    tx_hash: &str,
) -> String {
    use alloy::signers::{local::PrivateKeySigner, Signer};
    use secrecy::ExposeSecret;
    let key: PrivateKeySigner = chain.payers[payer]
        .private_key
        .expose_secret()
        .parse()
        .unwrap();
    let text = rialto_gateway::api::executions::funding_message(exec, tx_hash);
    let signature = key.sign_message(text.as_bytes()).await.unwrap();
    format!("0x{}", hex::encode(signature.as_bytes()))
}

pub async fn report_funding(
    app: &TestApp,
    chain: &rialto_evm::manifest::ChainManifest,
    payer: usize,
    exec: &str,
    tx_hash: &str,
) -> reqwest::Response {
    let signature = sign_funding(chain, payer, exec, tx_hash).await;
    app.post(&format!("/v1/route_executions/{exec}/fund"), app.sk())
        .json(&json!({ "tx_hash": tx_hash, "signature": signature }))
        .send()
        .await
        .unwrap()
}

/// Sends USDC and answers the transaction hash.
pub async fn pay_usdc_hash(
    chain: &rialto_evm::manifest::ChainManifest,
    payer: usize,
    to: &str,
    units: U256,
) -> String {
    use rialto_evm::contracts::{to_wire, IERC20};
    let receipt = IERC20::new(
        to_wire(&chain.tokens["USDC"].address).unwrap(),
        crate::common::devnet::payer_wallet(chain, payer).await,
    )
    .transfer(to.parse().unwrap(), units)
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    assert!(receipt.status());
    format!("{:#x}", receipt.transaction_hash)
}

/// Payer 0 sends `amount` USDT (no return value on `transfer`) to `to`; answers the hash.
pub async fn pay_usdt_hash(
    chain: &rialto_evm::manifest::ChainManifest,
    to: &str,
    amount: Decimal,
) -> String {
    use rialto_evm::contracts::{to_wire, ITetherLike};
    let receipt = ITetherLike::new(
        to_wire(&chain.tokens["USDT"].address).unwrap(),
        crate::common::devnet::payer_wallet(chain, 0).await,
    )
    .transfer(to.parse().unwrap(), units(amount))
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    assert!(receipt.status());
    format!("{:#x}", receipt.transaction_hash)
}

pub async fn token_balance(
    chain: &rialto_evm::manifest::ChainManifest,
    symbol: &str,
    of: &str,
) -> U256 {
    use alloy::providers::ProviderBuilder;
    use rialto_evm::contracts::{to_wire, IERC20};
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    IERC20::new(to_wire(&chain.tokens[symbol].address).unwrap(), &node)
        .balanceOf(of.parse().unwrap())
        .call()
        .await
        .unwrap()
}

/// Accepts the best quote from payer 0's USDT on the other chain: the execution, the quote.
pub async fn accept_usdt(setup: &DevnetApp, paying: &Value) -> (Value, Value) {
    let (app, other) = (&setup.app, &setup.other_chain);
    let payer = other.payers[0].address.to_string();
    let quote = best_quote(
        app,
        paying,
        json!({"type": "wallet", "chain": "devnet-ethereum", "asset": "usdt"}),
    )
    .await;
    let accepted: Value = accept(app, &quote, json!({ "payer_address": payer }))
        .await
        .json()
        .await
        .unwrap();
    let exec = accepted["execution"].clone();
    assert_eq!(exec["pay_to"]["asset"], "USDT", "{accepted}");
    (exec, quote)
}

/// Payer 0 pays the execution's `pay_to` and reports the transaction.
pub async fn fund_usdt(setup: &DevnetApp, exec: &Value) -> String {
    let app = &setup.app;
    let id = exec["id"].as_str().unwrap().to_owned();
    let hash = pay_usdt_hash(
        &setup.other_chain,
        exec["pay_to"]["address"].as_str().unwrap(),
        dec(&exec["pay_to"]["amount"]),
    )
    .await;
    let answer = report_funding(app, &setup.other_chain, 0, &id, &hash).await;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    id
}

/// `paying`'s best wallet quote for USDC on devnet-base, accepted for `payer`: the quote and
/// its execution.
pub async fn accept_base_usdc(app: &TestApp, payer: &str, paying: &Value) -> (Value, Value) {
    let quote = best_quote(
        app,
        paying,
        json!({"type": "wallet", "chain": "devnet-base", "asset": "usdc"}),
    )
    .await;
    let accepted: Value = accept(app, &quote, json!({ "payer_address": payer }))
        .await
        .json()
        .await
        .unwrap();
    (quote, accepted["execution"].clone())
}
