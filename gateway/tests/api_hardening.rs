//! `Idempotency-Key` on every write (the `/v1` idempotency layer), and the rate limits that
//! run before a key is looked up: on SQLite and PostgreSQL.

mod common;

use std::net::IpAddr;

use reqwest::{Client, Response};
use rialto_gateway::cli_ops::create_operator;
use rialto_gateway::store::idempotency::{IdempotencyStore, KeyClaim};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use common::{spawn_app, spawn_app_with, Db, TestApp};

const BLOCKED: &str = "0x7F367cC41522cE07553e823bf3be79A889DEbe1B";

async fn block_entry(app: &TestApp, key: Option<&str>, address: &str) -> Response {
    let mut request = app
        .post("/v1/compliance/list_entries", app.sk())
        .json(&json!({"kind": "block", "address": address, "note": "chargeback fraud"}));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.expect("request")
}

async fn entries(app: &TestApp) -> Vec<Value> {
    app.get_json("/v1/compliance/list_entries?limit=100").await["data"]
        .as_array()
        .expect("list")
        .clone()
}

async fn a_retried_write_is_done_once_and_answered_as_the_first_time(db: Db) {
    let app = spawn_app(db).await;
    let first = block_entry(&app, Some("block-1"), BLOCKED).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();
    let again = block_entry(&app, Some("block-1"), BLOCKED).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first_body, "byte for byte");
    assert_eq!(entries(&app).await.len(), 1, "the retry added nothing");

    let other = block_entry(&app, Some("block-1"), common::ADDRESS).await;
    assert_eq!(other.status(), 422);
    let err: Value = other.json().await.unwrap();
    assert_eq!(err["error"]["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn a_retried_write_is_done_once_and_answered_as_the_first_time_sqlite() {
    a_retried_write_is_done_once_and_answered_as_the_first_time(Db::Sqlite).await;
}

#[tokio::test]
async fn a_retried_write_is_done_once_and_answered_as_the_first_time_postgres() {
    a_retried_write_is_done_once_and_answered_as_the_first_time(Db::Postgres).await;
}

fn request_hash(path: &str, body: &str) -> String {
    hex::encode(Sha256::digest(format!("POST\n{path}\n{body}").as_bytes()))
}

async fn a_key_in_flight_elsewhere_waits_until_its_instance_is_presumed_dead(db: Db) {
    let app = spawn_app(db).await;
    let body = json!({"kind": "block", "address": BLOCKED, "note": "chargeback fraud"});
    // Hashed over the path within `/v1`, as the handlers' own keys are.
    let hash = request_hash("/compliance/list_entries", &body.to_string());
    let scope = format!("{}:test", app.merchant.id);
    // Another instance is running this very request right now.
    let claim = |key: &'static str| KeyClaim {
        scope: &scope,
        key,
        request_hash: &hash,
    };
    let now = app.state.clock.now_ms();
    app.store
        .reserve_idempotency(claim("busy"), now)
        .await
        .unwrap();
    let send = |key: &'static str| {
        app.post("/v1/compliance/list_entries", app.sk())
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let busy = send("busy").await.unwrap();
    assert_eq!(busy.status(), 409);
    let err: Value = busy.json().await.unwrap();
    assert_eq!(err["error"]["code"], "idempotency_key_in_use");
    assert!(entries(&app).await.is_empty(), "nothing ran beside it");

    // An instance that died mid-request leaves its reservation; once stale, a retry runs.
    app.store
        .reserve_idempotency(claim("orphaned"), now - 600_000)
        .await
        .unwrap();
    let retried = send("orphaned").await.unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(entries(&app).await.len(), 1);
    let replayed = send("orphaned").await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
}

#[tokio::test]
async fn a_key_in_flight_elsewhere_waits_until_its_instance_is_presumed_dead_sqlite() {
    a_key_in_flight_elsewhere_waits_until_its_instance_is_presumed_dead(Db::Sqlite).await;
}

#[tokio::test]
async fn a_key_in_flight_elsewhere_waits_until_its_instance_is_presumed_dead_postgres() {
    a_key_in_flight_elsewhere_waits_until_its_instance_is_presumed_dead(Db::Postgres).await;
}

#[tokio::test]
async fn a_refused_write_leaves_its_key_free_for_the_corrected_retry() {
    let app = spawn_app(Db::Sqlite).await;
    let broken = block_entry(&app, Some("fix-me"), "0xnot-an-address").await;
    assert_eq!(broken.status(), 400);
    // Same key, same (still broken) request: answered afresh, not replayed, not 409.
    let again = block_entry(&app, Some("fix-me"), "0xnot-an-address").await;
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn operator_writes_are_idempotent_in_the_operators_own_scope() {
    let app = spawn_app(Db::Sqlite).await;
    let op = create_operator(app.store.as_ref(), "olga", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = || {
        app.post("/v1/reconciliation_runs", &op)
            .header("idempotency-key", "nightly-2026-12-06")
            .json(&json!({}))
            .send()
    };
    let first = run().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let again = run().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"], "one run, not two");
}

fn client_from(ip: [u8; 4]) -> Client {
    Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap()
}

#[tokio::test]
async fn one_busy_payer_does_not_rate_limit_the_merchants_other_shoppers() {
    let app = spawn_app_with(Db::Sqlite, |c| {
        c.rate_limit.per_second = 1;
        c.rate_limit.burst = 3;
    })
    .await;
    let intent = app
        .create_intent(json!({"amount": "5.00", "currency": "usd"}))
        .await;
    let url = format!(
        "{}/v1/payment_intents/{}?client_secret={}",
        app.base,
        intent["id"].as_str().unwrap(),
        intent["client_secret"].as_str().unwrap()
    );
    let pk = &app.merchant.publishable_key;
    let (busy, other) = (client_from([127, 0, 0, 1]), client_from([127, 0, 0, 2]));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            busy.get(&url)
                .bearer_auth(pk)
                .send()
                .await
                .unwrap()
                .status(),
        );
    }
    assert!(statuses.iter().any(|s| *s == 429), "{statuses:?}");
    let fine = other.get(&url).bearer_auth(pk).send().await.unwrap();
    assert_eq!(
        fine.status(),
        200,
        "another payer has a bucket of their own"
    );
}

#[tokio::test]
async fn an_address_trying_unknown_keys_is_refused_before_any_lookup() {
    let app = spawn_app(Db::Sqlite).await;
    let prober = client_from([127, 0, 0, 3]);
    let mut codes = Vec::new();
    for i in 0..40 {
        let response = prober
            .get(format!("{}/v1/balance", app.base))
            .bearer_auth(format!("sk_test_guess{i:040}"))
            .send()
            .await
            .unwrap();
        codes.push(response.status().as_u16());
    }
    assert!(codes.contains(&401), "{codes:?}");
    assert_eq!(codes.last(), Some(&429), "{codes:?}");
    // Even a real key is refused from that address for now; other clients are not affected.
    let from_prober = prober
        .get(format!("{}/v1/balance", app.base))
        .bearer_auth(app.sk())
        .send()
        .await
        .unwrap();
    assert_eq!(from_prober.status(), 429);
    assert!(from_prober.headers().contains_key("retry-after"));
    let elsewhere = client_from([127, 0, 0, 4])
        .get(format!("{}/v1/balance", app.base))
        .bearer_auth(app.sk())
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 200);
}

async fn page(app: &TestApp, path: &str) -> (Vec<String>, bool) {
    let list = app.get_json(path).await;
    let ids = list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    (ids, list["has_more"].as_bool().unwrap())
}

#[tokio::test]
async fn list_entries_come_a_page_at_a_time() {
    let app = spawn_app(Db::Sqlite).await;
    let addresses = [
        BLOCKED,
        common::ADDRESS,
        "0x8576aCC5C05D6Ce88f4e49bf65BdF0C62F91353C",
    ];
    for address in addresses {
        assert_eq!(block_entry(&app, None, address).await.status(), 200);
    }
    let (first, more) = page(&app, "/v1/compliance/list_entries?limit=2").await;
    assert_eq!((first.len(), more), (2, true));
    let path = format!(
        "/v1/compliance/list_entries?limit=2&starting_after={}",
        first[1]
    );
    let (rest, more) = page(&app, &path).await;
    assert_eq!((rest.len(), more), (1, false));
    assert!(!first.contains(&rest[0]));
}

#[tokio::test]
async fn an_events_deliveries_come_a_page_at_a_time() {
    use rialto_gateway::store::Store;
    let app = spawn_app(Db::Sqlite).await;
    for n in 0..3 {
        let created = app
            .post("/v1/webhook_endpoints", app.sk())
            .json(&json!({"url": format!("http://127.0.0.1:9/hook{n}"),
                "enabled_events": ["payment_intent.created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 200);
    }
    app.create_intent(json!({"amount": "5.00", "currency": "usd"}))
        .await;
    let store: std::sync::Arc<dyn Store> = app.store.clone();
    rialto_gateway::webhooks::dispatch_events(store.as_ref(), app.clock.as_ref())
        .await
        .unwrap();
    let events = app.get_json("/v1/events?type=payment_intent.created").await;
    let evt = events["data"][0]["id"].as_str().unwrap().to_owned();
    let (first, more) = page(&app, &format!("/v1/events/{evt}/deliveries?limit=2")).await;
    assert_eq!((first.len(), more), (2, true));
    let path = format!(
        "/v1/events/{evt}/deliveries?limit=2&starting_after={}",
        first[1]
    );
    let (rest, more) = page(&app, &path).await;
    assert_eq!((rest.len(), more), (1, false));
    assert!(!first.contains(&rest[0]));
}

#[tokio::test]
async fn an_operator_key_on_a_merchant_endpoint_is_refused_without_counting_as_a_guess() {
    let app = spawn_app(Db::Sqlite).await;
    let op = create_operator(app.store.as_ref(), "olga", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = client_from([127, 0, 0, 5]);
    for _ in 0..40 {
        let response = client
            .get(format!("{}/v1/balance", app.base))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let merchant = client
        .get(format!("{}/v1/balance", app.base))
        .bearer_auth(app.sk())
        .send()
        .await
        .unwrap();
    assert_eq!(merchant.status(), 200, "the address was not refused");
}
