//! SmartFunding simulation: a seeded market of 320 exchange accounts, 12 chains and 6
//! stablecoins, 10 000 payments under injected faults.
//!
//! Run: `cargo run --release -p rialto-router --example simulate [-- --payments N --seed S]`.
//!
//! Reports, side by side: funding success of the router with fallback, of a single-route
//! baseline (the same best quote, no fallback), and the share of payments for which any route
//! existed (exhaustive search); the cost gap of the router's quote to the exhaustive optimum;
//! quote latency. It asserts the invariant: no payment ends with the merchant under-paid or
//! with funds unaccounted for.

// f64 appears only in RNG sampling (log-normal payment sizes) and in reporting statistics;
// every amount the router sees is an exact Decimal built from integers.
#![allow(clippy::float_arithmetic)]

mod faults;
mod market;

use std::collections::HashMap;
use std::time::Instant;

use faults::{Drawn, Faults, Resolved};
use market::Market;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rialto_router::exhaustive::cheapest_route;
use rialto_router::{
    depegged_assets, lock, quote, AssetIx, EdgeIx, Exclusions, FundingPlan, GiveUpReason,
    HealthPolicy, HealthTracker, LegOutcome, Next, NodeIx, Oracle, OracleReading, PlanPolicy,
    PricePolicy, PriceTable, QuoteRequest, RouteContext, RouteRequest, ScorePolicy, Source,
    VenueId,
};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

const START: u64 = 1_800_000_000;
const SPACING: u64 = 6;

struct SimOracle(HashMap<String, OracleReading>);

impl Oracle for SimOracle {
    fn reading(&self, pair: &str) -> Option<OracleReading> {
        self.0.get(pair).cloned()
    }
}

struct Payment {
    target: NodeIx,
    target_asset: AssetIx,
    amount: Decimal,
    sources: Vec<Source>,
}

fn labels_per_node() -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == "--labels")
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn args() -> (usize, u64) {
    let argv: Vec<String> = std::env::args().collect();
    let get = |flag: &str, default: u64| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    (get("--payments", 10_000) as usize, get("--seed", 7))
}

fn pick(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.gen_range(0..total);
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Log-normal size, median 80, σ 1.4, in cents: f64 only for the draw.
fn payment_cents(rng: &mut StdRng) -> i64 {
    let (u1, u2): (f64, f64) = (rng.gen_range(1e-12..1.0), rng.gen());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let units = (80.0_f64.ln() + 1.4 * z).exp().clamp(1.0, 200_000.0);
    (units * 100.0).round() as i64
}

fn random_chain_node(rng: &mut StdRng, m: &Market, asset: AssetIx) -> NodeIx {
    let nodes: Vec<NodeIx> = m
        .chain_nodes
        .iter()
        .filter(|(a, _, _)| *a == asset)
        .map(|(_, _, n)| *n)
        .collect();
    nodes[rng.gen_range(0..nodes.len())]
}

fn payment(rng: &mut StdRng, m: &Market) -> Payment {
    let target_asset = m.assets[pick(rng, &[65, 10, 8, 10, 3, 4])].0;
    let target = random_chain_node(rng, m, target_asset);
    let amount = Decimal::new(payment_cents(rng), 2);
    let mut sources = Vec::new();
    for _ in 0..rng.gen_range(1..=3) {
        let asset = m.assets[pick(rng, &[40, 35, 6, 6, 8, 5])].0;
        let node = random_chain_node(rng, m, asset);
        let available = if rng.gen_range(0..100) < 60 {
            None
        } else {
            // What the payer holds: 0.9×–4× the payment, in the source asset.
            let factor = Decimal::new(rng.gen_range(90..=400), 2);
            let ratio = Decimal::from(m.usd_e4(target_asset)) / Decimal::from(m.usd_e4(asset));
            let dp = m.graph.asset(asset).decimals;
            Some((amount * ratio * factor).round_dp(dp))
        };
        if !sources.iter().any(|s: &Source| s.node == node) {
            sources.push(Source { node, available });
        }
    }
    Payment {
        target,
        target_asset,
        amount,
        sources,
    }
}

#[derive(Debug, Default)]
struct Tally {
    feasible: u64,
    router_quoted: u64,
    router_done: u64,
    router_done_feasible: u64,
    baseline_done: u64,
    baseline_done_feasible: u64,
    gave_up: HashMap<GiveUpReason, u64>,
    replans: u64,
    topped_up: u64,
    topup_bps_sum: f64,
    unknown_waits: u64,
    violations: Vec<String>,
    gaps: Vec<f64>,
    gaps_cost_only: Vec<f64>,
    latencies_us: Vec<f64>,
    exhaustive_paths: Vec<f64>,
    depeg_reports: u64,
}

enum End {
    Done,
    GaveUp(GiveUpReason),
}

/// Drives one plan to its end against the faults; returns the end and the health samples.
#[allow(clippy::too_many_arguments)]
fn run(
    m: &Market,
    faults: &mut Faults,
    ctx: &RouteContext<'_>,
    idx: u64,
    plan: &mut FundingPlan,
    first: Next,
    pay: &Payment,
    tally: &mut Tally,
    samples: &mut Vec<(VenueId, EdgeIx, bool, u64, u64)>,
) -> End {
    let mut next = first;
    let mut now = START + idx * SPACING;
    let mut attempts: HashMap<Option<EdgeIx>, u64> = HashMap::new();
    let (mut at, mut held) = plan.position();
    for _ in 0..64 {
        let order = match next {
            Next::Execute(order) => order,
            Next::Done { merchant_amount } => {
                if merchant_amount < pay.amount || at != pay.target {
                    tally.violations.push(format!(
                        "payment {idx}: merchant under-paid {merchant_amount} < {}",
                        pay.amount
                    ));
                }
                return End::Done;
            }
            Next::GiveUp {
                reason,
                return_funds,
            } => {
                if return_funds.node != at || return_funds.amount != held {
                    tally.violations.push(format!(
                        "payment {idx}: return {:?} but money is {held} at {at:?}",
                        return_funds
                    ));
                }
                if std::env::var("SIM_DEBUG").is_ok()
                    && ctx.max_legs == 4
                    && !plan.history().is_empty()
                    && std::env::var("SIM_DEBUG").as_deref() == Ok("2")
                {
                    let hist: Vec<String> = plan
                        .history()
                        .iter()
                        .map(|(o, out)| {
                            format!(
                                "{:?}@{} {:?}",
                                o.kind,
                                o.edge.map_or("settle".to_owned(), |e| m
                                    .graph
                                    .edge(e)
                                    .venue
                                    .0
                                    .clone()),
                                out
                            )
                        })
                        .collect();
                    println!(
                        "GIVEUP {idx} {reason:?} at {} amount {} intent {} hist {hist:?}",
                        m.graph.describe(at),
                        held,
                        pay.amount
                    );
                }
                return End::GaveUp(reason);
            }
            Next::WaitForReconciliation { .. } => {
                tally
                    .violations
                    .push(format!("payment {idx}: waiting with nothing unknown"));
                return End::GaveUp(GiveUpReason::NoRoute);
            }
        };
        if order.from != at || order.input != held + order.topup {
            tally
                .violations
                .push(format!("payment {idx}: leg spends money that is not there"));
        }
        now += u64::from(order.delay_secs);
        let n = attempts.entry(order.edge).or_default();
        *n += 1;
        let drawn = faults.leg(&m.graph, idx, &order, *n, now);
        let secs = order
            .edge
            .map_or(10, |e| u64::from(m.graph.edge(e).seconds));
        now += secs;
        let resolved = match drawn {
            Drawn::Confirmed(x) => Resolved::Confirmed(x),
            Drawn::Failed(f) => Resolved::Failed(f),
            Drawn::Unknown(r) => {
                tally.unknown_waits += 1;
                match plan.on_outcome(order.leg, LegOutcome::Unknown, ctx) {
                    Next::WaitForReconciliation { leg }
                        if leg == order.leg && plan.awaiting().is_some() => {}
                    other => tally
                        .violations
                        .push(format!("payment {idx}: unknown leg not awaited: {other:?}")),
                }
                now += 600;
                r
            }
        };
        let outcome = match resolved {
            Resolved::Confirmed(received) => {
                at = order.to;
                held = received;
                LegOutcome::Confirmed { received }
            }
            Resolved::Failed(reason) => LegOutcome::Failed { reason },
        };
        if let Some(e) = order.edge {
            let ok = matches!(outcome, LegOutcome::Confirmed { .. });
            samples.push((
                m.graph.edge(e).venue.clone(),
                e,
                ok,
                secs * 1000,
                now * 1000,
            ));
        }
        next = plan.on_outcome(order.leg, outcome, ctx);
        if let Next::Execute(o) = &next {
            if o.topup > Decimal::ZERO {
                tally.topped_up += 1;
                let bps = o.topup / pay.amount * Decimal::from(10_000);
                tally.topup_bps_sum += bps.to_f64().unwrap_or(0.0);
            }
        }
    }
    tally
        .violations
        .push(format!("payment {idx}: did not finish"));
    End::GaveUp(GiveUpReason::NoRoute)
}

fn ctx<'a>(
    m: &'a Market,
    prices: &'a PriceTable,
    health: &'a HealthTracker,
    now: u64,
    score: ScorePolicy,
) -> RouteContext<'a> {
    RouteContext {
        graph: &m.graph,
        prices,
        health,
        now_ms: now * 1000,
        score,
        max_legs: 4,
        labels_per_node: labels_per_node(),
    }
}

#[allow(clippy::too_many_lines)]
fn main() {
    let (count, seed) = args();
    let mut rng = StdRng::seed_from_u64(seed);
    let built = Instant::now();
    let m = Market::generate(&mut rng, 320);
    let span = count as u64 * SPACING;
    let mut faults = Faults::generate(&mut rng, &all_venues(&m), START, span);
    println!(
        "market: {} exchange accounts, {} chains, {} assets, {} nodes, {} edges ({} pool sides), built in {:.0} ms",
        m.venues.len(),
        m.chains.len(),
        m.assets.len(),
        m.graph.node_count(),
        m.graph.edge_count(),
        m.graph.edges().filter(|(_, e)| faults::is_pool(&e.kind)).count(),
        built.elapsed().as_secs_f64() * 1e3
    );
    let base_prices: Vec<(String, i64)> = m
        .assets
        .iter()
        .map(|(_, s)| (format!("{}/USD", s.code), s.usd_e4))
        .chain([("EUR/USD".to_owned(), 10_800)])
        .collect();
    let mut health = HealthTracker::new(HealthPolicy::default());
    let mut tally = Tally::default();
    let cost_only = ScorePolicy {
        bps_per_minute: Decimal::ZERO,
        failure_penalty_bps: Decimal::ZERO,
    };
    let settlement_assets: Vec<AssetIx> = m.assets.iter().map(|(a, _)| *a).collect();
    let wall = Instant::now();
    for i in 0..count as u64 {
        let pay = payment(&mut rng, &m);
        let now = START + i * SPACING;
        let oracle = SimOracle(faults.readings(&base_prices, now));
        let req = QuoteRequest {
            sources: pay.sources.clone(),
            target: pay.target,
            amount: pay.amount,
            ttl_secs: 120,
        };
        // (c) The timed part: check the oracle readings and search.
        let t0 = Instant::now();
        let prices = PriceTable::build(&m.graph, &oracle, now, PricePolicy::default());
        let quoted = quote(
            &ctx(&m, &prices, &health, now, ScorePolicy::default()),
            &req,
            now,
        );
        tally.latencies_us.push(t0.elapsed().as_secs_f64() * 1e6);
        if i % 300 == 0 && !depegged_assets(&prices, &settlement_assets).is_empty() {
            tally.depeg_reports += 1;
        }
        // Reference: every simple path, cheapest by cost.
        let exclusions = Exclusions::default();
        let rreq = RouteRequest {
            sources: &pay.sources,
            target: pay.target,
            amount: pay.amount,
            exclusions: &exclusions,
        };
        let c = ctx(&m, &prices, &health, now, ScorePolicy::default());
        let (best, paths) = cheapest_route(&c, &rreq);
        tally.exhaustive_paths.push(paths as f64);
        let feasible = best.is_some();
        tally.feasible += u64::from(feasible);
        let Ok(q) = quoted else { continue };
        tally.router_quoted += 1;
        if let Some(best) = &best {
            tally
                .gaps
                .push((q.cost_bps - best.cost_bps).to_f64().unwrap_or(f64::NAN));
            if let Ok(q2) = quote(&ctx(&m, &prices, &health, now, cost_only), &req, now) {
                let gap = (q2.cost_bps - best.cost_bps).to_f64().unwrap_or(f64::NAN);
                if std::env::var("SIM_DEBUG").is_ok() && gap > 20.0 {
                    let show = |legs: Vec<(EdgeIx, Decimal, Decimal)>| {
                        legs.iter()
                            .map(|(e, i, o)| {
                                let edge = m.graph.edge(*e);
                                format!(
                                    "{}->{} {:?} {} [{i}->{o}]",
                                    m.graph.describe(edge.from),
                                    m.graph.describe(edge.to),
                                    edge.kind.leg_kind(),
                                    edge.venue
                                )
                            })
                            .collect::<Vec<_>>()
                    };
                    let r = q2.route().expect("route");
                    println!(
                        "GAP {gap} amount {} router {} in {} {:?}",
                        pay.amount,
                        q2.cost_bps,
                        r.input,
                        show(r.legs.iter().map(|l| (l.edge, l.input, l.output)).collect())
                    );
                    println!(
                        "    best {} in {} {:?}",
                        best.cost_bps,
                        best.input,
                        show(
                            best.legs
                                .iter()
                                .map(|l| (l.edge, l.input, l.output))
                                .collect()
                        )
                    );
                }
                tally.gaps_cost_only.push(gap);
            }
        }
        let _ = pay.target_asset;
        let Ok(locked) = lock(q, now) else { continue };
        let mut samples = Vec::new();
        // Router with fallback.
        match FundingPlan::new(&locked, &m.graph, PlanPolicy::default(), now) {
            Ok((mut plan, first)) => {
                let end = run(
                    &m,
                    &mut faults,
                    &c,
                    i,
                    &mut plan,
                    first,
                    &pay,
                    &mut tally,
                    &mut samples,
                );
                tally.replans += plan
                    .history()
                    .iter()
                    .filter(|(_, o)| {
                        !matches!(o, LegOutcome::Confirmed { .. } | LegOutcome::Unknown)
                    })
                    .count() as u64;
                match end {
                    End::Done => {
                        tally.router_done += 1;
                        tally.router_done_feasible += u64::from(feasible);
                    }
                    End::GaveUp(r) => *tally.gave_up.entry(r).or_default() += 1,
                }
            }
            Err(r) => *tally.gave_up.entry(r).or_default() += 1,
        }
        // Baseline: the same quote, no fallback, no top-up.
        let single = PlanPolicy::single_route();
        if let Ok((mut plan, first)) = FundingPlan::new(&locked, &m.graph, single, now) {
            let mut ignored = Vec::new();
            let mut scratch = Tally::default();
            if let End::Done = run(
                &m,
                &mut faults,
                &c,
                i,
                &mut plan,
                first,
                &pay,
                &mut scratch,
                &mut ignored,
            ) {
                tally.baseline_done += 1;
                tally.baseline_done_feasible += u64::from(feasible);
            }
            tally.violations.extend(scratch.violations);
        }
        for (venue, edge, ok, latency, at) in samples {
            health.record(&venue, edge, ok, latency, at);
        }
    }
    report(
        &tally,
        count,
        &faults,
        wall.elapsed().as_secs_f64(),
        &health,
        &m,
    );
}

fn all_venues(m: &Market) -> Vec<VenueId> {
    let mut v: Vec<VenueId> = m.graph.edges().map(|(_, e)| e.venue.clone()).collect();
    v.sort();
    v.dedup();
    v
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((values.len() as f64) * p / 100.0).ceil().max(1.0) as usize;
    values[rank.min(values.len()) - 1]
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn report(t: &Tally, count: usize, faults: &Faults, secs: f64, health: &HealthTracker, m: &Market) {
    let n = count as f64;
    let pct = |x: u64, of: f64| 100.0 * x as f64 / of.max(1.0);
    let feasible = t.feasible as f64;
    println!(
        "payments: {count}, simulated in {secs:.1} s wall (including the exhaustive reference)"
    );
    println!("faults injected: {:?}", faults.counts);
    println!("(a) funding success");
    println!(
        "    any route existed (exhaustive):        {:>6} / {count}  {:6.2}%",
        t.feasible,
        pct(t.feasible, n)
    );
    println!(
        "    router quoted:                         {:>6} / {count}  {:6.2}%",
        t.router_quoted,
        pct(t.router_quoted, n)
    );
    println!("    router with fallback completed:        {:>6} / {count}  {:6.2}%   of feasible: {:6.2}%", t.router_done, pct(t.router_done, n), pct(t.router_done_feasible, feasible));
    println!("    single-route baseline completed:       {:>6} / {count}  {:6.2}%   of feasible: {:6.2}%", t.baseline_done, pct(t.baseline_done, n), pct(t.baseline_done_feasible, feasible));
    println!("    failed legs re-planned: {}, top-ups: {} (mean {:.2} bps of the payment), unknown legs awaited: {}", t.replans, t.topped_up, t.topup_bps_sum / (t.topped_up.max(1) as f64), t.unknown_waits);
    let mut reasons: Vec<_> = t.gave_up.iter().collect();
    reasons.sort_by_key(|(r, _)| format!("{r:?}"));
    println!("    router gave up (funds returned): {reasons:?}");
    let (mut g, mut gc) = (t.gaps.clone(), t.gaps_cost_only.clone());
    println!(
        "(b) cost gap to the exhaustive optimum (bps of the payment, {} payments)",
        g.len()
    );
    println!("    default scoring (cost + time + risk):  mean {:.3}  p50 {:.3}  p99 {:.3}  max {:.3}  >5 bps: {}", mean(&g), percentile(&mut g, 50.0), percentile(&mut g, 99.0), percentile(&mut g, 100.0), t.gaps.iter().filter(|x| **x > 5.0).count());
    println!(
        "    cost-only scoring (search quality):    mean {:.3}  p50 {:.3}  p99 {:.3}  max {:.3}",
        mean(&gc),
        percentile(&mut gc, 50.0),
        percentile(&mut gc, 99.0),
        percentile(&mut gc, 100.0)
    );
    let mut lat = t.latencies_us.clone();
    println!(
        "(c) quote latency (oracle checks + search), µs: p50 {:.0}  p99 {:.0}  max {:.0}",
        percentile(&mut lat, 50.0),
        percentile(&mut lat, 99.0),
        percentile(&mut lat, 100.0)
    );
    let mut paths = t.exhaustive_paths.clone();
    println!(
        "    exhaustive reference: simple paths per payment p50 {:.0}, p99 {:.0}",
        percentile(&mut paths, 50.0),
        percentile(&mut paths, 99.0)
    );
    println!(
        "depeg breaker: {} health checks found a depegged settlement asset",
        t.depeg_reports
    );
    let snapshot = health.snapshot(&m.graph, (START + count as u64 * SPACING) * 1000);
    println!(
        "health snapshot: {} venues, {} edges tracked",
        snapshot.venues.len(),
        snapshot.edges.len()
    );
    println!("invariant violations: {}", t.violations.len());
    for v in t.violations.iter().take(10) {
        println!("    {v}");
    }
    assert!(t.violations.is_empty(), "invariant violated");
}
