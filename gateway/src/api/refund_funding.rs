//! Funding refunds that wait in `requires_funding` (see `rialto_engine::refund_funding`), and
//! the merchant's refund reserves:
//!
//! - `POST /v1/refunds/{id}/funding`: either `{transaction_hash, signature}` (a transfer from
//!   the payment's settlement address to the treasury, proven by that address's signature of
//!   `Rialto: fund <re_…> with <tx hash>`), or `{authorization: {…}}` (an EIP-3009
//!   `transferWithAuthorization` signed by the settlement address, to the treasury, of exactly
//!   the refund's amount, with the nonce of `GET /v1/refunds/{id}/authorization_request`),
//!   which the gateway relays; the refund is funded once the relay confirms.
//! - `POST /v1/refund_reserves/top_ups` and `GET /v1/refund_reserves`.

use super::extract::Path;
use alloy::primitives::U256;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::id::RefundId;
use rialto_evm::eip3009::{self, Authorization, ExpectedPayment};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::idempotency::{finish, WriteError};
use super::wallet_payments::{
    authorization_error, check_authorization, evm_of, invalid, relayer, unavailable,
};
use super::{json_response, parse_id, AppState, Caller};
use crate::chain::rail::{FeeLimits, LegAction, LegRequest, StoreJournal};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::money::{Refund, RefundStatus};
use rialto_engine::refund_funding::{self as funding, FUNDING_RELAY};

/// An EIP-3009 `transferWithAuthorization` signed by the settlement address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundingAuthorization {
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub from: String,
    /// The treasury (`funding.pay_to` on the refund).
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub to: String,
    /// Base units, exactly the refund's amount.
    #[schema(pattern = "^[0-9]{1,78}$")]
    pub value: String,
    #[schema(pattern = "^[0-9]{1,20}$")]
    pub valid_after: String,
    #[schema(pattern = "^[0-9]{1,20}$")]
    pub valid_before: String,
    #[schema(pattern = "^0x[0-9a-fA-F]{64}$")]
    pub nonce: String,
    /// `0x` + 130 hex digits (r ‖ s ‖ v).
    pub signature: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundRefundParams {
    /// A transfer from the settlement address to the treasury of exactly the refund's amount.
    #[schema(pattern = "^0x[0-9a-fA-F]{64}$")]
    pub transaction_hash: Option<String>,
    /// With `transaction_hash`: the settlement address's EIP-191 signature (EIP-1271 for a
    /// contract wallet) of `Rialto: fund <refund id> with <transaction_hash in lower case>`.
    pub signature: Option<String>,
    /// Instead of a transfer: an EIP-3009 authorization the gateway relays.
    pub authorization: Option<FundingAuthorization>,
}

async fn own_refund(state: &AppState, caller: &Caller, id: &str) -> Result<Refund, ApiError> {
    let refund_id: RefundId = parse_id(id, "refund")?;
    state
        .store
        .get_refund(&refund_id)
        .await?
        .filter(|r| r.merchant_id == caller.merchant_id && r.livemode == caller.livemode)
        .ok_or_else(|| ApiError::missing("refund", id, "id"))
}

fn awaiting_funds(refund: &Refund) -> Result<(), ApiError> {
    if refund.status != RefundStatus::RequiresFunding {
        return Err(ApiError::new(
            ErrorCode::RefundNotAwaitingFunding,
            "This refund is not waiting for funds.",
        ));
    }
    Ok(())
}

fn units_of(refund: &Refund, asset: &rialto_core::asset::Asset) -> Result<u128, ApiError> {
    rialto_core::money::Money::parse(&refund.amount.normalize().to_string(), asset.currency())
        .and_then(|m| m.to_base_units())
        .map_err(|e| ApiError::internal(&e))
}

/// Fund a refund waiting in `requires_funding` from the payment's settlement address: with a
/// proven transfer (funded at once: `200`), or an EIP-3009 authorization (relayed: `202`, the
/// refund moves on once the relay confirms).
#[utoipa::path(
    post, path = "/v1/refunds/{id}/funding", operation_id = "fund_refund", tag = "refunds",
    params(("id" = String, Path, description = "re_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = FundRefundParams,
    responses((status = 200, body = rialto_engine::refunds::RefundObject),
              (status = 202, body = rialto_engine::refunds::RefundObject),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn fund_refund(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    // `Idempotency-Key` is handled by the `/v1` layer (`idempotency_layer`): a proof or a
    // relay is deduplicated by its own transaction, so a replayed request repeats nothing.
    caller.require_secret()?;
    let result: Result<Response, WriteError> = async {
        let params: FundRefundParams = parse_json(&body)?;
        let refund = own_refund(&state, &caller, &id).await?;
        let now = state.clock.now_ms();
        match (params.transaction_hash, params.authorization) {
            (Some(tx_hash), None) => {
                let signature =
                    rialto_engine::chain::proof::signature_bytes(params.signature.as_deref())?;
                let funded = funding::fund_with_transfer(
                    &state,
                    &refund,
                    &tx_hash.to_ascii_lowercase(),
                    &signature,
                    None,
                    now,
                )
                .await?;
                Ok(json_response(
                    StatusCode::OK,
                    crate::refunds::refund_json(&state, &funded),
                ))
            }
            (None, Some(auth)) => {
                awaiting_funds(&refund)?;
                relay_funding(&state, &refund, &auth).await?;
                Ok(json_response(
                    StatusCode::ACCEPTED,
                    crate::refunds::refund_json(&state, &refund),
                ))
            }
            _ => Err(ApiError::new(
                ErrorCode::ParameterInvalid,
                "Give either transaction_hash (with signature) or authorization.",
            )
            .param("transaction_hash")
            .into()),
        }
    }
    .await;
    finish(&state, result, None).await
}

fn parse_authorization(a: &FundingAuthorization) -> Result<Authorization, ApiError> {
    super::wallet_payments::parse_authorization_fields(
        super::wallet_payments::AuthorizationFields {
            from: &a.from,
            to: &a.to,
            value: &a.value,
            valid_after: &a.valid_after,
            valid_before: &a.valid_before,
            nonce: &a.nonce,
        },
    )
}

/// Checks the merchant's authorization (signed by the payment's settlement address, to the
/// treasury, exactly the refund's amount, the refund's nonce) and relays it once, as the leg
/// `(FUNDING_RELAY, re_…)`; the refund worker funds the refund when it confirms.
async fn relay_funding(
    state: &AppState,
    refund: &Refund,
    params: &FundingAuthorization,
) -> Result<(), ApiError> {
    let reference = refund.id.to_string();
    if state
        .store
        .get_chain_transfer(FUNDING_RELAY, &reference)
        .await?
        .is_some()
    {
        return Err(ApiError::new(
            ErrorCode::AuthorizationAlreadyRelayed,
            "An authorization funding this refund was already relayed.",
        ));
    }
    let auth = parse_authorization(params)?;
    let signature = alloy::hex::decode(params.signature.trim_start_matches("0x"))
        .ok()
        .filter(|bytes| bytes.len() == 65)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AuthorizationInvalidSignature,
                "signature must be 0x and 130 hex digits (r, s, v).",
            )
            .param("signature")
        })?;
    let (asset, chain, treasury) = funding::treasury_of(state, refund.livemode, &refund.asset)?;
    let intent = state
        .store
        .get_intent_unscoped(&refund.payment_intent_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"a refund without its payment intent"))?;
    if auth.from != intent.settlement.address {
        return Err(ApiError::new(
            ErrorCode::FundingSenderMismatch,
            "A refund is funded from the payment's settlement address; sign with it.",
        )
        .param("from"));
    }
    let units = units_of(refund, &asset)?;
    if auth.value != U256::from(units) {
        return Err(invalid(
            "value",
            "exactly the refund's amount in base units",
        ));
    }
    let (hot, relayer_address) = relayer(chain)?;
    let evm = evm_of(state, chain)?;
    let expected = ExpectedPayment {
        chain_id: evm.chain_id,
        token: asset.contract,
        to: treasury,
        min_value: U256::from(units),
        nonce: eip3009::intent_nonce(&reference, evm.chain_id, &asset.contract),
        relayer: relayer_address,
    };
    let now_secs = u64::try_from(state.clock.now_ms() / 1000).unwrap_or_default();
    let calldata = check_authorization(evm, &expected, &auth, &signature, None, now_secs)
        .await
        .map_err(authorization_error)?;
    let journal = StoreJournal(state.store.as_ref());
    let request = LegRequest {
        purpose: FUNDING_RELAY,
        reference,
        payment_intent_id: Some(refund.payment_intent_id),
        from: hot.clone(),
        action: LegAction::Call {
            to: asset.contract,
            value: 0,
            data: calldata.to_vec(),
            moves: Some((asset.contract, units)),
        },
        fees: FeeLimits::default(),
    };
    chain
        .rail(&journal)
        .send(&request, state.clock.now_ms())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, refund = %refund.id, "relaying a funding authorization failed");
            ApiError::new(
                ErrorCode::ChainUnavailable,
                "The authorization could not be relayed; retry shortly.",
            )
        })?;
    Ok(())
}

/// The EIP-3009 typed data that funds this refund from the payment's settlement address.
#[utoipa::path(
    get, path = "/v1/refunds/{id}/authorization_request", operation_id = "refund_authorization_request",
    tag = "refunds", params(("id" = String, Path, description = "re_…")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn authorization_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let refund = own_refund(&state, &caller, &id).await?;
    awaiting_funds(&refund)?;
    let (asset, chain, treasury) = funding::treasury_of(&state, refund.livemode, &refund.asset)?;
    let evm = evm_of(&state, chain)?;
    let provider = rialto_evm::connect(evm.rpc_url())
        .await
        .map_err(unavailable)?;
    let domain = eip3009::read_domain_cached(&provider, evm.rpc_url(), &asset.contract)
        .await
        .map_err(unavailable)?;
    let nonce = eip3009::intent_nonce(&refund.id.to_string(), evm.chain_id, &asset.contract);
    let body = json!({
        "object": "authorization_request",
        "refund": refund.id.to_string(),
        "primary_type": "TransferWithAuthorization",
        "domain": {
            "name": domain.name, "version": domain.version,
            "chainId": evm.chain_id, "verifyingContract": asset.contract.to_string(),
        },
        "message": {
            "to": treasury.to_string(),
            "value": units_of(&refund, &asset)?.to_string(),
            "validAfter": "0",
            "validBefore": ((state.clock.now_ms() / 1000) + 3600).to_string(),
            "nonce": format!("{nonce:#x}"),
        },
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpParams {
    /// The reserve's asset: CAIP-19, or a code with `chain`.
    pub asset: String,
    pub chain: Option<String>,
    /// A transfer of `asset` to the chain's treasury (`GET /v1/refund_reserves` shows it).
    #[schema(pattern = "^0x[0-9a-fA-F]{64}$")]
    pub transaction_hash: String,
    /// The sender's EIP-191 signature (EIP-1271 for a contract wallet) of
    /// `Rialto: fund merchant:<merchant id>:refund_reserve with <transaction_hash in lower
    /// case>`: it names whose reserve the transfer tops up.
    pub signature: Option<String>,
}

fn reserve_json(
    asset: &rialto_core::asset::Asset,
    balance: rust_decimal::Decimal,
    pay_to: Option<String>,
) -> serde_json::Value {
    json!({
        "object": "refund_reserve",
        "asset": asset.code,
        "asset_id": asset.id.to_string(),
        "chain_id": asset.id.chain().to_string(),
        "available": balance.normalize().to_string(),
        "pay_to": pay_to,
    })
}

/// Top up the refund reserve of an asset with a proven transfer to the treasury; refunds the
/// balance cannot cover draw on it. The whole amount the proven sender sent is credited.
#[utoipa::path(
    post, path = "/v1/refund_reserves/top_ups", operation_id = "top_up_refund_reserve",
    tag = "refunds",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = TopUpParams,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn top_up(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    // `Idempotency-Key`: the `/v1` layer (a top-up is deduplicated by its transaction too).
    caller.require_secret()?;
    let result: Result<Response, WriteError> = async {
        let params: TopUpParams = parse_json(&body)?;
        let asset = super::money::resolve_asset(&state, &params.asset, params.chain.as_deref())?;
        let signature = rialto_engine::chain::proof::signature_bytes(params.signature.as_deref())?;
        let now = state.clock.now_ms();
        let topped = funding::top_up_reserve(
            &state,
            (caller.merchant_id, caller.livemode),
            &asset.id.to_string(),
            &params.transaction_hash.to_ascii_lowercase(),
            &signature,
            now,
        )
        .await?;
        let mut body = reserve_json(&asset, topped.balance, Some(topped.funding.to_address));
        body["top_up"] = json!({
            "transaction_hash": topped.funding.tx_hash,
            "from": topped.funding.from_address,
            "amount": topped.funding.amount.normalize().to_string(),
        });
        Ok(json_response(StatusCode::OK, body.to_string()))
    }
    .await;
    finish(&state, result, None).await
}

/// The merchant's refund reserves: one per asset (so per asset and chain) of the chains this
/// gateway serves, with the treasury address to top it up.
#[utoipa::path(
    get, path = "/v1/refund_reserves", operation_id = "list_refund_reserves", tag = "refunds",
    responses((status = 200, description = "`{object: list, data: [refund_reserve], has_more}`"),
              (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let mut data = Vec::new();
    for asset in state.registry.assets() {
        let chain = asset.id.chain().to_string();
        if state.chains.get(caller.livemode, &chain).is_none() {
            continue;
        }
        let id = asset.id.to_string();
        let balance =
            funding::reserve_balance(&state, (caller.merchant_id, caller.livemode), &id).await?;
        let pay_to = funding::treasury_of(&state, caller.livemode, &id)
            .ok()
            .map(|(_, _, t)| t.to_string());
        data.push(reserve_json(asset, balance, pay_to));
    }
    let body = json!({"object": "list", "data": data, "has_more": false,
                      "url": "/v1/refund_reserves"});
    Ok(json_response(StatusCode::OK, body.to_string()))
}
