//! A merchant settling in the devnet's deposit token (`JPMD-DEV`, docs/deposit-tokens.md) paid
//! by a USDC payer through SmartFunding, on two real anvil chains: the sandbox bank mints the
//! token from Rialto's USD float there to the treasury's allow-listed wallet, the route's
//! settlement transfer pays the merchant, the bank's fee is booked, the books balance and
//! reconciliation explains every transfer (the mint is a `Transfer` from the zero address). A
//! float too small refuses the quote.

mod common;
mod routing_support;

use std::sync::Arc;

use alloy::primitives::U256;
use alloy::providers::ProviderBuilder;
use alloy::signers::local::PrivateKeySigner;
use common::devnet::{self, DevnetApp};
use common::{assert_ledger_balanced, expect_error};
use rialto_connectors::issuer::{OnboardingRequest, RequestStatus};
use rialto_core::ChainId;
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::ledger::Account;
use rialto_gateway::store::ledger::LedgerStore;
use routing_support::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

const TOKEN: &str = "JPMD-DEV";
const BANK: &str = "sandbox-bank";

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A devnet gateway with the sandbox bank on, its treasury's account opened with `usd`.
async fn with_bank(usd: u64) -> DevnetApp {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup =
        devnet::start_configured(1, Some(clock.clone() as Arc<dyn Clock>), None, None, |c| {
            c.sandbox.bank = true;
            c.sandbox.bank_usd = usd;
        })
        .await;
    devnet::past_the_deploy(&setup, &clock).await;
    setup
}

async fn token_units(chain: &ChainManifest, of: &str) -> U256 {
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
async fn onboarded_merchant(setup: &DevnetApp) -> String {
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

async fn jpmd_intent(setup: &DevnetApp, merchant: &str) -> Value {
    setup
        .app
        .create_intent(json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "jpmd-dev", "chain": "devnet-base", "address": merchant}}))
        .await
}

/// Sum per (account, asset) over every posting, and the posting kinds.
async fn books(
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

#[tokio::test]
async fn a_usdc_payer_pays_a_jpmd_dev_merchant_through_the_issuers_mint_from_rialtos_float() {
    let setup = with_bank(1_000_000).await;
    let (app, base) = (&setup.app, &setup.chain);
    let merchant = onboarded_merchant(&setup).await;
    let paying = jpmd_intent(&setup, &merchant).await;
    assert_eq!(paying["status"], "awaiting_funds", "{paying}");
    let payer = base.payers[0].address.to_string();
    let (quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    let legs = quote["legs"].as_array().unwrap();
    let kinds_quoted: Vec<&str> = legs.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds_quoted, ["issuer_mint"], "{quote}");
    assert_eq!(legs[0]["venue"], BANK, "{quote}");
    // 25.00 and the bank's 0.05 % (0.0125, rounded up to the cent).
    assert_eq!(dec(&quote["payer_amount"]), d("25.02"), "{quote}");
    assert_eq!(dec(&quote["merchant_amount"]), d("25.00"), "{quote}");
    assert_eq!(exec["pay_to"]["asset"], "USDC", "{exec}");
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let paid = dec(&exec["pay_to"]["amount"]);
    assert_eq!(paid, d("25.02"));
    let hash = pay_usdc_hash(
        base,
        0,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(paid),
    )
    .await;
    let answer = report_funding(app, base, 0, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("issuer_mint".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    wait_intent(app, &paying, "succeeded").await;
    // The mint's leg: the bank's transaction, exactly the amount, to the treasury.
    let mint = &done["legs"][0];
    assert_eq!(dec(&mint["received"]), d("25.00"), "{done}");
    assert!(
        mint["tx_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("0x")),
        "{done}"
    );
    // The merchant holds exactly the amount on chain; the treasury passed on all it minted.
    assert_eq!(
        token_units(base, &merchant).await,
        U256::from(25_000_000u64)
    );
    let hot = base.gateway_hot_wallet.address.to_string();
    assert_eq!(token_units(base, &hot).await, U256::ZERO);
    // The bank debited the float exactly the amount and its fee.
    let desk = app.state.engine.issuers[&false].clone();
    let float = desk.issuer.balance().await.unwrap().available;
    assert_eq!(float, d("1000000") - d("25.02"));
    let request = desk
        .issuer
        .request(mint["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (request.status, request.fee),
        (RequestStatus::Completed, d("0.02"))
    );
    // The books: the fee booked, the float's USD out, the payer's USDC now the treasury's,
    // nothing left on the route.
    let (sums, kinds) = books(&setup).await;
    for kind in [
        "route_funding",
        "issuer_mint",
        "issuer_fee",
        "payment",
        "settlement",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let sum = |account: &Account, asset: &str| {
        sums.get(&(account.to_string(), asset.to_owned()))
            .copied()
            .unwrap_or_default()
    };
    assert_eq!(sum(&Account::IssuerFees(BANK.into()), "usd"), d("0.02"));
    assert_eq!(sum(&Account::IssuerFloat(BANK.into()), "usd"), d("-25.02"));
    let treasury: Vec<_> = sums
        .iter()
        .filter(|((account, _), _)| account == "rialto:treasury")
        .collect();
    assert_eq!(treasury.len(), 1, "{treasury:?}");
    assert!(
        treasury[0].0 .1.contains("erc20"),
        "USDC on devnet-base: {treasury:?}"
    );
    assert_eq!(*treasury[0].1, d("25.02"));
    let routing: Vec<_> = sums
        .iter()
        .filter(|((account, _), _)| account == "rialto:routing")
        .collect();
    assert!(routing.iter().all(|(_, v)| v.is_zero()), "{routing:?}");
    assert_ledger_balanced(app).await;
    // Reconciliation: the payer's USDC in, the mint (from the zero address) and the merchant's
    // transfer, each explained; the mint by its `issuer_mint` posting.
    assert_reconciled(app, 3).await;
    // The fees report lists the bank's fee under the leg (the bank's request reference).
    let report: Value = app.get_json("/v1/reports/fees").await;
    let rows = report["data"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["type"] == "issuer_fee" && r["reference"] == mint["id"]),
        "{report:#}"
    );
}

#[tokio::test]
async fn a_float_too_small_for_the_mint_refuses_the_quote_and_mints_nothing() {
    let setup = with_bank(10).await;
    let app = &setup.app;
    let merchant = onboarded_merchant(&setup).await;
    let paying = jpmd_intent(&setup, &merchant).await;
    let id = paying["id"].as_str().unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/quotes"), app.sk())
        .json(&json!({"source": {"type": "wallet", "chain": "devnet-base", "asset": "usdc"}}))
        .send()
        .await
        .unwrap();
    let body = expect_error(answer, 400, "issuer_float_insufficient").await;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("10"), "{body}");
    let desk = app.state.engine.issuers[&false].clone();
    assert_eq!(desk.issuer.balance().await.unwrap().available, d("10"));
    assert_eq!(token_units(&setup.chain, &merchant).await, U256::ZERO);
    assert_eq!(devnet::status_of(app, &paying).await, "awaiting_funds");
}
