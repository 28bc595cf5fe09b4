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
    // Listening before anything starts: a SIGTERM while the chains come up (a harness that
    // stops once the EVM manifest exists, while the simnet is still being funded) must stop
    // them too, not kill this process and leave anvil and the simnet running.
    let mut shutdown = Box::pin(shutdown_signal()?);
    let devnet = rialto_evm::Devnet::start(evm).await?;
    devnet.manifest().write(manifest)?;
    // Without the simnet binary the devnet still runs its EVM chains, and says so.
    let solana = match simnet_bin(solana) {
        Ok(bin) => tokio::select! {
            started = start_solana(&bin, manifest) => Some(started?),
            waited = &mut shutdown => return stop(devnet, None, manifest, waited),
        },
        Err(err) => {
            tracing::warn!(error = %err, "no Solana simnet: the devnet runs without its Solana chain");
            None
        }
    };
    let don = crate::devnet_bridges::spawn_don_stand_in(devnet.manifest()).await?;
    tracing::info!(manifest = %manifest.display(), solana = solana.is_some(), "devnet running; Ctrl-C to stop");
    let waited = shutdown.await;
    if let Some(don) = don {
        don.abort();
    }
    stop(devnet, solana, manifest, waited)
}

/// Stops the chains (the simnet by dropping it) and removes the manifest.
fn stop(
    devnet: rialto_evm::Devnet,
    solana: Option<SolanaDevnet>,
    manifest: &Path,
    waited: anyhow::Result<()>,
) -> anyhow::Result<()> {
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

/// SIGINT or SIGTERM. The handlers are installed when this is called (not when the future is
/// first polled), so a signal that arrives while the devnet starts is kept for the wait.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => Ok(()),
            _ = term.recv() => Ok(()),
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    Ok(async { Ok(tokio::signal::ctrl_c().await?) })
}
