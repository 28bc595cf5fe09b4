//! Route search for a fixed merchant amount.
//!
//! The merchant amount is fixed, so the search runs **backwards** from the target node: the
//! target starts with the intent amount, and each incoming edge's exact inverse gives the
//! amount its from-node must hold (rounded up). Because every edge's inverse is monotone (more
//! out needs more in), the cheapest way to deliver `x` through a node is the cheapest way to
//! deliver the smallest requirement at that node. Labels (node, required amount, legs, time,
//! probability, gas) are expanded best partial score first, like Dijkstra, with at most
//! `max_legs` edges; each node keeps at most `labels_per_node` labels none of which is
//! dominated (another with no worse score and no more legs), so a label that is cheaper but
//! one leg longer survives next to a shorter one. The search stops once the next label is
//! worse than the best complete route by more than [`PRUNE_SLACK_BPS`].
//!
//! A forward breadth-first pass from the payer's sources first marks how many hops each node
//! is from a source; the backward pass skips nodes that could not reach a source within the
//! remaining hops, which keeps a 300-venue graph's quote well under a millisecond.
//!
//! Every candidate is then replayed **forwards** from the source with the amount the backward
//! pass asked for (outputs rounded down); if rounding left it a unit short of the intent
//! amount, the input is raised one unit at a time (a few at most) until it is not.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::edge::{EdgeRefusal, LegKind};
use crate::graph::{EdgeIx, Graph, NodeIx, VenueId};
use crate::health::HealthTracker;
use crate::oracle::{PriceRefusal, PriceTable};
use crate::score::{score, ScoreInputs, ScorePolicy};

/// Labels are expanded best score first, and the search stops once the next label scores
/// worse than the best complete route by more than this. Extending a label only adds time,
/// risk and fees, except a conversion priced better than the oracle, which the deviation bound
/// caps; real books and pools are priced around the oracle less their spread and fee, so a
/// prefix that improves a score by more than this is not expected. The simulation measures
/// the search against exhaustive enumeration to keep this honest.
pub const PRUNE_SLACK_BPS: u32 = 10;

/// Everything a search reads: market state, prices checked at quote time, health, policy.
#[derive(Debug, Clone, Copy)]
pub struct RouteContext<'a> {
    pub graph: &'a Graph,
    pub prices: &'a PriceTable,
    pub health: &'a HealthTracker,
    pub now_ms: u64,
    pub score: ScorePolicy,
    pub max_legs: usize,
    pub labels_per_node: usize,
}

/// Edges and venues a search must not use (fallback excludes what just failed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusions {
    pub edges: HashSet<EdgeIx>,
    pub venues: HashSet<VenueId>,
}

impl Exclusions {
    fn allows(&self, graph: &Graph, edge: EdgeIx) -> bool {
        !self.edges.contains(&edge) && !self.venues.contains(&graph.edge(edge).venue)
    }
}

/// Where the payer's money can come from, and how much is there when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub node: NodeIx,
    pub available: Option<Decimal>,
}

#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub sources: &'a [Source],
    pub target: NodeIx,
    /// What the merchant must receive, in the target asset.
    pub amount: Decimal,
    pub exclusions: &'a Exclusions,
}

/// Why an edge was left out of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Price(PriceRefusal),
    Liquidity,
    BelowMinimum,
    SourceTooSmall,
}

impl From<EdgeRefusal> for Refusal {
    fn from(value: EdgeRefusal) -> Self {
        match value {
            EdgeRefusal::InsufficientLiquidity => Refusal::Liquidity,
            EdgeRefusal::BelowMinimum => Refusal::BelowMinimum,
        }
    }
}

/// One leg of a found route, priced forwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteLeg {
    pub edge: EdgeIx,
    pub kind: LegKind,
    pub input: Decimal,
    pub output: Decimal,
    pub fee_usd: Decimal,
    pub seconds: u32,
    pub success_probability: Decimal,
}

/// A complete route from a source to the target, priced forwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub source: NodeIx,
    pub target: NodeIx,
    pub legs: Vec<RouteLeg>,
    /// What the payer puts in at the source.
    pub input: Decimal,
    /// What reaches the merchant: never below the requested amount.
    pub output: Decimal,
    /// The requested amount.
    pub intent: Decimal,
    /// Fees of every leg plus the settlement gas, in USD.
    pub fee_usd: Decimal,
    pub settlement_gas_usd: Decimal,
    pub settlement_seconds: u32,
    pub cost_bps: Decimal,
    pub expected_seconds: u64,
    pub success_probability: Decimal,
    pub score: Decimal,
}

/// Routes best first, and how many edges each refusal kept out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchOutcome {
    pub routes: Vec<Route>,
    pub refusals: BTreeMap<Refusal, u32>,
}

#[derive(Debug, Clone)]
struct Label {
    node: NodeIx,
    amount: Decimal,
    /// The edge leaving `node` towards the target and the label it leads to.
    via: Option<(EdgeIx, u32)>,
    depth: u8,
    seconds: u64,
    probability: Decimal,
    /// Gas of the transfers between `node` and the target, in USD.
    gas_usd: Decimal,
    score: Decimal,
}

/// Finds up to `max_routes` routes, best score first (see the module docs for the method).
pub fn find_routes(
    ctx: &RouteContext<'_>,
    req: &RouteRequest<'_>,
    max_routes: usize,
) -> SearchOutcome {
    let mut out = SearchOutcome::default();
    let Some(settlement) = ctx.graph.settlement(req.target) else {
        return out;
    };
    let hops = hops_from_sources(ctx.graph, req, ctx.max_legs);
    let intent_usd = req.amount * ctx.prices.usd_value(ctx.graph.node_info(req.target).asset);
    if intent_usd <= Decimal::ZERO {
        return out;
    }
    let mut search = Backward {
        ctx,
        intent_usd,
        gas_usd: settlement.gas_usd,
        // Partial scores only rank and prune labels (routes are scored exactly on replay), so
        // short factors are enough, and keep every multiplication from rescaling 28 digits.
        bps_per_usd: (Decimal::from(10_000) / intent_usd).round_dp(10),
        bps_per_second: (ctx.score.bps_per_minute / Decimal::from(60)).round_dp(10),
        labels: Vec::new(),
        best: vec![Vec::new(); ctx.graph.node_count()],
        probabilities: vec![Decimal::NEGATIVE_ONE; ctx.graph.edge_count()],
    };
    let start = search.push(Label {
        node: req.target,
        amount: req.amount,
        via: None,
        depth: 0,
        seconds: u64::from(settlement.seconds),
        probability: Decimal::ONE,
        gas_usd: Decimal::ZERO,
        score: Decimal::ZERO,
    });
    let sources = req.sources;
    let mut candidates = Vec::new();
    let mut heap = BinaryHeap::new();
    if let Some(start) = start {
        search.note_candidate(start, sources, &mut candidates, &mut out.refusals);
        heap.push(Reverse((Decimal::ZERO, start)));
    }
    let slack = Decimal::from(PRUNE_SLACK_BPS);
    let mut next = Vec::new();
    while let Some(Reverse((score, label))) = heap.pop() {
        if let Some(bound) = search.bound(&candidates, max_routes) {
            if score > bound + slack {
                break;
            }
        }
        let depth = usize::from(search.labels[label as usize].depth);
        if depth >= ctx.max_legs || !search.is_kept(label) {
            continue;
        }
        next.clear();
        search.relax(label, depth, req, &hops, &mut next, &mut out.refusals);
        for &l in &next {
            search.note_candidate(l, sources, &mut candidates, &mut out.refusals);
            heap.push(Reverse((search.labels[l as usize].score, l)));
        }
    }
    candidates.sort_by(|a, b| {
        search.labels[*a as usize]
            .score
            .cmp(&search.labels[*b as usize].score)
    });
    for c in candidates {
        if out.routes.len() >= max_routes {
            break;
        }
        let edges = search.path(c);
        let source = search.labels[c as usize].node;
        let input = search.labels[c as usize].amount;
        match price_path(ctx, source, req.target, &edges, input, req.amount) {
            Ok(route) => out.routes.push(route),
            Err(refusal) => *out.refusals.entry(refusal).or_default() += 1,
        }
    }
    out.routes.sort_by_key(|r| r.score);
    out
}

struct Backward<'c, 'a> {
    ctx: &'c RouteContext<'a>,
    intent_usd: Decimal,
    gas_usd: Decimal,
    /// `10 000 / intent_usd` and `bps_per_minute / 60`, so a partial score needs no division.
    bps_per_usd: Decimal,
    bps_per_second: Decimal,
    labels: Vec<Label>,
    /// Per node, its kept labels, best score first: at most `labels_per_node`, none
    /// dominated by another (at least as good a score with no more legs).
    best: Vec<Vec<u32>>,
    /// Per edge, its success probability once asked (negative: not asked yet).
    probabilities: Vec<Decimal>,
}

impl Backward<'_, '_> {
    /// The policy of [`score`] for a partial route, with the divisions precomputed.
    fn partial_score(
        &self,
        node: NodeIx,
        amount: Decimal,
        gas: Decimal,
        seconds: u64,
        p: Decimal,
    ) -> Decimal {
        let asset = self.ctx.graph.node_info(node).asset;
        let value = amount * self.ctx.prices.usd_value(asset);
        let cost_bps = (value + self.gas_usd + gas - self.intent_usd) * self.bps_per_usd;
        cost_bps
            + Decimal::from(seconds) * self.bps_per_second
            + (Decimal::ONE - p) * self.ctx.score.failure_penalty_bps
    }

    /// Adds a label unless a kept label at its node dominates it; drops the kept labels it
    /// dominates. Returns its index when kept.
    fn push(&mut self, label: Label) -> Option<u32> {
        let ix = u32::try_from(self.labels.len()).ok()?;
        let k = self.ctx.labels_per_node.max(1);
        let labels = &self.labels;
        let kept = self.best.get_mut(label.node.0 as usize)?;
        let dominated = kept.iter().any(|l| {
            let old = &labels[*l as usize];
            old.score <= label.score && old.depth <= label.depth
        });
        if dominated {
            return None;
        }
        kept.retain(|l| {
            let old = &labels[*l as usize];
            !(old.score >= label.score && old.depth >= label.depth)
        });
        let pos = kept
            .iter()
            .position(|l| labels[*l as usize].score > label.score)
            .unwrap_or(kept.len());
        if pos >= k {
            return None;
        }
        kept.insert(pos, ix);
        kept.truncate(k);
        self.labels.push(label);
        Some(ix)
    }

    /// The score of the `k`-th best candidate so far, once there are `k`.
    fn bound(&self, candidates: &[u32], k: usize) -> Option<Decimal> {
        if candidates.len() < k.max(1) {
            return None;
        }
        let mut scores: Vec<Decimal> = candidates
            .iter()
            .map(|c| self.labels[*c as usize].score)
            .collect();
        scores.sort();
        scores.get(k.max(1) - 1).copied()
    }

    fn is_kept(&self, label: u32) -> bool {
        let node = self.labels[label as usize].node;
        self.best
            .get(node.0 as usize)
            .is_some_and(|k| k.contains(&label))
    }

    fn on_path(&self, mut label: u32, node: NodeIx) -> bool {
        loop {
            let l = &self.labels[label as usize];
            if l.node == node {
                return true;
            }
            match l.via {
                Some((_, next)) => label = next,
                None => return false,
            }
        }
    }

    fn path(&self, mut label: u32) -> Vec<EdgeIx> {
        let mut edges = Vec::new();
        while let Some((edge, next)) = self.labels[label as usize].via {
            edges.push(edge);
            label = next;
        }
        edges
    }

    fn relax(
        &mut self,
        label: u32,
        depth: usize,
        req: &RouteRequest<'_>,
        hops: &[u8],
        next: &mut Vec<u32>,
        refusals: &mut BTreeMap<Refusal, u32>,
    ) {
        let graph = self.ctx.graph;
        let (node, amount) = (
            self.labels[label as usize].node,
            self.labels[label as usize].amount,
        );
        for &e in graph.incoming(node) {
            let edge = graph.edge(e);
            let from = edge.from;
            let reach = usize::from(hops[from.0 as usize]);
            if reach + depth + 1 > self.ctx.max_legs || !req.exclusions.allows(graph, e) {
                continue;
            }
            if self.on_path(label, from) {
                continue;
            }
            match self.extend(label, e, amount) {
                Ok(new) => {
                    if let Some(ix) = self.push(new) {
                        next.push(ix);
                    }
                }
                Err(r) => *refusals.entry(r).or_default() += 1,
            }
        }
    }

    /// The edge's success probability, asked of the health tracker once per search.
    fn probability(&mut self, e: EdgeIx) -> Decimal {
        let slot = &mut self.probabilities[e.0 as usize];
        if slot.is_sign_negative() {
            let edge = self.ctx.graph.edge(e);
            *slot = self
                .ctx
                .health
                .success_probability(&edge.venue, e, self.ctx.now_ms);
        }
        *slot
    }

    fn extend(&mut self, label: u32, e: EdgeIx, amount: Decimal) -> Result<Label, Refusal> {
        let graph = self.ctx.graph;
        let edge = graph.edge(e);
        let (from, to) = (graph.node_info(edge.from), graph.node_info(edge.to));
        let in_dp = graph.asset(from.asset).decimals;
        let priced = edge.kind.inverse(amount, in_dp)?;
        if edge.kind.converts() {
            self.ctx
                .prices
                .check_conversion(from.asset, to.asset, priced.input, priced.output)
                .map_err(Refusal::Price)?;
        }
        let p = self.probability(e);
        let prev = &self.labels[label as usize];
        let seconds = prev.seconds + u64::from(edge.seconds);
        let probability = prev.probability * p;
        let gas_usd = prev.gas_usd + edge.kind.gas_usd();
        Ok(Label {
            node: edge.from,
            amount: priced.input,
            via: Some((e, label)),
            depth: prev.depth + 1,
            seconds,
            probability,
            gas_usd,
            score: self.partial_score(edge.from, priced.input, gas_usd, seconds, probability),
        })
    }

    fn note_candidate(
        &self,
        label: u32,
        sources: &[Source],
        candidates: &mut Vec<u32>,
        refusals: &mut BTreeMap<Refusal, u32>,
    ) {
        let l = &self.labels[label as usize];
        if let Some(available) = sources
            .iter()
            .find(|s| s.node == l.node)
            .map(|s| s.available)
        {
            if available.is_some_and(|a| a < l.amount) {
                *refusals.entry(Refusal::SourceTooSmall).or_default() += 1;
            } else {
                candidates.push(label);
            }
        }
    }
}

/// Fewest hops from any source to each node, over allowed edges, up to `max` (255 beyond).
fn hops_from_sources(graph: &Graph, req: &RouteRequest<'_>, max: usize) -> Vec<u8> {
    let mut hops = vec![u8::MAX; graph.node_count()];
    let mut queue = VecDeque::new();
    for s in req.sources {
        if let Some(h) = hops.get_mut(s.node.0 as usize) {
            *h = 0;
            queue.push_back(s.node);
        }
    }
    while let Some(node) = queue.pop_front() {
        let h = hops[node.0 as usize];
        if usize::from(h) >= max {
            continue;
        }
        for &e in graph.outgoing(node) {
            if !req.exclusions.allows(graph, e) {
                continue;
            }
            let to = graph.edge(e).to.0 as usize;
            if hops[to] == u8::MAX {
                hops[to] = h + 1;
                queue.push_back(graph.edge(e).to);
            }
        }
    }
    hops
}

/// Prices `edges` forwards from `source`, raising the input a unit at a time (at most a few)
/// until the output reaches `intent`. Re-checks every conversion at the forward amounts.
pub fn price_path(
    ctx: &RouteContext<'_>,
    source: NodeIx,
    target: NodeIx,
    edges: &[EdgeIx],
    input: Decimal,
    intent: Decimal,
) -> Result<Route, Refusal> {
    let graph = ctx.graph;
    let src_asset = graph.node_info(source).asset;
    let unit = Decimal::new(1, graph.asset(src_asset).decimals);
    let mut input = input;
    for _ in 0..8 {
        let route = forward(ctx, source, target, edges, input, intent)?;
        if route.output >= intent {
            return Ok(route);
        }
        input += unit;
    }
    Err(Refusal::BelowMinimum)
}

fn forward(
    ctx: &RouteContext<'_>,
    source: NodeIx,
    target: NodeIx,
    edges: &[EdgeIx],
    input: Decimal,
    intent: Decimal,
) -> Result<Route, Refusal> {
    let graph = ctx.graph;
    let settlement = graph.settlement(target).ok_or(Refusal::Liquidity)?;
    let mut amount = input;
    let mut legs = Vec::with_capacity(edges.len());
    let mut fee_usd = settlement.gas_usd;
    let mut seconds = u64::from(settlement.seconds);
    let mut probability = Decimal::ONE;
    for &e in edges {
        let edge = graph.edge(e);
        let (from, to) = (graph.node_info(edge.from), graph.node_info(edge.to));
        let priced = edge.kind.forward(amount, graph.asset(to.asset).decimals)?;
        if edge.kind.converts() {
            ctx.prices
                .check_conversion(from.asset, to.asset, priced.input, priced.output)
                .map_err(Refusal::Price)?;
        }
        let fee_asset = if priced.fee_in_output {
            to.asset
        } else {
            from.asset
        };
        let leg_fee = priced.fee * ctx.prices.usd_value(fee_asset) + edge.kind.gas_usd();
        let p = ctx.health.success_probability(&edge.venue, e, ctx.now_ms);
        legs.push(RouteLeg {
            edge: e,
            kind: edge.kind.leg_kind(),
            input: priced.input,
            output: priced.output,
            fee_usd: leg_fee.round_dp(6),
            seconds: edge.seconds,
            success_probability: p,
        });
        fee_usd += leg_fee;
        seconds += u64::from(edge.seconds);
        probability *= p;
        amount = priced.output;
    }
    let prices = ctx.prices;
    let intent_usd = intent * prices.usd_value(graph.node_info(target).asset);
    let paid_usd = input * prices.usd_value(graph.node_info(source).asset);
    let gas = settlement.gas_usd
        + legs
            .iter()
            .map(|l| graph.edge(l.edge).kind.gas_usd())
            .sum::<Decimal>();
    let cost_bps = ((paid_usd + gas - intent_usd) / intent_usd * Decimal::from(10_000)).round_dp(4);
    let inputs = ScoreInputs {
        cost_bps,
        expected_seconds: seconds,
        success_probability: probability,
    };
    Ok(Route {
        source,
        target,
        legs,
        input,
        output: amount,
        intent,
        fee_usd: fee_usd.round_dp(6),
        settlement_gas_usd: settlement.gas_usd,
        settlement_seconds: settlement.seconds,
        cost_bps,
        expected_seconds: seconds,
        success_probability: probability.round_dp(6),
        score: score(&inputs, &ctx.score),
    })
}
