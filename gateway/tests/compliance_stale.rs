//! Lists that grow old: past `compliance.warn_after_secs` the gateway warns
//! (`rialto_compliance_lists_stale` = 1), past `refuse_after_secs` it refuses new live
//! payments with `503 compliance_lists_stale` (= 2) while sandbox payments go on, and a
//! refreshed folder lifts the refusal. Its own test binary: the gauges are process-wide, and
//! other suites' gateways (with no limits) would set them too.

mod common;
mod compliance_support;

use std::sync::Arc;

use common::{expect_error, spawn_app_full, Db, TestApp};
use compliance_support::{copy_dir, operator};
use rialto_gateway::clock::ManualClock;
use serde_json::json;

const DAY_MS: i64 = 86_400_000;
const FETCHED_AT: i64 = 1_796_583_900_000;

/// The value of an unlabelled series on `/metrics`.
async fn gauge(app: &TestApp, name: &str) -> Option<f64> {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(|v| v.trim().parse().unwrap())
}

async fn create(app: &TestApp, key: &str) -> reqwest::Response {
    app.post("/v1/payment_intents", key)
        .json(&json!({"amount": "3.00", "currency": "usd"}))
        .send()
        .await
        .unwrap()
}

fn write_fetched_at(dir: &std::path::Path, at_ms: i64) {
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ofac/SOURCE");
    let source = std::fs::read_to_string(shipped).unwrap();
    std::fs::write(
        dir.join("SOURCE"),
        format!("{source}fetched_at_ms={at_ms}\n"),
    )
    .unwrap();
}

#[tokio::test]
async fn stale_lists_warn_then_refuse_live_payments_but_never_sandbox_ones() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ofac"),
        dir.path(),
    );
    write_fetched_at(dir.path(), FETCHED_AT);
    let clock = Arc::new(ManualClock::new(FETCHED_AT + DAY_MS / 24));
    let path = dir.path().display().to_string();
    let app = spawn_app_full(
        Db::Sqlite,
        |c| {
            c.live.venues = vec![common::fixtures::live_venue()];
            c.compliance.ofac_dir = path;
            c.compliance.watch_secs = 0;
            c.compliance.warn_after_secs = 86_400;
            c.compliance.refuse_after_secs = 7 * 86_400;
        },
        Some(clock.clone()),
    )
    .await;
    let live = app.merchant.live_secret_key.clone().unwrap();
    let test = app.sk().to_owned();

    assert_eq!(create(&app, &live).await.status(), 200);
    assert_eq!(
        gauge(&app, "rialto_compliance_lists_stale").await,
        Some(0.0)
    );

    // Two days old: a warning, live payments still taken.
    clock.set_ms(FETCHED_AT + 2 * DAY_MS);
    assert_eq!(create(&app, &live).await.status(), 200);
    assert_eq!(
        gauge(&app, "rialto_compliance_lists_stale").await,
        Some(1.0)
    );
    assert_eq!(
        gauge(&app, "rialto_compliance_lists_age_seconds").await,
        Some(2.0 * 86_400.0)
    );

    // Eight days old: live payments refused with a stable code, sandbox ones not.
    clock.set_ms(FETCHED_AT + 8 * DAY_MS);
    let refused = expect_error(create(&app, &live).await, 503, "compliance_lists_stale").await;
    assert!(!refused["message"].as_str().unwrap().contains("OFAC"));
    assert_eq!(create(&app, &test).await.status(), 200);
    assert_eq!(
        gauge(&app, "rialto_compliance_lists_stale").await,
        Some(2.0)
    );

    // A refresh (here: the folder rewritten, then reloaded) lifts the refusal.
    write_fetched_at(dir.path(), FETCHED_AT + 8 * DAY_MS);
    let op = operator(&app).await;
    let reload = app.post("/v1/compliance/reload", &op).send().await.unwrap();
    assert_eq!(reload.status(), 200);
    assert_eq!(create(&app, &live).await.status(), 200);
    assert_eq!(
        gauge(&app, "rialto_compliance_lists_stale").await,
        Some(0.0)
    );
}
