//! Chainlink prices: the connectors' `PriceFeed` role over Chainlink feeds, and
//! [`EvmPriceFeed`], the same by EIP-155 chain id with this crate's errors: a price for a pair
//! on a chain, with the round and timestamp it came from, or a refusal.
//!
//! [`ChainlinkPriceFeed`] looks the feed up in a [`FeedRegistry`], checks the L2 sequencer first
//! where the chain has an uptime feed, then reads `latestRoundData` and judges it with
//! [`chainlink::judge_round`] (positive, complete, within the feed's heartbeat).
//! [`FallbackPriceFeed`] asks a second feed only when the first could not be asked at all.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::providers::DynProvider;
use alloy::transports::http::reqwest::Url;
use async_trait::async_trait;

use rialto_connectors::price_feed::{PriceFeedError, PriceFeedErrorKind};

use crate::chainlink;
use crate::feeds::FeedRegistry;
use crate::EvmError;

/// How long after the sequencer comes back up prices stay refused: the `GRACE_PERIOD_TIME` of
/// Chainlink's example consumer (`DataConsumerWithSequencerCheck.sol`, linked from its L2
/// sequencer uptime feed docs). Right after an outage, feeds may still carry pre-outage answers
/// and only L1-savvy users could have acted during it; an hour lets both settle.
pub const DEFAULT_SEQUENCER_GRACE: Duration = Duration::from_secs(3600);

pub use rialto_connectors::price_feed::PriceObservation;

/// A source of prices by EIP-155 chain id and pair, with this crate's own errors (the
/// connectors' [`PriceFeed`](rialto_connectors::price_feed::PriceFeed) role, which
/// [`ChainlinkPriceFeed`] also implements, speaks CAIP-2 and classified errors).
#[async_trait]
pub trait EvmPriceFeed: Send + Sync {
    /// The current price of `pair` (`USDC/USD`) as seen on EIP-155 chain `chain_id`.
    ///
    /// Read-only and safe to retry. Never returns a price that failed its checks: a stale,
    /// non-positive or incomplete answer, or one read while the chain's sequencer is down or
    /// within its grace period, is an error ([`is_safety_refusal`] says which errors those are).
    async fn price(&self, chain_id: u64, pair: &str) -> Result<PriceObservation, EvmError>;
}

/// Where "now" comes from, so staleness and grace periods can be tested at chosen instants:
/// the one clock of `rialto-core`.
pub use rialto_core::clock::{Clock, SystemClock};

/// Whether `err` is a refusal of the answer itself (stale, non-positive, incomplete, out of
/// range, wrong decimals, sequencer down, in its grace period or unreadable), as opposed to not
/// having been able to ask.
pub fn is_safety_refusal(err: &EvmError) -> bool {
    matches!(
        err,
        EvmError::FeedAnswerNotPositive { .. }
            | EvmError::FeedRoundIncomplete { .. }
            | EvmError::FeedStale { .. }
            | EvmError::FeedAnswerOutOfRange { .. }
            | EvmError::FeedDecimalsMismatch { .. }
            | EvmError::SequencerDown { .. }
            | EvmError::SequencerGracePeriod { .. }
            | EvmError::SequencerRoundInvalid { .. }
    )
}

/// Whether a [`FallbackPriceFeed`] may ask its second feed after its first failed with `err`:
/// only when the first could not be asked (the node did not answer) or does not cover the
/// chain or pair. A list of what may fall back rather than of what may not, so an error kind
/// added later refuses by default.
pub fn may_fall_back(err: &EvmError) -> bool {
    matches!(
        err,
        EvmError::Rpc(_)
            | EvmError::Contract(alloy::contract::Error::TransportError(_))
            | EvmError::UnknownPriceFeed { .. }
            | EvmError::NoRpcForChain { .. }
    )
}

/// Chainlink feeds read over one JSON-RPC endpoint per chain.
pub struct ChainlinkPriceFeed<C = SystemClock> {
    providers: BTreeMap<u64, DynProvider>,
    registry: FeedRegistry,
    clock: C,
    sequencer_grace: Duration,
}

impl<C: Clock> ChainlinkPriceFeed<C> {
    /// `rpc_urls` are HTTP(S) JSON-RPC URLs by EIP-155 chain id. Nothing is contacted yet; a URL
    /// that does not parse is refused here, at start-up, rather than at the first quote. The
    /// sequencer grace period starts at [`DEFAULT_SEQUENCER_GRACE`].
    pub fn new(
        rpc_urls: BTreeMap<u64, String>,
        registry: FeedRegistry,
        clock: C,
    ) -> Result<Self, EvmError> {
        let mut providers = BTreeMap::new();
        for (chain_id, url) in rpc_urls {
            let parsed = url.parse::<Url>().map_err(|e| EvmError::InvalidRpcUrl {
                chain_id,
                url: crate::chain::redact_url(&url),
                reason: e.to_string(),
            })?;
            let provider = crate::provider::provider(parsed.as_str())?;
            providers.insert(chain_id, provider);
        }
        Ok(ChainlinkPriceFeed {
            providers,
            registry,
            clock,
            sequencer_grace: DEFAULT_SEQUENCER_GRACE,
        })
    }

    /// Replaces the sequencer grace period.
    pub fn with_sequencer_grace(mut self, grace: Duration) -> Self {
        self.sequencer_grace = grace;
        self
    }

    pub fn registry(&self) -> &FeedRegistry {
        &self.registry
    }
}

#[async_trait]
impl<C: Clock> EvmPriceFeed for ChainlinkPriceFeed<C> {
    /// Checks the sequencer before the price: on an L2 whose sequencer is down the price feed
    /// can look fresh (its last update is recent in L2 time) while nobody but L1 users can
    /// trade against it, so a sequencer refusal wins over any price answer.
    async fn price(&self, chain_id: u64, pair: &str) -> Result<PriceObservation, EvmError> {
        let info = self.registry.feed(chain_id, pair)?;
        let provider = self
            .providers
            .get(&chain_id)
            .ok_or(EvmError::NoRpcForChain { chain_id })?;
        if let Some(sequencer) = self.registry.sequencer_feed(chain_id) {
            chainlink::read_sequencer(provider, sequencer, self.sequencer_grace, self.clock.now())
                .await?;
        }
        let got =
            chainlink::read_latest(provider, &info.proxy, info.heartbeat, self.clock.now()).await?;
        if got.decimals != info.decimals {
            return Err(EvmError::FeedDecimalsMismatch {
                feed: info.proxy.to_string(),
                expected: info.decimals,
                actual: got.decimals,
            });
        }
        Ok(PriceObservation {
            pair: info.pair.clone(),
            price: got.price,
            round_id: got.round_id,
            updated_at: got.updated_at,
            decimals: got.decimals,
            source: format!("chainlink:eip155:{chain_id}:{}", info.proxy),
        })
    }
}

/// The classified error of the connectors' role for one of this crate's.
pub fn feed_error(err: EvmError) -> PriceFeedError {
    let kind = if is_safety_refusal(&err) {
        PriceFeedErrorKind::Refused
    } else if may_fall_back(&err) {
        PriceFeedErrorKind::Unavailable
    } else {
        PriceFeedErrorKind::Failed
    };
    PriceFeedError::new(kind, err)
}

fn eip155(chain: &str) -> Option<u64> {
    chain.strip_prefix("eip155:")?.parse().ok()
}

#[async_trait]
impl<C: Clock> rialto_connectors::price_feed::PriceFeed for ChainlinkPriceFeed<C> {
    async fn price(&self, chain: &str, pair: &str) -> Result<PriceObservation, PriceFeedError> {
        let Some(chain_id) = eip155(chain) else {
            return Err(PriceFeedError::new(
                PriceFeedErrorKind::Unavailable,
                format!("Chainlink feeds here are on eip155 chains, not {chain}"),
            ));
        };
        EvmPriceFeed::price(self, chain_id, pair)
            .await
            .map_err(feed_error)
    }

    fn heartbeat(&self, chain: &str, pair: &str) -> Option<Duration> {
        let info = self.registry.feed(eip155(chain)?, pair).ok()?;
        Some(info.heartbeat)
    }
}

/// Shows the chains and registry, not the providers (their URLs may carry API keys).
impl<C> std::fmt::Debug for ChainlinkPriceFeed<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainlinkPriceFeed")
            .field("chains", &self.providers.keys().collect::<Vec<_>>())
            .field("registry", &self.registry)
            .field("sequencer_grace", &self.sequencer_grace)
            .finish_non_exhaustive()
    }
}

/// Asks `primary`, and `secondary` only when `primary` could not be asked ([`may_fall_back`]).
///
/// A safety refusal never falls back: "this answer is stale" or "the sequencer is down" is the
/// primary doing its job, not an outage. Asking elsewhere until some source says yes would turn
/// every check into a suggestion: during a sequencer outage a second reader of the same chain
/// sees the same frozen feed, and a different source that happens to answer would price a
/// payment the gateway has just been told not to price.
#[derive(Debug)]
pub struct FallbackPriceFeed<A, B> {
    primary: A,
    secondary: B,
}

impl<A: EvmPriceFeed, B: EvmPriceFeed> FallbackPriceFeed<A, B> {
    pub fn new(primary: A, secondary: B) -> Self {
        FallbackPriceFeed { primary, secondary }
    }
}

#[async_trait]
impl<A: EvmPriceFeed, B: EvmPriceFeed> EvmPriceFeed for FallbackPriceFeed<A, B> {
    /// When both fail, the secondary's error is returned and the primary's is logged.
    async fn price(&self, chain_id: u64, pair: &str) -> Result<PriceObservation, EvmError> {
        match self.primary.price(chain_id, pair).await {
            Err(e) if may_fall_back(&e) => {
                tracing::warn!(chain_id, pair, error = %e, "primary price feed unavailable; asking the fallback");
                self.secondary.price(chain_id, pair).await
            }
            answer => answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use alloy::transports::TransportErrorKind;

    use super::*;

    /// Answers each call with the next scripted result and counts the calls.
    struct Scripted {
        answers: Mutex<Vec<Result<PriceObservation, EvmError>>>,
        calls: AtomicUsize,
    }

    impl Scripted {
        fn new(answer: Result<PriceObservation, EvmError>) -> Self {
            Scripted {
                answers: Mutex::new(vec![answer]),
                calls: AtomicUsize::new(0),
            }
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl EvmPriceFeed for &Scripted {
        async fn price(&self, _chain_id: u64, _pair: &str) -> Result<PriceObservation, EvmError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answers.lock().unwrap().pop().expect("asked once only")
        }
    }

    fn observation(source: &str) -> PriceObservation {
        PriceObservation {
            pair: "USDC/USD".into(),
            price: "0.9998".parse().unwrap(),
            round_id: 7,
            updated_at: 1_700_000_000,
            decimals: 8,
            source: source.into(),
        }
    }

    fn unreachable() -> EvmError {
        EvmError::Rpc(TransportErrorKind::custom_str("connection refused"))
    }

    fn safety_refusals() -> Vec<EvmError> {
        let feed = || "0xfeed".to_owned();
        vec![
            EvmError::FeedAnswerNotPositive {
                feed: feed(),
                answer: "0".into(),
            },
            EvmError::FeedRoundIncomplete {
                feed: feed(),
                round_id: 2,
                answered_in_round: 1,
                updated_at: 1,
            },
            EvmError::FeedStale {
                feed: feed(),
                age_secs: 90_000,
                heartbeat_secs: 86_400,
            },
            EvmError::FeedAnswerOutOfRange {
                feed: feed(),
                answer: "1".into(),
                decimals: 40,
            },
            EvmError::FeedDecimalsMismatch {
                feed: feed(),
                expected: 8,
                actual: 18,
            },
            EvmError::SequencerDown {
                feed: feed(),
                since: 1,
            },
            EvmError::SequencerGracePeriod {
                feed: feed(),
                elapsed_secs: 60,
                grace_secs: 3600,
            },
            EvmError::SequencerRoundInvalid {
                feed: feed(),
                reason: "startedAt is 0".into(),
            },
        ]
    }

    async fn ask(a: &Scripted, b: &Scripted) -> Result<PriceObservation, EvmError> {
        FallbackPriceFeed::new(a, b).price(8453, "USDC/USD").await
    }

    #[tokio::test]
    async fn a_healthy_primary_answers_and_the_fallback_is_not_asked() {
        let (a, b) = (
            Scripted::new(Ok(observation("a"))),
            Scripted::new(Ok(observation("b"))),
        );
        assert_eq!(ask(&a, &b).await.unwrap().source, "a");
        assert_eq!((a.calls(), b.calls()), (1, 0));
    }

    #[tokio::test]
    async fn an_unreachable_primary_falls_back_to_the_secondary() {
        let (a, b) = (
            Scripted::new(Err(unreachable())),
            Scripted::new(Ok(observation("b"))),
        );
        assert_eq!(ask(&a, &b).await.unwrap().source, "b");
        assert_eq!((a.calls(), b.calls()), (1, 1));

        let transport_in_call = EvmError::Contract(alloy::contract::Error::TransportError(
            TransportErrorKind::custom_str("timed out"),
        ));
        let (a, b) = (
            Scripted::new(Err(transport_in_call)),
            Scripted::new(Ok(observation("b"))),
        );
        assert_eq!(ask(&a, &b).await.unwrap().source, "b");
    }

    #[tokio::test]
    async fn a_primary_without_the_pair_or_chain_falls_back() {
        for missing in [
            EvmError::UnknownPriceFeed {
                chain_id: 8453,
                pair: "USDC/USD".into(),
            },
            EvmError::NoRpcForChain { chain_id: 8453 },
        ] {
            let (a, b) = (
                Scripted::new(Err(missing)),
                Scripted::new(Ok(observation("b"))),
            );
            assert_eq!(ask(&a, &b).await.unwrap().source, "b");
        }
    }

    #[tokio::test]
    async fn a_safety_refusal_is_returned_and_never_falls_back() {
        for refusal in safety_refusals() {
            assert!(is_safety_refusal(&refusal), "{refusal}");
            let text = refusal.to_string();
            let (a, b) = (
                Scripted::new(Err(refusal)),
                Scripted::new(Ok(observation("b"))),
            );
            let got = ask(&a, &b).await.unwrap_err();
            assert_eq!(got.to_string(), text);
            assert_eq!(b.calls(), 0, "{text}");
        }
    }

    #[tokio::test]
    async fn an_error_of_another_kind_does_not_fall_back_either() {
        let (a, b) = (
            Scripted::new(Err(EvmError::NotEvmAddress("nope".into()))),
            Scripted::new(Ok(observation("b"))),
        );
        assert!(matches!(ask(&a, &b).await, Err(EvmError::NotEvmAddress(_))));
        assert_eq!(b.calls(), 0);
        assert!(!is_safety_refusal(&unreachable()));
    }

    #[tokio::test]
    async fn when_both_fail_the_secondary_error_is_returned() {
        let stale = safety_refusals().remove(2);
        let (a, b) = (Scripted::new(Err(unreachable())), Scripted::new(Err(stale)));
        assert!(matches!(ask(&a, &b).await, Err(EvmError::FeedStale { .. })));
    }

    fn registry() -> FeedRegistry {
        FeedRegistry::builtin().unwrap()
    }

    #[tokio::test]
    async fn an_unknown_pair_and_a_chain_without_rpc_are_refused_before_any_call() {
        let rpc = BTreeMap::from([(1, "http://127.0.0.1:1".to_owned())]);
        let feed = ChainlinkPriceFeed::new(rpc, registry(), SystemClock).unwrap();
        let unknown = feed.price(1, "DOGE/USD").await.unwrap_err();
        assert!(
            matches!(&unknown, EvmError::UnknownPriceFeed { chain_id: 1, pair } if pair == "DOGE/USD"),
            "{unknown}"
        );
        let no_rpc = feed.price(8453, "USDC/USD").await.unwrap_err();
        assert!(
            matches!(no_rpc, EvmError::NoRpcForChain { chain_id: 8453 }),
            "{no_rpc}"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_an_outage_not_a_refusal() {
        let rpc = BTreeMap::from([(1, "http://127.0.0.1:1".to_owned())]);
        let feed = ChainlinkPriceFeed::new(rpc, registry(), SystemClock).unwrap();
        let err = feed.price(1, "USDC/USD").await.unwrap_err();
        assert!(may_fall_back(&err), "{err:?}");
        assert!(!is_safety_refusal(&err), "{err:?}");
    }

    #[test]
    fn an_rpc_url_that_does_not_parse_is_refused_at_construction() {
        let rpc = BTreeMap::from([(8453, "not a url".to_owned())]);
        let got = ChainlinkPriceFeed::new(rpc, registry(), SystemClock);
        assert!(
            matches!(got, Err(EvmError::InvalidRpcUrl { chain_id: 8453, .. })),
            "{:?}",
            got.err()
        );
    }

    #[test]
    fn the_default_sequencer_grace_period_is_an_hour() {
        assert_eq!(DEFAULT_SEQUENCER_GRACE, Duration::from_secs(3600));
    }
}
