//! The rail conformance suite of `rialto-connectors`, unchanged, against `EvmRail` on the
//! devnet's anvil with the gateway's own SQL store (SQLite and PostgreSQL) as the rails'
//! journal: legs recorded in `chain_transfers` before anything is broadcast.

mod common;

use std::path::PathBuf;

use common::{fresh_store, Db};
use rialto_connectors::rail::conformance;
use rialto_connectors::rail::RailJournal;
use rialto_evm::devnet::rail_harness::AnvilRailHarness;
use rialto_evm::devnet::replacement_check;
use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use rialto_gateway::chain::rail::StoreJournal;
use rialto_gateway::store::Store;

async fn harness(
    db: Db,
) -> (
    AnvilRailHarness,
    &'static dyn Store,
    Option<tempfile::TempDir>,
) {
    let (store, dir) = fresh_store(db).await;
    // The harness outlives every journal it hands out: the store lives as long as the test.
    let store: &'static dyn Store = Box::leak(Box::new(store.as_ref().clone()));
    let root = DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let anvil_bin = locate_anvil(&root, explicit).expect("anvil: run tools/devnet/install.sh");
    let devnet = Devnet::start(DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    })
    .await
    .expect("devnet starts");
    let journals = Box::new(move || Box::new(StoreJournal(store)) as Box<dyn RailJournal>);
    let harness = AnvilRailHarness::with_journals(devnet, journals).await;
    (harness, store, dir)
}

async fn evm_rail_passes_the_suite_with_the_sql_store_as_its_journal(db: Db) {
    let (harness, _store, _dir) = harness(db).await;
    conformance::run_all(&harness).await;
}

/// The stuck-leg checks of `rialto_evm::devnet::replacement_check` with the SQL store: the
/// ladder in `chain_transfer_replacements`, the landed replacement made the leg's
/// transaction, and the leg found by any of its hashes.
async fn stuck_legs_are_replaced_at_their_nonce_with_the_sql_store(db: Db) {
    let (harness, store, _dir) = harness(db).await;
    let journal = StoreJournal(store);
    replacement_check::a_stuck_leg_is_replaced_at_its_nonce_and_lands_once(&harness, &journal)
        .await;
    replacement_check::a_stuck_leg_configured_to_cancel_is_cancelled_and_moves_nothing(
        &harness, &journal,
    )
    .await;
    let chain = &harness.chain().caip2;
    for reference in ["speed_up", "cancel"] {
        let leg = store
            .get_chain_transfer("replacement_check", reference)
            .await
            .unwrap()
            .unwrap();
        let ladder = store
            .chain_transfer_replacements(&leg.draft.leg_id)
            .await
            .unwrap();
        for r in &ladder {
            let found = store
                .chain_transfer_by_hash(chain, &r.tx_hash)
                .await
                .unwrap()
                .expect("a replacement's hash names its leg");
            assert_eq!(found.draft.leg_id, leg.draft.leg_id);
        }
    }
}

#[tokio::test]
async fn stuck_legs_are_replaced_at_their_nonce_with_the_sql_store_sqlite() {
    stuck_legs_are_replaced_at_their_nonce_with_the_sql_store(Db::Sqlite).await;
}

#[tokio::test]
async fn stuck_legs_are_replaced_at_their_nonce_with_the_sql_store_postgres() {
    stuck_legs_are_replaced_at_their_nonce_with_the_sql_store(Db::Postgres).await;
}

#[tokio::test]
async fn evm_rail_passes_the_suite_with_the_sql_store_as_its_journal_sqlite() {
    evm_rail_passes_the_suite_with_the_sql_store_as_its_journal(Db::Sqlite).await;
}

#[tokio::test]
async fn evm_rail_passes_the_suite_with_the_sql_store_as_its_journal_postgres() {
    evm_rail_passes_the_suite_with_the_sql_store_as_its_journal(Db::Postgres).await;
}
