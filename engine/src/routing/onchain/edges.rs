//! What the chains add to the router's market: each sandbox chain's stablecoins as assets at
//! Rialto's address there, a `Dex(Pool)` edge each way per Uniswap V2 pair from its live
//! reserves, and a `Cctp` edge for USDC between every two sandbox chains (the devnet burn/mint
//! bridge, [`super::bridge`]). Read-only. Live chains add nothing yet: no DEX registry and no
//! CCTP driver are configured for them.

use rialto_connectors::exchange::AssetCode;
use rialto_evm::contracts::{to_wire, IUniswapV2Pair};
use rialto_evm::manifest::ChainManifest;
use rialto_router::{AssetInfo, AssetIx, Edge, EdgeKind, Graph, Location, Peg, Pool, VenueId};
use rust_decimal::Decimal;

use super::{devnet_manifest, from_units};
use crate::services::Engine;

/// The stablecoins routed on chains, as the devnet manifest names them.
pub const CHAIN_ASSETS: [&str; 4] = ["USDC", "USDT", "EURC", "PYUSD"];
/// Uniswap V2's swap fee, bps.
pub const DEX_FEE_BPS: u32 = 30;
/// What the devnet bridge keeps per transfer, USDC (a stand-in for a CCTP fast-transfer fee).
pub const DEVNET_BRIDGE_FEE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// The bridge's venue, for health.
pub const CCTP_VENUE: &str = "cctp";
const DEX_SECS: u32 = 15;
const BRIDGE_SECS: u32 = 30;

/// `uniswap-v2:<caip2>`: one venue per chain's DEX.
pub fn dex_venue(caip2: &str) -> VenueId {
    VenueId(format!("uniswap-v2:{caip2}"))
}

/// What a chain asset is pegged to: EURC to the euro (priced by `EUR/USD`), the rest to USD.
pub fn peg(symbol: &str) -> Peg {
    if symbol.eq_ignore_ascii_case("EURC") {
        Peg::Fiat {
            usd_pair: "EUR/USD".into(),
        }
    } else {
        Peg::Usd
    }
}

/// The oracle pairs the chain assets need (`<SYM>/USD`, and `EUR/USD` for EURC's peg).
pub fn chain_pairs(state: &Engine, livemode: bool) -> Vec<String> {
    if livemode {
        return Vec::new();
    }
    let Ok(manifest) = devnet_manifest(state) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    let mut add = |pair: String| {
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    };
    for chain in &manifest.chains {
        for symbol in CHAIN_ASSETS
            .iter()
            .filter(|s| chain.tokens.contains_key(**s))
        {
            add(format!("{symbol}/USD"));
            if let Peg::Fiat { usd_pair } = peg(symbol) {
                add(usd_pair);
            }
        }
    }
    pairs
}

/// Adds to `graph` what the chains offer (see the module docs). Returns what was left out, for
/// the logs; Err only when the sandbox has no readable manifest.
pub async fn add_chain_edges(
    state: &Engine,
    livemode: bool,
    graph: &mut Graph,
) -> Result<Vec<String>, String> {
    if livemode {
        return Ok(vec![
            "live chains: no DEX pools or CCTP bridge are configured".into(),
        ]);
    }
    let manifest = devnet_manifest(state)?;
    let mut skipped = Vec::new();
    let served: Vec<&ChainManifest> = manifest
        .chains
        .iter()
        .filter(|c| state.chains.get(false, c.chain_id.as_str()).is_some())
        .collect();
    for chain in &served {
        add_assets(graph, chain, &mut skipped)?;
        for (name, pair) in &chain.dex.pairs {
            if let Err(why) = add_pool(state, graph, chain, name, pair).await {
                skipped.push(format!("{} pool {name}: {why}", chain.chain_id));
            }
        }
    }
    add_bridges(graph, &served)?;
    Ok(skipped)
}

/// The chain's stablecoins as graph assets (added once) and nodes at the chain.
fn add_assets(
    graph: &mut Graph,
    chain: &ChainManifest,
    skipped: &mut Vec<String>,
) -> Result<(), String> {
    for symbol in CHAIN_ASSETS {
        let Some(entry) = chain.tokens.get(symbol) else {
            continue;
        };
        let code = AssetCode::new(symbol).ok_or_else(|| format!("asset code {symbol}"))?;
        let ix = match graph.asset_by_code(&code) {
            Some(ix) if graph.asset(ix).decimals != u32::from(entry.decimals) => {
                skipped.push(format!(
                    "{} {symbol}: {} decimals on chain, {} in the market",
                    chain.chain_id,
                    entry.decimals,
                    graph.asset(ix).decimals
                ));
                continue;
            }
            Some(ix) => ix,
            None => graph
                .add_asset(AssetInfo {
                    code,
                    decimals: u32::from(entry.decimals),
                    usd_pair: format!("{symbol}/USD"),
                    peg: peg(symbol),
                })
                .map_err(|e| e.to_string())?,
        };
        graph
            .node(ix, Location::Chain(chain.chain_id.clone()))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The asset of `symbol` at `chain`, if both are in the graph.
fn chain_asset(graph: &Graph, symbol: &str) -> Option<AssetIx> {
    graph.asset_by_code(&AssetCode::new(symbol)?)
}

/// Both directions of one Uniswap V2 pair (`A/B`), from its reserves as of now.
async fn add_pool(
    state: &Engine,
    graph: &mut Graph,
    chain: &ChainManifest,
    name: &str,
    pair: &rialto_core::Address,
) -> Result<(), String> {
    let (a, b) = name.split_once('/').ok_or("not an A/B pair name")?;
    let (Some(entry_a), Some(entry_b)) = (chain.tokens.get(a), chain.tokens.get(b)) else {
        return Err("a token of the pair is not in the manifest".into());
    };
    let (Some(ix_a), Some(ix_b)) = (chain_asset(graph, a), chain_asset(graph, b)) else {
        return Err("a token of the pair is not routable".into());
    };
    let evm = state
        .chains
        .get(false, chain.chain_id.as_str())
        .ok_or("chain not served")?;
    let node = rialto_evm::provider::provider(evm.rpc_url()).map_err(|e| e.to_string())?;
    let contract = IUniswapV2Pair::new(to_wire(pair).map_err(|e| e.to_string())?, &node);
    let token0 = contract
        .token0()
        .call()
        .await
        .map_err(|e| format!("token0: {e}"))?;
    let reserves = contract
        .getReserves()
        .call()
        .await
        .map_err(|e| format!("getReserves: {e}"))?;
    let (r0, r1) = (
        u128::try_from(reserves.reserve0).map_err(|_| "reserve over 128 bits")?,
        u128::try_from(reserves.reserve1).map_err(|_| "reserve over 128 bits")?,
    );
    // Uniswap orders a pair's tokens by address; the manifest names it A/B in its own order.
    let (units_a, units_b) = if token0 == to_wire(&entry_a.address).map_err(|e| e.to_string())? {
        (r0, r1)
    } else if token0 == to_wire(&entry_b.address).map_err(|e| e.to_string())? {
        (r1, r0)
    } else {
        return Err("the pair's token0 is neither of its tokens".into());
    };
    if units_a == 0 || units_b == 0 {
        return Err("empty pool".into());
    }
    let reserve_a = from_units(units_a, u32::from(entry_a.decimals))?;
    let reserve_b = from_units(units_b, u32::from(entry_b.decimals))?;
    let at = Location::Chain(chain.chain_id.clone());
    let node_a = graph.node(ix_a, at.clone()).map_err(|e| e.to_string())?;
    let node_b = graph.node(ix_b, at).map_err(|e| e.to_string())?;
    for (from, to, reserve_in, reserve_out) in [
        (node_a, node_b, reserve_a, reserve_b),
        (node_b, node_a, reserve_b, reserve_a),
    ] {
        graph
            .add_edge(Edge {
                from,
                to,
                kind: EdgeKind::Dex(Pool {
                    reserve_in,
                    reserve_out,
                    fee_bps: DEX_FEE_BPS,
                }),
                venue: dex_venue(chain.chain_id.as_str()),
                seconds: DEX_SECS,
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A `Cctp` edge for USDC from every served chain to every other.
fn add_bridges(graph: &mut Graph, chains: &[&ChainManifest]) -> Result<(), String> {
    let Some(usdc) = chain_asset(graph, "USDC") else {
        return Ok(());
    };
    let with_usdc: Vec<_> = chains
        .iter()
        .filter(|c| c.tokens.contains_key("USDC"))
        .collect();
    for from in &with_usdc {
        for to in with_usdc.iter().filter(|t| t.chain_id != from.chain_id) {
            let a = graph
                .node(usdc, Location::Chain(from.chain_id.clone()))
                .map_err(|e| e.to_string())?;
            let b = graph
                .node(usdc, Location::Chain(to.chain_id.clone()))
                .map_err(|e| e.to_string())?;
            graph
                .add_edge(Edge {
                    from: a,
                    to: b,
                    kind: EdgeKind::Cctp {
                        fee: DEVNET_BRIDGE_FEE,
                    },
                    venue: VenueId(CCTP_VENUE.into()),
                    seconds: BRIDGE_SECS,
                })
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
