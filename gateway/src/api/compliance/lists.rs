//! Custom allow and block lists, merchants' compliance policies, and the sandbox's funding test helper.

use super::*;
use rialto_compliance::PartyIdentifiers;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListEntryParams {
    /// `block` or `allow`. Merchants add `block` entries only; `allow` entries are the
    /// operator's (an operator key) and only silence the external screener's medium/high
    /// ratings, for every merchant's payments; they never override OFAC, a block-list or a
    /// rule.
    #[schema(pattern = "^(block|allow)$")]
    pub kind: String,
    /// No whitespace; validated for `chain` when it is given.
    #[schema(pattern = "^\\S+$")]
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

pub(super) fn owner_of(principal: &Principal) -> String {
    match principal {
        Principal::Operator(_) => "operator".into(),
        Principal::Merchant(caller) => merchant_owner(&caller.merchant_id, caller.livemode),
    }
}

pub(super) fn actor(principal: &Principal) -> String {
    match principal {
        Principal::Operator(op) => format!("operator:{}", op.key.name),
        Principal::Merchant(caller) => format!("{}:{}", caller.merchant_id, caller.key_id),
    }
}

/// The audit record of a change to a list or policy, which changes what later screenings find.
pub(super) fn change_record(
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

/// Add an address to your block-list (operators: the operator's block- or allow-list; a merchant
/// key asking for an `allow` entry gets `operator_key_required`).
#[utoipa::path(
    post, path = "/v1/compliance/list_entries", operation_id = "create_compliance_list_entry",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
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
    if params.kind == "allow" && !matches!(principal, Principal::Operator(_)) {
        return Err(ApiError::new(
            ErrorCode::OperatorKeyRequired,
            "Allow entries are the operator's; a merchant key may add block entries only.",
        )
        .param("kind"));
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEntriesParams {
    /// 1 to 100, default 10.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// A `cle_…` id: the page after it.
    starting_after: Option<String>,
}

/// Your list entries (operators: the operator's), oldest first, a page at a time.
#[utoipa::path(
    get, path = "/v1/compliance/list_entries", operation_id = "list_compliance_list_entries",
    tag = "compliance", params(ListEntriesParams),
    responses((status = 200, body = ListEntryList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list_list_entries(
    State(state): State<AppState>,
    principal: Principal,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params: ListEntriesParams = parse_query(uri.query())?;
    let limit = parse_limit(params.limit)?;
    let owner = owner_of(&principal);
    let page = state
        .store
        .list_entries_page(&owner, params.starting_after.as_deref(), limit)
        .await?;
    let list = ListEntryList {
        object: "list",
        data: page.data.iter().map(ListEntryObject::new).collect(),
        has_more: page.has_more,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

/// Remove one of your list entries.
#[utoipa::path(
    delete, path = "/v1/compliance/list_entries/{id}", operation_id = "delete_compliance_list_entry",
    tag = "compliance", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)),
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
    tag = "compliance", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("merchant" = String, Path)),
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
    /// `YYYY-MM-DD`. With `nationality` and `id_number`, what can confirm a match on the
    /// payer's name against the sanctions list; a name match alone only holds for review.
    pub date_of_birth: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub nationality: Option<String>,
    /// Passport, national ID or tax number, as written on the document (1 to 64 characters).
    pub id_number: Option<String>,
}

impl PayerParams {
    /// The identifiers the payer gave, validated: a malformed one is refused rather than
    /// silently dropped, since it decides whether a name match can block.
    pub(crate) fn identifiers(&self) -> Result<PartyIdentifiers, ApiError> {
        let invalid = |param: &str, message: &str| {
            ApiError::new(ErrorCode::ParameterInvalid, message).param(param)
        };
        let date_of_birth = match &self.date_of_birth {
            Some(d) => Some(d.parse().map_err(|_| {
                invalid(
                    "payer.date_of_birth",
                    "payer.date_of_birth must be a date as YYYY-MM-DD.",
                )
            })?),
            None => None,
        };
        let nationality = match &self.nationality {
            Some(c) => Some(c.parse().map_err(|_| {
                invalid(
                    "payer.nationality",
                    "payer.nationality must be an ISO 3166-1 alpha-2 code in upper case, such as US.",
                )
            })?),
            None => None,
        };
        let id_number = match &self.id_number {
            Some(n) if n.trim().is_empty() || n.chars().count() > 64 => {
                return Err(invalid(
                    "payer.id_number",
                    "payer.id_number must be 1 to 64 characters.",
                ))
            }
            Some(n) => Some(n.trim().to_owned()),
            None => None,
        };
        Ok(PartyIdentifiers {
            date_of_birth,
            nationality,
            id_number,
        })
    }
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
    tag = "test_helpers", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = FundParams,
    responses((status = 200, body = crate::api::payment_intents::PaymentIntentObject),
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
    let payer_identifiers = match &params.payer {
        Some(payer) => payer.identifiers()?,
        None => PartyIdentifiers::default(),
    };
    let subject = FundsSubject {
        chain,
        payer_addresses: vec![params.payer_address],
        asset: params.asset,
        amount: params.amount,
        tx_hash: params.tx_hash,
        payer_name: params.payer.as_ref().and_then(|p| p.name.clone()),
        payer_country: params.payer.and_then(|p| p.country),
        payer_identifiers,
        account_holder: params.account_holder,
        travel_rule,
    };
    let outcome = screen_received_funds(&state, &intent, subject, state.clock.now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        crate::api::intent_json(outcome.intent()),
    ))
}
