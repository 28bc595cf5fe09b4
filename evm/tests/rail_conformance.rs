//! The rail conformance suite of `rialto-connectors` (unchanged, generic over the rail) run
//! against `EvmRail` on a real anvil chain of the devnet, with the suite's in-memory journal.
//! The gateway runs it once more with its SQL store as the journal
//! (`gateway/tests/rail_conformance.rs`).

mod common;

use rialto_connectors::rail::conformance;
use rialto_evm::devnet::rail_harness::AnvilRailHarness;

#[tokio::test]
async fn evm_rail_passes_the_rail_conformance_suite_on_anvil() {
    let harness = AnvilRailHarness::new(common::start().await).await;
    conformance::run_all(&harness).await;
}
