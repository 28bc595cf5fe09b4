//! Solana rail benchmarks on the devnet's simnet (`rialto-solana-simnet`: surfpool, a real
//! Solana JSON-RPC server on 127.0.0.1; USDC-like classic SPL Token mint, 6 decimals).
//!
//! 1. Latency from a payment's confirmation to its intent's `succeeded`, `N` payments one after
//!    another, for a payment found by its Solana Pay reference (the watcher's path) and for a
//!    reported signature with the payer's ed25519 proof. The clock starts when the payer's
//!    client sees the transaction `confirmed` (it polls `getSignatureStatuses` every 50 ms, so
//!    the true confirmation is up to 50 ms earlier).
//! 2. The reference watcher's throughput: with the chain worker stopped, `OPEN` intents carry
//!    a reference, `PAID` of them are paid by reference, then the watcher's passes run alone
//!    until every payment is bound: payments detected per second with `OPEN` open intents; and
//!    then one more pass with nothing new (what an idle poll costs with that many open).
//!
//! `SOLANA_SIMNET_BIN=… cargo run --release -p rialto-gateway --example solana_bench -- [N]
//! [OPEN] [PAID] [SLOT_MS] [POLL_MS]` (defaults 200 1000 200 400 20). Results:
//! docs/BENCHMARKS.md.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rialto_core::intent::PaymentStatus;
use rialto_gateway::api::{router, AppState};
use rialto_gateway::chain::{reference, worker};
use rialto_gateway::clock::{Clock, SystemClock};
use rialto_gateway::compliance::Compliance;
use rialto_gateway::config::Config;
use rialto_gateway::merchants::{create_merchant, NewMerchant};
use rialto_gateway::registry;
use rialto_gateway::server::{metrics_handle, open_store, sandbox_chains};
use rialto_gateway::store::Store;
use rialto_gateway::webhooks::Sealer;
use rialto_solana::devnet::manifest::devnet_keypair;
use rialto_solana::devnet::{sign_message_hex, simnet, SolanaDevnet};
use rialto_solana::sdk::{Keypair, Pubkey, Signer};
use serde_json::{json, Value};

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
    merchant: Pubkey,
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

    /// A 1.00 USDC intent settling on the simnet: its id and reference key.
    async fn intent(&self) -> anyhow::Result<(String, Pubkey)> {
        let body = self
            .post(
                "/v1/payment_intents",
                json!({"amount": "1.00", "currency": "usd", "settlement": {"asset": "usdc",
                    "chain": "devnet-solana", "address": self.merchant.to_string()}}),
            )
            .await?;
        let reference = body["payment_reference"].as_str().context("reference")?;
        Ok((
            body["id"].as_str().context("intent id")?.to_owned(),
            Pubkey::from_str(reference)?,
        ))
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

/// The gateway in-process on the simnet (SQLite, sandbox, 1 confirmation = `confirmed`).
async fn gateway(
    devnet: &SolanaDevnet,
    dir: &std::path::Path,
    poll_ms: u64,
) -> anyhow::Result<(AppState, Bench)> {
    let section = devnet.provision().await?;
    let manifest_path = dir.join("devnet.json");
    std::fs::write(&manifest_path, r#"{"chains": []}"#)?;
    section.write_into(&manifest_path)?;
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.join("bench.db").display());
    config.sandbox.devnet_manifest = manifest_path.display().to_string();
    config.sandbox.poll_ms = poll_ms;
    config.sandbox.confirmations = 1;
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
    let bench = Bench {
        http: reqwest::Client::new(),
        base,
        sk: merchant.secret_key.clone(),
        store,
        merchant: Keypair::new().pubkey(),
    };
    Ok((state, bench))
}

async fn latency(bench: &Bench, devnet: &SolanaDevnet, n: usize) -> anyhow::Result<()> {
    let payer = devnet_keypair("payer 1");
    let mut by_reference = Vec::with_capacity(n);
    for _ in 0..n {
        let (id, reference) = bench.intent().await?;
        devnet
            .pay_request(
                &payer,
                &bench.merchant,
                &devnet.usdc,
                1_000_000,
                &reference,
                None,
            )
            .await?;
        let confirmed = Instant::now();
        bench.wait_succeeded(&id).await?;
        by_reference.push(confirmed.elapsed());
    }
    report("by reference: confirmed -> succeeded", by_reference);
    let mut reported = Vec::with_capacity(n);
    for _ in 0..n {
        let (id, _) = bench.intent().await?;
        let signature = devnet
            .pay(&payer, &bench.merchant, &devnet.usdc, 1_000_000)
            .await?;
        let confirmed = Instant::now();
        // The payer's proof, as a wallet signs it (part of the measured path).
        let message = rialto_gateway::api::executions::funding_message(&id, &signature);
        bench
            .post(
                &format!("/v1/payment_intents/{id}/transactions"),
                json!({"tx_hash": signature, "signature": sign_message_hex(&payer, &message)}),
            )
            .await?;
        bench.wait_succeeded(&id).await?;
        reported.push(confirmed.elapsed());
    }
    report("reported signature: confirmed -> succeeded", reported);
    Ok(())
}

async fn throughput(
    state: &AppState,
    bench: &Bench,
    devnet: &SolanaDevnet,
    open: usize,
    paid: usize,
) -> anyhow::Result<()> {
    let mut intents = Vec::with_capacity(open);
    for _ in 0..open {
        intents.push(bench.intent().await?);
    }
    // Paid from three payers at once, a few in flight each (sent, then confirmed).
    let every = (open / paid.max(1)).max(1);
    let targets: Vec<&(String, Pubkey)> = intents.iter().step_by(every).take(paid).collect();
    let payers: Vec<Keypair> = (1..=3)
        .map(|n| devnet_keypair(&format!("payer {n}")))
        .collect();
    for chunk in targets.chunks(12) {
        let sends = chunk.iter().enumerate().map(|(k, (_, reference))| {
            devnet.pay_request(
                &payers[k % payers.len()],
                &bench.merchant,
                &devnet.usdc,
                1_000_000,
                reference,
                None,
            )
        });
        for sent in futures::future::join_all(sends).await {
            sent?;
        }
    }
    let chain = state
        .chains
        .get(false, &devnet.caip2)
        .context("the simnet chain")?;
    let started = Instant::now();
    let (mut bound, mut passes) = (0, 0);
    while bound < targets.len() {
        bound += reference::scan_references(&state.engine, chain, 0).await?;
        passes += 1;
        anyhow::ensure!(
            passes < 100,
            "bound {bound} of {} in 100 passes",
            targets.len()
        );
    }
    let elapsed = started.elapsed();
    let rate = (bound as u128 * 1_000_000) / elapsed.as_micros().max(1);
    println!(
        "watcher: {open} open intents, {bound} of {} payments bound in {passes} passes, {} ms: {rate} payments/s",
        targets.len(),
        ms(elapsed)
    );
    let idle = Instant::now();
    let more = reference::scan_references(&state.engine, chain, 0).await?;
    anyhow::ensure!(more == 0, "an idle pass bound {more}");
    println!(
        "idle pass with {} open intents: {} ms",
        open - bound,
        ms(idle.elapsed())
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let n = arg(1, 200) as usize;
    let open = arg(2, 1_000) as usize;
    let paid = arg(3, 200) as usize;
    let slot_ms = arg(4, 400);
    let poll_ms = arg(5, 20);
    let bin = simnet::locate_for_tests()?;
    let devnet = SolanaDevnet::start(&bin, slot_ms).await?;
    let dir = tempfile::tempdir()?;
    let (state, bench) = gateway(&devnet, dir.path(), poll_ms).await?;
    println!(
        "machine: {} cores; simnet slot {slot_ms} ms; poll {poll_ms} ms; 1 confirmation (confirmed)",
        std::thread::available_parallelism()?.get()
    );
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let chain_worker = tokio::spawn(worker::run_chain_worker(state.engine.clone(), stop_rx));
    latency(&bench, &devnet, n).await?;
    // Throughput: the watcher alone, the worker stopped.
    let _ = stop.send(true);
    let _ = chain_worker.await;
    throughput(&state, &bench, &devnet, open, paid).await
}
