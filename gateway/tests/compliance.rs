//! Compliance wired into the payment flow, through the API, on SQLite and PostgreSQL: every
//! OFAC address blocks, ordinary payers clear, review cases are resolved by operators, custom
//! lists, policies, the travel rule, screener outages, list reloads and the audit chain.

mod common;
mod compliance_support;

use common::{expect_error, spawn_app, spawn_app_with, Db, ADDRESS};
use compliance_support::*;
use rialto_gateway::cli_ops::verify_log;
use rialto_gateway::store::ComplianceStore;
use serde_json::{json, Value};

async fn every_evm_ofac_address_blocks_payments_in_every_letter_case(db: Db) {
    let app = spawn_app(db).await;
    let addresses = evm_ofac_addresses();
    assert!(
        addresses.len() >= 150,
        "only {} EVM addresses",
        addresses.len()
    );
    // Postgres gets a sample: the full sweep runs on SQLite and the lists are the same.
    let step = if db == Db::Postgres { 13 } else { 1 };
    let mut blocked = 0;
    for address in addresses.iter().step_by(step) {
        for spelling in spellings(address) {
            let paid = pay(&app, "25.00", json!({"payer_address": spelling})).await;
            assert_eq!(paid["status"], "blocked", "{spelling} was not blocked");
            // A blocked intent cannot be canceled, converted or settled any more.
            let cancel = app
                .post(
                    &format!(
                        "/v1/payment_intents/{}/cancel",
                        paid["id"].as_str().unwrap()
                    ),
                    app.sk(),
                )
                .send()
                .await
                .unwrap();
            expect_error(cancel, 400, "payment_intent_unexpected_state").await;
            blocked += 1;
            if db == Db::Postgres {
                break;
            }
        }
    }
    assert!(blocked >= addresses.len() / step);
    let filter = rialto_gateway::store::CaseFilter {
        status: Some(rialto_gateway::store::CaseStatus::Frozen),
        limit: 100,
        ..Default::default()
    };
    let frozen = app.store.list_cases(&filter).await.unwrap();
    assert!(!frozen.data.is_empty());
    let report = verify_log(app.store.as_ref()).await.unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["records"].as_u64().unwrap(), blocked as u64);
}

#[tokio::test]
async fn every_evm_ofac_address_blocks_payments_in_every_letter_case_sqlite() {
    every_evm_ofac_address_blocks_payments_in_every_letter_case(Db::Sqlite).await;
}

#[tokio::test]
async fn every_evm_ofac_address_blocks_payments_in_every_letter_case_postgres() {
    every_evm_ofac_address_blocks_payments_in_every_letter_case(Db::Postgres).await;
}

async fn an_ordinary_payer_clears_and_a_sanctioned_settlement_address_is_refused(db: Db) {
    let app = spawn_app(db).await;
    let paid = pay(
        &app,
        "25.00",
        json!({"payer": {"name": "Jane Smith", "country": "US"}}),
    )
    .await;
    assert_eq!(paid["status"], "funds_received");
    for spelling in spellings(TORNADO_ROUTER) {
        let response = app
            .post("/v1/payment_intents", app.sk())
            .json(&json!({"amount": "10.00", "currency": "usd",
                          "settlement": {"asset": "usdc", "chain": "base", "address": spelling}}))
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 400, "settlement_address_refused").await;
        let message = error["message"].as_str().unwrap().to_lowercase();
        for secret in ["ofac", "sanction", "tornado", "list"] {
            assert!(!message.contains(secret), "{message} says {secret}");
        }
    }
    assert_eq!(
        app.intent_count().await,
        1,
        "a refused create stored an intent"
    );
    let report = verify_log(app.store.as_ref()).await.unwrap();
    assert_eq!(
        report["records"], 4,
        "one clear payment and three refusals: {report}"
    );
}

#[tokio::test]
async fn an_ordinary_payer_clears_and_a_sanctioned_settlement_address_is_refused_sqlite() {
    an_ordinary_payer_clears_and_a_sanctioned_settlement_address_is_refused(Db::Sqlite).await;
}

#[tokio::test]
async fn an_ordinary_payer_clears_and_a_sanctioned_settlement_address_is_refused_postgres() {
    an_ordinary_payer_clears_and_a_sanctioned_settlement_address_is_refused(Db::Postgres).await;
}

async fn review_cases_are_approved_or_rejected_by_operators_and_audited(db: Db) {
    let app = spawn_app(db).await;
    let op = operator(&app).await;
    // A strong SDN name match that the payer's date of birth confirms blocks (no case).
    let payer = json!({"name": "Ayman al-Zawahiri", "date_of_birth": "1951-06-19"});
    let held = pay(&app, "25.00", json!({ "payer": payer })).await;
    assert_eq!(
        held["status"], "blocked",
        "a confirmed SDN name match blocks"
    );
    let held = pay(
        &app,
        "25.00",
        json!({"payer": {"country": "US"}, "travel_rule": null}),
    )
    .await;
    assert_eq!(held["status"], "funds_received");
    // Over the US travel-rule threshold without IVMS101 data: review.
    let first = pay(&app, "5000.00", json!({})).await;
    let second = pay(&app, "5000.00", json!({})).await;
    assert_eq!(
        (first["status"].as_str(), second["status"].as_str()),
        (Some("in_review"), Some("in_review"))
    );
    let open = cases(&app, &op, "status=open").await;
    assert_eq!(open.len(), 2);
    let case_of = |intent: &Value| {
        open.iter()
            .find(|c| c["payment_intent"] == intent["id"])
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (approve_id, reject_id) = (case_of(&first), case_of(&second));
    let detail: Value = app
        .get(&format!("/v1/compliance/cases/{approve_id}"), &op)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["decision"]["findings"][0]["reason"]["kind"], "travel_rule_missing",
        "{detail}"
    );

    // Merchants cannot touch cases; notes are required.
    let by_merchant = app
        .post(
            &format!("/v1/compliance/cases/{approve_id}/approve"),
            app.sk(),
        )
        .json(&json!({"note": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(by_merchant, 403, "operator_key_required").await;
    let no_note = app
        .post(&format!("/v1/compliance/cases/{approve_id}/approve"), &op)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(no_note, 400, "parameter_missing").await;

    let approved: Value = app
        .post(&format!("/v1/compliance/cases/{approve_id}/approve"), &op)
        .json(&json!({"note": "travel-rule data received by email, verified"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            approved["status"].as_str(),
            approved["resolved_by"].as_str()
        ),
        (Some("approved"), Some("operator:alice"))
    );
    let rejected: Value = app
        .post(&format!("/v1/compliance/cases/{reject_id}/reject"), &op)
        .json(&json!({"note": "originator refused to identify"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rejected["status"], "rejected");
    let again = app
        .post(&format!("/v1/compliance/cases/{reject_id}/approve"), &op)
        .json(&json!({"note": "oops"}))
        .send()
        .await
        .unwrap();
    expect_error(again, 409, "compliance_case_not_open").await;

    let status = |id: &Value| {
        let app = &app;
        let id = id["id"].as_str().unwrap().to_owned();
        async move {
            let intent: Value = app
                .get(&format!("/v1/payment_intents/{id}"), app.sk())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            intent["status"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(status(&first).await, "funds_received");
    assert_eq!(status(&second).await, "blocked");
    let types = event_types(&app).await;
    for kind in [
        "payment_intent.funds_received",
        "payment_intent.in_review",
        "payment_intent.review_approved",
        "payment_intent.blocked",
    ] {
        assert!(
            types.iter().any(|t| t == kind),
            "no {kind} event in {types:?}"
        );
    }
    let report = verify_log(app.store.as_ref()).await.unwrap();
    // 4 screenings + approval (action + release decision) + rejection.
    assert_eq!(
        (report["ok"].as_bool(), report["records"].as_u64()),
        (Some(true), Some(7)),
        "{report}"
    );
}

#[tokio::test]
async fn review_cases_are_approved_or_rejected_by_operators_and_audited_sqlite() {
    review_cases_are_approved_or_rejected_by_operators_and_audited(Db::Sqlite).await;
}

#[tokio::test]
async fn review_cases_are_approved_or_rejected_by_operators_and_audited_postgres() {
    review_cases_are_approved_or_rejected_by_operators_and_audited(Db::Postgres).await;
}

async fn a_payer_name_match_is_reviewed_unless_the_payers_identifiers_confirm_it(db: Db) {
    let app = spawn_app(db).await;
    // SDN 2676 "AL ZAWAHIRI, Dr. Ayman": DOB 19 Jun 1951; Passport 1084010 (Egypt).
    let name = "Ayman al-Zawahiri";
    for (payer, want) in [
        (json!({ "name": name }), "in_review"),
        (
            json!({"name": name, "date_of_birth": "1990-01-01", "nationality": "US"}),
            "in_review",
        ),
        (json!({"name": name, "id_number": "1084010"}), "blocked"),
        (
            json!({"name": name, "date_of_birth": "1951-06-19"}),
            "blocked",
        ),
    ] {
        let paid = pay(&app, "25.00", json!({ "payer": payer })).await;
        assert_eq!(paid["status"], want, "{payer}");
    }
    // A malformed identifier is refused, not ignored: it decides whether a match can block.
    let intent = app
        .create_intent(json!({"amount": "25.00", "currency": "usd"}))
        .await;
    for (field, value) in [
        ("date_of_birth", "19 Jun 1951"),
        ("nationality", "Egypt"),
        ("id_number", " "),
    ] {
        let body = json!({"chain": "base", "payer_address": PAYER,
                          "payer": {"name": name, field: value}});
        let refused = fund(&app, intent["id"].as_str().unwrap(), body).await;
        let error = expect_error(refused, 400, "parameter_invalid").await;
        assert_eq!(error["param"], format!("payer.{field}"), "{error}");
    }
}

#[tokio::test]
async fn a_payer_name_match_is_reviewed_unless_the_payers_identifiers_confirm_it_sqlite() {
    a_payer_name_match_is_reviewed_unless_the_payers_identifiers_confirm_it(Db::Sqlite).await;
}

#[tokio::test]
async fn a_payer_name_match_is_reviewed_unless_the_payers_identifiers_confirm_it_postgres() {
    a_payer_name_match_is_reviewed_unless_the_payers_identifiers_confirm_it(Db::Postgres).await;
}

#[tokio::test]
async fn travel_rule_data_clears_large_payments_and_is_name_screened() {
    let app = spawn_app(Db::Sqlite).await;
    let cleared = pay(
        &app,
        "5000.00",
        json!({"travel_rule": ivms101("Smith", "Test Shop Inc")}),
    )
    .await;
    assert_eq!(cleared["status"], "funds_received", "{cleared}");
    // A listed name with nothing to confirm it is held for review, not blocked.
    let sanctioned = pay(
        &app,
        "5000.00",
        json!({"travel_rule": ivms101("Smith", "Tornado Cash")}),
    )
    .await;
    assert_eq!(sanctioned["status"], "in_review");
    // Well-formed IVMS101 that fails validation (unknown country, name type) holds for review…
    let mut invalid = ivms101("Smith", "Test Shop Inc");
    invalid["originator"]["originatorPersons"][0]["naturalPerson"]["geographicAddress"][0]
        ["country"] = "ZZ".into();
    invalid["beneficiary"]["beneficiaryPersons"][0]["legalPerson"]["name"]["nameIdentifier"][0]
        ["legalPersonNameIdentifierType"] = "NICK".into();
    assert_eq!(
        pay(&app, "5000.00", json!({"travel_rule": invalid})).await["status"],
        "in_review"
    );
    // …and a body that is not IVMS101 at all is refused, moving nothing.
    let intent = app
        .create_intent(json!({"amount": "5000.00", "currency": "usd"}))
        .await;
    let id = intent["id"].as_str().unwrap();
    let garbage = fund(
        &app,
        id,
        json!({"chain": "base", "payer_address": PAYER,
                                        "travel_rule": {"originator": {}, "beneficiary": {}}}),
    )
    .await;
    expect_error(garbage, 400, "parameter_invalid").await;
    let unknown = fund(
        &app,
        "pi_01m8r5d7jj9hezeb9afpyg0c2s",
        json!({"chain": "base", "payer_address": PAYER}),
    )
    .await;
    expect_error(unknown, 404, "resource_missing").await;
}

#[tokio::test]
async fn custom_lists_policies_and_jurisdictions_hold_or_block_payments() {
    let app = spawn_app(Db::Sqlite).await;
    let op = operator(&app).await;
    // A merchant's own block-list entry blocks that payer.
    let entry = app.post("/v1/compliance/list_entries", app.sk())
        .json(&json!({"kind": "block", "address": PAYER.to_ascii_uppercase().replace("0X", "0x"), "note": "chargeback fraud"}))
        .send().await.unwrap();
    assert_eq!(entry.status(), 200);
    let entry: Value = entry.json().await.unwrap();
    assert_eq!(entry["address"], PAYER.to_ascii_lowercase());
    let dup = app
        .post("/v1/compliance/list_entries", app.sk())
        .json(&json!({"kind": "block", "address": PAYER}))
        .send()
        .await
        .unwrap();
    expect_error(dup, 409, "list_entry_exists").await;
    let odd = app
        .post("/v1/compliance/list_entries", app.sk())
        .json(&json!({"kind": "trust", "address": PAYER}))
        .send()
        .await
        .unwrap();
    expect_error(odd, 400, "parameter_invalid").await;
    assert_eq!(pay(&app, "25.00", json!({})).await["status"], "blocked");
    let deleted = app
        .client
        .delete(format!(
            "{}/v1/compliance/list_entries/{}",
            app.base,
            entry["id"].as_str().unwrap()
        ))
        .bearer_auth(app.sk())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        pay(&app, "25.00", json!({})).await["status"],
        "funds_received"
    );

    // An operator policy: single payments over 100 USD and a third payment within the hour
    // go to review.
    let merchant = &app.merchant.id;
    let policy = app.post(&format!("/v1/compliance/policies/{merchant}"), &op)
        .json(&json!({"limits": {"usd": {"single_payment": "100.00"}}, "velocity_max_count": 3, "velocity_window_secs": 3600}))
        .send().await.unwrap();
    assert_eq!(policy.status(), 200);
    let bad = app
        .post(&format!("/v1/compliance/policies/{merchant}"), &op)
        .json(&json!({"limits": {"usd": {"single_payment": "lots"}}}))
        .send()
        .await
        .unwrap();
    expect_error(bad, 400, "parameter_invalid").await;
    assert_eq!(pay(&app, "150.00", json!({})).await["status"], "in_review");
    // Two payments from this payer are already on record in the window (the blocked one
    // counts too): the next is the fourth.
    assert_eq!(pay(&app, "10.00", json!({})).await["status"], "in_review");

    // Blocked jurisdictions.
    let other = spawn_app(Db::Sqlite).await;
    assert_eq!(
        pay(&other, "25.00", json!({"payer": {"country": "KP"}})).await["status"],
        "blocked"
    );
    let bad_country = fund(
        &other,
        other
            .create_intent(json!({"amount": "1.00", "currency": "usd"}))
            .await["id"]
            .as_str()
            .unwrap(),
        json!({"chain": "base", "payer_address": PAYER, "payer": {"country": "kp"}}),
    )
    .await;
    expect_error(bad_country, 400, "parameter_invalid").await;
}

#[tokio::test]
async fn merchants_screen_addresses_in_neutral_words_and_operators_see_the_evidence() {
    let app = spawn_app(Db::Sqlite).await;
    let op = operator(&app).await;
    let screen = |key: String, body: Value| {
        let app = &app;
        async move {
            app.post("/v1/compliance/screenings", &key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let merchant: Value = screen(
        app.sk().to_owned(),
        json!({"address": TORNADO_ROUTER, "chain": "ethereum"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(merchant["decision"], "block");
    assert!(
        merchant.get("reasons").is_none() && merchant.get("list_version").is_none(),
        "{merchant}"
    );
    let text = merchant.to_string().to_lowercase();
    assert!(
        !text.contains("ofac") && !text.contains("tornado"),
        "{text}"
    );
    let clear: Value = screen(
        app.sk().to_owned(),
        json!({"address": ADDRESS, "chain": "base"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(clear["decision"], "clear");
    let names = screen(app.sk().to_owned(), json!({"name": "Tornado Cash"})).await;
    expect_error(names, 403, "operator_key_required").await;
    let bad = screen(
        app.sk().to_owned(),
        json!({"address": "0x123", "chain": "base"}),
    )
    .await;
    expect_error(bad, 400, "invalid_address").await;

    let full: Value = screen(
        op.clone(),
        json!({"address": TORNADO_ROUTER.to_ascii_lowercase()}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        full["reasons"][0]["evidence"]["list"], "ofac-addresses",
        "{full}"
    );
    assert!(full["list_version"]
        .as_str()
        .unwrap()
        .starts_with("ofac-addr:"));
    let name: Value = screen(op.clone(), json!({"name": "NATIONAL BANK OF CUBA"}))
        .await
        .json()
        .await
        .unwrap();
    // A name alone never blocks, not even an exact listed one: an analyst reviews it.
    assert_eq!(name["decision"], "review", "{name}");
    assert!(name["list_version"]
        .as_str()
        .unwrap()
        .starts_with("ofac-sdn:"));
    let wrong_key = app
        .post("/v1/compliance/cases", &format!("op_{}", "a".repeat(32)))
        .send()
        .await
        .unwrap();
    expect_error(wrong_key, 405, "method_not_allowed").await;
    let unknown_op = app
        .get("/v1/compliance/cases", &format!("op_{}", "a".repeat(32)))
        .send()
        .await
        .unwrap();
    expect_error(unknown_op, 401, "api_key_invalid").await;
}

#[tokio::test]
async fn an_unreachable_external_screener_sends_payments_to_review_never_to_clear() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = spawn_app_with(Db::Sqlite, |c| {
        c.compliance.external.url = format!("http://127.0.0.1:{port}");
        c.compliance.external.api_key = "test-key".into();
        c.compliance.external.timeout_ms = 500;
    })
    .await;
    assert_eq!(pay(&app, "25.00", json!({})).await["status"], "in_review");
    // A listed address is blocked without asking the screener.
    assert_eq!(
        pay(&app, "25.00", json!({"payer_address": TORNADO_ROUTER})).await["status"],
        "blocked"
    );
}

#[tokio::test]
async fn reloading_the_lists_takes_effect_without_a_restart_and_is_audited() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ofac");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&src, dir.path());
    let path = dir.path().to_str().unwrap().to_owned();
    let app = spawn_app_with(Db::Sqlite, |c| {
        c.compliance.ofac_dir = path;
        c.compliance.watch_secs = 0;
    })
    .await;
    let op = operator(&app).await;
    assert_eq!(
        pay(&app, "25.00", json!({})).await["status"],
        "funds_received"
    );
    let list = dir.path().join("sanctioned_addresses_ETH.txt");
    let mut text = std::fs::read_to_string(&list).unwrap();
    text.push_str(&format!("{}\n", PAYER.to_ascii_lowercase()));
    std::fs::write(&list, text).unwrap();
    let by_merchant = app
        .post("/v1/compliance/reload", app.sk())
        .send()
        .await
        .unwrap();
    expect_error(by_merchant, 403, "operator_key_required").await;
    let reloaded: Value = app
        .post("/v1/compliance/reload", &op)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reloaded["changed"], true, "{reloaded}");
    assert_eq!(pay(&app, "25.00", json!({})).await["status"], "blocked");
    // A broken refresh keeps the previous lists in force.
    std::fs::write(dir.path().join("SOURCE"), "garbage\n").unwrap();
    let broken = app.post("/v1/compliance/reload", &op).send().await.unwrap();
    expect_error(broken, 503, "compliance_lists_unavailable").await;
    assert_eq!(pay(&app, "25.00", json!({})).await["status"], "blocked");
    let records = app.store.audit_records(0, 100).await.unwrap();
    assert!(records
        .iter()
        .any(|r| r.entry.kind == "list_reload" && r.entry.outcome == "changed"));
    let versions: Vec<String> = records
        .iter()
        .filter(|r| r.entry.kind == "screening:funds_received")
        .map(|r| {
            serde_json::from_str::<Value>(&r.entry.detail).unwrap()["list_versions"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(versions.len(), 3);
    assert_ne!(
        versions[0], versions[1],
        "the decision after the reload records the new list version"
    );
}

async fn tampering_with_any_audit_record_is_detected(db: Db) {
    let app = spawn_app(db).await;
    for _ in 0..3 {
        pay(&app, "25.00", json!({})).await;
    }
    pay(&app, "25.00", json!({"payer_address": TORNADO_ROUTER})).await;
    assert_eq!(verify_log(app.store.as_ref()).await.unwrap()["ok"], true);
    let pool = app.store.pool();
    let tamper = [
        "UPDATE compliance_audit_log SET outcome = 'clear' WHERE seq = 3",
        "UPDATE compliance_audit_log SET detail = detail || ' ' WHERE seq = 3",
        "UPDATE compliance_audit_log SET at_ms = at_ms + 1 WHERE seq = 3",
    ];
    for statement in tamper {
        let before: Vec<_> = app.store.audit_records(3, 1).await.unwrap();
        sqlx::query(statement).execute(pool).await.unwrap();
        let report = verify_log(app.store.as_ref()).await.unwrap();
        assert_eq!(report["ok"], false, "{statement}");
        assert_eq!(report["first_broken"]["seq"], 3, "{statement}: {report}");
        let r = &before[0];
        sqlx::query(
            "UPDATE compliance_audit_log SET outcome = $1, detail = $2, at_ms = $3 WHERE seq = 3",
        )
        .bind(r.entry.outcome.clone())
        .bind(r.entry.detail.clone())
        .bind(r.entry.at_ms as i64)
        .execute(pool)
        .await
        .unwrap();
        assert_eq!(
            verify_log(app.store.as_ref()).await.unwrap()["ok"],
            true,
            "restored"
        );
    }
    sqlx::query("DELETE FROM compliance_audit_log WHERE seq = 1")
        .execute(pool)
        .await
        .unwrap();
    let report = verify_log(app.store.as_ref()).await.unwrap();
    assert_eq!(report["first_broken"]["index"], 1, "{report}");
}

#[tokio::test]
async fn tampering_with_any_audit_record_is_detected_sqlite() {
    tampering_with_any_audit_record_is_detected(Db::Sqlite).await;
}

#[tokio::test]
async fn tampering_with_any_audit_record_is_detected_postgres() {
    tampering_with_any_audit_record_is_detected(Db::Postgres).await;
}
