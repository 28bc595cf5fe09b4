//! The chains in the engine: which chains it serves ([`Chains`], of `rialto_evm`'s
//! [`EvmChain`]), how it reaches their rails ([`rail`]: the `Rail` role, `EvmRail`, the store as
//! the rails' journal), the watcher that turns chain state into payment state ([`watcher`]),
//! the payment policy for under-, over- and late payments ([`policy`]), payer reports
//! ([`report`]) and relays ([`relay`]), and the step that settles funded intents ([`settle`]);
//! [`worker`] runs them.
//!
//! Nothing here trusts a payer's word: amounts, recipients and confirmations are read from the
//! chain, and every transaction the gateway sends is stored, signed, before it is broadcast.

pub mod policy;
pub mod rail;
pub mod relay;
pub mod report;
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
/// The purpose of an EIP-3009 relay leg; one per intent.
pub const EIP3009_RELAY: &str = "eip3009_relay";

use crate::config::{EngineConfig, SandboxConfig};

pub use rialto_evm::chain::EvmChain;

/// The chains the gateway serves, by mode and CAIP-2 id.
#[derive(Debug, Clone, Default)]
pub struct Chains {
    by_id: BTreeMap<(bool, String), EvmChain>,
    /// The keys deposit addresses derive from, per mode (`true` = live); none means no
    /// deposit addresses in that mode.
    deposit_keys: BTreeMap<bool, Arc<DepositKeys>>,
    /// How often the watcher polls, milliseconds.
    pub poll_ms: u64,
}

/// A block number or log index for an `i64` column (saturating: real chains are far below).
pub(crate) fn block_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The EIP-155 number of a CAIP-2 `eip155:` chain id.
pub fn eip155_id(caip2: &str) -> anyhow::Result<u64> {
    caip2
        .strip_prefix("eip155:")
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("chain {caip2} is not an eip155 chain"))
}

fn registry_tokens(registry: &AssetRegistry, caip2: &str, only: &[String]) -> Vec<Address> {
    registry
        .assets()
        .iter()
        .filter(|a| a.id.chain().to_string() == caip2 && a.kind != AssetKind::Native)
        .filter(|a| only.is_empty() || only.iter().any(|t| t.eq_ignore_ascii_case(&a.code)))
        .map(|a| a.contract)
        .collect()
}

fn deposit_keys(phrase: &str, what: &str) -> anyhow::Result<Option<Arc<DepositKeys>>> {
    if phrase.is_empty() {
        return Ok(None);
    }
    let keys = DepositKeys::from_mnemonic(&SecretString::from(phrase.to_owned()))
        .with_context(|| what.to_owned())?;
    Ok(Some(Arc::new(keys)))
}

impl Chains {
    pub fn new(chains: Vec<EvmChain>) -> Self {
        Self {
            by_id: chains
                .into_iter()
                .map(|c| ((c.livemode, c.caip2.clone()), c))
                .collect(),
            deposit_keys: BTreeMap::new(),
            poll_ms: 500,
        }
    }

    pub fn get(&self, livemode: bool, caip2: &str) -> Option<&EvmChain> {
        self.by_id.get(&(livemode, caip2.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &EvmChain> {
        self.by_id.values()
    }

    /// The deposit keys of a mode, if deposit addresses are configured for it.
    pub fn deposit_keys(&self, livemode: bool) -> Option<&DepositKeys> {
        self.deposit_keys.get(&livemode).map(Arc::as_ref)
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The sandbox chains of the devnet manifest (if `sandbox.devnet_manifest` names one) and
    /// the live chains of `live.chains`, with their hot wallets and watched tokens.
    pub fn from_config(config: &EngineConfig, registry: &AssetRegistry) -> anyhow::Result<Self> {
        let mut chains = Self::from_sandbox(&config.sandbox, registry)?;
        for c in &config.live.chains {
            let chain = registry
                .chain(&c.chain)
                .with_context(|| format!("live.chains: unknown chain {:?}", c.chain))?;
            let caip2 = chain.id.to_string();
            let mut evm = EvmChain::new(
                caip2.clone(),
                eip155_id(&caip2)?,
                chain.alias.clone(),
                true,
                c.rpc_urls.clone(),
                c.confirmations.max(1),
            );
            evm.hot_wallet = (!c.hot_wallet_key.is_empty())
                .then(|| SecretString::from(c.hot_wallet_key.clone()));
            evm.tokens = registry_tokens(registry, &caip2, &c.tokens);
            chains.by_id.insert((true, caip2), evm);
        }
        if let Some(keys) = deposit_keys(&config.live.deposit_mnemonic, "live.deposit_mnemonic")? {
            chains.deposit_keys.insert(true, keys);
        }
        Ok(chains)
    }

    /// The sandbox chains of the devnet manifest named in `sandbox`, with the manifest's hot
    /// wallet and the registry's tokens on each chain.
    pub fn from_sandbox(sandbox: &SandboxConfig, registry: &AssetRegistry) -> anyhow::Result<Self> {
        let mut out = Self::new(Vec::new());
        out.poll_ms = sandbox.poll_ms.max(10);
        if sandbox.devnet_manifest.is_empty() {
            return Ok(out);
        }
        let manifest = rialto_evm::DevnetManifest::read(Path::new(&sandbox.devnet_manifest))
            .with_context(|| format!("sandbox.devnet_manifest {}", sandbox.devnet_manifest))?;
        for c in &manifest.chains {
            let caip2 = c.chain_id.to_string();
            let mut evm = EvmChain::new(
                caip2.clone(),
                eip155_id(&caip2)?,
                c.alias.clone(),
                false,
                vec![c.rpc_url.clone()],
                sandbox.confirmations.max(1),
            );
            evm.hot_wallet = Some(c.gateway_hot_wallet.private_key.clone());
            evm.tokens = registry_tokens(registry, &caip2, &[]);
            out.by_id.insert((false, caip2), evm);
        }
        if let Some(keys) = deposit_keys(&sandbox.deposit_mnemonic, "sandbox.deposit_mnemonic")? {
            out.deposit_keys.insert(false, keys);
        }
        tracing::info!(chains = ?out.by_id.keys().map(|k| &k.1).collect::<Vec<_>>(), "sandbox chains from the devnet manifest");
        Ok(out)
    }
}

/// Whether `paid` (of the intent's settlement asset) covers the intent. A stablecoin pays an
/// intent in its own fiat unit one for one; anything else needs a quote (the router), so it
/// does not count here.
pub fn covers(intent: &PaymentIntent, paid: &Money) -> bool {
    one_for_one(intent) && paid.amount() >= intent.amount.amount()
}

/// The `network_fee` postings of mined legs sent on behalf of a merchant: the gas each paid, in
/// the chain's native asset. Legs not mined yet (no fee known) post nothing.
pub fn fee_postings(
    registry: &AssetRegistry,
    owner: (rialto_core::id::MerchantId, bool),
    legs: &[&crate::store::chain::ChainTransfer],
    now_ms: i64,
) -> Vec<crate::ledger::Posting> {
    legs.iter()
        .filter_map(|leg| {
            let wei = leg.fee_units.filter(|w| *w > 0)?;
            let native = registry.assets().iter().find(|a| {
                a.kind == AssetKind::Native && a.id.chain().to_string() == leg.draft.chain_id
            });
            let (asset, amount) = match native {
                Some(a) => (
                    a.id.to_string(),
                    Money::from_base_units(wei, a.currency()).ok()?.amount(),
                ),
                None => (
                    format!("{}/slip44:60", leg.draft.chain_id),
                    rust_decimal::Decimal::from_i128_with_scale(i128::try_from(wei).ok()?, 18),
                ),
            };
            crate::ledger::transfer(
                owner,
                "network_fee",
                &leg.draft.leg_id,
                &asset,
                (
                    crate::ledger::GAS_WALLET.to_owned(),
                    crate::ledger::NETWORK_FEES.to_owned(),
                ),
                amount.normalize(),
                now_ms,
            )
            .ok()
        })
        .collect()
}

/// Whether the intent's settlement asset pays its currency one for one (USD intents in USDC,
/// EUR intents in EURC). Only those can be paid without a quote.
pub fn one_for_one(intent: &PaymentIntent) -> bool {
    fiat_unit(intent.amount.currency().code())
        .zip(fiat_unit(intent.settlement.asset.code.as_str()))
        .is_some_and(|(a, b)| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChainConfig;

    fn registry() -> AssetRegistry {
        crate::registry::builtin().unwrap()
    }

    #[test]
    fn live_chains_come_from_config_and_fail_over_in_order() {
        let mut config = EngineConfig::default();
        config.live.chains.push(ChainConfig {
            chain: "base".into(),
            rpc_urls: vec!["http://a.invalid".into(), "http://b.invalid".into()],
            confirmations: 10,
            hot_wallet_key: String::new(),
            tokens: vec!["usdc".into()],
        });
        let chains = Chains::from_config(&config, &registry()).unwrap();
        assert!(
            chains.get(false, "eip155:8453").is_none(),
            "live chains serve live only"
        );
        let base = chains.get(true, "eip155:8453").unwrap();
        assert_eq!((base.chain_id, base.confirmations), (8453, 10));
        assert_eq!(base.tokens.len(), 1, "only the listed token is watched");
        assert_eq!(base.rpc_url(), "http://a.invalid");
        base.fail_over();
        assert_eq!(base.rpc_url(), "http://b.invalid");
        base.fail_over();
        assert_eq!(base.rpc_url(), "http://a.invalid", "wraps around");
        assert!(chains.deposit_keys(true).is_none());
    }

    #[test]
    fn an_unknown_live_chain_or_a_bad_mnemonic_stops_start_up() {
        let mut config = EngineConfig::default();
        config.live.chains.push(ChainConfig {
            chain: "atlantis".into(),
            rpc_urls: vec!["http://a.invalid".into()],
            confirmations: 1,
            hot_wallet_key: String::new(),
            tokens: vec![],
        });
        assert!(Chains::from_config(&config, &registry()).is_err());
        let mut config = EngineConfig::default();
        config.live.deposit_mnemonic = "not a real phrase at all".into();
        let err = Chains::from_config(&config, &registry()).unwrap_err();
        assert!(!format!("{err:#}").contains("real phrase"), "{err:#}");
    }
}
