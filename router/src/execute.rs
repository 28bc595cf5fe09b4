//! Execution planning with fallback: a pure state machine, no IO.
//!
//! The gateway asks [`FundingPlan`] what to do, does it (an order, a withdrawal, a swap, a
//! bridge, a transfer), and reports the leg's outcome back. The plan answers with the next
//! step:
//!
//! - `confirmed` → the next leg, from where the money now is with what actually arrived;
//!   if that is short of what the rest of the route needs, a re-plan from there;
//! - `failed(reason)` → a re-plan from the leg's start node (the money never left) with the
//!   next-best route that still delivers the locked merchant amount, the failed edge (and,
//!   for an unavailable or rate-limited venue, the whole venue) excluded;
//! - `unknown` → [`Next::WaitForReconciliation`]: never a blind retry. Reconciliation later
//!   reports the same leg as confirmed or failed;
//! - a transient failure (venue down, rate limited, reverted) with no other route within the
//!   budget → the same way again as a new leg after an exponential backoff (`delay_secs` on
//!   the order): the failed leg is known not to have happened, so this is not a blind retry;
//! - nothing left to try → [`Next::GiveUp`] with a reason code and where to return the
//!   payer's funds from.
//!
//! A fallback route usually costs more than the one the payer paid for. The lock is Rialto's
//! promise, so Rialto's own inventory at the node tops the difference up, within
//! [`PlanPolicy::max_topup_bps`] of the merchant amount over the whole execution; each top-up
//! is on the leg order (`topup`) and a give-up says how much of what is returned was Rialto's.
//!
//! Each leg has a fresh [`LegId`]; its idempotency key (exchange client order id, withdrawal
//! reference, chain nonce tag) derives from it, so a leg reported `unknown` can be looked up
//! and is never sent twice.

use std::collections::VecDeque;

use rialto_compliance::Cleared;
use rialto_core::id::LegId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::edge::LegKind;
use crate::graph::{EdgeIx, Graph, NodeIx, NodeRef};
use crate::quote::LockedQuote;
use crate::search::{find_routes, Exclusions, Refusal, Route, RouteContext, RouteRequest, Source};

/// Why a leg failed, as the connector reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegFailure {
    VenueUnavailable,
    RateLimited,
    InsufficientLiquidity,
    Reverted,
    /// The venue refused the order or withdrawal outright (minimum, limit, risk).
    Rejected,
}

/// What happened to a submitted leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum LegOutcome {
    /// Done; `received` is what arrived at the leg's to-node.
    Confirmed { received: Decimal },
    /// Did not happen; the money is still at the leg's from-node.
    Failed { reason: LegFailure },
    /// Sent, and we cannot tell whether it happened.
    Unknown,
}

/// The stable reason codes of a give-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUpReason {
    Slippage,
    NoRoute,
    VenueUnavailable,
    InsufficientLiquidity,
    ExecutionReverted,
    OracleUnavailable,
    QuoteExpired,
}

/// One leg to execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegOrder {
    pub leg: LegId,
    /// Derived from the leg id: the same leg always carries the same key.
    pub idempotency_key: String,
    /// `None` for the final transfer to the merchant.
    pub edge: Option<EdgeIx>,
    pub kind: LegKind,
    pub from: NodeIx,
    pub to: NodeIx,
    pub input: Decimal,
    /// Of `input`, what Rialto adds from its own inventory at `from` to keep the guarantee.
    pub topup: Decimal,
    /// Less than this arriving means the rest of the route cannot deliver the merchant amount.
    pub min_output: Decimal,
    /// Send no earlier than this many seconds after the report that produced the order (a
    /// backoff after a transient failure; 0 otherwise).
    pub delay_secs: u32,
}

/// Where to send the payer's money back from, and how much is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnFunds {
    pub node: NodeIx,
    pub at: NodeRef,
    /// Everything at the node; the payer gets `amount − treasury_share`.
    pub amount: Decimal,
    /// Rialto's top-ups still in `amount`, in the node's asset.
    pub treasury_share: Decimal,
}

/// Limits of one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPolicy {
    /// Re-plans (fallback routes) allowed before giving up.
    pub max_replans: u32,
    /// What Rialto may add from its inventory over the whole execution, in bps of the
    /// merchant amount.
    pub max_topup_bps: u32,
    /// Retries of a transiently failed way after a backoff, when no other route fits.
    pub max_backoffs: u32,
    /// The first backoff; each next one doubles.
    pub backoff_base_secs: u32,
    /// Whether top-ups may be added on exchange accounts (true when the accounts are
    /// Rialto's own, as in the simulation; false when they are the payer's).
    #[serde(default = "yes")]
    pub topup_on_venues: bool,
}

fn yes() -> bool {
    true
}

impl PlanPolicy {
    /// No fallback at all: the first failure gives up (the benchmark's baseline).
    pub fn single_route() -> Self {
        Self {
            max_replans: 0,
            max_topup_bps: 0,
            max_backoffs: 0,
            backoff_base_secs: 0,
            topup_on_venues: true,
        }
    }
}

impl Default for PlanPolicy {
    fn default() -> Self {
        Self {
            max_replans: 8,
            max_topup_bps: 50,
            max_backoffs: 5,
            backoff_base_secs: 60,
            topup_on_venues: true,
        }
    }
}

/// The plan's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "next")]
pub enum Next {
    Execute(LegOrder),
    WaitForReconciliation {
        leg: LegId,
    },
    /// The merchant received `merchant_amount` (at least the locked amount).
    Done {
        merchant_amount: Decimal,
    },
    GiveUp {
        reason: GiveUpReason,
        return_funds: ReturnFunds,
    },
}

/// The idempotency key of a leg: the leg id itself, which exchange client order ids and
/// withdrawal references are derived from (`rialto_connectors::exchange::client_order_id`).
pub fn idempotency_key(leg: &LegId) -> String {
    leg.to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Planned {
    edge: Option<EdgeIx>,
    min_output: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    Running(LegOrder),
    Awaiting(LegOrder),
    Finished(Next),
}

/// The execution of one locked quote. Build it with [`execute`] (which takes the compliance
/// proof) or, where no money moves (simulation, tests), with [`FundingPlan::new`].
///
/// Serializable: the gateway stores the plan (with the graph its indices refer to) after every
/// step, and a restarted gateway carries on from the stored plan exactly where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingPlan {
    target: NodeIx,
    guaranteed: Decimal,
    position: NodeIx,
    held: Decimal,
    remaining: VecDeque<Planned>,
    state: State,
    exclusions: Exclusions,
    replans: u32,
    policy: PlanPolicy,
    /// Top-up allowance left, in the target asset.
    topup_left: Decimal,
    /// Top-ups added so far and still travelling with the money, in the current asset.
    topped_up: Decimal,
    pending_topup: Decimal,
    backoffs: u32,
    pending_delay: u32,
    history: Vec<(LegOrder, LegOutcome)>,
    /// What the plan started with at its source, where it differs from the quote's payer
    /// amount ([`Funded`]); `None` for a plan of exactly the quoted amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    funded_input: Option<Decimal>,
}

/// A start from funds that differ from the quote's payer amount, which the merchant's payment
/// policy (decided by the caller) still accepts: `input` of the source asset goes into the
/// route (an over-payment the merchant keeps, an under-payment within its tolerance), and the
/// merchant must receive at least `guaranteed` (the caller scales the locked amount).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funded {
    pub input: Decimal,
    pub guaranteed: Decimal,
}

/// The gateway's entry point: only a screened, cleared quote can be executed.
pub fn execute(
    cleared: Cleared<LockedQuote>,
    graph: &Graph,
    policy: PlanPolicy,
    now: u64,
) -> Result<(FundingPlan, Next), GiveUpReason> {
    let (locked, _decision) = cleared.into_parts();
    FundingPlan::new(&locked, graph, policy, now)
}

/// [`execute`] from funds that differ from the quote's payer amount (see [`Funded`]).
pub fn execute_funded(
    cleared: Cleared<LockedQuote>,
    graph: &Graph,
    policy: PlanPolicy,
    now: u64,
    funded: Funded,
) -> Result<(FundingPlan, Next), GiveUpReason> {
    let (locked, _decision) = cleared.into_parts();
    FundingPlan::start(&locked, graph, policy, now, Some(funded))
}

impl FundingPlan {
    /// Starts executing `locked` at `now`: refused with `quote_expired` after its expiry.
    pub fn new(
        locked: &LockedQuote,
        graph: &Graph,
        policy: PlanPolicy,
        now: u64,
    ) -> Result<(Self, Next), GiveUpReason> {
        Self::start(locked, graph, policy, now, None)
    }

    /// [`FundingPlan::new`], from `funded` instead of the quoted amounts where given.
    pub fn start(
        locked: &LockedQuote,
        graph: &Graph,
        policy: PlanPolicy,
        now: u64,
        funded: Option<Funded>,
    ) -> Result<(Self, Next), GiveUpReason> {
        let quote = locked.accept(now).map_err(|_| GiveUpReason::QuoteExpired)?;
        let route = quote.route().ok_or(GiveUpReason::NoRoute)?;
        let guaranteed = funded.map_or(locked.guaranteed_amount(), |f| f.guaranteed);
        let mut plan = Self {
            target: route.target,
            guaranteed,
            position: route.source,
            held: funded.map_or(route.input, |f| f.input),
            remaining: VecDeque::new(),
            state: State::Finished(Next::Done {
                merchant_amount: Decimal::ZERO,
            }),
            exclusions: Exclusions::default(),
            replans: 0,
            policy,
            topup_left: guaranteed * Decimal::from(policy.max_topup_bps) / Decimal::from(10_000),
            topped_up: Decimal::ZERO,
            pending_topup: Decimal::ZERO,
            backoffs: 0,
            pending_delay: 0,
            history: Vec::new(),
            funded_input: funded.map(|f| f.input),
        };
        plan.adopt(route, graph);
        let next = plan.dispatch(graph);
        Ok((plan, next))
    }

    /// What the plan started with at its source when it was not the quote's payer amount.
    pub fn funded_input(&self) -> Option<Decimal> {
        self.funded_input
    }

    /// Every leg sent so far with its reported outcome, in order.
    pub fn history(&self) -> &[(LegOrder, LegOutcome)] {
        &self.history
    }

    /// Where the money is now and how much of it.
    pub fn position(&self) -> (NodeIx, Decimal) {
        (self.position, self.held)
    }

    /// The leg sent and not yet reported (or awaiting reconciliation), if any.
    pub fn in_flight(&self) -> Option<&LegOrder> {
        match &self.state {
            State::Running(order) | State::Awaiting(order) => Some(order),
            State::Finished(_) => None,
        }
    }

    /// The leg awaiting reconciliation, if any.
    pub fn awaiting(&self) -> Option<&LegOrder> {
        match &self.state {
            State::Awaiting(order) => Some(order),
            State::Running(_) | State::Finished(_) => None,
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Finished(_))
    }

    fn adopt(&mut self, route: &Route, graph: &Graph) {
        self.remaining = route
            .legs
            .iter()
            .map(|l| Planned {
                edge: Some(l.edge),
                min_output: Decimal::ZERO,
            })
            .collect();
        self.remaining.push_back(Planned {
            edge: None,
            min_output: self.guaranteed,
        });
        // What each leg must deliver for the rest to reach the guaranteed amount.
        let mut need = self.guaranteed;
        for planned in self.remaining.iter_mut().rev().skip(1) {
            planned.min_output = need;
            if let Some(e) = planned.edge {
                let edge = graph.edge(e);
                let dp = graph.asset(graph.node_info(edge.from).asset).decimals;
                need = edge.kind.inverse(need, dp).map_or(need, |p| p.input);
            }
        }
    }

    fn dispatch(&mut self, graph: &Graph) -> Next {
        let Some(planned) = self.remaining.pop_front() else {
            return self.finish(Next::Done {
                merchant_amount: self.held,
            });
        };
        let (to, kind) = match planned.edge {
            Some(e) => (graph.edge(e).to, graph.edge(e).kind.leg_kind()),
            None => (self.target, LegKind::Transfer),
        };
        let leg = LegId::generate();
        let order = LegOrder {
            leg,
            idempotency_key: idempotency_key(&leg),
            edge: planned.edge,
            kind,
            from: self.position,
            to,
            input: self.held + self.pending_topup,
            topup: self.pending_topup,
            min_output: planned.min_output,
            delay_secs: std::mem::take(&mut self.pending_delay),
        };
        self.state = State::Running(order.clone());
        Next::Execute(order)
    }

    fn finish(&mut self, next: Next) -> Next {
        self.state = State::Finished(next.clone());
        next
    }

    fn give_up(&mut self, graph: &Graph, reason: GiveUpReason) -> Next {
        self.remaining.clear();
        let return_funds = ReturnFunds {
            node: self.position,
            at: graph.describe(self.position),
            amount: self.held,
            treasury_share: self.topped_up.min(self.held),
        };
        self.finish(Next::GiveUp {
            reason,
            return_funds,
        })
    }

    /// Reports the outcome of the leg `leg` and gets the next step. An outcome for a leg that
    /// is not the one in flight (a duplicate report) changes nothing and repeats the current
    /// step.
    pub fn on_outcome(&mut self, leg: LegId, outcome: LegOutcome, ctx: &RouteContext<'_>) -> Next {
        let order = match &self.state {
            State::Running(o) | State::Awaiting(o) if o.leg == leg => o.clone(),
            State::Running(o) => return Next::Execute(o.clone()),
            State::Awaiting(o) => return Next::WaitForReconciliation { leg: o.leg },
            State::Finished(next) => return next.clone(),
        };
        self.history.push((order.clone(), outcome));
        match outcome {
            LegOutcome::Unknown => {
                self.state = State::Awaiting(order.clone());
                Next::WaitForReconciliation { leg: order.leg }
            }
            LegOutcome::Confirmed { received } => self.on_confirmed(&order, received, ctx),
            LegOutcome::Failed { reason } => self.on_failed(&order, reason, ctx),
        }
    }

    fn on_confirmed(
        &mut self,
        order: &LegOrder,
        received: Decimal,
        ctx: &RouteContext<'_>,
    ) -> Next {
        self.position = order.to;
        self.held = received;
        if order.edge.is_none() {
            return self.finish(Next::Done {
                merchant_amount: received,
            });
        }
        if received >= order.min_output {
            return self.dispatch(ctx.graph);
        }
        // Slippage: the rest of this route can no longer deliver; look for another from here.
        self.replan(ctx, GiveUpReason::Slippage)
    }

    fn on_failed(&mut self, order: &LegOrder, reason: LegFailure, ctx: &RouteContext<'_>) -> Next {
        // The leg did not happen: its top-up was never spent and goes back to the allowance.
        self.topup_left += self.target_units(ctx, order.topup);
        self.pending_topup = Decimal::ZERO;
        let Some(edge) = order.edge else {
            // The final transfer to the merchant failed: the money is still at the target
            // node, and the only way on is the same transfer again under a new leg.
            self.remaining.push_front(Planned {
                edge: None,
                min_output: self.guaranteed,
            });
            return self.retry_or_give_up(ctx.graph);
        };
        let venue = ctx.graph.edge(edge).venue.clone();
        let venue_down = matches!(
            reason,
            LegFailure::VenueUnavailable | LegFailure::RateLimited
        );
        let fresh_edge = self.exclusions.edges.insert(edge);
        let fresh_venue = venue_down && self.exclusions.venues.insert(venue.clone());
        let reason_code = match reason {
            LegFailure::VenueUnavailable | LegFailure::RateLimited => {
                GiveUpReason::VenueUnavailable
            }
            LegFailure::InsufficientLiquidity => GiveUpReason::InsufficientLiquidity,
            LegFailure::Reverted => GiveUpReason::ExecutionReverted,
            LegFailure::Rejected => GiveUpReason::NoRoute,
        };
        self.replans += 1;
        if self.replans > self.policy.max_replans {
            return self.give_up(ctx.graph, reason_code);
        }
        let oracle_refused = match self.search_from_here(ctx) {
            Ok(route) => return self.follow(&route, ctx),
            Err(oracle_refused) => oracle_refused,
        };
        let transient = venue_down || reason == LegFailure::Reverted;
        if transient && self.backoffs < self.policy.max_backoffs {
            // Nothing else fits: the same way again later, as a new leg.
            if fresh_edge {
                self.exclusions.edges.remove(&edge);
            }
            if fresh_venue {
                self.exclusions.venues.remove(&venue);
            }
            self.backoffs += 1;
            self.pending_delay = self.policy.backoff_base_secs << (self.backoffs - 1).min(16);
            if let Ok(route) = self.search_from_here(ctx) {
                return self.follow(&route, ctx);
            }
            self.pending_delay = 0;
        }
        let reason_code = if oracle_refused && reason_code == GiveUpReason::NoRoute {
            GiveUpReason::OracleUnavailable
        } else {
            reason_code
        };
        self.give_up(ctx.graph, reason_code)
    }

    fn retry_or_give_up(&mut self, graph: &Graph) -> Next {
        self.backoffs += 1;
        if self.backoffs > self.policy.max_backoffs {
            return self.give_up(graph, GiveUpReason::ExecutionReverted);
        }
        self.pending_delay = self.policy.backoff_base_secs << (self.backoffs - 1).min(16);
        self.dispatch(graph)
    }

    /// After slippage: the next-best route from where the money now is.
    fn replan(&mut self, ctx: &RouteContext<'_>, reason: GiveUpReason) -> Next {
        self.replans += 1;
        if self.replans > self.policy.max_replans {
            return self.give_up(ctx.graph, reason);
        }
        match self.search_from_here(ctx) {
            Ok(route) => self.follow(&route, ctx),
            Err(_) => self.give_up(ctx.graph, reason),
        }
    }

    /// The best route from the current position that still delivers the guaranteed amount
    /// with what is held plus the top-up allowance left; on failure, whether oracle
    /// refusals (other than deviation) were among the reasons.
    fn search_from_here(&self, ctx: &RouteContext<'_>) -> Result<Route, bool> {
        // Rialto can only add its own inventory where it holds the money. When exchange
        // accounts are the payer's (the gateway's case), topping up there would spend the
        // payer's other balance: `topup_on_venues` is off and the allowance applies on chains.
        let at_venue = !self.policy.topup_on_venues
            && matches!(
                ctx.graph
                    .location(ctx.graph.node_info(self.position).location),
                crate::graph::Location::Venue(_)
            );
        let allowance = if at_venue {
            Decimal::ZERO
        } else {
            self.position_units(ctx, self.topup_left)
        };
        let sources = [Source {
            node: self.position,
            available: Some(self.held + allowance),
        }];
        let mut outcome = find_routes(
            ctx,
            &RouteRequest {
                sources: &sources,
                target: self.target,
                amount: self.guaranteed,
                exclusions: &self.exclusions,
            },
            1,
        );
        if outcome.routes.is_empty() {
            let oracle_refused = outcome.refusals.keys().any(
                |r| matches!(r, Refusal::Price(p) if *p != crate::oracle::PriceRefusal::Deviation),
            );
            return Err(oracle_refused);
        }
        Ok(outcome.routes.swap_remove(0))
    }

    /// Adopts `route` (charging any top-up it needs) and dispatches its first leg.
    fn follow(&mut self, route: &Route, ctx: &RouteContext<'_>) -> Next {
        if route.input > self.held {
            let topup = route.input - self.held;
            self.pending_topup = topup;
            self.topup_left -= self.target_units(ctx, topup).min(self.topup_left);
        }
        self.adopt(route, ctx.graph);
        self.dispatch(ctx.graph)
    }

    /// `amount` of the target asset in units of the asset at the current position (rounded
    /// down: the allowance is a ceiling).
    fn position_units(&self, ctx: &RouteContext<'_>, amount: Decimal) -> Decimal {
        let g = ctx.graph;
        let (at, target) = (
            g.node_info(self.position).asset,
            g.node_info(self.target).asset,
        );
        let ratio = ctx.prices.usd_value(target) / ctx.prices.usd_value(at);
        crate::edge::round_down(amount * ratio, g.asset(at).decimals)
    }

    /// `amount` of the current position's asset in units of the target asset (rounded up: what
    /// is charged against the allowance).
    fn target_units(&self, ctx: &RouteContext<'_>, amount: Decimal) -> Decimal {
        let g = ctx.graph;
        let (at, target) = (
            g.node_info(self.position).asset,
            g.node_info(self.target).asset,
        );
        let ratio = ctx.prices.usd_value(at) / ctx.prices.usd_value(target);
        crate::edge::round_up(amount * ratio, g.asset(target).decimals)
    }
}
