//! The rail conformance suite of `rialto-connectors` (unchanged, generic over the rail) run
//! against `SolanaRail` on the local simnet (`rialto-solana-simnet`), with the suite's
//! in-memory journal.

use rialto_connectors::rail::conformance;
use rialto_solana::devnet::rail_harness::{SimnetRailHarness, HARNESS_SLOT_MS};
use rialto_solana::devnet::{simnet, SolanaDevnet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solana_rail_passes_the_rail_conformance_suite_on_the_simnet() {
    let bin = simnet::locate_for_tests().unwrap_or_else(|e| panic!("{e}"));
    let devnet = SolanaDevnet::start(&bin, HARNESS_SLOT_MS)
        .await
        .unwrap_or_else(|e| panic!("starting the Solana devnet: {e}"));
    let harness = SimnetRailHarness::new(devnet).await;
    conformance::run_all(&harness).await;
}
