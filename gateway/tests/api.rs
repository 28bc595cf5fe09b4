//! The HTTP API end to end, on a server bound to port 0 with a fresh SQLite database (the
//! PostgreSQL half of the idempotency race runs in `api_postgres.rs`).

mod common;

use common::{expect_error, spawn_app, spawn_app_with, Db, ADDRESS};
use serde_json::{json, Value};

fn intent_body() -> Value {
    json!({
        "amount": "25.00",
        "currency": "usd",
        "settlement": {"asset": "usdc", "chain": "base", "address": ADDRESS},
        "metadata": {"order_id": "A-1001"},
        "description": "Two coffees"
    })
}

#[tokio::test]
async fn created_intents_read_back_with_aliases_and_caip_ids() {
    let app = spawn_app(Db::Sqlite).await;
    let created = app.create_intent(intent_body()).await;
    assert_eq!(created["object"], "payment_intent");
    assert_eq!(created["status"], "awaiting_funds");
    assert_eq!(created["amount"], "25.00");
    assert_eq!(created["currency"], "usd");
    assert_eq!(created["livemode"], false);
    assert_eq!(created["settlement"]["chain"], "base");
    assert_eq!(created["settlement"]["chain_id"], "eip155:8453");
    assert_eq!(
        created["settlement"]["asset_id"],
        "eip155:8453/erc20:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
    );
    assert_eq!(created["metadata"]["order_id"], "A-1001");
    let expires_in = created["expires_at"].as_i64().unwrap() - created["created"].as_i64().unwrap();
    assert_eq!(expires_in, 3600);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("pi_"));
    let fetched: Value = app
        .get(&format!("/v1/payment_intents/{id}"), app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn the_merchant_default_settlement_applies_when_none_is_given() {
    let app = spawn_app(Db::Sqlite).await;
    let created = app
        .create_intent(json!({"amount": "10", "currency": "eur", "expires_in": 600}))
        .await;
    assert_eq!(created["amount"], "10.00");
    assert_eq!(created["settlement"]["asset"], "usdc");
    assert_eq!(created["settlement"]["chain"], "base");
    assert_eq!(created["settlement"]["address"], ADDRESS);
}

#[tokio::test]
async fn bad_intent_parameters_get_stable_codes_and_create_nothing() {
    let app = spawn_app(Db::Sqlite).await;
    let with = |patch: Value| {
        let mut body = intent_body();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let settle = |asset: &str, chain: &str, address: &str| json!({"settlement": {"asset": asset, "chain": chain, "address": address}});
    let lower = ADDRESS.to_lowercase();
    let bad_checksum = ADDRESS.replacen('a', "A", 1);
    let many_keys: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(json!({"amount": "-1"})), "invalid_amount", "amount"),
        (with(json!({"amount": "0"})), "invalid_amount", "amount"),
        (with(json!({"amount": "0.00"})), "invalid_amount", "amount"),
        (with(json!({"amount": "1.001"})), "invalid_amount", "amount"),
        (with(json!({"amount": "1e3"})), "invalid_amount", "amount"),
        (with(json!({"amount": 25})), "invalid_amount", "amount"),
        (
            with(json!({"amount": "99999999999999999999999"})),
            "amount_too_large",
            "amount",
        ),
        (
            with(json!({"amount": "1000000000001"})),
            "amount_too_large",
            "amount",
        ),
        (
            with(json!({"currency": "usdc", "amount": "1.0000001"})),
            "invalid_amount",
            "amount",
        ),
        (
            with(json!({"currency": "doge"})),
            "invalid_currency",
            "currency",
        ),
        (
            with(json!({"currency": "xau", "amount": "1"})),
            "invalid_currency",
            "currency",
        ),
        (
            // The yen has no minor unit: a fraction is refused, never rounded.
            with(json!({"currency": "jpy", "amount": "1500.5"})),
            "invalid_amount",
            "amount",
        ),
        (
            with(settle("usdc", "dogechain", ADDRESS)),
            "invalid_chain",
            "settlement.chain",
        ),
        (
            with(settle("shib", "base", ADDRESS)),
            "invalid_asset",
            "settlement.asset",
        ),
        (
            with(settle("pyusd", "base", ADDRESS)),
            "asset_not_on_chain",
            "settlement.asset",
        ),
        (
            with(settle("usdc", "base", "0x1234")),
            "invalid_address",
            "settlement.address",
        ),
        (
            with(settle("usdc", "base", &bad_checksum)),
            "address_checksum_mismatch",
            "settlement.address",
        ),
        (
            with(settle("usdc", "solana", ADDRESS)),
            "invalid_address",
            "settlement.address",
        ),
        (
            with(json!({"metadata": many_keys})),
            "metadata_invalid",
            "metadata",
        ),
        (
            with(json!({"metadata": {"k": 1}})),
            "parameter_invalid",
            "metadata.k",
        ),
        (
            with(json!({"expires_in": 5})),
            "invalid_expires_in",
            "expires_in",
        ),
        (
            with(json!({"expires_in": "soon"})),
            "parameter_invalid",
            "expires_in",
        ),
        (
            with(json!({"surprise": true})),
            "parameter_unknown",
            "surprise",
        ),
        (json!({"currency": "usd"}), "parameter_missing", "amount"),
    ];
    for (body, code, param) in cases {
        let response = app
            .post("/v1/payment_intents", app.sk())
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 400, code).await;
        assert_eq!(error["param"], param, "param for {body}");
    }
    // Lower-case addresses carry no checksum and are fine; they come back checksummed.
    let ok = app
        .create_intent(with(settle("usdc", "base", &lower)))
        .await;
    assert_eq!(ok["settlement"]["address"], ADDRESS);
    assert_eq!(app.intent_count().await, 1);
}

#[tokio::test]
async fn malformed_bodies_and_unknown_routes_get_error_objects() {
    let app = spawn_app_with(Db::Sqlite, |c| c.server.max_body_bytes = 2048).await;
    let raw = |body: &'static str| {
        app.post("/v1/payment_intents", app.sk())
            .header("content-type", "application/json")
            .body(body)
    };
    expect_error(raw("{").send().await.unwrap(), 400, "invalid_json").await;
    expect_error(raw("[]").send().await.unwrap(), 400, "parameter_invalid").await;
    expect_error(raw("\"x\"").send().await.unwrap(), 400, "parameter_invalid").await;
    expect_error(raw("{} {}").send().await.unwrap(), 400, "invalid_json").await;
    let big = format!("{{\"description\": \"{}\"}}", "x".repeat(4096));
    let response = app
        .post("/v1/payment_intents", app.sk())
        .body(big)
        .send()
        .await
        .unwrap();
    expect_error(response, 413, "request_too_large").await;
    let response = app.get("/v1/nothing_here", app.sk()).send().await.unwrap();
    expect_error(response, 404, "url_not_found").await;
    let response = app
        .client
        .delete(format!("{}/v1/payment_intents", app.base))
        .send()
        .await
        .unwrap();
    expect_error(response, 405, "method_not_allowed").await;
    assert_eq!(app.intent_count().await, 0);
}

#[tokio::test]
async fn missing_wrong_and_live_keys_are_refused() {
    let app = spawn_app(Db::Sqlite).await;
    let url = format!("{}/v1/payment_intents", app.base);
    let none = app.client.get(&url).send().await.unwrap();
    expect_error(none, 401, "api_key_missing").await;
    let basic = app
        .client
        .get(&url)
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    expect_error(basic, 401, "api_key_invalid").await;
    let unknown = app
        .get(
            "/v1/payment_intents",
            "sk_test_0000000000000000000000000000000a",
        )
        .send()
        .await
        .unwrap();
    expect_error(unknown, 401, "api_key_invalid").await;
    let live = app.merchant.live_secret_key.clone().unwrap();
    let refused = app.get("/v1/payment_intents", &live).send().await.unwrap();
    let error = expect_error(refused, 403, "livemode_unavailable").await;
    assert!(error["message"].as_str().unwrap().contains("live"));
    let pk = app.merchant.publishable_key.clone();
    let create = app
        .post("/v1/payment_intents", &pk)
        .json(&intent_body())
        .send()
        .await
        .unwrap();
    expect_error(create, 403, "secret_key_required").await;
    let list = app.get("/v1/payment_intents", &pk).send().await.unwrap();
    expect_error(list, 403, "secret_key_required").await;
    assert_eq!(app.intent_count().await, 0);
}

#[tokio::test]
async fn merchants_never_see_or_touch_each_others_intents() {
    let app = spawn_app(Db::Sqlite).await;
    let mine = app.create_intent(intent_body()).await;
    let id = mine["id"].as_str().unwrap();
    let other = app.another_merchant().await;
    let read = app
        .get(&format!("/v1/payment_intents/{id}"), &other.secret_key)
        .send()
        .await
        .unwrap();
    expect_error(read, 404, "resource_missing").await;
    let cancel = app
        .post(
            &format!("/v1/payment_intents/{id}/cancel"),
            &other.secret_key,
        )
        .send()
        .await
        .unwrap();
    expect_error(cancel, 404, "resource_missing").await;
    let cursor = app
        .get(
            &format!("/v1/payment_intents?starting_after={id}"),
            &other.secret_key,
        )
        .send()
        .await
        .unwrap();
    expect_error(cursor, 400, "invalid_cursor").await;
    let list: Value = app
        .get("/v1/payment_intents", &other.secret_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));
    let still: Value = app
        .get(&format!("/v1/payment_intents/{id}"), app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still["status"], "awaiting_funds");
}

#[tokio::test]
async fn a_publishable_key_reads_one_intent_only_with_its_client_secret() {
    let app = spawn_app(Db::Sqlite).await;
    let created = app.create_intent(intent_body()).await;
    let id = created["id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let pk = app.merchant.publishable_key.clone();
    let ok = app
        .get(
            &format!("/v1/payment_intents/{id}?client_secret={secret}"),
            &pk,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let view: Value = ok.json().await.unwrap();
    assert_eq!(view["amount"], "25.00");
    assert!(
        view.get("metadata").is_none(),
        "metadata stays with the merchant"
    );
    let missing = app
        .get(&format!("/v1/payment_intents/{id}"), &pk)
        .send()
        .await
        .unwrap();
    expect_error(missing, 400, "parameter_missing").await;
    let wrong = format!("{id}_secret_AAAAAAAAAAAAAAAAAAAAAAAA");
    let bad = app
        .get(
            &format!("/v1/payment_intents/{id}?client_secret={wrong}"),
            &pk,
        )
        .send()
        .await
        .unwrap();
    expect_error(bad, 404, "resource_missing").await;
}

#[tokio::test]
async fn an_idempotent_retry_replays_the_first_response_byte_for_byte() {
    let app = spawn_app(Db::Sqlite).await;
    let body = serde_json::to_vec(&intent_body()).unwrap();
    let send = |key: &'static str, body: Vec<u8>| {
        app.post("/v1/payment_intents", app.sk())
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let first = send("order-1001", body.clone()).await.unwrap();
    assert_eq!(first.status(), 200);
    let first_bytes = first.bytes().await.unwrap();
    let again = send("order-1001", body.clone()).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first_bytes);
    let mut other = intent_body();
    other["amount"] = json!("26.00");
    let reused = send("order-1001", serde_json::to_vec(&other).unwrap())
        .await
        .unwrap();
    expect_error(reused, 422, "idempotency_key_reused").await;
    assert_eq!(app.intent_count().await, 1);
    let long_key = "k".repeat(256);
    let response = app
        .post("/v1/payment_intents", app.sk())
        .header("idempotency-key", long_key)
        .json(&intent_body())
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "idempotency_key_invalid").await;
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_merchant() {
    let app = spawn_app(Db::Sqlite).await;
    let other = app.another_merchant().await;
    for key in [app.sk().to_owned(), other.secret_key.clone()] {
        let response = app
            .post("/v1/payment_intents", &key)
            .header("idempotency-key", "same")
            .json(&intent_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn an_idempotent_cancel_replays_and_a_second_cancel_is_refused() {
    let app = spawn_app(Db::Sqlite).await;
    let created = app.create_intent(intent_body()).await;
    let path = format!(
        "/v1/payment_intents/{}/cancel",
        created["id"].as_str().unwrap()
    );
    let body = json!({"cancellation_reason": "requested_by_customer"});
    let first = app
        .post(&path, app.sk())
        .header("idempotency-key", "c1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let first_bytes = first.bytes().await.unwrap();
    let canceled: Value = serde_json::from_slice(&first_bytes).unwrap();
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["cancellation_reason"], "requested_by_customer");
    assert!(canceled["canceled_at"].is_i64());
    let replay = app
        .post(&path, app.sk())
        .header("idempotency-key", "c1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.bytes().await.unwrap(), first_bytes);
    let again = app
        .post(&path, app.sk())
        .header("idempotency-key", "c2")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(again, 400, "payment_intent_unexpected_state").await;
    let bad_reason = app
        .post(&path, app.sk())
        .json(&json!({"cancellation_reason": "bored"}))
        .send()
        .await
        .unwrap();
    expect_error(bad_reason, 400, "parameter_invalid").await;
    let unknown = app
        .post("/v1/payment_intents/pi_nope/cancel", app.sk())
        .send()
        .await
        .unwrap();
    expect_error(unknown, 404, "resource_missing").await;
}

#[tokio::test]
async fn lists_paginate_with_cursors_and_filter_by_status_and_time() {
    let app = spawn_app(Db::Sqlite).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(
            app.create_intent(intent_body()).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids.reverse(); // newest first, as lists answer
    let page = |query: String| {
        let app = &app;
        async move {
            let v: Value = app
                .get(&format!("/v1/payment_intents?{query}"), app.sk())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let got: Vec<String> = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect();
            (got, v["has_more"].as_bool().unwrap())
        }
    };
    assert_eq!(page("limit=3".into()).await, (ids[0..3].to_vec(), true));
    assert_eq!(
        page(format!("limit=3&starting_after={}", ids[2])).await,
        (ids[3..6].to_vec(), true)
    );
    assert_eq!(
        page(format!("limit=3&starting_after={}", ids[5])).await,
        (ids[6..7].to_vec(), false)
    );
    assert_eq!(
        page(format!("limit=2&ending_before={}", ids[3])).await,
        (ids[1..3].to_vec(), true)
    );
    app.post(&format!("/v1/payment_intents/{}/cancel", ids[4]), app.sk())
        .send()
        .await
        .unwrap();
    assert_eq!(
        page("status=canceled".into()).await,
        (vec![ids[4].clone()], false)
    );
    assert_eq!(
        page("created[gte]=4102444800".into()).await,
        (vec![], false)
    );
    assert_eq!(
        page("created[lte]=4102444800&limit=100".into())
            .await
            .0
            .len(),
        7
    );
    for (query, code, param) in [
        ("limit=0", "parameter_invalid", "limit"),
        ("limit=101", "parameter_invalid", "limit"),
        ("limit=ten", "parameter_invalid", "limit"),
        ("starting_after=garbage", "invalid_cursor", "starting_after"),
        (
            "starting_after=pi_01jd0000000000000000000000",
            "invalid_cursor",
            "starting_after",
        ),
        ("status=paid", "parameter_invalid", "status"),
        (
            "created[gte]=yesterday",
            "parameter_invalid",
            "created[gte]",
        ),
        ("colour=blue", "parameter_unknown", "colour"),
    ] {
        let response = app
            .get(&format!("/v1/payment_intents?{query}"), app.sk())
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 400, code).await;
        assert_eq!(error["param"], param, "{query}");
    }
    let both = app
        .get(
            &format!(
                "/v1/payment_intents?starting_after={}&ending_before={}",
                ids[1], ids[2]
            ),
            app.sk(),
        )
        .send()
        .await
        .unwrap();
    expect_error(both, 400, "parameter_invalid").await;
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after() {
    let app = spawn_app_with(Db::Sqlite, |c| {
        c.rate_limit.per_second = 1;
        c.rate_limit.burst = 3;
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..6 {
        let response = app
            .get("/v1/payment_intents", app.sk())
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            statuses.push(429);
            expect_error(response, 429, "rate_limited").await;
        } else {
            statuses.push(response.status().as_u16());
        }
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    assert!(retry_after.unwrap().parse::<u64>().unwrap() >= 1);
    // Another merchant's key has its own budget.
    let other = app.another_merchant().await;
    let response = app
        .get("/v1/payment_intents", &other.secret_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn health_readiness_metrics_and_request_ids_are_served() {
    let app = spawn_app(Db::Sqlite).await;
    let health = app
        .client
        .get(format!("{}/health", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers()["request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let ready: Value = app
        .client
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    app.create_intent(intent_body()).await;
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("rialto_http_requests_total"), "{metrics}");
    assert!(metrics.contains("rialto_payment_intents_created_total"));
}

#[tokio::test]
async fn the_served_openapi_document_lists_the_payment_intent_routes() {
    let app = spawn_app(Db::Sqlite).await;
    let doc: Value = app
        .client
        .get(format!("{}/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/payment_intents",
        "/v1/payment_intents/{id}",
        "/v1/payment_intents/{id}/cancel",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["PaymentIntentObject"].is_object());
}

#[tokio::test]
async fn sandbox_chains_take_test_payments_and_refuse_live_ones() {
    let app = spawn_app_with(Db::Sqlite, |c| {
        c.live.venues = vec![common::fixtures::live_venue()]
    })
    .await;
    let body = json!({"amount": "3.00", "currency": "usd",
        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": ADDRESS}});
    let test = app.create_intent(body.clone()).await;
    assert_eq!(test["settlement"]["chain_id"], "eip155:31338");
    assert_eq!(
        test["settlement"]["asset_id"],
        "eip155:31338/erc20:0xb19b36b1456E65E3A6D514D3F715f204BD59f431"
    );
    let live = app.merchant.live_secret_key.clone().unwrap();
    let response = app
        .post("/v1/payment_intents", &live)
        .json(&body)
        .send()
        .await
        .unwrap();
    let error = expect_error(response, 400, "invalid_chain").await;
    assert_eq!(error["param"], "settlement.chain");
    let mut mainnet = body;
    mainnet["settlement"]["chain"] = json!("base");
    let ok = app
        .post("/v1/payment_intents", &live)
        .json(&mainnet)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let created: Value = ok.json().await.unwrap();
    assert_eq!(created["livemode"], true);
}
