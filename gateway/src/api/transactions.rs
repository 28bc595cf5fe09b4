//! `POST /v1/payment_intents/{id}/transactions`: the payer (or the SDK) reports the
//! transaction that paid an intent, signed by the wallet that sent it. The gateway reads it
//! from the chain itself — token, recipient, amount, success, confirmations — checks the
//! signature is a sender's, binds it to this one intent (a transaction can never pay two), and
//! hands every sender it observed to the funds screening.

use super::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::payment_intents::PaymentIntentObject;
use super::wallet_payments::load_intent;
use super::{json_response, AppState, Caller};
use crate::chain::report::{report_transaction, Reported};
use crate::error::{ApiError, ErrorBody};
use crate::store::KeyKind;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitTransactionParams {
    /// `0x` and 64 hex digits.
    #[schema(pattern = "^0x[0-9a-fA-F]{64}$")]
    pub tx_hash: String,
    /// Defaults to the intent's settlement chain, the only one accepted for now.
    pub chain: Option<String>,
    /// Required with a publishable key.
    pub client_secret: Option<String>,
    /// The payer's proof that the transfer is theirs, hex (`0x…`): the sending wallet's
    /// signature of the text `Rialto: fund <payment intent id> with <tx_hash, lower case>` —
    /// EIP-191 `personal_sign` by the account that sent the tokens, or, when that account is a
    /// contract wallet, a signature its EIP-1271 `isValidSignature` accepts over the EIP-191
    /// hash of that text. Required: without it nothing is bound (`payer_proof_required`); a
    /// signature by anyone else is `payer_proof_invalid`. Only the signer's own transfers in
    /// the transaction count toward the intent; every sender in it is screened.
    #[schema(required = true, value_type = String, pattern = "^0x([0-9a-fA-F]{2})+$")]
    pub signature: Option<String>,
}

/// Report the transaction that paid an intent (payers use the publishable key and the
/// intent's client secret), with the sending wallet's signature over the intent id and the
/// transaction hash (`signature`). The transfer and the signature are verified on chain before
/// anything changes; a transaction bound to another intent is `transaction_already_used`.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/transactions", operation_id = "submit_payment_transaction",
    tag = "payment_intents", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = SubmitTransactionParams,
    responses((status = 200, body = PaymentIntentObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: SubmitTransactionParams = parse_json(&body)?;
    let intent = load_intent(&state, &caller, &id, params.client_secret.as_deref()).await?;
    let reported = report_transaction(
        &state,
        &intent,
        &params.tx_hash,
        params.chain.as_deref(),
        params.signature.as_deref(),
    )
    .await?;
    // A payer (publishable key) sees the payer's view of the intent, as `GET` shows it: no
    // merchant metadata.
    let full_view = caller.kind == KeyKind::Secret;
    let (status, intent) = match reported {
        Reported::Pending(intent) => (StatusCode::ACCEPTED, intent),
        Reported::Screened(intent) => (StatusCode::OK, intent),
    };
    Ok(json_response(
        status,
        serde_json::to_string(&PaymentIntentObject::new(&intent, full_view))
            .map_err(|e| ApiError::internal(&e))?,
    ))
}
