//! Route executions that wait for an operator (issue 20, point 4; docs/router.md, "Unknown
//! legs"): `GET /v1/operator/route_executions` lists those `awaiting_reconciliation` (a leg
//! whose outcome is `unknown`) or `return_failed`, and
//! `POST /v1/operator/route_executions/{id}/legs/{leg}/resolve` says what became of an unknown
//! leg (`delivered` with what arrived, or `failed`); the plan goes on as if the venue had
//! answered. Operator keys only: a merchant's key is refused with `operator_key_required`.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rialto_engine::routing::resolve_leg::{resolve_unknown_leg, LegResolution, OPERATOR_STATUSES};
use rialto_engine::store::quote::ExecutionStatus;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Operator;
use super::body::{parse_json, parse_query, RawBody};
use super::executions::{execution_object, RouteExecutionObject};
use super::extract::Path;
use super::{json_response, parse_limit, serialize, AppState};
use crate::error::{ApiError, ErrorBody, ErrorCode};

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorRouteExecutionList {
    #[schema(example = "list")]
    object: &'static str,
    data: Vec<RouteExecutionObject>,
    has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OperatorRouteExecutionListParams {
    /// `awaiting_reconciliation` (a leg whose outcome is `unknown`) or `return_failed` (the
    /// payer's funds could not be sent back); both by default.
    #[param(pattern = "^(awaiting_reconciliation|return_failed)?$")]
    status: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    #[param(pattern = "^(rx_[0-7][0-9a-hjkmnp-tv-z]{25})?$")]
    starting_after: Option<String>,
}

/// List route executions that wait for an operator, newest first (operators).
#[utoipa::path(
    get, path = "/v1/operator/route_executions", operation_id = "list_operator_route_executions",
    tag = "operator", params(OperatorRouteExecutionListParams),
    responses((status = 200, body = OperatorRouteExecutionList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    _operator: Operator,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params: OperatorRouteExecutionListParams = parse_query(uri.query())?;
    let invalid = |param: &str| {
        ApiError::new(ErrorCode::ParameterInvalid, format!("Invalid {param}.")).param(param)
    };
    let statuses: Vec<ExecutionStatus> = match params.status.as_deref() {
        None => OPERATOR_STATUSES.to_vec(),
        Some(s) => vec![OPERATOR_STATUSES
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| invalid("status"))?],
    };
    if let Some(after) = params.starting_after.as_deref() {
        if !after.starts_with("rx_") {
            return Err(invalid("starting_after"));
        }
    }
    let limit = parse_limit(params.limit)?;
    let mut rows = state
        .store
        .executions_in(&statuses, params.starting_after.as_deref(), limit + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut data = Vec::with_capacity(rows.len());
    for exec in &rows {
        data.push(execution_object(&state, exec).await?);
    }
    let list = OperatorRouteExecutionList {
        object: "list",
        data,
        has_more,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRouteLegParams {
    /// `delivered` (it happened: give `received` and `evidence`) or `failed` (it did not: the
    /// money is still where the leg was sent from).
    #[schema(pattern = "^(delivered|failed)$")]
    outcome: String,
    /// For `delivered`: what arrived at the leg's destination, in whole units of its asset (a
    /// decimal string).
    received: Option<String>,
    /// For `delivered`: the transaction that delivered it (`0x…`, kept as the leg's `tx_hash`
    /// for reconciliation) or a text reference.
    evidence: Option<String>,
    /// Why (required for `failed`); kept on the audit chain.
    note: Option<String>,
}

fn text(value: Option<String>, param: &str, what: &str) -> Result<String, ApiError> {
    value
        .filter(|t| !t.trim().is_empty() && t.len() <= 500)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ParameterMissing,
                format!("{what} (1 to 500 characters)."),
            )
            .param(param)
        })
}

fn resolution(params: ResolveRouteLegParams) -> Result<LegResolution, ApiError> {
    match params.outcome.as_str() {
        "delivered" => {
            let received = text(params.received, "received", "`delivered` needs `received`")?;
            let received = received
                .parse::<Decimal>()
                .ok()
                .filter(|r| *r > Decimal::ZERO && r.scale() <= 18)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidAmount,
                        "received must be a positive decimal string with at most 18 decimals.",
                    )
                    .param("received")
                })?;
            let evidence = text(params.evidence, "evidence", "`delivered` needs `evidence`")?;
            let note = params.note.filter(|n| n.len() <= 500);
            Ok(LegResolution::Delivered {
                received,
                evidence,
                note,
            })
        }
        "failed" => Ok(LegResolution::Failed {
            note: text(params.note, "note", "`failed` needs a `note`")?,
        }),
        _ => Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "outcome must be `delivered` or `failed`.",
        )
        .param("outcome")),
    }
}

/// Resolve a route leg whose outcome is `unknown`: delivered (with what arrived) or failed;
/// the execution goes on from there at the next pass.
#[utoipa::path(
    post, path = "/v1/operator/route_executions/{id}/legs/{leg}/resolve",
    operation_id = "resolve_route_leg", tag = "operator",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"),
           ("id" = String, Path), ("leg" = String, Path)),
    request_body = ResolveRouteLegParams,
    responses((status = 200, body = RouteExecutionObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn resolve(
    State(state): State<AppState>,
    operator: Operator,
    Path((id, leg)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: ResolveRouteLegParams = parse_json(&body)?;
    let resolution = resolution(params)?;
    let by = format!("operator:{}", operator.key.name);
    let exec =
        resolve_unknown_leg(&state, &id, &leg, resolution, &by, state.clock.now_ms()).await?;
    let object = execution_object(&state, &exec).await?;
    Ok(json_response(StatusCode::OK, serialize(&object)?))
}
