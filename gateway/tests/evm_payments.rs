//! Paying an intent with a real token transfer on the local devnet (two anvil chains with
//! Circle's FiatToken USDC) and reporting its hash: the gateway reads the transfer from the
//! chain, binds the hash to one intent, and screens the sender it observed — an OFAC-listed
//! sender (impersonated on anvil) is blocked.
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use std::path::PathBuf;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address as WireAddress, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use common::{expect_error, spawn_app_with, Db, TestApp};
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const MERCHANT: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const TORNADO_ROUTER: &str = "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b";

async fn devnet() -> Devnet {
    let root = DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let anvil_bin = locate_anvil(&root, explicit).expect("anvil: run tools/devnet/install.sh");
    Devnet::start(DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    })
    .await
    .expect("devnet starts")
}

struct Setup {
    app: TestApp,
    chain: ChainManifest,
    _devnet: Devnet,
    _manifest: tempfile::TempDir,
}

async fn setup() -> Setup {
    let devnet = devnet().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devnet.json");
    devnet.manifest().write(&path).unwrap();
    let chain = devnet.manifest().chain("devnet-base").unwrap().clone();
    let manifest = path.display().to_string();
    let app = spawn_app_with(Db::Sqlite, |c| c.sandbox.devnet_manifest = manifest).await;
    Setup {
        app,
        chain,
        _devnet: devnet,
        _manifest: dir,
    }
}

fn usdc(chain: &ChainManifest) -> WireAddress {
    to_wire(&chain.tokens["USDC"].address).unwrap()
}

async fn payer(chain: &ChainManifest) -> DynProvider {
    let signer: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse().unwrap();
    ProviderBuilder::new()
        .wallet(signer)
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

/// Sends `units` of USDC (6 decimals) to `to` and returns the transaction hash.
async fn pay(provider: &DynProvider, chain: &ChainManifest, to: &str, units: u64) -> String {
    let to: WireAddress = to.parse().unwrap();
    let receipt = IERC20::new(usdc(chain), provider)
        .transfer(to, U256::from(units))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    format!("{:#x}", receipt.transaction_hash)
}

async fn intent(app: &TestApp, amount: &str) -> Value {
    app.create_intent(json!({"amount": amount, "currency": "usd",
        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}))
        .await
}

async fn submit(app: &TestApp, intent: &Value, body: Value, key: &str) -> reqwest::Response {
    let id = intent["id"].as_str().unwrap();
    app.post(&format!("/v1/payment_intents/{id}/transactions"), key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_transfer_on_chain_pays_exactly_one_intent_and_bad_reports_move_nothing() {
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let wallet = payer(chain).await;
    let first = app
        .create_intent(json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT},
            "metadata": {"order": "A-1"}}))
        .await;
    let hash = pay(&wallet, chain, MERCHANT, 25_000_000).await;

    // A wallet reports it with the publishable key and the client secret.
    let pk = app.merchant.publishable_key.clone();
    let no_secret = submit(app, &first, json!({"tx_hash": hash}), &pk).await;
    expect_error(no_secret, 404, "resource_missing").await;
    let paid = submit(
        app,
        &first,
        json!({"tx_hash": hash, "client_secret": first["client_secret"]}),
        &pk,
    )
    .await;
    assert_eq!(paid.status(), 200);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["status"], "funds_received", "{paid}");
    // The payer's view, as `GET` with the publishable key shows it: no merchant metadata.
    assert!(paid["metadata"].is_null(), "{paid}");
    // Reporting it again answers the same; it can never pay a second intent.
    let again: Value = submit(app, &first, json!({"tx_hash": hash}), app.sk())
        .await
        .json()
        .await
        .unwrap();
    // The same intent, wherever the worker has taken it since; the merchant sees it all.
    assert_eq!(again["id"], paid["id"], "{again}");
    assert_eq!(again["metadata"]["order"], "A-1", "{again}");
    assert!(
        ["funds_received", "settling", "succeeded"].contains(&again["status"].as_str().unwrap()),
        "{again}"
    );
    let second = intent(app, "25.00").await;
    let reused = submit(
        app,
        &second,
        json!({"tx_hash": hash.to_uppercase().replace("0X", "0x")}),
        app.sk(),
    )
    .await;
    expect_error(reused, 409, "transaction_already_used").await;

    // Too little, the wrong recipient, an unknown hash, a malformed one, the wrong chain.
    let short = pay(&wallet, chain, MERCHANT, 24_999_999).await;
    expect_error(
        submit(app, &second, json!({"tx_hash": short}), app.sk()).await,
        400,
        "transaction_amount_too_low",
    )
    .await;
    let elsewhere = pay(
        &wallet,
        chain,
        "0x000000000000000000000000000000000000dEaD",
        25_000_000,
    )
    .await;
    expect_error(
        submit(app, &second, json!({"tx_hash": elsewhere}), app.sk()).await,
        400,
        "transaction_mismatch",
    )
    .await;
    let unknown = format!("0x{}", "11".repeat(32));
    expect_error(
        submit(app, &second, json!({"tx_hash": unknown}), app.sk()).await,
        400,
        "transaction_not_found",
    )
    .await;
    expect_error(
        submit(app, &second, json!({"tx_hash": "0x1234"}), app.sk()).await,
        400,
        "transaction_invalid",
    )
    .await;
    expect_error(
        submit(
            app,
            &second,
            json!({"tx_hash": hash, "chain": "devnet-ethereum"}),
            app.sk(),
        )
        .await,
        400,
        "invalid_chain",
    )
    .await;
    let untouched: Value = app
        .get(
            &format!("/v1/payment_intents/{}", second["id"].as_str().unwrap()),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(untouched["status"], "awaiting_funds");

    // An overpayment counts in full: 5,000 USDC for a 25.00 intent needs travel-rule data.
    let third = intent(app, "25.00").await;
    let big = pay(&wallet, chain, MERCHANT, 5_000_000_000).await;
    let held: Value = submit(app, &third, json!({"tx_hash": big}), app.sk())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["status"], "in_review", "{held}");
}

#[tokio::test]
async fn funds_from_an_ofac_listed_sender_on_chain_are_frozen() {
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let wallet = payer(chain).await;
    // Give the listed address USDC and gas, then send from it as anvil lets us impersonate it.
    let tornado: WireAddress = TORNADO_ROUTER.parse().unwrap();
    pay(&wallet, chain, TORNADO_ROUTER, 10_000_000).await;
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    node.raw_request::<_, Value>(
        "anvil_setBalance".into(),
        (tornado, U256::from(10u128.pow(18))),
    )
    .await
    .unwrap();
    node.raw_request::<_, Value>("anvil_impersonateAccount".into(), (tornado,))
        .await
        .unwrap();
    let call = IERC20::transferCall {
        to: MERCHANT.parse().unwrap(),
        amount: U256::from(10_000_000u64),
    };
    let tx = TransactionRequest::default()
        .with_from(tornado)
        .with_to(usdc(chain))
        .with_input(call.abi_encode());
    let receipt = node
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let hash = format!("{:#x}", receipt.transaction_hash);
    let frozen = intent(app, "10.00").await;
    let answer: Value = submit(app, &frozen, json!({"tx_hash": hash}), app.sk())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "blocked", "{answer}");
    // The merchant is told in neutral words only; nothing names the list.
    let text = answer.to_string().to_lowercase();
    assert!(!text.contains("ofac") && !text.contains("sanction") && !text.contains("tornado"));
}
