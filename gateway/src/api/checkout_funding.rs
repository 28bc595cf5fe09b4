//! SmartFunding on the hosted checkout page: the quotes the router offers for paying the
//! session's intent from the shopper's other tokens and chains, accepting one, and reporting
//! the wallet transfer that funds it.
//!
//! The sources are the gateway's own: every EVM chain it serves in the intent's mode and every
//! stablecoin the router routes there (`CHAIN_ASSETS`, as the asset registry has them), minus
//! the asset the intent settles in on its own chain (paid one for one, no quote needed). The
//! page's wallet is an EIP-1193 one, hence EVM only. Each source is quoted through the same
//! `/v1` handler a merchant's client calls; a source with no route is left out, not an error.
//!
//! Accepting and funding call `/v1/quotes/{id}/accept` and `/v1/route_executions/{id}/fund`
//! with the session's client secret, like the page's other endpoints (`checkout_page`): a
//! quote or execution of another intent is simply not found. The funding report needs the
//! payer's `personal_sign` proof, as on the API.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::body::RawBody;
use super::checkout_page::{scrub, with_headers, Shopper};
use super::extract::Path;
use super::{json_response, AppState};
use crate::error::ApiError;
use crate::routing::onchain::edges::CHAIN_ASSETS;
use crate::routing::onchain::{to_units, token_in};

/// A wallet source the router may route from: chain (CAIP-2 and alias) and token symbol.
struct WalletSource<'a> {
    caip2: &'a str,
    alias: &'a str,
    symbol: &'static str,
}

fn wallet_sources<'a>(state: &'a AppState, shopper: &Shopper) -> Vec<WalletSource<'a>> {
    let intent = &shopper.intent;
    let settles_on = intent.settlement.asset.id.chain().to_string();
    let settles_in = intent.settlement.asset.symbol.to_ascii_uppercase();
    let direct = crate::chain::one_for_one(intent);
    let mut sources = Vec::new();
    for chain in state.chains.iter() {
        if chain.livemode != intent.livemode || !chain.caip2.starts_with("eip155:") {
            continue;
        }
        for symbol in CHAIN_ASSETS {
            if direct && chain.caip2 == settles_on && symbol == settles_in {
                continue;
            }
            if token_in(&state.registry, &chain.caip2, symbol).is_ok() {
                sources.push(WalletSource {
                    caip2: &chain.caip2,
                    alias: &chain.alias,
                    symbol,
                });
            }
        }
    }
    sources
}

async fn json_of(response: Response) -> Option<Value> {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Decimal::MAX)
}

/// `POST /checkout/{token}/funding_quotes`: every quote the router offers for this intent from
/// the shopper's wallet on another chain or in another token, cheapest first. Each carries
/// `source_chain` (the chain's alias) beside the quote's own fields (`payer_amount`,
/// `total_fee_usd`, `expires_at`, ...).
pub async fn funding_quotes(
    State(state): State<AppState>,
    shopper: Shopper,
) -> Result<Response, ApiError> {
    shopper.open()?;
    // Once funds arrived (or for an intent that needs a conversion) there is nothing to
    // offer: say so rather than answer an empty list.
    super::wallet_payments::awaiting(&shopper.intent)?;
    let id = shopper.intent.id.to_string();
    let mut offers: Vec<Value> = Vec::new();
    for source in wallet_sources(&state, &shopper) {
        let request = json!({"source": {"type": "wallet", "chain": source.caip2,
            "asset": source.symbol.to_ascii_lowercase()}});
        let body = shopper.with_secret(request.to_string().as_bytes())?;
        let quoted = super::routing::create(
            State(state.clone()),
            shopper.caller(),
            Path(id.clone()),
            body,
        )
        .await;
        let list = match quoted {
            Ok(answer) => json_of(answer).await,
            Err(err) => {
                // No route from there (or no price to check it against): not an offer.
                tracing::debug!(source = source.caip2, asset = source.symbol, error = ?err, "no checkout quote");
                None
            }
        };
        let data = list
            .and_then(|mut l| l.get_mut("data").map(Value::take))
            .and_then(|d| match d {
                Value::Array(items) => Some(items),
                _ => None,
            })
            .unwrap_or_default();
        for mut quote in data {
            if let Some(object) = quote.as_object_mut() {
                object.insert("source_chain".into(), source.alias.into());
            }
            offers.push(quote);
        }
    }
    offers.sort_by_key(|q| decimal(&q["total_fee_usd"]));
    let list = json!({"object": "list", "data": offers, "has_more": false});
    let response = json_response(StatusCode::OK, list.to_string());
    Ok(with_headers(response, "application/json", "no-store"))
}

/// Adds what a browser wallet needs to pay `pay_to` without arithmetic of its own: the
/// amount in the token's base units (exact, from the registry's decimals) and the EIP-155
/// chain id.
fn with_wallet_terms(state: &AppState, mut answer: Value) -> Value {
    let Some(pay_to) = answer
        .get_mut("execution")
        .and_then(|e| e.get_mut("pay_to"))
        .and_then(Value::as_object_mut)
    else {
        return answer;
    };
    let chain = pay_to.get("chain").and_then(Value::as_str).unwrap_or("");
    let asset = pay_to.get("asset").and_then(Value::as_str).unwrap_or("");
    let units = token_in(&state.registry, chain, asset)
        .ok()
        .zip(pay_to.get("amount").and_then(Value::as_str))
        .and_then(|(token, amount)| to_units(amount.parse().ok()?, token.decimals).ok());
    let evm_chain_id = chain
        .strip_prefix("eip155:")
        .and_then(|n| n.parse::<u64>().ok());
    if let (Some(units), Some(id)) = (units, evm_chain_id) {
        pay_to.insert("amount_units".into(), units.to_string().into());
        pay_to.insert("evm_chain_id".into(), id.into());
    }
    answer
}

/// `POST /checkout/{token}/quotes/{id}/accept`: accept one of this intent's quotes for the
/// payer's wallet address (`{"payer_address": "0x…"}`); the answer's `execution.pay_to` says
/// where to send what, with `amount_units` and `evm_chain_id` added.
pub async fn accept(
    State(state): State<AppState>,
    shopper: Shopper,
    uri: Uri,
    Path((_token, quote)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let body = shopper.with_secret(&body)?;
    // No Idempotency-Key: a second accept is refused (`quote_already_accepted`), which the
    // page reads as "already accepted".
    let answer = super::routing::accept(
        State(state.clone()),
        shopper.caller(),
        HeaderMap::new(),
        uri,
        Path(quote),
        body,
    )
    .await?;
    let status = answer.status();
    let value = json_of(answer)
        .await
        .ok_or_else(|| ApiError::internal(&"unreadable accept answer"))?;
    let value = with_wallet_terms(&state, value);
    let response = json_response(status, value.to_string());
    Ok(with_headers(
        scrub(response).await,
        "application/json",
        "no-store",
    ))
}

/// `POST /checkout/{token}/route_executions/{id}/fund`: report the wallet transfer that
/// funds the accepted quote (`{"tx_hash", "signature"}`, the payer's proof).
pub async fn fund(
    State(state): State<AppState>,
    shopper: Shopper,
    Path((_token, execution)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let body = shopper.with_secret(&body)?;
    let answer =
        super::executions::fund(State(state), shopper.caller(), Path(execution), body).await?;
    Ok(with_headers(
        scrub(answer).await,
        "application/json",
        "no-store",
    ))
}

/// The exchanges the page offers for paying this intent from an exchange account: the
/// configured venues of the intent's mode (in test mode the sandbox exchange speaking each
/// venue's API), for an intent settling to an EVM address, where a venue withdrawal can pay
/// it one for one. Empty where the intent does not allow it.
pub(super) fn exchange_venues(state: &AppState, shopper: &Shopper) -> Vec<&'static str> {
    let intent = &shopper.intent;
    let evm = matches!(
        intent.settlement.address,
        rialto_core::address::Address::Evm(_)
    );
    if !evm || !crate::chain::one_for_one(intent) || !state.venues.contains_key(&intent.livemode) {
        return Vec::new();
    }
    crate::routing::market::MARKET_VENUES.to_vec()
}

/// `POST /checkout/{token}/exchange_accounts`: pay from the shopper's exchange account
/// (`{"venue", "api_key", "api_secret", "withdraw_key"}`), through
/// `/v1/payment_intents/{id}/exchange_accounts`. The credentials are sealed, never returned,
/// and erased once the payment ends (the page never sets `keep_credentials`).
pub async fn exchange_account(
    State(state): State<AppState>,
    shopper: Shopper,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    shopper.open()?;
    if exchange_venues(&state, &shopper).is_empty() {
        return Err(ApiError::new(
            crate::error::ErrorCode::CheckoutSessionUnexpectedState,
            "This payment cannot be paid from an exchange account.",
        ));
    }
    let body = shopper.with_secret(&body)?;
    let id = shopper.intent.id.to_string();
    let answer =
        super::exchange_accounts::link(State(state), shopper.caller(), Path(id), body).await?;
    Ok(with_headers(
        scrub(answer).await,
        "application/json",
        "no-store",
    ))
}
