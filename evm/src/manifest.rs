//! The devnet manifest: what `rialto devnet` deployed where, written as JSON so the gateway (and
//! the sandbox tests) can find RPC URLs, token, feed and DEX addresses and the sandbox accounts.
//!
//! Addresses are `rialto_core::Address`, written in EIP-55 form. Private keys are sandbox keys
//! of anvil's public test mnemonic, but they are still `SecretString`s so they never show up in
//! `Debug` output or logs; only the manifest file itself carries them in clear.

use std::collections::BTreeMap;
use std::path::Path;

use rialto_core::{Address, ChainId, ChainNamespace};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::EvmError;

/// The key in [`ChainManifest::feeds`] of the L2 sequencer uptime feed (answer 0 = up, 1 = down,
/// 0 decimals; not a price: read it with `chainlink::read_sequencer`, not `read_latest`).
pub const SEQUENCER_UPTIME_FEED: &str = "L2_SEQUENCER_UPTIME";

/// The whole devnet: one entry per chain, in start order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DevnetManifest {
    pub chains: Vec<ChainManifest>,
}

/// One anvil chain and everything deployed on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainManifest {
    /// CAIP-2, e.g. `eip155:31337`.
    pub chain_id: ChainId,
    /// The short name of `data/assets/chains.json`, e.g. `devnet-ethereum`.
    pub alias: String,
    pub rpc_url: String,
    /// By symbol: `USDC`, `EURC`, `USDT`, `PYUSD`.
    pub tokens: BTreeMap<String, TokenEntry>,
    /// By pair: `USDC/USD`, `ETH/USD`, …, plus the sequencer uptime feed under
    /// [`SEQUENCER_UPTIME_FEED`].
    pub feeds: BTreeMap<String, FeedEntry>,
    pub dex: DexEntry,
    /// Funded payer accounts (anvil #1..#3) holding every sandbox token.
    pub payers: Vec<Account>,
    /// Deploys everything; owner, master minter, pauser and blacklister of the FiatTokens.
    #[serde(with = "evm_address")]
    pub deployer: Address,
    /// Admin of the FiatToken proxies (can only upgrade; cannot use the token).
    #[serde(with = "evm_address")]
    pub proxy_admin: Address,
    /// Configured FiatToken minter, so a sandbox faucet can mint more USDC/EURC.
    pub minter: Account,
    /// The gateway's own hot wallet (anvil #8), funded with ETH only. Also Rialto's treasury
    /// address, allow-listed for the deposit token.
    pub gateway_hot_wallet: Account,
    /// More relaying keys besides the hot wallet (anvil #10 and #11, ETH only): each is a nonce
    /// lane of its own for batched EIP-3009 relays. Empty in manifests written before lanes.
    #[serde(default)]
    pub relay_lanes: Vec<Account>,
    /// Rialto's `BatchRelayer` (contracts/src/BatchRelayer.sol), deployed last so every other
    /// address stays what it was. `None` in manifests written before it.
    #[serde(default, with = "opt_evm_address")]
    pub batch_relayer: Option<Address>,
    /// Issue 17's institutional rails; absent from manifests written before them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institutional: Option<InstitutionalManifest>,
}

/// The institutional rails on one chain: the devnet stand-in deposit token, a Proof of Reserve
/// feed per stablecoin and deposit token, and Chainlink's CCIP router.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstitutionalManifest {
    /// By symbol, e.g. `JPMD-DEV`.
    pub deposit_tokens: BTreeMap<String, DepositTokenEntry>,
    /// By token symbol (`USDC`, `EURC`, `USDT`, `PYUSD`, `JPMD-DEV`).
    pub reserve_feeds: BTreeMap<String, ReserveFeedEntry>,
    pub ccip: CcipEntry,
    /// Holds every deposit-token role (mint, burn, allow-list admin, pause, upgrade, admin).
    pub issuing_bank: Account,
    /// An allow-listed institution holding deposit tokens, to pay with.
    pub institution_payer: Account,
}

/// A permissioned deposit token (`DepositToken` behind an `ERC1967Proxy`, UUPS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositTokenEntry {
    /// The proxy: the token's address.
    #[serde(with = "evm_address")]
    pub address: Address,
    #[serde(with = "evm_address")]
    pub implementation: Address,
    pub name: String,
    pub decimals: u8,
    /// Who was allow-listed at deploy, by role (`institution_payer`, `gateway_treasury`, …).
    #[serde(with = "evm_address_map")]
    pub allow_listed: BTreeMap<String, Address>,
}

/// A devnet reserve feed: Chainlink's `MockV3Aggregator` posting reserves, not a live PoR feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveFeedEntry {
    #[serde(with = "evm_address")]
    pub address: Address,
    pub decimals: u8,
    pub heartbeat_secs: u64,
    /// Whole units of the token's currency the feed started with (supply plus headroom).
    pub initial_reserves: Decimal,
    /// Says what it is: `devnet reserve feed (Chainlink MockV3Aggregator)`.
    pub kind: String,
}

/// Chainlink's CCIP `Router` on this chain and the devnet stand-ins behind it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CcipEntry {
    /// This chain's selector on the devnet. Rialto's devnet value (the EIP-155 id), not one of
    /// Chainlink's registry.
    pub chain_selector: u64,
    /// Chainlink's `Router` (CCIP 1.6.2), compiled verbatim.
    #[serde(with = "evm_address")]
    pub router: Address,
    /// `DevnetRmnStandIn`: stands in for Chainlink's Risk Management Network.
    #[serde(with = "evm_address")]
    pub rmn_stand_in: Address,
    /// The fee token a native-fee send is wrapped into (the devnet WETH9).
    #[serde(with = "evm_address")]
    pub wrapped_native: Address,
    /// By destination alias.
    pub lanes: BTreeMap<String, CcipLane>,
    /// The devnet DON stand-in's key: the only executor of this chain's stand-in off-ramps,
    /// which deliver through the router's `routeMessage`.
    pub relayer: Account,
}

/// One destination: its selector and the `DevnetCcipOnRamp` (stand-in on-ramp and lock pool).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CcipLane {
    pub dest_chain_selector: u64,
    #[serde(with = "evm_address")]
    pub on_ramp: Address,
    /// The flat fee the on-ramp quotes for a native-fee message, in wei.
    pub native_fee_wei: u64,
    /// `DevnetCcipOffRamp` on *this* chain for messages *from* that chain (stand-in off-ramp
    /// and release pool, registered on this router; the devnet DON stand-in executes through
    /// it). `None` in manifests written before it.
    #[serde(default, with = "opt_evm_address")]
    pub off_ramp: Option<Address>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    #[serde(with = "evm_address")]
    pub address: Address,
    pub decimals: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    #[serde(with = "evm_address")]
    pub address: Address,
    pub decimals: u8,
    /// The price the feed was deployed with, in whole units (`"1.08"`).
    pub initial_answer: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DexEntry {
    #[serde(with = "evm_address")]
    pub weth: Address,
    #[serde(with = "evm_address")]
    pub factory: Address,
    #[serde(with = "evm_address")]
    pub router: Address,
    /// Uniswap V2 pair contracts by `A/B` symbol pair, e.g. `USDC/USDT`.
    #[serde(with = "evm_address_map")]
    pub pairs: BTreeMap<String, Address>,
}

/// A sandbox account with its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    #[serde(with = "evm_address")]
    pub address: Address,
    /// `0x`-prefixed hex secp256k1 key.
    #[serde(serialize_with = "expose_key")]
    pub private_key: SecretString,
}

impl DevnetManifest {
    pub fn chain(&self, alias_or_caip2: &str) -> Option<&ChainManifest> {
        self.chains
            .iter()
            .find(|c| c.alias == alias_or_caip2 || c.chain_id.as_str() == alias_or_caip2)
    }

    pub fn read(path: &Path) -> Result<Self, EvmError> {
        // Whoever reads a manifest connects to its chains next, often the default way.
        crate::provider::install_crypto_provider();
        let text = std::fs::read_to_string(path).map_err(|source| EvmError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| EvmError::Json {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes to a sibling temporary file and renames it, so a reader polling for the manifest
    /// never sees half a file.
    pub fn write(&self, path: &Path) -> Result<(), EvmError> {
        let io_err = |source| EvmError::Io {
            path: path.to_owned(),
            source,
        };
        let text = serde_json::to_string_pretty(self).map_err(|source| EvmError::Json {
            path: path.to_owned(),
            source,
        })?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        std::fs::write(&tmp, text + "\n").map_err(io_err)?;
        std::fs::rename(&tmp, path).map_err(io_err)
    }
}

fn expose_key<S: Serializer>(key: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(key.expose_secret())
}

/// `rialto_core::Address` has no serde impls (core keeps them off the type so each wire format
/// chooses its own form); the manifest writes EVM addresses as EIP-55 strings.
pub(crate) mod evm_address {
    use super::*;

    pub fn serialize<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(a)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = String::deserialize(d)?;
        Address::parse(&text, ChainNamespace::Eip155).map_err(serde::de::Error::custom)
    }
}

mod opt_evm_address {
    use super::*;

    pub fn serialize<S: Serializer>(a: &Option<Address>, s: S) -> Result<S::Ok, S::Error> {
        match a {
            Some(a) => s.collect_str(a),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Address>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| Address::parse(&text, ChainNamespace::Eip155))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

mod evm_address_map {
    use super::*;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, Address>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k, v.to_string())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Address>, D::Error> {
        let raw = BTreeMap::<String, String>::deserialize(d)?;
        raw.into_iter()
            .map(|(k, v)| {
                Address::parse(&v, ChainNamespace::Eip155)
                    .map(|a| (k, a))
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Address {
        Address::parse(text, ChainNamespace::Eip155).unwrap()
    }

    fn account(text: &str) -> Account {
        Account {
            address: addr(text),
            private_key: SecretString::from(
                "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
            ),
        }
    }

    fn sample() -> DevnetManifest {
        let a = "0xa0ee7a142d267c1f36714e4a8f75612f20a79720";
        DevnetManifest {
            chains: vec![ChainManifest {
                chain_id: "eip155:31337".parse().unwrap(),
                alias: "devnet-ethereum".into(),
                rpc_url: "http://127.0.0.1:1".into(),
                institutional: None,
                tokens: BTreeMap::from([(
                    "USDC".into(),
                    TokenEntry {
                        address: addr(a),
                        decimals: 6,
                    },
                )]),
                feeds: BTreeMap::from([(
                    "EUR/USD".into(),
                    FeedEntry {
                        address: addr(a),
                        decimals: 8,
                        initial_answer: "1.08".parse().unwrap(),
                    },
                )]),
                dex: DexEntry {
                    weth: addr(a),
                    factory: addr(a),
                    router: addr(a),
                    pairs: BTreeMap::from([("USDC/USDT".into(), addr(a))]),
                },
                payers: vec![account(a)],
                deployer: addr(a),
                proxy_admin: addr(a),
                minter: account(a),
                gateway_hot_wallet: account(a),
                relay_lanes: vec![account(a)],
                batch_relayer: Some(addr(a)),
            }],
        }
    }

    #[test]
    fn manifest_round_trips_through_json_with_checksummed_addresses() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(
            json.contains("0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"),
            "{json}"
        );
        assert!(json.contains("\"initial_answer\":\"1.08\""), "{json}");
        let back: DevnetManifest = serde_json::from_str(&json).unwrap();
        let chain = back.chain("eip155:31337").unwrap();
        assert_eq!(chain.tokens["USDC"], sample().chains[0].tokens["USDC"]);
        assert_eq!(chain.dex, sample().chains[0].dex);
        assert_eq!(
            chain.payers[0].private_key.expose_secret(),
            "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"
        );
        assert!(back.chain("devnet-base").is_none());
    }

    #[test]
    fn private_keys_do_not_appear_in_debug_output() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("2a871d0798f9"), "{text}");
    }

    #[test]
    fn a_manifest_with_a_bad_checksum_is_refused() {
        let json = serde_json::to_string(&sample()).unwrap().replace(
            "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
            "0xA0Ee7A142d267C1f36714E4a8F75612F20a79720",
        );
        assert!(serde_json::from_str::<DevnetManifest>(&json).is_err());
    }
}
