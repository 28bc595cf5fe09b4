//! The engine's webhooks (signing, sealed secrets, URL policy, the delivery outbox), and the
//! HTTP client the gateway delivers them with.

use std::sync::Arc;

pub use rialto_engine::webhooks::*;

use crate::http_client::outbound_or_failing;
use rialto_engine::outbound::HttpClient;

/// The client deliveries go out through: the gateway's reqwest client (no redirects, a
/// receiver's body never read), connecting bounded by the delivery timeout, which also bounds
/// each request (the deliverer sets it per request).
pub fn http_client(config: &DeliveryConfig) -> Arc<dyn HttpClient> {
    outbound_or_failing(config.timeout)
}
