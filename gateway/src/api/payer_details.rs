//! Payer details for compliance, collected before funds move:
//!
//! - `POST /v1/payment_intents/{id}/payer_details`: the payer (publishable key with the
//!   intent's client secret, as the hosted checkout and wallets call) or the merchant (secret
//!   key) gives the payer's name, country and identifiers and the IVMS101 travel-rule data.
//!   Validated (an IVMS101 payload breaking any rule of the standard is refused with
//!   `travel_rule_invalid`, naming each rule), stored sealed, and used by the funds screening.
//!   The answer says what was stored, never the data itself.
//! - `GET /v1/payment_intents/{id}/payer_details`: the payer or the merchant asks what the
//!   merchant's rules need (IVMS101 travel-rule data or not) and what was given, never the data.
//! - `GET /v1/compliance/payment_intents/{id}/payer_details`: operators only, the details in
//!   full. Merchants' keys cannot read them back.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::id::PaymentIntentId;
use rialto_engine::compliance::flow::{
    checkout_payer_details, load_payer_details, payer_details_status, save_payer_details,
    CheckoutPayer, PayerDetails,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, Operator};
use super::body::{parse_json, RawBody};
use super::checkout_page::{with_headers, Shopper};
use super::compliance::PayerParams;
use super::extract::{Path, Query};
use super::wallet_payments::{load_intent, ClientSecretParams};
use super::{json_response, parse_id, serialize, AppState};
use crate::error::{ApiError, ErrorBody, ErrorCode};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayerDetailsParams {
    /// Required with a publishable key: the intent's client secret.
    pub client_secret: Option<String>,
    /// Who is paying: name, country of residence, date of birth, nationality, ID number.
    pub payer: Option<PayerParams>,
    /// IVMS101 (2020) originator and beneficiary, as the travel rule needs them
    /// (`{"originator": …, "beneficiary": …}`); validated against every rule of the standard.
    #[schema(value_type = Option<TravelRulePayload>)]
    pub travel_rule: Option<serde_json::Value>,
}

/// The IVMS101 payload as the document states it: the two parties are required (other
/// IVMS101 members such as `originatingVASP` or `transferPath` may be given); the standard's
/// own rules are checked by the server, which names the one broken (`travel_rule_invalid`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TravelRulePayload {
    /// `{"originatorPersons": [...], "accountNumber": [...]}`.
    #[schema(value_type = Object)]
    originator: serde_json::Value,
    /// `{"beneficiaryPersons": [...], "accountNumber": [...]}`.
    #[schema(value_type = Object)]
    beneficiary: serde_json::Value,
}

/// What was stored for the intent, without the data itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayerDetailsReceipt {
    /// Always `payer_details`.
    pub object: &'static str,
    pub payment_intent: String,
    pub payer_name: bool,
    pub travel_rule: bool,
}

/// Give the payer's details for screening: name, country, identifiers and IVMS101 travel-rule
/// data. Only while the intent awaits funds; a second call replaces the first.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/payer_details", operation_id = "submit_payer_details",
    tag = "payment_intents", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = PayerDetailsParams,
    responses((status = 200, body = PayerDetailsReceipt), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: PayerDetailsParams = parse_json(&body)?;
    let intent = load_intent(&state, &caller, &id, params.client_secret.as_deref()).await?;
    let travel_rule = params
        .travel_rule
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| {
            ApiError::new(
                ErrorCode::TravelRuleInvalid,
                format!("travel_rule is not IVMS101: {e}."),
            )
            .param("travel_rule")
        })?;
    let details = PayerDetails {
        name: params.payer.as_ref().and_then(|p| p.name.clone()),
        country: params.payer.as_ref().and_then(|p| p.country.clone()),
        identifiers: match &params.payer {
            Some(payer) => payer.identifiers()?,
            None => Default::default(),
        },
        travel_rule,
    };
    save_payer_details(&state, &intent, &details).await?;
    let receipt = PayerDetailsReceipt {
        object: "payer_details",
        payment_intent: intent.id.to_string(),
        payer_name: details.name.is_some(),
        travel_rule: details.travel_rule.is_some(),
    };
    Ok(json_response(StatusCode::OK, serialize(&receipt)?))
}

/// What the merchant's rules need from the payer before funds move, and what was given.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayerDetailsRequirements {
    /// Always `payer_details_requirements`.
    pub object: &'static str,
    pub payment_intent: String,
    /// IVMS101 originator data is needed for the payment to clear without review: every
    /// payment to an EU/EEA merchant (Transfer of Funds Regulation), elsewhere from the
    /// jurisdiction's threshold (USD 3,000 by default).
    pub travel_rule_required: bool,
    /// Whether a payer name was given.
    pub payer_name: bool,
    /// Whether travel-rule data was given.
    pub travel_rule: bool,
}

/// What the merchant's rules need from the payer of this intent (travel-rule data or not) and
/// what was given so far; never the data itself.
#[utoipa::path(
    get, path = "/v1/payment_intents/{id}/payer_details", operation_id = "get_payer_details_requirements",
    tag = "payment_intents", params(("id" = String, Path), ("client_secret" = Option<String>, Query)),
    responses((status = 200, body = PayerDetailsRequirements), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn requirements(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ClientSecretParams>,
) -> Result<Response, ApiError> {
    let intent = load_intent(&state, &caller, &id, query.client_secret.as_deref()).await?;
    let answer = requirements_of(&state, &intent).await?;
    Ok(json_response(StatusCode::OK, serialize(&answer)?))
}

pub(super) async fn requirements_of(
    state: &AppState,
    intent: &rialto_core::intent::PaymentIntent,
) -> Result<PayerDetailsRequirements, ApiError> {
    let status = payer_details_status(state, intent).await?;
    Ok(PayerDetailsRequirements {
        object: "payer_details_requirements",
        payment_intent: intent.id.to_string(),
        travel_rule_required: status.travel_rule_required,
        payer_name: status.payer_name_given,
        travel_rule: status.travel_rule_given,
    })
}

/// `POST /checkout/{token}/payer_details`: the hosted checkout's form (a person or a company,
/// [`CheckoutPayer`]) becomes the IVMS101 originator, with the merchant as beneficiary; stored
/// like the API's, and answered with the requirements again.
pub async fn checkout_submit(
    State(state): State<AppState>,
    shopper: Shopper,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let form: CheckoutPayer = parse_json(&body)?;
    let details = checkout_payer_details(&state, &shopper.intent, &form).await?;
    save_payer_details(&state, &shopper.intent, &details).await?;
    let answer = requirements_of(&state, &shopper.intent).await?;
    let response = json_response(StatusCode::OK, serialize(&answer)?);
    Ok(with_headers(response, "application/json", "no-store"))
}

/// The payer details given for an intent, in full (operators).
#[utoipa::path(
    get, path = "/v1/compliance/payment_intents/{id}/payer_details",
    operation_id = "retrieve_payer_details", tag = "compliance", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let intent: PaymentIntentId = parse_id(&id, "payment_intent")?;
    let details = load_payer_details(&state, &intent)
        .await?
        .ok_or_else(|| ApiError::missing("payer details for payment_intent", &id, "id"))?;
    let body = serde_json::json!({
        "object": "payer_details",
        "payment_intent": id,
        "payer": {
            "name": details.name,
            "country": details.country,
            "identifiers": details.identifiers,
        },
        "travel_rule": details.travel_rule,
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}
