//! The Rialto gateway: the HTTP API merchants and payers call, the persistence behind it, the
//! background workers, and the `rialto` command.
//!
//! This is the only crate that touches sqlx, axum, configuration files or the environment. It
//! sequences compliance → router → store (DESIGN.md §1); the other crates stay pure.
//!
//! # Layout
//! - [`api`]: axum routes, authentication, idempotency, request bodies, error mapping, OpenAPI.
//! - [`cli_ops`]: what the operator commands (`operators`, `compliance …`) do.
//! - [`store`]: the `Store` trait and its SQL implementation for SQLite and PostgreSQL.
//! - [`config`]: `rialto.toml` + `RIALTO__…` environment + flags, validated at start-up.
//! - [`error`]: the one mapping from failures to Stripe-style error objects.
//! - [`ledger`]: the double-entry ledger's postings (balanced per asset, exact, append-only).
//! - [`keys`]: API key generation, parsing and hashing; client secrets.
//! - [`merchants`]: creating merchants with their keys.
//! - [`workers`]: background jobs (expiring intents, pruning idempotency keys).
//! - [`webhooks`]: Standard Webhooks signing, sealed secrets, URL policy, the delivery outbox.
//! - [`server`]: start-up, telemetry and graceful shutdown.
//! - [`registry`]: the built-in asset registry (chains and tokens compiled in from `data/`).
//! - [`compliance`]: OFAC data loading and reload, the external screener, and the screening
//!   points of the payment flow (settlement address, received funds, case resolution).
//! - [`chain`]: the EVM rail: chains served, the gateway's own transactions (signed and stored
//!   before sending), the watcher (deposits, confirmations, reorgs) and direct settlement.
//! - [`exchange`]: paying from a linked exchange account (sealed credentials, venue clients,
//!   the sandbox exchange whose withdrawals land on the devnet).
//! - [`routing`]: the SmartFunding router wired to the connectors: market snapshots, the
//!   Chainlink oracle adapter, quotes and locks, venue health, and the on-chain legs of routes
//!   (swaps, the sandbox bridge, transfers).
//! - [`settings`]: a merchant's settlement schedule and payment policy.
//! - [`refunds`]: refunds out of the merchant's balance, sent from the treasury wallet.
//! - [`payouts`]: batched settlement: payouts per schedule, maker-checker approval.
//! - [`treasury`]: the one way refunds and payouts leave: claimed, screened, recorded, sent.
//! - [`clock`]: injected time.
//! - [`reconcile`]: reconciliation against the chains, its runs, and the merchant reports.

pub mod api;
pub mod chain;
pub mod cli_ops;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod error;
pub mod exchange;
pub mod keys;
pub mod ledger;
pub mod merchants;
pub mod payouts;
pub mod reconcile;
pub mod refunds;
pub mod registry;
pub mod routing;
pub mod server;
pub mod settings;
pub mod store;
pub mod treasury;
pub mod webhooks;
pub mod workers;
