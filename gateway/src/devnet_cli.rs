//! `rialto devnet`: the anvil chains (`rialto_evm::Devnet`) and, beside them, the local Solana
//! simnet (`rialto-solana-simnet`) with its stand-in USDC (SPL Token) and PYUSD (Token-2022)
//! mints and funded payers, all in one manifest; removed again on exit.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rialto_solana::devnet::{simnet, SolanaDevnet};

/// The simnet's slot time on the devnet (mainnet's is about 400 ms).
const DEVNET_SLOT_MS: u64 = 400;

/// The simnet binary: `explicit` (`--solana-simnet` / `SOLANA_SIMNET_BIN`), else the one built
/// beside this `rialto` binary (`cargo build -p rialto-solana-simnet` puts both in one folder).
fn simnet_bin(explicit: Option<PathBuf>) -> Result<PathBuf, simnet::SimnetError> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(simnet::SIMNET_BIN_NAME)));
    let root = rialto_evm::DevnetConfig::default_repo_root();
    simnet::locate_simnet(&root, explicit.or(beside))
}

/// Runs the devnet in the foreground until SIGINT/SIGTERM.
pub async fn run(
    manifest: &Path,
    evm: rialto_evm::DevnetConfig,
    solana: Option<PathBuf>,
) -> anyhow::Result<()> {
    let devnet = rialto_evm::Devnet::start(evm).await?;
    devnet.manifest().write(manifest)?;
    // Without the simnet binary the devnet still runs its EVM chains, and says so.
    let solana = match simnet_bin(solana) {
        Ok(bin) => Some(start_solana(&bin, manifest).await?),
        Err(err) => {
            tracing::warn!(error = %err, "no Solana simnet: the devnet runs without its Solana chain");
            None
        }
    };
    tracing::info!(manifest = %manifest.display(), solana = solana.is_some(), "devnet running; Ctrl-C to stop");
    let waited = wait_for_shutdown().await;
    devnet.stop();
    drop(solana);
    if let Err(e) = std::fs::remove_file(manifest) {
        tracing::warn!(manifest = %manifest.display(), error = %e, "could not remove the manifest");
    }
    tracing::info!("devnet stopped");
    waited
}

/// Starts the simnet, makes the mints, funds the payers and adds it all to the manifest.
async fn start_solana(bin: &Path, manifest: &Path) -> anyhow::Result<SolanaDevnet> {
    let solana = SolanaDevnet::start(bin, DEVNET_SLOT_MS)
        .await
        .context("starting the Solana simnet")?;
    let section = solana
        .provision()
        .await
        .context("funding the Solana devnet")?;
    section.write_into(manifest)?;
    tracing::info!(rpc = %section.rpc_url, chain = %section.chain_id, "Solana simnet ready");
    Ok(solana)
}

#[cfg(unix)]
async fn wait_for_shutdown() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => Ok(r?),
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_shutdown() -> anyhow::Result<()> {
    Ok(tokio::signal::ctrl_c().await?)
}
