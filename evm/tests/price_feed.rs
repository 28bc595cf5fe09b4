//! `ChainlinkPriceFeed` on a real devnet: the `MockV3Aggregator` feeds and the
//! `L2_SEQUENCER_UPTIME` mock every devnet chain deploys, read through the `PriceFeed` trait
//! with an injected clock.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{aliases::U80, I256, U256};
use alloy::providers::DynProvider;
use common::{block_time, key, reader, start, wallet};
use rialto_evm::contracts::{to_wire, IMockV3Aggregator};
use rialto_evm::feeds::FeedRegistry;
use rialto_evm::manifest::{ChainManifest, SEQUENCER_UPTIME_FEED};
use rialto_evm::price_feed::{ChainlinkPriceFeed, Clock, EvmPriceFeed, FallbackPriceFeed};
use rialto_evm::{DevnetManifest, EvmError};
use rust_decimal::Decimal;

const DAY: Duration = Duration::from_secs(86_400);

/// A clock the test sets, shared with the feed under test.
#[derive(Debug, Clone, Default)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn set(&self, unix_secs: u64) {
        self.0.store(unix_secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        i64::try_from(self.0.load(Ordering::SeqCst)).unwrap() * 1000
    }
}

fn chain_id(chain: &ChainManifest) -> u64 {
    chain.chain_id.evm_chain_id().unwrap()
}

fn rpc_urls(devnet: &DevnetManifest) -> BTreeMap<u64, String> {
    devnet
        .chains
        .iter()
        .map(|c| (chain_id(c), c.rpc_url.clone()))
        .collect()
}

/// Every devnet feed, judged against `heartbeat`, read at `clock`.
fn devnet_feed(
    devnet: &DevnetManifest,
    heartbeat: Duration,
    clock: &TestClock,
) -> ChainlinkPriceFeed<TestClock> {
    let registry = FeedRegistry::from_devnet(devnet, heartbeat).unwrap();
    ChainlinkPriceFeed::new(rpc_urls(devnet), registry, clock.clone()).unwrap()
}

/// The same feeds behind a node that is not there.
fn unreachable_feed(devnet: &DevnetManifest) -> ChainlinkPriceFeed<TestClock> {
    let registry = FeedRegistry::from_devnet(devnet, DAY).unwrap();
    let dead = rpc_urls(devnet)
        .into_keys()
        .map(|id| (id, "http://127.0.0.1:1".to_owned()))
        .collect();
    ChainlinkPriceFeed::new(dead, registry, TestClock::default()).unwrap()
}

/// Posts `answer` as a new round of the mock at `feed` (started and updated now) and returns
/// the block time it landed at.
async fn post(chain: &ChainManifest, p: &DynProvider, feed_key: &str, answer: i64) -> u64 {
    let owner = wallet(chain, key(&chain.payers[0])).await;
    let mock = IMockV3Aggregator::new(to_wire(&chain.feeds[feed_key].address).unwrap(), &owner);
    let receipt = mock
        .updateAnswer(I256::try_from(answer).unwrap())
        // The test's own transaction sets its gas: an estimate made in one block can fall short
        // in the next (as the swap and token legs found under a loaded CI machine).
        .gas(300_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    block_time(p).await
}

#[tokio::test]
async fn the_devnet_usdc_price_is_the_manifest_initial_answer_stamped_with_round_and_source() {
    let devnet = start().await;
    let manifest = devnet.manifest();
    let clock = TestClock::default();
    let feed = devnet_feed(manifest, DAY, &clock);
    let mut newest = 0;
    for chain in &manifest.chains {
        let p = reader(chain).await;
        let deployed_at = block_time(&p).await;
        newest = newest.max(deployed_at);
        // Past the sequencer grace period that began when the uptime mock was deployed.
        clock.set(deployed_at + 3601);

        let usdc = &chain.feeds["USDC/USD"];
        let got = feed.price(chain_id(chain), "USDC/USD").await.unwrap();
        assert_eq!(got.price, usdc.initial_answer, "{}", chain.alias);
        assert_eq!((got.round_id, got.decimals), (1, 8), "{}", chain.alias);
        assert_eq!(got.pair, "USDC/USD");
        assert!(
            got.updated_at > 0 && got.updated_at <= deployed_at,
            "{got:?}"
        );
        assert_eq!(
            got.source,
            format!("chainlink:eip155:{}:{}", chain_id(chain), usdc.address)
        );

        let eth = feed.price(chain_id(chain), "ETH/USD").await.unwrap();
        assert_eq!(eth.price, Decimal::from(3000));
        let sequencer_is_no_price = feed.price(chain_id(chain), SEQUENCER_UPTIME_FEED).await;
        assert!(
            matches!(
                sequencer_is_no_price,
                Err(EvmError::UnknownPriceFeed { .. })
            ),
            "{sequencer_is_no_price:?}"
        );
    }

    // Past every chain's grace period: the chains deploy side by side, and one chain's blocks
    // can be a second ahead of the last one's.
    clock.set(newest + 3601);
    let mut wrong = manifest.chains[0].clone();
    wrong.feeds.get_mut("USDC/USD").unwrap().decimals = 18;
    let registry = FeedRegistry::from_manifest(&wrong, DAY).unwrap();
    let urls = BTreeMap::from([(chain_id(&wrong), wrong.rpc_url.clone())]);
    let misregistered = ChainlinkPriceFeed::new(urls, registry, clock.clone()).unwrap();
    let err = misregistered
        .price(chain_id(&wrong), "USDC/USD")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EvmError::FeedDecimalsMismatch {
                expected: 18,
                actual: 8,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn zero_negative_and_stale_answers_are_refused_and_never_fall_back() {
    let devnet = start().await;
    let manifest = devnet.manifest();
    let chain = &manifest.chains[0];
    let id = chain_id(chain);
    let p = reader(chain).await;
    let clock = TestClock::default();
    let feed = devnet_feed(manifest, DAY, &clock);

    for answer in [0, -1, -99_990_000] {
        let at = post(chain, &p, "USDC/USD", answer).await;
        clock.set(at + 3601);
        let err = feed.price(id, "USDC/USD").await.unwrap_err();
        assert!(
            matches!(err, EvmError::FeedAnswerNotPositive { .. }),
            "{answer}: {err}"
        );
    }

    let updated = post(chain, &p, "USDC/USD", 99_990_000).await;
    clock.set(updated + 3601);
    let fresh = feed.price(id, "USDC/USD").await.unwrap();
    assert_eq!(fresh.price.to_string(), "0.9999");
    assert_eq!((fresh.round_id, fresh.updated_at), (5, updated));
    clock.set(updated + 86_400);
    assert!(feed.price(id, "USDC/USD").await.is_ok());
    clock.set(updated + 86_401);
    let late = feed.price(id, "USDC/USD").await.unwrap_err();
    assert!(
        matches!(
            late,
            EvmError::FeedStale {
                age_secs: 86_401,
                heartbeat_secs: 86_400,
                ..
            }
        ),
        "{late}"
    );

    let owner = wallet(chain, key(&chain.payers[0])).await;
    let mock = IMockV3Aggregator::new(to_wire(&chain.feeds["USDC/USD"].address).unwrap(), &owner);
    let now = block_time(&p).await;
    let old = U256::from(now - 90_000);
    let receipt = mock
        .updateRoundData(
            U80::from(10),
            I256::try_from(100_000_000i64).unwrap(),
            old,
            old,
        )
        .gas(300_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    clock.set(now + 3601);
    let stale = feed.price(id, "USDC/USD").await.unwrap_err();
    assert!(matches!(stale, EvmError::FeedStale { .. }), "{stale}");

    // Had the fallback been asked, the answer would be its connection error instead.
    let guarded = FallbackPriceFeed::new(feed, unreachable_feed(manifest));
    let still_stale = guarded.price(id, "USDC/USD").await.unwrap_err();
    assert!(
        matches!(still_stale, EvmError::FeedStale { .. }),
        "{still_stale}"
    );
}

#[tokio::test]
async fn an_unreachable_primary_falls_back_to_a_healthy_feed() {
    let devnet = start().await;
    let manifest = devnet.manifest();
    let chain = &manifest.chains[0];
    let clock = TestClock::default();
    clock.set(block_time(&reader(chain).await).await + 3601);

    let dead = unreachable_feed(manifest);
    let outage = dead.price(chain_id(chain), "USDC/USD").await.unwrap_err();
    assert!(
        matches!(
            outage,
            EvmError::Rpc(_) | EvmError::Contract(alloy::contract::Error::TransportError(_))
        ),
        "{outage:?}"
    );
    let fallback = FallbackPriceFeed::new(dead, devnet_feed(manifest, DAY, &clock));
    let got = fallback.price(chain_id(chain), "USDC/USD").await.unwrap();
    assert_eq!(got.price, chain.feeds["USDC/USD"].initial_answer);
}

#[tokio::test]
async fn prices_are_refused_while_the_sequencer_is_down_and_within_the_grace_period_after() {
    let devnet = start().await;
    let manifest = devnet.manifest();
    let chain = manifest.chain("devnet-base").unwrap();
    let id = chain_id(chain);
    let p = reader(chain).await;
    let clock = TestClock::default();
    let feed = devnet_feed(manifest, DAY, &clock);
    clock.set(block_time(&p).await + 3601);
    assert!(feed.price(id, "USDC/USD").await.is_ok());

    let went_down = post(chain, &p, SEQUENCER_UPTIME_FEED, 1).await;
    clock.set(went_down + 7200);
    let down = feed.price(id, "USDC/USD").await.unwrap_err();
    assert!(
        matches!(down, EvmError::SequencerDown { since, .. } if since == went_down),
        "{down}"
    );
    // The sequencer is asked first: a broken price behind a down sequencer reads "down".
    post(chain, &p, "USDC/USD", -1).await;
    let still_down = feed.price(id, "USDC/USD").await.unwrap_err();
    assert!(
        matches!(still_down, EvmError::SequencerDown { .. }),
        "{still_down}"
    );
    post(chain, &p, "USDC/USD", 100_010_000).await;

    let came_back = post(chain, &p, SEQUENCER_UPTIME_FEED, 0).await;
    for elapsed in [0, 60, 3600] {
        clock.set(came_back + elapsed);
        let err = feed.price(id, "USDC/USD").await.unwrap_err();
        assert!(
            matches!(
                err,
                EvmError::SequencerGracePeriod { elapsed_secs, grace_secs: 3600, .. }
                    if elapsed_secs == elapsed
            ),
            "{elapsed}: {err}"
        );
    }
    clock.set(came_back + 3601);
    let back = feed.price(id, "USDC/USD").await.unwrap();
    assert_eq!(back.price.to_string(), "1.0001");

    let short = devnet_feed(manifest, DAY, &clock).with_sequencer_grace(Duration::from_secs(60));
    clock.set(came_back + 61);
    assert!(short.price(id, "USDC/USD").await.is_ok());
    let err = feed.price(id, "USDC/USD").await.unwrap_err();
    assert!(
        matches!(err, EvmError::SequencerGracePeriod { .. }),
        "{err}"
    );
}
