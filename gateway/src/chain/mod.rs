//! The EVM rail inside the gateway: which chains it serves ([`Chains`]), its own outgoing
//! transactions ([`rail`]), the watcher that turns chain state into payment state
//! ([`watcher`]) and the step that settles funded intents ([`settle`]); [`worker`] runs them.
//!
//! Nothing here trusts a payer's word: amounts, recipients and confirmations are read from the
//! chain, and every transaction the gateway sends is stored, signed, before it is broadcast.

pub mod rail;
pub mod settle;
pub mod watcher;
pub mod worker;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rialto_core::address::Address;
use rialto_core::asset::{AssetKind, AssetRegistry};
use rialto_core::intent::PaymentIntent;
use rialto_core::money::Money;
use rialto_evm::deposit::DepositKeys;
use secrecy::SecretString;

use crate::compliance::service::fiat_unit;
use crate::config::SandboxConfig;

/// One EVM chain the gateway watches and sends on.
#[derive(Debug, Clone)]
pub struct EvmChain {
    /// CAIP-2, `eip155:31338`.
    pub caip2: String,
    /// The EIP-155 chain id.
    pub chain_id: u64,
    pub alias: String,
    pub rpc_url: String,
    /// Blocks a payment needs on top of it (its own included) before anything moves on it.
    pub confirmations: u64,
    /// The gateway's hot wallet here: relays authorizations and pays sweep gas.
    pub hot_wallet: Option<SecretString>,
    /// Token contracts whose transfers the deposit watcher follows.
    pub tokens: Vec<Address>,
}

/// The chains the gateway serves, by CAIP-2 id.
#[derive(Debug, Clone, Default)]
pub struct Chains {
    by_id: BTreeMap<String, EvmChain>,
    /// The keys deposit addresses derive from; none means no deposit addresses.
    deposit_keys: Option<Arc<DepositKeys>>,
    /// How often the watcher polls, milliseconds.
    pub poll_ms: u64,
}

impl Chains {
    pub fn new(chains: Vec<EvmChain>) -> Self {
        Self {
            by_id: chains.into_iter().map(|c| (c.caip2.clone(), c)).collect(),
            deposit_keys: None,
            poll_ms: 500,
        }
    }

    pub fn get(&self, caip2: &str) -> Option<&EvmChain> {
        self.by_id.get(caip2)
    }

    pub fn iter(&self) -> impl Iterator<Item = &EvmChain> {
        self.by_id.values()
    }

    /// The deposit keys, if deposit addresses are configured.
    pub fn deposit_keys(&self) -> Option<&DepositKeys> {
        self.deposit_keys.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The sandbox chains of the devnet manifest named in `sandbox`, with the manifest's hot
    /// wallet and the registry's tokens on each chain.
    pub fn from_sandbox(sandbox: &SandboxConfig, registry: &AssetRegistry) -> anyhow::Result<Self> {
        if sandbox.devnet_manifest.is_empty() {
            return Ok(Self::default());
        }
        let manifest = rialto_evm::DevnetManifest::read(Path::new(&sandbox.devnet_manifest))
            .with_context(|| format!("sandbox.devnet_manifest {}", sandbox.devnet_manifest))?;
        let mut chains = Vec::new();
        for c in &manifest.chains {
            let caip2 = c.chain_id.to_string();
            let chain_id: u64 = caip2
                .strip_prefix("eip155:")
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("devnet chain {caip2} is not an eip155 chain"))?;
            let tokens = registry
                .assets()
                .iter()
                .filter(|a| a.id.chain().to_string() == caip2)
                .filter(|a| a.kind != AssetKind::Native)
                .map(|a| a.contract)
                .collect();
            chains.push(EvmChain {
                caip2,
                chain_id,
                alias: c.alias.clone(),
                rpc_url: c.rpc_url.clone(),
                confirmations: sandbox.confirmations.max(1),
                hot_wallet: Some(c.gateway_hot_wallet.private_key.clone()),
                tokens,
            });
        }
        let mut out = Self::new(chains);
        out.poll_ms = sandbox.poll_ms.max(10);
        if !sandbox.deposit_mnemonic.is_empty() {
            let phrase = SecretString::from(sandbox.deposit_mnemonic.clone());
            let keys = DepositKeys::from_mnemonic(&phrase).context("sandbox.deposit_mnemonic")?;
            out.deposit_keys = Some(Arc::new(keys));
        }
        tracing::info!(chains = ?out.by_id.keys().collect::<Vec<_>>(), "sandbox chains from the devnet manifest");
        Ok(out)
    }
}

/// Whether `paid` (of the intent's settlement asset) covers the intent. A stablecoin pays an
/// intent in its own fiat unit one for one; anything else needs a quote (the router), so it
/// does not count here.
pub fn covers(intent: &PaymentIntent, paid: &Money) -> bool {
    let comparable = fiat_unit(intent.amount.currency().code())
        .zip(fiat_unit(intent.settlement.asset.code.as_str()))
        .is_some_and(|(a, b)| a == b);
    comparable && paid.amount() >= intent.amount.amount()
}
