//! `GET /v1/balance` and `GET /v1/balance_transactions` (Stripe-like): a merchant's position by
//! asset, computed exactly from the ledger's entries, and the ledger transactions that moved it.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::body::parse_query;
use super::{json_response, parse_limit, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::ledger::{merchant_balance, merchant_settled, Posting};

fn amounts(map: BTreeMap<String, Decimal>) -> Vec<serde_json::Value> {
    map.into_iter()
        .filter(|(_, amount)| !amount.is_zero())
        .map(|(asset, amount)| json!({"asset": asset, "amount": amount.normalize().to_string()}))
        .collect()
}

/// Sums the entries of `account` per asset.
fn position(postings: &[Posting], account: &crate::ledger::Account) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    for e in postings
        .iter()
        .flat_map(|p| &p.entries)
        .filter(|e| &e.account == account)
    {
        *out.entry(e.asset.clone()).or_default() += e.amount;
    }
    out
}

/// The merchant's balance by asset: `available` is held by Rialto for the merchant,
/// `reserved` is on its way out (refunds and payouts in flight), `settled` is what reached the
/// merchant's own address.
#[utoipa::path(
    get, path = "/v1/balance", operation_id = "get_balance", tag = "balance",
    responses((status = 200, description = "`{object: balance, available: [{asset, amount}], reserved: [...], settled: [...]}`"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let postings = state
        .store
        .merchant_postings(&caller.merchant_id, caller.livemode)
        .await?;
    let m = &caller.merchant_id;
    let mut reserved = position(&postings, &crate::ledger::refunds_pending(m));
    for (asset, amount) in position(&postings, &crate::ledger::payouts_pending(m)) {
        *reserved.entry(asset).or_default() += amount;
    }
    let body = json!({
        "object": "balance",
        "livemode": caller.livemode,
        "available": amounts(position(&postings, &merchant_balance(m))),
        "reserved": amounts(reserved),
        "settled": amounts(position(&postings, &merchant_settled(m))),
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListBalanceTransactionsParams {
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// A balance transaction id (`ltx_…`): the page after it.
    starting_after: Option<String>,
}

/// The ledger transactions of the merchant, newest first: `type` (`payment`, `settlement`, …),
/// `source` (the payment intent), and per asset the net change of the merchant's available
/// and settled amounts.
#[utoipa::path(
    get, path = "/v1/balance_transactions", operation_id = "list_balance_transactions", tag = "balance",
    params(ListBalanceTransactionsParams),
    responses((status = 200, description = "`{object: list, data: [balance_transaction], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let params: ListBalanceTransactionsParams = parse_query(uri.query())?;
    let limit = usize::try_from(parse_limit(params.limit)?).unwrap_or(10);
    let mut postings = state
        .store
        .merchant_postings(&caller.merchant_id, caller.livemode)
        .await?;
    postings.reverse();
    let start = match &params.starting_after {
        None => 0,
        Some(id) => postings
            .iter()
            .position(|p| &p.id == id)
            .map(|i| i + 1)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidCursor,
                    "starting_after must be a balance transaction id.",
                )
                .param("starting_after")
            })?,
    };
    let balance = merchant_balance(&caller.merchant_id);
    let settled = merchant_settled(&caller.merchant_id);
    let page: Vec<serde_json::Value> = postings
        .iter()
        .skip(start)
        .take(limit)
        .map(|p| {
            let one = std::slice::from_ref(p);
            json!({
                "object": "balance_transaction",
                "id": p.id,
                "type": p.kind,
                "source": p.reference,
                "created": p.created_at_ms / 1000,
                "available": amounts(position(one, &balance)),
                "settled": amounts(position(one, &settled)),
            })
        })
        .collect();
    let has_more = postings.len() > start + page.len();
    let body = json!({"object": "list", "data": page, "has_more": has_more, "url": "/v1/balance_transactions"});
    Ok(json_response(StatusCode::OK, body.to_string()))
}
