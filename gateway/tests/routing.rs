//! SmartFunding quotes end to end in sandbox mode: a real devnet (Chainlink mocks, tokens) and
//! the sandbox exchange speaking Kraken's and Binance's APIs. The gateway builds the router's
//! graph from those connectors, checks every conversion against the devnet's Chainlink feeds,
//! stores the ranked quotes and locks one per intent.

mod common;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::{aliases::U80, I256, U256};
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use common::devnet::{intent, start_clocked, DevnetApp};
use common::{expect_error, spawn_app, Db, TestApp};
use rialto_evm::contracts::{to_wire, IMockV3Aggregator};
use rialto_gateway::cli_ops::create_operator;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("decimal string, got {v}"))
        .parse()
        .unwrap()
}

async fn quotes(app: &TestApp, intent: &Value, source: Value) -> reqwest::Response {
    let id = intent["id"].as_str().unwrap();
    app.post(
        &format!("/v1/payment_intents/{id}/quotes"),
        &app.merchant.publishable_key,
    )
    .json(&json!({"source": source, "client_secret": intent["client_secret"]}))
    .send()
    .await
    .unwrap()
}

async fn accept(app: &TestApp, quote: &Value) -> reqwest::Response {
    let id = quote["id"].as_str().unwrap();
    let payer = if quote["source"]["location"]
        .as_str()
        .unwrap()
        .starts_with("venue:")
    {
        json!({"exchange_credentials": {"api_key": "k", "api_secret":
            "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==",
            "withdraw_key": "merchant-devnet-base"}})
    } else {
        json!({"payer_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"})
    };
    app.post(&format!("/v1/quotes/{id}/accept"), app.sk())
        .json(&payer)
        .send()
        .await
        .unwrap()
}

fn kraken_usd() -> Value {
    json!({"type": "exchange", "venue": "kraken", "asset": "usd"})
}

async fn ranked(app: &TestApp, intent: &Value, source: Value) -> Vec<Value> {
    let answer = quotes(app, intent, source).await;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    body["data"].as_array().unwrap().clone()
}

async fn clocked() -> (DevnetApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup = start_clocked(1, Some(clock.clone() as Arc<dyn Clock>)).await;
    common::devnet::past_the_deploy(&setup, &clock).await;
    (setup, clock)
}

#[tokio::test]
async fn quotes_from_a_kraken_usd_account_are_ranked_exact_and_lock_once_per_intent() {
    let (setup, clock) = clocked().await;
    let app = &setup.app;
    let paying = intent(app, "25.00").await;
    let data = ranked(app, &paying, kraken_usd()).await;
    assert!(!data.is_empty());
    for (i, q) in data.iter().enumerate() {
        assert_eq!(q["object"], "quote");
        assert!(q["id"].as_str().unwrap().starts_with("qt_"), "{q}");
        assert_eq!(q["rank"], i as u64 + 1);
        assert_eq!(q["status"], "open");
        assert_eq!(q["source"]["asset"], "USD");
        assert_eq!(q["source"]["location"], "venue:kraken");
        assert_eq!(q["target"]["location"], setup.chain.chain_id.to_string());
        let merchant = dec(&q["merchant_amount"]);
        assert!(
            merchant >= Decimal::new(2500, 2),
            "merchant gets {merchant}"
        );
        assert_eq!(dec(&q["intent_amount"]), Decimal::new(2500, 2));
        // USD at a 1.0001 ask, a 0.1% taker fee and a 0.10 USDC withdrawal fee: the payer
        // pays more than the intent, to the cent.
        let payer = dec(&q["payer_amount"]);
        assert!(payer > merchant, "payer pays {payer}");
        assert!(payer.scale() <= 2, "USD to the cent: {payer}");
        let legs = q["legs"].as_array().unwrap();
        assert!(legs.len() >= 2, "trade and withdrawal at least: {q}");
        assert_eq!(legs[0]["kind"], "trade");
        assert_eq!(legs[0]["venue"], "kraken");
        for leg in legs {
            assert!(leg["id"].as_str().unwrap().starts_with("leg_"));
            assert!(dec(&leg["fee_usd"]) >= Decimal::ZERO, "{leg}");
        }
        assert!(
            dec(&legs[0]["fee_usd"]) > Decimal::ZERO,
            "the trade has a fee"
        );
        let usdc = q["price_sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pair"] == "USDC/USD")
            .unwrap_or_else(|| panic!("USDC/USD among the price sources of {q}"));
        assert!(usdc["round_id"].as_str().unwrap().parse::<u128>().unwrap() >= 1);
        assert!(usdc["source"]
            .as_str()
            .unwrap()
            .starts_with("chainlink:eip155:"));
        assert!(dec(&q["total_fee_usd"]) > Decimal::ZERO);
        assert!(q["expires_at"].as_u64().unwrap() > q["created_at"].as_u64().unwrap());
        assert!(q["expected_seconds"].as_u64().unwrap() > 0);
    }
    // Ranked: the direct route (trade, withdraw) beats any detour through another venue.
    assert_eq!(data[0]["legs"].as_array().unwrap().len(), 2, "{}", data[0]);

    // A wallet on the other devnet chain: the (sandbox) USDC bridge beats a venue's deposit
    // address and withdrawal, and costs its fee.
    let from_wallet = ranked(
        app,
        &paying,
        json!({"type": "wallet", "chain": "devnet-ethereum", "asset": "usdc"}),
    )
    .await;
    let legs = from_wallet[0]["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 1, "{}", from_wallet[0]);
    assert_eq!(legs[0]["kind"], "bridge", "{}", from_wallet[0]);
    assert_eq!(
        dec(&from_wallet[0]["payer_amount"]),
        Decimal::new(2500, 2) + rialto_evm::devnet_bridge::DEVNET_BRIDGE_FEE
    );
    assert!(dec(&from_wallet[0]["merchant_amount"]) >= Decimal::new(2500, 2));

    // Accept locks the best quote once; a second accept for the intent is refused.
    let answer = accept(app, &data[0]).await;
    assert_eq!(answer.status(), 200);
    let locked: Value = answer.json().await.unwrap();
    assert_eq!(locked["status"], "accepted");
    assert_eq!(locked["id"], data[0]["id"]);
    assert!(locked["locked_at"].as_u64().is_some());
    expect_error(accept(app, &data[0]).await, 409, "quote_already_accepted").await;
    expect_error(
        accept(app, &from_wallet[0]).await,
        409,
        "quote_already_accepted",
    )
    .await;
    // Another merchant cannot see it.
    let other = app.another_merchant().await;
    let id = data[0]["id"].as_str().unwrap();
    let foreign = app
        .post(&format!("/v1/quotes/{id}/accept"), &other.secret_key)
        .send()
        .await
        .unwrap();
    expect_error(foreign, 404, "resource_missing").await;

    // An expired quote is refused, and stays refused.
    let later = intent(app, "12.50").await;
    let fresh = ranked(app, &later, kraken_usd()).await;
    clock.advance_ms(61_000);
    expect_error(accept(app, &fresh[0]).await, 400, "quote_expired").await;
    expect_error(accept(app, &fresh[0]).await, 400, "quote_expired").await;
}

#[tokio::test]
async fn a_depegged_or_stale_usdc_feed_refuses_every_route_into_usdc() {
    let (setup, _clock) = clocked().await;
    let app = &setup.app;
    let chain = &setup.chain;
    let signer: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse().unwrap();
    let node = ProviderBuilder::new()
        .wallet(signer)
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    let mock = IMockV3Aggregator::new(to_wire(&chain.feeds["USDC/USD"].address).unwrap(), &node);
    let paying = intent(app, "25.00").await;

    // USDC at 0.95: converting into it is refused by the depeg breaker.
    mock.updateAnswer(I256::try_from(95_000_000i64).unwrap())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let refused = expect_error(quotes(app, &paying, kraken_usd()).await, 400, "no_route").await;
    assert!(
        refused["message"].as_str().unwrap().contains("peg"),
        "{refused}"
    );

    // A round three days old is past its heartbeat: no price, no conversion.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old = U256::from(now - 3 * 86_400);
    mock.updateRoundData(
        U80::from(10),
        I256::try_from(100_000_000i64).unwrap(),
        old,
        old,
    )
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    expect_error(
        quotes(app, &paying, kraken_usd()).await,
        503,
        "oracle_unavailable",
    )
    .await;

    // Back at par with a fresh round: quotes again, carrying that round.
    mock.updateAnswer(I256::try_from(100_000_000i64).unwrap())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let data = ranked(app, &paying, kraken_usd()).await;
    let usdc = data[0]["price_sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pair"] == "USDC/USD")
        .cloned()
        .unwrap();
    assert_eq!(usdc["round_id"], "11", "{usdc}");
    assert_eq!(usdc["price"], "1");
}

#[tokio::test]
async fn routing_health_needs_an_operator_key() {
    let app = &spawn_app(Db::Sqlite).await;
    let denied = app
        .get("/v1/routing/health", app.sk())
        .send()
        .await
        .unwrap();
    expect_error(denied, 403, "operator_key_required").await;
    let created = create_operator(app.store.as_ref(), "ops", 0).await.unwrap();
    let key = created["operator_key"].as_str().unwrap();
    let answer = app.get("/v1/routing/health", key).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["object"], "routing_health");
    assert!(body["venues"].is_object(), "{body}");
    assert!(body["policy"]["max_samples"].as_u64().unwrap() > 0);
}
