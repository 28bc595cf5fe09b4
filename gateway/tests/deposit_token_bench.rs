//! Issue 17's judging benchmark (ignored; `bench/deposit_token_routes.sh` runs it): the time
//! from a payer's funding to the intent's `succeeded`, per route kind into a JPMD-DEV merchant
//! on devnet-base, one payment at a time, `BENCH_N` payments each (default 50):
//!
//! - `direct`: an allow-listed institution transfers JPMD-DEV to the merchant and reports it
//!   (`POST /v1/payment_intents/{id}/transactions`);
//! - `usdc_mint`: a USDC payer on devnet-base funds the quote's execution (issuer mint, then
//!   the settlement transfer) and reports it (`POST /v1/route_executions/{id}/fund`);
//! - `ccip_mint`: a USDC payer on devnet-ethereum funds the quote that crosses with CCIP (the
//!   devnet burn/mint stand-in is off), then the mint and the settlement transfer.
//!
//! "Funding" is the payer's transaction mined (its receipt returned); the clock stops when a
//! status poll (every 20 ms) first reads `succeeded`. Quoting and accepting happen before the
//! clock starts. The gateway's clock follows the wall clock (a manual clock, past the deploy's
//! blocks, moved forward every 10 ms). Figures are printed, one JSON line per route kind;
//! nothing here asserts a time. Each kind's merchant must end holding exactly N × 25.00.

mod common;
mod deposit_token_support;
mod routing_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::signers::{local::PrivateKeySigner, Signer};
use common::devnet::{self, status_of, DevnetApp};
use deposit_token_support::*;
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use routing_support::*;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// Polls until the intent reads `succeeded`; answers when it first did.
async fn succeeded_at(setup: &DevnetApp, intent: &Value) -> Instant {
    let started = Instant::now();
    loop {
        if status_of(&setup.app, intent).await == "succeeded" {
            return Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "intent {} never succeeded",
            intent["id"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The institution pays 25.00 JPMD-DEV straight to `merchant` and reports it.
async fn pay_direct(setup: &DevnetApp, merchant: &str) -> Duration {
    let (app, base) = (&setup.app, &setup.chain);
    let paying = jpmd_intent(setup, merchant).await;
    let rails = base.institutional.as_ref().unwrap();
    let key: PrivateKeySigner = rails
        .institution_payer
        .private_key
        .expose_secret()
        .parse()
        .unwrap();
    let wallet = alloy::providers::ProviderBuilder::new()
        .wallet(key.clone())
        .connect(&base.rpc_url)
        .await
        .unwrap();
    let token = to_wire(&rails.deposit_tokens[TOKEN].address).unwrap();
    let receipt = IERC20::new(token, wallet)
        .transfer(merchant.parse().unwrap(), U256::from(25_000_000u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let funded = Instant::now();
    assert!(receipt.status());
    let hash = format!("{:#x}", receipt.transaction_hash);
    let id = paying["id"].as_str().unwrap();
    let text = rialto_gateway::api::executions::funding_message(id, &hash);
    let signature = key.sign_message(text.as_bytes()).await.unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/transactions"), app.sk())
        .json(&json!({"tx_hash": hash,
            "signature": format!("0x{}", hex::encode(signature.as_bytes()))}))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{}",
        answer.text().await.unwrap()
    );
    succeeded_at(setup, &paying).await - funded
}

/// A USDC payer (payer 0) on `chain_alias` pays 25.00 into `merchant` through the quote that
/// uses `venue`.
async fn pay_routed(setup: &DevnetApp, merchant: &str, chain_alias: &str, venue: &str) -> Duration {
    let app = &setup.app;
    let chain = if chain_alias == "devnet-base" {
        &setup.chain
    } else {
        &setup.other_chain
    };
    let paying = jpmd_intent(setup, merchant).await;
    let source = json!({"type": "wallet", "chain": chain_alias, "asset": "usdc"});
    let quote = quote_through(app, &paying, source, venue).await;
    let who = chain.payers[0].address.to_string();
    let accepted: Value = accept(app, &quote, json!({ "payer_address": who }))
        .await
        .json()
        .await
        .unwrap();
    let exec = &accepted["execution"];
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let hash = pay_usdc_hash(
        chain,
        0,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(dec(&exec["pay_to"]["amount"])),
    )
    .await;
    let funded = Instant::now();
    let answer = report_funding(app, chain, 0, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    succeeded_at(setup, &paying).await - funded
}

/// Nearest-rank percentile `p` (0–100) of sorted `ms`.
fn percentile(ms: &[u128], p: usize) -> u128 {
    let rank = (ms.len() * p).div_ceil(100).max(1);
    ms[rank - 1]
}

fn report(route: &str, mut ms: Vec<u128>) {
    ms.sort_unstable();
    let line = json!({"route": route, "n": ms.len(), "p50_ms": percentile(&ms, 50),
        "p99_ms": percentile(&ms, 99), "min_ms": ms[0], "max_ms": ms[ms.len() - 1]});
    println!("{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: bench/deposit_token_routes.sh"]
async fn bench_funding_to_succeeded_per_deposit_token_route_kind() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup =
        devnet::start_configured(1, Some(clock.clone() as Arc<dyn Clock>), None, None, |c| {
            c.sandbox.bank = true;
            c.sandbox.bank_usd = 1_000_000;
            c.sandbox.burn_mint_bridge = false;
        })
        .await;
    devnet::past_the_deploy(&setup, &clock).await;
    let ticking = clock.clone();
    tokio::spawn(async move {
        let mut last = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let now = Instant::now();
            let step = i64::try_from((now - last).as_millis()).unwrap_or(0);
            ticking.advance_ms(step);
            last += Duration::from_millis(u64::try_from(step).unwrap_or(0));
        }
    });
    let _don = don(&setup).await;
    let kinds: [(&str, Option<(&str, &str)>); 3] = [
        ("direct", None),
        ("usdc_mint", Some(("devnet-base", "sandbox-bank"))),
        ("ccip_mint", Some(("devnet-ethereum", "ccip"))),
    ];
    for (route, routed) in kinds {
        let merchant = onboarded_merchant(&setup).await;
        let mut ms = Vec::with_capacity(n);
        for _ in 0..n {
            let took = match routed {
                None => pay_direct(&setup, &merchant).await,
                Some((chain, venue)) => pay_routed(&setup, &merchant, chain, venue).await,
            };
            ms.push(took.as_millis());
        }
        let held = token_units(&setup.chain, &merchant).await;
        assert_eq!(held, U256::from(25_000_000u64) * U256::from(n));
        report(route, ms);
    }
}
