//! Rialto's EVM side that does not belong to one venue: the local devnet `rialto devnet`
//! runs (anvil chains with the sandbox tokens, Chainlink mock feeds and Uniswap V2), the
//! manifest that tells the gateway where everything is, and a Chainlink feed reader that turns
//! a feed answer into an exact price or refuses it.
//!
//! Money stays exact: amounts cross the chain boundary as integer base units (`U256`) converted
//! through `rialto_core::Money`, prices come back as `rust_decimal::Decimal`; no floats.
//!
//! # Layout
//! - [`devnet`]: [`Devnet::start`] / [`Devnet::stop`], [`DevnetConfig`], [`locate_anvil`] and
//!   [`run_devnet_foreground`] for the CLI. Inside: anvil processes, artifact loading and
//!   library linking, the sandbox accounts, the deploy sequence, `sandbox.json` checks.
//! - [`manifest`]: the serde types of the devnet manifest ([`DevnetManifest`]), read and written
//!   as JSON.
//! - [`chainlink`]: [`chainlink::read_latest`] and the pure [`chainlink::judge_round`]: positive,
//!   complete, fresh answers only.
//! - [`contracts`]: `sol!` bindings for the deployed contracts and the conversions between
//!   `rialto_core::Address` and alloy's address.
//! - [`transfers`]: [`transfers::observe_transfer`]: what a submitted transaction paid (its
//!   ERC-20 `Transfer` logs to a recipient), with block and confirmations.
//! - [`sender`]: offline signing of the gateway's own EIP-1559 transactions, fee and gas
//!   estimates, idempotent (re-)broadcast and receipt lookup.
//! - [`watch`]: the chain watcher's reads: head, canonical block hashes (reorg detection) and
//!   `Transfer` logs of a set of tokens over a block range.
//! - [`error`]: [`EvmError`], the crate's one error type.

pub mod chainlink;
pub mod contracts;
pub mod devnet;
pub mod error;
pub mod manifest;
pub mod sender;
pub mod transfers;
pub mod watch;

/// A JSON-RPC provider for `rpc_url` (read-only: it signs nothing).
pub async fn connect(rpc_url: &str) -> Result<alloy::providers::DynProvider, EvmError> {
    use alloy::providers::{Provider, ProviderBuilder};
    Ok(ProviderBuilder::new().connect(rpc_url).await?.erased())
}

pub use devnet::{locate_anvil, run_devnet_foreground, Devnet, DevnetChain, DevnetConfig};
pub use error::EvmError;
pub use manifest::DevnetManifest;
