//! What the chains add to the router's market: each sandbox chain's stablecoins as assets at
//! Rialto's address there, a `Dex(Pool)` edge each way per pool of the chain's DEX from its
//! live reserves, and for each lane of the mode's bridge an edge under the lane's own venue: a
//! `Bridge` edge (a fixed fee, no share of the amount) for the devnet stand-ins
//! (`devnet-burn-mint` between the anvil chains, `devnet-relay` between Solana and them), a
//! `Ccip` edge for CCIP lanes (venue `ccip`: the amount arrives whole, the router's native fee
//! valued at ETH/USD like gas). Read-only. Live chains add nothing yet: no DEX registry and no
//! bridge are configured for them.

use rialto_connectors::bridge::{BridgeLane, LaneKind};
use rialto_connectors::dex::PoolReserves;
use rialto_connectors::exchange::AssetCode;
use rialto_core::ChainId;
use rialto_router::{AssetInfo, AssetIx, Edge, EdgeKind, Graph, Location, Peg, Pool, VenueId};
use rust_decimal::Decimal;

use super::{from_units, token_in, OnchainError, Token};
use crate::chain::Chain;
use crate::services::Engine;

/// The stablecoins routed on chains, by symbol.
pub const CHAIN_ASSETS: [&str; 4] = ["USDC", "USDT", "EURC", "PYUSD"];
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

/// The sandbox chains the market routes over (live chains add nothing yet).
fn served(state: &Engine, livemode: bool) -> Vec<&Chain> {
    if livemode {
        return Vec::new();
    }
    state.chains.iter().filter(|c| !c.livemode).collect()
}

/// The chain's routed stablecoins, from the asset registry.
fn chain_tokens(state: &Engine, chain: &Chain) -> Vec<Token> {
    CHAIN_ASSETS
        .iter()
        .filter_map(|symbol| token_in(&state.registry, &chain.caip2, symbol).ok())
        .map(|t| Token {
            symbol: t.symbol.to_ascii_uppercase(),
            ..t
        })
        .collect()
}

/// The oracle pairs the chain assets need (`<SYM>/USD`, and `EUR/USD` for EURC's peg).
pub fn chain_pairs(state: &Engine, livemode: bool) -> Vec<String> {
    let mut pairs = Vec::new();
    let mut add = |pair: String| {
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    };
    for chain in served(state, livemode) {
        for token in chain_tokens(state, chain) {
            add(format!("{}/USD", token.symbol));
            if let Peg::Fiat { usd_pair } = peg(&token.symbol) {
                add(usd_pair);
            }
        }
    }
    pairs
}

/// Adds to `graph` what the chains offer (see the module docs). Returns what was left out, for
/// the logs.
pub async fn add_chain_edges(
    state: &Engine,
    livemode: bool,
    graph: &mut Graph,
    eth_usd: Option<Decimal>,
) -> Result<Vec<String>, OnchainError> {
    if livemode {
        return Ok(vec![
            "live chains: no DEX pools or bridge are configured".into()
        ]);
    }
    let mut skipped = Vec::new();
    let chains = served(state, livemode);
    for chain in &chains {
        add_assets(state, graph, chain, &mut skipped)?;
        let Some(dex) = &chain.dex else {
            continue;
        };
        for pool in dex.pools().await {
            let added = match pool {
                Ok(pool) => add_pool(state, graph, chain, &pool),
                Err(unreadable) => Err(unreadable.error.to_string()),
            };
            if let Err(why) = added {
                skipped.push(format!("{} pool: {why}", chain.caip2));
            }
        }
    }
    if let Some(bridge) = state.chains.bridge(livemode) {
        for lane in bridge.lanes() {
            if let Err(why) = add_bridge(graph, &lane, eth_usd) {
                skipped.push(format!("{} lane: {why}", lane.venue));
            }
        }
    }
    Ok(skipped)
}

fn graph_error(e: impl std::fmt::Display) -> OnchainError {
    OnchainError::Refused(format!("market graph: {e}"))
}

/// The graph location of Rialto's address on chain `caip2`.
fn at(caip2: &str) -> Result<Location, OnchainError> {
    caip2
        .parse::<ChainId>()
        .map(Location::Chain)
        .map_err(|e| OnchainError::Refused(format!("chain {caip2}: {e}")))
}

/// The chain's stablecoins as graph assets (added once) and nodes at the chain.
fn add_assets(
    state: &Engine,
    graph: &mut Graph,
    chain: &Chain,
    skipped: &mut Vec<String>,
) -> Result<(), OnchainError> {
    for token in chain_tokens(state, chain) {
        let Some(code) = AssetCode::new(&token.symbol.to_ascii_uppercase()) else {
            continue;
        };
        let ix = match graph.asset_by_code(&code) {
            Some(ix) if graph.asset(ix).decimals != token.decimals => {
                skipped.push(format!(
                    "{} {}: {} decimals on chain, {} in the market",
                    chain.caip2,
                    token.symbol,
                    token.decimals,
                    graph.asset(ix).decimals
                ));
                continue;
            }
            Some(ix) => ix,
            None => graph
                .add_asset(AssetInfo {
                    code,
                    decimals: token.decimals,
                    usd_pair: format!("{}/USD", token.symbol),
                    peg: peg(&token.symbol),
                })
                .map_err(graph_error)?,
        };
        graph.node(ix, at(&chain.caip2)?).map_err(graph_error)?;
    }
    Ok(())
}

/// The asset of `symbol` at `chain`, if both are in the graph.
fn chain_asset(graph: &Graph, symbol: &str) -> Option<AssetIx> {
    graph.asset_by_code(&AssetCode::new(&symbol.to_ascii_uppercase())?)
}

/// Both directions of one pool (`A/B`), from its reserves as of now.
fn add_pool(
    state: &Engine,
    graph: &mut Graph,
    chain: &Chain,
    pool: &PoolReserves,
) -> Result<(), String> {
    let name = &pool.name;
    let (Ok(token_a), Ok(token_b)) = (
        token_in(&state.registry, &chain.caip2, &pool.symbol_a),
        token_in(&state.registry, &chain.caip2, &pool.symbol_b),
    ) else {
        return Err(format!(
            "{name}: a token of the pair is not in the registry"
        ));
    };
    let (Some(ix_a), Some(ix_b)) = (
        chain_asset(graph, &pool.symbol_a),
        chain_asset(graph, &pool.symbol_b),
    ) else {
        return Err(format!("{name}: a token of the pair is not routable"));
    };
    if pool.reserve_a == 0 || pool.reserve_b == 0 {
        return Err(format!("{name}: empty pool"));
    }
    let reserve_a = from_units(pool.reserve_a, token_a.decimals).map_err(|e| e.to_string())?;
    let reserve_b = from_units(pool.reserve_b, token_b.decimals).map_err(|e| e.to_string())?;
    let here = at(&chain.caip2).map_err(|e| e.to_string())?;
    let node_a = graph.node(ix_a, here.clone()).map_err(|e| e.to_string())?;
    let node_b = graph.node(ix_b, here).map_err(|e| e.to_string())?;
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
                    fee_bps: pool.fee_bps,
                }),
                venue: dex_venue(&chain.caip2),
                seconds: DEX_SECS,
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// An edge for one lane of the bridge, where its asset is routable at both ends, under the
/// lane's venue (what the quote's leg and health show): a `Bridge` edge at the lane's fixed
/// fee, or a `Ccip` edge whose router fee (native coin) is valued at `eth_usd` like gas.
fn add_bridge(
    graph: &mut Graph,
    lane: &BridgeLane,
    eth_usd: Option<Decimal>,
) -> Result<(), OnchainError> {
    let Some(asset) = chain_asset(graph, &lane.asset) else {
        return Ok(());
    };
    let (from, to) = (at(&lane.from_chain)?, at(&lane.to_chain)?);
    let (Some(a), Some(b)) = (graph.find_node(asset, &from), graph.find_node(asset, &to)) else {
        return Ok(());
    };
    graph
        .add_edge(Edge {
            from: a,
            to: b,
            kind: lane_edge(lane, eth_usd)?,
            venue: VenueId(lane.venue.clone()),
            seconds: BRIDGE_SECS,
        })
        .map(|_| ())
        .map_err(graph_error)
}

/// The edge kind of a lane (see [`add_bridge`]).
fn lane_edge(lane: &BridgeLane, eth_usd: Option<Decimal>) -> Result<EdgeKind, OnchainError> {
    Ok(match lane.kind {
        LaneKind::FeeInAsset => EdgeKind::Bridge {
            fee_bps: 0,
            fixed: lane.fee,
        },
        LaneKind::Ccip { native_fee_units } => {
            let eth_usd = eth_usd.ok_or_else(|| {
                OnchainError::Refused("no usable ETH/USD reading to value the CCIP fee".into())
            })?;
            let wei = i128::try_from(native_fee_units)
                .ok()
                .and_then(|w| Decimal::try_from_i128_with_scale(w, 18).ok())
                .ok_or_else(|| OnchainError::Refused("CCIP fee out of range".into()))?;
            // A cost: rounded up to the cent, as gas is.
            EdgeKind::Ccip {
                network_fee_usd: rialto_router::edge::round_up(wei * eth_usd, 2),
            }
        }
    })
}
