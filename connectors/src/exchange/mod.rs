//! Centralised exchanges: one flat [`Exchange`] trait (one async method per operation, in the
//! style of barter-rs), the domain types it speaks, the [`VenueClients`] port that builds a
//! venue's client, and (feature `clients`) the venue clients themselves.
//!
//! Money-moving calls (`place_order`, `withdraw`) carry an id derived from the route leg
//! ([`client_order_id`], [`withdrawal_reference`]) so that, when their outcome is unknown, the
//! venue can be asked what happened before anything is sent again: see [`place_order_once`] and
//! [`withdraw_once`].
//!
//! # Layout
//! Always there (no HTTP client): [`Exchange`], the domain types, [`ExchangeError`],
//! [`walk_book`], the ids, [`VenueLimiter`], the `*_once` helpers, and the venue-building port
//! ([`VenueClients`] with [`Credentials`], [`VenueMap`] and [`SettlementTarget`]).
//! Feature `clients`: `binance`, `coinbase`, `kraken` (each venue's REST client, on reqwest)
//! and `HttpVenueClients`, the [`VenueClients`] that builds them; `HttpSetup`, how the builder
//! of the clients sets their HTTP client up (the gateway's TLS configuration).
//! Feature `sandbox` (implies `clients`): `sandbox`, the local exchange speaking all three
//! venues' wire APIs.

mod book;
mod error;
#[cfg(feature = "clients")]
mod factory;
#[cfg(feature = "clients")]
mod http;
#[cfg(feature = "clients")]
mod http_setup;
mod ids;
mod limit;
mod once;
mod types;
mod venues;

#[cfg(feature = "clients")]
pub mod binance;
#[cfg(feature = "clients")]
pub mod coinbase;
#[cfg(feature = "clients")]
pub mod kraken;
#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use rialto_core::ChainId;
use rust_decimal::Decimal;

pub use book::{walk_book, BookLevel};
pub use error::{ExchangeError, SigningError};
#[cfg(feature = "clients")]
pub use factory::HttpVenueClients;
#[cfg(feature = "clients")]
pub use http_setup::HttpSetup;
pub use ids::{client_order_id, withdrawal_reference};
pub use limit::VenueLimiter;
pub use once::{place_order_once, withdraw_once, RetryPolicy};
pub use types::{
    AssetCode, Balance, Capabilities, DepositAddress, KeyAccess, Order, OrderKind, OrderRequest,
    OrderStatus, OrderType, Pair, Quote, Side, Venue, Withdrawal, WithdrawalRequest,
    WithdrawalStatus, WithdrawalTerms,
};
pub use venues::{Credentials, SettlementTarget, VenueClients, VenueMap};

/// Time is injected wherever it is signed or compared (Kraken nonces, Binance timestamps,
/// Coinbase JWT expiry) so tests control it: the one clock of `rialto-core`.
pub use rialto_core::clock::{Clock, SystemClock};

/// The clock's reading as the unsigned milliseconds the venues' wire formats carry.
#[cfg(feature = "clients")]
pub(crate) fn now_ms_u64(clock: &dyn Clock) -> u64 {
    u64::try_from(clock.now_ms()).unwrap_or(0)
}

/// One centralised exchange account.
///
/// Reads (`balances`, `quote`, `*_status`, `find_*`, `withdrawal_terms`, `deposit_address`)
/// are safe to retry. `place_order` and `withdraw` are not: when they return
/// [`ExchangeError::Unknown`] the request may or may not have executed, and the caller must
/// resolve it with `find_order` / `find_withdrawal` (the `*_once` helpers do exactly that).
#[async_trait]
pub trait Exchange: Send + Sync {
    fn venue(&self) -> Venue;

    /// Assets, networks per asset and order types this client supports.
    fn capabilities(&self) -> &Capabilities;

    /// Every non-zero balance on the account.
    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError>;

    /// An executable price for `base_size` of `pair` on `side`: walks the current book and
    /// includes the taker fee. Fails with `InsufficientLiquidity` when the book is too thin.
    async fn quote(
        &self,
        pair: &Pair,
        side: Side,
        base_size: Decimal,
    ) -> Result<Quote, ExchangeError>;

    /// Places a market or IOC limit order with the client order id derived from its leg.
    /// Not idempotent on every venue: may return `Unknown`.
    async fn place_order(&self, order: &OrderRequest) -> Result<Order, ExchangeError>;

    /// The current state of an order placed earlier.
    async fn order_status(&self, pair: &Pair, venue_order_id: &str)
        -> Result<Order, ExchangeError>;

    /// Looks an order up by the client order id derived from `order.leg`; `None` when the
    /// venue has no such order (it was never received).
    async fn find_order(&self, order: &OrderRequest) -> Result<Option<Order>, ExchangeError>;

    /// The venue's fee and minimum for withdrawing `asset` on `network`.
    async fn withdrawal_terms(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<WithdrawalTerms, ExchangeError>;

    /// Withdraws to an address on a named network, tagged with the leg's reference.
    /// May return `Unknown`.
    async fn withdraw(&self, request: &WithdrawalRequest) -> Result<Withdrawal, ExchangeError>;

    /// The current state of a withdrawal, with its on-chain hash once the venue reports one.
    async fn withdrawal_status(
        &self,
        asset: &AssetCode,
        venue_withdrawal_id: &str,
    ) -> Result<Withdrawal, ExchangeError>;

    /// Looks a withdrawal up by its reference; `None` when the venue has no such withdrawal.
    async fn find_withdrawal(
        &self,
        request: &WithdrawalRequest,
    ) -> Result<Option<Withdrawal>, ExchangeError>;

    /// The account's deposit address for `asset` on `network`.
    async fn deposit_address(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<DepositAddress, ExchangeError>;

    /// What this key may do, from the venue's documented read-only calls (Binance
    /// `apiRestrictions`, Coinbase `key_permissions`, Kraken `Balance` and `WithdrawMethods`).
    /// Moves nothing; fails with [`ExchangeError::Auth`] when the venue refuses the key.
    async fn key_access(&self) -> Result<KeyAccess, ExchangeError> {
        Err(ExchangeError::Unsupported {
            venue: self.venue(),
            what: "reading a key's permissions".into(),
        })
    }

    /// The account holder's name where the venue's API gives it (Coinbase `GET /v2/user`),
    /// which name screening checks; `None` where it gives none (Binance and Kraken have no
    /// such call) or the name is blank.
    async fn account_holder(&self) -> Result<Option<String>, ExchangeError> {
        Ok(None)
    }
}
