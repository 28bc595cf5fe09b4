//! Redemptions of the treasury's deposit tokens at the issuing bank (issue 17;
//! docs/deposit-tokens.md, "Redemption"): `POST /v1/operator/issuer/redemptions` redeems
//! `amount` of `asset` held by the treasury's allow-listed wallet on `chain` (the bank burns
//! them and credits Rialto's USD float with amount − fee), `GET` lists and reads them.
//! Operator keys only: a merchant's key is refused with `operator_key_required`. Retry with
//! the same `Idempotency-Key`: the first response is replayed and nothing moves again.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rialto_engine::issuer_redemption::redeem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Operator;
use super::body::{parse_json, parse_query, RawBody};
use super::extract::Path;
use super::{json_response, parse_limit, serialize, AppState};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::issuer_redemption::IssuerRedemption;

/// A redemption of deposit tokens at the issuing bank (`sandbox-bank` on the devnet: a
/// stand-in, not a bank).
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerRedemptionObject {
    #[schema(example = "issuer_redemption")]
    object: &'static str,
    /// `leg_…`: also the bank's request reference.
    id: String,
    /// `pending`, `completed` (burned on chain, credited at the bank, booked), `failed` (the
    /// bank refused: nothing moved) or `unknown` (not confirmed as asked; never re-sent).
    status: &'static str,
    livemode: bool,
    /// The issuing bank.
    issuer: String,
    #[schema(example = "JPMD-DEV")]
    asset: String,
    /// CAIP-19 of the token.
    asset_id: String,
    /// CAIP-2.
    chain: String,
    /// The treasury's wallet the tokens are burned from.
    wallet: String,
    #[schema(example = "25.00")]
    amount: String,
    /// The bank's redemption fee (USD).
    fee: Option<String>,
    /// USD credited to Rialto's float at the bank: amount − fee.
    usd_credited: Option<String>,
    /// The burn (a `Transfer` to the zero address, in the bank's transaction).
    tx_hash: Option<String>,
    block_number: Option<i64>,
    reason: Option<String>,
    created_by: String,
    /// Unix seconds.
    created: i64,
    updated: i64,
}

impl IssuerRedemptionObject {
    fn new(row: &IssuerRedemption) -> Self {
        let text = |d: Option<Decimal>| d.map(|v| v.to_string());
        Self {
            object: "issuer_redemption",
            id: row.id.clone(),
            status: row.status.as_str(),
            livemode: row.livemode,
            issuer: row.issuer.clone(),
            asset: row.asset.clone(),
            asset_id: row.asset_id.clone(),
            chain: row.chain.clone(),
            wallet: row.wallet.clone(),
            amount: row.amount.to_string(),
            fee: text(row.fee),
            usd_credited: text(row.usd_credited),
            tx_hash: row.tx_hash.clone(),
            block_number: row.block_number,
            reason: row.reason.clone(),
            created_by: row.created_by.clone(),
            created: row.created_at_ms / 1000,
            updated: row.updated_at_ms / 1000,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerRedemptionList {
    #[schema(example = "list")]
    object: &'static str,
    data: Vec<IssuerRedemptionObject>,
    has_more: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIssuerRedemptionParams {
    /// The deposit token's symbol (`JPMD-DEV` on the devnet).
    #[schema(example = "JPMD-DEV")]
    asset: String,
    /// The chain (CAIP-2 or alias) the treasury holds it on.
    #[schema(example = "eip155:31337")]
    chain: String,
    /// Whole tokens, a decimal string (the bank redeems whole cents).
    #[schema(example = "25.00")]
    amount: String,
    /// `true` for live mode; test mode by default.
    #[serde(default)]
    livemode: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IssuerRedemptionListParams {
    /// `true` for live mode; test mode by default.
    #[param(value_type = Option<bool>)]
    livemode: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

/// Redeem the treasury's deposit tokens at the issuing bank (operators).
#[utoipa::path(
    post, path = "/v1/operator/issuer/redemptions", operation_id = "create_issuer_redemption",
    tag = "operator",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = CreateIssuerRedemptionParams,
    responses((status = 200, body = IssuerRedemptionObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    operator: Operator,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: CreateIssuerRedemptionParams = parse_json(&body)?;
    let amount = params
        .amount
        .parse::<Decimal>()
        .ok()
        .filter(|a| *a > Decimal::ZERO)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ParameterInvalid,
                "amount must be a positive decimal string.",
            )
            .param("amount")
        })?;
    let by = format!("operator:{}", operator.key.name);
    let row = redeem(
        &state,
        params.livemode,
        &params.asset,
        &params.chain,
        amount,
        &by,
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        serialize(&IssuerRedemptionObject::new(&row))?,
    ))
}

/// List redemptions at the issuing bank, newest first (operators).
#[utoipa::path(
    get, path = "/v1/operator/issuer/redemptions", operation_id = "list_issuer_redemptions",
    tag = "operator", params(IssuerRedemptionListParams),
    responses((status = 200, body = IssuerRedemptionList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    _operator: Operator,
    uri: Uri,
) -> Result<Response, ApiError> {
    let params: IssuerRedemptionListParams = parse_query(uri.query())?;
    let livemode = match params.livemode.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(
                ApiError::new(ErrorCode::ParameterInvalid, "Invalid livemode.").param("livemode"),
            )
        }
    };
    let limit = parse_limit(params.limit)?;
    let mut rows = state
        .store
        .list_issuer_redemptions(livemode, limit + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let list = IssuerRedemptionList {
        object: "list",
        data: rows.iter().map(IssuerRedemptionObject::new).collect(),
        has_more,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

/// Retrieve a redemption at the issuing bank (operators).
#[utoipa::path(
    get, path = "/v1/operator/issuer/redemptions/{id}", operation_id = "retrieve_issuer_redemption",
    tag = "operator", params(("id" = String, Path)),
    responses((status = 200, body = IssuerRedemptionObject), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    _operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(row) = state.store.get_issuer_redemption(&id).await? else {
        return Err(ApiError::missing("issuer redemption", &id, "id"));
    };
    Ok(json_response(
        StatusCode::OK,
        serialize(&IssuerRedemptionObject::new(&row))?,
    ))
}
