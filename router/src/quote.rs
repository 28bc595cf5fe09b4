//! Quotes and locked quotes.
//!
//! A [`Quote`] is the best-scored route for a merchant amount, spelled out: what the payer
//! pays, what the merchant receives (never less than the intent amount), each leg with its
//! fee, the total fee, the expected time, the oracle rounds the conversions were checked
//! against, and an expiry. [`lock`] turns it into a [`LockedQuote`]: within its lifetime the
//! execution guarantees the merchant amount (fallback routes must honour it too); after it,
//! accepting is refused.

use rialto_connectors::exchange::AssetCode;
use rialto_core::id::{Id, IdKind, LegId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::edge::LegKind;
use crate::graph::{EdgeIx, NodeIx, NodeRef};
use crate::oracle::CheckedPrice;
use crate::search::{find_routes, Exclusions, Route, RouteContext, RouteRequest, Source};
use crate::RouterError;

/// Marker for quote ids (`qt_…`).
#[derive(Debug)]
pub enum QuoteKind {}

impl IdKind for QuoteKind {
    const PREFIX: &'static str = "qt";
}

pub type QuoteId = Id<QuoteKind>;

/// What the payer asks a quote for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest {
    pub sources: Vec<Source>,
    pub target: NodeIx,
    /// The merchant amount, in the target asset; more decimals than the asset has is refused.
    pub amount: Decimal,
    pub ttl_secs: u64,
}

/// One leg of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLeg {
    pub id: LegId,
    pub edge: EdgeIx,
    pub kind: LegKind,
    pub from: NodeRef,
    pub to: NodeRef,
    pub input: Decimal,
    pub output: Decimal,
    /// In the reference currency (USD).
    pub fee_usd: Decimal,
    pub expected_seconds: u32,
    pub success_probability: Decimal,
    /// The oracle rounds this conversion was checked against; empty for same-asset legs.
    pub price_sources: Vec<CheckedPrice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub id: QuoteId,
    pub payer_asset: AssetCode,
    pub payer_amount: Decimal,
    pub source: NodeRef,
    pub merchant_asset: AssetCode,
    /// What the merchant receives: at least `intent_amount`.
    pub merchant_amount: Decimal,
    pub intent_amount: Decimal,
    pub target: NodeRef,
    pub legs: Vec<QuoteLeg>,
    /// Every leg's fee plus the final transfer's gas, in USD.
    pub total_fee_usd: Decimal,
    pub cost_bps: Decimal,
    pub expected_seconds: u64,
    pub success_probability: Decimal,
    pub score: Decimal,
    /// Unix seconds.
    pub created_at: u64,
    pub expires_at: u64,
    /// Every oracle round used, deduplicated.
    pub price_sources: Vec<CheckedPrice>,
    #[serde(skip)]
    pub(crate) route: Option<Route>,
}

impl Quote {
    /// The route behind the quote, for execution planning (absent on a deserialized quote).
    pub fn route(&self) -> Option<&Route> {
        self.route.as_ref()
    }

    /// Puts back the route of a quote read from storage: the gateway stores a quote's route
    /// (and its graph) beside the API object, so a lock survives a restart.
    pub fn with_route(mut self, route: Route) -> Self {
        self.route = Some(route);
        self
    }

    pub fn source_node(&self) -> Option<NodeIx> {
        self.route.as_ref().map(|r| r.source)
    }
}

/// Quotes the best route for `req` at `now` (Unix seconds).
pub fn quote(ctx: &RouteContext<'_>, req: &QuoteRequest, now: u64) -> Result<Quote, RouterError> {
    let target_asset = ctx.graph.asset(ctx.graph.node_info(req.target).asset);
    if req.amount <= Decimal::ZERO || req.amount.normalize().scale() > target_asset.decimals {
        return Err(RouterError::InvalidAmount(req.amount.to_string()));
    }
    let exclusions = Exclusions::default();
    let outcome = find_routes(
        ctx,
        &RouteRequest {
            sources: &req.sources,
            target: req.target,
            amount: req.amount,
            exclusions: &exclusions,
        },
        1,
    );
    let route = outcome
        .routes
        .into_iter()
        .next()
        .ok_or(RouterError::NoRoute {
            refusals: outcome.refusals.into_iter().collect(),
        })?;
    Ok(build_quote(ctx, route, now, req.ttl_secs))
}

/// Spells a route out as a quote with fresh leg ids.
pub fn build_quote(ctx: &RouteContext<'_>, route: Route, now: u64, ttl_secs: u64) -> Quote {
    let graph = ctx.graph;
    let mut all_sources: Vec<CheckedPrice> = Vec::new();
    let legs: Vec<QuoteLeg> = route
        .legs
        .iter()
        .map(|leg| {
            let edge = graph.edge(leg.edge);
            let price_sources = if edge.kind.converts() {
                [edge.from, edge.to]
                    .iter()
                    .filter_map(|n| ctx.prices.price(graph.node_info(*n).asset).ok().cloned())
                    .collect()
            } else {
                Vec::new()
            };
            for p in &price_sources {
                if !all_sources.contains(p) {
                    all_sources.push(p.clone());
                }
            }
            QuoteLeg {
                id: LegId::generate(),
                edge: leg.edge,
                kind: leg.kind,
                from: graph.describe(edge.from),
                to: graph.describe(edge.to),
                input: leg.input,
                output: leg.output,
                fee_usd: leg.fee_usd,
                expected_seconds: leg.seconds,
                success_probability: leg.success_probability,
                price_sources,
            }
        })
        .collect();
    let source = graph.describe(route.source);
    let target = graph.describe(route.target);
    Quote {
        id: QuoteId::generate(),
        payer_asset: source.asset.clone(),
        payer_amount: route.input,
        source,
        merchant_asset: target.asset.clone(),
        merchant_amount: route.output,
        intent_amount: route.intent,
        target,
        legs,
        total_fee_usd: route.fee_usd,
        cost_bps: route.cost_bps,
        expected_seconds: route.expected_seconds,
        success_probability: route.success_probability,
        score: route.score,
        created_at: now,
        expires_at: now.saturating_add(ttl_secs),
        price_sources: all_sources,
        route: Some(route),
    }
}

/// A quote whose merchant amount is guaranteed until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedQuote {
    quote: Quote,
    locked_at: u64,
}

/// Locks `quote` at `now`; a quote already expired cannot be locked.
pub fn lock(quote: Quote, now: u64) -> Result<LockedQuote, RouterError> {
    if now >= quote.expires_at {
        return Err(RouterError::QuoteExpired {
            expired_at: quote.expires_at,
        });
    }
    if quote.route.is_none() {
        return Err(RouterError::QuoteWithoutRoute);
    }
    Ok(LockedQuote {
        quote,
        locked_at: now,
    })
}

impl LockedQuote {
    /// The quote, if `now` is still within its lifetime; refused after expiry.
    pub fn accept(&self, now: u64) -> Result<&Quote, RouterError> {
        if now >= self.quote.expires_at {
            return Err(RouterError::QuoteExpired {
                expired_at: self.quote.expires_at,
            });
        }
        Ok(&self.quote)
    }

    pub fn quote(&self) -> &Quote {
        &self.quote
    }

    /// The guaranteed amount: what the merchant receives, whatever route completes.
    pub fn guaranteed_amount(&self) -> Decimal {
        self.quote.intent_amount
    }

    pub fn locked_at(&self) -> u64 {
        self.locked_at
    }

    pub fn expires_at(&self) -> u64 {
        self.quote.expires_at
    }
}
