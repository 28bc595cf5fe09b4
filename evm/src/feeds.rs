//! Where the Chainlink feeds are: per EIP-155 chain id and pair (`USDC/USD`), the proxy address,
//! its decimals and the heartbeat an answer is judged against, and per L2 its sequencer uptime
//! feed.
//!
//! Real networks come from the reference data (`data/assets/reference.json`, bundled as
//! [`FeedRegistry::builtin`]); the local devnet comes from its manifest
//! ([`FeedRegistry::from_devnet`]).

use std::collections::BTreeMap;
use std::time::Duration;

use rialto_core::{Address, ChainNamespace};
use serde::Deserialize;

use crate::manifest::{ChainManifest, DevnetManifest, SEQUENCER_UPTIME_FEED};
use crate::EvmError;

/// The reference data this crate was built with.
const BUILTIN_REFERENCE: &str = include_str!("../../data/assets/reference.json");

/// Heartbeat assumed for a stablecoin or fiat pair (`USDC/USD`, `EUR/USD`) whose heartbeat the
/// data does not give. Chainlink runs these feeds with a one-day heartbeat and a tight deviation
/// threshold on Ethereum (the data's USDC/USD and EUR/USD say 86400 s): a pegged price can
/// legitimately sit unchanged for close to a day, so anything shorter would refuse healthy
/// feeds, and anything longer would accept a feed that has missed its heartbeat everywhere.
pub const DEFAULT_STABLE_HEARTBEAT: Duration = Duration::from_secs(24 * 3600);

/// Heartbeat assumed for every other pair (`ETH/USD`, `BTC/USD`, and any base we do not
/// recognise) whose heartbeat the data does not give: the data's ETH/USD and BTC/USD on Ethereum
/// say 3600 s, and an hour-old price of a volatile asset is not one to quote on. Unknown bases
/// get this shorter bound because refusing a healthy feed costs a quote, while accepting a stale
/// one costs money.
pub const DEFAULT_VOLATILE_HEARTBEAT: Duration = Duration::from_secs(3600);

/// Bases that are pegged to a fiat currency, or are one (FX feeds).
const STABLE_BASES: &[&str] = &[
    "USDC", "USDT", "PYUSD", "EURC", "DAI", "EUR", "GBP", "CHF", "JPY",
];

/// One price feed on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedInfo {
    pub chain_id: u64,
    /// `BASE/QUOTE`, as the data writes it: `USDC/USD`.
    pub pair: String,
    /// The `EACAggregatorProxy` to read (never the aggregator behind it, which is replaced on
    /// upgrades).
    pub proxy: Address,
    /// What `decimals()` must return; a different answer means the address is not the feed we
    /// think it is.
    pub decimals: u8,
    /// The oldest an answer may be.
    pub heartbeat: Duration,
    /// `false` when the data had no heartbeat and [`default_heartbeat`] chose it.
    pub heartbeat_from_data: bool,
}

/// Price feeds by chain and pair, and sequencer uptime feeds by chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedRegistry {
    feeds: BTreeMap<(u64, String), FeedInfo>,
    sequencers: BTreeMap<u64, Address>,
}

/// The part of `reference.json` the registry reads; every other key is ignored.
#[derive(Deserialize)]
struct ReferenceFile {
    chainlink_feeds: Vec<ReferenceFeed>,
    #[serde(default)]
    chainlink_l2_sequencer_uptime_feeds: Vec<ReferenceSequencerFeed>,
}

#[derive(Deserialize)]
struct ReferenceFeed {
    pair: String,
    chain_id: u64,
    proxy: String,
    decimals: u8,
    heartbeat_s: Option<u64>,
}

#[derive(Deserialize)]
struct ReferenceSequencerFeed {
    chain_id: u64,
    proxy: String,
}

/// The heartbeat used when the data has none: [`DEFAULT_STABLE_HEARTBEAT`] for a stablecoin or
/// fiat base, [`DEFAULT_VOLATILE_HEARTBEAT`] for anything else.
pub fn default_heartbeat(pair: &str) -> Duration {
    let base = pair.split('/').next().unwrap_or(pair);
    if STABLE_BASES.contains(&base) {
        DEFAULT_STABLE_HEARTBEAT
    } else {
        DEFAULT_VOLATILE_HEARTBEAT
    }
}

impl FeedRegistry {
    /// Parses the `chainlink_feeds` and `chainlink_l2_sequencer_uptime_feeds` of a
    /// `reference.json`. Refuses the whole file on an invalid address, a heartbeat of 0 or the
    /// same pair twice on one chain: a registry that is partly right would quietly price with the
    /// wrong feed.
    pub fn from_reference_json(text: &str) -> Result<Self, EvmError> {
        let file: ReferenceFile = serde_json::from_str(text)
            .map_err(|e| EvmError::FeedRegistry(format!("reference data: {e}")))?;
        let mut registry = FeedRegistry::default();
        for feed in file.chainlink_feeds {
            let heartbeat_from_data = feed.heartbeat_s.is_some();
            let heartbeat = match feed.heartbeat_s {
                Some(0) => {
                    return Err(EvmError::FeedRegistry(format!(
                        "{} on chain {} has a heartbeat of 0 s",
                        feed.pair, feed.chain_id
                    )))
                }
                Some(secs) => Duration::from_secs(secs),
                None => default_heartbeat(&feed.pair),
            };
            registry.insert(FeedInfo {
                chain_id: feed.chain_id,
                proxy: parse_address(&feed.proxy, &feed.pair, feed.chain_id)?,
                pair: feed.pair,
                decimals: feed.decimals,
                heartbeat,
                heartbeat_from_data,
            })?;
        }
        for seq in file.chainlink_l2_sequencer_uptime_feeds {
            let proxy = parse_address(&seq.proxy, SEQUENCER_UPTIME_FEED, seq.chain_id)?;
            registry.insert_sequencer(seq.chain_id, proxy)?;
        }
        Ok(registry)
    }

    /// The reference data bundled into the binary. Fails only if that file is broken, which the
    /// crate's tests rule out for the bundled copy.
    pub fn builtin() -> Result<Self, EvmError> {
        Self::from_reference_json(BUILTIN_REFERENCE)
    }

    /// The feeds of one devnet chain, every one judged against `heartbeat` (the mocks have no
    /// heartbeat of their own: they update only when a test or the sandbox tells them to). Every
    /// devnet chain deploys a sequencer uptime feed, so every one gets the sequencer check.
    pub fn from_manifest(chain: &ChainManifest, heartbeat: Duration) -> Result<Self, EvmError> {
        let chain_id = chain.chain_id.evm_chain_id().ok_or_else(|| {
            EvmError::FeedRegistry(format!("{} is not an EIP-155 chain", chain.chain_id))
        })?;
        let mut registry = FeedRegistry::default();
        for (pair, feed) in &chain.feeds {
            if pair == SEQUENCER_UPTIME_FEED {
                registry.insert_sequencer(chain_id, feed.address)?;
                continue;
            }
            registry.insert(FeedInfo {
                chain_id,
                pair: pair.clone(),
                proxy: feed.address,
                decimals: feed.decimals,
                heartbeat,
                heartbeat_from_data: true,
            })?;
        }
        Ok(registry)
    }

    /// [`FeedRegistry::from_manifest`] for every chain of the devnet.
    pub fn from_devnet(devnet: &DevnetManifest, heartbeat: Duration) -> Result<Self, EvmError> {
        let mut registry = FeedRegistry::default();
        for chain in &devnet.chains {
            let one = Self::from_manifest(chain, heartbeat)?;
            for info in one.feeds.into_values() {
                registry.insert(info)?;
            }
            for (chain_id, proxy) in one.sequencers {
                registry.insert_sequencer(chain_id, proxy)?;
            }
        }
        Ok(registry)
    }

    /// The feed of `pair` on `chain_id`, or [`EvmError::UnknownPriceFeed`].
    pub fn feed(&self, chain_id: u64, pair: &str) -> Result<&FeedInfo, EvmError> {
        self.feeds
            .get(&(chain_id, pair.to_owned()))
            .ok_or_else(|| EvmError::UnknownPriceFeed {
                chain_id,
                pair: pair.to_owned(),
            })
    }

    /// The sequencer uptime feed of `chain_id`; `None` on L1s and on L2s the data has none for.
    pub fn sequencer_feed(&self, chain_id: u64) -> Option<&Address> {
        self.sequencers.get(&chain_id)
    }

    /// Every price feed, ordered by chain id and pair.
    pub fn feeds(&self) -> impl Iterator<Item = &FeedInfo> {
        self.feeds.values()
    }

    fn insert(&mut self, info: FeedInfo) -> Result<(), EvmError> {
        let key = (info.chain_id, info.pair.clone());
        if self.feeds.contains_key(&key) {
            return Err(EvmError::FeedRegistry(format!(
                "{} on chain {} is listed twice",
                info.pair, info.chain_id
            )));
        }
        self.feeds.insert(key, info);
        Ok(())
    }

    fn insert_sequencer(&mut self, chain_id: u64, proxy: Address) -> Result<(), EvmError> {
        if self.sequencers.insert(chain_id, proxy).is_some() {
            return Err(EvmError::FeedRegistry(format!(
                "chain {chain_id} has two sequencer uptime feeds"
            )));
        }
        Ok(())
    }
}

fn parse_address(text: &str, what: &str, chain_id: u64) -> Result<Address, EvmError> {
    Address::parse(text, ChainNamespace::Eip155).map_err(|e| {
        EvmError::FeedRegistry(format!("{what} on chain {chain_id}: proxy {text:?}: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Address {
        Address::parse(text, ChainNamespace::Eip155).unwrap()
    }

    #[test]
    fn the_bundled_data_gives_ethereum_usdc_usd_its_real_proxy_decimals_and_heartbeat() {
        let registry = FeedRegistry::builtin().unwrap();
        let usdc = registry.feed(1, "USDC/USD").unwrap();
        assert_eq!(
            usdc.proxy,
            addr("0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6")
        );
        assert_eq!(usdc.decimals, 8);
        assert_eq!(usdc.heartbeat, Duration::from_secs(86_400));
        assert!(usdc.heartbeat_from_data);
        let eth = registry.feed(1, "ETH/USD").unwrap();
        assert_eq!(
            eth.proxy,
            addr("0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419")
        );
        assert_eq!(eth.heartbeat, Duration::from_secs(3600));
    }

    #[test]
    fn the_bundled_data_has_sequencer_feeds_on_base_and_arbitrum_but_not_ethereum() {
        let registry = FeedRegistry::builtin().unwrap();
        assert_eq!(
            registry.sequencer_feed(8453),
            Some(&addr("0xBCF85224fc0756B9Fa45aA7892530B47e10b6433"))
        );
        assert_eq!(
            registry.sequencer_feed(42161),
            Some(&addr("0xFdB631F5EE196F0ed6FAa767959853A9F217697D"))
        );
        assert_eq!(registry.sequencer_feed(1), None);
        assert_eq!(registry.sequencer_feed(137), None);
    }

    #[test]
    fn null_heartbeats_default_to_a_day_for_stablecoins_and_an_hour_for_volatile_assets() {
        let registry = FeedRegistry::builtin().unwrap();
        let base_usdc = registry.feed(8453, "USDC/USD").unwrap();
        assert_eq!(
            base_usdc.proxy,
            addr("0x7e860098F58bBFC8648a4311b374B1D669a2bc6B")
        );
        assert_eq!(
            (base_usdc.heartbeat, base_usdc.heartbeat_from_data),
            (DEFAULT_STABLE_HEARTBEAT, false)
        );
        let base_eth = registry.feed(8453, "ETH/USD").unwrap();
        assert_eq!(
            (base_eth.heartbeat, base_eth.heartbeat_from_data),
            (DEFAULT_VOLATILE_HEARTBEAT, false)
        );
        assert_eq!(DEFAULT_STABLE_HEARTBEAT, Duration::from_secs(86_400));
        assert_eq!(DEFAULT_VOLATILE_HEARTBEAT, Duration::from_secs(3600));
        assert_eq!(default_heartbeat("EUR/USD"), DEFAULT_STABLE_HEARTBEAT);
        assert_eq!(default_heartbeat("PYUSD/USD"), DEFAULT_STABLE_HEARTBEAT);
        assert_eq!(default_heartbeat("SOL/USD"), DEFAULT_VOLATILE_HEARTBEAT);
        assert_eq!(default_heartbeat("DOGE/USD"), DEFAULT_VOLATILE_HEARTBEAT);
        assert_eq!(default_heartbeat("nonsense"), DEFAULT_VOLATILE_HEARTBEAT);
    }

    #[test]
    fn every_feed_of_the_bundled_data_is_registered() {
        let registry = FeedRegistry::builtin().unwrap();
        let raw: serde_json::Value = serde_json::from_str(BUILTIN_REFERENCE).unwrap();
        let listed = raw["chainlink_feeds"].as_array().unwrap().len();
        assert_eq!(registry.feeds().count(), listed);
        assert!(listed > 20, "{listed}");
    }

    #[test]
    fn the_fiat_pairs_an_intent_may_be_priced_in_have_ethereum_feeds_with_a_day_heartbeat() {
        let registry = FeedRegistry::builtin().unwrap();
        for (pair, proxy) in [
            ("EUR/USD", "0xb49f677943BC038e9857d61E7d053CaA2C1734C1"),
            ("GBP/USD", "0x5c0Ab2d9b5a7ed9f470386e82BB36A3613cDd4b5"),
            ("CHF/USD", "0x449d117117838fFA61263B61dA6301AA2a88B13A"),
            ("JPY/USD", "0xBcE206caE7f0ec07b545EddE332A47C2F75bbeb3"),
        ] {
            let feed = registry.feed(1, pair).unwrap();
            assert_eq!(feed.proxy.to_string(), proxy, "{pair}");
            assert_eq!(feed.heartbeat, DEFAULT_STABLE_HEARTBEAT, "{pair}");
        }
    }

    #[test]
    fn an_unknown_pair_or_chain_is_an_unknown_price_feed() {
        let registry = FeedRegistry::builtin().unwrap();
        for (chain_id, pair) in [(1, "DOGE/USD"), (10, "USDC/USD"), (1, "usdc/usd")] {
            let err = registry.feed(chain_id, pair).unwrap_err();
            assert!(
                matches!(&err, EvmError::UnknownPriceFeed { chain_id: c, pair: p } if *c == chain_id && p == pair),
                "{err}"
            );
        }
    }

    fn one_feed(proxy: &str, heartbeat: &str) -> String {
        format!(
            r#"{{"chainlink_feeds": [{{"pair": "USDC/USD", "chain": "ethereum", "chain_id": 1,
                "proxy": "{proxy}", "decimals": 8, "heartbeat_s": {heartbeat}}}]}}"#
        )
    }

    #[test]
    fn reference_data_without_sequencer_feeds_parses_with_none() {
        let text = one_feed("0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6", "86400");
        let registry = FeedRegistry::from_reference_json(&text).unwrap();
        assert_eq!(registry.feeds().count(), 1);
        assert_eq!(registry.sequencer_feed(1), None);
    }

    #[test]
    fn bad_addresses_zero_heartbeats_duplicates_and_broken_json_are_refused() {
        let good = "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6";
        let bad_checksum = "0x8FFfFfd4AfB6115b954Bd326cbe7B4BA576818f6";
        let duplicated = format!(
            r#"{{"chainlink_feeds": [
                {{"pair": "USDC/USD", "chain_id": 1, "proxy": "{good}", "decimals": 8, "heartbeat_s": null}},
                {{"pair": "USDC/USD", "chain_id": 1, "proxy": "{good}", "decimals": 8, "heartbeat_s": null}}]}}"#
        );
        let two_sequencers = format!(
            r#"{{"chainlink_feeds": [], "chainlink_l2_sequencer_uptime_feeds": [
                {{"chain_id": 8453, "proxy": "{good}"}}, {{"chain_id": 8453, "proxy": "{good}"}}]}}"#
        );
        for (name, text) in [
            ("bad checksum", one_feed(bad_checksum, "86400")),
            ("not hex", one_feed("0xnope", "86400")),
            ("zero heartbeat", one_feed(good, "0")),
            ("negative heartbeat", one_feed(good, "-1")),
            ("duplicate", duplicated),
            ("two sequencers", two_sequencers),
            ("no feeds key", "{}".to_owned()),
            ("not json", "chainlink".to_owned()),
        ] {
            let got = FeedRegistry::from_reference_json(&text);
            assert!(
                matches!(got, Err(EvmError::FeedRegistry(_))),
                "{name}: {got:?}"
            );
        }
    }
}
