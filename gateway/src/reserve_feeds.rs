//! The Proof of Reserve feeds the reserves worker reads (`rialto_engine::reserves`): on the
//! devnet, the manifest's `institutional.reserve_feeds` (a `MockV3Aggregator` per stablecoin
//! and deposit token on each chain, labelled as devnet feeds); on live chains,
//! `[[reserves.feeds]]`. A token a live chain watches with neither a feed nor a place in
//! `reserves.unguarded` is listed as unverified, which the engine refuses: the safe default.

use anyhow::Context;
use rialto_core::address::Address;
use rialto_core::asset::AssetRegistry;
use rialto_engine::chain::Chains;
use rialto_engine::config::ReservesConfig;
use rialto_engine::reserves::ReserveFeed;
use rialto_evm::DevnetManifest;

/// A (mode, CAIP-2 chain, asset code) the engine refuses for want of a feed.
pub type Unverified = (bool, String, String);

/// The devnet manifest's reserve feeds, for sandbox mode. A symbol the registry knows on the
/// chain guards that asset; the deposit tokens (`JPMD-DEV`) are guarded by their own entry.
pub fn sandbox_feeds(
    manifest: &DevnetManifest,
    registry: &AssetRegistry,
) -> anyhow::Result<Vec<ReserveFeed>> {
    let mut feeds = Vec::new();
    for chain in &manifest.chains {
        let Some(institutional) = &chain.institutional else {
            continue;
        };
        let caip2 = chain.chain_id.to_string();
        for (symbol, entry) in &institutional.reserve_feeds {
            let code = symbol.to_ascii_lowercase();
            let known = registry
                .assets()
                .iter()
                .find(|a| a.id.chain().to_string() == caip2 && a.code == code);
            let (token, decimals) = match (known, institutional.deposit_tokens.get(symbol)) {
                (Some(asset), _) => (asset.contract, asset.decimals),
                (None, Some(deposit)) => (deposit.address, u32::from(deposit.decimals)),
                (None, None) => {
                    tracing::warn!(chain = %caip2, %symbol, "a devnet reserve feed for a token this gateway does not know; not guarded");
                    continue;
                }
            };
            feeds.push(ReserveFeed {
                livemode: false,
                chain: caip2.clone(),
                asset: code,
                token,
                decimals,
                feed: entry.address,
                heartbeat_secs: entry.heartbeat_secs,
            });
        }
    }
    Ok(feeds)
}

/// `[[reserves.feeds]]` on the live chains, and the live chains' watched tokens left without a
/// feed and not listed in `reserves.unguarded`.
pub fn live_feeds(
    config: &ReservesConfig,
    registry: &AssetRegistry,
    chains: &Chains,
) -> anyhow::Result<(Vec<ReserveFeed>, Vec<Unverified>)> {
    let mut feeds = Vec::new();
    for f in &config.feeds {
        let what = || format!("reserves.feeds: {}/{}", f.chain, f.asset);
        let chain = registry
            .chain(&f.chain)
            .with_context(|| format!("{}: unknown chain", what()))?;
        let asset = registry
            .asset_on(&f.asset, chain)
            .with_context(|| format!("{}: unknown asset", what()))?;
        let feed = Address::parse(&f.feed, rialto_core::ChainNamespace::Eip155)
            .map_err(|e| anyhow::anyhow!("{}: feed {:?}: {e}", what(), f.feed))?;
        if f.heartbeat_secs == 0 {
            anyhow::bail!("{}: heartbeat_secs must be at least 1", what());
        }
        feeds.push(ReserveFeed {
            livemode: true,
            chain: chain.id.to_string(),
            asset: asset.code.clone(),
            token: asset.contract,
            decimals: asset.decimals,
            feed,
            heartbeat_secs: f.heartbeat_secs,
        });
    }
    let mut unguarded = Vec::new();
    for entry in &config.unguarded {
        let (chain, asset) = entry
            .split_once('/')
            .with_context(|| format!("reserves.unguarded: {entry:?} is not chain/asset"))?;
        let chain = registry
            .chain(chain)
            .with_context(|| format!("reserves.unguarded: {entry:?}: unknown chain"))?;
        let asset = registry
            .asset_on(asset, chain)
            .with_context(|| format!("reserves.unguarded: {entry:?}: unknown asset"))?;
        unguarded.push((chain.id.to_string(), asset.code.clone()));
    }
    let mut unverified = Vec::new();
    for chain in chains.iter().filter(|c| c.livemode) {
        for asset in registry.assets().iter().filter(|a| {
            a.id.chain().to_string() == chain.caip2 && chain.tokens.contains(&a.contract)
        }) {
            let guarded = feeds
                .iter()
                .any(|f| f.chain == chain.caip2 && f.asset == asset.code);
            let accepted = unguarded
                .iter()
                .any(|(c, a)| *c == chain.caip2 && *a == asset.code);
            if !guarded && !accepted {
                tracing::warn!(chain = %chain.caip2, asset = %asset.code,
                    "no reserve feed and not in reserves.unguarded: refused (reserves_unverified)");
                unverified.push((true, chain.caip2.clone(), asset.code.clone()));
            }
        }
    }
    Ok((feeds, unverified))
}
