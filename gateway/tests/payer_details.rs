//! Payer details for compliance (`POST /v1/payment_intents/{id}/payer_details`): an EU
//! merchant's payment, which needs travel-rule data whatever its amount, clears without review
//! when the payer gave valid IVMS101 data before paying; an invalid payload is refused naming
//! the IVMS101 rule it breaks; the data is stored sealed and only operators read it back.

mod common;
mod compliance_support;

use common::{expect_error, spawn_app, Db, TestApp, ADDRESS};
use compliance_support::*;
use rialto_core::id::PaymentIntentId;
use rialto_gateway::merchants::{create_merchant, CreatedMerchant, NewMerchant};
use rialto_gateway::store::payer::PayerDetailsStore;
use serde_json::{json, Value};

async fn eu_merchant(app: &TestApp) -> CreatedMerchant {
    create_merchant(
        app.store.as_ref(),
        &common::registry(),
        &NewMerchant {
            name: "Café Berlin".into(),
            settlement: Some(("usdc".into(), "base".into(), ADDRESS.into())),
            live_keys: false,
            country: Some("DE".into()),
        },
        0,
    )
    .await
    .unwrap()
}

async fn intent(app: &TestApp, sk: &str) -> Value {
    let response = app
        .post("/v1/payment_intents", sk)
        .json(&json!({"amount": "1.00", "currency": "eur"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn give(app: &TestApp, key: &str, intent: &Value, body: Value) -> reqwest::Response {
    let mut body = body;
    body["client_secret"] = intent["client_secret"].clone();
    app.post(
        &format!(
            "/v1/payment_intents/{}/payer_details",
            intent["id"].as_str().unwrap()
        ),
        key,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn funded(app: &TestApp, sk: &str, intent: &Value) -> Value {
    let path = format!(
        "/v1/test_helpers/payment_intents/{}/fund",
        intent["id"].as_str().unwrap()
    );
    let body = json!({"chain": "base", "payer_address": PAYER});
    let response = app.post(&path, sk).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_eu_payment_clears_without_review_when_the_payer_gave_travel_rule_data_first() {
    let app = spawn_app(Db::Sqlite).await;
    let eu = eu_merchant(&app).await;
    // Without payer data, every EU payment is held for review (the Transfer of Funds Regulation
    // has no minimum amount).
    let bare = intent(&app, &eu.secret_key).await;
    assert_eq!(
        funded(&app, &eu.secret_key, &bare).await["status"],
        "in_review"
    );
    // The payer, through the checkout's publishable key and the intent's client secret, gives
    // their data before paying; the answer says what was stored, not the data.
    let paid = intent(&app, &eu.secret_key).await;
    let body = json!({
        "payer": {"name": "Jane Smith", "country": "US"},
        "travel_rule": ivms101("Smith", "Cafe Berlin GmbH"),
    });
    let response = give(&app, &eu.publishable_key, &paid, body).await;
    assert_eq!(response.status(), 200);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(
        receipt,
        json!({"object": "payer_details", "payment_intent": paid["id"],
               "payer_name": true, "travel_rule": true})
    );
    let cleared = funded(&app, &eu.secret_key, &paid).await;
    assert_eq!(cleared["status"], "funds_received", "{cleared}");
    // Stored sealed: the row holds no name in clear.
    let id: PaymentIntentId = paid["id"].as_str().unwrap().parse().unwrap();
    let row = app.store.get_payer_details(&id).await.unwrap().unwrap();
    assert!(
        !row.sealed.contains("Smith") && row.sealed.starts_with("v2:"),
        "{}",
        row.sealed
    );
    // Operators read it back in full; the merchant's own key cannot.
    let op = operator(&app).await;
    let path = format!(
        "/v1/compliance/payment_intents/{}/payer_details",
        paid["id"].as_str().unwrap()
    );
    let shown: Value = app
        .get(&path, &op)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["payer"]["name"], "Jane Smith", "{shown}");
    assert_eq!(
        shown["travel_rule"]["originator"]["persons"][0]["naturalPerson"]["name"]["nameIdentifier"]
            [0]["primaryIdentifier"],
        "Smith"
    );
    let merchant = app.get(&path, &eu.secret_key).send().await.unwrap();
    expect_error(merchant, 403, "operator_key_required").await;
    // Once funds arrived, what was screened stays what was screened.
    let late = give(
        &app,
        &eu.secret_key,
        &paid,
        json!({"payer": {"name": "Someone Else"}}),
    )
    .await;
    expect_error(late, 400, "payment_intent_unexpected_state").await;
}

#[tokio::test]
async fn an_invalid_ivms101_payload_is_refused_naming_the_rule_and_nothing_is_stored() {
    let app = spawn_app(Db::Sqlite).await;
    let eu = eu_merchant(&app).await;
    let paid = intent(&app, &eu.secret_key).await;
    let mut data = ivms101("Smith", "Cafe Berlin GmbH");
    let address =
        &mut data["originator"]["originatorPersons"][0]["naturalPerson"]["geographicAddress"][0];
    address.as_object_mut().unwrap().remove("buildingNumber");
    let refused = give(
        &app,
        &eu.publishable_key,
        &paid,
        json!({"travel_rule": data}),
    )
    .await;
    let body = expect_error(refused, 400, "travel_rule_invalid").await;
    assert_eq!(body["param"], "travel_rule", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("C8 ValidAddress") && message.contains("geographicAddress[0]"),
        "{message}"
    );
    // Not IVMS101-shaped at all (a misspelt field) is refused too, with the same code.
    let misspelt = give(
        &app,
        &eu.publishable_key,
        &paid,
        json!({"travel_rule": {"originator": {"originatorPersons": [], "acountNumber": []},
                               "beneficiary": {"beneficiaryPersons": []}}}),
    )
    .await;
    expect_error(misspelt, 400, "travel_rule_invalid").await;
    let id: PaymentIntentId = paid["id"].as_str().unwrap().parse().unwrap();
    assert!(app.store.get_payer_details(&id).await.unwrap().is_none());
    // And the payment, with nothing valid given, still goes to review.
    assert_eq!(
        funded(&app, &eu.secret_key, &paid).await["status"],
        "in_review"
    );
}

#[tokio::test]
async fn a_publishable_key_without_the_client_secret_cannot_give_details() {
    let app = spawn_app(Db::Sqlite).await;
    let eu = eu_merchant(&app).await;
    let paid = intent(&app, &eu.secret_key).await;
    let response = app
        .post(
            &format!(
                "/v1/payment_intents/{}/payer_details",
                paid["id"].as_str().unwrap()
            ),
            &eu.publishable_key,
        )
        .json(&json!({"payer": {"name": "Mallory"}}))
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "resource_missing").await;
    // Another merchant's secret key does not see the intent either.
    let other = app.another_merchant().await;
    let response = give(
        &app,
        &other.secret_key,
        &paid,
        json!({"payer": {"name": "Mallory"}}),
    )
    .await;
    expect_error(response, 404, "resource_missing").await;
}
