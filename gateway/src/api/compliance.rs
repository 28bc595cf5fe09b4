//! `/v1/compliance/...`: ad-hoc screenings (operators and merchants), list reloads, review
//! cases, custom block/allow lists and merchant policies; and the sandbox test helper that
//! reports funds for an intent, which runs the real funds screening.
//!
//! Merchants only ever see neutral outcomes (`clear`/`block` and a fixed message); operators
//! see every finding with its evidence.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rialto_compliance::{
    AddressKey, AddressRole, AuditEntry, ComplianceCaseId, Decision, Outcome, PartyRole,
    ScreenedAddress,
};
use rialto_core::address::Address;
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

/// A screening's result. Merchants get `decision` and `message` only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScreeningObject {
    /// Always `compliance_screening`.
    pub object: &'static str,
    /// The decision's id (`cc_…`), as recorded in the audit log.
    pub id: String,
    /// `clear`, `review` or `block`.
    pub decision: String,
    pub message: String,
    /// Operators only: every finding with its evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub reasons: Option<serde_json::Value>,
    /// Operators only: the version of the list this screening is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_versions: Option<Vec<String>>,
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Clear => "clear",
        Outcome::Review => "review",
        Outcome::Block => "block",
    }
}

/// The JSON `rialto compliance screen` prints and operators get over HTTP.
pub fn operator_screening(decision: &Decision, primary_list: usize) -> ScreeningObject {
    ScreeningObject {
        object: "compliance_screening",
        id: decision.case_id.to_string(),
        decision: outcome_name(decision.outcome).to_owned(),
        message: decision.merchant_message().to_owned(),
        reasons: serde_json::to_value(&decision.findings).ok(),
        list_version: decision.list_versions.get(primary_list).cloned(),
        list_versions: Some(decision.list_versions.clone()),
    }
}

/// Parses an address to screen: for a named chain as that chain requires, else in any format
/// a list may hold.
pub fn screening_key(
    registry: &rialto_core::asset::AssetRegistry,
    address: &str,
    chain: Option<&str>,
) -> Result<AddressKey, ApiError> {
    let invalid = |msg: String| ApiError::new(ErrorCode::InvalidAddress, msg).param("address");
    match chain {
        Some(chain) => {
            let chain = registry.chain(chain).ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidChain, format!("Unknown chain `{chain}`."))
                    .param("chain")
            })?;
            let parsed = Address::parse(address, chain.id.namespace())
                .map_err(|e| invalid(format!("Invalid address: {e}.")))?;
            Ok(AddressKey::from(&parsed))
        }
        None => AddressKey::parse(address).map_err(|e| invalid(format!("{e}."))),
    }
}

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
    status: Option<String>,
    payment_intent: Option<String>,
    limit: Option<String>,
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
    /// Why: kept on the case and in the audit log.
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
    tag = "compliance", params(("id" = String, Path)), request_body = ResolveParams,
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
    tag = "compliance", params(("id" = String, Path)), request_body = ResolveParams,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEntryParams {
    /// `block` or `allow`. An allow entry only silences the external screener's medium/high
    /// ratings for the owner's payments; it never overrides OFAC, a block-list or a rule.
    pub kind: String,
    pub address: String,
    pub chain: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListEntryObject {
    /// Always `compliance_list_entry`.
    pub object: &'static str,
    pub id: String,
    pub kind: String,
    /// As compared (EVM addresses in lower case).
    pub address: String,
    pub note: Option<String>,
    pub created: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ListEntryList {
    pub object: &'static str,
    pub data: Vec<ListEntryObject>,
    pub has_more: bool,
}

impl ListEntryObject {
    fn new(entry: &ListEntry) -> Self {
        Self {
            object: "compliance_list_entry",
            id: entry.id.clone(),
            kind: entry.kind.clone(),
            address: entry.address.clone(),
            note: entry.note.clone(),
            created: entry.created_at_ms / 1000,
        }
    }
}

fn owner_of(principal: &Principal) -> String {
    match principal {
        Principal::Operator(_) => "operator".into(),
        Principal::Merchant(caller) => merchant_owner(&caller.merchant_id, caller.livemode),
    }
}

fn actor(principal: &Principal) -> String {
    match principal {
        Principal::Operator(op) => format!("operator:{}", op.key.name),
        Principal::Merchant(caller) => format!("{}:{}", caller.merchant_id, caller.key_id),
    }
}

/// The audit record of a change to a list or policy, which changes what later screenings find.
fn change_record(
    id: &str,
    kind: &str,
    subject: &str,
    outcome: &str,
    detail: serde_json::Value,
    at_ms: i64,
) -> AuditEntry {
    AuditEntry {
        id: id.to_owned(),
        at_ms: u64::try_from(at_ms).unwrap_or(0),
        kind: kind.to_owned(),
        subject: subject.to_owned(),
        outcome: outcome.to_owned(),
        detail: detail.to_string(),
    }
}

/// Add an address to your block-list (or, for operators, a block- or allow-list).
#[utoipa::path(
    post, path = "/v1/compliance/list_entries", operation_id = "create_compliance_list_entry",
    tag = "compliance", request_body = ListEntryParams,
    responses((status = 200, body = ListEntryObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create_list_entry(
    State(state): State<AppState>,
    principal: Principal,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: ListEntryParams = parse_json(&body)?;
    if params.kind != "block" && params.kind != "allow" {
        return Err(
            ApiError::new(ErrorCode::ParameterInvalid, "kind must be block or allow.")
                .param("kind"),
        );
    }
    if params
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 500)
    {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "note must be at most 500 characters.",
        )
        .param("note"));
    }
    let key = screening_key(&state.registry, &params.address, params.chain.as_deref())?;
    let entry = ListEntry {
        id: format!(
            "cle_{}",
            ComplianceCaseId::generate()
                .to_string()
                .trim_start_matches("cc_")
        ),
        owner: owner_of(&principal),
        kind: params.kind,
        address: key.to_string(),
        note: params.note,
        created_at_ms: state.clock.now_ms(),
    };
    let audit = change_record(
        &entry.id,
        "list_entry:create",
        &entry.owner,
        &entry.kind,
        serde_json::json!({"address": entry.address, "note": entry.note, "by": actor(&principal)}),
        entry.created_at_ms,
    );
    if !state.store.create_list_entry(&entry, &audit).await? {
        return Err(ApiError::new(
            ErrorCode::ListEntryExists,
            "That address is already on this list.",
        )
        .param("address"));
    }
    Ok(json_response(
        StatusCode::OK,
        serialize(&ListEntryObject::new(&entry))?,
    ))
}

/// Your list entries (operators: the operator's), oldest first.
#[utoipa::path(
    get, path = "/v1/compliance/list_entries", operation_id = "list_compliance_list_entries",
    tag = "compliance",
    responses((status = 200, body = ListEntryList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list_list_entries(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    let owner = owner_of(&principal);
    let entries = state.store.list_entries(&[owner.as_str()]).await?;
    let list = ListEntryList {
        object: "list",
        data: entries.iter().map(ListEntryObject::new).collect(),
        has_more: false,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

/// Remove one of your list entries.
#[utoipa::path(
    delete, path = "/v1/compliance/list_entries/{id}", operation_id = "delete_compliance_list_entry",
    tag = "compliance", params(("id" = String, Path)),
    responses((status = 200, description = "`{\"object\": \"compliance_list_entry\", \"id\": …, \"deleted\": true}`", body = Object),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn delete_list_entry(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let owner = owner_of(&principal);
    let audit = change_record(
        &id,
        "list_entry:delete",
        &owner,
        "deleted",
        serde_json::json!({"by": actor(&principal)}),
        state.clock.now_ms(),
    );
    if !state.store.delete_list_entry(&owner, &id, &audit).await? {
        return Err(ApiError::missing("compliance list entry", &id, "id"));
    }
    let body = serde_json::json!({ "object": "compliance_list_entry", "id": id, "deleted": true });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// Set a merchant's compliance policy: limits per fiat unit, velocity, blocked countries.
#[utoipa::path(
    post, path = "/v1/compliance/policies/{merchant}", operation_id = "set_compliance_policy",
    tag = "compliance", params(("merchant" = String, Path)),
    request_body(content = Object, description = "`{\"limits\": {\"usd\": {\"single_payment\": \"10000.00\", \"daily_volume\": \"\"}}, \"velocity_max_count\": 5, \"velocity_window_secs\": 3600, \"blocked_countries\": [\"KP\"]}`"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn set_policy(
    State(state): State<AppState>,
    operator: Operator,
    Path(merchant): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let merchant_id: MerchantId = parse_id(&merchant, "merchant")?;
    if state.store.get_merchant(&merchant_id).await?.is_none() {
        return Err(ApiError::missing("merchant", &merchant, "merchant"));
    }
    let policy: MerchantPolicy = parse_json(&body)?;
    validate_limits(&policy.limits).map_err(|e| {
        ApiError::new(ErrorCode::ParameterInvalid, format!("limits: {e}.")).param("limits")
    })?;
    for code in policy.blocked_countries.iter().flatten() {
        code.parse::<rialto_compliance::CountryCode>()
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::ParameterInvalid,
                    format!("{code:?} is not an ISO 3166-1 alpha-2 code."),
                )
                .param("blocked_countries")
            })?;
    }
    if policy.velocity_window_secs == Some(0)
        || (policy.velocity_max_count.is_some_and(|n| n > 0)
            && policy.velocity_window_secs.is_none()
            && state.config.compliance.velocity_window_secs == 0)
    {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "velocity_window_secs must be at least 1.",
        )
        .param("velocity_window_secs"));
    }
    let json = serde_json::to_string(&policy).map_err(|e| ApiError::internal(&e))?;
    let now = state.clock.now_ms();
    let audit = change_record(
        &merchant,
        "policy:set",
        &merchant,
        "set",
        serde_json::json!({"policy": policy, "by": format!("operator:{}", operator.key.name)}),
        now,
    );
    state
        .store
        .set_policy(&merchant_id, &json, now, &audit)
        .await?;
    let mut value = serde_json::to_value(&policy).map_err(|e| ApiError::internal(&e))?;
    value["object"] = "compliance_policy".into();
    value["merchant"] = merchant.into();
    Ok(json_response(StatusCode::OK, value.to_string()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayerParams {
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundParams {
    /// Chain alias or CAIP-2 id the funds arrived on.
    pub chain: String,
    pub payer_address: String,
    pub asset: Option<String>,
    pub amount: Option<String>,
    pub tx_hash: Option<String>,
    pub payer: Option<PayerParams>,
    /// Holder name of the exchange account the funds came from.
    pub account_holder: Option<String>,
    /// IVMS101 originator and beneficiary (`{"originator": …, "beneficiary": …}`).
    #[schema(value_type = Option<Object>)]
    pub travel_rule: Option<serde_json::Value>,
}

/// Sandbox only: report that funds arrived for an intent, as a chain watcher does. The funds
/// are screened for real and the intent moves to `funds_received`, `in_review` or `blocked`.
#[utoipa::path(
    post, path = "/v1/test_helpers/payment_intents/{id}/fund", operation_id = "fund_payment_intent_test_helper",
    tag = "test_helpers", params(("id" = String, Path)), request_body = FundParams,
    responses((status = 200, body = super::payment_intents::PaymentIntentObject),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn fund_test_helper(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    if caller.livemode {
        return Err(ApiError::new(
            ErrorCode::TestHelpersUnavailable,
            "Test helpers work only with _test_ keys.",
        ));
    }
    let intent_id: PaymentIntentId = parse_id(&id, "payment_intent")?;
    let intent = state
        .store
        .get_intent(&caller.merchant_id, caller.livemode, &intent_id)
        .await?
        .ok_or_else(|| ApiError::missing("payment_intent", &id, "id"))?;
    let params: FundParams = parse_json(&body)?;
    let travel_rule = params
        .travel_rule
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| {
            ApiError::new(
                ErrorCode::ParameterInvalid,
                format!("travel_rule is not IVMS101: {e}."),
            )
            .param("travel_rule")
        })?;
    let chain = state
        .registry
        .chain(&params.chain)
        .map(|c| c.id.to_string())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidChain,
                format!("Unknown chain `{}`.", params.chain),
            )
            .param("chain")
        })?;
    let subject = FundsSubject {
        chain,
        payer_addresses: vec![params.payer_address],
        asset: params.asset,
        amount: params.amount,
        tx_hash: params.tx_hash,
        payer_name: params.payer.as_ref().and_then(|p| p.name.clone()),
        payer_country: params.payer.and_then(|p| p.country),
        account_holder: params.account_holder,
        travel_rule,
    };
    let outcome = screen_received_funds(&state, &intent, subject, state.clock.now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        super::intent_json(outcome.intent()),
    ))
}
