//! The router's [`Oracle`] over `rialto-evm`'s Chainlink feeds.
//!
//! The router is synchronous and pure, the feeds are async RPC reads, so every pair a quote
//! needs is read up front into a [`PriceReadings`] (one `latestRoundData` per pair, with the
//! L2 sequencer check) and the router then asks that. A feed refusing its answer (stale, not
//! positive, sequencer down or in grace) or not answering gives no reading at all: the router
//! refuses every conversion needing it (`unavailable`), and re-checks the readings it does get.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rialto_evm::feeds::{FeedRegistry, DEFAULT_STABLE_HEARTBEAT};
use rialto_evm::price_feed::{is_safety_refusal, ChainlinkPriceFeed, PriceFeed};
use rialto_router::{Oracle, OracleReading};
use rust_decimal::Decimal;

use crate::services::Engine;

/// The reference currency of every price: `USD/USD` is one by definition, not read.
pub const REFERENCE_PAIR: &str = "USD/USD";

/// The engine's injected clock, as the feeds' staleness and grace checks see it.
pub type FeedClock = Arc<dyn crate::clock::Clock>;

/// The Chainlink feeds of one mode: the devnet manifest's mocks in sandbox mode, the bundled
/// reference data's feeds for live chains; read over the configured chains' RPC endpoints.
pub fn price_feed(state: &Engine, livemode: bool) -> Result<ChainlinkPriceFeed<FeedClock>, String> {
    let registry = if livemode {
        FeedRegistry::builtin().map_err(|e| e.to_string())?
    } else {
        let path = &state.config.sandbox.devnet_manifest;
        if path.is_empty() {
            return Err("no devnet manifest is configured".into());
        }
        let manifest =
            rialto_evm::DevnetManifest::read(Path::new(path)).map_err(|e| e.to_string())?;
        // The mocks have no heartbeat of their own; they are judged like real stablecoin feeds.
        FeedRegistry::from_devnet(&manifest, DEFAULT_STABLE_HEARTBEAT).map_err(|e| e.to_string())?
    };
    let rpc_urls = state
        .chains
        .iter()
        .filter(|c| c.livemode == livemode)
        .map(|c| (c.chain_id, c.rpc_url().to_owned()))
        .collect::<BTreeMap<_, _>>();
    let feed = ChainlinkPriceFeed::new(rpc_urls, registry, state.clock.clone())
        .map_err(|e| e.to_string())?;
    // The devnet's sequencer mocks report "up since deployment", which the live grace period
    // would refuse for an hour after every devnet start; sandbox mode keeps the sequencer
    // check itself (a test can still flip the mock down) without the grace.
    Ok(if livemode {
        feed
    } else {
        feed.with_sequencer_grace(Duration::ZERO)
    })
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

/// Reads `pairs` on the first of `chain_ids` that has a feed for each, at `now` (Unix seconds).
pub async fn read_prices(
    feed: &ChainlinkPriceFeed<FeedClock>,
    chain_ids: &[u64],
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
        let Some(chain_id) = chain_ids
            .iter()
            .copied()
            .find(|c| feed.registry().feed(*c, pair).is_ok())
        else {
            out.refused
                .insert(pair.clone(), "no feed on these chains".into());
            continue;
        };
        match feed.price(chain_id, pair).await {
            Ok(obs) => {
                let heartbeat = feed
                    .registry()
                    .feed(chain_id, pair)
                    .map(|f| f.heartbeat.as_secs())
                    .unwrap_or(0);
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
                let kind = if is_safety_refusal(&err) {
                    "refused"
                } else {
                    "unreadable"
                };
                tracing::warn!(pair = %pair, chain_id, error = %err, "price feed {kind}");
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
