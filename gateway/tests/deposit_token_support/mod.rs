//! Helpers the deposit-token route suites share (`deposit_token_routes`, the ignored
//! `deposit_token_bench`): a devnet gateway with the sandbox bank, an onboarded JPMD-DEV
//! merchant and its intent, the token's balances, the books, and a payment from USDC on
//! devnet-ethereum through the CCIP quote.
#![allow(dead_code)]

use std::sync::Arc;

use crate::common::devnet::{self, DevnetApp};
use crate::routing_support::*;
use alloy::primitives::U256;
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use rialto_connectors::issuer::{OnboardingRequest, RequestStatus};
use rialto_core::ChainId;
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::store::ledger::LedgerStore;
use rust_decimal::Decimal;
use serde_json::{json, Value};

pub const TOKEN: &str = "JPMD-DEV";
pub const BANK: &str = "sandbox-bank";

pub fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A devnet gateway with the sandbox bank on, its treasury's account opened with `usd`.
pub async fn with_bank(usd: u64) -> DevnetApp {
    with_bank_and(usd, true).await
}

/// [`with_bank`], the devnet burn/mint USDC stand-in offered or not (`burn_mint`): without it
/// USDC crosses between the anvil chains only through CCIP.
pub async fn with_bank_and(usd: u64, burn_mint: bool) -> DevnetApp {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup =
        devnet::start_configured(1, Some(clock.clone() as Arc<dyn Clock>), None, None, |c| {
            c.sandbox.bank = true;
            c.sandbox.bank_usd = usd;
            c.sandbox.burn_mint_bridge = burn_mint;
        })
        .await;
    devnet::past_the_deploy(&setup, &clock).await;
    setup
}

pub async fn token_units(chain: &ChainManifest, of: &str) -> U256 {
    let rails = chain.institutional.as_ref().expect("institutional rails");
    let token = to_wire(&rails.deposit_tokens[TOKEN].address).unwrap();
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    IERC20::new(token, &node)
        .balanceOf(of.parse().unwrap())
        .call()
        .await
        .unwrap()
}

/// A fresh merchant wallet the bank onboards (allow-listed on the token).
pub async fn onboarded_merchant(setup: &DevnetApp) -> String {
    let desk = setup.app.state.engine.issuers[&false].clone();
    let wallet = PrivateKeySigner::random().address().to_checksum(None);
    let chain: ChainId = setup.chain.chain_id.to_string().parse().unwrap();
    let done = desk
        .issuer
        .onboard(&OnboardingRequest {
            reference: format!("onboard-{wallet}"),
            institution: "Merchant Ltd (test)".into(),
            chain,
            wallet: wallet.clone(),
        })
        .await
        .unwrap();
    assert_eq!(done.status, RequestStatus::Completed, "{done:?}");
    wallet
}

pub async fn jpmd_intent(setup: &DevnetApp, merchant: &str) -> Value {
    setup
        .app
        .create_intent(json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "jpmd-dev", "chain": "devnet-base", "address": merchant}}))
        .await
}

/// Sum per (account, asset) over every posting, and the posting kinds.
pub async fn books(
    setup: &DevnetApp,
) -> (
    std::collections::BTreeMap<(String, String), Decimal>,
    Vec<String>,
) {
    let mut sums = std::collections::BTreeMap::new();
    let mut kinds = Vec::new();
    for posting in setup.app.store.all_postings().await.unwrap() {
        kinds.push(posting.kind.clone());
        for e in posting.entries {
            *sums
                .entry((e.account.to_string(), e.asset.clone()))
                .or_insert(Decimal::ZERO) += e.amount;
        }
    }
    (sums, kinds)
}

/// The first of `paying`'s quotes from `source` whose legs run through `venue`.
pub async fn quote_through(
    app: &crate::common::TestApp,
    paying: &Value,
    source: Value,
    venue: &str,
) -> Value {
    let id = paying["id"].as_str().unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/quotes"), app.sk())
        .json(&json!({ "source": source }))
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| {
            q["legs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["venue"] == venue)
        })
        .unwrap_or_else(|| panic!("no quote through {venue}: {body:#}"))
        .clone()
}

/// A USDC payer on devnet-ethereum pays a JPMD-DEV merchant on devnet-base through the quote
/// that crosses with CCIP: funded, then `succeeded`; the execution and the quote.
pub async fn pay_across_with_ccip(
    setup: &DevnetApp,
    paying: &Value,
    payer: usize,
) -> (Value, Value) {
    let (app, other) = (&setup.app, &setup.other_chain);
    let source = json!({"type": "wallet", "chain": "devnet-ethereum", "asset": "usdc"});
    let quote = quote_through(app, paying, source, "ccip").await;
    let who = other.payers[payer].address.to_string();
    let accepted: Value = accept(app, &quote, json!({ "payer_address": who }))
        .await
        .json()
        .await
        .unwrap();
    let exec = accepted["execution"].clone();
    assert_eq!(exec["pay_to"]["asset"], "USDC", "{accepted}");
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let hash = pay_usdc_hash(
        other,
        payer,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(dec(&exec["pay_to"]["amount"])),
    )
    .await;
    let answer = report_funding(app, other, payer, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let done = wait_execution(app, &exec_id, "succeeded").await;
    (done, quote)
}

/// The devnet DON stand-in, as `rialto serve` runs it beside a devnet gateway.
pub async fn don(setup: &DevnetApp) -> tokio::task::JoinHandle<()> {
    let manifest = rialto_evm::manifest::DevnetManifest::read(&setup.manifest_path).unwrap();
    rialto_gateway::devnet_bridges::spawn_don_stand_in(&manifest)
        .await
        .unwrap()
        .expect("the devnet has CCIP rails")
}
