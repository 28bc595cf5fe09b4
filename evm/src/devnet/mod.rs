//! The local devnet: two anvil chains (the Ethereum and Base roles of the sandbox) with the
//! sandbox tokens, Chainlink mock feeds and Uniswap V2 deployed and funded, then the
//! institutional rails (the `JPMD-DEV` deposit token stand-in, reserve feeds, Chainlink's CCIP
//! router over devnet stand-ins; `docs/deposit-tokens.md`), described by a [`DevnetManifest`].
//!
//! Every fresh start yields the same addresses: the deployer (anvil #9) starts at nonce 0 on
//! each chain and sends the same transactions in the same order. The four token addresses are
//! also written in `data/assets/sandbox.json`; the start fails loudly if they differ.

pub(crate) mod accounts;
mod anvil;
mod artifact;
mod deploy;
pub mod rail_harness;
pub mod replacement_check;
mod sandbox;
mod tx;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use anvil::{locate_anvil, AnvilProcess, ANVIL_REPO_PATH};

use crate::manifest::DevnetManifest;
use crate::EvmError;
use accounts::SandboxAccounts;
use artifact::ArtifactDir;
use deploy::ChainPlan;
use sandbox::SandboxExpectations;

/// One devnet chain: its EIP-155 id and the alias `data/assets/chains.json` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnetChain {
    pub chain_id: u64,
    pub alias: String,
}

/// How to start the devnet. Paths are explicit: this crate reads no environment; callers
/// (the `rialto` CLI, tests) decide where anvil and the repository files are.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    pub anvil_bin: PathBuf,
    /// `contracts/artifacts` of the repository.
    pub contracts_dir: PathBuf,
    /// `data/assets/sandbox.json`, whose token addresses the deploy must reproduce.
    pub sandbox_file: PathBuf,
    pub chains: Vec<DevnetChain>,
    /// How long one anvil may take to answer its first request.
    pub startup_timeout: Duration,
}

impl DevnetConfig {
    /// The repository's own files, the pinned anvil from `tools/devnet/install.sh`, and the
    /// two sandbox chains of `chains.json`.
    pub fn for_repo(repo_root: &Path) -> Self {
        Self {
            anvil_bin: repo_root.join(ANVIL_REPO_PATH),
            contracts_dir: repo_root.join("contracts/artifacts"),
            sandbox_file: repo_root.join("data/assets/sandbox.json"),
            chains: vec![
                DevnetChain {
                    chain_id: 31337,
                    alias: "devnet-ethereum".into(),
                },
                DevnetChain {
                    chain_id: 31338,
                    alias: "devnet-base".into(),
                },
            ],
            startup_timeout: Duration::from_secs(20),
        }
    }

    /// The repository this crate was built from (`evm/..`); right for tests and `cargo run`,
    /// while an installed binary should pass its own root to [`DevnetConfig::for_repo`].
    pub fn default_repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self::for_repo(&Self::default_repo_root())
    }
}

/// A running devnet. Dropping it kills (and reaps) every anvil it started.
#[derive(Debug)]
pub struct Devnet {
    nodes: Vec<AnvilProcess>,
    manifest: DevnetManifest,
}

impl Devnet {
    /// Starts one anvil per configured chain and deploys on all of them concurrently. Not
    /// idempotent against a running chain (it refuses a deployer whose nonce is not 0), but
    /// deterministic: each fresh start produces the same addresses. On any error the anvils
    /// already started are killed before returning.
    pub async fn start(config: DevnetConfig) -> Result<Self, EvmError> {
        crate::provider::install_crypto_provider();
        let sandbox = SandboxExpectations::load(&config.sandbox_file)?;
        let accounts = SandboxAccounts::load()?;
        let artifacts = ArtifactDir::new(&config.contracts_dir);
        if !config.anvil_bin.is_file() {
            return Err(EvmError::AnvilNotFound {
                path: config.anvil_bin.clone(),
            });
        }
        let starts = config
            .chains
            .iter()
            .map(|c| AnvilProcess::start(&config.anvil_bin, c.chain_id, config.startup_timeout));
        let nodes = futures::future::try_join_all(starts).await?;
        let deploys = config.chains.iter().zip(&nodes).map(|(chain, node)| {
            deploy::deploy_chain(ChainPlan {
                chain_id: chain.chain_id,
                alias: &chain.alias,
                rpc_url: node.rpc_url(),
                artifacts: &artifacts,
                accounts: &accounts,
                sandbox: &sandbox,
                peers: &config.chains,
            })
        });
        let chains = futures::future::try_join_all(deploys).await?;
        for (chain, node) in chains.iter().zip(&nodes) {
            tracing::info!(chain = %chain.chain_id, alias = %chain.alias, rpc = %chain.rpc_url, pid = node.pid(), "devnet chain ready");
        }
        Ok(Self {
            nodes,
            manifest: DevnetManifest { chains },
        })
    }

    pub fn manifest(&self) -> &DevnetManifest {
        &self.manifest
    }

    /// Process ids of the anvil children, in chain order.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(AnvilProcess::pid).collect()
    }

    /// Kills every anvil and waits for each to exit.
    pub fn stop(mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }
}

/// `rialto devnet`: starts the devnet, writes the manifest to `manifest_path`, runs until
/// SIGINT or SIGTERM, then stops the chains and removes the manifest (its RPC URLs would be
/// dead). Returns an error if the start fails or the signals cannot be watched.
pub async fn run_devnet_foreground(
    manifest_path: &Path,
    config: DevnetConfig,
) -> Result<(), EvmError> {
    let devnet = Devnet::start(config).await?;
    devnet.manifest().write(manifest_path)?;
    tracing::info!(manifest = %manifest_path.display(), "devnet running; Ctrl-C to stop");
    let waited = wait_for_shutdown().await;
    devnet.stop();
    if let Err(e) = std::fs::remove_file(manifest_path) {
        tracing::warn!(manifest = %manifest_path.display(), error = %e, "could not remove the manifest");
    }
    tracing::info!("devnet stopped");
    waited
}

#[cfg(unix)]
async fn wait_for_shutdown() -> Result<(), EvmError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(EvmError::Signal)?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map_err(EvmError::Signal),
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_shutdown() -> Result<(), EvmError> {
    tokio::signal::ctrl_c().await.map_err(EvmError::Signal)
}
