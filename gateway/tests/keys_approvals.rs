//! Keys and maker-checker (issue 15, points 3 and 4), walked through the API as an attacker
//! holding one key would: several named keys per mode, listed by prefix, rolled with a grace
//! period, revoked at once on the instance that revokes it and, on another sharing the
//! database, as soon as that one is notified (PostgreSQL; SQLite caches nothing); and no
//! setting that lets money leave (raising or removing `payout_approval_above`, moving
//! `payout_addresses`) moves with one key, nor with any key that key can mint.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{expect_error, spawn_app_full, Db, TestApp, ADDRESS};
use rialto_gateway::api::{router, AppState};
use rialto_gateway::cli_ops::{create_key, create_operator, manage_operator, OperatorAction};
use rialto_gateway::clock::{Clock, ManualClock};
use rialto_gateway::compliance::Compliance;
use rialto_gateway::config::Config;
use rialto_gateway::server::{metrics_handle, open_store};
use rialto_gateway::store::{CacheState, SqlStore};
use serde_json::{json, Value};

const OTHER: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn new_key(app: &TestApp, with: &str, name: &str) -> Value {
    let (status, key) = send(app.post("/v1/api_keys", with).json(&json!({"name": name}))).await;
    assert_eq!(status, 200, "{key}");
    key
}

/// A key `rialto keys create` issues: a custody of its own.
async fn cli_key(app: &TestApp) -> String {
    let made = create_key(
        app.store.as_ref(),
        &app.merchant.id,
        ("checker", false, false),
        0,
    )
    .await
    .unwrap();
    made["secret"].as_str().unwrap().to_owned()
}

/// A second gateway on the same database, as a second `rialto serve` would be.
async fn second_instance(app: &TestApp) -> (String, Arc<SqlStore>) {
    let mut config = Config::default();
    config.database.url = app.database_url.clone();
    let registry = common::registry();
    let store = Arc::new(open_store(&config, registry.clone()).await.unwrap());
    let http = rialto_gateway::http_client::outbound(rialto_gateway::http_client::CONNECT_TIMEOUT)
        .unwrap();
    let compliance = Arc::new(Compliance::new(&config.compliance, http).unwrap());
    let state = AppState::new(
        store.clone(),
        registry,
        Arc::new(config),
        app.clock.clone(),
        metrics_handle(),
        app.sealer.clone(),
        compliance,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(state)).await;
    });
    (base, store)
}

async fn clocked(db: Db, delay_secs: u64) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let app = spawn_app_full(
        db,
        |c| c.approvals.settings_change_delay_secs = delay_secs,
        Some(clock.clone() as Arc<dyn Clock>),
    )
    .await;
    (app, clock)
}

/// Waits (bounded, so a broken listener fails instead of hanging) until `store`'s key cache
/// state satisfies `ready`.
async fn wait_for_cache(store: &SqlStore, ready: impl Fn(&CacheState) -> bool) {
    let mut state = store.key_cache().watch();
    tokio::time::timeout(Duration::from_secs(60), state.wait_for(ready))
        .await
        .expect("the key cache never reached the awaited state")
        .expect("the key cache is gone");
}

async fn a_revoked_key_is_refused_at_once_here_and_by_another_instance_once_notified(db: Db) {
    let app = common::spawn_app(db).await;
    let (other, other_store) = second_instance(&app).await;
    let key = new_key(&app, app.sk(), "ci").await;
    let secret = key["secret"].as_str().unwrap();
    let on_other = || {
        app.client
            .get(format!("{other}/v1/payment_intents"))
            .bearer_auth(secret)
    };
    if db == Db::Postgres {
        // Both instances cache keys, for an hour here: only the revoke can evict them.
        app.store.key_cache().set_ttl(Duration::from_secs(3600));
        other_store.key_cache().set_ttl(Duration::from_secs(3600));
        wait_for_cache(&app.store, |s| s.listening).await;
        wait_for_cache(&other_store, |s| s.listening).await;
    }
    // Both instances have seen the key; on PostgreSQL they cached it (later uses read nothing).
    assert_eq!(send(on_other()).await.0, 200);
    assert_eq!(send(app.get("/v1/payment_intents", secret)).await.0, 200);
    let reads = |s: &SqlStore| s.key_cache().database_reads();
    let before = (reads(&app.store), reads(&other_store));
    for _ in 0..2 {
        assert_eq!(send(on_other()).await.0, 200);
        assert_eq!(send(app.get("/v1/payment_intents", secret)).await.0, 200);
    }
    let read = (reads(&app.store) - before.0, reads(&other_store) - before.1);
    assert_eq!(read, if db == Db::Postgres { (0, 0) } else { (2, 2) });
    let flushes = other_store.key_cache().watch().borrow().flushes;
    let path = format!("/v1/api_keys/{}/revoke", key["id"].as_str().unwrap());
    let (status, revoked) = send(app.post(&path, app.sk())).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_i64(), "{revoked}");
    // At once on the instance that revoked it, cached or not.
    expect_error(
        app.get("/v1/payment_intents", secret).send().await.unwrap(),
        401,
        "api_key_invalid",
    )
    .await;
    if db == Db::Postgres {
        wait_for_cache(&other_store, |s| s.flushes > flushes).await;
    }
    expect_error(on_other().send().await.unwrap(), 401, "api_key_invalid").await;
    // The merchant's own key, from before keys had names, still works on both.
    assert_eq!(send(app.get("/v1/payment_intents", app.sk())).await.0, 200);
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_here_and_by_another_instance_once_notified_on_sqlite() {
    a_revoked_key_is_refused_at_once_here_and_by_another_instance_once_notified(Db::Sqlite).await;
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_here_and_by_another_instance_once_notified_on_postgres() {
    a_revoked_key_is_refused_at_once_here_and_by_another_instance_once_notified(Db::Postgres).await;
}

#[tokio::test]
async fn keys_are_listed_by_prefix_and_rolled_with_a_bounded_grace_period() {
    let (app, clock) = clocked(Db::Sqlite, 0).await;
    let made = new_key(&app, app.sk(), "billing server").await;
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk_test_"), "{made}");
    let (_, list) = send(app.get("/v1/api_keys", app.sk())).await;
    let text = list.to_string();
    assert!(
        !text.contains(&secret),
        "a listed key shows its prefix only: {text}"
    );
    assert!(!text.contains(app.sk()), "{text}");
    let listed = list["data"].as_array().unwrap();
    // Test mode only: the merchant's secret and publishable keys, and the new one.
    assert_eq!(listed.len(), 3, "{list}");
    assert_eq!(listed[0]["name"], "billing server");
    assert!(secret.starts_with(listed[0]["prefix"].as_str().unwrap().trim_end_matches('…')));

    let roll = format!("/v1/api_keys/{}/roll", made["id"].as_str().unwrap());
    let (status, too_long) = send(
        app.post(&roll, &secret)
            .json(&json!({"expires_in_seconds": 604_801})),
    )
    .await;
    assert_eq!(
        (status, &too_long["error"]["param"]),
        (400, &json!("expires_in_seconds"))
    );
    let (status, rolled) = send(
        app.post(&roll, &secret)
            .json(&json!({"expires_in_seconds": 60})),
    )
    .await;
    assert_eq!(status, 200, "{rolled}");
    let new_secret = rolled["secret"].as_str().unwrap().to_owned();
    assert_eq!(rolled["name"], "billing server");
    assert_eq!(rolled["custody"], made["custody"]);
    // Within the grace period both work; after it only the new one.
    assert_eq!(send(app.get("/v1/balance", &secret)).await.0, 200);
    clock.advance_ms(61_000);
    expect_error(
        app.get("/v1/balance", &secret).send().await.unwrap(),
        401,
        "api_key_invalid",
    )
    .await;
    assert_eq!(send(app.get("/v1/balance", &new_secret)).await.0, 200);
    // A key is rolled once.
    expect_error(
        app.post(&roll, &new_secret).send().await.unwrap(),
        409,
        "api_key_not_active",
    )
    .await;
}

#[tokio::test]
async fn a_key_cannot_roll_a_key_of_another_custody_and_get_its_secret() {
    let app = common::spawn_app(Db::Sqlite).await;
    let checker = cli_key(&app).await;
    let (_, list) = send(app.get("/v1/api_keys", app.sk())).await;
    let checker_id = list["data"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post(&format!("/v1/api_keys/{checker_id}/roll"), app.sk())
        .send()
        .await
        .unwrap();
    expect_error(r, 403, "api_key_other_custody").await;
    assert_eq!(send(app.get("/v1/balance", &checker)).await.0, 200);
}

async fn post_settings(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    send(app.post("/v1/settings", key).json(&body)).await
}

fn guarded(limit: &str, address: &str) -> Value {
    json!({"payout_approval_above": limit, "payout_addresses": {"base": address}})
}

#[tokio::test]
async fn one_key_and_the_keys_it_mints_cannot_raise_the_approval_limit_on_sqlite() {
    one_key_and_the_keys_it_mints_cannot_raise_the_approval_limit(Db::Sqlite).await;
}

#[tokio::test]
async fn one_key_and_the_keys_it_mints_cannot_raise_the_approval_limit_on_postgres() {
    one_key_and_the_keys_it_mints_cannot_raise_the_approval_limit(Db::Postgres).await;
}

async fn one_key_and_the_keys_it_mints_cannot_raise_the_approval_limit(db: Db) {
    let app = common::spawn_app(db).await;
    // The first limit is a tightening: it applies at once.
    assert_eq!(
        post_settings(&app, app.sk(), guarded("10", ADDRESS))
            .await
            .0,
        200
    );
    let (status, answer) = post_settings(&app, app.sk(), guarded("1000000", ADDRESS)).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["payout_approval_above"], "10");
    let change = answer["pending_change"].clone();
    assert_eq!(change["status"], "pending");
    assert_eq!(change["change"]["payout_approval_above"], "1000000");
    assert_eq!(
        app.get_json("/v1/settings").await["payout_approval_above"],
        "10"
    );
    let approve = format!(
        "/v1/settings/changes/{}/approve",
        change["id"].as_str().unwrap()
    );

    // The requesting key, a key it created, and a key it rolled: all one custody.
    let minted = new_key(&app, app.sk(), "minted").await;
    let minted = minted["secret"].as_str().unwrap().to_owned();
    let (_, list) = send(app.get("/v1/api_keys", app.sk())).await;
    let own_id = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| {
            app.sk()
                .starts_with(k["prefix"].as_str().unwrap().trim_end_matches('…'))
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, rolled) = send(
        app.post(&format!("/v1/api_keys/{own_id}/roll"), app.sk())
            .json(&json!({"expires_in_seconds": 600})),
    )
    .await;
    let rolled = rolled["secret"].as_str().unwrap().to_owned();
    for key in [app.sk(), minted.as_str(), rolled.as_str()] {
        let r = app.post(&approve, key).send().await.unwrap();
        expect_error(r, 400, "approval_requires_second_key").await;
    }
    assert_eq!(
        app.get_json("/v1/settings").await["payout_approval_above"],
        "10"
    );

    // A key of another custody (issued by `rialto keys create`) may approve.
    let checker = cli_key(&app).await;
    let (status, applied) = send(app.post(&approve, &checker)).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["status"], "applied");
    assert!(applied["approved_by"]
        .as_str()
        .unwrap()
        .starts_with("key:key_"));
    assert_eq!(
        app.get_json("/v1/settings").await["payout_approval_above"],
        "1000000"
    );
    let r = app.post(&approve, &checker).send().await.unwrap();
    expect_error(r, 409, "settings_change_not_pending").await;
}

#[tokio::test]
async fn moving_payout_addresses_or_removing_the_limit_waits_and_lowering_it_applies_at_once_on_sqlite(
) {
    moving_addresses_or_removing_the_limit_waits(Db::Sqlite).await;
}

#[tokio::test]
async fn moving_payout_addresses_or_removing_the_limit_waits_and_lowering_it_applies_at_once_on_postgres(
) {
    moving_addresses_or_removing_the_limit_waits(Db::Postgres).await;
}

async fn moving_addresses_or_removing_the_limit_waits(db: Db) {
    let app = common::spawn_app(db).await;
    assert_eq!(
        post_settings(&app, app.sk(), guarded("100", ADDRESS))
            .await
            .0,
        200
    );
    let (status, moved) = post_settings(&app, app.sk(), guarded("100", OTHER)).await;
    assert_eq!(status, 202, "{moved}");
    assert_eq!(moved["payout_addresses"]["base"], ADDRESS);
    let (status, removed) = post_settings(
        &app,
        app.sk(),
        json!({"payout_addresses": {"base": ADDRESS}}),
    )
    .await;
    assert_eq!(status, 202, "{removed}");
    assert_eq!(removed["payout_approval_above"], "100");
    // A newer request replaced the older one.
    let changes = app.get_json("/v1/settings/changes").await;
    let statuses: Vec<&str> = changes["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending", "canceled"], "{changes}");
    // Tightening, and the other fields, apply at once.
    let (status, lowered) = post_settings(
        &app,
        app.sk(),
        json!({"payout_approval_above": "5", "payout_addresses": {"base": ADDRESS},
               "overpaid": "refund_surplus"}),
    )
    .await;
    assert_eq!(status, 200, "{lowered}");
    let now = app.get_json("/v1/settings").await;
    assert_eq!(
        (&now["payout_approval_above"], &now["overpaid"]),
        (&json!("5"), &json!("refund_surplus"))
    );
    assert_eq!(now["payout_addresses"]["base"], ADDRESS);
}

#[tokio::test]
async fn an_operator_may_approve_and_a_configured_delay_applies_a_change_announced_at_once() {
    let (app, clock) = clocked(Db::Sqlite, 3600).await;
    assert_eq!(
        post_settings(&app, app.sk(), guarded("10", ADDRESS))
            .await
            .0,
        200
    );
    let (status, answer) = post_settings(&app, app.sk(), guarded("10", OTHER)).await;
    assert_eq!(status, 202, "{answer}");
    let change = &answer["pending_change"];
    assert_eq!(
        change["effective_at"].as_i64().unwrap(),
        1_800_000_000 + 3600,
        "{change}"
    );
    let events = app.get_json("/v1/events?limit=100").await;
    let id = change["id"].as_str().unwrap();
    let announced = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "settings.change_requested" && e.to_string().contains(id));
    assert!(announced, "{events}");
    clock.advance_ms(3_599_000);
    assert_eq!(
        app.get_json("/v1/settings").await["payout_addresses"]["base"],
        ADDRESS
    );
    clock.advance_ms(2_000);
    assert_eq!(
        app.get_json("/v1/settings").await["payout_addresses"]["base"],
        OTHER
    );

    // An operator approves without waiting.
    let (status, answer) = post_settings(&app, app.sk(), guarded("10", ADDRESS)).await;
    assert_eq!(status, 202, "{answer}");
    let op = create_operator(app.store.as_ref(), "olga", 0)
        .await
        .unwrap();
    let op = op["operator_key"].as_str().unwrap();
    let approve = format!(
        "/v1/settings/changes/{}/approve",
        answer["pending_change"]["id"].as_str().unwrap()
    );
    let (status, applied) = send(app.post(&approve, op)).await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["approved_by"], "operator:olga");
    assert_eq!(
        app.get_json("/v1/settings").await["payout_addresses"]["base"],
        ADDRESS
    );
}

#[tokio::test]
async fn operator_keys_roll_with_a_grace_period_and_revoke_at_once() {
    let (app, clock) = clocked(Db::Sqlite, 0).await;
    let created = create_operator(app.store.as_ref(), "olga", clock.now_ms())
        .await
        .unwrap();
    let old = created["operator_key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let cases = |key: &str| app.get("/v1/compliance/cases", key);
    assert_eq!(send(cases(&old)).await.0, 200);
    let roll = OperatorAction::Roll {
        id: id.clone(),
        grace_secs: 30,
    };
    let rolled = manage_operator(app.store.as_ref(), roll, clock.now_ms())
        .await
        .unwrap();
    let new = rolled["operator_key"].as_str().unwrap().to_owned();
    assert_eq!(send(cases(&old)).await.0, 200);
    clock.advance_ms(31_000);
    expect_error(cases(&old).send().await.unwrap(), 401, "api_key_invalid").await;
    assert_eq!(send(cases(&new)).await.0, 200);
    let new_id = rolled["id"].as_str().unwrap().to_owned();
    manage_operator(
        app.store.as_ref(),
        OperatorAction::Revoke { id: new_id },
        clock.now_ms(),
    )
    .await
    .unwrap();
    expect_error(cases(&new).send().await.unwrap(), 401, "api_key_invalid").await;
    let listed = manage_operator(app.store.as_ref(), OperatorAction::List, 0)
        .await
        .unwrap();
    assert!(!listed.to_string().contains(&new), "{listed}");
}
