//! `GET /v1/reports/{payments,fees,settlements,refunds,exceptions}` (secret key, the caller's
//! merchant and mode) and the reconciliation runs behind the exceptions report:
//! `POST /v1/reconciliation_runs` (operator key: a run reads every merchant's records and the
//! gateway's own wallets) and `GET /v1/reconciliation_runs/{id}` (operator: everything; a
//! merchant's secret key: the run and the merchant's own exceptions). Column names are a
//! stable contract (docs/reports.md).

use super::extract::Path;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use super::auth::{Operator, Principal};
use super::body::{parse_json, parse_query, RawBody};
use super::{json_response, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::reconcile::collect::{run_and_store, ReconcileError, RunRequest};
use crate::reconcile::reports::{build, to_list, ReportKind};
use crate::reconcile::time::{format_utc, parse_bound};
use crate::store::reconcile::{ExceptionRecord, ReconciliationRun, ReportScope};

const DEFAULT_ROWS: u32 = 1000;
const MAX_ROWS: u32 = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Period start, inclusive: Unix seconds, `YYYY-MM-DD` or RFC 3339 (UTC if no offset).
    #[serde(rename = "created[gte]")]
    #[param(rename = "created[gte]", schema_with = period_bound)]
    created_gte: Option<String>,
    /// Period end, inclusive; a bare date means the whole day.
    #[serde(rename = "created[lte]")]
    #[param(rename = "created[lte]", schema_with = period_bound)]
    created_lte: Option<String>,
    /// Same as `created[gte]`.
    #[param(schema_with = period_bound)]
    from: Option<String>,
    /// Same as `created[lte]`.
    #[param(schema_with = period_bound)]
    to: Option<String>,
    /// Rows per answer, 1 to 10000 (default 1000); `has_more` says to narrow the period.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    limit: Option<String>,
}

/// What `parse_bound` reads: Unix seconds, a date or an RFC 3339 time.
fn period_bound() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(9_223_372_036_854_775_i64)),
        )
        .item(string(KnownFormat::Date))
        .item(string(KnownFormat::DateTime))
        // Given empty, as HTML forms send it: not given (`body::parse_query`).
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(0)),
        )
        .build()
        .into()
}

fn bound(value: Option<String>, param: &str, end: bool) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            parse_bound(&v, end).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ParameterInvalid,
                    format!("{param} must be Unix seconds, YYYY-MM-DD or an RFC 3339 time."),
                )
                .param(param)
            })
        })
        .transpose()
}

fn one_of(
    a: Option<String>,
    b: Option<String>,
    names: (&str, &str),
) -> Result<Option<String>, ApiError> {
    match (a, b) {
        (Some(_), Some(_)) => Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            format!("Give {} or {}, not both.", names.0, names.1),
        )
        .param(names.1.to_owned())),
        (a, b) => Ok(a.or(b)),
    }
}

fn scope_of(caller: &Caller, params: ReportParams) -> Result<ReportScope, ApiError> {
    let gte = one_of(params.created_gte, params.from, ("created[gte]", "from"))?;
    let lte = one_of(params.created_lte, params.to, ("created[lte]", "to"))?;
    let limit = match params.limit {
        None => DEFAULT_ROWS,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_ROWS).contains(l))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ParameterInvalid,
                    format!("limit must be an integer from 1 to {MAX_ROWS}."),
                )
                .param("limit")
            })?,
    };
    Ok(ReportScope {
        merchant: Some((caller.merchant_id, caller.livemode)),
        from_ms: bound(gte, "created[gte]", false)?,
        to_ms: bound(lte, "created[lte]", true)?,
        limit,
    })
}

async fn report(
    state: AppState,
    caller: Caller,
    uri: Uri,
    kind: ReportKind,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let params: ReportParams = parse_query(uri.query())?;
    let scope = scope_of(&caller, params)?;
    let report = build(state.store.as_ref(), kind, &scope).await?;
    let url = format!("/v1/reports/{}", kind.as_str());
    Ok(json_response(
        StatusCode::OK,
        to_list(&report, &url).to_string(),
    ))
}

/// Incoming payments, one row per on-chain transaction bound to an intent.
#[utoipa::path(
    get, path = "/v1/reports/payments", operation_id = "report_payments", tag = "reports",
    params(ReportParams),
    responses((status = 200, description = "`{object: list, data: [payment_report_row], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn payments(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    report(state, caller, uri, ReportKind::Payments).await
}

/// Ledger transactions of kinds `fee`, `network_fee` and `write_off`.
#[utoipa::path(
    get, path = "/v1/reports/fees", operation_id = "report_fees", tag = "reports",
    params(ReportParams),
    responses((status = 200, description = "`{object: list, data: [fee_report_row], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn fees(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    report(state, caller, uri, ReportKind::Fees).await
}

/// Ledger transactions of kinds `settlement` and `payout`, with the transfer that moved them.
#[utoipa::path(
    get, path = "/v1/reports/settlements", operation_id = "report_settlements", tag = "reports",
    params(ReportParams),
    responses((status = 200, description = "`{object: list, data: [settlement_report_row], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn settlements(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    report(state, caller, uri, ReportKind::Settlements).await
}

/// Ledger transactions of kind `refund`, with the transfer that moved them.
#[utoipa::path(
    get, path = "/v1/reports/refunds", operation_id = "report_refunds", tag = "reports",
    params(ReportParams),
    responses((status = 200, description = "`{object: list, data: [refund_report_row], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn refunds(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    report(state, caller, uri, ReportKind::Refunds).await
}

/// The merchant's reconciliation exceptions, from every run in the period.
#[utoipa::path(
    get, path = "/v1/reports/exceptions", operation_id = "report_exceptions", tag = "reports",
    params(ReportParams),
    responses((status = 200, description = "`{object: list, data: [reconciliation_exception], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn exceptions(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    report(state, caller, uri, ReportKind::Exceptions).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunParams {
    /// CAIP-2 ids or aliases; all configured chains when absent.
    chains: Option<Vec<String>>,
    livemode: Option<bool>,
    from_block: Option<u64>,
    to_block: Option<u64>,
    #[serde(rename = "created[gte]")]
    created_gte: Option<String>,
    #[serde(rename = "created[lte]")]
    created_lte: Option<String>,
}

fn exception_json(x: &ExceptionRecord) -> Value {
    json!({
        "object": "reconciliation_exception",
        "run_id": x.run_id, "seq": x.seq, "kind": x.kind,
        "merchant_id": x.merchant_id, "livemode": x.livemode,
        "chain": x.chain_id, "tx_hash": x.tx_hash, "log_index": x.log_index,
        "block_number": x.block_number,
        "expected_amount": x.expected_amount, "observed_amount": x.observed_amount,
        "asset": x.asset, "purpose": x.purpose, "reference": x.reference, "detail": x.detail,
        "created": x.created_at_ms.div_euclid(1000), "created_utc": format_utc(x.created_at_ms),
    })
}

fn run_json(run: &ReconciliationRun, exceptions: &[ExceptionRecord], operator: bool) -> Value {
    let ranges: Value = serde_json::from_str(&run.block_ranges).unwrap_or(Value::Null);
    let mut body = json!({
        "object": "reconciliation_run",
        "id": run.id,
        "status": run.status,
        "failure": run.failure,
        "period_start": run.period_start_ms.map(|m| m.div_euclid(1000)),
        "period_end": run.period_end_ms.map(|m| m.div_euclid(1000)),
        "block_ranges": ranges,
        "created": run.created_at_ms.div_euclid(1000),
        "exception_count": exceptions.len(),
        "exceptions": exceptions.iter().map(exception_json).collect::<Vec<_>>(),
    });
    if operator {
        body["counts"] = json!({
            "expected": run.expected_count, "observed": run.observed_count,
            "matched": run.matched_count, "ledger_transactions": run.ledger_count,
            "exceptions": run.exception_count,
        });
        body["created_by"] = json!(run.created_by);
    }
    body
}

/// Reconcile the configured chains' Transfer logs over a block range (default: genesis to
/// head) against the gateway's legs, payments and ledger; stores and answers the run.
#[utoipa::path(
    post, path = "/v1/reconciliation_runs", operation_id = "create_reconciliation_run",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    tag = "reports",
    responses((status = 200, description = "The `reconciliation_run` with its exceptions"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create_run(
    State(state): State<AppState>,
    operator: Operator,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: RunParams = parse_json(&body)?;
    if let (Some(from), Some(to)) = (params.from_block, params.to_block) {
        if from > to {
            return Err(ApiError::new(
                ErrorCode::ParameterInvalid,
                "from_block must not be after to_block.",
            )
            .param("from_block"));
        }
    }
    let request = RunRequest {
        livemode: params.livemode,
        chains: params.chains.unwrap_or_default(),
        from_block: params.from_block,
        to_block: params.to_block,
        period_start_ms: bound(params.created_gte, "created[gte]", false)?,
        period_end_ms: bound(params.created_lte, "created[lte]", true)?,
        created_by: format!("operator:{}", operator.key.name),
    };
    let now = state.clock.now_ms();
    let (run, exceptions) = run_and_store(
        state.store.as_ref(),
        &state.chains,
        &state.registry,
        &request,
        now,
    )
    .await
    .map_err(|e| match e {
        ReconcileError::Store(e) => ApiError::from(e),
        ReconcileError::Chain { chain, message } => {
            tracing::warn!(%chain, error = %message, "reconciliation could not read a chain");
            ApiError::new(
                ErrorCode::ChainUnavailable,
                format!("Chain {chain} could not be read; the run is stored as failed."),
            )
        }
    })?;
    Ok(json_response(
        StatusCode::OK,
        run_json(&run, &exceptions, true).to_string(),
    ))
}

/// A run: operators see all of it; a merchant's secret key sees its own exceptions only.
#[utoipa::path(
    get, path = "/v1/reconciliation_runs/{id}", operation_id = "retrieve_reconciliation_run",
    tag = "reports",
    params(("id" = String, Path, description = "rec_…")),
    responses((status = 200, description = "The `reconciliation_run`"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve_run(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let run = state
        .store
        .get_reconciliation_run(&id)
        .await?
        .ok_or_else(|| ApiError::missing("reconciliation_run", &id, "id"))?;
    let (merchant, operator) = match &principal {
        Principal::Operator(_) => (None, true),
        Principal::Merchant(c) => (Some((c.merchant_id, c.livemode)), false),
    };
    let exceptions = state.store.run_exceptions(&run.id, merchant).await?;
    Ok(json_response(
        StatusCode::OK,
        run_json(&run, &exceptions, operator).to_string(),
    ))
}
