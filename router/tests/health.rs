//! Venue health windows, their snapshot, and how health steers the choice of route.

mod support;

use rialto_router::{quote, EdgeIx, HealthPolicy, HealthTracker, QuoteRequest, Source, VenueId};
use support::{base, d, Market, NOW};

fn kraken() -> VenueId {
    VenueId("kraken".into())
}

#[test]
fn the_success_probability_is_smoothed_towards_the_prior() {
    let mut h = HealthTracker::new(HealthPolicy::default());
    assert_eq!(h.success_probability(&kraken(), EdgeIx(0), 0), d("0.98"));
    for i in 0..6 {
        h.record(&kraken(), EdgeIx(0), false, 100, i);
    }
    // (0 successes + 4 · 0.98) / (6 + 4)
    assert_eq!(h.success_probability(&kraken(), EdgeIx(0), 10), d("0.392"));
}

#[test]
fn the_window_keeps_only_the_last_samples_by_count() {
    let policy = HealthPolicy {
        max_samples: 10,
        ..HealthPolicy::default()
    };
    let mut h = HealthTracker::new(policy);
    for i in 0..10 {
        h.record(&kraken(), EdgeIx(0), false, 100, i);
    }
    for i in 10..20 {
        h.record(&kraken(), EdgeIx(0), true, 100, i);
    }
    // The ten failures were pushed out: 10 successes + the prior.
    assert_eq!(h.success_probability(&kraken(), EdgeIx(0), 20), d("0.9943"));
}

#[test]
fn samples_older_than_the_window_age_out_on_the_injected_clock() {
    let policy = HealthPolicy {
        max_age_ms: 60_000,
        ..HealthPolicy::default()
    };
    let mut h = HealthTracker::new(policy);
    for i in 0..5 {
        h.record(&kraken(), EdgeIx(3), false, 100, 1_000 + i);
    }
    assert!(h.success_probability(&kraken(), EdgeIx(3), 2_000) < d("0.5"));
    assert_eq!(
        h.success_probability(&kraken(), EdgeIx(3), 62_000),
        d("0.98")
    );
}

#[test]
fn the_snapshot_serializes_venues_and_edges_with_latency_percentiles() {
    let mut m = Market::new();
    let [deposit, trade, _] = m.via_kraken();
    for (i, latency) in [100u64, 200, 300, 400].into_iter().enumerate() {
        m.health.record(&kraken(), trade, true, latency, i as u64);
    }
    m.health.record(&kraken(), deposit, false, 50, 5);
    let snap = m.health.snapshot(&m.graph, 10);
    let json = serde_json::to_value(&snap).expect("json");
    assert_eq!(json["object"], "routing_health");
    assert_eq!(json["venues"]["kraken"]["samples"], 5);
    assert_eq!(json["venues"]["kraken"]["successes"], 4);
    assert_eq!(json["venues"]["kraken"]["p50_latency_ms"], 200);
    assert_eq!(json["venues"]["kraken"]["p99_latency_ms"], 400);
    let edges = json["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[0]["kind"], "transfer");
    assert_eq!(edges[1]["from"], "USDT@venue:kraken");
    assert_eq!(edges[1]["success_probability"], "0.99");
}

#[test]
fn a_failing_venue_loses_the_route_to_a_healthy_one() {
    let mut m = Market::new();
    let cheap = m.dex_usdt_usdc_base("uniswap-base", 5);
    m.dex_usdt_usdc_base("aerodrome-base", 8);
    let (usdt, usdc) = (m.usdt, m.usdc);
    let req = QuoteRequest {
        sources: vec![Source {
            node: m.node(usdt, base()),
            available: None,
        }],
        target: m.node(usdc, base()),
        amount: d("1000"),
        ttl_secs: 60,
    };
    let chosen = |m: &Market| {
        let prices = m.prices();
        let q = quote(&m.ctx(&prices), &req, NOW).expect("quote");
        m.graph.edge(q.legs[0].edge).venue.0.clone()
    };
    assert_eq!(chosen(&m), "uniswap-base");
    for i in 0..5 {
        m.health.record(
            &VenueId("uniswap-base".into()),
            cheap,
            false,
            0,
            NOW * 1000 - 10 + i,
        );
    }
    assert_eq!(chosen(&m), "aerodrome-base");
}
