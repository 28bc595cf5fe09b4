//! A gateway in sandbox mode on a fresh local devnet (two real anvil chains), and the reads the
//! chain suites share: balances on chain and an intent's status over the API.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::ProviderBuilder;
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use serde_json::{json, Value};

use super::{Db, TestApp};

/// Where sandbox intents of these suites settle.
pub const MERCHANT: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

/// Keep it alive for the whole test: dropping it stops the chains.
pub struct DevnetApp {
    pub app: TestApp,
    /// `devnet-base`, where the intents settle.
    pub chain: ChainManifest,
    /// `devnet-ethereum`.
    pub other_chain: ChainManifest,
    pub manifest_path: PathBuf,
    _devnet: Devnet,
    _dir: tempfile::TempDir,
}

/// A devnet and a gateway watching it with `confirmations`, polling every 50 ms.
pub async fn start(confirmations: u64) -> DevnetApp {
    start_clocked(confirmations, None).await
}

/// [`start`], with a clock the test moves (`None`: the system clock).
pub async fn start_clocked(
    confirmations: u64,
    clock: Option<std::sync::Arc<dyn rialto_gateway::clock::Clock>>,
) -> DevnetApp {
    start_full(confirmations, clock, None).await
}

/// [`start_clocked`], with the `solana` section of a started Solana simnet devnet written into
/// the manifest beside the anvil chains (as `rialto devnet` does).
pub async fn start_full(
    confirmations: u64,
    clock: Option<std::sync::Arc<dyn rialto_gateway::clock::Clock>>,
    solana: Option<&rialto_solana::devnet::manifest::SolanaManifest>,
) -> DevnetApp {
    start_wired(confirmations, clock, solana, None).await
}

/// [`start_full`], with the test mode's venues built by `venues` (see
/// [`super::VenueHook`]) instead of the sandbox wiring.
pub async fn start_wired(
    confirmations: u64,
    clock: Option<std::sync::Arc<dyn rialto_gateway::clock::Clock>>,
    solana: Option<&rialto_solana::devnet::manifest::SolanaManifest>,
    venues: Option<super::VenueHook>,
) -> DevnetApp {
    start_configured(confirmations, clock, solana, venues, |_| {}).await
}

/// [`start_wired`], with `tweak` applied to the gateway's configuration last (batch relaying
/// on, say).
pub async fn start_configured(
    confirmations: u64,
    clock: Option<std::sync::Arc<dyn rialto_gateway::clock::Clock>>,
    solana: Option<&rialto_solana::devnet::manifest::SolanaManifest>,
    venues: Option<super::VenueHook>,
    tweak: impl FnOnce(&mut rialto_gateway::config::Config),
) -> DevnetApp {
    let root = DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let anvil_bin = locate_anvil(&root, explicit).expect("anvil: run tools/devnet/install.sh");
    let devnet = Devnet::start(DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    })
    .await
    .expect("devnet starts");
    let dir = tempfile::tempdir().unwrap();
    let manifest_path = dir.path().join("devnet.json");
    devnet.manifest().write(&manifest_path).unwrap();
    if let Some(section) = solana {
        section.write_into(&manifest_path).unwrap();
    }
    let chain = devnet.manifest().chain("devnet-base").unwrap().clone();
    let other_chain = devnet.manifest().chain("devnet-ethereum").unwrap().clone();
    let manifest = manifest_path.display().to_string();
    let app = super::spawn_app_wired(
        Db::Sqlite,
        |c| {
            c.sandbox.devnet_manifest = manifest;
            c.sandbox.confirmations = confirmations;
            c.sandbox.poll_ms = 50;
            tweak(c);
        },
        clock,
        venues,
    )
    .await;
    DevnetApp {
        app,
        chain,
        other_chain,
        manifest_path,
        _devnet: devnet,
        _dir: dir,
    }
}

/// Moves a manual `clock` (read before the devnet started) two seconds past the newest block
/// of both chains. The sequencer mocks are "up since deployment" and a deploy's blocks can run
/// ahead of the wall clock, so a fixed step is not enough on a slow machine: an oracle judged
/// at or before the deploy's last block answers `oracle_unavailable`.
pub async fn past_the_deploy(setup: &DevnetApp, clock: &rialto_gateway::clock::ManualClock) {
    use alloy::providers::Provider;
    use rialto_gateway::clock::Clock;
    let mut newest_ms = 0i64;
    for chain in [&setup.chain, &setup.other_chain] {
        let provider = ProviderBuilder::new()
            .connect(&chain.rpc_url)
            .await
            .unwrap();
        let block = provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .expect("a latest block");
        let ms = i64::try_from(block.header.timestamp).unwrap() * 1000;
        newest_ms = newest_ms.max(ms);
    }
    let target = newest_ms.max(clock.now_ms()) + 2_000;
    clock.advance_ms(target - clock.now_ms());
}

/// `of`'s USDC balance on `chain`, in base units.
pub async fn usdc_balance(chain: &ChainManifest, of: &str) -> U256 {
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    IERC20::new(to_wire(&chain.tokens["USDC"].address).unwrap(), &node)
        .balanceOf(of.parse().unwrap())
        .call()
        .await
        .unwrap()
}

/// An intent for `amount` USD settling in USDC on `devnet-base` to [`MERCHANT`].
pub async fn intent(app: &TestApp, amount: &str) -> Value {
    app.create_intent(json!({"amount": amount, "currency": "usd",
        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}))
        .await
}

pub async fn status_of(app: &TestApp, intent: &Value) -> String {
    let id = intent["id"].as_str().unwrap();
    let body: Value = app.get_json(&format!("/v1/payment_intents/{id}")).await;
    body["status"].as_str().unwrap().to_owned()
}

/// Polls the intent until it reaches `want`; fails after 30 s.
pub async fn wait_for(app: &TestApp, intent: &Value, want: &str) {
    let started = Instant::now();
    loop {
        let status = status_of(app, intent).await;
        if status == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "intent {} stuck in {status}, wanted {want}",
            intent["id"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A wallet of the devnet's payer `payer` on `chain`.
pub async fn payer_wallet(chain: &ChainManifest, payer: usize) -> alloy::providers::DynProvider {
    use alloy::providers::Provider;
    use secrecy::ExposeSecret;
    let key: alloy::signers::local::PrivateKeySigner = chain.payers[payer]
        .private_key
        .expose_secret()
        .parse()
        .unwrap();
    ProviderBuilder::new()
        .wallet(key)
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

/// Payer `payer` sends `units` of USDC (base units) to `to`; asserts it was mined.
pub async fn pay_usdc(chain: &ChainManifest, payer: usize, to: &str, units: U256) {
    let receipt = IERC20::new(
        to_wire(&chain.tokens["USDC"].address).unwrap(),
        payer_wallet(chain, payer).await,
    )
    .transfer(to.parse().unwrap(), units)
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    assert!(receipt.status());
}

/// The deposit address of `intent` (`POST …/deposit_address`).
pub async fn deposit_address(app: &TestApp, intent: &Value) -> String {
    let id = intent["id"].as_str().unwrap();
    let deposit: Value = app
        .post(
            &format!("/v1/payment_intents/{id}/deposit_address"),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    deposit["address"].as_str().unwrap().to_owned()
}

/// `POST /v1/settings`; asserts it was accepted.
pub async fn settings(app: &TestApp, body: Value) {
    let answer = app
        .post("/v1/settings", app.sk())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    assert_eq!(
        status,
        200,
        "settings refused: {}",
        answer.text().await.unwrap()
    );
}

/// Payer `payer`'s proof that `tx_hash` pays intent `intent_id`: its EIP-191 signature of
/// `Rialto: fund <intent id> with <tx hash>`, hex.
pub async fn payer_proof(
    chain: &ChainManifest,
    payer: usize,
    intent_id: &str,
    tx_hash: &str,
) -> String {
    use alloy::signers::{local::PrivateKeySigner, Signer};
    use secrecy::ExposeSecret;
    let key: PrivateKeySigner = chain.payers[payer]
        .private_key
        .expose_secret()
        .parse()
        .unwrap();
    let text = rialto_gateway::api::executions::funding_message(intent_id, tx_hash);
    let signature = key.sign_message(text.as_bytes()).await.unwrap();
    format!("0x{}", hex::encode(signature.as_bytes()))
}
