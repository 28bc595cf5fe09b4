//! The chains of the configuration, wired: each EVM chain as the engine's
//! [`Chain`](rialto_engine::chain::Chain) (its node `rialto_evm::node::EvmNode`, its DEX on the
//! devnet), the mode's deposit keys, the devnet bridge and the Chainlink price feeds, all
//! behind the connectors' roles; and the same EVM chains by mode for the HTTP layer's
//! EVM-only endpoints (EIP-3009 authorizations).
//!
//! Sandbox chains come from the devnet manifest (`sandbox.devnet_manifest`), live chains from
//! `live.chains`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rialto_connectors::rail::SigningKey;
use rialto_core::asset::AssetRegistry;
use rialto_engine::chain::{eip155_id, registry_tokens, Chain, Chains};
use rialto_engine::clock::Clock;
use rialto_engine::config::{EngineConfig, ReplacementConfig, SandboxConfig};
use rialto_evm::chain::EvmChain;
use rialto_evm::deposit::DepositKeys;
use rialto_evm::feeds::{FeedRegistry, DEFAULT_STABLE_HEARTBEAT};
use rialto_evm::node::EvmNode;
use rialto_evm::price_feed::ChainlinkPriceFeed;
use rialto_evm::replace::ReplacementPolicy;
use rialto_evm::uniswap::UniswapV2;
use rialto_evm::DevnetManifest;
use secrecy::SecretString;

use crate::batch_relay::{BatchLanes, BatchRelays};
use rialto_engine::config::BatchRelayConfig;
use rialto_evm::batch_relay::NonceLanes;

/// The EVM chains by mode and CAIP-2 id, for the endpoints that speak EVM itself.
#[derive(Debug, Clone, Default)]
pub struct EvmChains(BTreeMap<(bool, String), EvmChain>);

impl EvmChains {
    pub fn get(&self, livemode: bool, caip2: &str) -> Option<&EvmChain> {
        self.0.get(&(livemode, caip2.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &EvmChain> {
        self.0.values()
    }
}

/// What the configuration's chains wire up (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct ChainSet {
    pub engine: Chains,
    pub evm: EvmChains,
    /// The chains that relay gasless payments in batches (`batch_relay` settings).
    pub batch: Arc<BatchRelays>,
    /// Proof of Reserve feeds over these chains (`crate::reserve_feeds`).
    pub reserve_feeds: Vec<rialto_engine::reserves::ReserveFeed>,
    /// Live assets refused for want of a feed.
    pub unverified: Vec<crate::reserve_feeds::Unverified>,
}

impl ChainSet {
    /// Checks every endpoint of every chain answers with its chain's id (a wrong id is fatal).
    pub async fn verify_endpoints(&self) -> anyhow::Result<()> {
        for chain in self.evm.iter() {
            chain.verify_endpoints().await?;
        }
        Ok(())
    }

    fn add(&mut self, evm: EvmChain, dex: Option<UniswapV2>) {
        let node = EvmNode::new(evm.clone());
        self.engine.insert(Chain {
            caip2: evm.caip2.clone(),
            alias: evm.alias.clone(),
            livemode: evm.livemode,
            confirmations: evm.confirmations,
            tokens: evm.tokens.clone(),
            hot_wallet: evm.hot_wallet.clone().map(SigningKey),
            node: Arc::new(node),
            dex: dex.map(|d| Arc::new(d) as _),
        });
        self.evm.0.insert((evm.livemode, evm.caip2.clone()), evm);
    }

    /// Relays `evm`'s gasless payments in batches through `relayer` from `lanes`.
    fn add_batch(
        &mut self,
        evm: &EvmChain,
        relayer: rialto_core::Address,
        lanes: Vec<SigningKey>,
        settings: &BatchRelayConfig,
    ) -> anyhow::Result<()> {
        let lanes = NonceLanes::new(lanes).with_context(|| {
            format!("{}: batch relaying needs at least one lane key", evm.caip2)
        })?;
        let batch = Arc::get_mut(&mut self.batch).context("batch relays are built once")?;
        batch.insert(
            evm.livemode,
            &evm.caip2,
            BatchLanes {
                relayer,
                lanes,
                max_batch: settings.max_batch.max(1),
                max_wait_ms: i64::try_from(settings.max_wait_ms).unwrap_or(i64::MAX),
                answer_within: Duration::from_millis(settings.answer_within_ms),
                rpc_url: evm.rpc_url().to_owned(),
                block_gas: crate::batch_relay::BlockGas::default(),
            },
        );
        Ok(())
    }

    fn chains_of(&self, livemode: bool) -> Vec<EvmChain> {
        self.evm
            .iter()
            .filter(|c| c.livemode == livemode)
            .cloned()
            .collect()
    }
}

fn deposit_keys(phrase: &str, what: &str) -> anyhow::Result<Option<Arc<DepositKeys>>> {
    if phrase.is_empty() {
        return Ok(None);
    }
    let keys = DepositKeys::from_mnemonic(&SecretString::from(phrase.to_owned()))
        .with_context(|| what.to_owned())?;
    Ok(Some(Arc::new(keys)))
}

/// Chainlink feeds of `registry`, read over `chains`' endpoints, judged by `clock`.
fn price_feed(
    chains: &[EvmChain],
    registry: FeedRegistry,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<ChainlinkPriceFeed<Arc<dyn Clock>>> {
    let rpc_urls = chains
        .iter()
        .map(|c| (c.chain_id, c.rpc_url().to_owned()))
        .collect();
    Ok(ChainlinkPriceFeed::new(rpc_urls, registry, clock)?)
}

/// A chain's replacement settings as the EVM rail applies them.
pub fn replacement_policy(c: &ReplacementConfig) -> ReplacementPolicy {
    ReplacementPolicy {
        after_ms: (c.after_secs > 0)
            .then(|| i64::try_from(c.after_secs.saturating_mul(1000)).unwrap_or(i64::MAX)),
        bump_percent: c.bump_percent,
        max_fee_per_gas: (c.max_fee_per_gas_wei > 0).then_some(u128::from(c.max_fee_per_gas_wei)),
        cancel_only: c.cancel,
    }
}

/// The sandbox chains of the devnet manifest (if `sandbox.devnet_manifest` names one) and the
/// live chains of `live.chains`, with their hot wallets and watched tokens.
pub fn from_config(
    config: &EngineConfig,
    registry: &AssetRegistry,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<ChainSet> {
    let mut set = from_sandbox(&config.sandbox, registry, clock.clone())?;
    for c in &config.live.chains {
        let chain = registry
            .chain(&c.chain)
            .with_context(|| format!("live.chains: unknown chain {:?}", c.chain))?;
        let caip2 = chain.id.to_string();
        // Nonces (per chain and wallet) and the deposit scan cursor (per chain) are keyed by
        // CAIP-2: a devnet fork answering as the same chain would share them with the real one.
        if set.chains_of(false).iter().any(|c| c.caip2 == caip2) {
            anyhow::bail!(
                "live.chains: {caip2} is also a sandbox devnet chain; they would share wallet \
                 nonces and the deposit scan cursor: give the devnet fork another chain id"
            );
        }
        let mut evm = EvmChain::new(
            caip2.clone(),
            eip155_id(&caip2)?,
            chain.alias.clone(),
            true,
            c.rpc_urls.clone(),
            c.confirmations.max(1),
        );
        evm.hot_wallet =
            (!c.hot_wallet_key.is_empty()).then(|| SecretString::from(c.hot_wallet_key.clone()));
        evm.tokens = registry_tokens(registry, &caip2, &c.tokens);
        evm.replacement = replacement_policy(&c.replacement);
        evm.l1_fee_oracle = rialto_evm::l1_fee::oracle_of(evm.chain_id);
        if c.batch_relay.enabled {
            let setting = format!("live.chains ({caip2}).batch_relay");
            let relayer = rialto_core::Address::parse(
                &c.batch_relay.relayer,
                rialto_core::ChainNamespace::Eip155,
            )
            .with_context(|| format!("{setting}.relayer: not an EVM address"))?;
            let lanes = c
                .batch_relay
                .lane_keys
                .iter()
                .map(|secret| {
                    crate::exchange::live::read_secret(&format!("{setting}.lane_keys"), secret)
                        .map(|key| SigningKey(SecretString::from(key)))
                        .map_err(|e| anyhow::anyhow!("{e}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            set.add_batch(&evm, relayer, lanes, &c.batch_relay)?;
        }
        set.add(evm, None);
    }
    let (feeds, unverified) =
        crate::reserve_feeds::live_feeds(&config.reserves, registry, &set.engine)?;
    set.reserve_feeds.extend(feeds);
    set.unverified = unverified;
    if let Some(keys) = deposit_keys(&config.live.deposit_mnemonic, "live.deposit_mnemonic")? {
        set.engine = set.engine.with_deposit_keys(true, keys);
    }
    // Live prices: the bundled reference data's Chainlink feeds over the live chains.
    let feeds = FeedRegistry::builtin().context("the bundled Chainlink feed registry")?;
    let live = price_feed(&set.chains_of(true), feeds, clock)?;
    set.engine = set.engine.with_price_feed(true, Arc::new(live));
    Ok(set)
}

/// The sandbox chains of the devnet manifest named in `sandbox`: the manifest's hot wallet,
/// the registry's tokens and the manifest's Uniswap V2 on each chain, the devnet bridge
/// between them and the manifest's mock Chainlink feeds.
pub fn from_sandbox(
    sandbox: &SandboxConfig,
    registry: &AssetRegistry,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<ChainSet> {
    let mut set = ChainSet::default();
    set.engine.poll_ms = sandbox.poll_ms.max(10);
    if sandbox.devnet_manifest.is_empty() {
        return Ok(set);
    }
    let manifest = DevnetManifest::read(Path::new(&sandbox.devnet_manifest))
        .with_context(|| format!("sandbox.devnet_manifest {}", sandbox.devnet_manifest))?;
    set.reserve_feeds = crate::reserve_feeds::sandbox_feeds(&manifest, registry)?;
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
        evm.replacement = replacement_policy(&sandbox.replacement);
        if sandbox.batch_relay.enabled {
            if let Some(relayer) = c.batch_relayer {
                let lanes = c
                    .relay_lanes
                    .iter()
                    .map(|lane| SigningKey(lane.private_key.clone()))
                    .collect();
                set.add_batch(&evm, relayer, lanes, &sandbox.batch_relay)?;
            }
        }
        let dex = UniswapV2::devnet(evm.clone(), c);
        set.add(evm, Some(dex));
    }
    if let Some(keys) = deposit_keys(&sandbox.deposit_mnemonic, "sandbox.deposit_mnemonic")? {
        set.engine = set.engine.with_deposit_keys(false, keys);
        // The same phrase (checked just above) gives the Solana deposit wallets, by their
        // own derivation (rialto_solana::deposit).
        let phrase = SecretString::from(sandbox.deposit_mnemonic.clone());
        if let Some(solana) = rialto_solana::deposit::SolanaDepositKeys::from_phrase(&phrase) {
            set.engine = set.engine.with_deposit_keys(false, Arc::new(solana));
        }
    }
    if let Some(caip2) = crate::solana_chains::add_sandbox(
        &mut set.engine,
        Path::new(&sandbox.devnet_manifest),
        registry,
        sandbox.confirmations.max(1),
    )? {
        tracing::info!(chain = %caip2, "sandbox Solana chain from the devnet manifest");
    }
    let chains = set.chains_of(false);
    let bridge = crate::devnet_bridges::sandbox_bridge(
        &manifest,
        Path::new(&sandbox.devnet_manifest),
        &set.engine,
        &chains,
        Duration::from_secs(sandbox.ccip_delivery_secs),
        sandbox.burn_mint_bridge,
    )?;
    // The mocks have no heartbeat of their own; they are judged like real stablecoin feeds.
    let feeds = FeedRegistry::from_devnet(&manifest, DEFAULT_STABLE_HEARTBEAT)
        .context("the devnet manifest's feeds")?;
    // The devnet's sequencer mocks report "up since deployment", which the live grace period
    // would refuse for an hour after every devnet start; sandbox mode keeps the sequencer
    // check itself (a test can still flip the mock down) without the grace.
    let feed = price_feed(&chains, feeds, clock)?.with_sequencer_grace(Duration::ZERO);
    set.engine = set
        .engine
        .with_bridge(false, bridge)
        .with_price_feed(false, Arc::new(feed));
    tracing::info!(chains = ?chains.iter().map(|c| &c.caip2).collect::<Vec<_>>(), "sandbox chains from the devnet manifest");
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rialto_engine::clock::SystemClock;
    use rialto_engine::config::ChainConfig;

    fn registry() -> AssetRegistry {
        rialto_engine::registry::builtin().unwrap()
    }

    fn clock() -> Arc<dyn Clock> {
        Arc::new(SystemClock)
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
            replacement: Default::default(),
            batch_relay: Default::default(),
        });
        let set = from_config(&config, &registry(), clock()).unwrap();
        assert!(
            set.engine.get(false, "eip155:8453").is_none(),
            "live chains serve live only"
        );
        let served = set.engine.get(true, "eip155:8453").unwrap();
        assert_eq!(served.confirmations, 10);
        assert_eq!(served.tokens.len(), 1, "only the listed token is watched");
        assert!(served.dex.is_none(), "no DEX is configured for live chains");
        let base = set.evm.get(true, "eip155:8453").unwrap();
        assert_eq!((base.chain_id, base.confirmations), (8453, 10));
        assert_eq!(base.rpc_url(), "http://a.invalid");
        served.node.fail_over();
        assert_eq!(
            base.rpc_url(),
            "http://b.invalid",
            "the node and the HTTP layer share it"
        );
        base.fail_over();
        assert_eq!(base.rpc_url(), "http://a.invalid", "wraps around");
        assert!(set
            .engine
            .deposit_keys(true, rialto_core::ChainNamespace::Eip155)
            .is_none());
        assert!(set.engine.price_feed(true).is_some());
        assert!(set.engine.bridge(true).is_none(), "no live bridge");
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
            replacement: Default::default(),
            batch_relay: Default::default(),
        });
        assert!(from_config(&config, &registry(), clock()).is_err());
        let mut config = EngineConfig::default();
        config.live.deposit_mnemonic = "not a real phrase at all".into();
        let err = from_config(&config, &registry(), clock()).unwrap_err();
        assert!(!format!("{err:#}").contains("real phrase"), "{err:#}");
    }
}
