//! One EVM chain as the gateway uses it: its ids, its RPC endpoints in order of preference
//! (with fail-over), its confirmations and the gateway's hot wallet there.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rialto_core::address::Address;
use rialto_core::intent::PaymentIntent;
use secrecy::SecretString;

use crate::EvmError;

/// One EVM chain the gateway watches and sends on, for one mode: the devnet chains serve
/// `_test_` intents only, configured real chains `_live_` ones only. Its `Debug` shows the RPC
/// endpoints redacted ([`redact_url`]): providers put API keys in them.
#[derive(Clone)]
pub struct EvmChain {
    /// CAIP-2, `eip155:31338`.
    pub caip2: String,
    /// The EIP-155 chain id.
    pub chain_id: u64,
    pub alias: String,
    pub livemode: bool,
    /// JSON-RPC endpoints in order of preference.
    pub rpc_urls: Vec<String>,
    /// Index into `rpc_urls` of the endpoint in use; [`EvmChain::fail_over`] moves it on.
    active: Arc<AtomicUsize>,
    /// Blocks a payment needs on top of it (its own included) before anything moves on it.
    pub confirmations: u64,
    /// The gateway's hot wallet here: relays authorizations and pays sweep gas.
    pub hot_wallet: Option<SecretString>,
    /// Token contracts whose transfers the deposit watcher follows.
    pub tokens: Vec<Address>,
    /// When and how the gateway's legs left unmined here are replaced at their nonce.
    pub replacement: crate::replace::ReplacementPolicy,
    /// An OP-stack rollup's `GasPriceOracle` (normally [`crate::l1_fee::GAS_PRICE_ORACLE`]):
    /// every transaction here also pays an L1 data fee, which sweeps must be funded for.
    pub l1_fee_oracle: Option<Address>,
}

impl std::fmt::Debug for EvmChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rpc_urls: Vec<String> = self.rpc_urls.iter().map(|u| redact_url(u)).collect();
        f.debug_struct("EvmChain")
            .field("caip2", &self.caip2)
            .field("chain_id", &self.chain_id)
            .field("alias", &self.alias)
            .field("livemode", &self.livemode)
            .field("rpc_urls", &rpc_urls)
            .field("confirmations", &self.confirmations)
            .field(
                "hot_wallet",
                &self.hot_wallet.as_ref().map(|_| "[redacted]"),
            )
            .field("tokens", &self.tokens)
            .field("replacement", &self.replacement)
            .field("l1_fee_oracle", &self.l1_fee_oracle)
            .finish_non_exhaustive()
    }
}

impl EvmChain {
    pub fn new(
        caip2: String,
        chain_id: u64,
        alias: String,
        livemode: bool,
        rpc_urls: Vec<String>,
        confirmations: u64,
    ) -> Self {
        Self {
            caip2,
            chain_id,
            alias,
            livemode,
            rpc_urls,
            active: Arc::default(),
            confirmations,
            hot_wallet: None,
            tokens: Vec::new(),
            replacement: crate::replace::ReplacementPolicy::default(),
            l1_fee_oracle: None,
        }
    }

    /// The endpoint in use.
    pub fn rpc_url(&self) -> &str {
        let i = self.active.load(Ordering::Relaxed) % self.rpc_urls.len().max(1);
        self.rpc_urls.get(i).map(String::as_str).unwrap_or_default()
    }

    /// Moves to the next endpoint after the one in use failed (no-op with one endpoint).
    pub fn fail_over(&self) {
        if self.rpc_urls.len() > 1 {
            let next = self.active.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(chain = %self.caip2, rpc = %redact_url(&self.rpc_urls[next % self.rpc_urls.len()]), "RPC endpoint failed; failing over");
        }
    }

    /// Whether this chain moves money for `intent`: same chain, same mode.
    pub fn serves(&self, intent: &PaymentIntent) -> bool {
        intent.livemode == self.livemode
            && intent.settlement.asset.id.chain().to_string() == self.caip2
    }

    /// Checks every endpoint answers with this chain's id. A wrong id is fatal (payments would
    /// be verified on another chain); an unreachable endpoint only warns.
    pub async fn verify_endpoints(&self) -> Result<(), EvmError> {
        for url in &self.rpc_urls {
            match crate::sender::chain_id(url).await {
                Ok(id) if id == self.chain_id => {}
                Ok(id) => {
                    return Err(EvmError::Endpoint {
                        url: redact_url(url),
                        reason: format!(
                            "{} RPC endpoint answers as chain {id}, not {}",
                            self.caip2, self.chain_id
                        ),
                    })
                }
                Err(err) => {
                    tracing::warn!(chain = %self.caip2, rpc = %redact_url(url), error = %err, "RPC endpoint unreachable at start")
                }
            }
        }
        Ok(())
    }
}

pub use rialto_connectors::chain::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_an_rpc_key_or_the_hot_wallet() {
        let mut chain = EvmChain::new(
            "eip155:1".into(),
            1,
            "ethereum".into(),
            true,
            vec!["https://eth-mainnet.g.alchemy.com/v2/SeCrEtKeY".into()],
            12,
        );
        chain.hot_wallet = Some(SecretString::from("0xdeadbeef".to_owned()));
        let shown = format!("{chain:?}");
        assert!(!shown.contains("SeCrEtKeY"), "{shown}");
        assert!(!shown.contains("deadbeef"), "{shown}");
        assert!(
            shown.contains("https://eth-mainnet.g.alchemy.com/***"),
            "{shown}"
        );
    }
}
