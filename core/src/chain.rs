//! Chain and asset identifiers in their chain-agnostic forms: CAIP-2 for chains
//! (`eip155:8453`) and CAIP-19 for assets (`eip155:8453/erc20:0x8335…`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainIdError {
    #[error("chain id must look like `namespace:reference` (CAIP-2), e.g. `eip155:8453`")]
    MalformedChain,
    #[error("asset id must look like `chain/namespace:reference` (CAIP-19)")]
    MalformedAsset,
}

/// The chain families Rialto can move money on. Other CAIP-2 namespaces parse but are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainNamespace {
    Eip155,
    Solana,
    Other,
}

/// A CAIP-2 chain id: `namespace:reference`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChainId(String);

impl ChainId {
    pub fn namespace(&self) -> ChainNamespace {
        match self.0.split_once(':').map(|(ns, _)| ns) {
            Some("eip155") => ChainNamespace::Eip155,
            Some("solana") => ChainNamespace::Solana,
            _ => ChainNamespace::Other,
        }
    }

    pub fn reference(&self) -> &str {
        self.0.split_once(':').map(|(_, r)| r).unwrap_or_default()
    }

    /// The numeric EIP-155 chain id, for EVM chains.
    pub fn evm_chain_id(&self) -> Option<u64> {
        match self.namespace() {
            ChainNamespace::Eip155 => self.reference().parse().ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_caip2_namespace(s: &str) -> bool {
    (3..=8).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_caip_reference(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl FromStr for ChainId {
    type Err = ChainIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ns, reference) = s.split_once(':').ok_or(ChainIdError::MalformedChain)?;
        if !is_caip2_namespace(ns) || !is_caip_reference(reference, 32) {
            return Err(ChainIdError::MalformedChain);
        }
        if ns == "eip155" && (reference.parse::<u64>().is_err() || reference.starts_with('0')) {
            return Err(ChainIdError::MalformedChain);
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for ChainId {
    type Error = ChainIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ChainId> for String {
    fn from(value: ChainId) -> Self {
        value.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CAIP-19 asset id: `chain_id/asset_namespace:asset_reference`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AssetId {
    chain: ChainId,
    /// `erc20:0x…`, `token:EPjF…`, `slip44:60`.
    asset: String,
}

impl AssetId {
    pub fn new(chain: ChainId, namespace: &str, reference: &str) -> Result<Self, ChainIdError> {
        format!("{chain}/{namespace}:{reference}").parse()
    }

    pub fn chain(&self) -> &ChainId {
        &self.chain
    }

    pub fn asset_namespace(&self) -> &str {
        self.asset
            .split_once(':')
            .map(|(ns, _)| ns)
            .unwrap_or_default()
    }

    pub fn asset_reference(&self) -> &str {
        self.asset
            .split_once(':')
            .map(|(_, r)| r)
            .unwrap_or_default()
    }
}

impl FromStr for AssetId {
    type Err = ChainIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (chain, asset) = s.split_once('/').ok_or(ChainIdError::MalformedAsset)?;
        let chain: ChainId = chain.parse().map_err(|_| ChainIdError::MalformedAsset)?;
        let (ns, reference) = asset.split_once(':').ok_or(ChainIdError::MalformedAsset)?;
        if !is_caip2_namespace(ns) || !is_caip_reference(reference, 128) {
            return Err(ChainIdError::MalformedAsset);
        }
        Ok(Self {
            chain,
            asset: asset.to_owned(),
        })
    }
}

impl TryFrom<String> for AssetId {
    type Error = ChainIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<AssetId> for String {
    fn from(value: AssetId) -> Self {
        value.to_string()
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.chain, self.asset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caip2_chain_ids_parse_and_reject() {
        for good in [
            "eip155:1",
            "eip155:8453",
            "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
            "cosmos:cosmoshub-4",
        ] {
            assert!(good.parse::<ChainId>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "eip155",
            "eip155:",
            ":1",
            "EIP155:1",
            "eip155:0x1",
            "eip155:01",
            "ab:1",
            "eip155:1:2",
            "solana:abc/def",
        ] {
            assert!(bad.parse::<ChainId>().is_err(), "{bad}");
        }
        let base: ChainId = "eip155:8453".parse().unwrap();
        assert_eq!(base.evm_chain_id(), Some(8453));
        assert_eq!(base.namespace(), ChainNamespace::Eip155);
    }

    #[test]
    fn caip19_asset_ids_round_trip() {
        let text = "eip155:8453/erc20:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
        let id: AssetId = text.parse().unwrap();
        assert_eq!(id.chain().as_str(), "eip155:8453");
        assert_eq!(id.asset_namespace(), "erc20");
        assert_eq!(id.to_string(), text);
        assert!("eip155:8453".parse::<AssetId>().is_err());
        assert!("eip155:8453/erc20".parse::<AssetId>().is_err());
        assert!("bogus/erc20:0x1".parse::<AssetId>().is_err());
    }
}
