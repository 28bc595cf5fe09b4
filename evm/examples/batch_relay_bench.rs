//! Chain-level relay throughput on the devnet: N signed EIP-3009 authorizations relayed at
//! once, each its own transaction ("single") or in `BatchRelayer` batches from several nonce
//! lanes ("batched"), through the rail (estimated, recorded in an in-memory journal, signed,
//! broadcast). Reports settled payments per second (first send to last receipt) and gas per
//! payment. Run by `bench/batch_relay.sh`; this is NOT the gateway: no HTTP, no database, no
//! screening (see docs/BENCHMARKS.md for what that means for the figures).
//!
//!   cargo run --release -p rialto-evm --example batch_relay_bench -- N BATCH LANES [MINING]
//!
//! MINING: `auto` (anvil mines each transaction as it arrives, the devnet's default) or a block
//! time in seconds (interval mining, as a real chain).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::Provider;
use rialto_connectors::rail::{
    ChainTransfer, LegAction, LegRequest, MemoryJournal, Rail, SigningKey,
};
use rialto_core::Address;
use rialto_evm::batch_relay::{self, BatchItem, GAS_PER_ITEM};
use rialto_evm::chain::EvmChain;
use rialto_evm::contracts::from_wire;
use rialto_evm::eip3009::{
    self, intent_nonce, read_domain, sign, Authorization, AuthorizationKind,
};
use rialto_evm::manifest::ChainManifest;
use rialto_evm::rail::EvmRail;
use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use secrecy::ExposeSecret;

struct Args {
    n: usize,
    batch: usize,
    lanes: usize,
    block_secs: Option<u64>,
}

fn args() -> Args {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| a.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    Args {
        n: num(0, 1000),
        batch: num(1, 100).max(1),
        lanes: num(2, 3).max(1),
        block_secs: a.get(3).and_then(|s| s.parse().ok()),
    }
}

async fn items(c: &ChainManifest, n: usize) -> Vec<BatchItem> {
    let p = rialto_evm::provider::provider(&c.rpc_url).unwrap();
    let usdc = c.tokens["USDC"].address;
    let domain = read_domain(&p, &usdc).await.unwrap();
    let now = p
        .get_block(alloy::eips::BlockId::latest())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    (0..n)
        .map(|i| {
            let payer = &c.payers[i % c.payers.len()];
            let signer = payer.private_key.expose_secret().parse().unwrap();
            let auth = Authorization {
                kind: AuthorizationKind::Transfer,
                from: payer.address,
                to: from_wire(alloy::primitives::Address::repeat_byte(
                    0x50 + (i % 8) as u8,
                )),
                value: U256::from(1_000 + i as u64),
                valid_after: 0,
                valid_before: now + 3600,
                nonce: intent_nonce(&format!("pi_bench_{i}"), domain.chain_id, &usdc),
            };
            let signature = sign(&signer, &domain, &auth).unwrap().to_vec();
            BatchItem { auth, signature }
        })
        .collect()
}

/// "123.4 settled/s, 12.34 s" in integers (no floating point in this repository).
fn rate(n: usize, ms: u128) -> String {
    let tenths = n as u128 * 10_000 / ms;
    format!(
        "{}.{} settled/s, {}.{:03} s",
        tenths / 10,
        tenths % 10,
        ms / 1000,
        ms % 1000
    )
}

fn request(
    from: SigningKey,
    reference: String,
    to: Address,
    data: Vec<u8>,
    fixed_units: Option<u64>,
) -> LegRequest {
    LegRequest {
        purpose: "bench",
        reference,
        payment_intent_id: None,
        from,
        action: LegAction::Call {
            to,
            value: 0,
            data,
            moves: None,
        },
        fees: rialto_connectors::rail::FeeLimits {
            fixed_units,
            ..Default::default()
        },
    }
}

/// Sends every request at once; waits for every receipt. Answers (milliseconds, total gas).
async fn run(chain: &EvmChain, requests: Vec<LegRequest>) -> (u128, u128, Vec<ChainTransfer>) {
    let journal = MemoryJournal::new();
    let rail = EvmRail::new(chain, &journal);
    let start = Instant::now();
    let legs: Vec<ChainTransfer> =
        futures::future::join_all(requests.iter().map(|r| rail.send(r, 1)))
            .await
            .into_iter()
            .map(|l| l.expect("sent"))
            .collect();
    let p = rialto_evm::provider::provider(chain.rpc_url()).unwrap();
    let mut gas = 0u128;
    for leg in &legs {
        let hash = leg.tx_hash.parse().unwrap();
        let receipt = loop {
            if let Some(r) = p.get_transaction_receipt(hash).await.unwrap() {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(receipt.status(), "{}", leg.tx_hash);
        gas += u128::from(receipt.gas_used);
    }
    (start.elapsed().as_millis().max(1), gas, legs)
}

#[tokio::main]
async fn main() {
    let a = args();
    let root = DevnetConfig::default_repo_root();
    let anvil_bin = locate_anvil(&root, std::env::var_os("ANVIL_BIN").map(PathBuf::from)).unwrap();
    let devnet = Devnet::start(DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    })
    .await
    .unwrap();
    let c = devnet.manifest().chains[0].clone();
    let p = rialto_evm::provider::provider(&c.rpc_url).unwrap();
    if let Some(secs) = a.block_secs {
        let _: serde_json::Value = p
            .raw_request("evm_setAutomine".into(), serde_json::json!([false]))
            .await
            .unwrap();
        let _: serde_json::Value = p
            .raw_request("evm_setIntervalMining".into(), serde_json::json!([secs]))
            .await
            .unwrap();
    }
    let chain = EvmChain::new(
        c.chain_id.to_string(),
        c.chain_id.evm_chain_id().unwrap(),
        c.alias.clone(),
        false,
        vec![c.rpc_url.clone()],
        1,
    );
    let mut lanes = vec![SigningKey(c.gateway_hot_wallet.private_key.clone())];
    lanes.extend(
        c.relay_lanes
            .iter()
            .map(|l| SigningKey(l.private_key.clone())),
    );
    lanes.truncate(a.lanes);
    let usdc = c.tokens["USDC"].address;
    let mining = a
        .block_secs
        .map_or("automine".to_owned(), |s| format!("{s} s blocks"));

    // Single: one transferWithAuthorization per transaction, from the lanes in turn.
    let single_items = items(&c, a.n).await;
    let single: Vec<LegRequest> = single_items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let data = eip3009::calldata(&it.auth, &it.signature).unwrap().to_vec();
            request(
                lanes[i % lanes.len()].clone(),
                format!("single_{i}"),
                usdc,
                data,
                None,
            )
        })
        .collect();
    let (secs, gas, _) = run(&chain, single).await;
    println!(
        "single  n={} lanes={} {mining}: {}, {} gas/payment",
        a.n,
        lanes.len(),
        rate(a.n, secs),
        gas / a.n as u128,
    );

    // Batched: BatchRelayer batches of `batch` items, from the lanes in turn. Fresh nonces
    // (another intent id prefix) so nothing is skipped as used.
    let relayer = c.batch_relayer.expect("the devnet deploys BatchRelayer");
    let mut batched_items = items(&c, a.n).await;
    for (i, it) in batched_items.iter_mut().enumerate() {
        it.auth.nonce = intent_nonce(&format!("pi_bench_b_{i}"), chain.chain_id, &usdc);
        let payer = &c.payers[i % c.payers.len()];
        let signer = payer.private_key.expose_secret().parse().unwrap();
        let domain = read_domain(&p, &usdc).await.unwrap();
        it.signature = sign(&signer, &domain, &it.auth).unwrap().to_vec();
    }
    let chunks: Vec<&[BatchItem]> = batched_items.chunks(a.batch).collect();
    let batches: Vec<LegRequest> = chunks
        .iter()
        .enumerate()
        .map(|(b, chunk)| {
            let data = batch_relay::calldata(&usdc, GAS_PER_ITEM, chunk)
                .unwrap()
                .to_vec();
            // As the gateway sends them: a computed gas limit, no estimate.
            let units = batch_relay::gas_limit(GAS_PER_ITEM, chunk.len(), data.len());
            request(
                lanes[b % lanes.len()].clone(),
                format!("batch_{b}"),
                relayer,
                data,
                Some(units),
            )
        })
        .collect();
    let (secs, gas, legs) = run(&chain, batches).await;
    let mut relayed = 0;
    for (leg, chunk) in legs.iter().zip(&chunks) {
        let (_, logs) = batch_relay::receipt_logs(&c.rpc_url, &leg.tx_hash)
            .await
            .unwrap()
            .unwrap();
        relayed += batch_relay::outcomes(&logs, &relayer, &usdc, chunk)
            .unwrap()
            .iter()
            .filter(|o| o.is_relayed())
            .count();
    }
    assert_eq!(relayed, a.n, "every item of every batch relayed");
    println!(
        "batched n={} batch={} lanes={} {mining}: {}, {} gas/payment",
        a.n,
        a.batch,
        lanes.len(),
        rate(a.n, secs),
        gas / a.n as u128,
    );
    devnet.stop();
}
