//! The price-feed role: the price of a pair as a chain's oracle answers it, checked.
//!
//! A [`PriceFeed`] never returns a price that failed its checks (stale, not positive,
//! incomplete, read while an L2 sequencer is down or in its grace period): those are errors of
//! kind [`PriceFeedErrorKind::Refused`], and a refusal is never worked around by asking
//! elsewhere. `rialto-evm` implements it over Chainlink feeds (`ChainlinkPriceFeed`).

use std::time::Duration;

use async_trait::async_trait;
use rust_decimal::Decimal;

/// A price that passed every check, with where it came from: quotes and receipts carry the
/// round and timestamp so a price can be traced back to the exact on-chain answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceObservation {
    /// `BASE/QUOTE`: `USDC/USD` is the USD price of one USDC.
    pub pair: String,
    /// Exact: the feed's integer answer scaled down by its decimals.
    pub price: Decimal,
    pub round_id: u128,
    /// Unix seconds of the round's last update.
    pub updated_at: u64,
    pub decimals: u8,
    /// Which feed answered: `chainlink:eip155:<chain id>:<EIP-55 proxy address>`.
    pub source: String,
}

/// What kind of failure a [`PriceFeedError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceFeedErrorKind {
    /// The answer was read and refused (stale, not positive, incomplete, out of range, wrong
    /// decimals, sequencer down or in grace). Never fall back from this.
    Refused,
    /// The feed could not be asked (its node did not answer) or does not cover the chain or
    /// pair: another source may be asked.
    Unavailable,
    /// Anything else (a malformed answer, a bug): refuse.
    Failed,
}

/// A price that could not be had, and why (the feed's own error is the source).
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct PriceFeedError {
    pub kind: PriceFeedErrorKind,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl PriceFeedError {
    pub fn new(
        kind: PriceFeedErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        PriceFeedError {
            kind,
            source: source.into(),
        }
    }

    /// Whether the answer itself was refused (see [`PriceFeedErrorKind::Refused`]).
    pub fn is_safety_refusal(&self) -> bool {
        self.kind == PriceFeedErrorKind::Refused
    }
}

/// A source of checked prices by chain and pair.
#[async_trait]
pub trait PriceFeed: Send + Sync {
    /// The current price of `pair` (`USDC/USD`) as seen on chain `chain` (CAIP-2). Read-only
    /// and safe to retry; never a price that failed its checks.
    async fn price(&self, chain: &str, pair: &str) -> Result<PriceObservation, PriceFeedError>;

    /// How often the feed of `pair` on `chain` must update at least; `None` when there is no
    /// such feed.
    fn heartbeat(&self, chain: &str, pair: &str) -> Option<Duration>;
}
