//! SIGKILL chaos for routed wallet payments: the real `rialto serve` binary on one SQLite file
//! and a local devnet. Payers pay USDT on devnet-ethereum for intents settling in USDC on
//! devnet-base (Uniswap V2 swap, devnet burn/mint bridge, settlement transfer), while the
//! gateway is killed at seeded random points and restarted on the same database. Afterwards
//! every execution succeeded, the merchant got exactly the settlement legs, the chains saw
//! exactly one swap, one bridge and one settlement per leg (nothing sent twice), no payer got
//! anything back unexpectedly, and the ledger balances with `rialto:routing` netting to zero.
//!
//! `CHAOS_SEED=<n>` replays another schedule of kills.

mod common;

use common::chaos::{self, Chaos, Rng};
use common::chaos_routes::{
    check_reconciliation, check_route_store, check_routing_ledger, pay_intent, wait_ended,
    wait_for_swap, wait_succeeded, RouteChains,
};

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SEED: u64 = 0x5eed_2027;
const INTENTS: usize = 6;
/// How long the executions may take to end once the kills are over.
const SETTLE: Duration = Duration::from_secs(120);

#[tokio::test]
async fn sigkilled_gateways_finish_every_routed_payment_and_send_every_leg_once() {
    let test_started = Instant::now();
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED);
    let Chaos {
        devnet,
        dir: _dir,
        url,
        created: _,
        gateway,
        api,
    } = chaos::start(
        "Route Chaos Shop",
        std::env::var_os("CHAOS_ROUTES_LOG").map(PathBuf::from),
    )
    .await;
    let base = devnet.manifest().chain("devnet-base").unwrap().clone();
    let other = devnet.manifest().chain("devnet-ethereum").unwrap().clone();
    let gateway = Arc::new(Mutex::new(gateway));
    gateway.lock().unwrap().start();

    // What the chains hold before.
    let chains = RouteChains::observe(&base, &other).await;

    // The kills: seeded, from the first funding transfer on.
    let mut rng = Rng(seed);
    let kills = 8 + rng.below(5);
    let gaps: Vec<u64> = (0..kills).map(|_| 50 + rng.below(1451)).collect();
    eprintln!("chaos_routes: seed {seed:#x}, {kills} kills, gaps (ms) {gaps:?}");
    let (go, ready) = tokio::sync::oneshot::channel::<()>();
    let killer = {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let _ = ready.await;
            let from = Instant::now();
            let mut at = Vec::new();
            for gap in gaps {
                tokio::time::sleep(Duration::from_millis(gap)).await;
                let mut g = gateway.lock().unwrap();
                g.kill();
                at.push(from.elapsed().as_millis());
                g.start();
            }
            at
        })
    };

    let mut funded = Vec::new();
    let mut paid = Vec::new();
    let mut go = Some(go);
    let paying = Instant::now();
    for i in 0..INTENTS {
        let (intent, exec, amount) =
            pay_intent(&api, &other, &chains.wallets, i, &mut funded, &mut go).await;
        wait_for_swap(&api, &exec).await;
        paid.push((intent, exec, amount));
    }
    eprintln!(
        "chaos_routes: {} intents paid ({} transfers) in {:?}",
        paid.len(),
        funded.len(),
        paying.elapsed()
    );
    let kill_times = killer.await.unwrap();
    eprintln!(
        "chaos_routes: {} SIGKILLs at (ms after the first transfer) {kill_times:?}",
        kill_times.len()
    );

    // Every execution ends, and every paid intent succeeds.
    let ended = wait_ended(&api, &funded, SETTLE).await;
    let intents: Vec<&str> = paid.iter().map(|(i, _, _)| i.as_str()).collect();
    wait_succeeded(&api, &intents, Duration::from_secs(30)).await;
    gateway.lock().unwrap().kill();

    let counts = chains.check_executions(&paid, &funded, &ended);
    chains.check_chains(&counts, &funded).await;
    check_route_store(&url, &funded, &other, counts.n("dex_swap")).await;
    check_routing_ledger(&url).await;
    // A reconciliation run finds every transfer of every route on chain, each explained by
    // exactly one record, crashes notwithstanding.
    let manifest = gateway.lock().unwrap().manifest.clone();
    check_reconciliation(&url, &manifest, 7 * funded.len() as u64);
    eprintln!(
        "chaos_routes: {} executions, {} kills, all ended {:?} after the last kill; {:?} in all",
        funded.len(),
        kill_times.len(),
        ended.values().map(|(_, d)| *d).max().unwrap_or_default(),
        test_started.elapsed()
    );
    drop(devnet);
}
