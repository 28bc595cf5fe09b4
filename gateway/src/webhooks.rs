//! The engine's webhooks (signing, sealed secrets, URL policy, the delivery outbox), and the
//! HTTP client the gateway delivers them with.

use std::sync::Arc;

pub use rialto_engine::webhooks::*;

use crate::http_client::{CheckedResolver, ReqwestHttpClient, SystemLookup};
use rialto_engine::outbound::HttpClient;

/// The client deliveries go out through: the gateway's reqwest client (no redirects, no proxy,
/// a receiver's body never read), each host resolved once and checked against the address
/// policy (`config.allow_private_targets` lets loopback and private receivers in, for
/// development), connecting bounded by the delivery timeout, which also bounds each request.
/// An error (the TLS backend could not start) must stop start-up: there is no fallback.
/// TLS trusts what `tls` trusts (the gateway's [`crate::tls::client_config`]).
pub fn http_client(
    config: &DeliveryConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Arc<dyn HttpClient>, reqwest::Error> {
    let resolver = CheckedResolver::new(Arc::new(SystemLookup), config.allow_private_targets);
    Ok(Arc::new(ReqwestHttpClient::for_webhooks(
        config.timeout,
        resolver,
        tls,
    )?))
}
