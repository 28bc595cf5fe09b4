//! Webhook endpoints, events and delivery end to end: a real receiver on port 0 that checks
//! every Standard Webhooks signature, a controlled clock to walk the retry schedule.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{expect_error, spawn_app, spawn_app_with_clock, Db, TestApp};
use rialto_gateway::clock::{Clock, ManualClock};
use rialto_gateway::store::Store;
use rialto_gateway::webhooks::{deliver_due, dispatch_events, http_client, sign, DeliveryConfig};
use serde_json::{json, Value};

#[derive(Clone, Default)]
struct Receiver {
    /// (webhook-id, signature valid?, event type)
    seen: Arc<Mutex<Vec<(String, bool, String)>>>,
    /// Status codes to answer, in order; 200 once exhausted.
    script: Arc<Mutex<Vec<u16>>>,
    secret: Arc<Mutex<String>>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = header("webhook-id");
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(0);
    let secret = r.secret.lock().unwrap().clone();
    let expected = sign(&secret, &id, timestamp, body.as_bytes()).unwrap();
    let kind = serde_json::from_str::<Value>(&body)
        .map(|v| v["type"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    r.seen
        .lock()
        .unwrap()
        .push((id, header("webhook-signature") == expected, kind));
    let mut script = r.script.lock().unwrap();
    let code = if script.is_empty() {
        200
    } else {
        script.remove(0)
    };
    StatusCode::from_u16(code).unwrap()
}

async fn start_receiver(receiver: Receiver) -> String {
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn create_endpoint(app: &TestApp, url: &str, events: Value) -> Value {
    let response = app
        .post("/v1/webhook_endpoints", app.sk())
        .json(&json!({"url": url, "enabled_events": events}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn run_worker(app: &TestApp) -> usize {
    let store: Arc<dyn Store> = app.store.clone();
    dispatch_events(store.as_ref(), app.clock.as_ref())
        .await
        .unwrap();
    // The receivers listen on loopback: the development setting, as the harness's config.
    let config = DeliveryConfig {
        allow_private_targets: true,
        ..DeliveryConfig::default()
    };
    deliver_due(
        store,
        app.sealer.clone(),
        app.clock.clone(),
        http_client(&config, &rialto_evm::provider::default_tls()).unwrap(),
        &config,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn endpoints_show_their_secret_once_and_validate_input() {
    let app = spawn_app(Db::Sqlite).await;
    let created = create_endpoint(
        &app,
        "http://127.0.0.1:9/hook",
        json!(["payment_intent.created"]),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("we_"));
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["status"], "enabled");
    let fetched: Value = app
        .get(&format!("/v1/webhook_endpoints/{id}"), app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(fetched.get("secret").is_none());
    let list: Value = app
        .get("/v1/webhook_endpoints", app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let rotated: Value = app
        .post(
            &format!("/v1/webhook_endpoints/{id}/rotate_secret"),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(rotated["secret"], created["secret"]);
    let disabled: Value = app
        .post(&format!("/v1/webhook_endpoints/{id}"), app.sk())
        .json(&json!({"disabled": true, "enabled_events": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["enabled_events"], json!(["*"]));
    for (body, code, param) in [
        (
            json!({"url": "ftp://x/", "enabled_events": ["*"]}),
            "invalid_url",
            "url",
        ),
        (
            json!({"url": "http://127.0.0.1/h", "enabled_events": []}),
            "parameter_invalid",
            "enabled_events",
        ),
        (
            json!({"url": "http://127.0.0.1/h", "enabled_events": ["charge.succeeded"]}),
            "parameter_invalid",
            "enabled_events",
        ),
        (json!({"enabled_events": ["*"]}), "parameter_missing", "url"),
    ] {
        let response = app
            .post("/v1/webhook_endpoints", app.sk())
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 400, code).await;
        assert_eq!(error["param"], param);
    }
    let other = app.another_merchant().await;
    let response = app
        .get(&format!("/v1/webhook_endpoints/{id}"), &other.secret_key)
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "resource_missing").await;
    let live = app.merchant.live_secret_key.clone().unwrap();
    let response = app
        .post("/v1/webhook_endpoints", &live)
        .json(&json!({"url": "https://127.0.0.1/h", "enabled_events": ["*"]}))
        .send()
        .await
        .unwrap();
    expect_error(response, 403, "livemode_unavailable").await;
}

#[tokio::test]
async fn live_webhook_urls_on_private_addresses_are_refused() {
    let app = common::spawn_app_with(Db::Sqlite, |c| {
        c.live.venues = vec![common::fixtures::live_venue()]
    })
    .await;
    let live = app.merchant.live_secret_key.clone().unwrap();
    for url in [
        "https://127.0.0.1/h",
        "https://10.0.0.1/h",
        "http://example.com/h",
        "https://localhost/h",
    ] {
        let response = app
            .post("/v1/webhook_endpoints", &live)
            .json(&json!({"url": url, "enabled_events": ["*"]}))
            .send()
            .await
            .unwrap();
        expect_error(response, 400, "invalid_url").await;
    }
}

#[tokio::test]
async fn every_change_to_an_intent_is_listed_as_an_event() {
    let app = spawn_app(Db::Sqlite).await;
    let intent = app
        .create_intent(json!({"amount": "4.00", "currency": "usd"}))
        .await;
    let id = intent["id"].as_str().unwrap();
    app.post(&format!("/v1/payment_intents/{id}/cancel"), app.sk())
        .send()
        .await
        .unwrap();
    let events: Value = app
        .get("/v1/events", app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["payment_intent.canceled", "payment_intent.created"]);
    assert_eq!(events["data"][1]["data"]["object"], intent);
    assert_eq!(events["data"][0]["data"]["object"]["status"], "canceled");
    let evt = events["data"][0]["id"].as_str().unwrap();
    let one: Value = app
        .get(&format!("/v1/events/{evt}"), app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one, events["data"][0]);
    let filtered: Value = app
        .get("/v1/events?type=payment_intent.created", app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let other = app.another_merchant().await;
    let theirs: Value = app
        .get("/v1/events", &other.secret_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["data"], json!([]));
    let response = app
        .get(&format!("/v1/events/{evt}"), &other.secret_key)
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "resource_missing").await;
}

async fn a_receiver_that_was_down_gets_each_event_once_with_one_webhook_id(db: Db) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let app = spawn_app_with_clock(db, clock.clone()).await;
    let receiver = Receiver::default();
    *receiver.script.lock().unwrap() = vec![500, 503];
    let url = start_receiver(receiver.clone()).await;
    let endpoint = create_endpoint(&app, &url, json!(["payment_intent.created"])).await;
    *receiver.secret.lock().unwrap() = endpoint["secret"].as_str().unwrap().to_owned();
    let canceled_only = Receiver::default();
    let url2 = start_receiver(canceled_only.clone()).await;
    create_endpoint(&app, &url2, json!(["payment_intent.canceled"])).await;
    app.create_intent(json!({"amount": "9.99", "currency": "usd"}))
        .await;

    assert_eq!(run_worker(&app).await, 1, "first attempt");
    assert_eq!(run_worker(&app).await, 0, "nothing due before the back-off");
    clock.advance_ms(5_000);
    assert_eq!(run_worker(&app).await, 1, "second attempt after 5 s");
    clock.advance_ms(60_000);
    assert_eq!(run_worker(&app).await, 1, "third attempt after 1 min");
    clock.advance_ms(3_600_000);
    assert_eq!(run_worker(&app).await, 0, "delivered: nothing left");

    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|(id, valid, kind)| id == &seen[0].0
            && *valid
            && kind == "payment_intent.created"),
        "{seen:?}"
    );
    assert!(seen[0].0.starts_with("evt_"));
    assert!(canceled_only.seen.lock().unwrap().is_empty());

    let evt = &seen[0].0;
    let deliveries: Value = app
        .get(&format!("/v1/events/{evt}/deliveries"), app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delivery = &deliveries["data"][0];
    assert_eq!(delivery["status"], "succeeded");
    let codes: Vec<i64> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 503, 200]);
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "rialto_webhook_attempts_total{result=\"pending\"}",
        "rialto_webhook_attempts_total{result=\"succeeded\"}",
    ] {
        assert!(metrics.contains(series), "{series} on /metrics: {metrics}");
    }

    let endpoint_id = endpoint["id"].as_str().unwrap();
    let redeliver = app
        .post(&format!("/v1/events/{evt}/redeliver"), app.sk())
        .json(&json!({"webhook_endpoint": endpoint_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(redeliver.status(), 200);
    assert_eq!(run_worker(&app).await, 1);
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    assert_eq!(&seen[3].0, evt, "a redelivery keeps the webhook-id");
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_each_event_once_on_sqlite() {
    a_receiver_that_was_down_gets_each_event_once_with_one_webhook_id(Db::Sqlite).await;
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_each_event_once_on_postgres() {
    a_receiver_that_was_down_gets_each_event_once_with_one_webhook_id(Db::Postgres).await;
}

#[tokio::test]
async fn deliveries_give_up_after_three_days_of_failures() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let app = spawn_app_with_clock(Db::Sqlite, clock.clone()).await;
    let receiver = Receiver::default();
    *receiver.script.lock().unwrap() = vec![500; 100];
    let url = start_receiver(receiver.clone()).await;
    let endpoint = create_endpoint(&app, &url, json!(["*"])).await;
    *receiver.secret.lock().unwrap() = endpoint["secret"].as_str().unwrap().to_owned();
    app.create_intent(json!({"amount": "1.00", "currency": "usd"}))
        .await;
    let start = clock.now_ms();
    let mut attempts = 0;
    for _ in 0..40 {
        attempts += run_worker(&app).await;
        clock.advance_ms(12 * 3600 * 1000);
    }
    assert_eq!(attempts, 14, "one first try and 13 retries");
    let evt = receiver.seen.lock().unwrap()[0].0.clone();
    let deliveries: Value = app
        .get(&format!("/v1/events/{evt}/deliveries"), app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deliveries["data"][0]["status"], "failed");
    let last = deliveries["data"][0]["attempts"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["attempted_at_ms"]
        .as_i64()
        .unwrap();
    assert!(
        last - start >= 3 * 24 * 3600 * 1000,
        "kept trying for three days"
    );
}

async fn two_workers_never_send_one_delivery_twice(db: Db) {
    let app = spawn_app(db).await;
    let receiver = Receiver::default();
    let url = start_receiver(receiver.clone()).await;
    let endpoint = create_endpoint(&app, &url, json!(["*"])).await;
    *receiver.secret.lock().unwrap() = endpoint["secret"].as_str().unwrap().to_owned();
    for _ in 0..20 {
        app.create_intent(json!({"amount": "2.00", "currency": "usd"}))
            .await;
    }
    let store: Arc<dyn Store> = app.store.clone();
    dispatch_events(store.as_ref(), app.clock.as_ref())
        .await
        .unwrap();
    let config = DeliveryConfig {
        batch: 7,
        allow_private_targets: true,
        ..DeliveryConfig::default()
    };
    let worker = || {
        deliver_due(
            store.clone(),
            app.sealer.clone(),
            app.clock.clone(),
            http_client(&config, &rialto_evm::provider::default_tls()).unwrap(),
            &config,
        )
    };
    let mut total = 0;
    for _ in 0..5 {
        let (a, b) = tokio::join!(worker(), worker());
        total += a.unwrap() + b.unwrap();
    }
    assert_eq!(total, 20);
    let seen = receiver.seen.lock().unwrap().clone();
    let mut ids: Vec<&String> = seen.iter().map(|(id, _, _)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((seen.len(), ids.len()), (20, 20), "each event exactly once");
}

#[tokio::test]
async fn two_workers_never_send_one_delivery_twice_on_sqlite() {
    two_workers_never_send_one_delivery_twice(Db::Sqlite).await;
}

#[tokio::test]
async fn two_workers_never_send_one_delivery_twice_on_postgres() {
    two_workers_never_send_one_delivery_twice(Db::Postgres).await;
}

#[tokio::test]
async fn test_mode_webhook_urls_on_private_addresses_are_refused_without_the_development_setting() {
    let app = common::spawn_app_with(Db::Sqlite, |c| {
        c.webhooks.allow_private_targets = false;
    })
    .await;
    for url in [
        "http://127.0.0.1:9/h",
        "http://localhost:9/h",
        "http://10.0.0.1/h",
        "http://[::1]/h",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/h",
    ] {
        let response = app
            .post("/v1/webhook_endpoints", app.sk())
            .json(&json!({"url": url, "enabled_events": ["*"]}))
            .send()
            .await
            .unwrap();
        expect_error(response, 400, "invalid_url").await;
    }
}

#[tokio::test]
async fn a_test_mode_delivery_to_a_loopback_receiver_is_refused_without_the_development_setting() {
    // Registered while the development setting was on (as the harness runs), delivered by a
    // worker without it: the address is checked again at send time, in test mode too.
    let app = spawn_app(Db::Sqlite).await;
    let receiver = Receiver::default();
    let url = start_receiver(receiver.clone()).await;
    let localhost = url.replace("127.0.0.1", "localhost");
    create_endpoint(&app, &url, json!(["*"])).await;
    create_endpoint(&app, &localhost, json!(["*"])).await;
    app.create_intent(json!({"amount": "2.00", "currency": "usd"}))
        .await;
    let store: Arc<dyn Store> = app.store.clone();
    dispatch_events(store.as_ref(), app.clock.as_ref())
        .await
        .unwrap();
    let config = DeliveryConfig::default();
    let sent = deliver_due(
        store,
        app.sealer.clone(),
        app.clock.clone(),
        http_client(&config, &rialto_evm::provider::default_tls()).unwrap(),
        &config,
    )
    .await
    .unwrap();
    assert_eq!(sent, 2, "both deliveries were attempted");
    assert!(
        receiver.seen.lock().unwrap().is_empty(),
        "nothing reached the loopback receiver"
    );
}
