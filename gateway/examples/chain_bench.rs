//! EVM rail benchmarks on a real local devnet (two anvil chains, Circle's FiatToken USDC).
//!
//! 1. Latency from a payment's inclusion in a block to its intent's `succeeded`, 1
//!    confirmation, `N` payments one after another, for a reported transfer and for a deposit
//!    address (detected by the watcher, then gas-funded and swept to the merchant).
//! 2. The deposit watcher's throughput on a busy chain: `BUSY` USDC transfers in blocks of 500,
//!    of which one per intent goes to one of `DEPOSITS` deposit addresses; the scanner catches
//!    up from the first of those blocks, and must claim every deposit and nothing else.
//!
//! `cargo run --release -p rialto-gateway --example chain_bench -- [N] [BUSY] [DEPOSITS] [POLL_MS]`
//! (defaults 200 10000 1000 20). Results: docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use rialto_core::address::Address;
use rialto_core::intent::PaymentStatus;
use rialto_core::ChainNamespace;
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::sender::{self, CallSpec, Fees};
use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use rialto_gateway::api::{router, AppState};
use rialto_gateway::chain::{watcher, worker};
use rialto_gateway::clock::{Clock, SystemClock};
use rialto_gateway::compliance::Compliance;
use rialto_gateway::config::Config;
use rialto_gateway::merchants::{create_merchant, NewMerchant};
use rialto_gateway::registry;
use rialto_gateway::server::{metrics_handle, open_store, sandbox_chains};
use rialto_gateway::store::Store;
use rialto_gateway::webhooks::Sealer;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const MERCHANT: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// The `per_mille`th sample (nearest rank).
fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    let rank = (sorted.len() * per_mille).div_ceil(1000);
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with one decimal, without floating point.
fn ms(d: Duration) -> String {
    let us = d.as_micros();
    format!("{}.{}", us / 1000, (us % 1000) / 100)
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label}: n={} p50={} ms p99={} ms max={} ms",
        samples.len(),
        ms(percentile(&samples, 500)),
        ms(percentile(&samples, 990)),
        ms(samples[samples.len() - 1]),
    );
}

struct Bench {
    http: reqwest::Client,
    base: String,
    sk: String,
    store: Arc<dyn Store>,
}

impl Bench {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let answer = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.sk)
            .json(&body)
            .send()
            .await?;
        let status = answer.status();
        let body: Value = answer.json().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {body}");
        Ok(body)
    }

    async fn intent(&self, amount: &str) -> anyhow::Result<String> {
        let body = self
            .post(
                "/v1/payment_intents",
                json!({"amount": amount, "currency": "usd",
                    "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}),
            )
            .await?;
        Ok(body["id"].as_str().context("intent id")?.to_owned())
    }

    async fn wait_succeeded(&self, id: &str) -> anyhow::Result<()> {
        let id = id.parse().map_err(|_| anyhow::anyhow!("intent id"))?;
        let started = Instant::now();
        loop {
            let intent = self
                .store
                .get_intent_unscoped(&id)
                .await?
                .context("intent")?;
            if intent.status == PaymentStatus::Succeeded {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "stuck in {}",
                intent.status
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

async fn pay(
    wallet: &DynProvider,
    usdc: alloy::primitives::Address,
    to: &str,
    units: u64,
) -> anyhow::Result<String> {
    let receipt = IERC20::new(usdc, wallet)
        .transfer(to.parse()?, U256::from(units))
        .send()
        .await?
        .get_receipt()
        .await?;
    anyhow::ensure!(receipt.status(), "payment reverted");
    Ok(format!("{:#x}", receipt.transaction_hash))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = arg(1, 200) as usize;
    let busy = arg(2, 10_000) as usize;
    let deposits = arg(3, 1_000) as usize;
    let poll_ms = arg(4, 20);

    let root = DevnetConfig::default_repo_root();
    let anvil_bin = locate_anvil(&root, std::env::var_os("ANVIL_BIN").map(PathBuf::from))?;
    let devnet = Devnet::start(DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let manifest_path = dir.path().join("devnet.json");
    devnet.manifest().write(&manifest_path)?;
    let chain = devnet
        .manifest()
        .chain("devnet-base")
        .context("devnet-base")?
        .clone();
    let caip2 = chain.chain_id.to_string();

    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    config.sandbox.devnet_manifest = manifest_path.display().to_string();
    config.sandbox.poll_ms = poll_ms;
    config.rate_limit.per_second = 100_000;
    config.rate_limit.burst = 100_000;
    let registry = Arc::new(registry::builtin()?);
    let store: Arc<dyn Store> = Arc::new(open_store(&config, registry.clone()).await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let merchant = create_merchant(
        store.as_ref(),
        &registry,
        &NewMerchant {
            name: "Bench".into(),
            settlement: None,
            live_keys: false,
            country: None,
        },
        clock.now_ms(),
    )
    .await?;
    let chains = sandbox_chains(&config, &registry, clock.clone())?;
    let http = rialto_gateway::http_client::outbound(rialto_gateway::http_client::CONNECT_TIMEOUT)?;
    let compliance = Arc::new(Compliance::new(&config.compliance, http)?);
    let sealer = Arc::new(Sealer::from_base64(&Sealer::generate_key())?);
    let state = AppState::new(
        store.clone(),
        registry,
        Arc::new(config),
        clock,
        metrics_handle(),
        sealer,
        compliance,
    )
    .with_chains(chains);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = router(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let chain_worker = tokio::spawn(worker::run_chain_worker(state.engine.clone(), stop_rx));
    let bench = Bench {
        http: reqwest::Client::new(),
        base,
        sk: merchant.secret_key.clone(),
        store: store.clone(),
    };

    let payer: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse()?;
    let wallet = ProviderBuilder::new()
        .wallet(payer.clone())
        .connect(&chain.rpc_url)
        .await?
        .erased();
    let usdc = to_wire(&chain.tokens["USDC"].address)?;

    println!(
        "machine: {} cores; poll {poll_ms} ms; 1 confirmation",
        std::thread::available_parallelism()?.get()
    );
    let mut reported = Vec::with_capacity(n);
    for _ in 0..n {
        let id = bench.intent("1.00").await?;
        let hash = pay(&wallet, usdc, MERCHANT, 1_000_000).await?;
        let included = Instant::now();
        // The payer's proof, as a wallet signs it (part of the measured path).
        let text = rialto_gateway::api::executions::funding_message(&id, &hash);
        let signature = alloy::signers::SignerSync::sign_message_sync(&payer, text.as_bytes())?;
        bench
            .post(
                &format!("/v1/payment_intents/{id}/transactions"),
                json!({"tx_hash": hash,
                    "signature": format!("0x{}", hex::encode(signature.as_bytes()))}),
            )
            .await?;
        bench.wait_succeeded(&id).await?;
        reported.push(included.elapsed());
    }
    report("reported transfer: inclusion -> succeeded", reported);
    let mut swept = Vec::with_capacity(n);
    for _ in 0..n {
        let id = bench.intent("1.00").await?;
        let deposit = bench
            .post(
                &format!("/v1/payment_intents/{id}/deposit_address"),
                json!({}),
            )
            .await?;
        let address = deposit["address"].as_str().context("address")?.to_owned();
        pay(&wallet, usdc, &address, 1_000_000).await?;
        let included = Instant::now();
        bench.wait_succeeded(&id).await?;
        swept.push(included.elapsed());
    }
    report(
        "deposit address: inclusion -> succeeded (detect, gas, sweep)",
        swept,
    );

    // Throughput: stop the worker, build a busy stretch of chain, then scan it alone.
    let _ = stop.send(true);
    let _ = chain_worker.await;
    let mut targets = Vec::with_capacity(deposits);
    for _ in 0..deposits {
        let id = bench.intent("0.01").await?;
        let deposit = bench
            .post(
                &format!("/v1/payment_intents/{id}/deposit_address"),
                json!({}),
            )
            .await?;
        targets.push(deposit["address"].as_str().context("address")?.to_owned());
    }
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await?
        .erased();
    let _: Value = node.raw_request("evm_setAutomine".into(), (false,)).await?;
    let start_block = node.get_block_number().await? + 1;
    let signers: Vec<PrivateKeySigner> = chain
        .payers
        .iter()
        .map(|p| p.private_key.expose_secret().parse())
        .collect::<Result<_, _>>()?;
    let mut nonces = Vec::new();
    for s in &signers {
        nonces.push(node.get_transaction_count(s.address()).await?);
    }
    let fees = Fees {
        max_fee_per_gas: 50_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
    };
    let chain_id = chain.chain_id.to_string()[7..].parse::<u64>()?;
    let token = chain.tokens["USDC"].address;
    let elsewhere = Address::parse(
        "0x000000000000000000000000000000000000bEEF",
        ChainNamespace::Eip155,
    )?;
    let every = busy / deposits.max(1);
    let mut sent_to_deposits = 0;
    for i in 0..busy {
        let k = i % signers.len();
        let to = if i % every.max(1) == 0 && sent_to_deposits < deposits {
            sent_to_deposits += 1;
            Address::parse(&targets[sent_to_deposits - 1], ChainNamespace::Eip155)?
        } else {
            elsewhere
        };
        let spec = CallSpec {
            chain_id,
            to: token,
            value: 0,
            data: sender::erc20_transfer_data(&to, 10_000)?,
            gas_limit: 100_000,
        };
        let signed = sender::sign_call(&signers[k], &spec, nonces[k], fees)?;
        nonces[k] += 1;
        let raw = alloy::hex::decode(signed.raw.trim_start_matches("0x"))?;
        let _ = node.send_raw_transaction(&raw).await?;
        if (i + 1) % 500 == 0 {
            let _: Value = node.raw_request("evm_mine".into(), ()).await?;
        }
    }
    let _: Value = node.raw_request("evm_mine".into(), ()).await?;
    let _: Value = node.raw_request("evm_setAutomine".into(), (true,)).await?;
    let head = node.get_block_number().await?;
    let before = node
        .get_block_by_number((start_block - 1).into())
        .await?
        .context("block")?;
    store
        .set_chain_cursor(
            &caip2,
            start_block - 1,
            &format!("{:#x}", before.header.hash),
            0,
        )
        .await?;
    let evm_chain = state.chains.get(false, &caip2).context("chain")?;
    let started = Instant::now();
    let (mut logs, mut claimed, mut blocks) = (0, 0, 0);
    loop {
        let pass = watcher::scan_deposits(&state, evm_chain, 0).await?;
        logs += pass.logs;
        claimed += pass.claimed;
        blocks += pass.blocks;
        if pass.blocks == 0 {
            break;
        }
    }
    let elapsed = started.elapsed();
    let rate = (logs as u128 * 1_000_000) / elapsed.as_micros().max(1);
    println!(
        "watcher: {blocks} blocks ({}..={head}), {logs} Transfer logs, {claimed} deposits claimed of {sent_to_deposits} sent, in {} ms: {rate} transfers/s",
        start_block,
        ms(elapsed)
    );
    anyhow::ensure!(
        claimed == sent_to_deposits,
        "claimed {claimed} of {sent_to_deposits}"
    );
    devnet.stop();
    Ok(())
}
