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

async fn requirements(app: &TestApp, key: &str, intent: &Value) -> Value {
    let path = format!(
        "/v1/payment_intents/{}/payer_details?client_secret={}",
        intent["id"].as_str().unwrap(),
        intent["client_secret"].as_str().unwrap()
    );
    let response = app.get(&path, key).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_requirements_say_what_the_merchants_rules_need_before_the_payer_pays() {
    let app = spawn_app(Db::Sqlite).await;
    let eu = eu_merchant(&app).await;
    // An EU merchant: the travel rule applies from the first cent, and nothing was given yet.
    let paid = intent(&app, &eu.secret_key).await;
    assert_eq!(
        requirements(&app, &eu.publishable_key, &paid).await,
        json!({"object": "payer_details_requirements", "payment_intent": paid["id"],
               "travel_rule_required": true, "payer_name": false, "travel_rule": false})
    );
    let given = give(
        &app,
        &eu.publishable_key,
        &paid,
        json!({"travel_rule": ivms101("Smith", "Cafe Berlin GmbH")}),
    )
    .await;
    assert_eq!(given.status(), 200);
    let after = requirements(&app, &eu.secret_key, &paid).await;
    assert_eq!(after["travel_rule"], true, "{after}");
    // A US merchant (the test app's own) under USD 3,000 needs none; at 3,000 it does.
    let small = app
        .create_intent(json!({"amount": "2999.99", "currency": "usd"}))
        .await;
    let key = &app.merchant.publishable_key;
    assert_eq!(
        requirements(&app, key, &small).await["travel_rule_required"],
        false
    );
    let large = app
        .create_intent(json!({"amount": "3000.00", "currency": "usd"}))
        .await;
    assert_eq!(
        requirements(&app, key, &large).await["travel_rule_required"],
        true
    );
    // Without the client secret a publishable key learns nothing.
    let path = format!(
        "/v1/payment_intents/{}/payer_details",
        paid["id"].as_str().unwrap()
    );
    let refused = app.get(&path, &eu.publishable_key).send().await.unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
}

/// An EU merchant's hosted checkout session and its page path.
async fn eu_checkout(app: &TestApp, eu: &CreatedMerchant) -> String {
    let response = app
        .post("/v1/checkout_sessions", &eu.secret_key)
        .json(&json!({
            "amount": "1.00", "currency": "eur",
            "success_url": "https://shop.example/thanks", "cancel_url": "https://shop.example/cart",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    let url = session["url"].as_str().unwrap();
    url[url.find("/checkout/").unwrap()..].to_owned()
}

async fn page_post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(format!("{}{path}/payer_details", app.base))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_payer_who_fills_the_checkout_form_clears_an_eu_payment_without_review() {
    let app = spawn_app(Db::Sqlite).await;
    let eu = eu_merchant(&app).await;
    let path = eu_checkout(&app, &eu).await;
    let session_path = format!("{}{path}/session", app.base);
    let view: Value = app
        .client
        .get(&session_path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        view["payer_details"]["travel_rule_required"], true,
        "{view}"
    );
    assert_eq!(view["payer_details"]["travel_rule"], false);
    // A blank family name is named; nothing is stored.
    let person = json!({"kind": "person", "given_name": "Jane", "family_name": " ",
        "date_of_birth": "1980-04-01", "place_of_birth": "Lyon", "country": "fr"});
    let blank = page_post(&app, &path, person.clone()).await;
    let body = expect_error(blank, 400, "parameter_missing").await;
    assert_eq!(body["param"], "family_name");
    // A company whose LEI has wrong check digits: refused naming IVMS101's C11.
    let company = json!({"kind": "company", "legal_name": "Acme Trading SAS",
        "lei": "5493001KJTIIGC8Y1R13", "country": "FR"});
    let bad_lei = page_post(&app, &path, company).await;
    let body = expect_error(bad_lei, 400, "travel_rule_invalid").await;
    assert!(body["message"].as_str().unwrap().contains("C11"), "{body}");
    let mut valid = person;
    valid["family_name"] = json!("Smith");
    let stored = page_post(&app, &path, valid).await;
    assert_eq!(stored.status(), 200);
    let answer: Value = stored.json().await.unwrap();
    assert_eq!(answer["travel_rule"], true, "{answer}");
    assert_eq!(answer["payer_name"], true);
    // Funds arrive: the payment clears with no review, the wallet addresses filled in from
    // the funds and the intent at screening.
    let intent_id = answer["payment_intent"].as_str().unwrap();
    let intent = app
        .get(&format!("/v1/payment_intents/{intent_id}"), &eu.secret_key)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let cleared = funded(&app, &eu.secret_key, &intent).await;
    assert_eq!(cleared["status"], "funds_received", "{cleared}");
    // The operator sees the IVMS101 payload the form built: the payer as originator, the
    // merchant as beneficiary.
    let op = operator(&app).await;
    let shown: Value = app
        .get(
            &format!("/v1/compliance/payment_intents/{intent_id}/payer_details"),
            &op,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let originator = &shown["travel_rule"]["originator"]["persons"][0]["naturalPerson"];
    assert_eq!(
        originator["name"]["nameIdentifier"][0]["primaryIdentifier"],
        "Smith"
    );
    assert_eq!(originator["countryOfResidence"], "FR");
    let beneficiary = &shown["travel_rule"]["beneficiary"]["persons"][0]["legalPerson"];
    assert_eq!(
        beneficiary["name"]["nameIdentifier"][0]["legalPersonName"],
        "Café Berlin"
    );
    assert_eq!(beneficiary["countryOfRegistration"], "DE");
}
