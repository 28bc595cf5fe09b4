//! Solana Pay transaction requests (<https://docs.solanapay.com/spec>): the wallet opens the
//! intent's `solana:https://…/solana_pay/{id}` link, `GET`s the label and icon to show, then
//! `POST`s `{"account": <payer>}` and receives the transaction to sign: `transferChecked` of
//! exactly the intent's amount to its settlement address (its token account created first if
//! missing), naming the intent's reference key so the watcher binds the payment
//! (`engine::chain::reference`), the payer as fee payer and only signer.
//!
//! Shopper-facing, so no API key: the intent id in the link is the whole capability, and it
//! only lets someone be handed a transaction that pays the merchant. Only intents that are
//! open (awaiting funds, not expired) and carry a reference answer; a wrong id, a closed
//! intent or a malformed account gets the error object and the chain is not touched. Nothing
//! is stored: the same request may be repeated freely (which is why no `Idempotency-Key` is
//! needed; the payment itself is found by its reference, once).

use std::net::IpAddr;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use rialto_connectors::chain::ChainError;
use rialto_core::address::Address;
use rialto_core::id::PaymentIntentId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rialto_core::ChainNamespace;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::extract::Path;
use super::limits::{client_address, Presented};
use super::{json_response, serialize, AppState};
use crate::chain::Chain;
use crate::error::{ApiError, ErrorCode};
use crate::keys::hash_key;
use crate::store::KeyKind;

/// The icon wallets show beside the label (the spec asks for an SVG, PNG or WebP).
const ICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#1f3b57"/><path d="M18 46V18h16a9 9 0 0 1 0 18H26l12 10" fill="none" stroke="#fff" stroke-width="6" stroke-linejoin="round"/></svg>"##;

/// `GET`: what the wallet shows before it asks for the transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionRequestInfo {
    /// The merchant's name.
    pub label: String,
    /// Absolute URL of an SVG icon.
    pub icon: String,
}

/// `POST` body: the payer's account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionRequestParams {
    /// The payer's public key, base58.
    #[schema(pattern = "^[1-9A-HJ-NP-Za-km-z]{32,44}$")]
    pub account: String,
}

/// `POST` answer: the transaction to sign.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionRequestAnswer {
    /// Base64 of the serialized, unsigned transaction (fee payer: `account`).
    pub transaction: String,
    /// What the wallet shows the payer.
    pub message: String,
}

/// The open intent behind a link, with its chain and reference.
struct Open {
    intent: PaymentIntent,
    reference: Address,
}

fn unknown() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceMissing,
        "No such Solana Pay request: the link is wrong or no longer exists.",
    )
}

/// The caller's address, once it passed the per-address rate limit.
#[derive(Debug)]
pub struct Wallet(Option<IpAddr>);

impl FromRequestParts<AppState> for Wallet {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = client_address(parts);
        state.limits.check_address(client)?;
        Ok(Wallet(client))
    }
}

/// The open intent `id` names. An id that names no such request counts as a failed key
/// lookup against the caller's address (guessing is throttled like guessing API keys); a known
/// one is rate limited like a publishable key of its own, so one link cannot be used to hammer
/// the chain's RPC.
async fn open_request(state: &AppState, wallet: &Wallet, id: &str) -> Result<Open, ApiError> {
    let found = match id.parse::<PaymentIntentId>() {
        Ok(id) => state.store.get_intent_unscoped(&id).await?,
        Err(_) => None,
    };
    let Some((intent, reference)) = found.and_then(|i| i.payment_reference.map(|r| (i, r))) else {
        state.limits.lookup_failed(wallet.0);
        return Err(unknown());
    };
    let hash = hash_key(&format!("solana_pay:{}", intent.id));
    state.limits.check(
        Presented::Api {
            kind: KeyKind::Publishable,
            hash: &hash,
        },
        wallet.0,
    )?;
    let now = state.clock.now_ms();
    // An intent priced in another unit than its settlement asset is a number of tokens only
    // once its rate is locked (on the intent's payer-side steps).
    if !crate::chain::payable(&intent) {
        return Err(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            "This payment needs its rate locked or a quote, not a Solana Pay transfer yet.",
        ));
    }
    if intent.status != PaymentStatus::AwaitingFunds || now > intent.expires_at_ms {
        return Err(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            "This payment is no longer open: it takes no new payment.",
        ));
    }
    Ok(Open { intent, reference })
}

fn chain_of<'a>(state: &'a AppState, intent: &PaymentIntent) -> Result<&'a Chain, ApiError> {
    let caip2 = intent.settlement.asset.id.chain().to_string();
    state.chains.get(intent.livemode, &caip2).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ChainUnavailable,
            format!("This gateway watches no RPC for {caip2}."),
        )
    })
}

/// Where this gateway is reached, for the icon's absolute URL.
fn base(state: &AppState) -> String {
    let configured = state.config.server.public_url.trim_end_matches('/');
    if configured.is_empty() {
        format!("http://{}", state.config.server.listen)
    } else {
        configured.to_owned()
    }
}

/// The label and icon a wallet shows for an open intent's Solana Pay transaction request.
#[utoipa::path(
    get, path = "/solana_pay/{id}", operation_id = "get_solana_pay_transaction_request",
    tag = "solana_pay", params(("id" = String, Path, description = "The payment intent")),
    responses((status = 200, body = TransactionRequestInfo), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)),

)]
pub async fn info(
    State(state): State<AppState>,
    wallet: Wallet,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let open = open_request(&state, &wallet, &id).await?;
    let merchant = state.store.get_merchant(&open.intent.merchant_id).await?;
    let answer = TransactionRequestInfo {
        label: merchant
            .map(|m| m.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Rialto".to_owned()),
        icon: format!("{}/solana_pay/icon.svg", base(&state)),
    };
    Ok(json_response(StatusCode::OK, serialize(&answer)?))
}

/// The unsigned transaction paying an open intent exactly, for `account` to sign and send.
#[utoipa::path(
    post, path = "/solana_pay/{id}", operation_id = "create_solana_pay_transaction",
    tag = "solana_pay", params(("id" = String, Path, description = "The payment intent")),
    request_body = TransactionRequestParams,
    responses((status = 200, body = TransactionRequestAnswer), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)),

)]
pub async fn transaction(
    State(state): State<AppState>,
    wallet: Wallet,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: TransactionRequestParams = parse_json(&body)?;
    let payer = Address::parse(params.account.trim(), ChainNamespace::Solana).map_err(|_| {
        ApiError::new(
            ErrorCode::ParameterInvalid,
            "account must be a Solana public key (base58, 32 bytes).",
        )
        .param("account")
    })?;
    let Open { intent, reference } = open_request(&state, &wallet, &id).await?;
    if payer == intent.settlement.address {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "account is the merchant's own address; it cannot pay itself.",
        )
        .param("account"));
    }
    let chain = chain_of(&state, &intent)?;
    let asset = &intent.settlement.asset;
    let amount = crate::chain::due(&intent).ok_or_else(|| ApiError::internal(&"no amount due"))?;
    let units = amount.to_base_units().map_err(|e| ApiError::internal(&e))?;
    let transaction = chain
        .node
        .payment_transaction(
            &payer,
            &asset.contract,
            &intent.settlement.address,
            units,
            &reference,
        )
        .await
        .map_err(chain_error)?;
    let answer = TransactionRequestAnswer {
        transaction,
        message: format!(
            "Pay {} {}",
            amount.to_amount_string(),
            asset.code.to_uppercase()
        ),
    };
    Ok(json_response(StatusCode::OK, serialize(&answer)?))
}

fn chain_error(err: ChainError) -> ApiError {
    match err {
        ChainError::Invalid(reason) => ApiError::new(
            ErrorCode::ParameterInvalid,
            format!("No transaction can be built for that account: {reason}."),
        )
        .param("account"),
        other => {
            tracing::warn!(error = %other, "chain unavailable while building a Solana Pay transaction");
            ApiError::new(
                ErrorCode::ChainUnavailable,
                "The chain could not be reached to build the transaction; retry shortly.",
            )
        }
    }
}

/// `GET /solana_pay/icon.svg`.
pub async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
        .into_response()
}
