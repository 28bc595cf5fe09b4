//! Stuck legs replaced at their nonce, on anvil with automine off, with the in-memory journal
//! (`rialto_evm::devnet::replacement_check`; the gateway runs the same checks with its SQL
//! store in `gateway/tests/rail_conformance.rs`).

mod common;

use rialto_connectors::rail::MemoryJournal;
use rialto_evm::devnet::rail_harness::AnvilRailHarness;
use rialto_evm::devnet::replacement_check;

#[tokio::test]
async fn a_leg_left_unmined_is_replaced_at_its_nonce_or_cancelled_and_lands_once() {
    let harness = AnvilRailHarness::new(common::start().await).await;
    replacement_check::a_stuck_leg_is_replaced_at_its_nonce_and_lands_once(
        &harness,
        &MemoryJournal::new(),
    )
    .await;
    replacement_check::a_stuck_leg_configured_to_cancel_is_cancelled_and_moves_nothing(
        &harness,
        &MemoryJournal::new(),
    )
    .await;
}
