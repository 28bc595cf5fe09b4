//! The SmartFunding router: from where the payer's money is to the merchant's stablecoin on
//! the merchant's chain, through exchange trades, withdrawals, deposits, DEX swaps and bridges.
//!
//! Pure and deterministic: no IO, no clock, no async. The gateway builds a [`Graph`] from its
//! connectors (books, withdrawal terms, pool reserves, bridge fees), hands in oracle readings
//! through [`Oracle`] and the time as Unix seconds / milliseconds, and drives a
//! [`FundingPlan`] with leg outcomes. Amounts are exact `Decimal`s rounded to each asset's
//! decimals, always in the merchant's favour: the payer's input is rounded up, every output
//! down, and a quote's merchant amount is never below the intent amount. See `docs/router.md`.
//!
//! # Layout
//! - [`graph`]: nodes (asset, location), locations (exchange account or CAIP-2 chain), edges,
//!   settlement costs per chain, interned into dense indices.
//! - [`edge`]: the edge kinds (book trade, withdrawal, deposit transfer, constant-product DEX
//!   swap, Chainlink CCIP, generic bridge, an issuing bank's mint and redemption) and their
//!   exact forward and inverse pricing.
//! - [`oracle`]: `OracleReading`, the `Oracle` trait, reading checks (stale, non-positive,
//!   sequencer down), the per-quote `PriceTable` with the deviation bound and the depeg
//!   breaker, `depegged_assets`.
//! - [`fx`]: fiat pricing through USD (`EUR → USDC = EUR/USD ÷ USDC/USD`), checked like every
//!   conversion, with a spread, rounded once at the asset's precision; `lock_fx` and `FxLock`.
//! - [`score`]: the scoring policy (cost bps, expected time, success probability).
//! - [`health`]: per-venue and per-edge success rate and latency over a sliding window, and
//!   the serializable snapshot for `GET /v1/routing/health`.
//! - [`search`]: the bounded backward search for a fixed merchant amount, forward replay.
//! - [`exhaustive`]: every simple path up to the bound, priced the same way (the benchmark's
//!   reference optimum and a test oracle).
//! - [`quote`]: `Quote`, `QuoteLeg`, `lock` and `LockedQuote`.
//! - [`execute`]: `FundingPlan`, the fallback state machine, and `execute`, which takes only a
//!   compliance-`Cleared` locked quote.
//! - [`error`]: `RouterError`, the crate's one error type.

pub mod edge;
pub mod error;
pub mod execute;
pub mod exhaustive;
pub mod fx;
pub mod graph;
pub mod health;
pub mod oracle;
pub mod quote;
pub mod score;
pub mod search;

pub use edge::{BookTrade, EdgeKind, EdgeRefusal, IssuerFees, LegKind, Pool, Priced};
pub use error::RouterError;
pub use execute::{
    execute, execute_funded, idempotency_key, Funded, FundingPlan, GiveUpReason, LegFailure,
    LegOrder, LegOutcome, Next, PlanPolicy, ReturnFunds,
};
pub use graph::{
    AssetInfo, AssetIx, Edge, EdgeIx, Graph, Location, NodeIx, NodeRef, Peg, Settlement, VenueId,
};
pub use health::{HealthPolicy, HealthSnapshot, HealthTracker};
pub use oracle::{
    check_reading, depegged_assets, CheckedPrice, Oracle, OracleReading, PricePolicy, PriceRefusal,
    PriceTable,
};
pub use quote::{lock, quote, LockedQuote, Quote, QuoteId, QuoteLeg, QuoteRequest};
pub use score::{score, ScoreInputs, ScorePolicy};
pub use search::{find_routes, Exclusions, Refusal, Route, RouteContext, RouteRequest, Source};
