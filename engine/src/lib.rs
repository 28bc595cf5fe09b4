//! The Rialto engine: the payment flows, the services they draw on, the store ports and the
//! background workers. It knows nothing of HTTP requests, status codes, SQL or chain SDKs: the
//! gateway parses requests, calls the engine and renders what it answers, implements the store
//! ports for SQLite and PostgreSQL, and wires the chains, venues and HTTP client behind the
//! `connectors` roles and the engine's ports.
//!
//! Failures are one typed [`EngineError`](error::EngineError), carrying the stable error code
//! the HTTP layer renders.
//!
//! # Layout
//! - [`services`]: [`Engine`](services::Engine), the services every flow and worker takes.
//! - [`config`]: the configuration sections the engine reads (plain data; the gateway loads).
//! - [`error`]: [`EngineError`](error::EngineError) and its stable [`ErrorCode`](error::ErrorCode).
//! - [`store`]: the store ports, split by area, gathered in [`Store`](store::Store).
//! - [`idempotency`]: idempotency keys committed with the change they answer.
//! - [`objects`]: the objects as the API shows them, where events and webhooks carry them.
//! - [`ledger`]: the double-entry ledger's postings (balanced per asset, exact, append-only),
//!   over `rialto_core::ledger`'s typed `Account`, `Entry` and `Posting`.
//! - [`keys`]: API key generation, parsing and hashing; client secrets.
//! - [`merchants`]: creating merchants with their keys.
//! - [`access_keys`]: several named keys per merchant and mode: create, roll with a grace
//!   period, revoke; operator keys roll and revoke too.
//! - [`approvals`]: maker-checker, the custody of keys and who counts as a second key.
//! - [`settings_changes`]: changes to the money-moving settings that wait for a second key.
//! - [`registry`]: the built-in asset registry (chains and tokens compiled in from `data/`).
//! - [`compliance`]: OFAC data loading and reload, the external screener, and the screening
//!   points of the payment flow (settlement address, received funds, case resolution).
//! - [`chain`]: the chains the engine serves ([`Chains`](chain::Chains) of
//!   [`Chain`](chain::Chain), each reached through the connectors' `ChainNode` and its `Rail`;
//!   the gateway builds them): Rialto's own transactions (recorded before sending), the watcher
//!   (deposits, confirmations, reorgs), relays and direct settlement.
//! - [`exchange`]: paying from a linked exchange account (sealed credentials, the venues of a
//!   mode with the `VenueClients` factory the gateway wires; the engine names no concrete
//!   client, and the gateway starts the sandbox exchange).
//! - [`routing`]: the SmartFunding router wired to the connectors: market snapshots, the
//!   oracle adapter over the mode's `PriceFeed`, quotes and locks, venue health, starting and
//!   executing routes (typed plans, `ExecError`), the payment policy on a wallet payer's
//!   funding of a route (top-up window and late window: `routing::start::topup`), and the
//!   on-chain legs (swaps through the chain's `Dex`, bridge legs
//!   through the mode's `Bridge`, transfers).
//! - [`settings`]: a merchant's settlement schedule and payment policy.
//! - [`refunds`], [`payouts`], [`treasury`]: money leaving Rialto: claimed, screened,
//!   recorded, sent.
//! - [`reserves`]: Proof of Reserve as a guard: the reserves worker, the per-asset halt the
//!   request paths and settlement check, and the secure-mint `MintGuard` over chain reads
//!   (`reserves::mint::PorMintGuard`; `docs/proof-of-reserve.md`).
//! - [`issuer`]: `MeteredIssuer`, an issuing bank with its failures counted; `IssuerDesk`, the
//!   mode's bank as routes mint at it (`routing::issuer`).
//! - [`issuer_redemption`]: an operator's redemption of the treasury's deposit tokens at the
//!   bank (stored first, the bank burns from the treasury's wallet, confirmed by the burn on
//!   chain and the bank's credit, booked `issuer_redemption`/`issuer_fee`).
//! - [`refund_funding`]: refunds the merchant's balance cannot cover (`requires_funding`),
//!   funded from its settlement address (a proven transfer or a relayed EIP-3009
//!   authorization) or from its prepaid refund reserve.
//! - [`refund_convert`]: refunds in another asset than the one received: a router quote over
//!   the chains' pools and bridge lanes, priced forwards from the refunded amount and locked on
//!   the refund, its legs sent from the hot wallets with the routes' on-chain legs.
//! - [`reconcile`]: reconciliation against the chains, its runs, and the merchant reports.
//! - [`telemetry`]: the workers' Prometheus series (docs/METRICS.md).
//! - [`webhooks`]: Standard Webhooks signing, sealed secrets, URL policy, the delivery outbox.
//! - [`x402`]: the x402 v2 facilitator's protocol shape and checks (`exact` on EVM through
//!   the EIP-3009 relay; each settled payment becomes a payment intent of the merchant).
//! - [`workers`]: background jobs (expiring intents, pruning idempotency keys).
//! - [`outbound`]: the outbound-HTTP port ([`HttpClient`](outbound::HttpClient)) webhook
//!   delivery and the external screener send through; the gateway implements it (reqwest),
//!   so the engine holds no HTTP client and no HTTP types.
//! - [`clock`]: injected time.

pub mod access_keys;
pub mod approvals;
pub mod chain;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod error;
pub mod exchange;
pub mod idempotency;
pub mod issuer;
pub mod issuer_redemption;
pub mod keys;
pub mod ledger;
pub mod merchants;
pub mod objects;
pub mod outbound;
pub mod payouts;
pub mod reconcile;
pub mod refund_convert;
pub mod refund_funding;
pub mod refunds;
pub mod registry;
pub mod reserves;
pub mod routing;
pub mod services;
pub mod settings;
pub mod settings_changes;
pub mod store;
pub mod telemetry;
pub mod treasury;
pub mod webhooks;
pub mod workers;
pub mod x402;

pub use error::{EngineError, ErrorCode};
pub use services::Engine;
