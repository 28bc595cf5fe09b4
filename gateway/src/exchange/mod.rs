//! Paying from an exchange account: the engine's [`rialto_engine::exchange`] under its old path,
//! plus what only the gateway does with venues: start the sandbox exchange (a hyper server whose
//! withdrawals are devnet transfers) and wire the real venue clients into [`Venues`].
//!
//! # Layout
//! - everything of [`rialto_engine::exchange`] ([`Venues`], [`Credentials`], [`Conversion`],
//!   [`claim_withdrawal`], [`exchange_error`], [`worker`]), re-exported.
//! - [`sandbox`]: [`start_sandbox_exchange`] and [`sandbox_for_manifest`], which answer the
//!   sandbox and the [`Venues`] pointing at it (built by
//!   [`HttpVenueClients`](rialto_connectors::exchange::HttpVenueClients)).
//! - [`devnet_sink`]: [`DevnetSink`], the sandbox's withdrawals as ERC-20 transfers from the
//!   omnibus wallet.
//! - [`live`]: the live mode's [`Venues`] from `[[live.venues]]` (the same real clients, at the
//!   configured base URLs, with Rialto's market-data credentials read from env or files).
//! - [`check`]: `rialto venues check`, each venue's key and permissions through read-only calls.
//! - [`rail_sink`]: [`rail_sink::RailSinkChain`], the sandbox's withdrawals on a chain reached
//!   through its rail (the Solana simnet: a real SPL transfer).

pub mod check;
pub mod devnet_sink;
pub mod live;
pub mod rail_sink;
pub mod sandbox;

pub use devnet_sink::DevnetSink;
pub use rialto_engine::exchange::*;
pub use sandbox::{sandbox_for_manifest, start_sandbox_exchange};
