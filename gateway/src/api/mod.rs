//! The HTTP surface: routes, shared state and the layers every request passes through.

mod auth;
mod body;
mod idempotency;
mod middleware;
pub mod openapi;
mod ops;
mod payment_intents;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};

use axum::routing::{get, post};
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use metrics_exporter_prometheus::PrometheusHandle;
use rialto_core::asset::AssetRegistry;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{ApiError, ErrorCode};
use crate::store::Store;

pub use auth::Caller;

/// Everything a handler may need, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub registry: Arc<AssetRegistry>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Option<PrometheusHandle>,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    key_cache: Arc<RwLock<HashMap<String, auth::CachedKey>>>,
    inflight: Arc<Mutex<HashSet<(String, String)>>>,
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<AssetRegistry>,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let per_second = NonZeroU32::new(config.rate_limit.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.rate_limit.burst).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst));
        Self {
            store,
            registry,
            config,
            clock,
            metrics,
            limiter: Arc::new(limiter),
            key_cache: Arc::default(),
            inflight: Arc::default(),
        }
    }
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
        .route("/openapi.json", get(ops::openapi));
    Router::new()
        .nest("/v1", v1)
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::request_context))
        .with_state(state)
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
