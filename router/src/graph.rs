//! The route graph: nodes are (asset, location), edges are the ways money moves between them.
//!
//! Assets, locations and nodes are interned into dense indices so a quote's search touches
//! only vectors, never strings: the 300-venue market has a few thousand nodes and edges.

use std::collections::HashMap;
use std::fmt;

use rialto_connectors::exchange::AssetCode;
use rialto_core::ChainId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::edge::EdgeKind;
use crate::RouterError;

/// An exchange account Rialto holds (`kraken`, `sandbox-3`): one venue can have several.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VenueId(pub String);

impl fmt::Display for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where money sits: on an exchange account, or at Rialto's address on a chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Location {
    Venue(VenueId),
    Chain(ChainId),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Venue(v) => write!(f, "venue:{v}"),
            Self::Chain(c) => write!(f, "{c}"),
        }
    }
}

/// What a stablecoin is meant to be worth, for the depeg breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Peg {
    /// One US dollar.
    Usd,
    /// One unit of another fiat, priced in USD by the named oracle pair (`EUR/USD`).
    Fiat { usd_pair: String },
    /// Not a stablecoin: never depegged, never breaker-checked.
    Floating,
}

/// An asset the router can hold, with its precision and its USD oracle pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetInfo {
    pub code: AssetCode,
    /// Amounts of this asset are rounded to this many places (USDC 6, DAI 18).
    pub decimals: u32,
    /// The oracle pair that prices one unit in USD (`USDC/USD`).
    pub usd_pair: String,
    pub peg: Peg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AssetIx(pub u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LocationIx(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeIx(pub u32);

/// Stable for the lifetime of one graph: health and fallback exclusions key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EdgeIx(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Node {
    pub asset: AssetIx,
    pub location: LocationIx,
}

/// One way to move money from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub from: NodeIx,
    pub to: NodeIx,
    pub kind: EdgeKind,
    /// Who executes it (exchange account, DEX, bridge operator): health is tracked per venue.
    pub venue: VenueId,
    /// Typical time from submission to confirmation.
    pub seconds: u32,
}

/// The final on-chain transfer from Rialto's address to the merchant, per chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    /// Gas for one token transfer, in the reference currency (USD); Rialto pays it.
    pub gas_usd: Decimal,
    pub seconds: u32,
}

/// Assets, locations, nodes and edges, with adjacency both ways. Serializes as its parts
/// (assets, locations, nodes, edges, settlements, in index order) and rebuilds its indices on
/// the way back, so a persisted plan finds every `NodeIx` and `EdgeIx` where it left them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(try_from = "GraphParts", into = "GraphParts")]
pub struct Graph {
    assets: Vec<AssetInfo>,
    locations: Vec<Location>,
    location_index: HashMap<Location, LocationIx>,
    nodes: Vec<Node>,
    node_index: HashMap<Node, NodeIx>,
    edges: Vec<Edge>,
    incoming: Vec<Vec<EdgeIx>>,
    outgoing: Vec<Vec<EdgeIx>>,
    settlement: HashMap<LocationIx, Settlement>,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an asset; registering the same code twice is refused.
    pub fn add_asset(&mut self, info: AssetInfo) -> Result<AssetIx, RouterError> {
        if self.asset_by_code(&info.code).is_some() {
            return Err(RouterError::DuplicateAsset(info.code.to_string()));
        }
        let ix = u16::try_from(self.assets.len()).map_err(|_| RouterError::GraphTooLarge)?;
        self.assets.push(info);
        Ok(AssetIx(ix))
    }

    pub fn asset_by_code(&self, code: &AssetCode) -> Option<AssetIx> {
        self.assets
            .iter()
            .position(|a| &a.code == code)
            .and_then(|i| u16::try_from(i).ok())
            .map(AssetIx)
    }

    pub fn asset(&self, ix: AssetIx) -> &AssetInfo {
        &self.assets[usize::from(ix.0)]
    }

    pub fn assets(&self) -> impl Iterator<Item = (AssetIx, &AssetInfo)> {
        self.assets
            .iter()
            .enumerate()
            .map(|(i, a)| (AssetIx(i as u16), a))
    }

    pub fn asset_count(&self) -> usize {
        self.assets.len()
    }

    pub fn location_ix(&mut self, location: Location) -> Result<LocationIx, RouterError> {
        if let Some(ix) = self.location_index.get(&location) {
            return Ok(*ix);
        }
        let ix = LocationIx(
            u32::try_from(self.locations.len()).map_err(|_| RouterError::GraphTooLarge)?,
        );
        self.locations.push(location.clone());
        self.location_index.insert(location, ix);
        Ok(ix)
    }

    pub fn location(&self, ix: LocationIx) -> &Location {
        &self.locations[ix.0 as usize]
    }

    /// The node for `asset` at `location`, created on first use.
    pub fn node(&mut self, asset: AssetIx, location: Location) -> Result<NodeIx, RouterError> {
        if usize::from(asset.0) >= self.assets.len() {
            return Err(RouterError::UnknownAsset(asset.0.to_string()));
        }
        let location = self.location_ix(location)?;
        let node = Node { asset, location };
        if let Some(ix) = self.node_index.get(&node) {
            return Ok(*ix);
        }
        let ix = NodeIx(u32::try_from(self.nodes.len()).map_err(|_| RouterError::GraphTooLarge)?);
        self.nodes.push(node);
        self.node_index.insert(node, ix);
        self.incoming.push(Vec::new());
        self.outgoing.push(Vec::new());
        Ok(ix)
    }

    /// The node if it exists, without creating it.
    pub fn find_node(&self, asset: AssetIx, location: &Location) -> Option<NodeIx> {
        let location = *self.location_index.get(location)?;
        self.node_index.get(&Node { asset, location }).copied()
    }

    pub fn node_info(&self, ix: NodeIx) -> Node {
        self.nodes[ix.0 as usize]
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// `asset@location`, for logs, quotes and the health snapshot.
    pub fn describe(&self, ix: NodeIx) -> NodeRef {
        let node = self.node_info(ix);
        NodeRef {
            asset: self.asset(node.asset).code.clone(),
            location: self.location(node.location).clone(),
        }
    }

    /// Adds an edge after checking it is consistent with its kind (see
    /// [`EdgeKind::validate`]).
    pub fn add_edge(&mut self, edge: Edge) -> Result<EdgeIx, RouterError> {
        let (from, to) = (self.node_info(edge.from), self.node_info(edge.to));
        edge.kind.validate(
            from.asset == to.asset,
            from.location == to.location,
            self.location(to.location),
        )?;
        let ix = EdgeIx(u32::try_from(self.edges.len()).map_err(|_| RouterError::GraphTooLarge)?);
        self.incoming[edge.to.0 as usize].push(ix);
        self.outgoing[edge.from.0 as usize].push(ix);
        self.edges.push(edge);
        Ok(ix)
    }

    pub fn edge(&self, ix: EdgeIx) -> &Edge {
        &self.edges[ix.0 as usize]
    }

    /// Replaces an edge's market data (a fresh book or pool reserves) keeping its index.
    pub fn edge_mut(&mut self, ix: EdgeIx) -> Option<&mut EdgeKind> {
        self.edges.get_mut(ix.0 as usize).map(|e| &mut e.kind)
    }

    pub fn edges(&self) -> impl Iterator<Item = (EdgeIx, &Edge)> {
        self.edges
            .iter()
            .enumerate()
            .map(|(i, e)| (EdgeIx(i as u32), e))
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    pub fn incoming(&self, node: NodeIx) -> &[EdgeIx] {
        &self.incoming[node.0 as usize]
    }

    pub fn outgoing(&self, node: NodeIx) -> &[EdgeIx] {
        &self.outgoing[node.0 as usize]
    }

    /// The edge of this graph that is the same way as `other`'s edge `ix` (same endpoints,
    /// venue and kind): edge indices are per graph, identities are not.
    pub fn find_edge(&self, other: &Graph, ix: EdgeIx) -> Option<EdgeIx> {
        let edge = other.edge(ix);
        let node = |n: NodeIx| {
            let r = other.describe(n);
            self.find_node(self.asset_by_code(&r.asset)?, &r.location)
        };
        let (from, to) = (node(edge.from)?, node(edge.to)?);
        let kind = edge.kind.leg_kind();
        self.outgoing(from).iter().copied().find(|e| {
            let mine = self.edge(*e);
            mine.to == to && mine.venue == edge.venue && mine.kind.leg_kind() == kind
        })
    }

    /// Like [`Graph::find_edge`], adding the edge (and its assets and nodes) when missing.
    pub fn adopt_edge(&mut self, other: &Graph, ix: EdgeIx) -> Result<EdgeIx, RouterError> {
        if let Some(found) = self.find_edge(other, ix) {
            return Ok(found);
        }
        let edge = other.edge(ix).clone();
        let mut node = |n: NodeIx| -> Result<NodeIx, RouterError> {
            let info = other.asset(other.node_info(n).asset).clone();
            let asset = match self.asset_by_code(&info.code) {
                Some(a) => a,
                None => self.add_asset(info)?,
            };
            let location = other.location(other.node_info(n).location).clone();
            self.node(asset, location)
        };
        let (from, to) = (node(edge.from)?, node(edge.to)?);
        self.add_edge(Edge { from, to, ..edge })
    }

    /// Declares that merchants can be paid out on `chain`, and what the final transfer costs.
    pub fn set_settlement(
        &mut self,
        chain: ChainId,
        settlement: Settlement,
    ) -> Result<(), RouterError> {
        let ix = self.location_ix(Location::Chain(chain))?;
        self.settlement.insert(ix, settlement);
        Ok(())
    }

    /// The final transfer's cost at the target node's chain, if merchants can be paid there.
    pub fn settlement(&self, target: NodeIx) -> Option<Settlement> {
        self.settlement
            .get(&self.node_info(target).location)
            .copied()
    }
}

/// What a [`Graph`] serializes as.
#[derive(Serialize, Deserialize)]
struct GraphParts {
    assets: Vec<AssetInfo>,
    locations: Vec<Location>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    settlement: Vec<(LocationIx, Settlement)>,
}

impl From<Graph> for GraphParts {
    fn from(g: Graph) -> Self {
        let mut settlement: Vec<_> = g.settlement.into_iter().collect();
        settlement.sort_by_key(|(ix, _)| *ix);
        Self {
            assets: g.assets,
            locations: g.locations,
            nodes: g.nodes,
            edges: g.edges,
            settlement,
        }
    }
}

impl TryFrom<GraphParts> for Graph {
    type Error = RouterError;

    /// Rebuilt through the same interning as a fresh graph, checking every index comes back
    /// where it was.
    fn try_from(parts: GraphParts) -> Result<Self, RouterError> {
        let mut g = Graph::new();
        for asset in parts.assets {
            g.add_asset(asset)?;
        }
        for (i, location) in parts.locations.into_iter().enumerate() {
            if g.location_ix(location)?.0 as usize != i {
                return Err(RouterError::Inconsistent("duplicate location".into()));
            }
        }
        for (i, node) in parts.nodes.into_iter().enumerate() {
            if node.location.0 as usize >= g.locations.len() {
                return Err(RouterError::Inconsistent(
                    "node at an unknown location".into(),
                ));
            }
            let location = g.location(node.location).clone();
            if g.node(node.asset, location)?.0 as usize != i {
                return Err(RouterError::Inconsistent("duplicate node".into()));
            }
        }
        for edge in parts.edges {
            if edge.from.0 as usize >= g.nodes.len() || edge.to.0 as usize >= g.nodes.len() {
                return Err(RouterError::Inconsistent("edge to an unknown node".into()));
            }
            g.add_edge(edge)?;
        }
        for (ix, settlement) in parts.settlement {
            if ix.0 as usize >= g.locations.len() {
                return Err(RouterError::Inconsistent(
                    "settlement at an unknown location".into(),
                ));
            }
            g.settlement.insert(ix, settlement);
        }
        Ok(g)
    }
}

/// A node spelled out: what a quote, a leg or a return-funds instruction shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeRef {
    pub asset: AssetCode,
    pub location: Location,
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.asset, self.location)
    }
}
