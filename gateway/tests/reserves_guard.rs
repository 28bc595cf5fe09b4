//! Proof of Reserve as a guard, on a real devnet through the gateway (issue 17, point 4): the
//! reserves worker reads each asset's reserve feed (Chainlink `MockV3Aggregator`s the devnet
//! deploys) against its on-chain supply; a breach or a stale report halts the asset (quotes,
//! new intents and payments refused with a stable code, funded intents sent to review, an
//! event), and it lifts when a fresh report covers the supply again. Issuer mints pass the
//! secure-mint check before the bank is asked. Waits are bounded polls, never timed asserts.

mod common;
mod routing_support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::primitives::{aliases::U80, I256, U256};
use common::devnet::{
    deposit_address, intent, pay_usdc, payer_wallet, wait_for, DevnetApp, MERCHANT,
};
use common::{expect_error, TestApp};
use rialto_connectors::issuer::{Issuer, IssuerError, MintRequest};
use rialto_engine::reserves::mint::PorMintGuard;
use rialto_evm::contracts::{to_wire, IMockV3Aggregator, IERC20};
use rialto_evm::manifest::{ChainManifest, ReserveFeedEntry};
use rialto_gateway::store::{CaseFilter, CaseStatus, ComplianceStore};
use routing_support::clocked;
use rust_decimal::Decimal;
use serde_json::{json, Value};

const POLL: Duration = Duration::from_millis(100);
/// Bound on every wait: many poll intervals, so a slow machine does not fail the test.
const BOUND: Duration = Duration::from_secs(30);

/// The reserves worker as `rialto serve` runs it, every [`POLL`]; stops with the returned
/// sender.
fn start_reserves_worker(app: &TestApp) -> tokio::sync::watch::Sender<bool> {
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(rialto_engine::reserves::worker::run_reserves_worker(
        app.state.engine.clone(),
        POLL,
        rx,
    ));
    stop
}

fn usdc_feed(chain: &ChainManifest) -> &ReserveFeedEntry {
    &chain
        .institutional
        .as_ref()
        .expect("the devnet deploys reserve feeds")
        .reserve_feeds["USDC"]
}

/// A whole-unit amount as the feed's answer at its decimals.
fn answer(entry: &ReserveFeedEntry, whole: Decimal) -> I256 {
    let scaled = whole * Decimal::from(10u64.pow(u32::from(entry.decimals)));
    I256::try_from(scaled.trunc().mantissa()).unwrap()
}

async fn usdc_supply(chain: &ChainManifest) -> Decimal {
    let p = payer_wallet(chain, 0).await;
    let units = IERC20::new(to_wire(&chain.tokens["USDC"].address).unwrap(), &p)
        .totalSupply()
        .call()
        .await
        .unwrap();
    Decimal::from_i128_with_scale(i128::try_from(units).unwrap(), 6)
}

/// Posts `reserves` on the chain's USDC reserve feed (anyone may post to the devnet mock).
async fn post_reserves(chain: &ChainManifest, reserves: Decimal) {
    let feed = usdc_feed(chain);
    let p = payer_wallet(chain, 0).await;
    let mock = IMockV3Aggregator::new(to_wire(&feed.address).unwrap(), &p);
    let receipt = mock
        .updateAnswer(answer(feed, reserves))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
}

async fn quotes(app: &TestApp, paying: &Value) -> reqwest::Response {
    let id = paying["id"].as_str().unwrap();
    app.post(&format!("/v1/payment_intents/{id}/quotes"), app.sk())
        .json(&json!({"source": {"type": "exchange", "venue": "kraken", "asset": "usd"}}))
        .send()
        .await
        .unwrap()
}

/// Polls the quotes of `paying` until they answer `status` (and `code`, for an error);
/// returns the body. Fails after [`BOUND`].
async fn wait_quotes(app: &TestApp, paying: &Value, status: u16, code: Option<&str>) -> Value {
    let started = Instant::now();
    loop {
        let answer = quotes(app, paying).await;
        let got = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        let got_code = body["error"]["code"].as_str();
        if got == status && (code.is_none() || got_code == code) {
            return body;
        }
        assert!(
            started.elapsed() < BOUND,
            "quotes still answer {got} {body}, wanted {status} {code:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

async fn create(app: &TestApp) -> reqwest::Response {
    app.post("/v1/payment_intents", app.sk())
        .json(&json!({"amount": "5.00", "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}))
        .send()
        .await
        .unwrap()
}

async fn event_types(app: &TestApp, kind: &str) -> Vec<Value> {
    let body = app.get_json(&format!("/v1/events?type={kind}")).await;
    body["data"].as_array().unwrap().clone()
}

async fn metrics(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_reserve_breach_halts_usdc_within_a_poll_sends_a_funded_intent_to_review_and_restoring_reserves_lifts_it(
) {
    let (setup, _clock): (DevnetApp, _) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let _worker = start_reserves_worker(app);
    let quoting = intent(app, "25.00").await;
    wait_quotes(app, &quoting, 200, None).await;
    // Told where to pay before the halt; it pays after.
    let funded = intent(app, "5.00").await;
    let to = deposit_address(app, &funded).await;

    let supply = usdc_supply(chain).await;
    post_reserves(chain, supply - Decimal::new(1, 2)).await;
    let refused = wait_quotes(app, &quoting, 503, Some("reserves_breached")).await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("USDC"),
        "{refused}"
    );
    expect_error(create(app).await, 503, "reserves_breached").await;
    let halted = event_types(app, "reserves.halted").await;
    assert_eq!(halted.len(), 1, "one announcement per merchant: {halted:?}");
    let object = &halted[0]["data"]["object"];
    assert_eq!(object["status"], "breached");
    assert_eq!(object["code"], "reserves_breached");
    assert_eq!(object["asset"], "usdc");
    // The gauge's value is shared by the suites running beside this one (one recorder per
    // process, the same devnet chain ids); that it is exported is what is checked here.
    let series = format!(
        "rialto_reserve_status{{chain=\"{}\",asset=\"usdc\"}}",
        chain.chain_id
    );
    assert!(metrics(app).await.contains(&series), "{series} is exported");

    // Money that arrives anyway is held: the intent goes to review, not to the merchant.
    pay_usdc(chain, 0, &to, U256::from(5_000_000u64)).await;
    wait_for(app, &funded, "in_review").await;
    let id = funded["id"].as_str().unwrap().parse().unwrap();
    let cases = app
        .store
        .list_cases(&CaseFilter {
            payment_intent_id: Some(id),
            limit: 10,
            ..CaseFilter::default()
        })
        .await
        .unwrap();
    let held = cases
        .data
        .iter()
        .find(|c| c.point == "reserves_halt")
        .expect("an open case says why the payment is held");
    assert_eq!(held.status, CaseStatus::Open);

    post_reserves(chain, supply).await;
    let resumed = wait_quotes(app, &quoting, 200, None).await;
    assert_eq!(resumed["object"], "list");
    assert_eq!(
        create(app).await.status(),
        200,
        "new intents are accepted again"
    );
    let restored = event_types(app, "reserves.restored").await;
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert_eq!(restored[0]["data"]["object"]["status"], "ok");
    assert_eq!(
        common::devnet::status_of(app, &funded).await,
        "in_review",
        "a held payment waits for an operator after the lift"
    );
}

#[tokio::test]
async fn a_reserve_report_older_than_its_heartbeat_halts_the_asset_as_stale() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let _worker = start_reserves_worker(app);
    let quoting = intent(app, "25.00").await;
    wait_quotes(app, &quoting, 200, None).await;

    // Reserves that cover the supply, last posted two heartbeats ago.
    let feed = usdc_feed(chain);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old = U256::from(now - 2 * feed.heartbeat_secs);
    let p = payer_wallet(chain, 0).await;
    IMockV3Aggregator::new(to_wire(&feed.address).unwrap(), &p)
        .updateRoundData(U80::from(50), answer(feed, feed.initial_reserves), old, old)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    wait_quotes(app, &quoting, 503, Some("reserves_stale")).await;
    expect_error(create(app).await, 503, "reserves_stale").await;
    let id = quoting["id"].as_str().unwrap();
    let deposit = app
        .post(
            &format!("/v1/payment_intents/{id}/deposit_address"),
            app.sk(),
        )
        .send()
        .await
        .unwrap();
    expect_error(deposit, 503, "reserves_stale").await;

    // A fresh round lifts it.
    post_reserves(chain, feed.initial_reserves).await;
    wait_quotes(app, &quoting, 200, None).await;
}

#[tokio::test]
async fn an_issuer_mint_above_the_reserves_is_refused_by_the_secure_mint_guard_before_the_bank_is_asked(
) {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let manifest = rialto_evm::DevnetManifest::read(&setup.manifest_path).unwrap();
    let (_bank, config) = rialto_gateway::sandbox_bank::sandbox_bank_for(true, &manifest)
        .await
        .unwrap()
        .expect("the devnet has EVM chains");
    let issuer = rialto_gateway::sandbox_bank::metered_issuer(config, "sandbox").unwrap();
    let guard = PorMintGuard::new(app.state.engine.clone(), false, "JPMD-DEV");
    let rails = chain.institutional.as_ref().unwrap();
    let headroom = rails.reserve_feeds["JPMD-DEV"].initial_reserves - Decimal::from(10_000);
    let institution = rails.deposit_tokens["JPMD-DEV"].allow_listed["institution_payer"];
    let mint = |reference: &str, amount: Decimal| MintRequest {
        reference: reference.to_owned(),
        chain: chain.chain_id.to_string().parse().unwrap(),
        wallet: institution.to_string(),
        amount,
    };

    let over = mint("mint-over", headroom + Decimal::new(1, 2));
    match issuer.mint(&over, guard.as_ref()).await {
        Err(IssuerError::MintGuardRefused { message }) => {
            assert!(message.starts_with("secure_mint_refused"), "{message}")
        }
        other => panic!("an over-mint must be refused by the guard, got {other:?}"),
    }
    assert!(
        matches!(
            issuer.request("mint-over").await,
            Err(IssuerError::NotFound { .. })
        ),
        "the bank never heard of the refused mint"
    );
    // Within the reserves the guard lets it through and the bank records it.
    let within = mint("mint-within", Decimal::from(100));
    issuer.mint(&within, guard.as_ref()).await.unwrap();
    assert_eq!(
        issuer.request("mint-within").await.unwrap().reference,
        "mint-within"
    );
    let scraped = metrics(app).await;
    assert!(
        scraped.contains("rialto_issuer_errors_total{issuer=\"sandbox\",operation=\"mint\",code=\"mint_guard_refused\"}"),
        "{scraped}"
    );
}
