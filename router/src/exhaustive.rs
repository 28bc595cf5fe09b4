//! Exhaustive search: every simple path of at most `max_legs` edges from a source to the
//! target, each priced exactly like the router prices its candidates. Exponential in the
//! bound, so only for the benchmark's reference optimum and for tests.

use std::collections::VecDeque;

use crate::graph::{EdgeIx, Graph, NodeIx};
use crate::search::{price_path, Route, RouteContext, RouteRequest};

/// The cheapest route by cost (not score) over all simple paths, and how many paths exist.
pub fn cheapest_route(ctx: &RouteContext<'_>, req: &RouteRequest<'_>) -> (Option<Route>, usize) {
    let mut best: Option<Route> = None;
    let mut paths = 0usize;
    let to_target = hops_to_target(ctx.graph, req.target, ctx.max_legs);
    for source in req.sources {
        let mut stack: Vec<EdgeIx> = Vec::new();
        let mut visited: Vec<NodeIx> = vec![source.node];
        let mut walker = Walker {
            ctx,
            req,
            to_target: &to_target,
        };
        walker.walk(source.node, &mut stack, &mut visited, &mut |edges| {
            paths += 1;
            if let Some(route) = price_exact(ctx, req, source.node, edges) {
                if source.available.is_some_and(|a| a < route.input) {
                    return;
                }
                if best.as_ref().is_none_or(|b| route.cost_bps < b.cost_bps) {
                    best = Some(route);
                }
            }
        });
    }
    (best, paths)
}

/// Fewest hops from each node to `target`, structurally (no pricing), up to `max`.
fn hops_to_target(graph: &Graph, target: NodeIx, max: usize) -> Vec<usize> {
    let mut hops = vec![usize::MAX; graph.node_count()];
    hops[target.0 as usize] = 0;
    let mut queue = VecDeque::from([target]);
    while let Some(node) = queue.pop_front() {
        let h = hops[node.0 as usize];
        if h >= max {
            continue;
        }
        for &e in graph.incoming(node) {
            let from = graph.edge(e).from;
            if hops[from.0 as usize] == usize::MAX {
                hops[from.0 as usize] = h + 1;
                queue.push_back(from);
            }
        }
    }
    hops
}

struct Walker<'w, 'a> {
    ctx: &'w RouteContext<'a>,
    req: &'w RouteRequest<'a>,
    to_target: &'w [usize],
}

impl Walker<'_, '_> {
    /// Depth-first over every simple path; only prunes paths that cannot reach the target
    /// within the bound, never by price.
    fn walk(
        &mut self,
        node: NodeIx,
        stack: &mut Vec<EdgeIx>,
        visited: &mut Vec<NodeIx>,
        found: &mut dyn FnMut(&[EdgeIx]),
    ) {
        if node == self.req.target {
            found(stack);
        }
        if stack.len() >= self.ctx.max_legs {
            return;
        }
        for &e in self.ctx.graph.outgoing(node) {
            let edge = self.ctx.graph.edge(e);
            let ex = self.req.exclusions;
            if ex.edges.contains(&e) || ex.venues.contains(&edge.venue) {
                continue;
            }
            let remaining = self.to_target[edge.to.0 as usize];
            if visited.contains(&edge.to)
                || remaining.saturating_add(stack.len() + 1) > self.ctx.max_legs
            {
                continue;
            }
            stack.push(e);
            visited.push(edge.to);
            self.walk(edge.to, stack, visited, found);
            visited.pop();
            stack.pop();
        }
    }
}

/// Prices one path backwards from the intent amount, then forwards, as the router does.
fn price_exact(
    ctx: &RouteContext<'_>,
    req: &RouteRequest<'_>,
    source: NodeIx,
    edges: &[EdgeIx],
) -> Option<Route> {
    let graph = ctx.graph;
    let mut need = req.amount;
    for &e in edges.iter().rev() {
        let edge = graph.edge(e);
        let (from, to) = (graph.node_info(edge.from), graph.node_info(edge.to));
        let priced = edge
            .kind
            .inverse(need, graph.asset(from.asset).decimals)
            .ok()?;
        if edge.kind.converts() {
            ctx.prices
                .check_conversion(from.asset, to.asset, priced.input, priced.output)
                .ok()?;
        }
        need = priced.input;
    }
    price_path(ctx, source, req.target, edges, need, req.amount).ok()
}
