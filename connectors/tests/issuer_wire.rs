//! The issuer API's wire format against its documentation (`docs/issuer-api.md`): the
//! documented bodies parse into the types, the documented signatures are what `sign` computes,
//! and the sandbox bank answers the documented fields, `"sandbox": true` included.
#![cfg(feature = "sandbox")]

mod issuer_support;

use std::collections::BTreeSet;

use issuer_support::*;
use rialto_connectors::issuer::sign;
use rialto_connectors::issuer::{
    Issuer, IssuerQuote, IssuerRequest, MintRequest, OnboardingRequest, RedemptionRequest,
    RejectionCode, RequestKind, RequestStatus, UncheckedMintGuard,
};
use serde_json::Value;

const DOC: &str = include_str!("../../docs/issuer-api.md");

/// The documented JSON examples, in order: every ```json block of the page.
fn examples() -> Vec<String> {
    DOC.split("```json\n")
        .skip(1)
        .filter_map(|block| block.split("\n```").next())
        .map(str::to_owned)
        .collect()
}

fn example_with(marker: &str) -> Value {
    let block = examples()
        .into_iter()
        .find(|e| e.contains(marker))
        .unwrap_or_else(|| panic!("no documented example with {marker}"));
    serde_json::from_str(&block).expect("documented example is JSON")
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

#[test]
fn the_documented_request_bodies_parse_into_the_issuer_types_with_exact_amounts() {
    let onboarding: OnboardingRequest =
        serde_json::from_value(example_with("\"institution\":\"Acme")).expect("onboarding");
    assert_eq!(onboarding.chain, base());
    let mint: MintRequest =
        serde_json::from_value(example_with("\"reference\":\"mint-")).expect("mint");
    assert_eq!(mint.amount, d("250.00"));
    assert_eq!(mint.amount.to_string(), "250.00", "the cents survive");
    let redemption: RedemptionRequest =
        serde_json::from_value(example_with("\"reference\":\"red-")).expect("redemption");
    assert_eq!(redemption.amount, d("100.00"));
    let request: IssuerRequest =
        serde_json::from_value(example_with("\"object\": \"issuer_request\"")).expect("request");
    assert_eq!(request.status, RequestStatus::Completed);
    assert_eq!(request.usd_amount, Some(d("250.38")));
    let quote: IssuerQuote =
        serde_json::from_value(example_with("\"object\": \"issuer_quote\"")).expect("quote");
    assert_eq!(quote.fee, d("0.38"));
}

#[test]
fn a_request_body_with_an_unknown_field_is_refused_rather_than_dropped() {
    let body = r#"{"reference":"m1","chain":"eip155:8453","wallet":"0x1111111111111111111111111111111111111111","amount":"1.00","memo":"x"}"#;
    assert!(serde_json::from_str::<MintRequest>(body).is_err());
}

#[test]
fn the_documented_signatures_are_what_the_signer_computes() {
    let body = examples()
        .into_iter()
        .find(|e| e.starts_with("{\"reference\":\"mint-"))
        .expect("the signed body");
    let secret = b"demo-secret-not-for-production";
    let ts = 1_767_225_600_000;
    let post = sign::signature(secret, ts, "POST", "/v1/mints", body.as_bytes());
    assert!(DOC.contains(&format!("signs as `{post}`")), "{post}");
    let get = sign::signature(secret, ts, "GET", "/v1/quote?kind=mint&amount=250.00", b"");
    assert!(DOC.contains(&format!("signs as\n`{get}`")), "{get}");
    assert!(sign::verify(
        secret,
        ts,
        "POST",
        "/v1/mints",
        body.as_bytes(),
        &post
    ));
    assert!(!sign::verify(
        secret,
        ts + 1,
        "POST",
        "/v1/mints",
        body.as_bytes(),
        &post
    ));
}

#[test]
fn every_rejection_code_is_its_documented_snake_case_string() {
    for code in [
        RejectionCode::WalletNotAllowListed,
        RejectionCode::InsufficientFunds,
        RejectionCode::InvalidAmount,
        RejectionCode::UnsupportedChain,
        RejectionCode::InvalidWallet,
        RejectionCode::RedemptionNotFound,
        RejectionCode::RedemptionMismatch,
        RejectionCode::RedemptionAlreadyClaimed,
        RejectionCode::ChainFailed,
    ] {
        let wire = serde_json::to_value(code).expect("code");
        assert_eq!(wire, Value::from(code.as_str()));
        assert!(
            DOC.contains(&format!("| `{}` |", code.as_str())),
            "{code:?} undocumented"
        );
    }
}

/// The bank's raw answer to a signed GET.
async fn raw_get(bank: &Bank, path: &str) -> Value {
    let ts = u64::try_from(MORNING_MS).expect("ms");
    let signature = sign::signature(SECRET.as_bytes(), ts, "GET", path, b"");
    let response = reqwest::Client::new()
        .get(format!("{}{path}", bank.bank.base_url()))
        .header(sign::KEY_HEADER, KEY)
        .header(sign::TIMESTAMP_HEADER, ts.to_string())
        .header(sign::SIGNATURE_HEADER, signature)
        .send()
        .await
        .expect("answer");
    response.json().await.expect("json")
}

#[tokio::test]
async fn the_sandbox_bank_answers_exactly_the_documented_fields_and_says_it_is_a_sandbox() {
    let bank = start().await;
    bank.client
        .onboard(&onboarding("onb-1", WALLET))
        .await
        .expect("onboard");
    bank.client
        .mint(&mint("mint-1", WALLET, "250.00"), &UncheckedMintGuard)
        .await
        .expect("mint");
    let request = raw_get(&bank, "/v1/requests/mint-1").await;
    assert_eq!(
        keys(&request),
        keys(&example_with("\"object\": \"issuer_request\""))
    );
    assert_eq!(request["sandbox"], Value::Bool(true));
    assert_eq!(request["amount"], Value::from("250.00"));
    assert_eq!(request["usd_amount"], Value::from("250.38"));
    let quote = raw_get(&bank, "/v1/quote?kind=mint&amount=250.00").await;
    assert_eq!(
        keys(&quote),
        keys(&example_with("\"object\": \"issuer_quote\""))
    );
    assert_eq!(quote["fee"], Value::from("0.38"));
    let balance = raw_get(&bank, "/v1/balance").await;
    assert_eq!(
        keys(&balance),
        keys(&example_with("\"object\":\"balance\""))
    );
    assert_eq!(balance["sandbox"], Value::Bool(true));
    let missing = raw_get(&bank, "/v1/requests/nope").await;
    assert_eq!(missing["error"]["code"], Value::from("request_not_found"));
    assert_eq!(missing["sandbox"], Value::Bool(true));
    let quoted = bank
        .client
        .quote(RequestKind::Redemption, d("100.00"))
        .await
        .expect("quote");
    assert_eq!((quoted.fee, quoted.usd_amount), (d("0.10"), d("99.90")));
}
