//! The Rialto gateway: the HTTP edge of the engine, the SQL store behind it, configuration and
//! the `rialto` command.
//!
//! This is the only crate that touches sqlx, axum, configuration files or the environment.
//! Handlers parse, call the engine (`rialto_engine`) and render; the engine's modules are
//! re-exported here under their old paths so the binary and the tests read one namespace.
//!
//! # Layout
//! - [`api`]: axum routes, authentication, idempotency, request bodies, error mapping, OpenAPI.
//! - [`error`]: the one mapping from engine errors to Stripe-style error objects and statuses.
//! - [`store`]: [`SqlStore`](store::SqlStore), the engine's store ports for SQLite and
//!   PostgreSQL, with the migrations.
//! - [`batch_relay`]: gasless payments relayed in `BatchRelayer` batches from nonce lanes: the
//!   relay queue's worker and the payer's wait for the outcome.
//! - [`chains`]: the configuration's chains wired behind the connectors' roles (EVM nodes,
//!   the devnet DEX and bridge, deposit keys, Chainlink feeds) for the engine.
//! - [`devnet_bridges`]: the sandbox's bridge from the devnet manifest, every one a devnet
//!   stand-in: `DevnetBurnMint` between the anvil chains, `DevnetRelay` to and from Solana.
//! - [`deposit_tokens`]: the devnet manifest's permissioned deposit tokens (`JPMD-DEV`) added
//!   to the asset registry at start-up, as settlement assets of kind `DepositToken`.
//! - [`devnet_cli`]: `rialto devnet`: the anvil chains and the Solana simnet, one manifest.
//! - [`solana_chains`]: the devnet manifest's Solana chain (`SolanaNode` over the simnet) for
//!   the engine, sandbox mode.
//! - [`config`]: `rialto.toml` + `RIALTO__…` environment + flags, validated at start-up.
//! - [`server`]: start-up, telemetry and graceful shutdown.
//! - [`exchange`]: the engine's exchange module under its old path, plus the sandbox exchange's
//!   start-up ([`exchange::sandbox`], with its devnet settlement sink) and the real venue
//!   clients wired into [`exchange::Venues`].
//! - [`sandbox_bank`]: the sandbox issuing bank's start-up beside the sandbox exchange
//!   (`[sandbox] bank`), with Rialto's treasury account.
//! - [`doctor`]: `rialto doctor`, the configuration checked end to end in plain words.
//! - [`cli_ops`]: what the operator commands (`operators`, `compliance …`) do.
//! - [`reserve_feeds`]: the Proof of Reserve feeds to guard assets with (the devnet
//!   manifest's, `[[reserves.feeds]]` on live chains) and the live assets refused without one.
//! - [`reconcile_cli`]: `rialto reports export` and `rialto reconcile run`.
//! - [`uri_cli`]: `rialto uri parse` and `rialto uri build` (Solana Pay and EIP-681 links).
//! - [`http_client`]: the engine's outbound-HTTP port implemented with reqwest (no redirects,
//!   deadlines, capped bodies), which webhook delivery and the external screener send through.
//! - [`tls`]: the one TLS client configuration (rustls, webpki roots, `[tls] extra_ca_file`)
//!   every outbound connection uses.
//! - [`lists_refresh`]: `rialto compliance refresh`: download, verify and swap in the OFAC lists.
//! - [`webhooks`]: the engine's webhooks, plus [`webhooks::http_client`], the client deliveries
//!   use.

pub mod api;
pub mod batch_relay;
pub mod chains;
pub mod cli_ops;
pub mod config;
pub mod deposit_tokens;
pub mod dev_secrets;
pub mod devnet_bridges;
pub mod devnet_cli;
pub mod doctor;
pub mod error;
pub mod exchange;
pub mod http_client;
pub mod lists_refresh;
pub mod reconcile_cli;
pub mod reserve_feeds;
pub mod sandbox_bank;
pub mod server;
pub mod solana_chains;
pub mod store;
pub mod tls;
pub mod uri_cli;
pub mod webhooks;

pub use rialto_engine::{
    chain, clock, compliance, keys, ledger, merchants, payouts, reconcile, refunds, registry,
    routing, settings, treasury, workers,
};
