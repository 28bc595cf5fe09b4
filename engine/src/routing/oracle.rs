//! The router's [`Oracle`] over the mode's price feeds (the connectors' `PriceFeed` role: the
//! gateway wires Chainlink feeds from `rialto-evm`).
//!
//! The router is synchronous and pure, the feeds are async RPC reads, so every pair a quote
//! needs is read up front into a [`PriceReadings`] (one `latestRoundData` per pair, with the
//! L2 sequencer check) and the router then asks that. A feed refusing its answer (stale, not
//! positive, sequencer down or in grace) or not answering gives no reading at all: the router
//! refuses every conversion needing it (`unavailable`), and re-checks the readings it does get.

use std::collections::{BTreeMap, HashMap};

use rialto_connectors::price_feed::PriceFeed;
use rialto_router::{Oracle, OracleReading};
use rust_decimal::Decimal;

use crate::services::Engine;

/// The reference currency of every price: `USD/USD` is one by definition, not read.
pub const REFERENCE_PAIR: &str = "USD/USD";

/// A mode with no price feeds configured (sandbox mode without a devnet manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no price feeds are configured for {mode} mode")]
pub struct NoPriceFeeds {
    pub mode: &'static str,
}

/// The price feeds of one mode: in sandbox mode the devnet manifest's mocks, for live chains
/// the bundled reference data's feeds, read over the configured chains' RPC endpoints (the
/// gateway builds them with the chains).
pub fn price_feed(state: &Engine, livemode: bool) -> Result<&dyn PriceFeed, NoPriceFeeds> {
    state.chains.price_feed(livemode).ok_or(NoPriceFeeds {
        mode: if livemode { "live" } else { "sandbox" },
    })
}

/// Reads `pairs` for an intent settling on `target` (CAIP-2): on the target chain first, then
/// on the mode's other chains.
pub async fn readings(
    state: &Engine,
    livemode: bool,
    target: &str,
    pairs: &[String],
    now: u64,
) -> Result<PriceReadings, NoPriceFeeds> {
    let feed = price_feed(state, livemode)?;
    let mut chains = vec![target.to_owned()];
    chains.extend(
        state
            .chains
            .iter()
            .filter(|c| c.livemode == livemode && c.caip2 != target)
            .map(|c| c.caip2.clone()),
    );
    Ok(read_prices(feed, &chains, pairs, now).await)
}

/// Where one reading came from, for the quote's price sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingSource {
    /// `chainlink:eip155:<chain id>:<proxy>`, or `reference` for `USD/USD`.
    pub source: String,
}

/// Readings taken for one quote, by pair; what could not be read is absent, with the reason
/// kept for the logs.
#[derive(Debug, Clone, Default)]
pub struct PriceReadings {
    readings: HashMap<String, OracleReading>,
    sources: HashMap<String, ReadingSource>,
    pub refused: BTreeMap<String, String>,
}

impl Oracle for PriceReadings {
    fn reading(&self, pair: &str) -> Option<OracleReading> {
        self.readings.get(pair).cloned()
    }
}

impl PriceReadings {
    pub fn source(&self, pair: &str) -> Option<&ReadingSource> {
        self.sources.get(pair)
    }

    /// Whether any feed refused its answer or could not be read.
    pub fn any_refused(&self) -> bool {
        !self.refused.is_empty()
    }

    /// A reading's price, for valuing gas (only after the router's own checks would pass).
    pub fn price(&self, pair: &str) -> Option<Decimal> {
        self.readings.get(pair).map(|r| r.price)
    }
}

/// Reads `pairs` on the first of `chains` (CAIP-2) that has a feed for each, at `now` (Unix
/// seconds).
pub async fn read_prices(
    feed: &dyn PriceFeed,
    chains: &[String],
    pairs: &[String],
    now: u64,
) -> PriceReadings {
    let mut out = PriceReadings::default();
    for pair in pairs {
        if pair == REFERENCE_PAIR {
            out.readings.insert(pair.clone(), reference_reading(now));
            out.sources.insert(
                pair.clone(),
                ReadingSource {
                    source: "reference".into(),
                },
            );
            continue;
        }
        let Some((chain, heartbeat)) = chains
            .iter()
            .find_map(|c| Some((c, feed.heartbeat(c, pair)?)))
        else {
            out.refused
                .insert(pair.clone(), "no feed on these chains".into());
            continue;
        };
        match feed.price(chain, pair).await {
            Ok(obs) => {
                let heartbeat = heartbeat.as_secs();
                out.sources.insert(
                    pair.clone(),
                    ReadingSource {
                        source: obs.source.clone(),
                    },
                );
                out.readings.insert(
                    pair.clone(),
                    OracleReading {
                        pair: obs.pair,
                        price: obs.price,
                        round_id: obs.round_id,
                        updated_at: obs.updated_at,
                        heartbeat,
                        // `ChainlinkPriceFeed` refuses a price read while the sequencer is
                        // down or in grace, so a reading it returns had it up.
                        sequencer_up: true,
                    },
                );
            }
            Err(err) => {
                let kind = if err.is_safety_refusal() {
                    "refused"
                } else {
                    "unreadable"
                };
                tracing::warn!(pair = %pair, chain = %chain, error = %err, "price feed {kind}");
                out.refused.insert(pair.clone(), format!("{kind}: {err}"));
            }
        }
    }
    out
}

fn reference_reading(now: u64) -> OracleReading {
    OracleReading {
        pair: REFERENCE_PAIR.into(),
        price: Decimal::ONE,
        round_id: 0,
        updated_at: now,
        heartbeat: 0,
        sequencer_up: true,
    }
}
