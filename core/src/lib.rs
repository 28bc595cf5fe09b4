//! Rialto's domain: the types every other crate speaks, with no IO.
//!
//! Everything here is pure and deterministic: parsing, validation, exact arithmetic and the
//! payment-intent state machine. Clocks and randomness are injected by callers (IDs take their
//! timestamp from the caller where it matters for tests).
//!
//! # Layout
//! - [`money`]: `Money` and `Currency`, exact decimal amounts that refuse more precision than
//!   their currency has, with checked arithmetic and base-unit conversion.
//! - [`chain`]: `ChainId` (CAIP-2) and `AssetId` (CAIP-19).
//! - [`address`]: `Address`, EVM (EIP-55 checksum validated) and Solana (base58, 32 bytes).
//! - [`asset`]: `Asset`, `Chain` and the `AssetRegistry` loaded from a data file, with aliases.
//! - [`id`]: typed, prefixed, time-ordered identifiers (`pi_…`, `mer_…`, …).
//! - [`intent`]: the payment intent, its statuses and the transition table of DESIGN.md §4.
//! - [`clock`]: the one injected `Clock` (system and manual).
//! - [`fx`]: `FxLock`, a fiat amount's locked price in a settlement asset, with its feed rounds.
//! - [`ledger`]: the double-entry ledger's `Account`, `Entry` and `Posting`, balanced per asset.
//! - [`payment_uri`]: Solana Pay and EIP-681 payment URIs, strict parsers and canonical builders.
//! - [`reserves`]: Proof of Reserve as a guard: `PorGuard` (reserves cover supply, report fresh)
//!   and Chainlink's secure-mint rule (supply + mint ≤ reserves).

pub mod address;
pub mod asset;
pub mod chain;
pub mod clock;
pub mod fx;
pub mod id;
pub mod intent;
pub mod ledger;
pub mod money;
pub mod payment_uri;
pub mod reserves;

pub use address::{Address, AddressError};
pub use asset::{Asset, AssetKind, AssetRegistry, Chain, RegistryError};
pub use chain::{AssetId, ChainId, ChainIdError, ChainNamespace};
pub use clock::Clock;
pub use id::{Id, IdError, IdKind};
pub use intent::{PaymentEvent, PaymentStatus, TransitionError};
pub use money::{Currency, CurrencyKind, Money, MoneyError};
pub use reserves::{PorGuard, ReserveBreach, ReserveReport};
