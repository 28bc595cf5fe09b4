//! The OpenAPI document tells the truth about what the gateway answers, without Python: every
//! operation lists the statuses the shared layers answer with the error object, the constraints
//! the server enforces are stated, and no extractor answers outside the error object. The
//! schemathesis run (`tools/fuzz/schemathesis.sh`, in `tools/test.sh`) fuzzes the same promise.

mod common;

use serde_json::{json, Value};

use common::{expect_error, spawn_app, Db};

fn document() -> Value {
    serde_json::from_str(&rialto_gateway::api::openapi::document()).expect("the document is JSON")
}

/// Every (method, path, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

fn answers_error_object(op: &Value, status: &str) -> bool {
    op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/ErrorBody"
}

#[test]
fn every_operation_lists_what_its_shared_layers_answer_with_the_error_object() {
    let doc = document();
    let mut missing = Vec::new();
    for (method, path, op) in operations(&doc) {
        // Public operations (no `security`: Solana Pay transaction requests) take no key and
        // store nothing, so no key errors and no idempotency answers; still rate limited.
        let public = op.get("security").is_none();
        let mut wanted = if public {
            vec!["429"]
        } else {
            vec!["401", "403", "429"]
        };
        let has_input = op["parameters"].as_array().is_some_and(|p| !p.is_empty())
            || op.get("requestBody").is_some();
        if has_input {
            wanted.push("400");
        }
        if path.contains('{') || has_input {
            wanted.push("404");
        }
        if !public && (method == "post" || method == "delete") {
            wanted.extend(["409", "422"]);
        }
        for status in wanted {
            if !answers_error_object(&op, status) {
                missing.push(format!("{method} {path} {status}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not listed with ErrorBody: {missing:#?}"
    );
}

#[test]
fn constraints_the_server_enforces_on_parameters_are_stated() {
    let doc = document();
    let mut wrong = Vec::new();
    for (method, path, op) in operations(&doc) {
        for param in op["parameters"].as_array().into_iter().flatten() {
            let schema = &param["schema"];
            match param["name"].as_str().unwrap_or_default() {
                "limit" => {
                    let integer = schema["type"] == "integer"
                        || schema["type"]
                            .as_array()
                            .is_some_and(|t| t.contains(&json!("integer")));
                    if !integer || schema["minimum"] != 1 || !schema["maximum"].is_number() {
                        wrong.push(format!("{method} {path} limit: {schema}"));
                    }
                }
                "Idempotency-Key" if schema["pattern"] != "^[!-~]{1,255}$" => {
                    wrong.push(format!("{method} {path} Idempotency-Key: {schema}"));
                }
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "constraints not stated: {wrong:#?}");
}

#[test]
fn no_handler_uses_the_extractors_that_answer_in_plain_text() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut offenders = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/api") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().is_some_and(|n| n == "extract.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            // axum's Path and Query, imported or named; its Json as an extractor (an argument
            // `Json(x): Json<T>`), not as a response wrapper.
            for line in text.lines() {
                let words: Vec<&str> = line.split(|c: char| !c.is_alphanumeric()).collect();
                let axum_path_or_query =
                    line.contains("axum::") && ["Path", "Query"].iter().any(|w| words.contains(w));
                if axum_path_or_query || line.contains(": Json<") || line.contains("extract::Json")
                {
                    offenders.push(format!("{}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[tokio::test]
async fn a_malformed_query_on_the_authorization_request_answers_the_error_object() {
    let app = spawn_app(Db::Sqlite).await;
    let intent = app
        .create_intent(json!({"amount": "5.00", "currency": "usd"}))
        .await;
    let id = intent["id"].as_str().unwrap();
    let response = app
        .get(
            &format!("/v1/payment_intents/{id}/authorization_request?bogus=1"),
            app.sk(),
        )
        .send()
        .await
        .unwrap();
    let error = expect_error(response, 400, "parameter_unknown").await;
    assert_eq!(error["param"], "bogus");
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_answers_the_error_object() {
    let app = spawn_app(Db::Sqlite).await;
    for path in [
        "/v1/payment_intents/%FF",
        "/v1/refunds/%C3%28",
        "/v1/events/%FF/deliveries",
    ] {
        let response = app.get(path, app.sk()).send().await.unwrap();
        let error = expect_error(response, 400, "parameter_invalid").await;
        assert_eq!(error["param"], "id", "{path}");
    }
}

#[tokio::test]
async fn the_settings_answer_has_only_fields_its_schema_allows() {
    let app = spawn_app(Db::Sqlite).await;
    let doc = document();
    let schema_ref = doc["paths"]["/v1/settings"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("a schema")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let schema = &doc["components"]["schemas"][&schema_ref];
    let answer = app.get_json("/v1/settings").await;
    for field in answer.as_object().unwrap().keys() {
        assert!(
            schema["properties"].get(field).is_some(),
            "{field} is not in {schema_ref}: {schema}"
        );
    }
}

#[tokio::test]
async fn a_malformed_authorization_is_refused_before_the_chain_is_asked() {
    // The sandbox gateway of the tests watches no chain: asking one is a 503, so a 400 here
    // proves the fields were checked first.
    let app = spawn_app(Db::Sqlite).await;
    let intent = app
        .create_intent(json!({"amount": "5.00", "currency": "usd"}))
        .await;
    let id = intent["id"].as_str().unwrap();
    let response = app
        .post(
            &format!("/v1/payment_intents/{id}/authorizations"),
            app.sk(),
        )
        .json(
            &json!({"from": "not an address", "value": "5000000", "valid_after": "0",
                      "valid_before": "99999999999", "nonce": "0x00", "signature": "0x00"}),
        )
        .send()
        .await
        .unwrap();
    let error = expect_error(response, 400, "parameter_invalid").await;
    assert_eq!(error["param"], "from");
}

#[tokio::test]
async fn an_idempotency_key_with_a_space_is_refused_as_the_document_says() {
    let app = spawn_app(Db::Sqlite).await;
    let response = app
        .post("/v1/payment_intents", app.sk())
        .header("Idempotency-Key", "two words")
        .json(&json!({"amount": "5.00", "currency": "usd"}))
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "idempotency_key_invalid").await;
}
