//! `/v1/route_executions`: follow an execution, and report the wallet transfer that funds one.

use super::extract::{Path, Query};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::intent::PaymentIntent;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::wallet_payments::load_intent;
use super::{json_response, serialize, AppState, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::store::quote::RouteExecution;

pub use rialto_engine::routing::start::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundExecutionParams {
    /// The transaction that sent the quoted amount to `pay_to.address`.
    pub tx_hash: String,
    /// `personal_sign` (EIP-191) by `payer_address` of the text
    /// `Rialto: fund <execution id> with <tx_hash, lower case>`, hex: proves the report comes
    /// from the payer (anyone can see transfers into the shared address).
    pub signature: String,
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RetrieveParams {
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

async fn load_execution(
    state: &AppState,
    caller: &Caller,
    id: &str,
    client_secret: Option<&str>,
) -> Result<(RouteExecution, PaymentIntent), ApiError> {
    let not_found = || ApiError::missing("route_execution", id, "id");
    if !id.starts_with("rx_") {
        return Err(not_found());
    }
    let exec = state.store.get_execution(id).await?.ok_or_else(not_found)?;
    let intent = load_intent(
        state,
        caller,
        &exec.payment_intent_id.to_string(),
        client_secret,
    )
    .await
    .map_err(|_| not_found())?;
    Ok((exec, intent))
}

/// Follow an execution: its status, every leg, and the reason if it failed.
#[utoipa::path(
    get, path = "/v1/route_executions/{id}", operation_id = "retrieve_route_execution",
    tag = "routing", params(("id" = String, Path), ("client_secret" = Option<String>, Query)),
    responses((status = 200, body = RouteExecutionObject), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<RetrieveParams>,
) -> Result<Response, ApiError> {
    let (exec, _) = load_execution(&state, &caller, &id, params.client_secret.as_deref()).await?;
    let object = execution_object(&state, &exec).await?;
    Ok(json_response(StatusCode::OK, serialize(&object)?))
}

/// Report the wallet transaction that funds a wallet-sourced execution. It must send at
/// least the quoted amount of the quoted token from `payer_address` to `pay_to.address`, with
/// the chain's confirmations, and be signed for by the payer; one transaction funds one
/// execution only. Too little, too late, or for an intent no longer open: it all goes back.
#[utoipa::path(
    post, path = "/v1/route_executions/{id}/fund", operation_id = "fund_route_execution",
    tag = "routing", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = FundExecutionParams,
    responses((status = 200, body = RouteExecutionObject), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn fund(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: FundExecutionParams = parse_json(&body)?;
    let (exec, intent) =
        load_execution(&state, &caller, &id, params.client_secret.as_deref()).await?;
    let exec = rialto_engine::routing::start::fund(
        &state,
        exec,
        &intent,
        &params.tx_hash,
        &params.signature,
    )
    .await?;
    let object = execution_object(&state, &exec).await?;
    Ok(json_response(StatusCode::OK, serialize(&object)?))
}
