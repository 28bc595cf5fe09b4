//! The hosted checkout page a shopper opens at `/checkout/{token}`, with no API key.
//!
//! The token (43 random alphanumerics, see `store::checkout`) is the shopper's whole
//! capability. Every endpoint under it resolves the token to its session, then acts on that
//! session's intent only: the payer endpoints of `/v1` are called with the intent's own client
//! secret, filled in here, so a token can never reach another intent (the secret is checked
//! against the intent the handler loads, and a quote of another intent fails that check). What
//! the page reads ([`ShopperView`]) is what a shopper may see: no keys, no client secret, no
//! metadata, no other intents. An unknown token counts as a failed key lookup against the
//! caller's address (guessing is throttled like guessing API keys); a known one is rate limited
//! like a publishable key of its own.
//!
//! The page, its script and its style are compiled into the binary; the Content-Security-Policy
//! allows nothing but this origin, and no third-party request is ever needed.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rialto_core::address::Address;
use rialto_core::id::ApiKeyId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rialto_core::money::Money;
use rialto_core::payment_uri::solana_pay::TransferRequest;
use serde::Serialize;

use super::body::RawBody;
use super::checkout_sessions::{session_status, LineItemParams, Locale};
use super::extract::{Path, Query};
use super::limits::{client_address, Presented};
use super::wallet_payments::ClientSecretParams;
use super::{json_response, serialize, AppState, Caller};
use crate::error::{ApiError, ErrorCode};
use crate::keys::hash_key;
use crate::store::checkout::{CheckoutLocale, CheckoutSession};
use crate::store::KeyKind;

const PAGE: &str = include_str!("checkout_assets/page.html");
const SCRIPT: &str = include_str!("checkout_assets/checkout.js");
const STYLE: &str = include_str!("checkout_assets/checkout.css");

/// Nothing but this origin: no inline script, no third-party host, no framing, no forms
/// posting elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A shopper holding a valid page token: the session and its intent.
pub struct Shopper {
    pub(super) session: CheckoutSession,
    pub(super) intent: PaymentIntent,
}

fn unknown_session() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceMissing,
        "No such checkout session: the link is wrong or no longer exists.",
    )
}

impl FromRequestParts<AppState> for Shopper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = client_address(parts);
        state.limits.check_address(client)?;
        let token = parts
            .uri
            .path()
            .strip_prefix("/checkout/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        if token.len() != 43 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            state.limits.lookup_failed(client);
            return Err(unknown_session());
        }
        let hash = hash_key(token);
        state.limits.check(
            Presented::Api {
                kind: KeyKind::Publishable,
                hash: &hash,
            },
            client,
        )?;
        let Some(session) = state.store.checkout_session_by_token(token).await? else {
            state.limits.lookup_failed(client);
            return Err(unknown_session());
        };
        let intent = state
            .store
            .get_intent(
                &session.merchant_id,
                session.livemode,
                &session.payment_intent_id,
            )
            .await?
            .ok_or_else(unknown_session)?;
        Ok(Shopper { session, intent })
    }
}

impl Shopper {
    /// The payer-side caller the `/v1` handlers see: the merchant's publishable access to this
    /// one intent (the client secret filled in by [`Shopper::with_secret`] does the scoping).
    pub(super) fn caller(&self) -> Caller {
        let key = ApiKeyId::generate();
        Caller {
            merchant_id: self.session.merchant_id,
            livemode: self.session.livemode,
            kind: KeyKind::Publishable,
            key_id: "checkout_session".into(),
            key,
            custody: key,
        }
    }

    /// Refuses payments once the session is not open (canceled, complete, expired).
    pub(super) fn open(&self) -> Result<(), ApiError> {
        match session_status(&self.session, &self.intent) {
            "open" => Ok(()),
            status => Err(ApiError::new(
                ErrorCode::CheckoutSessionUnexpectedState,
                format!("This checkout session is {status}; it takes no payment."),
            )),
        }
    }

    /// The shopper's JSON body with the intent's client secret added; a body naming its own
    /// `client_secret` is refused, so nothing but this session's intent can be named.
    pub(super) fn with_secret(&self, body: &[u8]) -> Result<RawBody, ApiError> {
        let text = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            body
        };
        let mut value: serde_json::Value = serde_json::from_slice(text)
            .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("Invalid JSON: {e}.")))?;
        let object = value.as_object_mut().ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidJson, "The body must be a JSON object.")
        })?;
        if object.contains_key("client_secret") {
            return Err(ApiError::new(
                ErrorCode::ParameterUnknown,
                "client_secret is not taken here: the page's link already names the payment.",
            )
            .param("client_secret"));
        }
        object.insert(
            "client_secret".into(),
            self.intent.client_secret.clone().into(),
        );
        Ok(RawBody(
            serde_json::to_vec(&value)
                .map_err(|e| ApiError::internal(&e))?
                .into(),
        ))
    }
}

/// Removes what a shopper must not see from a `/v1` answer (the intent's client secret and
/// the merchant's metadata).
pub(super) async fn scrub(response: Response) -> Response {
    let status = response.status();
    if !status.is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await;
    let Ok(mut value) = bytes
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .ok_or(())
    else {
        return ApiError::internal(&"unreadable answer").into_response();
    };
    if let Some(object) = value.as_object_mut() {
        object.remove("client_secret");
        object.remove("metadata");
    }
    let mut response = json_response(parts.status, value.to_string());
    *response.headers_mut() = parts.headers;
    response
}

/// What the page shows: the shopper's view of the session.
#[derive(Debug, Serialize)]
pub struct ShopperView {
    /// `open`, `complete`, `expired`, `canceled`.
    status: &'static str,
    /// The intent's status, for the page's review/failure screens.
    payment_status: &'static str,
    merchant_name: String,
    /// The intent's id: the text a payer signs for a transfer names it (`engine::chain::proof`).
    payment_intent: String,
    amount: String,
    currency: String,
    /// What the payer sends: asset, chain and amount.
    pay_asset: String,
    pay_amount: String,
    /// `pay_amount` in the asset's base units (what a transfer sends).
    pay_amount_units: String,
    chain: String,
    chain_alias: String,
    /// EIP-155 chain id, for `wallet_switchEthereumChain` (absent off EVM).
    evm_chain_id: Option<u64>,
    token_contract: String,
    /// The merchant's settlement address (what a wallet transfer pays).
    pay_to: String,
    /// Whether the asset is paid one for one (wallet, deposit); otherwise only quotes.
    direct: bool,
    /// The Solana Pay transfer request for an intent settling on a Solana chain, paid one for
    /// one with its reference key (written by core's `payment_uri`; its QR is `/checkout/{token}/solana_pay_qr.svg`).
    solana_pay_url: Option<String>,
    /// Exchanges the shopper may pay from (`binance`, ...); empty where the intent does not
    /// allow it.
    exchange_venues: Vec<&'static str>,
    /// Whether the exchanges are the sandbox exchange (test mode), which the page says.
    sandbox: bool,
    description: Option<String>,
    line_items: Vec<LineItemParams>,
    locale: Locale,
    expires_at: i64,
    /// The server's clock, so the countdown does not trust the shopper's.
    now: i64,
    success_url: String,
    cancel_url: String,
    /// `underpaid`, `overpaid`, `late` with amounts, once funds arrive.
    payment_detail: Option<serde_json::Value>,
    /// While the intent awaits funds: whether the merchant's rules need the payer's details
    /// (travel rule) before paying, and whether they were given; the page asks for them first.
    payer_details: Option<super::payer_details::PayerDetailsRequirements>,
    /// The locked rate with its Chainlink rounds (a conversion intent, once the payer
    /// committed): the page and its receipt show it.
    fx: Option<crate::routing::fx::FxLockObject>,
}

/// The Solana Pay URL a Solana wallet pays this intent with: the merchant's settlement
/// address, the mint and the exact amount (never rounded: an amount with more decimals than
/// the mint has gives no URL), and the intent's reference key, by which the chain watcher finds
/// the payment without a report (a payer may still report it with its proof).
fn solana_pay_url(intent: &PaymentIntent, label: &str) -> Option<String> {
    let asset = &intent.settlement.asset;
    if !matches!(intent.settlement.address, Address::Solana(_)) {
        return None;
    }
    let due = crate::chain::due(intent)?;
    let mut request = TransferRequest::new(intent.settlement.address);
    request.spl_token = Some(asset.contract);
    request.amount = Some(due.amount());
    request.check_decimals(asset.decimals).ok()?;
    request.label = Some(label.to_owned()).filter(|l| !l.is_empty());
    request.message = intent.description.clone();
    request.references = intent.payment_reference.into_iter().collect();
    request.to_url().ok()
}

async fn view(state: &AppState, shopper: &Shopper) -> Result<ShopperView, ApiError> {
    let (session, intent) = (&shopper.session, &shopper.intent);
    let merchant = state.store.get_merchant(&session.merchant_id).await?;
    let asset = &intent.settlement.asset;
    let chain = asset.id.chain().to_string();
    let evm_chain_id = chain.strip_prefix("eip155:").and_then(|n| n.parse().ok());
    let merchant_name = merchant.map(|m| m.name).unwrap_or_default();
    let payer_details = match intent.status {
        PaymentStatus::AwaitingFunds => {
            Some(super::payer_details::requirements_of(state, intent).await?)
        }
        _ => None,
    };
    let due = crate::chain::due(intent);
    Ok(ShopperView {
        payer_details,
        solana_pay_url: solana_pay_url(intent, &merchant_name),
        status: session_status(session, intent),
        payment_status: intent.status.as_str(),
        merchant_name,
        payment_intent: intent.id.to_string(),
        amount: intent.amount.to_amount_string(),
        currency: intent.amount.currency().code().to_owned(),
        pay_asset: asset.code.clone(),
        // What the payer sends: the locked amount of a conversion intent.
        pay_amount: due
            .as_ref()
            .map_or_else(|| intent.amount.to_amount_string(), Money::to_amount_string),
        pay_amount_units: due
            .as_ref()
            .and_then(|m| m.to_base_units().ok())
            .map(|u| u.to_string())
            .unwrap_or_default(),
        fx: intent
            .fx
            .as_ref()
            .map(crate::routing::fx::FxLockObject::new),
        chain,
        chain_alias: asset.chain_alias.clone(),
        evm_chain_id,
        token_contract: asset.contract.to_string(),
        pay_to: intent.settlement.address.to_string(),
        direct: crate::chain::payable(intent),
        exchange_venues: super::checkout_funding::exchange_venues(state, shopper),
        sandbox: !intent.livemode,
        description: intent.description.clone(),
        line_items: session
            .line_items
            .iter()
            .map(|l| LineItemParams {
                name: l.name.clone(),
                quantity: l.quantity,
                unit_amount: l.unit_amount.clone(),
            })
            .collect(),
        locale: match session.locale {
            CheckoutLocale::En => Locale::En,
            CheckoutLocale::De => Locale::De,
        },
        expires_at: intent.expires_at_ms / 1000,
        now: state.clock.now_ms() / 1000,
        success_url: session.success_url.clone(),
        cancel_url: session.cancel_url.clone(),
        payment_detail: intent
            .payment_detail
            .as_ref()
            .and_then(|d| serde_json::to_value(d).ok()),
    })
}

pub(super) fn with_headers(
    mut response: Response,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let headers = response.headers_mut();
    let pairs: [(HeaderName, &'static str); 6] = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, cache),
        (header::CONTENT_SECURITY_POLICY, CSP),
        // The token is in the page's URL: never send it on to success_url or anywhere else.
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `GET /checkout/{token}`: the page (the same bytes for every session; its script reads the
/// session from `/checkout/{token}/session`).
pub async fn page(_shopper: Shopper) -> Response {
    with_headers(PAGE.into_response(), "text/html; charset=utf-8", "no-store")
}

/// `GET /checkout-assets/{file}`: the page's script and style.
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match file.as_str() {
        "checkout.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "checkout.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return Err(ApiError::new(ErrorCode::UrlNotFound, "No such asset.")),
    };
    Ok(with_headers(
        body.into_response(),
        kind,
        "public, max-age=300",
    ))
}

/// `GET /checkout/{token}/session`: what the page shows; polled to follow the payment.
pub async fn session(
    State(state): State<AppState>,
    shopper: Shopper,
) -> Result<Response, ApiError> {
    let view = view(&state, &shopper).await?;
    let response = json_response(StatusCode::OK, serialize(&view)?);
    Ok(with_headers(response, "application/json", "no-store"))
}

/// `GET /checkout/{token}/authorization_request`: the EIP-3009 typed data to sign.
pub async fn authorization_request(
    State(state): State<AppState>,
    shopper: Shopper,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let query = ClientSecretParams {
        client_secret: Some(shopper.intent.client_secret.clone()),
    };
    let id = shopper.intent.id.to_string();
    let caller = shopper.caller();
    let answer =
        super::wallet_payments::authorization_request(State(state), caller, Path(id), Query(query))
            .await?;
    Ok(scrub(answer).await)
}

/// `POST /checkout/{token}/authorizations`: relay the signed EIP-3009 authorization.
pub async fn authorizations(
    State(state): State<AppState>,
    shopper: Shopper,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let body = shopper.with_secret(&body)?;
    let id = shopper.intent.id.to_string();
    let answer = super::wallet_payments::submit_authorization(
        State(state),
        shopper.caller(),
        Path(id),
        body,
    )
    .await?;
    Ok(scrub(answer).await)
}

/// `POST /checkout/{token}/transactions`: a wallet transfer with the payer's proof.
pub async fn transactions(
    State(state): State<AppState>,
    shopper: Shopper,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let body = shopper.with_secret(&body)?;
    let id = shopper.intent.id.to_string();
    let answer =
        super::transactions::submit(State(state), shopper.caller(), Path(id), body).await?;
    Ok(scrub(answer).await)
}

/// `POST /checkout/{token}/deposit_address`: the intent's deposit address and EIP-681 URI.
pub async fn deposit_address(
    State(state): State<AppState>,
    shopper: Shopper,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let body = shopper.with_secret(b"{}")?;
    let id = shopper.intent.id.to_string();
    let answer =
        super::wallet_payments::deposit_address(State(state), shopper.caller(), Path(id), body)
            .await?;
    Ok(scrub(answer).await)
}

/// `GET /checkout/{token}/deposit_qr.svg`: the deposit address's EIP-681 URI as a QR code,
/// drawn here (no image service, no script on the page).
pub async fn deposit_qr(
    State(state): State<AppState>,
    shopper: Shopper,
) -> Result<Response, ApiError> {
    let answer = deposit_address(State(state), shopper).await?;
    let bytes = axum::body::to_bytes(answer.into_body(), 1 << 16)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let uri = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("uri").and_then(|u| u.as_str()).map(str::to_owned))
        .ok_or_else(|| ApiError::internal(&"deposit answer without uri"))?;
    let svg = qr_svg(&uri)?;
    Ok(with_headers(
        svg.into_response(),
        "image/svg+xml",
        "no-store",
    ))
}

/// `GET /checkout/{token}/solana_pay_qr.svg`: the intent's Solana Pay URL as a QR code, drawn
/// here like the deposit QR. Not found when the intent offers no Solana Pay.
pub async fn solana_pay_qr(
    State(state): State<AppState>,
    shopper: Shopper,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let merchant = state
        .store
        .get_merchant(&shopper.session.merchant_id)
        .await?;
    let label = merchant.map(|m| m.name).unwrap_or_default();
    let url = solana_pay_url(&shopper.intent, &label).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ResourceMissing,
            "This payment is not paid with Solana Pay.",
        )
    })?;
    Ok(with_headers(
        qr_svg(&url)?.into_response(),
        "image/svg+xml",
        "no-store",
    ))
}

pub(crate) fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| ApiError::internal(&e))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .build())
}

/// `POST /checkout/{token}/quotes`: SmartFunding quotes (with their fees) for paying from
/// another token, chain or exchange.
pub async fn quotes(
    State(state): State<AppState>,
    shopper: Shopper,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    shopper.open()?;
    let body = shopper.with_secret(&body)?;
    let id = shopper.intent.id.to_string();
    let answer = super::routing::create(State(state), shopper.caller(), Path(id), body).await?;
    Ok(scrub(answer).await)
}
