//! The payer's commitment to pay a conversion intent (priced in EUR, settling in USDC): the
//! one place the gateway asks the engine to lock the rate (`rialto_engine::routing::fx::commit`),
//! called by every payer-side step that fixes what the payer sends (a deposit address, an
//! EIP-3009 authorization request and its submission, a routed quote) and by
//! `POST /v1/payment_intents/{id}/fx_lock` for a payer who sends a transfer themselves and
//! reports it. A one-for-one intent (USD in USDC) passes through unchanged.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::intent::{PaymentIntent, PaymentStatus};

use super::body::{parse_json, RawBody};
use super::extract::Path;
use super::wallet_payments::{awaiting, load_intent, ClientSecretParams};
use super::{json_response, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::routing::fx::{FxLockObject, PayMethod};

/// `intent` as it stands once the payer commits to pay it by `method`: its rate locked (or
/// re-locked when expired with nothing paid yet) when it is a conversion intent. Refuses an
/// intent that no longer awaits funds, and one whose rate cannot be checked now
/// (`oracle_unavailable`, nothing locked).
pub(crate) async fn committed(
    state: &AppState,
    intent: &PaymentIntent,
    method: PayMethod,
) -> Result<PaymentIntent, ApiError> {
    if intent.status != PaymentStatus::AwaitingFunds {
        // The same refusal as every payment step, before any feed is read.
        awaiting(intent)?;
    }
    let now_ms = state.clock.now_ms();
    let intent = crate::routing::fx::commit(&state.engine, intent, method, now_ms).await?;
    awaiting(&intent)?;
    Ok(intent)
}

/// Lock (or read the live lock of) a conversion intent's rate, to pay it by a direct transfer
/// reported afterwards: the answer's `payer_amount` is what to send, before `expires_at`.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/fx_lock", operation_id = "create_fx_lock",
    tag = "payment_intents", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = ClientSecretParams,
    responses((status = 200, body = FxLockObject), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 503, body = ErrorBody, description = "`oracle_unavailable`: a feed failed its checks (stale, sequencer down, sources disagree); nothing was locked")),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: ClientSecretParams = if body.is_empty() {
        ClientSecretParams::default()
    } else {
        parse_json(&body)?
    };
    let intent = load_intent(&state, &caller, &id, params.client_secret.as_deref()).await?;
    let intent = committed(&state, &intent, PayMethod::Direct).await?;
    let Some(lock) = &intent.fx else {
        return Err(ApiError::new(
            ErrorCode::PaymentMethodUnavailable,
            format!(
                "This intent settles {} in {} one for one: it has no rate to lock.",
                intent.amount.currency().code(),
                intent.settlement.asset.code
            ),
        ));
    };
    let body =
        serde_json::to_string(&FxLockObject::new(lock)).map_err(|e| ApiError::internal(&e))?;
    Ok(json_response(StatusCode::OK, body))
}
