//! SIGKILL chaos: the real `rialto serve` binary on one SQLite file and a local devnet, killed
//! at seeded random points while batched payments, refunds and payouts are in flight, then
//! restarted. Afterwards no refund or payout was sent twice (one leg per object in the store,
//! and the treasury's on-chain USDC transfers equal the refund and payout legs), every intent
//! reached `succeeded`, every refund and payout ended, and the ledger balances.

mod common;

use common::chaos::{self, Chaos, Rng, MERCHANT};

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use rialto_evm::contracts::{to_wire, IERC20};
use secrecy::ExposeSecret;
use serde_json::json;

const SEED: u64 = 0x5eed_2026;

#[tokio::test]
async fn sigkilled_gateways_never_send_a_refund_or_payout_twice() {
    let Chaos {
        devnet,
        dir: _dir,
        url,
        created: _,
        mut gateway,
        api,
    } = chaos::start("Chaos Shop", None).await;
    let chain = devnet.manifest().chain("devnet-base").unwrap().clone();
    gateway.start();
    let (status, answer) = api
        .post_settled(
            "/v1/settings",
            &json!({"settlement_schedule": "batched", "payout_threshold": "20",
                    "payout_addresses": {"devnet-base": MERCHANT}}),
            "settings",
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    let payer: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse().unwrap();
    let wallet = ProviderBuilder::new()
        .wallet(payer)
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased();
    let usdc = to_wire(&chain.tokens["USDC"].address).unwrap();
    let mut rng = Rng(SEED);
    let mut intents = Vec::new();
    let mut refunds = Vec::new();
    let mut waiting = Vec::new();
    for round in 0..6 {
        // A payment into a deposit address, a kill somewhere while it is swept.
        let (status, paying) = api
            .post_settled(
                "/v1/payment_intents",
                &json!({"amount": "15.00", "currency": "usd",
                        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}),
                &format!("intent-{round}"),
            )
            .await;
        assert_eq!(status, 200, "{paying}");
        let id = paying["id"].as_str().unwrap().to_owned();
        let (status, deposit) = api
            .post_settled(
                &format!("/v1/payment_intents/{id}/deposit_address"),
                &json!({}),
                &format!("deposit-{round}"),
            )
            .await;
        assert_eq!(status, 200, "{deposit}");
        let to = deposit["address"].as_str().unwrap();
        IERC20::new(usdc, &wallet)
            .transfer(to.parse().unwrap(), U256::from(15_000_000u64))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        gateway.kill();
        gateway.start();
        // Wait for it, then refund part of it, and kill again while that refund is sent.
        let started = Instant::now();
        while api.get(&format!("/v1/payment_intents/{id}")).await["status"] != "succeeded" {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{id} never succeeded"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        intents.push(id.clone());
        let (status, refund) = api
            .post_settled(
                "/v1/refunds",
                &json!({"payment_intent": id, "amount": "2.50"}),
                &format!("refund-{round}"),
            )
            .await;
        // A payout may have taken the balance first: then the refund waits for the merchant
        // to fund it (`requires_funding`) and moves nothing.
        assert_eq!(status, 200, "{refund}");
        if refund["status"] == "requires_funding" {
            waiting.push(refund["id"].as_str().unwrap().to_owned());
        } else {
            refunds.push(refund["id"].as_str().unwrap().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        gateway.kill();
        gateway.start();
    }

    // Settle down: every refund and payout ends.
    let payouts = api
        .wait_money_ended(&refunds, Duration::from_secs(60))
        .await;
    gateway.kill();
    assert!(
        !payouts.is_empty(),
        "the threshold was crossed: a payout exists"
    );
    assert!(!refunds.is_empty(), "some refunds were made");
    eprintln!(
        "chaos: {} intents, {} refunds, {} payouts, 12 SIGKILLs",
        intents.len(),
        refunds.len(),
        payouts.len()
    );
    for re in &refunds {
        let r = api_get_offline(&url, "refunds", re).await;
        assert_eq!(r, "succeeded", "{re}");
    }
    for re in &waiting {
        let r = api_get_offline(&url, "refunds", re).await;
        assert_eq!(r, "requires_funding", "{re}: nothing funded it");
    }
    for p in &payouts {
        assert_eq!(p["status"], "paid", "{p}");
    }

    // One leg per refund and payout, and exactly as many USDC transfers out of the treasury.
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT purpose, reference, COUNT(*) AS n FROM chain_transfers WHERE purpose IN \
         ('refund', 'payout') GROUP BY purpose, reference",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for row in &rows {
        assert_eq!(
            row.get::<i64, _>("n"),
            1,
            "{}",
            row.get::<String, _>("reference")
        );
    }
    assert_eq!(rows.len(), refunds.len() + payouts.len());
    let treasury = to_wire(&chain.gateway_hot_wallet.address).unwrap();
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    let logs = node
        .get_logs(
            &Filter::new()
                .address(usdc)
                .event("Transfer(address,address,uint256)")
                .topic1(treasury.into_word())
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(logs.len(), rows.len(), "treasury transfers vs legs");
    for intent in &intents {
        let row = sqlx::query("SELECT status FROM payment_intents WHERE id = $1")
            .bind(intent.clone())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("status"), "succeeded", "{intent}");
    }
    pool.close().await;

    // The ledger balances, every transaction of it.
    use rialto_gateway::store::ledger::LedgerStore;
    let (store, _) = open_store(&url).await;
    for posting in store.all_postings().await.unwrap() {
        posting.check().unwrap_or_else(|e| panic!("{e}"));
    }
    // And every account's balance equals the sum of its entries.
    common::ledger_invariant(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn api_get_offline(url: &str, table: &str, id: &str) -> String {
    use sqlx::Row;
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let row = sqlx::query(&format!("SELECT status FROM {table} WHERE id = $1"))
        .bind(id.to_owned())
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    row.get("status")
}

async fn open_store(url: &str) -> (rialto_gateway::store::SqlStore, ()) {
    let mut config = rialto_gateway::config::Config::default();
    config.database.url = url.to_owned();
    let store = rialto_gateway::server::open_store(&config, common::registry())
        .await
        .unwrap();
    (store, ())
}
