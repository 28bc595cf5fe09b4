//! `/v1/refunds` and `/v1/payouts`: refunds out of the merchant's balance, and batched payouts,
//! both with maker-checker approval above the merchant's limit (settings are in `settings`).

use std::collections::BTreeMap;

use super::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rialto_core::address::Address;
use rialto_core::id::{PaymentIntentId, PayoutId, RefundId};
use rialto_core::intent::PaymentStatus;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::Principal;
use super::body::{parse_json, parse_query, RawBody};
use super::idempotency::{claim, finish, WriteError};
use super::{json_response, parse_id, parse_limit, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::payouts::{self, payout_json};
use crate::refunds::{self, refund_json, RefundSpec, MERCHANT_REASONS};
use crate::store::money::Payout;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefundParams {
    /// The payment intent to refund (`pi_…`); it must have succeeded.
    pub payment_intent: String,
    /// In the asset the merchant received; defaults to everything not yet refunded.
    #[schema(
        example = "10.00",
        pattern = "^(0*[1-9][0-9]{0,11}(\\.[0-9]{1,18})?|0+\\.[0-9]{0,17}[1-9][0-9]{0,17})$"
    )]
    pub amount: Option<String>,
    /// Where to send it; defaults to the address that paid (for a routed payment, the wallet
    /// that funded the route; for a payment from an exchange account, direct or through a
    /// route, the account's deposit address the venue gave when it was linked). Screened
    /// either way.
    pub destination: Option<String>,
    /// The asset the payer receives: by default (or named) the asset received. Another asset
    /// (its code, on the payment's chain, or a CAIP-19 id, on any chain of the mode) is reached
    /// through the router: the refunded `amount`, still debited in the asset received, is
    /// converted from Rialto's hot wallet (DEX swaps, bridges) at a quote locked when the
    /// refund is created, and the payer receives exactly the locked `conversion.amount_out`.
    /// An asset no route reaches is refused with `refund_asset_unsupported`.
    pub asset: Option<String>,
    /// `requested_by_customer` (default), `duplicate` or `fraudulent`.
    pub reason: Option<String>,
    #[serde(default)]
    #[schema(schema_with = super::payment_intents::metadata_schema)]
    pub metadata: BTreeMap<String, String>,
}

/// Refund a payment, fully or in part; several refunds may add up to what was paid.
#[utoipa::path(
    post, path = "/v1/refunds", operation_id = "create_refund", tag = "refunds",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = CreateRefundParams,
    responses((status = 200, body = refunds::RefundObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create_refund(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let guard = claim(&state, &caller, &headers, &uri, &body).await?;
    let result: Result<Response, WriteError> = async {
        let params: CreateRefundParams = parse_json(&body)?;
        let intent_id: PaymentIntentId = parse_id(&params.payment_intent, "payment_intent")
            .map_err(|e| e.param("payment_intent"))?;
        let intent = state
            .store
            .get_intent(&caller.merchant_id, caller.livemode, &intent_id)
            .await?
            .ok_or_else(|| {
                ApiError::missing("payment_intent", &params.payment_intent, "payment_intent")
            })?;
        let convert_to = params
            .asset
            .as_deref()
            .map(|asset| refund_asset(&state, &intent, asset))
            .transpose()?
            .flatten();
        let amount = params
            .amount
            .as_deref()
            .map(|a| {
                a.parse::<Decimal>().map_err(|_| {
                    ApiError::new(ErrorCode::InvalidAmount, "amount must be a decimal string.")
                        .param("amount")
                })
            })
            .transpose()?;
        let namespace = intent.settlement.address.namespace();
        let destination = params
            .destination
            .as_deref()
            .map(|d| {
                Address::parse(d, namespace).map_err(|e| {
                    ApiError::new(
                        ErrorCode::InvalidAddress,
                        format!("Invalid destination: {e}."),
                    )
                    .param("destination")
                })
            })
            .transpose()?;
        let reason = params
            .reason
            .unwrap_or_else(|| MERCHANT_REASONS[0].to_owned());
        if !MERCHANT_REASONS.contains(&reason.as_str()) {
            return Err(ApiError::new(
                ErrorCode::ParameterInvalid,
                format!("reason must be one of {}.", MERCHANT_REASONS.join(", ")),
            )
            .param("reason")
            .into());
        }
        super::payment_intents::validate_metadata(&params.metadata)?;
        let spec = RefundSpec {
            amount,
            destination,
            reason,
            created_by: format!("key:{}", caller.key_id),
            metadata: params.metadata,
            allowed: &[PaymentStatus::Succeeded],
            credit: Vec::new(),
            convert_to,
        };
        let now = state.clock.now_ms();
        let refund = refunds::create(
            &state,
            &intent.id,
            (&caller.merchant_id, caller.livemode),
            &spec,
            guard.as_deref(),
            now,
        )
        .await?;
        Ok(json_response(StatusCode::OK, refund_json(&state, &refund)))
    }
    .await;
    finish(&state, result, guard).await
}

/// The asset a refund is paid in when the request names one: `None` for the asset received,
/// else the registry's asset (a code on the payment's chain, or a CAIP-19 id).
fn refund_asset(
    state: &AppState,
    intent: &rialto_core::intent::PaymentIntent,
    asset: &str,
) -> Result<Option<rialto_core::asset::Asset>, ApiError> {
    let received = &intent.settlement.asset;
    if asset.eq_ignore_ascii_case(&received.code) || asset == received.id.to_string() {
        return Ok(None);
    }
    let unknown = || {
        ApiError::new(
            ErrorCode::RefundAssetUnsupported,
            format!(
                "Unknown asset {asset} for this payment's refunds: name one by its code (on the \
                 payment's chain) or its CAIP-19 id."
            ),
        )
        .param("asset")
    };
    let chain = state
        .registry
        .chain(&received.id.chain().to_string())
        .ok_or_else(unknown)?;
    let found = state
        .registry
        .asset_on(asset, chain)
        .ok()
        .or_else(|| {
            asset
                .parse()
                .ok()
                .and_then(|id: rialto_core::AssetId| state.registry.asset(&id))
        })
        .ok_or_else(unknown)?;
    if found.id == received.id {
        return Ok(None);
    }
    Ok(Some(found.clone()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListRefundsParams {
    /// Only this payment intent's refunds.
    payment_intent: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    starting_after: Option<String>,
}

/// The merchant's refunds, newest first.
#[utoipa::path(
    get, path = "/v1/refunds", operation_id = "list_refunds", tag = "refunds",
    params(ListRefundsParams),
    responses((status = 200, description = "`{object: list, data: [refund], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list_refunds(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let params: ListRefundsParams = parse_query(uri.query())?;
    let limit = parse_limit(params.limit)?;
    let intent: Option<PaymentIntentId> = params
        .payment_intent
        .as_deref()
        .map(|i| parse_id(i, "payment_intent"))
        .transpose()?;
    let after: Option<RefundId> = params
        .starting_after
        .as_deref()
        .map(|i| parse_id(i, "refund").map_err(|e| e.param("starting_after")))
        .transpose()?;
    let page = state
        .store
        .list_refunds(
            &caller.merchant_id,
            caller.livemode,
            intent.as_ref(),
            after.as_ref(),
            limit,
        )
        .await?;
    let data: Vec<serde_json::Value> = page
        .data
        .iter()
        .filter_map(|r| serde_json::from_str(&refund_json(&state, r)).ok())
        .collect();
    let body =
        json!({"object": "list", "data": data, "has_more": page.has_more, "url": "/v1/refunds"});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// Retrieve a refund.
#[utoipa::path(
    get, path = "/v1/refunds/{id}", operation_id = "retrieve_refund", tag = "refunds",
    params(("id" = String, Path, description = "re_…")),
    responses((status = 200, body = refunds::RefundObject), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve_refund(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let refund_id: RefundId = parse_id(&id, "refund")?;
    let refund = state
        .store
        .get_refund(&refund_id)
        .await?
        .filter(|r| r.merchant_id == caller.merchant_id && r.livemode == caller.livemode)
        .ok_or_else(|| ApiError::missing("refund", &id, "id"))?;
    Ok(json_response(StatusCode::OK, refund_json(&state, &refund)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePayoutParams {
    /// The asset to pay out (`usdc`) and its chain (`base`), or a CAIP-19 id in `asset`.
    pub asset: String,
    pub chain: Option<String>,
    /// Defaults to the whole available balance of that asset.
    #[schema(pattern = "^(0*[1-9][0-9]{0,11}(\\.[0-9]{1,18})?|0+\\.[0-9]{0,17}[1-9][0-9]{0,17})$")]
    pub amount: Option<String>,
}

/// Pay out held balance now (batched settlement does this on its schedule).
#[utoipa::path(
    post, path = "/v1/payouts", operation_id = "create_payout", tag = "payouts",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = CreatePayoutParams,
    responses((status = 200, body = payouts::PayoutObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create_payout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let guard = claim(&state, &caller, &headers, &uri, &body).await?;
    let result: Result<Response, WriteError> = async {
        let params: CreatePayoutParams = parse_json(&body)?;
        let asset = resolve_asset(&state, &params.asset, params.chain.as_deref())?;
        let amount = params
            .amount
            .as_deref()
            .map(|a| {
                a.parse::<Decimal>().map_err(|_| {
                    ApiError::new(ErrorCode::InvalidAmount, "amount must be a decimal string.")
                        .param("amount")
                })
            })
            .transpose()?;
        let now = state.clock.now_ms();
        let payout = payouts::create(
            &state,
            (&caller.merchant_id, caller.livemode),
            &asset,
            amount,
            (&format!("key:{}", caller.key_id), None),
            guard.as_deref(),
            now,
        )
        .await?;
        Ok(json_response(StatusCode::OK, payout_json(&state, &payout)))
    }
    .await;
    finish(&state, result, guard).await
}

pub(crate) fn resolve_asset(
    state: &AppState,
    asset: &str,
    chain: Option<&str>,
) -> Result<rialto_core::asset::Asset, ApiError> {
    if let Ok(id) = asset.parse() {
        if let Some(found) = state.registry.asset(&id) {
            return Ok(found.clone());
        }
    }
    let chain = chain.ok_or_else(|| {
        ApiError::new(
            ErrorCode::ParameterMissing,
            "chain is required with an asset code.",
        )
        .param("chain")
    })?;
    let chain = state
        .registry
        .chain(chain)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidChain, "Unknown chain.").param("chain"))?;
    state
        .registry
        .asset_on(asset, chain)
        .cloned()
        .map_err(|e| ApiError::new(ErrorCode::InvalidAsset, format!("{e}.")).param("asset"))
}

/// Approve a refund waiting for approval (above the approval limit, to an address other than
/// the payer's): an operator key, or a secret key of another custody than the one that asked.
#[utoipa::path(
    post, path = "/v1/refunds/{id}/approve", operation_id = "approve_refund", tag = "refunds",
    params(("id" = String, Path, description = "re_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = refunds::RefundObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn approve_refund(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let guard = match &principal {
        Principal::Merchant(caller) => claim(&state, caller, &headers, &uri, &[]).await?,
        Principal::Operator(_) => None,
    };
    let result: Result<Response, WriteError> = async {
        let refund_id: RefundId = parse_id(&id, "refund")?;
        let refund = state.store.get_refund(&refund_id).await?;
        let (refund, checker) = match &principal {
            Principal::Operator(op) => (refund, op.checker()),
            Principal::Merchant(caller) => (
                refund.filter(|r| {
                    r.merchant_id == caller.merchant_id && r.livemode == caller.livemode
                }),
                caller.checker(),
            ),
        };
        let refund = refund.ok_or_else(|| ApiError::missing("refund", &id, "id"))?;
        let now = state.clock.now_ms();
        let approved = refunds::approve(&state, &refund, &checker, guard.as_deref(), now).await?;
        Ok(json_response(
            StatusCode::OK,
            refund_json(&state, &approved),
        ))
    }
    .await;
    finish(&state, result, guard).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListPayoutsParams {
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    starting_after: Option<String>,
}

/// The merchant's payouts, newest first.
#[utoipa::path(
    get, path = "/v1/payouts", operation_id = "list_payouts", tag = "payouts",
    params(ListPayoutsParams),
    responses((status = 200, description = "`{object: list, data: [payout], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list_payouts(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let params: ListPayoutsParams = parse_query(uri.query())?;
    let limit = parse_limit(params.limit)?;
    let after: Option<PayoutId> = params
        .starting_after
        .as_deref()
        .map(|i| parse_id(i, "payout").map_err(|e| e.param("starting_after")))
        .transpose()?;
    let page = state
        .store
        .list_payouts(&caller.merchant_id, caller.livemode, after.as_ref(), limit)
        .await?;
    let data: Vec<serde_json::Value> = page
        .data
        .iter()
        .filter_map(|p| serde_json::from_str(&payout_json(&state, p)).ok())
        .collect();
    let body =
        json!({"object": "list", "data": data, "has_more": page.has_more, "url": "/v1/payouts"});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

async fn load_payout(
    state: &AppState,
    id: &str,
    merchant: Option<(&rialto_core::id::MerchantId, bool)>,
) -> Result<Payout, ApiError> {
    let payout_id: PayoutId = parse_id(id, "payout")?;
    state
        .store
        .get_payout(&payout_id)
        .await?
        .filter(|p| merchant.is_none_or(|(m, live)| p.merchant_id == *m && p.livemode == live))
        .ok_or_else(|| ApiError::missing("payout", id, "id"))
}

/// Retrieve a payout.
#[utoipa::path(
    get, path = "/v1/payouts/{id}", operation_id = "retrieve_payout", tag = "payouts",
    params(("id" = String, Path, description = "po_…")),
    responses((status = 200, body = payouts::PayoutObject), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve_payout(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let payout = load_payout(&state, &id, Some((&caller.merchant_id, caller.livemode))).await?;
    Ok(json_response(StatusCode::OK, payout_json(&state, &payout)))
}

/// Approve a payout above the merchant's approval limit: an operator key, or a secret key of
/// another custody than the one that asked for it (maker-checker; keys made or rolled through
/// the API share their maker's custody).
#[utoipa::path(
    post, path = "/v1/payouts/{id}/approve", operation_id = "approve_payout", tag = "payouts",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path, description = "po_…")),
    responses((status = 200, body = payouts::PayoutObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn approve_payout(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (payout, checker) = match &principal {
        Principal::Operator(op) => (load_payout(&state, &id, None).await?, op.checker()),
        Principal::Merchant(caller) => {
            caller.require_secret()?;
            (
                load_payout(&state, &id, Some((&caller.merchant_id, caller.livemode))).await?,
                caller.checker(),
            )
        }
    };
    let approved = payouts::approve(&state, &payout, &checker, state.clock.now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        payout_json(&state, &approved),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteOffParams {
    /// The merchant whose held balance is written off (`mer_…`).
    pub merchant: String,
    #[serde(default)]
    pub livemode: bool,
    /// CAIP-19 asset id, or an asset code with `chain`.
    pub asset: String,
    pub chain: Option<String>,
    #[schema(example = "0.000123")]
    pub amount: String,
    /// Why (kept in the event).
    pub reason: String,
    /// The operator's own reference for this write-off (a ticket id): one write-off per
    /// reference and merchant, so a retried request cannot write off twice.
    pub reference: String,
}

/// Write part of a merchant's held balance off (operators): dust below any payout, funds that
/// cannot be returned. Posts `write_off` (balance → `rialto:write_offs`); refused when the
/// balance holds less.
#[utoipa::path(
    post, path = "/v1/ledger/write_offs", operation_id = "create_write_off", tag = "balance",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = WriteOffParams,
    responses((status = 200, description = "`{object: write_off, id, merchant, asset, amount, reason}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create_write_off(
    State(state): State<AppState>,
    operator: super::auth::Operator,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: WriteOffParams = parse_json(&body)?;
    let merchant: rialto_core::id::MerchantId =
        parse_id(&params.merchant, "merchant").map_err(|e| e.param("merchant"))?;
    if state.store.get_merchant(&merchant).await?.is_none() {
        return Err(ApiError::missing("merchant", &params.merchant, "merchant"));
    }
    let asset = resolve_asset(&state, &params.asset, params.chain.as_deref())?;
    let amount = rialto_core::money::Money::parse(&params.amount, asset.currency())
        .map_err(|e| {
            ApiError::new(ErrorCode::InvalidAmount, format!("Invalid amount: {e}.")).param("amount")
        })?
        .amount();
    if amount <= Decimal::ZERO {
        return Err(
            ApiError::new(ErrorCode::InvalidAmount, "amount must be positive.").param("amount"),
        );
    }
    let reason = params.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "reason must be 1 to 500 characters.",
        )
        .param("reason"));
    }
    let now = state.clock.now_ms();
    let reference = params.reference.trim();
    let valid = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
    if reference.is_empty() || reference.len() > 100 || !reference.chars().all(valid) {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "reference must be 1 to 100 letters, digits or -_.:",
        )
        .param("reference"));
    }
    // The mode is part of the id: the same ticket reference in test and live mode names two
    // write-offs, never one (a posting is unique by its kind and reference).
    let mode = if params.livemode { "live" } else { "test" };
    let id = format!("wo_{merchant}_{mode}_{reference}");
    let account = crate::ledger::merchant_balance(&merchant);
    let posting = crate::ledger::transfer(
        (merchant, params.livemode),
        "write_off",
        &id,
        &asset.id.to_string(),
        (account.clone(), crate::ledger::WRITE_OFFS.to_owned()),
        amount,
        now,
    )
    .map_err(|e| ApiError::internal(&e))?;
    let object = json!({
        "object": "write_off", "id": id, "merchant": merchant.to_string(),
        "livemode": params.livemode, "asset_id": asset.id.to_string(), "asset": asset.code,
        "amount": amount.normalize().to_string(), "reason": reason,
        "written_off_by": format!("operator:{}", operator.key.name), "created": now / 1000,
    })
    .to_string();
    let event = crate::store::Event {
        id: rialto_core::id::EventId::generate(),
        merchant_id: merchant,
        livemode: params.livemode,
        kind: "balance.written_off".to_owned(),
        object_json: object.clone(),
        created_at_ms: now,
    };
    let reservation = crate::store::money::Reservation {
        merchant_id: merchant,
        livemode: params.livemode,
        account,
        asset: asset.id.to_string(),
        amount,
    };
    let effects = crate::store::money::Effects {
        postings: std::slice::from_ref(&posting),
        events: std::slice::from_ref(&event),
        ..Default::default()
    };
    let posted = match state
        .store
        .reserve_and_post(&reservation, effects, now)
        .await
    {
        Err(err) if crate::store::is_unique_violation(&err) => {
            return Err(ApiError::new(
                ErrorCode::WriteOffExists,
                "A write-off with this reference was already posted for this merchant.",
            )
            .param("reference"));
        }
        other => other?,
    };
    match posted {
        crate::store::money::ReserveOutcome::Reserved => Ok(json_response(StatusCode::OK, object)),
        crate::store::money::ReserveOutcome::Insufficient { available } => Err(ApiError::new(
            ErrorCode::BalanceInsufficient,
            format!("The balance holds {} of this asset.", available.normalize()),
        )
        .param("amount")),
        crate::store::money::ReserveOutcome::Conflict => Err(ApiError::new(
            ErrorCode::BalanceChanged,
            "The balance changed meanwhile. Retry.",
        )),
    }
}
