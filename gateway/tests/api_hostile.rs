//! Hostile and concurrent use of the API, on both backends: racing duplicate requests, fuzzed
//! bodies, other merchants' ids. Only 4xx answers, and no state changes.

mod common;

use common::{expect_error, spawn_app, Db, TestApp, ADDRESS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

async fn racing_duplicates_create_exactly_one_intent(db: Db) {
    let app = spawn_app(db).await;
    let body = json!({"amount": "5.00", "currency": "usd"});
    for round in 0..10 {
        let key = format!("race-{round}");
        let send = || {
            app.post("/v1/payment_intents", app.sk())
                .header("idempotency-key", &key)
                .json(&body)
                .send()
        };
        let (a, b) = tokio::join!(send(), send());
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        let bodies = [a.text().await.unwrap(), b.text().await.unwrap()];
        match statuses {
            // One ran, the other found it in flight.
            [200, 409] => {
                let conflict = bodies.iter().find(|b| b.contains("idempotency_key_in_use"));
                assert!(conflict.is_some(), "{bodies:?}");
            }
            // The second arrived after the first committed: a byte-identical replay.
            [200, 200] => assert_eq!(bodies[0], bodies[1]),
            other => panic!("unexpected statuses {other:?}: {bodies:?}"),
        }
        // Whatever the interleaving, a retry now replays the one stored intent.
        let retry = send().await.unwrap();
        assert_eq!(retry.status(), 200);
    }
    assert_eq!(app.intent_count().await, 10, "one intent per key");
}

#[tokio::test]
async fn racing_duplicates_create_exactly_one_intent_on_sqlite() {
    racing_duplicates_create_exactly_one_intent(Db::Sqlite).await;
}

#[tokio::test]
async fn racing_duplicates_create_exactly_one_intent_on_postgres() {
    racing_duplicates_create_exactly_one_intent(Db::Postgres).await;
}

/// Mutations of a valid body: dropped and duplicated characters, swapped types, huge numbers,
/// odd unicode, nested junk.
fn mutate(rng: &mut StdRng, valid: &str) -> String {
    let mut bytes: Vec<char> = valid.chars().collect();
    let junk = [
        "\u{0}",
        "\"",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "-",
        "1e999",
        "null",
        "\u{202e}",
        "é",
        "\\",
        "99999999999999999999999999",
        "0x",
        " ",
    ];
    for _ in 0..rng.gen_range(1..6) {
        let at = rng.gen_range(0..=bytes.len());
        match rng.gen_range(0..3) {
            0 if at < bytes.len() => {
                bytes.remove(at);
            }
            1 => {
                let piece = junk[rng.gen_range(0..junk.len())];
                for (i, c) in piece.chars().enumerate() {
                    bytes.insert(at + i, c);
                }
            }
            _ => {
                if at < bytes.len() {
                    let c = bytes[at];
                    bytes.insert(at, c);
                }
            }
        }
    }
    bytes.into_iter().collect()
}

fn structured_cases() -> Vec<Value> {
    let base = json!({"amount": "1.00", "currency": "usd", "settlement": {"asset": "usdc", "chain": "base", "address": ADDRESS}});
    let mut out = Vec::new();
    for field in [
        "amount",
        "currency",
        "settlement",
        "metadata",
        "expires_in",
        "description",
    ] {
        for value in [
            json!(null),
            json!(true),
            json!(-1),
            json!(1.5),
            json!([]),
            json!({}),
            json!(""),
            json!("x".repeat(5000)),
            json!(i64::MIN),
            json!(u64::MAX),
        ] {
            let mut body = base.clone();
            body[field] = value;
            out.push(body);
        }
    }
    out
}

async fn hostile_bodies_get_only_client_errors(db: Db) {
    let app: TestApp = spawn_app(db).await;
    let valid = json!({"amount": "1.00", "currency": "usd", "metadata": {"a": "b"}, "settlement": {"asset": "usdc", "chain": "base", "address": ADDRESS}}).to_string();
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut created = 0;
    let mut bodies: Vec<String> = (0..300).map(|_| mutate(&mut rng, &valid)).collect();
    bodies.extend(structured_cases().iter().map(Value::to_string));
    for body in &bodies {
        let response = app
            .post("/v1/payment_intents", app.sk())
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(
            status == 200 || (400..500).contains(&status),
            "{status} for {body:?}: {text}"
        );
        if status == 200 {
            created += 1;
        } else {
            let error: Value = serde_json::from_str(&text).unwrap();
            assert!(error["error"]["code"].is_string(), "{text}");
        }
    }
    // Only mutations that still form a valid request may create anything.
    assert_eq!(app.intent_count().await.min(100), created.min(100));
    let path_cases = [
        "/v1/payment_intents/%00",
        "/v1/payment_intents/pi_%F0%9F%92%A9",
        "/v1/payment_intents/../merchants",
        "/v1/payment_intents/pi_01jd0000000000000000000000",
    ];
    for path in path_cases {
        let response = app.get(path, app.sk()).send().await.unwrap();
        assert!((400..500).contains(&response.status().as_u16()), "{path}");
    }
}

#[tokio::test]
async fn hostile_bodies_get_only_client_errors_on_sqlite() {
    hostile_bodies_get_only_client_errors(Db::Sqlite).await;
}

#[tokio::test]
async fn hostile_bodies_get_only_client_errors_on_postgres() {
    hostile_bodies_get_only_client_errors(Db::Postgres).await;
}

#[tokio::test]
async fn the_full_flow_runs_on_postgres_too() {
    let app = spawn_app(Db::Postgres).await;
    let created = app
        .create_intent(json!({"amount": "25.50", "currency": "usdc", "metadata": {"k": "v"}}))
        .await;
    assert_eq!(created["amount"], "25.50");
    let id = created["id"].as_str().unwrap();
    let canceled: Value = app
        .post(&format!("/v1/payment_intents/{id}/cancel"), app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(canceled["status"], "canceled");
    let other = app.another_merchant().await;
    let read = app
        .get(&format!("/v1/payment_intents/{id}"), &other.secret_key)
        .send()
        .await
        .unwrap();
    expect_error(read, 404, "resource_missing").await;
}
