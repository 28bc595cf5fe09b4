//! Venue and edge health: success rate and latency over a sliding window, feeding the
//! scoring's success probability.
//!
//! Each window keeps the last `max_samples` outcomes that are younger than `max_age_ms`
//! (both bounds apply; the clock is the caller's `now_ms`). The success probability is
//! smoothed with a prior worth `prior_weight` samples at `prior_success`, so one early failure
//! does not condemn a venue and an idle venue drifts back to the prior as its samples age out.

use std::collections::{BTreeMap, HashMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::graph::{EdgeIx, Graph, VenueId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthPolicy {
    pub max_samples: usize,
    pub max_age_ms: u64,
    pub prior_success: Decimal,
    pub prior_weight: u32,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            max_samples: 50,
            max_age_ms: 15 * 60 * 1000,
            prior_success: Decimal::new(98, 2),
            prior_weight: 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    at_ms: u64,
    ok: bool,
    latency_ms: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Window {
    samples: VecDeque<Sample>,
}

impl Window {
    fn record(&mut self, sample: Sample, policy: &HealthPolicy) {
        self.samples.push_back(sample);
        while self.samples.len() > policy.max_samples {
            self.samples.pop_front();
        }
    }

    fn live(&self, now_ms: u64, policy: &HealthPolicy) -> impl Iterator<Item = &Sample> + '_ {
        let cutoff = now_ms.saturating_sub(policy.max_age_ms);
        self.samples.iter().filter(move |s| s.at_ms >= cutoff)
    }

    /// The smoothed success probability alone: the search asks for it on every edge it
    /// relaxes, so it neither allocates nor sorts.
    fn probability(&self, now_ms: u64, policy: &HealthPolicy) -> Decimal {
        let (mut n, mut ok) = (0u32, 0u32);
        for s in self.live(now_ms, policy) {
            n += 1;
            ok += u32::from(s.ok);
        }
        smoothed(ok, n, policy)
    }

    fn stats(&self, now_ms: u64, policy: &HealthPolicy) -> WindowStats {
        let mut n = 0u32;
        let mut ok = 0u32;
        let mut latencies: Vec<u64> = Vec::new();
        for s in self.live(now_ms, policy) {
            n += 1;
            if s.ok {
                ok += 1;
                latencies.push(s.latency_ms);
            }
        }
        latencies.sort_unstable();
        let weight = Decimal::from(policy.prior_weight);
        let probability =
            (Decimal::from(ok) + policy.prior_success * weight) / (Decimal::from(n) + weight);
        WindowStats {
            samples: n,
            successes: ok,
            success_probability: probability.round_dp(4),
            p50_latency_ms: percentile(&latencies, 50),
            p99_latency_ms: percentile(&latencies, 99),
        }
    }
}

fn smoothed(ok: u32, n: u32, policy: &HealthPolicy) -> Decimal {
    let weight = Decimal::from(policy.prior_weight);
    let denominator = Decimal::from(n) + weight;
    if denominator.is_zero() {
        return policy.prior_success;
    }
    ((Decimal::from(ok) + policy.prior_success * weight) / denominator).round_dp(4)
}

fn percentile(sorted: &[u64], pct: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// One window's figures, as the operator endpoint shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowStats {
    pub samples: u32,
    pub successes: u32,
    /// Smoothed with the prior (see the module docs), 4 decimal places.
    pub success_probability: Decimal,
    /// Over successful outcomes only; `None` without any.
    pub p50_latency_ms: Option<u64>,
    pub p99_latency_ms: Option<u64>,
}

/// Success and latency per venue and per edge.
#[derive(Debug, Clone, Default)]
pub struct HealthTracker {
    policy: HealthPolicy,
    venues: HashMap<VenueId, Window>,
    edges: HashMap<EdgeIx, Window>,
}

impl HealthTracker {
    pub fn new(policy: HealthPolicy) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// Records one finished leg on `edge` of `venue`. `ok` is false for failures; an unknown
    /// outcome is recorded only once reconciliation has resolved it.
    pub fn record(
        &mut self,
        venue: &VenueId,
        edge: EdgeIx,
        ok: bool,
        latency_ms: u64,
        now_ms: u64,
    ) {
        let sample = Sample {
            at_ms: now_ms,
            ok,
            latency_ms,
        };
        let policy = self.policy;
        self.venues
            .entry(venue.clone())
            .or_default()
            .record(sample, &policy);
        self.edges.entry(edge).or_default().record(sample, &policy);
    }

    /// The chance the edge succeeds now: the lower of its venue's and its own.
    pub fn success_probability(&self, venue: &VenueId, edge: EdgeIx, now_ms: u64) -> Decimal {
        let venue_p = self
            .venues
            .get(venue)
            .map_or(self.policy.prior_success, |w| {
                w.probability(now_ms, &self.policy)
            });
        let edge_p = self
            .edges
            .get(&edge)
            .map_or(self.policy.prior_success, |w| {
                w.probability(now_ms, &self.policy)
            });
        venue_p.min(edge_p)
    }

    /// This tracker's figures for the edges of `to`, where this tracker's edge indices refer to
    /// `from`: edges are matched by identity (endpoints, venue, kind); venues carry over.
    pub fn translated(&self, from: &Graph, to: &Graph) -> HealthTracker {
        let edges = self
            .edges
            .iter()
            .filter(|(ix, _)| (ix.0 as usize) < from.edge_count())
            .filter_map(|(ix, w)| to.find_edge(from, *ix).map(|t| (t, w.clone())))
            .collect();
        HealthTracker {
            policy: self.policy,
            venues: self.venues.clone(),
            edges,
        }
    }

    /// Every venue's and edge's figures at `now_ms`, for `GET /v1/routing/health`.
    pub fn snapshot(&self, graph: &Graph, now_ms: u64) -> HealthSnapshot {
        let venues = self
            .venues
            .iter()
            .map(|(v, w)| (v.0.clone(), w.stats(now_ms, &self.policy)))
            .collect();
        let mut edges: Vec<EdgeHealth> = self
            .edges
            .iter()
            .map(|(ix, w)| {
                let edge = graph.edge(*ix);
                EdgeHealth {
                    edge: ix.0,
                    venue: edge.venue.0.clone(),
                    kind: format!("{:?}", edge.kind.leg_kind()).to_ascii_lowercase(),
                    from: graph.describe(edge.from).to_string(),
                    to: graph.describe(edge.to).to_string(),
                    stats: w.stats(now_ms, &self.policy),
                }
            })
            .collect();
        edges.sort_by_key(|e| e.edge);
        HealthSnapshot {
            object: "routing_health".to_owned(),
            as_of_ms: now_ms,
            policy: self.policy,
            venues,
            edges,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeHealth {
    pub edge: u32,
    pub venue: String,
    pub kind: String,
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub stats: WindowStats,
}

/// Serializable health, ordered for stable output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSnapshot {
    pub object: String,
    pub as_of_ms: u64,
    pub policy: HealthPolicy,
    pub venues: BTreeMap<String, WindowStats>,
    pub edges: Vec<EdgeHealth>,
}
