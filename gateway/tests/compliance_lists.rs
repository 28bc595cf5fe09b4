//! Compliance through the API, continued: the audit chain under concurrency, the EU travel rule,
//! allow lists against medium-risk screeners, what arrived versus what was charged, lists that
//! change after creation or during review, the operator's private list, velocity limits.

mod common;
mod compliance_support;

use common::{expect_error, spawn_app, spawn_app_with, Db, ADDRESS};
use compliance_support::*;
use rialto_gateway::cli_ops::verify_log;
use serde_json::{json, Value};

#[tokio::test]
async fn concurrent_screenings_never_fork_the_audit_chain_on_postgres() {
    let app = spawn_app(Db::Postgres).await;
    let mut intents = Vec::new();
    for _ in 0..16 {
        intents.push(
            app.create_intent(json!({"amount": "5.00", "currency": "usd"}))
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let tasks = intents
        .iter()
        .map(|id| fund(&app, id, json!({"chain": "base", "payer_address": PAYER})));
    for response in futures::future::join_all(tasks).await {
        assert_eq!(response.status(), 200);
    }
    let report = verify_log(app.store.as_ref()).await.unwrap();
    assert_eq!(
        (report["ok"].as_bool(), report["records"].as_u64()),
        (Some(true), Some(16)),
        "{report}"
    );
}

#[tokio::test]
async fn eu_merchants_need_travel_rule_data_for_every_payment() {
    let app = spawn_app(Db::Sqlite).await;
    let eu = rialto_gateway::merchants::create_merchant(
        app.store.as_ref(),
        &common::registry(),
        &rialto_gateway::merchants::NewMerchant {
            name: "Café Berlin".into(),
            settlement: Some(("usdc".into(), "base".into(), ADDRESS.into())),
            live_keys: false,
            country: Some("DE".into()),
        },
        0,
    )
    .await
    .unwrap();
    let create = |body: Value| {
        let app = &app;
        let key = eu.secret_key.clone();
        async move {
            let r = app
                .post("/v1/payment_intents", &key)
                .json(&body)
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let fund_as = |intent: Value, extra: Value| {
        let app = &app;
        let key = eu.secret_key.clone();
        async move {
            let mut body = json!({"chain": "base", "payer_address": PAYER});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            let path = format!(
                "/v1/test_helpers/payment_intents/{}/fund",
                intent["id"].as_str().unwrap()
            );
            let r = app.post(&path, &key).json(&body).send().await.unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    // EUR 0 threshold: even 1.00 (in euros or dollars) needs originator and beneficiary data.
    for currency in ["eur", "usd"] {
        let intent = create(json!({"amount": "1.00", "currency": currency})).await;
        assert_eq!(
            fund_as(intent, json!({})).await["status"],
            "in_review",
            "{currency}"
        );
    }
    let intent = create(json!({"amount": "1.00", "currency": "eur"})).await;
    let cleared = fund_as(
        intent,
        json!({"travel_rule": ivms101("Smith", "Cafe Berlin GmbH")}),
    )
    .await;
    assert_eq!(cleared["status"], "funds_received", "{cleared}");
    // The US merchant of the same gateway needs none below USD 3,000.
    assert_eq!(
        pay(&app, "1.00", json!({})).await["status"],
        "funds_received"
    );
    let bad = rialto_gateway::merchants::create_merchant(
        app.store.as_ref(),
        &common::registry(),
        &rialto_gateway::merchants::NewMerchant {
            name: "X".into(),
            country: Some("de".into()),
            ..Default::default()
        },
        0,
    )
    .await;
    assert!(matches!(
        bad,
        Err(rialto_gateway::merchants::MerchantError::InvalidCountry)
    ));
}

#[tokio::test]
async fn an_allow_listed_payer_skips_a_medium_risk_review_but_never_a_block_list() {
    let url = medium_risk_screener().await;
    let app = spawn_app_with(Db::Sqlite, |c| {
        c.compliance.external.url = url;
        c.compliance.external.api_key = "k".into();
    })
    .await;
    assert_eq!(pay(&app, "25.00", json!({})).await["status"], "in_review");
    let operator = operator(&app).await;
    let add = |kind: &'static str, key: String| {
        let app = &app;
        async move {
            app.post("/v1/compliance/list_entries", &key)
                .json(&json!({"kind": kind, "address": PAYER, "note": "known customer"}))
                .send()
                .await
                .unwrap()
        }
    };
    // Allow-lists belong to operators: a merchant key may only block.
    let refused = add("allow", app.sk().to_owned()).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "operator_key_required", "{body}");
    assert_eq!(body["error"]["param"], "kind", "{body}");
    assert_eq!(
        pay(&app, "25.00", json!({})).await["status"],
        "in_review",
        "the refused entry silences nothing"
    );
    // A merchant's allow entry stored before the rule (straight into the store) is ignored.
    {
        use rialto_gateway::store::{ComplianceStore, ListEntry};
        let merchant = app.merchant.id.parse().unwrap();
        let owner = rialto_gateway::compliance::flow::merchant_owner(&merchant, false);
        let entry = ListEntry {
            id: "cle_legacy_allow".into(),
            owner,
            kind: "allow".into(),
            address: PAYER.to_ascii_lowercase(),
            note: None,
            created_at_ms: 0,
        };
        let audit = rialto_compliance::AuditEntry {
            id: "cle_legacy_allow".into(),
            at_ms: 1,
            kind: "list_entry:create".into(),
            subject: "legacy".into(),
            outcome: "allow".into(),
            detail: "{}".into(),
        };
        assert!(app.store.create_list_entry(&entry, &audit).await.unwrap());
    }
    assert_eq!(
        pay(&app, "25.00", json!({})).await["status"],
        "in_review",
        "a merchant's own allow entry silences nothing"
    );
    assert_eq!(add("allow", operator.clone()).await.status(), 200);
    assert_eq!(
        pay(&app, "25.00", json!({})).await["status"],
        "funds_received"
    );
    assert_eq!(add("block", app.sk().to_owned()).await.status(), 200);
    assert_eq!(pay(&app, "25.00", json!({})).await["status"], "blocked");
    // The operator's allow entry covers the payer at every merchant; this merchant's block
    // entry covers only its own payments.
    let other = app.another_merchant().await;
    let intent: Value = app
        .post("/v1/payment_intents", &other.secret_key)
        .json(&json!({"amount": "5.00", "currency": "usd"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!(
        "/v1/test_helpers/payment_intents/{}/fund",
        intent["id"].as_str().unwrap()
    );
    let paid: Value = app
        .post(&path, &other.secret_key)
        .json(&json!({"chain": "base", "payer_address": PAYER}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paid["status"], "funds_received");
}

#[tokio::test]
async fn the_amount_that_arrived_counts_when_it_exceeds_the_charge() {
    let app = spawn_app(Db::Sqlite).await;
    // 10.00 charged, 50,000 USDC sent: over the USD 3,000 travel-rule threshold.
    let paid = pay(&app, "10.00", json!({"asset": "usdc", "amount": "50000"})).await;
    assert_eq!(paid["status"], "in_review");
    let bad = fund(
        &app,
        app.create_intent(json!({"amount": "1.00", "currency": "usd"}))
            .await["id"]
            .as_str()
            .unwrap(),
        json!({"chain": "base", "payer_address": PAYER, "asset": "usdc", "amount": "1.0000001"}),
    )
    .await;
    expect_error(bad, 400, "invalid_amount").await;
    let lone = fund(
        &app,
        app.create_intent(json!({"amount": "1.00", "currency": "usd"}))
            .await["id"]
            .as_str()
            .unwrap(),
        json!({"chain": "base", "payer_address": PAYER, "amount": "1.00"}),
    )
    .await;
    expect_error(lone, 400, "parameter_missing").await;
}

#[tokio::test]
async fn lists_changed_after_creation_or_during_review_still_block() {
    let app = spawn_app(Db::Sqlite).await;
    let op = operator(&app).await;
    // The settlement address is block-listed after the intent was created.
    let intent = app
        .create_intent(json!({"amount": "5.00", "currency": "usd"}))
        .await;
    add_entry(&app, &op, "block", ADDRESS).await;
    let response = fund(
        &app,
        intent["id"].as_str().unwrap(),
        json!({"chain": "base", "payer_address": PAYER}),
    )
    .await;
    let paid: Value = response.json().await.unwrap();
    assert_eq!(paid["status"], "blocked");

    // A payer held for review is block-listed before the operator approves: the approval
    // re-screens, blocks the intent and is refused.
    let other = spawn_app(Db::Sqlite).await;
    let op = operator(&other).await;
    let held = pay(&other, "5000.00", json!({})).await;
    assert_eq!(held["status"], "in_review");
    let case = cases(&other, &op, "status=open").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    add_entry(&other, &op, "block", PAYER).await;
    let approve = other
        .post(&format!("/v1/compliance/cases/{case}/approve"), &op)
        .json(&json!({"note": "documents received"}))
        .send()
        .await
        .unwrap();
    expect_error(approve, 409, "compliance_case_not_releasable").await;
    let intent: Value = other
        .get(
            &format!("/v1/payment_intents/{}", held["id"].as_str().unwrap()),
            other.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intent["status"], "blocked");
    let frozen = cases(&other, &op, "status=frozen").await;
    assert!(
        frozen.iter().any(|c| c["id"] == case.as_str()),
        "the held case is frozen"
    );
    assert_eq!(verify_log(other.store.as_ref()).await.unwrap()["ok"], true);
}

#[tokio::test]
async fn merchants_cannot_probe_the_operators_private_block_list() {
    let app = spawn_app(Db::Sqlite).await;
    let op = operator(&app).await;
    add_entry(&app, &op, "block", PAYER).await;
    let screen = |key: String| {
        let app = &app;
        async move {
            let r = app
                .post("/v1/compliance/screenings", &key)
                .json(&json!({"address": PAYER, "chain": "base"}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["decision"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(screen(app.sk().to_owned()).await, "clear");
    assert_eq!(screen(op.clone()).await, "block");
    // …but the operator's list still blocks that payer's payments to the merchant.
    assert_eq!(pay(&app, "5.00", json!({})).await["status"], "blocked");
}

async fn concurrent_payments_cannot_slip_under_a_velocity_limit(db: Db) {
    let app = spawn_app(db).await;
    let op = operator(&app).await;
    let merchant = app.merchant.id.clone();
    let policy = app
        .post(&format!("/v1/compliance/policies/{merchant}"), &op)
        .json(&json!({"velocity_max_count": 3, "velocity_window_secs": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(policy.status(), 200);
    let mut intents = Vec::new();
    for _ in 0..8 {
        intents.push(
            app.create_intent(json!({"amount": "5.00", "currency": "usd"}))
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let tasks = intents
        .iter()
        .map(|id| fund(&app, id, json!({"chain": "base", "payer_address": PAYER})));
    let mut statuses = Vec::new();
    for response in futures::future::join_all(tasks).await {
        assert_eq!(response.status(), 200);
        statuses.push(
            response.json::<Value>().await.unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let cleared = statuses.iter().filter(|s| *s == "funds_received").count();
    assert_eq!(cleared, 3, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| *s == "in_review").count(),
        5,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn concurrent_payments_cannot_slip_under_a_velocity_limit_sqlite() {
    concurrent_payments_cannot_slip_under_a_velocity_limit(Db::Sqlite).await;
}

#[tokio::test]
async fn concurrent_payments_cannot_slip_under_a_velocity_limit_postgres() {
    concurrent_payments_cannot_slip_under_a_velocity_limit(Db::Postgres).await;
}
