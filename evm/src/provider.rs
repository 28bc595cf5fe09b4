//! One JSON-RPC provider per endpoint, built once with connect and request timeouts and shared
//! by every read and broadcast (its HTTP client keeps the connections alive). A stalled node
//! answers [`EvmError`] after [`REQUEST_TIMEOUT`] instead of hanging a handler or a worker.
//!
//! The providers sign nothing: signing is offline ([`crate::sender`]).
//!
//! TLS: `https://` endpoints are reached with rustls (ring) and, by default, the webpki roots
//! (Mozilla's list, compiled in: the same trust on every host, including container images
//! with no CA bundle). Whoever knows better for an endpoint (the gateway, with an operator's
//! extra CA) hands its rustls configuration over with [`trust_for`] before the endpoint's
//! first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::RpcClient;
use alloy::transports::http::reqwest;

use crate::EvmError;

/// How long opening a connection to a node may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one JSON-RPC request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Providers by endpoint, each built on first use.
#[derive(Debug, Default)]
struct Providers(Mutex<HashMap<String, DynProvider>>);

/// The rustls configuration each endpoint was given with [`trust_for`].
type TlsByEndpoint = Mutex<HashMap<String, Arc<rustls::ClientConfig>>>;

fn tls_by_endpoint() -> &'static TlsByEndpoint {
    static TLS: OnceLock<TlsByEndpoint> = OnceLock::new();
    TLS.get_or_init(Default::default)
}

fn shared() -> &'static Providers {
    static PROVIDERS: OnceLock<Providers> = OnceLock::new();
    PROVIDERS.get_or_init(Providers::default)
}

/// Connections to `rpc_url` use `tls` (its roots, its verifier) from now on; a provider already
/// built for it is dropped so the next use builds one with this configuration.
pub fn trust_for(rpc_url: &str, tls: Arc<rustls::ClientConfig>) {
    if let Ok(mut map) = tls_by_endpoint().lock() {
        map.insert(rpc_url.to_owned(), tls);
    }
    if let Ok(mut providers) = shared().0.lock() {
        providers.remove(rpc_url);
    }
}

/// Installs ring as the process's default rustls provider (a no-op once one is installed).
/// alloy's reqwest is built with TLS and no provider of its own, so a client built the
/// default way (`ProviderBuilder::connect`, as the devnet and tests do) needs one installed;
/// the providers of this module bring their own configuration and do not.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The default client TLS configuration: ring, the webpki roots, nothing else.
pub fn default_tls() -> Arc<rustls::ClientConfig> {
    install_crypto_provider();
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth());
            // ring supports the safe defaults; failing here would be a build defect.
            Arc::new(config.expect("ring supports TLS 1.2 and 1.3"))
        })
        .clone()
}

fn tls_for(rpc_url: &str) -> Arc<rustls::ClientConfig> {
    tls_by_endpoint()
        .lock()
        .ok()
        .and_then(|map| map.get(rpc_url).cloned())
        .unwrap_or_else(default_tls)
}

impl Providers {
    fn get(&self, rpc_url: &str) -> Result<DynProvider, EvmError> {
        if let Some(found) = self.0.lock().ok().and_then(|c| c.get(rpc_url).cloned()) {
            return Ok(found);
        }
        let built = build(rpc_url)?;
        if let Ok(mut providers) = self.0.lock() {
            // Two first uses racing both build; the first stored wins and the other is dropped.
            return Ok(providers.entry(rpc_url.to_owned()).or_insert(built).clone());
        }
        Ok(built)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// The shared provider for `rpc_url`, built on first use.
pub fn provider(rpc_url: &str) -> Result<DynProvider, EvmError> {
    shared().get(rpc_url)
}

/// A provider for `rpc_url` with this module's timeouts, not shared.
pub fn build(rpc_url: &str) -> Result<DynProvider, EvmError> {
    build_with(rpc_url, CONNECT_TIMEOUT, REQUEST_TIMEOUT)
}

/// A provider for `rpc_url` with the given timeouts, not shared.
pub fn build_with(
    rpc_url: &str,
    connect: Duration,
    request: Duration,
) -> Result<DynProvider, EvmError> {
    install_crypto_provider();
    let endpoint = |reason: String| EvmError::Endpoint {
        url: crate::chain::redact_url(rpc_url),
        reason,
    };
    let url: reqwest::Url = rpc_url.parse().map_err(|_| endpoint("not a URL".into()))?;
    // reqwest takes the configuration by value (it adds its ALPN protocols to its copy).
    let tls = rustls::ClientConfig::clone(&tls_for(rpc_url));
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(connect)
        .timeout(request)
        .build()
        .map_err(|e| endpoint(format!("HTTP client: {e}")))?;
    let rpc = RpcClient::new_http_with_client(client, url);
    Ok(ProviderBuilder::new().connect_client(rpc).erased())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_endpoint_gets_one_provider_and_a_bad_url_an_error() {
        let providers = Providers::default();
        assert!(providers.get("not a url").is_err());
        assert_eq!(providers.len(), 0, "nothing is kept for a bad URL");
        providers.get("http://127.0.0.1:1").unwrap();
        providers.get("http://127.0.0.1:1").unwrap();
        assert_eq!(providers.len(), 1, "built once, then shared");
        providers.get("http://127.0.0.1:2").unwrap();
        assert_eq!(providers.len(), 2);
        assert!(provider("not a url").is_err());
    }

    #[tokio::test]
    async fn a_node_that_never_answers_is_an_error_not_a_hang() {
        // A listener that accepts and then says nothing: without a request timeout the call
        // would wait forever (the outer bound would fire and fail the test).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let provider = build_with(&url, CONNECT_TIMEOUT, Duration::from_millis(300)).unwrap();
        let bounded = tokio::time::timeout(Duration::from_secs(30), provider.get_block_number());
        let answer = bounded
            .await
            .expect("the provider's own timeout fires first");
        assert!(answer.is_err());
        drop(listener);
    }
}
