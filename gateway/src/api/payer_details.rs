//! Payer details for compliance, collected before funds move:
//!
//! - `POST /v1/payment_intents/{id}/payer_details`: the payer (publishable key with the
//!   intent's client secret, as the hosted checkout and wallets call) or the merchant (secret
//!   key) gives the payer's name, country and identifiers and the IVMS101 travel-rule data.
//!   Validated (an IVMS101 payload breaking any rule of the standard is refused with
//!   `travel_rule_invalid`, naming each rule), stored sealed, and used by the funds screening.
//!   The answer says what was stored, never the data itself.
//! - `GET /v1/compliance/payment_intents/{id}/payer_details`: operators only, the details in
//!   full. Merchants' keys cannot read them back.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::id::PaymentIntentId;
use rialto_engine::compliance::flow::{load_payer_details, save_payer_details, PayerDetails};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, Operator};
use super::body::{parse_json, RawBody};
use super::compliance::PayerParams;
use super::extract::Path;
use super::wallet_payments::load_intent;
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
