//! Settlement in the devnet's permissioned deposit token (`JPMD-DEV`, docs/deposit-tokens.md),
//! through the gateway on two real anvil chains: the allow-list read on chain at creation, an
//! allow-listed institution paying directly, a payer off the allow-list told why before
//! anything moves, and the sandbox bank onboarding and minting on the contract itself.

mod common;

use alloy::primitives::{Address as WireAddress, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::{local::PrivateKeySigner, Signer};
use common::devnet::{self, DevnetApp};
use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_connectors::issuer::sandbox::SandboxBank;
use rialto_connectors::issuer::{
    Issuer, IssuerHttpClient, MintRequest, OnboardingRequest, RequestStatus, UncheckedMintGuard,
};
use rialto_core::ChainId;
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const TOKEN: &str = "JPMD-DEV";
/// Not on the allow-list at deploy (the suites' usual merchant address).
const OUTSIDER: &str = devnet::MERCHANT;

fn token(chain: &ChainManifest) -> WireAddress {
    let rails = chain.institutional.as_ref().expect("institutional rails");
    to_wire(&rails.deposit_tokens[TOKEN].address).unwrap()
}

async fn balance(chain: &ChainManifest, of: &str) -> U256 {
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    IERC20::new(token(chain), &node)
        .balanceOf(of.parse().unwrap())
        .call()
        .await
        .unwrap()
}

fn institution_key(chain: &ChainManifest) -> PrivateKeySigner {
    let rails = chain.institutional.as_ref().unwrap();
    rails
        .institution_payer
        .private_key
        .expose_secret()
        .parse()
        .unwrap()
}

async fn institution_wallet(chain: &ChainManifest) -> DynProvider {
    ProviderBuilder::new()
        .wallet(institution_key(chain))
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

/// A fresh merchant wallet onboarded by the sandbox bank (on chain, with the bank's key); keep
/// the returned bank alive while it is used.
async fn onboarded_merchant(setup: &DevnetApp) -> (String, IssuerHttpClient, SandboxBank) {
    let manifest = rialto_evm::DevnetManifest::read(&setup.manifest_path).unwrap();
    let (bank, config) = rialto_gateway::sandbox_bank::sandbox_bank_for(true, &manifest)
        .await
        .expect("bank starts")
        .expect("bank configured");
    let client = IssuerHttpClient::new(config).unwrap();
    let wallet = PrivateKeySigner::random().address().to_checksum(None);
    let chain: ChainId = setup.chain.chain_id.to_string().parse().unwrap();
    let done = client
        .onboard(&OnboardingRequest {
            reference: format!("onboard-{wallet}"),
            institution: "Merchant Ltd (test)".into(),
            chain,
            wallet: wallet.clone(),
        })
        .await
        .unwrap();
    assert_eq!(done.status, RequestStatus::Completed, "{done:?}");
    (wallet, client, bank)
}

async fn jpmd_intent(app: &TestApp, address: &str) -> reqwest::Response {
    app.post("/v1/payment_intents", app.sk())
        .json(&json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "jpmd-dev", "chain": "devnet-base", "address": address}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_settlement_address_off_the_deposit_tokens_allow_list_is_refused_before_any_intent_exists(
) {
    let setup = devnet::start(1).await;
    let app = &setup.app;
    let before = app.intent_count().await;
    let refused = jpmd_intent(app, OUTSIDER).await;
    let body = expect_error(refused, 400, "settlement_address_not_allowlisted").await;
    assert_eq!(body["param"], "settlement.address");
    assert_eq!(app.intent_count().await, before);
    // The same address settling in USDC is fine: only the permissioned token asks.
    let usdc = devnet::intent(app, "25.00").await;
    assert_eq!(usdc["status"], "awaiting_funds");
}

#[tokio::test]
async fn the_sandbox_bank_onboards_and_mints_on_the_devnet_contract_exactly() {
    let setup = devnet::start(1).await;
    let (wallet, bank, _server) = onboarded_merchant(&setup).await;
    let chain: ChainId = setup.chain.chain_id.to_string().parse().unwrap();
    let minted = bank
        .mint(
            &MintRequest {
                reference: "mint-test-1".into(),
                chain: chain.clone(),
                wallet: wallet.clone(),
                amount: Decimal::new(1234, 2),
            },
            &UncheckedMintGuard,
        )
        .await
        .unwrap();
    assert_eq!(minted.status, RequestStatus::Completed, "{minted:?}");
    assert_eq!(
        balance(&setup.chain, &wallet).await,
        U256::from(12_340_000u64)
    );
    // A wallet the bank never onboarded: the contract's allow-list refuses, nothing minted.
    let stranger = PrivateKeySigner::random().address().to_checksum(None);
    let refused = bank
        .mint(
            &MintRequest {
                reference: "mint-test-2".into(),
                chain,
                wallet: stranger.clone(),
                amount: Decimal::new(500, 2),
            },
            &UncheckedMintGuard,
        )
        .await
        .unwrap();
    assert_eq!(refused.status, RequestStatus::Rejected, "{refused:?}");
    assert_eq!(balance(&setup.chain, &stranger).await, U256::ZERO);
}

#[tokio::test]
async fn an_allow_listed_institution_pays_jpmd_dev_directly_and_the_merchant_holds_exactly_the_amount(
) {
    let setup = devnet::start(1).await;
    let app = &setup.app;
    let (merchant, _client, _server) = onboarded_merchant(&setup).await;
    let answer = jpmd_intent(app, &merchant).await;
    assert_eq!(answer.status(), 200);
    let intent: Value = answer.json().await.unwrap();
    assert_eq!(intent["settlement"]["asset"], "jpmd-dev");
    let receipt = IERC20::new(token(&setup.chain), institution_wallet(&setup.chain).await)
        .transfer(merchant.parse().unwrap(), U256::from(25_000_000u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let hash = format!("{:#x}", receipt.transaction_hash);
    let id = intent["id"].as_str().unwrap();
    let text = rialto_gateway::api::executions::funding_message(id, &hash);
    let signature = institution_key(&setup.chain)
        .sign_message(text.as_bytes())
        .await
        .unwrap();
    let report = app
        .post(&format!("/v1/payment_intents/{id}/transactions"), app.sk())
        .json(&json!({"tx_hash": hash,
            "signature": format!("0x{}", hex::encode(signature.as_bytes()))}))
        .send()
        .await
        .unwrap();
    assert!(
        report.status().is_success(),
        "{}",
        report.text().await.unwrap()
    );
    devnet::wait_for(app, &intent, "succeeded").await;
    assert_eq!(
        balance(&setup.chain, &merchant).await,
        U256::from(25_000_000u64)
    );
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn a_payer_wallet_off_the_allow_list_is_told_why_before_anything_moves() {
    let setup = devnet::start(1).await;
    let app = &setup.app;
    let (merchant, _client, _server) = onboarded_merchant(&setup).await;
    let intent: Value = jpmd_intent(app, &merchant).await.json().await.unwrap();
    let id = intent["id"].as_str().unwrap();
    let payer = setup.chain.payers[0].address.to_string();
    let before = balance(&setup.chain, &payer).await;
    // A deposit address is on no allow-list: the token could never reach it.
    let deposit = app
        .post(
            &format!("/v1/payment_intents/{id}/deposit_address"),
            app.sk(),
        )
        .send()
        .await
        .unwrap();
    expect_error(deposit, 400, "payment_method_unavailable").await;
    // An authorization from a wallet the bank never onboarded: refused with the reason,
    // before any relay.
    let valid_before = (intent["expires_at"].as_i64().unwrap()).to_string();
    let authorization = app
        .post(
            &format!("/v1/payment_intents/{id}/authorizations"),
            app.sk(),
        )
        .json(
            &json!({"from": payer, "value": "25000000", "valid_after": "0",
            "valid_before": valid_before, "nonce": format!("0x{}", "11".repeat(32)),
            "signature": format!("0x{}", "22".repeat(65))}),
        )
        .send()
        .await
        .unwrap();
    let body = expect_error(authorization, 400, "payer_not_allowlisted").await;
    assert_eq!(body["param"], "from");
    assert_eq!(balance(&setup.chain, &payer).await, before);
    assert_eq!(devnet::status_of(app, &intent).await, "awaiting_funds");
}
