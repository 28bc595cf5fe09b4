//! The devnet's Solana chain, wired: the `solana` key of the devnet manifest as the engine's
//! [`Chain`] (its node [`SolanaNode`], its hot wallet, its stand-in mints), sandbox mode only.
//! Intents settling on it are paid and verified like any other chain's, through the
//! `connectors` roles.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rialto_connectors::rail::SigningKey;
use rialto_core::address::Address;
use rialto_core::asset::AssetRegistry;
use rialto_core::ChainNamespace;
use rialto_engine::chain::{registry_tokens, Chain, Chains};
use rialto_solana::chain::{Commitment, SolanaChain, SolanaToken};
use rialto_solana::devnet::manifest::SolanaManifest;
use rialto_solana::node::SolanaNode;

/// How long one Solana RPC request may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// The manifest's Solana chain, if the devnet ran one, added to `chains` (sandbox mode).
pub fn add_sandbox(
    chains: &mut Chains,
    manifest_path: &Path,
    registry: &AssetRegistry,
    confirmations: u64,
) -> anyhow::Result<Option<String>> {
    let Some(manifest) = SolanaManifest::read(manifest_path)
        .with_context(|| format!("the Solana part of {}", manifest_path.display()))?
    else {
        return Ok(None);
    };
    // `confirmed` is one slot deep; anything more asked of the sandbox means `finalized`.
    let commitment = if confirmations > 1 {
        Commitment::Finalized
    } else {
        Commitment::Confirmed
    };
    let mut chain = SolanaChain::new(
        manifest.chain_id.clone(),
        manifest.alias.clone(),
        false,
        vec![manifest.rpc_url.clone()],
        commitment,
        RPC_TIMEOUT,
    );
    chain.hot_wallet = Some(manifest.gateway_hot_wallet.secret_key.clone());
    for (symbol, entry) in &manifest.tokens {
        let mint = Address::parse(&entry.mint, ChainNamespace::Solana)
            .with_context(|| format!("devnet Solana mint {symbol}"))?;
        chain.tokens.push(SolanaToken {
            symbol: symbol.clone(),
            mint,
            decimals: entry.decimals,
        });
    }
    chains.insert(Chain {
        caip2: chain.caip2.clone(),
        alias: chain.alias.clone(),
        livemode: false,
        confirmations: commitment.confirmations(),
        tokens: registry_tokens(registry, &chain.caip2, &[]),
        hot_wallet: chain.hot_wallet.clone().map(SigningKey),
        node: Arc::new(SolanaNode::new(chain.clone())),
        dex: None,
    });
    Ok(Some(manifest.chain_id))
}
