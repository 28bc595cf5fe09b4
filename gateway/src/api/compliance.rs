//! `/v1/compliance/...`: ad-hoc screenings (operators and merchants), list reloads, review
//! cases, custom block/allow lists and merchant policies; and the sandbox test helper that
//! reports funds for an intent, which runs the real funds screening.
//!
//! Merchants only ever see neutral outcomes (`clear`/`block` and a fixed message); operators
//! see every finding with its evidence.

use super::extract::Path;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rialto_compliance::{
    AddressRole, AuditEntry, ComplianceCaseId, Decision, PartyRole, ScreenedAddress,
};
use rialto_core::id::{MerchantId, PaymentIntentId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Operator, Principal};
use super::body::{parse_json, parse_query, RawBody};
use super::{json_response, parse_id, parse_limit, serialize, AppState, Caller};
use crate::compliance::flow::{
    approve_case, custom_lists, merchant_owner, reject_case, screen_addresses_now,
    screen_received_funds, FundsSubject,
};
use crate::compliance::service::{validate_limits, MerchantPolicy};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::{CaseFilter, CaseRecord, CaseStatus, ListEntry};

mod lists;
pub use lists::*;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningParams {
    /// An address to screen (EVM in any letter case, base58, bech32, …).
    pub address: Option<String>,
    /// Chain alias or CAIP-2 id; when given, the address is validated for that chain.
    pub chain: Option<String>,
    /// A person's or entity's name (operators only).
    pub name: Option<String>,
}

pub use rialto_engine::compliance::screening::{
    operator_screening, outcome_name, screening_key, ScreeningObject,
};

/// Name-only screening against the current SDN index.
pub fn screen_name_now(state: &AppState, name: &str, at_ms: u64) -> Decision {
    let lists = state.compliance.lists();
    let rules = state.compliance.address_only_rules();
    let screener = state.compliance.screener(&lists, &[], rules, None);
    screener.screen_name(ComplianceCaseId::generate(), PartyRole::Payer, name, at_ms)
}

/// Screen an address (operators and merchants) or a name (operators).
#[utoipa::path(
    post, path = "/v1/compliance/screenings", operation_id = "create_compliance_screening",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    tag = "compliance", request_body = ScreeningParams,
    responses((status = 200, body = ScreeningObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn screen(
    State(state): State<AppState>,
    principal: Principal,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: ScreeningParams = parse_json(&body)?;
    let now = state.clock.now_ms();
    let merchant = match &principal {
        Principal::Merchant(caller) => Some(caller.merchant_id),
        Principal::Operator(_) => None,
    };
    // Merchants screen against OFAC and their own lists: the operator's block-list is
    // private, and a merchant must not be able to probe it address by address.
    let (lists_of, with_operator) = match &principal {
        Principal::Merchant(caller) => (Some((caller.merchant_id, caller.livemode)), false),
        Principal::Operator(_) => (None, true),
    };
    let at = u64::try_from(now).unwrap_or(0);
    let (decision, primary, subject) = match (&params.address, &params.name) {
        (Some(address), None) => {
            let key = screening_key(&state.registry, address, params.chain.as_deref())?;
            let custom = custom_lists(
                &state,
                lists_of.as_ref().map(|(m, live)| (m, *live)),
                std::slice::from_ref(&key),
                with_operator,
            )
            .await?;
            let target = ScreenedAddress {
                role: AddressRole::Settlement,
                address: key.clone(),
            };
            (
                screen_addresses_now(&state, &custom, &[target], now),
                0,
                key.to_string(),
            )
        }
        (None, Some(name)) if matches!(principal, Principal::Operator(_)) => {
            if name.trim().is_empty() || name.chars().count() > 300 {
                return Err(ApiError::new(
                    ErrorCode::ParameterInvalid,
                    "name must be 1 to 300 characters.",
                )
                .param("name"));
            }
            (screen_name_now(&state, name, at), 1, name.clone())
        }
        (None, Some(_)) => {
            return Err(ApiError::new(
                ErrorCode::OperatorKeyRequired,
                "Name screening needs an operator key.",
            )
            .param("name"))
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::ParameterInvalid,
                "Give exactly one of address or name.",
            )
            .param("address"))
        }
    };
    let by = match &principal {
        Principal::Operator(op) => format!("operator:{}", op.key.name),
        Principal::Merchant(caller) => caller.merchant_id.to_string(),
    };
    let mut entry = AuditEntry::from_decision(&decision, &by);
    entry.kind = "screening:adhoc".into();
    let case = CaseRecord {
        id: decision.case_id,
        merchant_id: merchant,
        livemode: matches!(&principal, Principal::Merchant(c) if c.livemode),
        payment_intent_id: None,
        point: "adhoc".into(),
        outcome: outcome_name(decision.outcome).into(),
        status: CaseStatus::Closed,
        decision_json: serde_json::to_string(&decision).map_err(|e| ApiError::internal(&e))?,
        subject_json: serde_json::json!({ "subject": subject }).to_string(),
        created_at_ms: now,
        resolved_at_ms: None,
        resolved_by: None,
        resolution_note: None,
    };
    state
        .store
        .record_decision(&case, &entry, None, None)
        .await?;
    let object = match principal {
        Principal::Operator(_) => operator_screening(&decision, primary),
        Principal::Merchant(_) => ScreeningObject {
            object: "compliance_screening",
            id: decision.case_id.to_string(),
            decision: outcome_name(decision.outcome).to_owned(),
            message: decision.merchant_message().to_owned(),
            reasons: None,
            list_version: None,
            list_versions: None,
        },
    };
    Ok(json_response(StatusCode::OK, serialize(&object)?))
}

/// Re-read the configured list folder now (operators).
#[utoipa::path(
    post, path = "/v1/compliance/reload", operation_id = "reload_compliance_lists",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    tag = "compliance",
    responses((status = 200, description = "The lists now in force", body = Object),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn reload(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Response, ApiError> {
    let service = state.compliance.clone();
    let report = tokio::task::spawn_blocking(move || service.reload(false))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| {
            tracing::error!(error = %e, "compliance list reload failed");
            ApiError::new(
                ErrorCode::ComplianceListsUnavailable,
                format!("The lists could not be reloaded ({e}); the previous lists stay in force."),
            )
        })?;
    let entry = AuditEntry {
        id: format!("reload:{}", state.clock.now_ms()),
        at_ms: u64::try_from(state.clock.now_ms()).unwrap_or(0),
        kind: "list_reload".into(),
        subject: format!("operator:{}", operator.key.name),
        outcome: if report.changed {
            "changed"
        } else {
            "unchanged"
        }
        .into(),
        detail: serialize(&report)?,
    };
    state.store.append_audit(&entry).await?;
    let mut value = serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?;
    value["object"] = "compliance_lists".into();
    Ok(json_response(StatusCode::OK, value.to_string()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseObject {
    /// Always `compliance_case`.
    pub object: &'static str,
    pub id: String,
    /// `open`, `approved`, `rejected`, `frozen` (blocked) or `closed` (clear).
    pub status: String,
    /// `clear`, `review` or `block`.
    pub outcome: String,
    /// Where in the flow the screening ran.
    pub point: String,
    pub payment_intent: Option<String>,
    pub merchant: Option<String>,
    pub livemode: bool,
    /// Every finding and the list versions (internal; never shown to merchants).
    #[schema(value_type = Object)]
    pub decision: serde_json::Value,
    /// What was screened.
    #[schema(value_type = Object)]
    pub subject: serde_json::Value,
    pub created: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    pub object: &'static str,
    pub data: Vec<CaseObject>,
    pub has_more: bool,
}

impl CaseObject {
    fn new(case: &CaseRecord) -> Self {
        Self {
            object: "compliance_case",
            id: case.id.to_string(),
            status: case.status.as_str().to_owned(),
            outcome: case.outcome.clone(),
            point: case.point.clone(),
            payment_intent: case.payment_intent_id.map(|p| p.to_string()),
            merchant: case.merchant_id.map(|m| m.to_string()),
            livemode: case.livemode,
            decision: serde_json::from_str(&case.decision_json).unwrap_or_default(),
            subject: serde_json::from_str(&case.subject_json).unwrap_or_default(),
            created: case.created_at_ms / 1000,
            resolved_at: case.resolved_at_ms.map(|ms| ms / 1000),
            resolved_by: case.resolved_by.clone(),
            resolution_note: case.resolution_note.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CaseListParams {
    /// `open`, `approved`, `rejected`, `frozen` or `closed`.
    #[param(pattern = "^(open|approved|rejected|frozen|closed)?$")]
    status: Option<String>,
    #[param(pattern = "^(pi_[0-7][0-9a-hjkmnp-tv-z]{25})?$")]
    payment_intent: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    #[param(pattern = "^(cc_[0-7][0-9a-hjkmnp-tv-z]{25})?$")]
    starting_after: Option<String>,
}

/// List compliance cases, newest first (operators).
#[utoipa::path(
    get, path = "/v1/compliance/cases", operation_id = "list_compliance_cases", tag = "compliance",
    params(CaseListParams),
    responses((status = 200, body = CaseList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list_cases(
    State(state): State<AppState>,
    _operator: Operator,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params: CaseListParams = parse_query(uri.query())?;
    let invalid = |param: &str| {
        ApiError::new(ErrorCode::ParameterInvalid, format!("Invalid {param}.")).param(param)
    };
    let filter = CaseFilter {
        status: params
            .status
            .map(|s| CaseStatus::parse(&s).ok_or_else(|| invalid("status")))
            .transpose()?,
        payment_intent_id: params
            .payment_intent
            .map(|p| {
                p.parse::<PaymentIntentId>()
                    .map_err(|_| invalid("payment_intent"))
            })
            .transpose()?,
        starting_after: params
            .starting_after
            .map(|c| {
                c.parse::<ComplianceCaseId>()
                    .map_err(|_| invalid("starting_after"))
            })
            .transpose()?,
        limit: parse_limit(params.limit)?,
    };
    let page = state.store.list_cases(&filter).await?;
    let list = CaseList {
        object: "list",
        data: page.data.iter().map(CaseObject::new).collect(),
        has_more: page.has_more,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

/// Retrieve a compliance case with its evidence (operators).
#[utoipa::path(
    get, path = "/v1/compliance/cases/{id}", operation_id = "retrieve_compliance_case",
    tag = "compliance", params(("id" = String, Path)),
    responses((status = 200, body = CaseObject), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve_case(
    State(state): State<AppState>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let case_id: ComplianceCaseId = parse_id(&id, "compliance case")?;
    let case = state
        .store
        .get_case(&case_id)
        .await?
        .ok_or_else(|| ApiError::missing("compliance case", &id, "id"))?;
    Ok(json_response(
        StatusCode::OK,
        serialize(&CaseObject::new(&case))?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveParams {
    /// Why: kept on the case and in the audit log; 1 to 2000 characters, not only spaces.
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub note: String,
}

fn note(body: &[u8]) -> Result<String, ApiError> {
    let params: ResolveParams = parse_json(body)?;
    let note = params.note.trim().to_owned();
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "note must be 1 to 2000 characters.",
        )
        .param("note"));
    }
    Ok(note)
}

/// Approve a payment held for review: screened again, then it rejoins the flow (operators).
#[utoipa::path(
    post, path = "/v1/compliance/cases/{id}/approve", operation_id = "approve_compliance_case",
    tag = "compliance", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = ResolveParams,
    responses((status = 200, body = CaseObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn approve(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let case_id: ComplianceCaseId = parse_id(&id, "compliance case")?;
    let note = note(&body)?;
    let by = format!("operator:{}", operator.key.name);
    let (case, _proof) = approve_case(&state, &case_id, &by, &note, state.clock.now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        serialize(&CaseObject::new(&case))?,
    ))
}

/// Reject a payment held for review: it is blocked and its funds stay frozen (operators).
#[utoipa::path(
    post, path = "/v1/compliance/cases/{id}/reject", operation_id = "reject_compliance_case",
    tag = "compliance", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = ResolveParams,
    responses((status = 200, body = CaseObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn reject(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let case_id: ComplianceCaseId = parse_id(&id, "compliance case")?;
    let note = note(&body)?;
    let by = format!("operator:{}", operator.key.name);
    let case = reject_case(&state, &case_id, &by, &note, state.clock.now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        serialize(&CaseObject::new(&case))?,
    ))
}
