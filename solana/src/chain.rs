//! One Solana cluster as the gateway uses it: its CAIP-2 id, its RPC endpoints in order of
//! preference (with fail-over), the commitment a leg needs, the priority fee it offers, and the
//! tokens it serves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rialto_connectors::chain::redact_url;
use rialto_core::address::Address;
use secrecy::SecretString;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;

/// How deep a leg must be before it counts (DESIGN.md: confirmations per chain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commitment {
    /// Voted on by a supermajority: one slot, in practice never rolled back.
    Confirmed,
    /// Rooted: 31+ slots on top; cannot be rolled back.
    Finalized,
}

impl Commitment {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "confirmed" => Some(Commitment::Confirmed),
            "finalized" => Some(Commitment::Finalized),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Commitment::Confirmed => "confirmed",
            Commitment::Finalized => "finalized",
        }
    }

    pub fn config(self) -> CommitmentConfig {
        match self {
            Commitment::Confirmed => CommitmentConfig::confirmed(),
            Commitment::Finalized => CommitmentConfig::finalized(),
        }
    }

    /// The confirmations this commitment stands for, as the rail role counts them.
    pub fn confirmations(self) -> u64 {
        match self {
            Commitment::Confirmed => 1,
            Commitment::Finalized => 32,
        }
    }
}

/// A token the chain serves: its mint and the symbol the configuration gives it (classic SPL
/// mints carry no symbol on chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolanaToken {
    pub symbol: String,
    pub mint: Address,
    pub decimals: u8,
}

/// One Solana cluster the gateway watches and sends on, for one mode. Its `Debug` redacts the
/// RPC endpoints (providers put API keys in them) and never shows the hot wallet.
#[derive(Clone)]
pub struct SolanaChain {
    /// CAIP-2, `solana:<genesis hash prefix>`.
    pub caip2: String,
    pub alias: String,
    pub livemode: bool,
    /// JSON-RPC endpoints in order of preference.
    pub rpc_urls: Vec<String>,
    clients: Arc<Vec<Arc<RpcClient>>>,
    /// Index into `rpc_urls` of the endpoint in use; [`SolanaChain::fail_over`] moves it on.
    active: Arc<AtomicUsize>,
    pub commitment: Commitment,
    /// Priority fee offered per compute unit, in micro-lamports (0: none).
    pub priority_fee_micro_lamports: u64,
    /// Compute units a leg asks for (the priority fee is paid on these).
    pub compute_unit_limit: u32,
    /// The gateway's hot wallet here: pays fees and the rent of the token accounts it creates.
    pub hot_wallet: Option<SecretString>,
    pub tokens: Vec<SolanaToken>,
}

impl std::fmt::Debug for SolanaChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rpc_urls: Vec<String> = self.rpc_urls.iter().map(|u| redact_url(u)).collect();
        f.debug_struct("SolanaChain")
            .field("caip2", &self.caip2)
            .field("alias", &self.alias)
            .field("livemode", &self.livemode)
            .field("rpc_urls", &rpc_urls)
            .field("commitment", &self.commitment)
            .field(
                "hot_wallet",
                &self.hot_wallet.as_ref().map(|_| "[redacted]"),
            )
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl SolanaChain {
    /// A chain over `rpc_urls`, each request bounded by `timeout`.
    pub fn new(
        caip2: String,
        alias: String,
        livemode: bool,
        rpc_urls: Vec<String>,
        commitment: Commitment,
        timeout: Duration,
    ) -> Self {
        let clients = rpc_urls
            .iter()
            .map(|url| {
                Arc::new(RpcClient::new_with_timeout_and_commitment(
                    url.clone(),
                    timeout,
                    commitment.config(),
                ))
            })
            .collect();
        Self {
            caip2,
            alias,
            livemode,
            rpc_urls,
            clients: Arc::new(clients),
            active: Arc::default(),
            commitment,
            priority_fee_micro_lamports: 0,
            compute_unit_limit: 200_000,
            hot_wallet: None,
            tokens: Vec::new(),
        }
    }

    /// The client of the endpoint in use.
    pub fn rpc(&self) -> &RpcClient {
        let i = self.active.load(Ordering::Relaxed) % self.clients.len().max(1);
        &self.clients[i]
    }

    /// Moves to the next endpoint after the one in use failed (no-op with one endpoint).
    pub fn fail_over(&self) {
        if self.rpc_urls.len() > 1 {
            let next = self.active.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(chain = %self.caip2, rpc = %redact_url(&self.rpc_urls[next % self.rpc_urls.len()]), "RPC endpoint failed; failing over");
        }
    }

    /// The configured token of `mint`, if the chain serves it.
    pub fn token(&self, mint: &Address) -> Option<&SolanaToken> {
        self.tokens.iter().find(|t| t.mint == *mint)
    }

    /// The configured symbol of `mint`, if the chain serves it.
    pub fn symbol_of(&self, mint: &Address) -> Option<&str> {
        self.token(mint).map(|t| t.symbol.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_an_rpc_key_or_the_hot_wallet() {
        let mut chain = SolanaChain::new(
            "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp".into(),
            "solana".into(),
            true,
            vec!["https://mainnet.helius-rpc.com/?api-key=SeCrEtKeY".into()],
            Commitment::Finalized,
            Duration::from_secs(5),
        );
        chain.hot_wallet = Some(SecretString::from(
            "4wBqpZM9xaSheZzJSMawUKKwhdpChKbZ5eu5ky4Vigw".to_owned(),
        ));
        let shown = format!("{chain:?}");
        assert!(!shown.contains("SeCrEtKeY"), "{shown}");
        assert!(!shown.contains("4wBqpZM9"), "{shown}");
    }

    #[test]
    fn commitment_reads_only_the_two_levels_a_leg_may_wait_for() {
        assert_eq!(Commitment::parse("confirmed"), Some(Commitment::Confirmed));
        assert_eq!(Commitment::parse("finalized"), Some(Commitment::Finalized));
        assert_eq!(Commitment::parse("processed"), None);
    }
}
