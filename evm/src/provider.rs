//! One JSON-RPC provider per endpoint, built once with connect and request timeouts and shared
//! by every read and broadcast (its HTTP client keeps the connections alive). A stalled node
//! answers [`EvmError`] after [`REQUEST_TIMEOUT`] instead of hanging a handler or a worker.
//!
//! The providers sign nothing: signing is offline ([`crate::sender`]).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
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
    static PROVIDERS: OnceLock<Providers> = OnceLock::new();
    PROVIDERS.get_or_init(Providers::default).get(rpc_url)
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
    let endpoint = |reason: String| EvmError::Endpoint {
        url: crate::chain::redact_url(rpc_url),
        reason,
    };
    let url: reqwest::Url = rpc_url.parse().map_err(|_| endpoint("not a URL".into()))?;
    let client = reqwest::Client::builder()
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
