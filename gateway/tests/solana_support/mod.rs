//! What the Solana suites share: a simnet with the devnet's mints and payers, and a gateway in
//! sandbox mode on it.

use crate::common::{spawn_app_full, Db, TestApp};
use rialto_gateway::config::Config;
use rialto_solana::devnet::manifest::SolanaManifest;
use rialto_solana::devnet::{simnet, SolanaDevnet};

pub struct Setup {
    pub app: TestApp,
    pub devnet: SolanaDevnet,
    _dir: tempfile::TempDir,
}

/// A simnet with the devnet's mints and payers, and a gateway in sandbox mode on it (one slot
/// of confirmation: `confirmed`).
pub async fn setup() -> Setup {
    setup_with(|_| {}).await
}

/// [`setup`] with the gateway's configuration changed by `tweak`.
pub async fn setup_with(tweak: impl FnOnce(&mut Config)) -> Setup {
    setup_clocked(tweak, None).await
}

/// [`setup_with`], the gateway reading the time from `clock` (a test's manual clock).
pub async fn setup_clocked(
    tweak: impl FnOnce(&mut Config),
    clock: Option<std::sync::Arc<dyn rialto_gateway::clock::Clock>>,
) -> Setup {
    let bin = simnet::locate_for_tests().unwrap_or_else(|e| panic!("{e}"));
    let devnet = SolanaDevnet::start(&bin, 200)
        .await
        .expect("the simnet starts");
    let section: SolanaManifest = devnet.provision().await.expect("the devnet is funded");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devnet.json");
    // A devnet of the Solana simnet alone: no anvil chain.
    std::fs::write(&path, r#"{"chains": []}"#).unwrap();
    section.write_into(&path).unwrap();
    let manifest = path.display().to_string();
    let app = spawn_app_full(
        Db::Sqlite,
        |c| {
            c.sandbox.devnet_manifest = manifest;
            c.sandbox.confirmations = 1;
            c.sandbox.poll_ms = 50;
            tweak(c);
        },
        clock,
    )
    .await;
    Setup {
        app,
        devnet,
        _dir: dir,
    }
}

/// Starts a run over the Solana chain as an operator; the run's JSON.
#[allow(dead_code)] // the suites that reconcile use it
pub async fn reconcile(app: &TestApp) -> serde_json::Value {
    let operator = rialto_gateway::cli_ops::create_operator(app.store.as_ref(), "ops", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = app
        .post("/v1/reconciliation_runs", &operator)
        .json(&serde_json::json!({"chains": ["devnet-solana"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let run: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    run
}
