//! The engine side of the SmartFunding router (`rialto-router`): market snapshots built from
//! the real connectors, the oracle adapter, ranked quotes for an intent, locks, and
//! the venue health the operator endpoint shows.
//!
//! # Layout
//! - [`market`]: the router `Graph` for one intent from venues (books, withdrawal terms,
//!   deposit networks; clients from the mode's `Venues` factory) and chains (deposit transfers,
//!   settlement gas).
//! - [`oracle`]: `PriceReadings`, the router's `Oracle` over the mode's connectors `PriceFeed`
//!   (the gateway wires Chainlink: devnet mocks in sandbox mode, the reference feeds for live
//!   chains).
//! - [`fx`]: locking a fiat-priced intent's amount in its settlement asset (the router's
//!   `lock_fx` over the mode's feeds) and the `fx` object intents and receipts show.
//! - [`onchain`]: the on-chain legs of routes (swaps through the chain's `Dex`, bridge legs
//!   through the mode's `Bridge`, token transfers) sent from the hot wallets, and their
//!   `Dex`/`Ccip`/`Bridge` market edges.
//! - [`issuer`]: the issuing bank's mint as a market edge (`IssuerMint`, priced with the bank's
//!   fee schedule, offered only when Rialto's USD float covers it) and as a leg (the request
//!   under the leg id, secure-mint checked, confirmed by the mint on chain).
//! - [`start`]: starting accepted quotes: exchange payers screened and linked, wallet payers'
//!   signed funding reports verified and bound, the execution objects.
//! - [`execute`]: executing accepted quotes leg by leg with fallback, as stored jobs (the
//!   router's `FundingPlan` and each leg's `LegSpec` stored typed; steps fail with `ExecError`).
//! - [`resolve_leg`]: operators resolve a leg whose outcome is `unknown` (delivered with what
//!   arrived, or failed), and the plan goes on as if the venue had answered; audited.
//! - [`booking`]: the ledger postings of executions (funding, conversions, returns).
//! - [`policy`]: the merchant's payment policy (tolerance, over-payment) on a wallet payer's
//!   funding of a route: how the plan starts, and the intent's `payment_detail`.
//!
//! Quotes are persisted by the API (`gateway/src/api/routing.rs`) with their route and graph
//! ([`StoredRoute`]), so any gateway instance, restarted or not, can lock and execute them.

pub mod booking;
pub mod execute;
pub mod fx;
pub mod issuer;
pub mod market;
pub mod onchain;
pub mod oracle;
pub mod policy;
pub mod resolve_leg;
pub mod start;

use std::sync::Mutex;

use rialto_router::{
    find_routes, EdgeIx, Exclusions, Graph, HealthPolicy, HealthSnapshot, HealthTracker,
    PricePolicy, PriceTable, Quote, Refusal, Route, RouteContext, RouteRequest, ScorePolicy,
    Source,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How many ranked quotes a payer gets at most.
pub const MAX_QUOTES: usize = 3;
/// How long a quote holds, seconds.
pub const QUOTE_TTL_SECS: u64 = 60;
pub const MAX_LEGS: usize = 4;
pub const LABELS_PER_NODE: usize = 4;

/// Router state the gateway keeps between requests: venue health, fed by every executed
/// leg's outcome. Quotes, locks and executions are in the store.
#[derive(Debug, Default)]
pub struct Routing {
    /// Venue health, with the graph its edge indices refer to (indices are only stable within
    /// one graph: outcomes are recorded against this graph's copy of the edge, and quoting
    /// reads them translated into the quote's graph by edge identity).
    health: Mutex<(HealthTracker, Graph)>,
}

/// What a quote keeps beside its API object: the router's quote, its route and the graph the
/// route's indices refer to. Enough to lock and execute it after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRoute {
    pub quote: Quote,
    pub route: Route,
    pub graph: Graph,
}

impl StoredRoute {
    /// The quote with its route put back, ready for the router's `lock`.
    pub fn into_parts(self) -> (Quote, Graph) {
        (self.quote.with_route(self.route), self.graph)
    }
}

/// Why no quote could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteRefusal {
    /// Every route failed on a price that could not be read or was refused by its feed.
    OracleUnavailable(String),
    /// No route; the reasons, counted, in neutral words.
    NoRoute(String),
}

impl Routing {
    pub fn new() -> Self {
        Self {
            health: Mutex::new((HealthTracker::new(HealthPolicy::default()), Graph::new())),
        }
    }

    /// Up to [`MAX_QUOTES`] quotes, best first, for `amount` of the target at `now` (Unix
    /// seconds). Also refused as `OracleUnavailable` when a feed failed and nothing connects.
    pub fn quotes(
        &self,
        market: &market::Market,
        oracle: &oracle::PriceReadings,
        amount: Decimal,
        now: u64,
    ) -> Result<Vec<Quote>, QuoteRefusal> {
        let prices = PriceTable::build(&market.graph, oracle, now, PricePolicy::default());
        let health = self.health_for(&market.graph);
        let ctx = RouteContext {
            graph: &market.graph,
            prices: &prices,
            health: &health,
            now_ms: now.saturating_mul(1000),
            score: ScorePolicy::default(),
            max_legs: MAX_LEGS,
            labels_per_node: LABELS_PER_NODE,
        };
        let sources = [Source {
            node: market.source,
            available: None,
        }];
        let exclusions = Exclusions::default();
        let outcome = find_routes(
            &ctx,
            &RouteRequest {
                sources: &sources,
                target: market.target,
                amount,
                exclusions: &exclusions,
            },
            MAX_QUOTES,
        );
        if outcome.routes.is_empty() {
            return Err(refusal(&outcome.refusals, oracle.any_refused()));
        }
        Ok(outcome
            .routes
            .into_iter()
            .map(|r| rialto_router::quote::build_quote(&ctx, r, now, QUOTE_TTL_SECS))
            .collect())
    }

    /// The recorded health, translated into `graph`'s edge indices.
    pub fn health_for(&self, graph: &Graph) -> HealthTracker {
        self.health
            .lock()
            .map(|h| h.0.translated(&h.1, graph))
            .unwrap_or_default()
    }

    /// Records one finished leg on `graph`'s edge `edge`.
    pub fn record(&self, graph: &Graph, edge: EdgeIx, ok: bool, latency_ms: u64, now_ms: u64) {
        let Ok(mut guard) = self.health.lock() else {
            return;
        };
        let (tracker, health_graph) = &mut *guard;
        if let Ok(mine) = health_graph.adopt_edge(graph, edge) {
            tracker.record(&graph.edge(edge).venue, mine, ok, latency_ms, now_ms);
        }
    }

    /// The health snapshot for `GET /v1/routing/health`.
    pub fn health_snapshot(&self, now_ms: u64) -> HealthSnapshot {
        match self.health.lock() {
            Ok(h) => h.0.snapshot(&h.1, now_ms),
            Err(_) => HealthTracker::default().snapshot(&Graph::new(), now_ms),
        }
    }
}

/// Summarises a search's refusals: `oracle_unavailable` when prices were missing and nothing
/// else stood in the way, else `no_route` with the counted reasons.
fn refusal(
    refusals: &std::collections::BTreeMap<Refusal, u32>,
    feeds_refused: bool,
) -> QuoteRefusal {
    use rialto_router::PriceRefusal as P;
    let words = |r: &Refusal| match r {
        Refusal::Price(P::Unavailable) => "price unavailable",
        Refusal::Price(P::Stale) => "price stale",
        Refusal::Price(P::NotPositive) => "price not positive",
        Refusal::Price(P::SequencerDown) => "price feed's network down",
        Refusal::Price(P::Deviation) => "price too far from the oracle",
        Refusal::Price(P::Depegged) => "stablecoin off its peg",
        Refusal::Liquidity => "not enough liquidity",
        Refusal::BelowMinimum => "below a venue minimum",
        Refusal::SourceTooSmall => "funding source too small",
    };
    let summary = if refusals.is_empty() {
        "no venue or chain connects this funding source to the settlement chain".to_owned()
    } else {
        refusals
            .iter()
            .map(|(r, n)| format!("{} ({n})", words(r)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unreadable = |r: &Refusal| {
        matches!(
            r,
            Refusal::Price(P::Unavailable | P::Stale | P::NotPositive | P::SequencerDown)
        )
    };
    let only_prices = !refusals.is_empty() && refusals.keys().all(unreadable);
    if only_prices || (refusals.is_empty() && feeds_refused) {
        QuoteRefusal::OracleUnavailable(summary)
    } else {
        QuoteRefusal::NoRoute(summary)
    }
}
