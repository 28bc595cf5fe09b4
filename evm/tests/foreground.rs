//! `run_devnet_foreground`, as `rialto devnet` runs it. Its own test binary, because it sends
//! SIGTERM to this process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::providers::{Provider, ProviderBuilder};
use rialto_evm::{locate_anvil, run_devnet_foreground, DevnetConfig, DevnetManifest};
use tokio::signal::unix::{signal, SignalKind};

fn config() -> DevnetConfig {
    let root = DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let anvil_bin = match locate_anvil(&root, explicit) {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    };
    DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    }
}

fn send_sigterm_to_self() {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn the_foreground_devnet_writes_its_manifest_and_stops_on_sigterm() {
    // Installing a handler first replaces SIGTERM's default action (exit) for this process, so
    // a signal that arrives before the devnet listens cannot kill the test binary.
    let _keep_alive = signal(SignalKind::terminate()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devnet.json");
    let task = {
        let path = path.clone();
        tokio::spawn(async move { run_devnet_foreground(&path, config()).await })
    };

    let started = Instant::now();
    while !path.exists() {
        assert!(
            !task.is_finished(),
            "devnet ended before writing its manifest"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no manifest after 60s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let manifest = DevnetManifest::read(&path).unwrap();
    assert_eq!(manifest.chains.len(), 2);
    let rpc = manifest.chains[0].rpc_url.clone();
    let p = ProviderBuilder::new().connect(&rpc).await.unwrap();
    assert_eq!(p.get_chain_id().await.unwrap(), 31337);

    // The devnet may not be listening yet the first time; repeat until it stops.
    for _ in 0..50 {
        send_sigterm_to_self();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if task.is_finished() {
            break;
        }
    }
    assert!(task.is_finished(), "devnet still running after SIGTERM");
    task.await.unwrap().unwrap();
    assert!(!path.exists(), "manifest removed once the chains are gone");
    assert!(p.get_chain_id().await.is_err(), "{rpc} still answers");
}
