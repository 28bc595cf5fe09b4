//! Issuing banks: the [`Issuer`] role (a bank that mints and redeems a USD deposit token
//! against a USD account, for allow-listed institutional wallets), its types, its error, the
//! bank's chain side ([`DepositTokenSink`]) and the mint guard seam ([`MintGuard`]).
//!
//! The API a bank speaks is documented in `docs/issuer-api.md`: JSON with amounts as decimal
//! strings, requests signed with HMAC-SHA256 ([`sign`]), and a caller-chosen reference on every
//! state-changing request under which the bank executes it at most once and answers its
//! status (`pending` → `completed` | `rejected` with a [`RejectionCode`]).
//!
//! # Layout
//! - `types`: the requests, [`IssuerRequest`] and its statuses, [`IssuerQuote`], fees and the
//!   cut-off window. `error`: [`IssuerError`], with `code()` and `is_retryable()`.
//! - `sink`: [`DepositTokenSink`] (allow-list, mint, read a redemption) and
//!   [`MemoryTokenSink`].
//! - [`sign`]: the request signature both sides compute.
//! - `client` (feature `clients`): [`IssuerHttpClient`], the [`Issuer`] speaking the API.
//! - [`sandbox`] (feature `sandbox`): `SandboxBank`, a local issuing bank serving the API.

mod error;
pub mod sign;
mod sink;
mod types;

#[cfg(feature = "clients")]
mod client;
#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use rialto_core::ChainId;
use rust_decimal::Decimal;

pub use error::IssuerError;
pub use sink::{DepositTokenSink, MemoryTokenSink, Redemption, TokenSinkError};
pub use types::{
    CutOffWindow, FeeSchedule, IssuerQuote, IssuerRequest, MintRequest, OnboardingRequest,
    RedemptionRequest, Rejection, RejectionCode, RequestKind, RequestStatus, UsdBalance,
};

#[cfg(feature = "clients")]
pub use client::{IssuerHttpClient, IssuerHttpConfig};

/// The secure-mint check that must pass before a mint is requested: Chainlink's policy, the
/// token's supply plus the mint must stay within its reported reserves (and the feed must be
/// fresh). The Proof of Reserve guard implements it; [`Issuer::mint`] calls it before it sends
/// anything, so no mint reaches a bank unchecked.
#[async_trait]
pub trait MintGuard: Send + Sync {
    /// `Ok` when minting `amount` more tokens on `chain` is covered; otherwise why not.
    async fn check_mint(&self, chain: &ChainId, amount: Decimal) -> Result<(), String>;
}

/// A guard that checks nothing. Only for tests and the sandbox until the Proof of Reserve
/// guard exists: it says so in its name so no live path can pass it by accident unnoticed.
#[derive(Debug, Default, Clone, Copy)]
pub struct UncheckedMintGuard;

#[async_trait]
impl MintGuard for UncheckedMintGuard {
    async fn check_mint(&self, _chain: &ChainId, _amount: Decimal) -> Result<(), String> {
        Ok(())
    }
}

/// One account at an issuing bank.
///
/// Every state-changing call carries a reference chosen by the caller (derive it from the leg
/// or object it serves, never make one up per attempt). The bank executes a reference at most
/// once: a retry with the same reference and request answers the first result, whatever
/// happened in between, so every [`IssuerError::is_retryable`] failure is retried with the
/// same reference. A refusal of the request is not an `Err` but an [`IssuerRequest`] with
/// status `rejected`; `pending` ones are followed with [`Issuer::request`].
#[async_trait]
pub trait Issuer: Send + Sync {
    /// Onboards an institution: its wallet is allow-listed on the token's chain.
    async fn onboard(&self, request: &OnboardingRequest) -> Result<IssuerRequest, IssuerError>;

    /// The account's USD. Safe to retry.
    async fn balance(&self) -> Result<UsdBalance, IssuerError>;

    /// Mints to an allow-listed wallet, debiting USD.
    ///
    /// Secure mint: the caller hands in the Proof of Reserve `guard`; a request the bank has
    /// not seen is sent only once `guard` passed (a retry of a reference the bank already holds
    /// answers its status without asking the guard again, since the supply may already include
    /// that very mint). A refusal is [`IssuerError::MintGuardRefused`] with nothing sent.
    async fn mint(
        &self,
        request: &MintRequest,
        guard: &dyn MintGuard,
    ) -> Result<IssuerRequest, IssuerError>;

    /// Redeems tokens the caller burned (or sent to the redemption address) in `tx_hash` for
    /// USD, minus the fee. A burn is redeemed once, whatever the reference.
    async fn redeem(&self, request: &RedemptionRequest) -> Result<IssuerRequest, IssuerError>;

    /// The request under `reference`, as it stands now. Safe to retry.
    async fn request(&self, reference: &str) -> Result<IssuerRequest, IssuerError>;

    /// What a mint or redemption of `amount` would cost and when it would execute. Safe to
    /// retry; binds nothing.
    async fn quote(&self, kind: RequestKind, amount: Decimal) -> Result<IssuerQuote, IssuerError>;
}
