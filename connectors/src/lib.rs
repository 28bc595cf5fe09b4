//! Connectors to the outside world that moves money: exchanges, issuing banks, EVM and Solana
//! chains, rails (public stablecoins, bank deposit tokens) and price feeds.
//!
//! It holds the roles every outside party implements ([`rail::Rail`] with its journal port,
//! [`chain::ChainNode`], [`dex::Dex`], [`bridge::Bridge`], [`price_feed::PriceFeed`],
//! [`exchange::Exchange`]) and the exchange clients; chain implementations live in their own
//! crates (`rialto-evm`). Everything venue-specific (wire types, status
//! mapping, signing, limits) stays inside its venue module; callers see the [`exchange`]
//! domain types and one error type whose variants say whether a retry is safe.
//!
//! # Layout
//! - [`rail`]: the chain-agnostic [`rail::Rail`] (legs named by purpose and reference, recorded
//!   in a [`rail::RailJournal`] before they are sent), [`rail::MemoryJournal`], and the rail
//!   conformance suite every implementation runs ([`rail::conformance`]).
//! - [`chain`]: [`chain::ChainNode`], the reads a flow needs of a chain beside its rail (head,
//!   block hashes, transfers, receipts, lost legs, fee quotes, the chain's own encodings), its
//!   error [`chain::ChainError`], [`chain::DepositKeyring`] and [`chain::leg_step`].
//! - [`dex`]: [`dex::Dex`], swaps on one chain (pool reserves, allowance, output, the approve
//!   and swap legs).
//! - [`bridge`]: [`bridge::Bridge`], moving a stablecoin between chains as recorded rail legs.
//! - [`price_feed`]: [`price_feed::PriceFeed`], checked prices by chain and pair, and
//!   [`price_feed::PriceFeedError`], whose kind says whether another source may be asked.
//! - [`exchange`]: the flat [`exchange::Exchange`] trait, its domain types (orders, quotes,
//!   withdrawals, capabilities), [`exchange::ExchangeError`] with `is_retryable()` /
//!   `retry_after()`, book walking ([`exchange::walk_book`]), client order ids and withdrawal
//!   references derived from leg ids ([`exchange::client_order_id`]), the per-venue governor
//!   limiter ([`exchange::VenueLimiter`]) and the send-once helpers
//!   ([`exchange::place_order_once`], [`exchange::withdraw_once`]) that look an unknown outcome
//!   up before anything is sent again; and the port that builds a venue's client
//!   ([`exchange::VenueClients`], given [`exchange::Credentials`], a per-mode
//!   [`exchange::VenueMap`] and an [`exchange::SettlementTarget`]), so callers that must not
//!   link an HTTP client never name a concrete one.
//!   - `exchange::HttpVenueClients` (feature `clients`): the `VenueClients` that builds the
//!     three REST clients below.
//!   - `exchange::kraken` (feature `clients`, as are the next two): Kraken spot REST
//!     (`API-Key` / `API-Sign` HMAC-SHA512, nonces that survive restarts, tier-sized limits,
//!     Kraken's error strings).
//!   - `exchange::binance`: Binance spot REST and capital endpoints (HMAC-SHA256
//!     `signature`, `timestamp` + `recvWindow`, `X-MBX-USED-WEIGHT-1M` accounting, error codes).
//!   - `exchange::coinbase`: Coinbase Advanced Trade and App v2 (per-request CDP ES256 JWT).
//!   - `exchange::sandbox` (feature `sandbox`, on by default; implies `clients`): a local HTTP
//!     exchange on hyper that speaks the three venues' wire subsets, with books, balances, fees, minimums,
//!     latency, fault injection and a settlement sink for withdrawals; `SandboxExchange`
//!     (`Sandbox::exchange()`) is that same account as an in-process `Exchange`, straight
//!     on the engine, so the sandbox itself passes the conformance suite.
//! - [`issuer`]: [`issuer::Issuer`], an issuing bank of a USD deposit token (onboarding that
//!   allow-lists a wallet, USD balance, mints behind a [`issuer::MintGuard`], redemptions,
//!   request status by reference, quotes), [`issuer::IssuerError`], the bank's chain side
//!   [`issuer::DepositTokenSink`] with [`issuer::MemoryTokenSink`], the API's signing
//!   ([`issuer::sign`]); `IssuerHttpClient` (feature `clients`) and the sandbox issuing bank
//!   `issuer::sandbox::SandboxBank` (feature `sandbox`).
//!
//! # Features
//! - `clients` (default): the venue clients, on reqwest. Without it (and without `sandbox`) the
//!   crate links no HTTP client or server: what the engine builds against.
//! - `sandbox` (default): the sandbox exchange, on hyper.
//! - `rustls-tls` (off by default, so tests against local servers do not build rustls and
//!   ring): TLS for live venues; implies `clients`.

pub mod bridge;
pub mod chain;
pub mod dex;
pub mod exchange;
pub mod issuer;
pub mod price_feed;
pub mod rail;
