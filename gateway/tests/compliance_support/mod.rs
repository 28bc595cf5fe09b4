//! Helpers the compliance test files share.
#![allow(dead_code)]

use crate::common::{TestApp, ADDRESS};
use rialto_core::address::Address;
use rialto_core::ChainNamespace;
use rialto_gateway::cli_ops::create_operator;
use serde_json::{json, Value};

pub const PAYER: &str = "0x8ba1f109551bD432803012645Ac136ddd64DBA72";

pub const TORNADO_ROUTER: &str = "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b";

pub async fn operator(app: &TestApp) -> String {
    let created = create_operator(app.store.as_ref(), "alice", 0)
        .await
        .unwrap();
    created["operator_key"].as_str().unwrap().to_owned()
}

pub async fn fund(app: &TestApp, intent: &str, body: Value) -> reqwest::Response {
    app.post(
        &format!("/v1/test_helpers/payment_intents/{intent}/fund"),
        app.sk(),
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

/// Creates a 25.00 USD intent and reports funds from `payer`; returns the intent as answered.
pub async fn pay(app: &TestApp, amount: &str, extra: Value) -> Value {
    let intent = app
        .create_intent(json!({"amount": amount, "currency": "usd"}))
        .await;
    let mut body = json!({"chain": "base", "payer_address": PAYER, "asset": "usdc",
                          "amount": amount, "tx_hash": format!("0x{:064x}", 7)});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let response = fund(app, intent["id"].as_str().unwrap(), body).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

pub async fn cases(app: &TestApp, op: &str, query: &str) -> Vec<Value> {
    let list: Value = app
        .get(&format!("/v1/compliance/cases?{query}"), op)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"].as_array().unwrap().clone()
}

pub async fn event_types(app: &TestApp) -> Vec<String> {
    let events: Value = app
        .get("/v1/events?limit=100", app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

pub fn evm_ofac_addresses() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ofac");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with("sanctioned_addresses_") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            out.extend(
                text.lines()
                    .filter(|l| l.starts_with("0x") && l.len() == 42)
                    .map(str::to_owned),
            );
        }
    }
    out.sort_by_key(|a| a.to_ascii_lowercase());
    out.dedup_by_key(|a| a.to_ascii_lowercase());
    out
}

pub fn spellings(address: &str) -> Vec<String> {
    let hex = &address[2..];
    let checksummed = Address::parse(
        &format!("0x{}", hex.to_ascii_lowercase()),
        ChainNamespace::Eip155,
    )
    .unwrap();
    vec![
        format!("0x{}", hex.to_ascii_lowercase()),
        format!("0x{}", hex.to_ascii_uppercase()),
        checksummed.to_string(),
    ]
}

pub fn ivms101(originator: &str, beneficiary: &str) -> Value {
    json!({
        "originator": {"originatorPersons": [{"naturalPerson": {"name": {"nameIdentifier": [
            {"primaryIdentifier": originator, "secondaryIdentifier": "Jane", "nameIdentifierType": "LEGL"}]},
            "geographicAddress": [{"addressType": "HOME", "streetName": "Main St", "buildingNumber": "1",
                                   "townName": "Springfield", "country": "US"}],
            "countryOfResidence": "US"}}],
            "accountNumber": [PAYER]},
        "beneficiary": {"beneficiaryPersons": [{"legalPerson": {"name": {"nameIdentifier": [
            {"legalPersonName": beneficiary, "legalPersonNameIdentifierType": "LEGL"}]},
            "countryOfRegistration": "US"}}],
            "accountNumber": [ADDRESS]}
    })
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A TRM-shaped screener on loopback that rates every address Medium (mixer exposure).
pub async fn medium_risk_screener() -> String {
    use axum::routing::post;
    async fn answer(axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
        let address = body[0]["address"].clone();
        axum::Json(json!([{
            "address": address, "addressSubmitted": address, "chain": body[0]["chain"],
            "addressRiskIndicators": [{"category": "Mixer", "categoryRiskScoreLevelLabel": "Medium",
                                       "riskType": "COUNTERPARTY"}],
            "entities": [], "trmAppUrl": "https://example.invalid/a"
        }]))
    }
    let app = axum::Router::new().route("/public/v2/screening/addresses", post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

pub async fn add_entry(app: &TestApp, key: &str, kind: &str, address: &str) {
    let r = app
        .post("/v1/compliance/list_entries", key)
        .json(&json!({"kind": kind, "address": address}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{kind} {address}");
}
