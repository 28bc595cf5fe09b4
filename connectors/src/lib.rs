//! Connectors to the outside world that moves money: exchanges, EVM and Solana chains, rails
//! (public stablecoins, bank deposit tokens) and price feeds.
//!
//! # Layout
//! - [`exchange`]: the flat [`exchange::Exchange`] trait, its domain types and
//!   [`exchange::ExchangeError`], book walking, client order ids derived from legs, the
//!   per-venue rate limiter and the send-once helpers ([`exchange::place_order_once`],
//!   [`exchange::withdraw_once`]).
//!   - [`exchange::kraken`]: Kraken spot REST (HMAC-SHA512 `API-Sign`, persistent nonces).
//!   - [`exchange::binance`]: Binance spot REST (HMAC-SHA256 `signature`, request weights).
//!   - [`exchange::coinbase`]: Coinbase Advanced Trade and App v2 (CDP ES256 JWTs).

pub mod exchange;
