//! Rialto's EVM side that does not belong to one venue: the local devnet `rialto devnet`
//! runs (anvil chains with the sandbox tokens, Chainlink mock feeds and Uniswap V2), the
//! manifest that tells the gateway where everything is, a Chainlink feed reader that turns
//! a feed answer into an exact price or refuses it (and an L2 sequencer uptime check), the
//! registry of real Chainlink feeds and the connectors' `PriceFeed` over them, EIP-3009 gasless
//! authorizations, and per-intent deposit addresses.
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
//! - [`chain`]: [`chain::EvmChain`], one chain as the gateway uses it (ids, RPC endpoints with
//!   fail-over, confirmations, hot wallet).
//! - [`node`]: [`node::EvmNode`], the connectors' `ChainNode` role on one chain (the reads the
//!   engine's flows need beside the rail), and `EvmError` → `ChainError`.
//! - [`uniswap`]: [`uniswap::UniswapV2`], the connectors' `Dex` role: pool reserves, allowance,
//!   `getAmountsOut`, and the exact-approve and swap legs.
//! - [`devnet_bridge`]: [`devnet_bridge::DevnetBurnMint`], the connectors' `Bridge` role on the
//!   devnet: a burn/mint stand-in (burn and mint by the devnet FiatToken's minter); [`ccip_bridge`]: the `Bridge`
//!   over Chainlink CCIP's router; [`devnet_don`]: the devnet stand-in for Chainlink's DON.
//!   Its lanes are the market's venue `devnet-burn-mint`.
//! - [`devnet_relay`]: [`devnet_relay::FiatTokenMinter`], the EVM end of the connectors'
//!   devnet relay stand-in (`DevnetRelay`, Solana ↔ EVM): the same minter burns and mints.
//! - [`rail`]: [`rail::EvmRail`], the chain-agnostic `Rail` role of `rialto-connectors` on one
//!   EVM chain: legs estimated, recorded in the caller's journal, signed, then broadcast.
//! - [`chainlink`]: [`chainlink::read_latest`] and the pure [`chainlink::judge_round`]: positive,
//!   complete, fresh answers only; [`chainlink::read_sequencer`] / [`chainlink::judge_sequencer`]
//!   for an L2 sequencer uptime feed.
//! - [`feeds`]: [`feeds::FeedRegistry`]: Chainlink proxies, decimals and heartbeats by chain and
//!   pair, and L2 sequencer uptime feeds, from the reference data or the devnet manifest.
//! - [`price_feed`]: [`price_feed::EvmPriceFeed`] (by EIP-155 id, with [`EvmError`]),
//!   [`price_feed::ChainlinkPriceFeed`], which also implements the connectors' `PriceFeed`
//!   (sequencer first, then a judged `latestRoundData`, over an injected clock) and
//!   [`price_feed::FallbackPriceFeed`] (second source on outages only, never on refusals).
//! - [`deposit_token`]: the permissioned deposit token (JPMD-shaped devnet stand-in): bindings,
//!   roles, `is_allowed`, `total_supply` and the EIP-1967 implementation read.
//! - [`deposit_token_sink`]: the sandbox issuing bank's chain side on the devnet deposit token
//!   (`DepositTokenSink`: allow, mint and read burns, signed with the devnet bank's key).
//! - [`reserves`]: Proof of Reserve reads: a reserve feed's `latestRoundData` as a
//!   `ReserveReport`, judged by `rialto_core::PorGuard` (coverage, freshness, secure mint).
//! - [`ccip`]: Chainlink CCIP's `IRouterClient` (`getFee`, `ccipSend`, `EVM2AnyMessage`) and the
//!   devnet on-ramp stand-in's event.
//! - [`contracts`]: `sol!` bindings for the deployed contracts and the conversions between
//!   `rialto_core::Address` and alloy's address.
//! - [`transfers`]: [`transfers::observe_transfer`]: what a submitted transaction paid (its
//!   ERC-20 `Transfer` logs to a recipient), with block and confirmations.
//! - [`provider`]: one JSON-RPC provider per endpoint, built once, with connect and request
//!   timeouts.
//! - [`sender`]: offline signing of the gateway's own EIP-1559 transactions, fee and gas
//!   estimates, idempotent (re-)broadcast and receipt lookup.
//! - [`watch`]: the chain watcher's reads: head, canonical block hashes (reorg detection) and
//!   `Transfer` logs of a set of tokens over a block range.
//! - [`eip3009`]: gasless USDC/EURC payments: EIP-712 digests of FiatToken authorizations,
//!   intent-bound nonces, signature recovery, off-chain and on-chain checks, calldata, simulation.
//! - [`eip1271`]: whether a contract account accepts a signature (`isValidSignature`), for
//!   payers whose wallet is a contract.
//! - [`deposit`]: per-intent deposit addresses derived from one mnemonic (BIP-44), and EIP-681
//!   payment URIs.
//! - [`error`]: [`EvmError`], the crate's error type, and [`AuthorizationError`], the verdict on
//!   an EIP-3009 authorization.

pub mod batch_relay;
pub mod ccip;
pub mod ccip_bridge;
pub mod chain;
pub mod chainlink;
pub mod contracts;
pub mod deposit;
pub mod deposit_token;
pub mod deposit_token_sink;
pub mod devnet;
pub mod devnet_bridge;
pub mod devnet_don;
pub mod devnet_relay;
pub mod eip1271;
pub mod eip3009;
pub mod error;
pub mod feeds;
pub mod l1_fee;
pub mod manifest;
pub mod node;
pub mod price_feed;
pub mod provider;
pub mod rail;
mod rail_replace;
pub mod replace;
pub mod reserves;
pub mod sender;
pub mod transfers;
pub mod uniswap;
pub mod watch;

/// The shared JSON-RPC provider for `rpc_url` (read-only: it signs nothing), with timeouts.
pub async fn connect(rpc_url: &str) -> Result<alloy::providers::DynProvider, EvmError> {
    provider::provider(rpc_url)
}

pub use devnet::{
    locate_anvil, run_devnet_foreground, AnvilProcess, Devnet, DevnetChain, DevnetConfig,
};
pub use error::{AuthorizationError, EvmError};
pub use feeds::FeedRegistry;
pub use manifest::DevnetManifest;
pub use price_feed::{ChainlinkPriceFeed, EvmPriceFeed, FallbackPriceFeed, PriceObservation};
