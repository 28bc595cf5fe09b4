//! Connectors to the outside world that moves money: exchanges, EVM and Solana chains, rails
//! (public stablecoins, bank deposit tokens) and price feeds.
//!
//! Nothing is implemented here yet: the exchange, EVM rail and price-feed issues fill this
//! crate. It exists so the dependency direction of DESIGN.md §2 (gateway → router →
//! connectors/compliance → core) holds from the first commit.
//!
//! # Layout
//! - (empty until the connector issues land)
