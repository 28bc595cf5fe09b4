//! Exhaustive search: every simple path of at most `max_legs` edges from a source to the
//! target, each priced exactly like the router prices its candidates. Exponential in the
//! bound, so only for the benchmark's reference optimum and for tests.

use crate::graph::{EdgeIx, NodeIx};
use crate::search::{price_path, Route, RouteContext, RouteRequest};

/// The cheapest route by cost (not score) over all simple paths, and how many paths exist.
pub fn cheapest_route(ctx: &RouteContext<'_>, req: &RouteRequest<'_>) -> (Option<Route>, usize) {
    let graph = ctx.graph;
    let mut best: Option<Route> = None;
    let mut paths = 0usize;
    for source in req.sources {
        let mut stack: Vec<EdgeIx> = Vec::new();
        let mut visited: Vec<NodeIx> = vec![source.node];
        walk(
            ctx,
            req,
            source.node,
            &mut stack,
            &mut visited,
            &mut |edges| {
                paths += 1;
                if let Some(route) = price_exact(ctx, req, source.node, edges) {
                    if source.available.is_some_and(|a| a < route.input) {
                        return;
                    }
                    if best.as_ref().is_none_or(|b| route.cost_bps < b.cost_bps) {
                        best = Some(route);
                    }
                }
            },
        );
    }
    let _ = graph;
    (best, paths)
}

fn walk(
    ctx: &RouteContext<'_>,
    req: &RouteRequest<'_>,
    node: NodeIx,
    stack: &mut Vec<EdgeIx>,
    visited: &mut Vec<NodeIx>,
    found: &mut dyn FnMut(&[EdgeIx]),
) {
    if node == req.target {
        found(stack);
    }
    if stack.len() >= ctx.max_legs {
        return;
    }
    for &e in ctx.graph.outgoing(node) {
        let edge = ctx.graph.edge(e);
        if req.exclusions.edges.contains(&e) || req.exclusions.venues.contains(&edge.venue) {
            continue;
        }
        if visited.contains(&edge.to) {
            continue;
        }
        stack.push(e);
        visited.push(edge.to);
        walk(ctx, req, edge.to, stack, visited, found);
        visited.pop();
        stack.pop();
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
