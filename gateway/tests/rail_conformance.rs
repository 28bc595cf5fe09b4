//! The rail conformance suite of `rialto-connectors`, unchanged, against `EvmRail` on the
//! devnet's anvil with the gateway's own SQL store (SQLite and PostgreSQL) as the rails'
//! journal: legs recorded in `chain_transfers` before anything is broadcast.

mod common;

use std::path::PathBuf;

use common::{fresh_store, Db};
use rialto_connectors::rail::conformance;
use rialto_connectors::rail::RailJournal;
use rialto_evm::devnet::rail_harness::AnvilRailHarness;
use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use rialto_gateway::chain::rail::StoreJournal;
use rialto_gateway::store::Store;

async fn evm_rail_passes_the_suite_with_the_sql_store_as_its_journal(db: Db) {
    let (store, _dir) = fresh_store(db).await;
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
    conformance::run_all(&harness).await;
}

#[tokio::test]
async fn evm_rail_passes_the_suite_with_the_sql_store_as_its_journal_sqlite() {
    evm_rail_passes_the_suite_with_the_sql_store_as_its_journal(Db::Sqlite).await;
}

#[tokio::test]
async fn evm_rail_passes_the_suite_with_the_sql_store_as_its_journal_postgres() {
    evm_rail_passes_the_suite_with_the_sql_store_as_its_journal(Db::Postgres).await;
}
