//! `/v1/payment_intents`: create, retrieve, list, cancel.

use std::collections::BTreeMap;

use super::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rialto_core::address::AddressError;
use rialto_core::asset::RegistryError;
use rialto_core::id::PaymentIntentId;
use rialto_core::intent::{
    CancellationReason, PaymentEvent, PaymentIntent, PaymentStatus, SettlementError,
    SettlementTarget,
};
use rialto_core::money::{Money, MoneyError};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::body::{parse_json, parse_query, RawBody};
use super::idempotency::{claim, finish, record_for, Guard, WriteError};
use super::{json_response, parse_id, parse_limit, serialize, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::keys::{client_secret, constant_time_eq};
use crate::store::{CasOutcome, IntentFilter, KeyKind};

pub use rialto_engine::objects::{
    intent_event, intent_json, PaymentIntentList, PaymentIntentObject,
};

const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_LEN: usize = 40;
const MAX_METADATA_VALUE_LEN: usize = 500;
const MAX_DESCRIPTION_LEN: usize = 1000;

/// Where the merchant wants to be paid; overrides the merchant's default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementParams {
    /// Asset short name (`usdc`) or CAIP-19 id.
    #[schema(example = "usdc")]
    pub asset: String,
    /// Chain alias (`base`) or CAIP-2 id (`eip155:8453`).
    #[schema(example = "base")]
    pub chain: String,
    /// Address on that chain; EVM addresses in mixed case must carry a valid EIP-55 checksum.
    #[schema(example = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    pub address: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePaymentIntentParams {
    /// Decimal string in whole units of `currency`; no more decimals than it has.
    #[schema(
        example = "25.00",
        pattern = "^(0*[1-9][0-9]{0,11}(\\.[0-9]{1,18})?|0+\\.[0-9]{0,17}[1-9][0-9]{0,17})$"
    )]
    pub amount: String,
    /// `usd`, `eur`, or a stablecoin (`usdc`, `eurc`, …).
    #[schema(example = "usd")]
    pub currency: String,
    pub settlement: Option<SettlementParams>,
    pub description: Option<String>,
    /// Up to 50 string keys (≤ 40 chars) with string values (≤ 500 chars).
    #[schema(schema_with = nullable_metadata_schema)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Seconds the payer has to fund the intent: 60 to 604800 with the default
    /// `limits.min_expires_in_secs` / `limits.max_expires_in_secs`.
    #[schema(example = 3600, minimum = 60, maximum = 604_800)]
    pub expires_in: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelPaymentIntentParams {
    /// `duplicate`, `fraudulent`, `requested_by_customer` or `abandoned`.
    pub cancellation_reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100, default 10.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// An intent id: return the page after it (older intents).
    #[param(pattern = "^(pi_[0-7][0-9a-hjkmnp-tv-z]{25})?$")]
    starting_after: Option<String>,
    /// An intent id: return the page before it (newer intents).
    #[param(pattern = "^(pi_[0-7][0-9a-hjkmnp-tv-z]{25})?$")]
    ending_before: Option<String>,
    #[param(
        pattern = "^(awaiting_funds|funds_received|in_review|converting|settling|succeeded|blocked|expired|canceled|failed)?$"
    )]
    status: Option<String>,
    /// Unix seconds, inclusive.
    #[serde(rename = "created[gte]")]
    #[param(rename = "created[gte]", value_type = Option<i64>, minimum = 0, maximum = 253_402_300_799_i64)]
    created_gte: Option<String>,
    /// Unix seconds, inclusive.
    #[serde(rename = "created[lte]")]
    #[param(rename = "created[lte]", value_type = Option<i64>, minimum = 0, maximum = 253_402_300_799_i64)]
    created_lte: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RetrieveParams {
    /// Required with a publishable key.
    client_secret: Option<String>,
}

/// `metadata`: at most 50 keys of 1 to 40 characters without brackets, values up to 500.
pub(crate) fn metadata_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_METADATA_VALUE_LEN));
    let key = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_METADATA_KEY_LEN))
        .pattern(Some("^[^\\[\\]]*$"))
        .build();
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(MAX_METADATA_KEYS))
        .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
        .property_names(Some(key))
        .build()
}

/// [`metadata_schema`], or `null` (the same as leaving it out).
fn nullable_metadata_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut object = metadata_schema();
    object.schema_type = SchemaType::from_iter([Type::Object, Type::Null]);
    object
}

fn money_error(err: MoneyError, param: &str) -> ApiError {
    let code = match err {
        MoneyError::TooLarge | MoneyError::Overflow => ErrorCode::AmountTooLarge,
        _ => ErrorCode::InvalidAmount,
    };
    ApiError::new(code, format!("Invalid {param}: {err}.")).param(param)
}

fn settlement_error(err: SettlementError) -> ApiError {
    let (code, param) = match &err {
        SettlementError::Registry(RegistryError::UnknownChain(_)) => {
            (ErrorCode::InvalidChain, "settlement.chain")
        }
        SettlementError::Registry(RegistryError::UnknownAsset(_) | RegistryError::Data(_))
        | SettlementError::NotSettleable(_) => (ErrorCode::InvalidAsset, "settlement.asset"),
        SettlementError::Registry(RegistryError::AssetNotOnChain { .. }) => {
            (ErrorCode::AssetNotOnChain, "settlement.asset")
        }
        SettlementError::Address(AddressError::EvmChecksum) => {
            (ErrorCode::AddressChecksumMismatch, "settlement.address")
        }
        SettlementError::Address(_) => (ErrorCode::InvalidAddress, "settlement.address"),
    };
    ApiError::new(code, format!("{err}.")).param(param)
}

pub(crate) fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let invalid = |msg: String, param: String| {
        Err(ApiError::new(ErrorCode::MetadataInvalid, msg).param(param))
    };
    if metadata.len() > MAX_METADATA_KEYS {
        return invalid(
            format!("metadata can have at most {MAX_METADATA_KEYS} keys."),
            "metadata".into(),
        );
    }
    for (key, value) in metadata {
        if key.is_empty() || key.chars().count() > MAX_METADATA_KEY_LEN || key.contains(['[', ']'])
        {
            return invalid(
                format!("metadata keys must be 1 to {MAX_METADATA_KEY_LEN} characters, without brackets."),
                format!("metadata.{key}"),
            );
        }
        if value.chars().count() > MAX_METADATA_VALUE_LEN {
            return invalid(
                format!("metadata values must be at most {MAX_METADATA_VALUE_LEN} characters."),
                format!("metadata.{key}"),
            );
        }
    }
    Ok(())
}

/// Builds the intent a create request describes, or says what is wrong with it.
pub(crate) async fn build_intent(
    state: &AppState,
    caller: &Caller,
    params: CreatePaymentIntentParams,
    now_ms: i64,
) -> Result<PaymentIntent, ApiError> {
    let currency = state.registry.currency(&params.currency).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidCurrency,
            format!(
                "Unknown currency `{}`: use usd, eur, gbp, chf, jpy or a supported stablecoin such as usdc.",
                params.currency
            ),
        )
        .param("currency")
    })?;
    let amount =
        Money::parse_positive(&params.amount, currency).map_err(|e| money_error(e, "amount"))?;
    let settlement = match params.settlement {
        Some(s) => SettlementTarget::resolve(&state.registry, &s.asset, &s.chain, &s.address)
            .map_err(settlement_error)?,
        None => merchant_default_settlement(state, caller).await?,
    };
    if caller.livemode && settlement_is_sandbox(state, &settlement) {
        return Err(ApiError::new(
            ErrorCode::InvalidChain,
            "Live payments cannot settle on a sandbox (devnet) chain.",
        )
        .param("settlement.chain"));
    }
    let metadata = params.metadata.unwrap_or_default();
    validate_metadata(&metadata)?;
    if params
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
    {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            format!("description must be at most {MAX_DESCRIPTION_LEN} characters."),
        )
        .param("description"));
    }
    let limits = &state.config.intents;
    let expires_in = params.expires_in.unwrap_or(limits.default_expires_in_secs);
    if !(limits.min_expires_in_secs..=limits.max_expires_in_secs).contains(&expires_in) {
        return Err(ApiError::new(
            ErrorCode::InvalidExpiresIn,
            format!(
                "expires_in must be between {} and {} seconds.",
                limits.min_expires_in_secs, limits.max_expires_in_secs
            ),
        )
        .param("expires_in"));
    }
    // Last, so a malformed request never reaches screening (or its audit log).
    state.compliance.ensure_fresh_for(caller.livemode, now_ms)?;
    // Proof of Reserve: no new intent settles in a halted asset.
    state.reserves.check(caller.livemode, &settlement.asset)?;
    crate::compliance::flow::check_settlement(
        state,
        &caller.merchant_id,
        caller.livemode,
        &settlement.address,
        now_ms,
    )
    .await?;
    // A permissioned deposit token reaches only allow-listed holders: the chain says whether
    // this address is one, before any intent exists (no-op for every other asset).
    crate::chain::permissioned::ensure_allow_listed(
        state,
        caller.livemode,
        &settlement.asset,
        &settlement.address,
        crate::chain::permissioned::Holder::Settlement,
        "settlement.address",
    )
    .await?;
    let id = PaymentIntentId::generate();
    // A chain that finds payments by a request's key (Solana Pay) gets a fresh one per intent.
    let payment_reference = state
        .chains
        .get(caller.livemode, settlement.asset.id.chain().as_str())
        .and_then(|chain| chain.node.payment_reference());
    Ok(PaymentIntent {
        id,
        merchant_id: caller.merchant_id,
        livemode: caller.livemode,
        amount,
        settlement,
        status: PaymentStatus::AwaitingFunds,
        description: params.description,
        metadata,
        client_secret: client_secret(&id.to_string()),
        created_at_ms: now_ms,
        expires_at_ms: now_ms + expires_in * 1000,
        updated_at_ms: now_ms,
        canceled_at_ms: None,
        cancellation_reason: None,
        version: 1,
        amount_refunded: rust_decimal::Decimal::ZERO,
        payment_detail: None,
        payment_reference,
        fx: None,
    })
}

fn settlement_is_sandbox(state: &AppState, target: &SettlementTarget) -> bool {
    state
        .registry
        .chain(target.asset.id.chain().as_str())
        .is_some_and(|c| c.sandbox)
}

pub(crate) async fn merchant_default_settlement(
    state: &AppState,
    caller: &Caller,
) -> Result<SettlementTarget, ApiError> {
    let missing = || {
        ApiError::new(
            ErrorCode::ParameterMissing,
            "Missing required param: settlement (this merchant has no default settlement \
             target).",
        )
        .param("settlement")
    };
    let merchant = state
        .store
        .get_merchant(&caller.merchant_id)
        .await?
        .ok_or_else(missing)?;
    let (Some(asset), Some(address)) = (merchant.settlement_asset, merchant.settlement_address)
    else {
        return Err(missing());
    };
    let chain = asset.split('/').next().unwrap_or_default().to_owned();
    SettlementTarget::resolve(&state.registry, &asset, &chain, &address)
        .map_err(|e| ApiError::internal(&format!("merchant default settlement: {e}")))
}

/// Create a payment intent.
#[utoipa::path(
    post, path = "/v1/payment_intents", operation_id = "create_payment_intent", tag = "payment_intents",
    request_body = CreatePaymentIntentParams,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses(
        (status = 200, body = PaymentIntentObject),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let guard = claim(&state, &caller, &headers, &uri, &body).await?;
    let result = create_inner(&state, &caller, &body, guard.as_ref()).await;
    finish(&state, result, guard).await
}

async fn create_inner(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
    guard: Option<&Guard>,
) -> Result<Response, WriteError> {
    let params: CreatePaymentIntentParams = parse_json(body)?;
    let now = state.clock.now_ms();
    let intent = build_intent(state, caller, params, now).await?;
    let json = serialize(
        &PaymentIntentObject::new(&intent, true)
            .with_transaction_request(&intent, &state.config.server.public_url),
    )?;
    let record = record_for(guard, &json, now);
    let event = intent_event(&intent, "payment_intent.created", &json, now);
    state
        .store
        .create_intent(&intent, &event, record.as_ref())
        .await?;
    metrics::counter!("rialto_payment_intents_created_total").increment(1);
    Ok(json_response(StatusCode::OK, json))
}

/// Stores an intent built by [`build_intent`] outside a create request (an x402 settlement),
/// with its `payment_intent.created` event.
pub(crate) async fn store_new_intent(
    state: &AppState,
    intent: &PaymentIntent,
    now: i64,
) -> Result<(), ApiError> {
    let json = serialize(&PaymentIntentObject::new(intent, true))?;
    let event = intent_event(intent, "payment_intent.created", &json, now);
    state.store.create_intent(intent, &event, None).await?;
    metrics::counter!("rialto_payment_intents_created_total").increment(1);
    Ok(())
}

fn parse_intent_id(id: &str) -> Result<PaymentIntentId, ApiError> {
    parse_id(id, "payment_intent")
}

/// Retrieve a payment intent (secret key, or publishable key with `client_secret`).
#[utoipa::path(
    get, path = "/v1/payment_intents/{id}", operation_id = "retrieve_payment_intent", tag = "payment_intents",
    params(("id" = String, Path, description = "pi_…"), RetrieveParams),
    responses(
        (status = 200, body = PaymentIntentObject),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params: RetrieveParams = parse_query(uri.query())?;
    let intent_id = parse_intent_id(&id)?;
    let not_found = || ApiError::missing("payment_intent", &id, "id");
    let intent = state
        .store
        .get_intent(&caller.merchant_id, caller.livemode, &intent_id)
        .await?
        .ok_or_else(not_found)?;
    let full_view = match caller.kind {
        KeyKind::Secret => true,
        KeyKind::Publishable => {
            let given = params.client_secret.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ParameterMissing,
                    "A publishable key needs the intent's client_secret.",
                )
                .param("client_secret")
            })?;
            if !constant_time_eq(given.as_bytes(), intent.client_secret.as_bytes()) {
                return Err(not_found());
            }
            false
        }
    };
    Ok(json_response(
        StatusCode::OK,
        serialize(
            &PaymentIntentObject::new(&intent, full_view)
                .with_transaction_request(&intent, &state.config.server.public_url),
        )?,
    ))
}

fn parse_seconds(value: Option<String>, param: &str) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|s| (0..=253_402_300_799).contains(s))
                .map(|s| s * 1000)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::ParameterInvalid,
                        format!("{param} must be Unix seconds."),
                    )
                    .param(param)
                })
        })
        .transpose()
}

async fn parse_cursor(
    state: &AppState,
    caller: &Caller,
    value: Option<String>,
    param: &str,
) -> Result<Option<PaymentIntentId>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidCursor,
            format!("{param} must be the id of one of your payment intents."),
        )
        .param(param)
    };
    let id: PaymentIntentId = value.parse().map_err(|_| invalid())?;
    state
        .store
        .get_intent(&caller.merchant_id, caller.livemode, &id)
        .await?
        .ok_or_else(invalid)?;
    Ok(Some(id))
}

async fn list_filter(
    state: &AppState,
    caller: &Caller,
    params: ListParams,
) -> Result<IntentFilter, ApiError> {
    let limit = parse_limit(params.limit)?;
    if params.starting_after.is_some() && params.ending_before.is_some() {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "Use starting_after or ending_before, not both.",
        )
        .param("ending_before"));
    }
    let status = params
        .status
        .map(|s| {
            s.parse::<PaymentStatus>().map_err(|_| {
                ApiError::new(
                    ErrorCode::ParameterInvalid,
                    format!("Unknown status `{s}`."),
                )
                .param("status")
            })
        })
        .transpose()?;
    Ok(IntentFilter {
        status,
        created_gte_ms: parse_seconds(params.created_gte, "created[gte]")?,
        created_lte_ms: parse_seconds(params.created_lte, "created[lte]")?,
        starting_after: parse_cursor(state, caller, params.starting_after, "starting_after")
            .await?,
        ending_before: parse_cursor(state, caller, params.ending_before, "ending_before").await?,
        limit,
    })
}

/// List payment intents, newest first.
#[utoipa::path(
    get, path = "/v1/payment_intents", operation_id = "list_payment_intents", tag = "payment_intents",
    params(ListParams),
    responses(
        (status = 200, body = PaymentIntentList),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let params: ListParams = parse_query(uri.query())?;
    let filter = list_filter(&state, &caller, params).await?;
    let page = state
        .store
        .list_intents(&caller.merchant_id, caller.livemode, &filter)
        .await?;
    let list = PaymentIntentList {
        object: "list",
        data: page
            .data
            .iter()
            .map(|i| {
                PaymentIntentObject::new(i, true)
                    .with_transaction_request(i, &state.config.server.public_url)
            })
            .collect(),
        has_more: page.has_more,
        url: "/v1/payment_intents",
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

/// Cancel a payment intent that is still awaiting funds.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/cancel", operation_id = "cancel_payment_intent", tag = "payment_intents",
    params(("id" = String, Path, description = "pi_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body(content = CancelPaymentIntentParams, description = "Optional"),
    responses(
        (status = 200, body = PaymentIntentObject),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let guard = claim(&state, &caller, &headers, &uri, &body).await?;
    let result = cancel_inner(&state, &caller, &id, &body, guard.as_ref()).await;
    finish(&state, result, guard).await
}

async fn cancel_inner(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &[u8],
    guard: Option<&Guard>,
) -> Result<Response, WriteError> {
    let params: CancelPaymentIntentParams = parse_json(body)?;
    let reason = params
        .cancellation_reason
        .map(|r| {
            r.parse::<CancellationReason>().map_err(|_| {
                ApiError::new(
                    ErrorCode::ParameterInvalid,
                    "cancellation_reason must be duplicate, fraudulent, requested_by_customer \
                     or abandoned.",
                )
                .param("cancellation_reason")
            })
        })
        .transpose()?;
    let intent_id = parse_intent_id(id)?;
    let current = state
        .store
        .get_intent(&caller.merchant_id, caller.livemode, &intent_id)
        .await?
        .ok_or_else(|| ApiError::missing("payment_intent", id, "id"))?;
    let now = state.clock.now_ms();
    // Funds that arrived (or are arriving) for the intent keep it open: canceling would strand
    // them. The payment policy settles or refunds them; the intent then ends on its own.
    let funded = state
        .store
        .payment_transactions_of(&current.id)
        .await?
        .iter()
        .any(|p| p.status != crate::store::PaymentTxStatus::Reverted);
    if funded {
        return Err(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            "Funds for this payment intent have arrived; it can no longer be canceled. It is \
             settled or refunded by your payment policy.",
        )
        .into());
    }
    let mut next = current.transition(PaymentEvent::Cancel, now).map_err(|_| {
        ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            format!(
                "This payment intent is {} and can no longer be canceled.",
                current.status
            ),
        )
    })?;
    next.cancellation_reason = reason;
    let json = serialize(&PaymentIntentObject::new(&next, true))?;
    let record = record_for(guard, &json, now);
    let event = intent_event(&next, "payment_intent.canceled", &json, now);
    match state
        .store
        .update_intent(current.status, &next, Some(&event), record.as_ref())
        .await?
    {
        CasOutcome::Updated => Ok(json_response(StatusCode::OK, json)),
        // Moved under us (funds arrived, or another cancel won): say so, never overwrite.
        CasOutcome::Conflict => Err(WriteError::Api(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            "This payment intent changed while it was being canceled; retrieve it and retry \
             if it can still be canceled.",
        ))),
    }
}
