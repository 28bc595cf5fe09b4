//! `/v1/checkout_sessions`: a hosted page a merchant sends a shopper to (secret key only).
//!
//! A session pays one payment intent: one it creates from `amount` and `currency`, or an
//! existing one still awaiting funds. Its `url` carries a random token, the shopper's only
//! capability (see `checkout_page`); the session and intent ids never appear in it. The
//! session expires with its intent; `complete` and `expired` are read from the intent.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use rialto_core::id::{CheckoutSessionId, PaymentIntentId};
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rialto_core::money::Money;
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::extract::Path;
use super::payment_intents::{
    build_intent, intent_event, CreatePaymentIntentParams, SettlementParams,
};
use super::{json_response, parse_id, serialize, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::checkout::{
    checkout_token, CheckoutLocale, CheckoutSession, CheckoutSessionState, LineItem,
};

const MAX_LINE_ITEMS: usize = 50;
const MAX_NAME_LEN: usize = 200;
const MAX_URL_LEN: usize = 2048;

/// One line of what the shopper buys; shown on the page, not summed into the amount.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemParams {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        example = "Coffee beans, 1 kg"
    )]
    pub name: String,
    #[schema(minimum = 1, maximum = 10000, example = 2)]
    pub quantity: u32,
    /// Decimal string in whole units of the session's currency.
    #[schema(pattern = r"^[0-9]{1,18}(\.[0-9]{1,18})?$", example = "12.50")]
    pub unit_amount: String,
}

/// Locales the page speaks.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    En,
    De,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCheckoutSessionParams {
    /// With `currency`: the intent to create. Leave both out to pay `payment_intent`.
    #[schema(example = "25.00")]
    pub amount: Option<String>,
    #[schema(example = "usd")]
    pub currency: Option<String>,
    /// An existing intent (`pi_…`) of yours, still awaiting funds.
    pub payment_intent: Option<String>,
    /// Where to pay the merchant, for a new intent (defaults to the merchant's setting).
    pub settlement: Option<SettlementParams>,
    pub description: Option<String>,
    /// Seconds the shopper has, for a new intent; the session expires with it. 60 to 604800
    /// with the default `limits.min_expires_in_secs` / `limits.max_expires_in_secs`.
    #[schema(example = 3600, minimum = 60, maximum = 604_800)]
    pub expires_in: Option<i64>,
    /// Where the shopper goes after paying: https (http only on localhost in test mode).
    #[schema(
        max_length = 2048,
        pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$",
        example = "https://shop.example/thanks"
    )]
    pub success_url: String,
    /// Where the shopper goes on leaving without paying (same rules as `success_url`).
    #[schema(
        max_length = 2048,
        pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$",
        example = "https://shop.example/cart"
    )]
    pub cancel_url: String,
    #[schema(max_items = 50)]
    pub line_items: Option<Vec<LineItemParams>>,
    /// `en` (default) or `de`.
    pub locale: Option<Locale>,
}

/// A hosted checkout session.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutSessionObject {
    pub id: String,
    /// Always `checkout_session`.
    pub object: &'static str,
    pub livemode: bool,
    /// The page to send the shopper to; anyone holding it can pay this intent (and only it).
    pub url: String,
    /// `open`, `complete`, `expired` or `canceled`.
    #[schema(example = "open")]
    pub status: String,
    /// The intent's status (`awaiting_funds`, …, `succeeded`).
    pub payment_status: String,
    pub payment_intent: String,
    pub amount: String,
    pub currency: String,
    pub success_url: String,
    pub cancel_url: String,
    pub locale: Locale,
    pub line_items: Vec<LineItemParams>,
    /// Unix seconds; the intent's expiry.
    pub expires_at: i64,
    pub created: i64,
}

/// The session's status as merchants and the page see it.
pub(crate) fn session_status(session: &CheckoutSession, intent: &PaymentIntent) -> &'static str {
    match (session.state, intent.status) {
        (CheckoutSessionState::Canceled, _) | (_, PaymentStatus::Canceled) => "canceled",
        (_, PaymentStatus::Succeeded) => "complete",
        (_, PaymentStatus::Expired) => "expired",
        _ => "open",
    }
}

fn locale_of(l: CheckoutLocale) -> Locale {
    match l {
        CheckoutLocale::En => Locale::En,
        CheckoutLocale::De => Locale::De,
    }
}

/// Where this gateway is reached: `server.public_url`, or the request's own host (development).
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let configured = state.config.server.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or(&state.config.server.listen);
    format!("http://{host}")
}

pub(crate) fn session_object(
    session: &CheckoutSession,
    intent: &PaymentIntent,
    base: &str,
) -> CheckoutSessionObject {
    CheckoutSessionObject {
        id: session.id.to_string(),
        object: "checkout_session",
        livemode: session.livemode,
        url: format!("{base}/checkout/{}", session.token),
        status: session_status(session, intent).to_owned(),
        payment_status: intent.status.as_str().to_owned(),
        payment_intent: intent.id.to_string(),
        amount: intent.amount.to_amount_string(),
        currency: intent.amount.currency().code().to_owned(),
        success_url: session.success_url.clone(),
        cancel_url: session.cancel_url.clone(),
        locale: locale_of(session.locale),
        line_items: session
            .line_items
            .iter()
            .map(|l| LineItemParams {
                name: l.name.clone(),
                quantity: l.quantity,
                unit_amount: l.unit_amount.clone(),
            })
            .collect(),
        expires_at: intent.expires_at_ms / 1000,
        created: session.created_at_ms / 1000,
    }
}

/// A redirect target: https, or http on a loopback host in test mode; no credentials.
fn check_redirect(text: &str, param: &str, livemode: bool) -> Result<String, ApiError> {
    let invalid = |why: &str| {
        Err(ApiError::new(ErrorCode::ParameterInvalid, format!("{param} {why}.")).param(param))
    };
    if text.len() > MAX_URL_LEN {
        return invalid("must be at most 2048 characters");
    }
    let Ok(url) = Url::parse(text) else {
        return invalid("must be an absolute URL");
    };
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let allowed = match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => loopback && !livemode,
        _ => false,
    };
    if !allowed {
        return invalid("must be https (http only on localhost with a test key)");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return invalid("must not carry credentials");
    }
    Ok(url.to_string())
}

fn check_line_items(
    items: Option<Vec<LineItemParams>>,
    intent: &PaymentIntent,
) -> Result<Vec<LineItem>, ApiError> {
    let items = items.unwrap_or_default();
    let invalid =
        |msg: String, param: String| ApiError::new(ErrorCode::ParameterInvalid, msg).param(param);
    if items.len() > MAX_LINE_ITEMS {
        return Err(invalid(
            format!("line_items can have at most {MAX_LINE_ITEMS} entries."),
            "line_items".into(),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let len = item.name.chars().count();
            if len == 0 || len > MAX_NAME_LEN || item.name.chars().any(char::is_control) {
                return Err(invalid(
                    format!(
                        "line_items[{i}].name must be 1 to {MAX_NAME_LEN} printable characters."
                    ),
                    format!("line_items[{i}].name"),
                ));
            }
            if !(1..=10_000).contains(&item.quantity) {
                return Err(invalid(
                    format!("line_items[{i}].quantity must be from 1 to 10000."),
                    format!("line_items[{i}].quantity"),
                ));
            }
            let amount = Money::parse(&item.unit_amount, intent.amount.currency().clone())
                .map_err(|e| {
                    ApiError::new(
                        ErrorCode::InvalidAmount,
                        format!("Invalid unit_amount: {e}."),
                    )
                    .param(format!("line_items[{i}].unit_amount"))
                })?;
            Ok(LineItem {
                name: item.name,
                quantity: item.quantity,
                unit_amount: amount.to_amount_string(),
            })
        })
        .collect()
}

/// The intent a create request pays: a new one, or the caller's own awaiting funds.
async fn intent_for(
    state: &AppState,
    caller: &Caller,
    params: &mut CreateCheckoutSessionParams,
    now_ms: i64,
) -> Result<PaymentIntent, ApiError> {
    let new_intent = params.amount.is_some() || params.currency.is_some();
    match (params.payment_intent.take(), new_intent) {
        (Some(_), true) => Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "Give either payment_intent or amount and currency, not both.",
        )
        .param("payment_intent")),
        (Some(id), false) => {
            let intent_id: PaymentIntentId = parse_id(&id, "payment_intent")?;
            let intent = state
                .store
                .get_intent(&caller.merchant_id, caller.livemode, &intent_id)
                .await?
                .ok_or_else(|| ApiError::missing("payment_intent", &id, "payment_intent"))?;
            if intent.status != PaymentStatus::AwaitingFunds {
                return Err(ApiError::new(
                    ErrorCode::PaymentIntentUnexpectedState,
                    format!(
                        "This payment intent is {}; a checkout session needs one awaiting funds.",
                        intent.status
                    ),
                )
                .param("payment_intent"));
            }
            Ok(intent)
        }
        (None, _) => {
            let missing = |p: &str| {
                ApiError::new(
                    ErrorCode::ParameterMissing,
                    format!("Missing required param: {p} (or give payment_intent)."),
                )
                .param(p)
            };
            let create = CreatePaymentIntentParams {
                amount: params.amount.take().ok_or_else(|| missing("amount"))?,
                currency: params.currency.take().ok_or_else(|| missing("currency"))?,
                settlement: params.settlement.take(),
                description: params.description.take(),
                metadata: None,
                expires_in: params.expires_in.take(),
            };
            build_intent(state, caller, create, now_ms).await
        }
    }
}

/// Create a hosted checkout session.
#[utoipa::path(
    post, path = "/v1/checkout_sessions", operation_id = "create_checkout_session", tag = "checkout_sessions",
    request_body = CreateCheckoutSessionParams,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses(
        (status = 200, body = CheckoutSessionObject),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let mut params: CreateCheckoutSessionParams = parse_json(&body)?;
    let livemode = caller.livemode;
    let success_url = check_redirect(&params.success_url, "success_url", livemode)?;
    let cancel_url = check_redirect(&params.cancel_url, "cancel_url", livemode)?;
    let now = state.clock.now_ms();
    let existing = params.payment_intent.is_some();
    let intent = intent_for(&state, &caller, &mut params, now).await?;
    let line_items = check_line_items(params.line_items.take(), &intent)?;
    let session = CheckoutSession {
        id: CheckoutSessionId::generate(),
        token: checkout_token(),
        merchant_id: caller.merchant_id,
        livemode,
        payment_intent_id: intent.id,
        success_url,
        cancel_url,
        locale: match params.locale.unwrap_or(Locale::En) {
            Locale::En => CheckoutLocale::En,
            Locale::De => CheckoutLocale::De,
        },
        line_items,
        state: CheckoutSessionState::Open,
        created_at_ms: now,
        canceled_at_ms: None,
    };
    if existing {
        state.store.create_checkout_session(&session).await?;
    } else {
        // One transaction: a new intent never exists without the session that pays it. The
        // idempotency layer holds the request's key, so a retry after success replays this
        // response instead of creating a second intent.
        let json = serialize(&super::payment_intents::PaymentIntentObject::new(
            &intent, true,
        ))?;
        let event = intent_event(&intent, "payment_intent.created", &json, now);
        state
            .store
            .create_checkout_session_with_intent(&intent, &event, &session)
            .await?;
    }
    let base = base_url(&state, &headers);
    Ok(json_response(
        StatusCode::OK,
        serialize(&session_object(&session, &intent, &base))?,
    ))
}

async fn load(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(CheckoutSession, PaymentIntent), ApiError> {
    caller.require_secret()?;
    let session_id: CheckoutSessionId = parse_id(id, "checkout_session")?;
    let not_found = || ApiError::missing("checkout_session", id, "id");
    let session = state
        .store
        .get_checkout_session(&caller.merchant_id, caller.livemode, &session_id)
        .await?
        .ok_or_else(not_found)?;
    let intent = state
        .store
        .get_intent(
            &caller.merchant_id,
            caller.livemode,
            &session.payment_intent_id,
        )
        .await?
        .ok_or_else(not_found)?;
    Ok((session, intent))
}

/// Retrieve a checkout session.
#[utoipa::path(
    get, path = "/v1/checkout_sessions/{id}", operation_id = "retrieve_checkout_session", tag = "checkout_sessions",
    params(("id" = String, Path, description = "cs_…")),
    responses(
        (status = 200, body = CheckoutSessionObject),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (session, intent) = load(&state, &caller, &id).await?;
    let base = base_url(&state, &headers);
    Ok(json_response(
        StatusCode::OK,
        serialize(&session_object(&session, &intent, &base))?,
    ))
}

/// Cancel a checkout session: its page stops taking payments and shows it canceled. The
/// intent is left as it is (cancel it too if nothing else will pay it). Only an open session
/// can be canceled.
#[utoipa::path(
    post, path = "/v1/checkout_sessions/{id}/cancel", operation_id = "cancel_checkout_session", tag = "checkout_sessions",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path, description = "cs_…")),
    responses(
        (status = 200, body = CheckoutSessionObject),
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
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (mut session, intent) = load(&state, &caller, &id).await?;
    // Once funds arrived the payment runs on; only a session still waiting can be withdrawn.
    if session_status(&session, &intent) != "open" || intent.status != PaymentStatus::AwaitingFunds
    {
        return Err(ApiError::new(
            ErrorCode::CheckoutSessionUnexpectedState,
            format!(
                "This checkout session is {} (payment {}); only an open session awaiting \
                 funds can be canceled.",
                session_status(&session, &intent),
                intent.status
            ),
        ));
    }
    let now = state.clock.now_ms();
    if !state
        .store
        .cancel_checkout_session(&session.id, now)
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::CheckoutSessionUnexpectedState,
            "This checkout session was canceled meanwhile.",
        ));
    }
    session.state = CheckoutSessionState::Canceled;
    session.canceled_at_ms = Some(now);
    let base = base_url(&state, &headers);
    Ok(json_response(
        StatusCode::OK,
        serialize(&session_object(&session, &intent, &base))?,
    ))
}
