//! Executing accepted quotes end to end in sandbox mode: real anvil chains, the sandbox
//! exchange behind the Binance client, the gateway's worker driving every leg. Each leg is
//! stored before it is sent; a failed leg falls back (here: the same way again after the
//! plan's backoff, as a new leg); funds that cannot be converted go back to the payer.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use common::devnet::{intent, start_clocked, status_of, usdc_balance, DevnetApp, MERCHANT};
use common::{expect_error, TestApp};
use rialto_connectors::exchange::sandbox::{Fault, Operation};
use rialto_gateway::cli_ops::create_operator;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::store::ledger::LedgerStore;
use rust_decimal::Decimal;
use serde_json::{json, Value};

const SECRET: &str = "c2VjcmV0LW9mLXRoZS1wYXllcg==";

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("decimal string, got {v}"))
        .parse()
        .unwrap()
}

async fn clocked() -> (DevnetApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup = start_clocked(1, Some(clock.clone() as Arc<dyn Clock>)).await;
    common::devnet::past_the_deploy(&setup, &clock).await;
    (setup, clock)
}

async fn best_quote(app: &TestApp, intent: &Value, source: Value) -> Value {
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

async fn accept(app: &TestApp, quote: &Value, body: Value) -> reqwest::Response {
    let id = quote["id"].as_str().unwrap();
    app.post(&format!("/v1/quotes/{id}/accept"), app.sk())
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// An intent of `amount` and its best quote from the payer's Binance USD.
async fn binance_quote(app: &TestApp, amount: &str) -> (Value, Value) {
    let paying = intent(app, amount).await;
    let source = json!({"type": "exchange", "venue": "binance", "asset": "usd"});
    let quote = best_quote(app, &paying, source).await;
    (paying, quote)
}

/// Accepts an exchange quote with the sandbox payer's credentials; the execution id.
async fn accept_exchange(app: &TestApp, quote: &Value) -> String {
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

async fn execution(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/v1/route_executions/{id}")).await
}

/// Waits until the execution is in `want`; fails on any other final status.
async fn wait_execution(app: &TestApp, id: &str, want: &str) -> Value {
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

async fn wait_intent(app: &TestApp, intent: &Value, want: &str) {
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

fn units(amount: Decimal) -> U256 {
    U256::from(
        u128::try_from(amount * Decimal::from(1_000_000u32))
            .unwrap_or_else(|_| panic!("{amount} in base units")),
    )
}

fn kinds(exec: &Value) -> Vec<(String, String)> {
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

#[tokio::test]
async fn an_accepted_exchange_quote_is_executed_leg_by_leg_and_the_merchant_gets_the_locked_amount()
{
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    let (paying, quote) = binance_quote(app, "25.00").await;
    let merchant_amount = dec(&quote["merchant_amount"]);
    assert!(merchant_amount >= Decimal::new(2500, 2));

    // The quote's source is an exchange account: accepting needs the payer's credentials.
    expect_error(
        accept(app, &quote, json!({})).await,
        400,
        "parameter_missing",
    )
    .await;
    let answer = accept(
        app,
        &quote,
        json!({"exchange_credentials": {"api_key": "payer-key", "api_secret": SECRET}}),
    )
    .await;
    let status = answer.status();
    let accepted: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{accepted}");
    assert!(!accepted.to_string().contains(SECRET));
    let exec_id = accepted["execution"]["id"].as_str().unwrap().to_owned();
    assert!(exec_id.starts_with("rx_"));
    assert_eq!(accepted["execution"]["status"], "running");
    // The first leg is stored before anything reaches the venue.
    assert_eq!(accepted["execution"]["legs"][0]["kind"], "trade");
    assert_eq!(accepted["execution"]["legs"][0]["status"], "created");

    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("trade".into(), "confirmed".into()),
            ("withdrawal".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    wait_intent(app, &paying, "succeeded").await;
    let settled = dec(&done["legs"][2]["received"]);
    assert!(settled >= Decimal::new(2500, 2), "{done}");
    // The receipt carries the oracle rounds the conversion was checked against.
    let usdc = done["price_sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pair"] == "USDC/USD")
        .unwrap_or_else(|| panic!("USDC/USD stamped on {done}"));
    assert!(usdc["round_id"].as_str().unwrap().parse::<u128>().unwrap() >= 1);
    assert!(usdc["updated_at"].as_u64().unwrap() > 0);
    let after = usdc_balance(chain, MERCHANT).await;
    assert_eq!(
        after - before,
        units(settled),
        "the merchant got exactly the settlement leg"
    );
    assert_eq!(sandbox.executed_orders(), 1);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    // The venue's withdrawal into the hot wallet and the transfer on to the merchant, each with
    // its transaction on the receipt.
    for leg in done["legs"].as_array().unwrap() {
        let on_chain = leg["kind"] != "trade";
        assert_eq!(leg["tx_hash"].is_string(), on_chain, "{leg}");
    }
    assert_reconciled(app, 2).await;

    // Every leg's outcome fed venue health.
    let created = create_operator(app.store.as_ref(), "ops", 0).await.unwrap();
    let key = created["operator_key"].as_str().unwrap();
    let health: Value = app
        .get("/v1/routing/health", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let binance = &health["venues"]["binance"];
    assert_eq!(binance["samples"], 2, "{health}");
    assert_eq!(binance["successes"], 2, "{health}");
}

#[tokio::test]
async fn a_venue_outage_fails_the_leg_and_the_plan_sends_a_new_one_after_its_backoff() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    let (paying, quote) = binance_quote(app, "20.00").await;
    // The venue is down for the client's three sends of the first withdrawal.
    for _ in 0..3 {
        sandbox.inject(Operation::Withdraw, Fault::Outage);
    }
    let exec_id = accept_exchange(app, &quote).await;
    // The withdrawal fails; with the venue down there is no other way out of the account,
    // so the plan waits its backoff and stores a new withdrawal leg for later.
    let started = Instant::now();
    let waiting = loop {
        let exec = execution(app, &exec_id).await;
        let k = kinds(&exec);
        if k.len() >= 3 && k[1] == ("withdrawal".into(), "failed".into()) {
            break exec;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{exec}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(waiting["legs"][2]["kind"], "withdrawal", "{waiting}");
    assert_eq!(waiting["legs"][2]["status"], "created", "{waiting}");
    assert_ne!(waiting["legs"][1]["id"], waiting["legs"][2]["id"]);
    assert_eq!(
        sandbox.executed_withdrawals(),
        0,
        "nothing left the account"
    );
    // Nothing is sent before the backoff has passed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        execution(app, &exec_id).await["legs"][2]["status"],
        "created"
    );
    clock.advance_ms(61_000);
    let done = wait_execution(app, &exec_id, "succeeded").await;
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(
        sandbox.executed_withdrawals(),
        1,
        "exactly one withdrawal left the account"
    );
    assert_eq!(sandbox.executed_orders(), 1, "the trade was never repeated");
    assert_eq!(
        kinds(&done).last().unwrap(),
        &("settlement".to_owned(), "confirmed".to_owned())
    );
    let last = done["legs"].as_array().unwrap().last().unwrap().clone();
    let after = usdc_balance(chain, MERCHANT).await;
    assert_eq!(after - before, units(dec(&last["received"])));
    assert!(dec(&last["received"]) >= Decimal::new(2000, 2));
}

#[tokio::test]
async fn when_the_venue_stays_down_the_payment_fails_with_a_reason_and_the_funds_never_left() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    let (paying, quote) = binance_quote(app, "20.00").await;
    for _ in 0..200 {
        sandbox.inject(Operation::Withdraw, Fault::Outage);
    }
    let exec_id = accept_exchange(app, &quote).await;
    let started = Instant::now();
    let failed = loop {
        let exec = execution(app, &exec_id).await;
        if exec["status"] == "failed" {
            break exec;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{exec}");
        // Backoffs pass (60 s doubling, five of them), while 90 s of wall time at this step
        // stays under the feeds' 24 h heartbeat: the prices never go stale.
        clock.advance_ms(120_000);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["failure_code"], "venue_unavailable", "{failed}");
    // Fallback was tried: the other network, and the same way again after backoffs.
    let withdrawals: Vec<&Value> = failed["legs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "withdrawal")
        .collect();
    assert!(withdrawals.len() >= 3, "{failed}");
    assert!(withdrawals.iter().all(|l| l["status"] == "failed"));
    assert_eq!(sandbox.executed_withdrawals(), 0);
    // The bought USDC never left the payer's account: that is where the funds are.
    assert_eq!(failed["returned"]["from"], "USDC@venue:binance", "{failed}");
    wait_intent(app, &paying, "failed").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await,
        before,
        "the merchant got nothing"
    );
}

#[tokio::test]
async fn a_wallet_quote_is_funded_by_a_reported_transfer_and_a_short_one_goes_back() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer = chain.payers[0].address.to_string();
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "15.00").await;
    let source = json!({"type": "wallet", "chain": "devnet-base", "asset": "usdc"});
    let quote = best_quote(app, &paying, source.clone()).await;
    expect_error(
        accept(app, &quote, json!({})).await,
        400,
        "parameter_missing",
    )
    .await;
    let accepted: Value = accept(app, &quote, json!({ "payer_address": payer }))
        .await
        .json()
        .await
        .unwrap();
    let exec = &accepted["execution"];
    assert_eq!(exec["status"], "awaiting_funds", "{accepted}");
    let pay_to = exec["pay_to"]["address"].as_str().unwrap().to_owned();
    let amount = dec(&exec["pay_to"]["amount"]);
    assert_eq!(amount, dec(&quote["payer_amount"]));
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let hash = pay_usdc_hash(chain, 0, &pay_to, units(amount)).await;
    // Only the payer can claim the transfer: another key's signature is refused.
    let forged = sign_funding(chain, 1, &exec_id, &hash).await;
    let refused = app
        .post(&format!("/v1/route_executions/{exec_id}/fund"), app.sk())
        .json(&json!({ "tx_hash": hash, "signature": forged }))
        .send()
        .await
        .unwrap();
    expect_error(refused, 400, "authorization_invalid_signature").await;
    let answer = report_funding(app, chain, 0, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200);
    // Reporting it again answers where it stands.
    let again = report_funding(app, chain, 0, &exec_id, &hash).await;
    assert_eq!(again.status(), 200, "{}", again.text().await.unwrap());
    let done = wait_execution(app, &exec_id, "succeeded").await;
    wait_intent(app, &paying, "succeeded").await;
    let settled = dec(&done["legs"].as_array().unwrap().last().unwrap()["received"]);
    assert!(settled >= Decimal::new(1500, 2));
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
    // The same transaction cannot fund another execution.
    let again = intent(app, "15.00").await;
    let other = best_quote(app, &again, source.clone()).await;
    let other: Value = accept(app, &other, json!({ "payer_address": payer }))
        .await
        .json()
        .await
        .unwrap();
    let other_id = other["execution"]["id"].as_str().unwrap().to_owned();
    let reused = report_funding(app, chain, 0, &other_id, &hash).await;
    expect_error(reused, 409, "transaction_already_used").await;

    // Too little arrives: nothing converts, and exactly what arrived goes back.
    let short = amount - Decimal::ONE;
    let payer_before = usdc_balance(chain, &payer).await;
    let hash = pay_usdc_hash(chain, 0, &pay_to, units(short)).await;
    let answer = report_funding(app, chain, 0, &other_id, &hash).await;
    assert_eq!(answer.status(), 200);
    let failed = wait_execution(app, &other_id, "failed").await;
    assert_eq!(failed["failure_code"], "funding_short", "{failed}");
    assert_eq!(kinds(&failed), vec![("return".into(), "confirmed".into())]);
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before,
        "the payer is whole"
    );
    assert_eq!(status_of(app, &again).await, "awaiting_funds");
    // Nothing was converted: the intent can be quoted and paid again.
    let retry = best_quote(app, &again, source.clone()).await;
    let retried = accept(app, &retry, json!({ "payer_address": payer })).await;
    assert_eq!(retried.status(), 200);
}

/// What Rialto's routing account holds per asset, and the kinds of postings made.
/// A reconciliation run over every chain, as an operator.
async fn reconcile(app: &TestApp) -> Value {
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
async fn assert_reconciled(app: &TestApp, transfers: u64) {
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
    assert_eq!(run["counts"]["observed"], transfers, "{run:#}");
    assert_eq!(run["counts"]["matched"], transfers, "{run:#}");
}

async fn routing_books(
    app: &TestApp,
) -> (std::collections::BTreeMap<String, Decimal>, Vec<String>) {
    let mut held = std::collections::BTreeMap::new();
    let mut kinds = Vec::new();
    for posting in app.store.all_postings().await.unwrap() {
        kinds.push(posting.kind.clone());
        for e in posting.entries {
            if e.account == "rialto:routing" {
                *held.entry(e.asset).or_insert(Decimal::ZERO) += e.amount;
            }
        }
    }
    (held, kinds)
}

/// Payer `payer`'s signature of the funding text for `exec` and `tx_hash`.
async fn sign_funding(
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

async fn report_funding(
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
async fn pay_usdc_hash(
    chain: &rialto_evm::manifest::ChainManifest,
    payer: usize,
    to: &str,
    units: U256,
) -> String {
    use rialto_evm::contracts::{to_wire, IERC20};
    let receipt = IERC20::new(
        to_wire(&chain.tokens["USDC"].address).unwrap(),
        common::devnet::payer_wallet(chain, payer).await,
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
async fn pay_usdt_hash(
    chain: &rialto_evm::manifest::ChainManifest,
    to: &str,
    amount: Decimal,
) -> String {
    use rialto_evm::contracts::{to_wire, ITetherLike};
    let receipt = ITetherLike::new(
        to_wire(&chain.tokens["USDT"].address).unwrap(),
        common::devnet::payer_wallet(chain, 0).await,
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

async fn token_balance(
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
async fn accept_usdt(setup: &DevnetApp, paying: &Value) -> (Value, Value) {
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
async fn fund_usdt(setup: &DevnetApp, exec: &Value) -> String {
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

#[tokio::test]
async fn usdt_on_one_chain_becomes_the_merchants_usdc_on_another_through_a_swap_and_the_bridge() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "30.00").await;
    let (exec, quote) = accept_usdt(&setup, &paying).await;
    let exec_id = fund_usdt(&setup, &exec).await;
    let legs: Vec<&str> = quote["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(legs, ["dex_swap", "cctp_bridge"], "{quote}");
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("dex_swap".into(), "confirmed".into()),
            ("cctp_bridge".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    wait_intent(app, &paying, "succeeded").await;
    let settled = dec(&done["legs"][2]["received"]);
    assert!(settled >= Decimal::new(3000, 2), "{done}");
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
    // Each leg passed on exactly what the chain says arrived.
    assert_eq!(
        done["legs"][1]["input"], done["legs"][0]["received"],
        "{done}"
    );
    assert_eq!(
        done["legs"][2]["input"], done["legs"][1]["received"],
        "{done}"
    );
    // The books: funding in, a swap and a bridge through, the merchant paid out of it; Rialto
    // holds nothing of the payer's afterwards, in any asset.
    let (held, kinds) = routing_books(app).await;
    for kind in ["route_funding", "route_conversion", "payment", "settlement"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| *k == "route_conversion").count(), 2);
    assert_eq!(held.len(), 3, "USDT, USDC on two chains: {held:?}");
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    // The gas of the transactions the route sent (approve, swap, burn, mint, the merchant's
    // transfer, ...), each posted once.
    assert!(
        kinds.iter().filter(|k| *k == "network_fee").count() >= 5,
        "{kinds:?}"
    );
    // The payer's funding, the swap (out and in), the bridge (deliver, burn, mint) and the
    // merchant's transfer.
    assert!(done["legs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["tx_hash"].as_str().is_some_and(|h| h.starts_with("0x"))));
    assert_reconciled(app, 7).await;
    // A payment to `pay_to` nobody reported is money nothing explains.
    let stray = pay_usdt_hash(
        &setup.other_chain,
        exec["pay_to"]["address"].as_str().unwrap(),
        Decimal::ONE,
    )
    .await;
    let run = reconcile(app).await;
    let found = run["exceptions"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{run:#}");
    assert_eq!(found[0]["kind"], "unexpected_inflow", "{run:#}");
    assert_eq!(found[0]["tx_hash"], stray, "{run:#}");
    // A swap booked against a transaction that is not on chain is money the books claim and
    // the chain never delivered; the real swap's output is then unexplained.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let bogus = format!("0x{}", "ab".repeat(32));
    sqlx::query("UPDATE route_legs SET tx_hash = $1 WHERE kind = 'dex_swap'")
        .bind(bogus.clone())
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let run = reconcile(app).await;
    let mut found: Vec<(String, String)> = run["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let purpose = x["purpose"].as_str().unwrap_or_default().to_owned();
            (x["kind"].as_str().unwrap().to_owned(), purpose)
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("missing".to_owned(), "route_dex_swap".to_owned()),
            ("unexpected_inflow".to_owned(), String::new()),
            ("unexpected_inflow".to_owned(), String::new()),
        ],
        "{run:#}"
    );
}

#[tokio::test]
async fn an_overpaid_route_pays_the_merchant_the_locked_amount_and_sends_the_surplus_back() {
    let (setup, _clock) = clocked().await;
    let (app, chain, other) = (&setup.app, &setup.chain, &setup.other_chain);
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let payer = other.payers[0].address.to_string();
    let paying = intent(app, "20.00").await;
    let (exec, _quote) = accept_usdt(&setup, &paying).await;
    let quoted = dec(&exec["pay_to"]["amount"]);
    let surplus = Decimal::new(15, 1);
    let usdt_before = token_balance(other, "USDT", &payer).await;
    let id = exec["id"].as_str().unwrap();
    let hash = pay_usdt_hash(
        other,
        exec["pay_to"]["address"].as_str().unwrap(),
        quoted + surplus,
    )
    .await;
    let answer = report_funding(app, other, 0, id, &hash).await;
    assert_eq!(answer.status(), 200);
    let done = wait_execution(app, id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("dex_swap".into(), "confirmed".into()),
            ("cctp_bridge".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
            ("surplus_return".into(), "confirmed".into()),
        ],
        "{done}"
    );
    assert_eq!(dec(&done["legs"][3]["received"]), surplus, "{done}");
    assert_eq!(done["returned"]["reason"], "overpayment", "{done}");
    // The payer is out exactly the quoted amount; the merchant got the settlement leg.
    assert_eq!(
        token_balance(other, "USDT", &payer).await,
        usdt_before - units(quoted)
    );
    wait_intent(app, &paying, "succeeded").await;
    let settled = dec(&done["legs"][2]["received"]);
    assert!(settled >= Decimal::new(2000, 2), "{done}");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units(settled)
    );
    let (held, kinds) = routing_books(app).await;
    assert!(kinds.iter().any(|k| k == "route_return"), "{kinds:?}");
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    // The seven transfers of the route, and the surplus going back.
    assert_reconciled(app, 8).await;
}

#[tokio::test]
async fn a_swap_that_keeps_reverting_ends_failed_and_the_payers_usdt_goes_back() {
    let (setup, clock) = clocked().await;
    let (app, other) = (&setup.app, &setup.other_chain);
    let merchant_before = usdc_balance(&setup.chain, MERCHANT).await;
    let payer = other.payers[0].address.to_string();
    let paying = intent(app, "30.00").await;
    let (exec, _quote) = accept_usdt(&setup, &paying).await;
    // After the lock, someone drains the pool's USDC side: the locked route's swap can no
    // longer meet its minimum, and there is no other way from USDT on this chain.
    {
        use rialto_evm::contracts::{to_wire, ITetherLike, IUniswapV2Router02};
        let wallet = common::devnet::payer_wallet(other, 1).await;
        let usdt = to_wire(&other.tokens["USDT"].address).unwrap();
        let usdc = to_wire(&other.tokens["USDC"].address).unwrap();
        let router = to_wire(&other.dex.router).unwrap();
        let big = U256::from(9_000u64) * U256::from(1_000_000u64);
        let approved = ITetherLike::new(usdt, &wallet)
            .approve(router, big)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(approved.status(), "{approved:?}");
        let to = other.payers[1].address.to_string().parse().unwrap();
        // An explicit limit: the pool's first swap costs 44k gas more when it lands in a later
        // second than its estimate (rialto_gateway::chain::rail::SWAP_GAS_HEADROOM).
        let swapped = IUniswapV2Router02::new(router, &wallet)
            .swapExactTokensForTokens(big, U256::ZERO, vec![usdt, usdc], to, U256::MAX)
            .gas(300_000)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(swapped.status(), "{swapped:?}");
    }
    let usdt_before = token_balance(other, "USDT", &payer).await;
    // One USDT more than quoted: it goes back with the rest.
    let sent = dec(&exec["pay_to"]["amount"]) + Decimal::ONE;
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let hash = pay_usdt_hash(other, exec["pay_to"]["address"].as_str().unwrap(), sent).await;
    assert_eq!(
        report_funding(app, other, 0, &exec_id, &hash)
            .await
            .status(),
        200
    );
    assert_eq!(
        token_balance(other, "USDT", &payer).await,
        usdt_before - units(sent)
    );
    let started = Instant::now();
    let failed = loop {
        let exec = execution(app, &exec_id).await;
        if exec["status"] == "failed" {
            break exec;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{exec}");
        // Backoffs pass (60 s doubling, five of them), while 90 s of wall time at this step
        // stays under the feeds' 24 h heartbeat: the prices never go stale.
        clock.advance_ms(120_000);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["failure_code"], "execution_reverted", "{failed}");
    let legs = failed["legs"].as_array().unwrap();
    let swaps = legs.iter().filter(|l| l["kind"] == "dex_swap").count();
    assert!(swaps >= 2, "retried after backoff: {failed}");
    assert!(legs
        .iter()
        .filter(|l| l["kind"] == "dex_swap")
        .all(|l| l["status"] == "failed"));
    let back = legs.last().unwrap();
    assert_eq!(back["kind"], "return", "{failed}");
    assert_eq!(back["status"], "confirmed", "{failed}");
    assert_eq!(
        dec(&back["received"]),
        sent,
        "the quoted amount and the surplus: {failed}"
    );
    // The payer has every unit of USDT back; the merchant got nothing.
    assert_eq!(token_balance(other, "USDT", &payer).await, usdt_before);
    let (held, kinds) = routing_books(app).await;
    assert!(kinds.iter().any(|k| k == "route_return"), "{kinds:?}");
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    assert_eq!(usdc_balance(&setup.chain, MERCHANT).await, merchant_before);
    wait_intent(app, &paying, "failed").await;
}

#[tokio::test]
async fn racing_workers_send_every_leg_of_an_execution_once() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    let (paying, quote) = binance_quote(app, "12.00").await;
    // Four more passes over the same database race the gateway's own worker throughout.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let (state, stop) = (app.state.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    rialto_gateway::routing::execute::tick(&state).await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    let exec_id = accept_exchange(app, &quote).await;
    let done = wait_execution(app, &exec_id, "succeeded").await;
    wait_intent(app, &paying, "succeeded").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in racers {
        r.await.unwrap();
    }
    assert_eq!(kinds(&done).len(), 3, "{done}");
    assert_eq!(sandbox.executed_orders(), 1);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    assert_eq!(sandbox.duplicate_submissions(), 0);
    let settled = dec(&done["legs"][2]["received"]);
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
}

#[tokio::test]
async fn a_wallet_payment_held_for_review_is_returned_once_released_and_never_converted() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer = chain.payers[0].address.to_string();
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    // Over the travel-rule threshold with no originator data: screening holds it for review.
    let paying = intent(app, "5000.00").await;
    let quote = best_quote(
        app,
        &paying,
        json!({"type": "wallet", "chain": "devnet-base", "asset": "usdc"}),
    )
    .await;
    let accepted: Value = accept(app, &quote, json!({ "payer_address": payer }))
        .await
        .json()
        .await
        .unwrap();
    let exec = &accepted["execution"];
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let payer_before = usdc_balance(chain, &payer).await;
    let hash = pay_usdc_hash(
        chain,
        0,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(dec(&exec["pay_to"]["amount"])),
    )
    .await;
    let answer = report_funding(app, chain, 0, &exec_id, &hash).await;
    let held: Value = answer.json().await.unwrap();
    assert_eq!(held["status"], "held", "{held}");
    assert!(
        held["legs"].as_array().unwrap().is_empty(),
        "nothing moves in review"
    );
    assert_eq!(status_of(app, &paying).await, "in_review");
    // An operator releases it; the quote is long expired, so the funds go back whole.
    let created = create_operator(app.store.as_ref(), "ops", 0).await.unwrap();
    let op = created["operator_key"].as_str().unwrap();
    let cases: Value = app
        .get("/v1/compliance/cases?status=open", op)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case = cases["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["payment_intent"] == paying["id"])
        .unwrap_or_else(|| panic!("a case for the intent: {cases}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approved = app
        .post(&format!("/v1/compliance/cases/{case}/approve"), op)
        .json(&json!({"note": "originator verified"}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    // Held executions are looked at every 10 s.
    clock.advance_ms(11_000);
    let done = wait_execution(app, &exec_id, "failed").await;
    assert_eq!(done["failure_code"], "review_completed", "{done}");
    assert_eq!(kinds(&done), vec![("return".into(), "confirmed".into())]);
    assert_eq!(usdc_balance(chain, &payer).await, payer_before);
    assert_eq!(usdc_balance(chain, MERCHANT).await, merchant_before);
    wait_intent(app, &paying, "failed").await;
}

#[tokio::test]
async fn a_withdrawal_stuck_at_the_venue_waits_for_reconciliation_and_is_never_sent_again() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    sandbox.set_stuck_withdrawals(true);
    let (paying, quote) = binance_quote(app, "18.00").await;
    let exec_id = accept_exchange(app, &quote).await;
    let started = Instant::now();
    while kinds(&execution(app, &exec_id).await).get(1)
        != Some(&("withdrawal".to_owned(), "submitted".to_owned()))
    {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ten minutes without the venue sending it: the leg is unknown, and the plan waits.
    clock.advance_ms(11 * 60_000);
    let waiting = wait_execution(app, &exec_id, "awaiting_reconciliation").await;
    assert_eq!(
        kinds(&waiting),
        vec![
            ("trade".into(), "confirmed".into()),
            ("withdrawal".into(), "unknown".into())
        ]
    );
    assert_eq!(status_of(app, &paying).await, "converting");
    // Passes keep asking; nothing is sent again.
    for _ in 0..5 {
        clock.advance_ms(11_000);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(kinds(&execution(app, &exec_id).await).len(), 2);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    // The venue's queue moves: reconciliation finds the withdrawal landed and the plan goes on.
    assert_eq!(sandbox.release_stuck_withdrawals().await, 1);
    sandbox.set_stuck_withdrawals(false);
    clock.advance_ms(11_000);
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("trade".into(), "confirmed".into()),
            ("withdrawal".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ]
    );
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(sandbox.executed_withdrawals(), 1, "sent once");
    let settled = dec(&done["legs"][2]["received"]);
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
}

#[tokio::test]
async fn a_coinbase_account_pays_through_the_router_with_the_venues_own_withdrawal_terms() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "22.00").await;
    let quote = best_quote(
        app,
        &paying,
        json!({"type": "exchange", "venue": "coinbase", "asset": "usd"}),
    )
    .await;
    assert_eq!(quote["legs"][0]["venue"], "coinbase", "{quote}");
    assert_eq!(quote["legs"][1]["kind"], "withdrawal", "{quote}");
    let pem = rialto_connectors::exchange::coinbase::CdpKey::sandbox_pem(9).unwrap();
    let answer = accept(
        app,
        &quote,
        json!({"exchange_credentials": {"api_key": "organizations/o/apiKeys/payer", "api_secret": pem}}),
    )
    .await;
    let status = answer.status();
    let accepted: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{accepted}");
    let exec_id = accepted["execution"]["id"].as_str().unwrap().to_owned();
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("trade".into(), "confirmed".into()),
            ("withdrawal".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    // The withdrawal's 0.10 USDC fee was priced in: what arrived is what the route expected.
    assert_eq!(done["legs"][1]["received"], done["legs"][2]["input"]);
    let settled = dec(&done["legs"][2]["received"]);
    assert!(settled >= Decimal::new(2200, 2));
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
    wait_intent(app, &paying, "succeeded").await;
}
