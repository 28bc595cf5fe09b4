//! The HTTP surface: routes, shared state and the layers every request passes through.

mod auth;
mod authorization_relay;
mod balance;
mod body;
mod checkout_funding;
mod checkout_page;
mod checkout_sessions;
pub mod compliance;
mod events;
pub(crate) mod exchange_accounts;
pub mod executions;
mod extract;
mod fx_locks;
pub(crate) mod idempotency;
mod idempotency_layer;
mod issuer_redemptions;
mod keys;
mod limits;
mod middleware;
mod misdirected;
mod money;
pub mod openapi;
mod openapi_shared;
mod operator_routes;
mod ops;
mod payer_details;
mod payment_intents;
mod refund_funding;
mod reports;
mod routing;
mod settings;
pub mod solana_pay;
mod transactions;
pub(crate) mod wallet_payments;
mod webhook_endpoints;
mod x402;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use rialto_core::asset::AssetRegistry;
use rialto_core::id::{Id, IdKind};
use serde::Serialize;

use crate::clock::Clock;
use crate::compliance::Compliance;
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::store::Store;
use crate::webhooks::Sealer;
use rialto_engine::Engine;

pub use auth::{Caller, Operator, Principal};
pub use events::event_object_json;
pub(crate) use payment_intents::intent_json;

/// Everything a handler may need, cheap to clone: the engine's services (it derefs to
/// [`Engine`]) and the HTTP layer's own state (configuration, metrics, rate limits, idempotency
/// keys in flight). There is no API key cache: a revoked key must fail at once everywhere.
#[derive(Clone, Debug)]
pub struct AppState {
    pub engine: Engine,
    pub config: Arc<Config>,
    pub metrics: Option<PrometheusHandle>,
    limits: Arc<limits::RateLimits>,
    inflight: Arc<Mutex<HashSet<(String, String)>>>,
    /// The EVM chains themselves, for the EVM-only endpoints (EIP-3009 authorizations); the
    /// engine reaches the same chains through the connectors' roles.
    pub evm_chains: Arc<crate::chains::EvmChains>,
    /// The chains that relay gasless payments in batches, and the signals to their worker.
    pub batch_relays: Arc<crate::batch_relay::BatchRelays>,
}

impl std::ops::Deref for AppState {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<AssetRegistry>,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        metrics: Option<PrometheusHandle>,
        sealer: Arc<Sealer>,
        compliance: Arc<Compliance>,
    ) -> Self {
        let limits = limits::RateLimits::new(&config.rate_limit);
        let engine = Engine::new(store, registry, config.engine(), clock, sealer, compliance);
        Self {
            engine,
            config,
            metrics,
            limits: Arc::new(limits),
            inflight: Arc::default(),
            evm_chains: Arc::default(),
            batch_relays: Arc::default(),
        }
    }

    /// The exchange venues of one mode.
    pub fn with_venues(mut self, livemode: bool, venues: crate::exchange::Venues) -> Self {
        self.engine = self.engine.with_venues(livemode, venues);
        self
    }

    /// The chains payments are verified, watched and settled on.
    pub fn with_chains(mut self, chains: crate::chains::ChainSet) -> Self {
        let reserves =
            rialto_engine::reserves::Reserves::new(chains.reserve_feeds, &chains.unverified);
        self.engine = self
            .engine
            .with_chains(chains.engine)
            .with_reserves(reserves);
        self.evm_chains = Arc::new(chains.evm);
        self.batch_relays = chains.batch;
        self
    }
}

/// The operators' work queues: misdirected deposits and route legs whose outcome is unknown.
fn operator_queue_routes() -> Router<AppState> {
    Router::new()
        .route("/operator/misdirected_deposits", get(misdirected::list))
        .route(
            "/operator/misdirected_deposits/{id}/resolve",
            post(misdirected::resolve),
        )
        .route("/operator/route_executions", get(operator_routes::list))
        .route(
            "/operator/route_executions/{id}/legs/{leg}/resolve",
            post(operator_routes::resolve),
        )
}

/// Compliance operators' routes (and the sandbox's funds helper that drives screening).
fn compliance_routes() -> Router<AppState> {
    Router::new()
        .route("/compliance/screenings", post(compliance::screen))
        .route("/compliance/reload", post(compliance::reload))
        .route("/compliance/cases", get(compliance::list_cases))
        .route("/compliance/cases/{id}", get(compliance::retrieve_case))
        .route(
            "/compliance/payment_intents/{id}/payer_details",
            get(payer_details::retrieve),
        )
        .route("/compliance/cases/{id}/approve", post(compliance::approve))
        .route("/compliance/cases/{id}/reject", post(compliance::reject))
        .route(
            "/compliance/list_entries",
            post(compliance::create_list_entry).get(compliance::list_list_entries),
        )
        .route(
            "/compliance/list_entries/{id}",
            axum::routing::delete(compliance::delete_list_entry),
        )
        .route(
            "/compliance/policies/{merchant}",
            post(compliance::set_policy),
        )
        .route(
            "/test_helpers/payment_intents/{id}/fund",
            post(compliance::fund_test_helper),
        )
}

/// The whole application: `/v1` API, operations endpoints and the layers around them.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route(
            "/payment_intents",
            post(payment_intents::create).get(payment_intents::list),
        )
        .route("/payment_intents/{id}", get(payment_intents::retrieve))
        .route(
            "/payment_intents/{id}/cancel",
            post(payment_intents::cancel),
        )
        .route(
            "/payment_intents/{id}/transactions",
            post(transactions::submit),
        )
        .route(
            "/payment_intents/{id}/deposit_address",
            post(wallet_payments::deposit_address),
        )
        .route("/payment_intents/{id}/fx_lock", post(fx_locks::create))
        .route(
            "/payment_intents/{id}/authorization_request",
            get(wallet_payments::authorization_request),
        )
        .route(
            "/payment_intents/{id}/authorizations",
            post(wallet_payments::submit_authorization),
        )
        .route(
            "/payment_intents/{id}/payer_details",
            post(payer_details::submit).get(payer_details::requirements),
        )
        .route(
            "/payment_intents/{id}/exchange_accounts",
            post(exchange_accounts::link),
        )
        .route("/payment_intents/{id}/quotes", post(routing::create))
        .route("/quotes/{id}/accept", post(routing::accept))
        .route("/routing/health", get(routing::health))
        .route("/route_executions/{id}", get(executions::retrieve))
        .route("/route_executions/{id}/fund", post(executions::fund))
        .route("/balance", get(balance::retrieve))
        .route(
            "/settings",
            get(settings::get_settings).post(settings::update_settings),
        )
        .route(
            "/refunds",
            post(money::create_refund).get(money::list_refunds),
        )
        .route("/refunds/{id}", get(money::retrieve_refund))
        .route("/refunds/{id}/approve", post(money::approve_refund))
        .route("/refunds/{id}/funding", post(refund_funding::fund_refund))
        .route(
            "/refunds/{id}/authorization_request",
            get(refund_funding::authorization_request),
        )
        .route("/refund_reserves", get(refund_funding::list))
        .route("/refund_reserves/top_ups", post(refund_funding::top_up))
        .route(
            "/payouts",
            post(money::create_payout).get(money::list_payouts),
        )
        .route("/payouts/{id}", get(money::retrieve_payout))
        .route("/payouts/{id}/approve", post(money::approve_payout))
        .route("/ledger/write_offs", post(money::create_write_off))
        .route("/balance_transactions", get(balance::list))
        .route("/events", get(events::list))
        .route("/events/{id}", get(events::retrieve))
        .route("/events/{id}/deliveries", get(events::deliveries))
        .route("/events/{id}/redeliver", post(events::redeliver))
        .route(
            "/webhook_endpoints",
            post(webhook_endpoints::create).get(webhook_endpoints::list),
        )
        .route(
            "/webhook_endpoints/{id}",
            get(webhook_endpoints::retrieve).post(webhook_endpoints::update),
        )
        .route(
            "/webhook_endpoints/{id}/rotate_secret",
            post(webhook_endpoints::rotate_secret),
        )
        .route("/reports/payments", get(reports::payments))
        .route("/reports/fees", get(reports::fees))
        .route("/reports/settlements", get(reports::settlements))
        .route("/reports/refunds", get(reports::refunds))
        .route("/reports/exceptions", get(reports::exceptions))
        .route("/reconciliation_runs", post(reports::create_run))
        .route("/reconciliation_runs/{id}", get(reports::retrieve_run))
        .merge(operator_queue_routes())
        .route("/openapi.json", get(ops::openapi))
        .route("/x402/verify", post(x402::verify))
        .route("/x402/settle", post(x402::settle))
        .route("/x402/supported", get(x402::supported))
        .merge(access_routes())
        .merge(issuer_routes())
        .merge(compliance_routes())
        .merge(checkout_session_routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency_layer::layer,
        ));
    Router::new()
        .nest("/v1", v1)
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .merge(checkout_page_routes().merge(solana_pay_routes()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::request_context))
        .with_state(state)
}

/// [`router`] as a service that knows each connection's peer address (the rate limits'
/// payer sessions and unknown-key refusals are per client address).
pub fn app(
    state: AppState,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr> {
    router(state).into_make_service_with_connect_info::<std::net::SocketAddr>()
}

/// The merchant's hosted checkout sessions (secret key).
fn checkout_session_routes() -> Router<AppState> {
    Router::new()
        .route("/checkout_sessions", post(checkout_sessions::create))
        .route("/checkout_sessions/{id}", get(checkout_sessions::retrieve))
        .route(
            "/checkout_sessions/{id}/cancel",
            post(checkout_sessions::cancel),
        )
}

/// The hosted checkout page and its token-scoped endpoints (no API key; see `checkout_page`).
fn checkout_page_routes() -> Router<AppState> {
    Router::new()
        .route("/checkout/{token}", get(checkout_page::page))
        .route("/checkout/{token}/session", get(checkout_page::session))
        .route(
            "/checkout/{token}/authorization_request",
            get(checkout_page::authorization_request),
        )
        .route(
            "/checkout/{token}/authorizations",
            post(checkout_page::authorizations),
        )
        .route(
            "/checkout/{token}/transactions",
            post(checkout_page::transactions),
        )
        .route(
            "/checkout/{token}/deposit_address",
            post(checkout_page::deposit_address),
        )
        .route(
            "/checkout/{token}/deposit_qr.svg",
            get(checkout_page::deposit_qr),
        )
        .route("/checkout/{token}/quotes", post(checkout_page::quotes))
        .route(
            "/checkout/{token}/payer_details",
            post(payer_details::checkout_submit),
        )
        .route(
            "/checkout/{token}/solana_pay_qr.svg",
            get(checkout_page::solana_pay_qr),
        )
        .route(
            "/checkout/{token}/exchange_accounts",
            post(checkout_funding::exchange_account),
        )
        .route(
            "/checkout/{token}/funding_quotes",
            post(checkout_funding::funding_quotes),
        )
        .route(
            "/checkout/{token}/quotes/{id}/accept",
            post(checkout_funding::accept),
        )
        .route(
            "/checkout/{token}/route_executions/{id}/fund",
            post(checkout_funding::fund),
        )
        .route("/checkout-assets/{file}", get(checkout_page::asset))
}

/// Solana Pay transaction requests (no API key; see `solana_pay`).
fn solana_pay_routes() -> Router<AppState> {
    Router::new()
        .route("/solana_pay/icon.svg", get(solana_pay::icon))
        .route(
            "/solana_pay/{id}",
            get(solana_pay::info).post(solana_pay::transaction),
        )
}

/// Keys and the maker-checker requests on settings.
/// Operators' redemptions at the issuing bank (`issuer_redemptions`).
fn issuer_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/operator/issuer/redemptions",
            get(issuer_redemptions::list).post(issuer_redemptions::create),
        )
        .route(
            "/operator/issuer/redemptions/{id}",
            get(issuer_redemptions::retrieve),
        )
}

fn access_routes() -> Router<AppState> {
    Router::new()
        .route("/settings/changes", get(settings::list_changes))
        .route(
            "/settings/changes/{id}/approve",
            post(settings::approve_change),
        )
        .route(
            "/settings/changes/{id}/cancel",
            post(settings::cancel_change),
        )
        .route("/api_keys", post(keys::create).get(keys::list))
        .route("/api_keys/{id}/roll", post(keys::roll))
        .route("/api_keys/{id}/revoke", post(keys::revoke))
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::UrlNotFound,
        "Unrecognized request URL. See /v1/openapi.json for the routes.",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "This URL does not accept that HTTP method.",
    )
}

pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) fn serialize<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::internal(&e))
}

/// Parses a path id; a malformed one is simply not found (404), like an unknown one.
pub(crate) fn parse_id<K: IdKind>(text: &str, kind: &str) -> Result<Id<K>, ApiError> {
    text.parse()
        .map_err(|_| ApiError::missing(kind, text, "id"))
}

const DEFAULT_LIMIT: u32 = 10;
const MAX_LIMIT: u32 = 100;

/// A list's `limit`: 1 to 100, default 10.
pub(crate) fn parse_limit(limit: Option<String>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ParameterInvalid,
                    format!("limit must be an integer from 1 to {MAX_LIMIT}."),
                )
                .param("limit")
            }),
    }
}
