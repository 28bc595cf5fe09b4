//! Misdirected deposits for operators (issue 20, point 4; docs/evm.md, "Misdirected
//! deposits"): `GET /v1/operator/misdirected_deposits` lists them (filter by `status`), and
//! `POST /v1/operator/misdirected_deposits/{id}/resolve` returns (screened again, to the sender
//! or another address) or writes off one that waits for an operator. Operator keys only: a
//! merchant's key is refused with `operator_key_required`.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rialto_core::address::Address;
use rialto_engine::chain::misdirected::{resolve as resolve_row, whole, Resolution};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Operator;
use super::body::{parse_json, parse_query, RawBody};
use super::extract::Path;
use super::{json_response, parse_limit, serialize, AppState};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::misdirected::{MisdirectedDeposit, MisdirectedStatus};

/// Funds that reached a deposit address but pay nothing of its intent.
#[derive(Debug, Serialize, ToSchema)]
pub struct MisdirectedObject {
    #[schema(example = "misdirected_deposit")]
    object: &'static str,
    id: String,
    /// `other_token`, `native` or `wrong_chain`.
    kind: &'static str,
    /// `detected`, `converting` (being swept to the hot wallet to pay its intent through the
    /// router), `converted` (handed to `route_execution`), `returning`, `returned`,
    /// `needs_operator` or `written_off`.
    status: &'static str,
    /// CAIP-2 of the chain the funds arrived on.
    chain: String,
    payment_intent: String,
    merchant: String,
    livemode: bool,
    /// The deposit address.
    address: String,
    /// Token contract; null for the native coin.
    token: Option<String>,
    /// CAIP-19 of what arrived, when known.
    asset: Option<String>,
    /// What arrived, in base units (a decimal string).
    amount_units: String,
    /// What arrived, in whole units of `asset`.
    amount: Option<String>,
    sender: String,
    tx_hash: String,
    block_number: i64,
    /// Why an operator is needed, or why it was written off.
    reason: Option<String>,
    return_to: Option<String>,
    /// What the return's network cost took, base units of what arrived.
    network_cost_units: Option<String>,
    network_cost: Option<String>,
    /// What goes (or went) back to `return_to`, base units.
    returned_units: Option<String>,
    returned: Option<String>,
    resolved_by: Option<String>,
    /// The route execution (`rx_…`, `GET /v1/route_executions/{id}`) a converted deposit
    /// funds: it pays the intent, or sends what it holds back to the sender when it cannot.
    route_execution: Option<String>,
    /// Unix seconds.
    created: i64,
    updated: i64,
}

impl MisdirectedObject {
    fn new(state: &AppState, row: &MisdirectedDeposit) -> Self {
        let whole = |units: u128| whole(state, row, units).map(|v| v.to_string());
        Self {
            object: "misdirected_deposit",
            id: row.id.clone(),
            kind: row.kind.as_str(),
            status: row.status.as_str(),
            chain: row.chain_id.clone(),
            payment_intent: row.payment_intent_id.to_string(),
            merchant: row.merchant_id.clone(),
            livemode: row.livemode,
            address: row.address.clone(),
            token: row.token.clone(),
            asset: row.asset.clone(),
            amount_units: row.amount_units.to_string(),
            amount: whole(row.amount_units),
            sender: row.sender.clone(),
            tx_hash: row.tx_hash.clone(),
            block_number: row.block_number,
            reason: row.reason.clone(),
            return_to: row.return_to.clone(),
            network_cost_units: row.network_cost_units.map(|u| u.to_string()),
            network_cost: row.network_cost_units.and_then(whole),
            returned_units: row.returned_units.map(|u| u.to_string()),
            returned: row.returned_units.and_then(whole),
            resolved_by: row.resolved_by.clone(),
            route_execution: row.route_execution_id.clone(),
            created: row.created_at_ms / 1000,
            updated: row.updated_at_ms / 1000,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MisdirectedList {
    #[schema(example = "list")]
    object: &'static str,
    data: Vec<MisdirectedObject>,
    has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MisdirectedListParams {
    /// `detected`, `converting` (being swept to the hot wallet to pay its intent through the
    /// router), `converted` (handed to `route_execution`), `returning`, `returned`,
    /// `needs_operator` or `written_off`.
    #[param(
        pattern = "^(detected|converting|converted|returning|returned|needs_operator|written_off)?$"
    )]
    status: Option<String>,
    /// `true` for live mode; test mode by default.
    #[param(value_type = Option<bool>)]
    livemode: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    #[param(pattern = "^(md_[0-7][0-9a-hjkmnp-tv-z]{25})?$")]
    starting_after: Option<String>,
}

/// List misdirected deposits, newest first (operators).
#[utoipa::path(
    get, path = "/v1/operator/misdirected_deposits", operation_id = "list_misdirected_deposits",
    tag = "operator", params(MisdirectedListParams),
    responses((status = 200, body = MisdirectedList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    _operator: Operator,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params: MisdirectedListParams = parse_query(uri.query())?;
    let invalid = |param: &str| {
        ApiError::new(ErrorCode::ParameterInvalid, format!("Invalid {param}.")).param(param)
    };
    let status = params
        .status
        .map(|s| MisdirectedStatus::parse(&s).ok_or_else(|| invalid("status")))
        .transpose()?;
    let livemode = match params.livemode.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(invalid("livemode")),
    };
    if let Some(after) = params.starting_after.as_deref() {
        after
            .parse::<rialto_core::id::MisdirectedId>()
            .map_err(|_| invalid("starting_after"))?;
    }
    let limit = parse_limit(params.limit)?;
    let mut rows = state
        .store
        .list_misdirected(
            livemode,
            status,
            params.starting_after.as_deref(),
            limit + 1,
        )
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let list = MisdirectedList {
        object: "list",
        data: rows
            .iter()
            .map(|r| MisdirectedObject::new(&state, r))
            .collect(),
        has_more,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MisdirectedResolveParams {
    /// `return` (to the sender, or to `destination`; screened again) or `write_off`.
    #[schema(pattern = "^(return|write_off)$")]
    action: String,
    /// Where a return goes instead of the sender.
    destination: Option<String>,
    /// Why it is written off (required for `write_off`).
    reason: Option<String>,
}

/// Resolve a misdirected deposit that waits for an operator: return it or write it off.
#[utoipa::path(
    post, path = "/v1/operator/misdirected_deposits/{id}/resolve",
    operation_id = "resolve_misdirected_deposit", tag = "operator",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)),
    request_body = MisdirectedResolveParams,
    responses((status = 200, body = MisdirectedObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn resolve(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: MisdirectedResolveParams = parse_json(&body)?;
    let Some(row) = state.store.get_misdirected(&id).await? else {
        return Err(ApiError::missing("misdirected deposit", &id, "id"));
    };
    let resolution = match params.action.as_str() {
        "return" => Resolution::Return {
            destination: params
                .destination
                .as_deref()
                .map(|d| parse_destination(&row, d))
                .transpose()?,
        },
        "write_off" => Resolution::WriteOff {
            reason: params
                .reason
                .filter(|r| !r.trim().is_empty() && r.len() <= 500)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::ParameterMissing,
                        "A write-off needs a reason (1 to 500 characters).",
                    )
                    .param("reason")
                })?,
        },
        _ => {
            return Err(ApiError::new(
                ErrorCode::ParameterInvalid,
                "action must be `return` or `write_off`.",
            )
            .param("action"))
        }
    };
    let by = format!("operator:{}", operator.key.name);
    let row = resolve_row(&state, &id, resolution, &by, state.clock.now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        serialize(&MisdirectedObject::new(&state, &row))?,
    ))
}

fn parse_destination(row: &MisdirectedDeposit, text: &str) -> Result<Address, ApiError> {
    let namespace = row
        .chain_id
        .parse::<rialto_core::ChainId>()
        .map_or(rialto_core::ChainNamespace::Other, |c| c.namespace());
    Address::parse(text, namespace).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidAddress,
            format!("Invalid destination: {e}."),
        )
        .param("destination")
    })
}
