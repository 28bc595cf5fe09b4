//! Chains and assets Rialto knows, loaded from data files (the product ships them under
//! `data/assets/`; the parser takes text so this crate stays free of IO).
//!
//! Two inputs: a chains file of our own (CAIP-2 id, canonical alias, extra aliases, sandbox
//! flag) and the reference token file in the format of `shared/data/assets.json` (symbol, chain
//! name, contract address, decimals, with sources). Tokens whose decimals the reference could
//! not confirm are left out rather than guessed.

use std::collections::HashMap;

use serde::Deserialize;

use crate::address::Address;
use crate::chain::{AssetId, ChainId, ChainNamespace};
use crate::money::{Currency, CurrencyKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetKind {
    Stablecoin,
    /// A permissioned bank deposit token that only allow-listed institutions hold.
    DepositToken,
    Native,
}

impl AssetKind {
    fn currency_kind(self) -> CurrencyKind {
        match self {
            AssetKind::Stablecoin => CurrencyKind::Stablecoin,
            AssetKind::DepositToken => CurrencyKind::DepositToken,
            AssetKind::Native => CurrencyKind::Native,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub id: ChainId,
    /// Canonical short name (`base`), what the API answers alongside the CAIP-2 id.
    pub alias: String,
    pub name: String,
    pub sandbox: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: AssetId,
    /// As the issuer writes it (`USDC`, `USDC.e`).
    pub symbol: String,
    /// Lower-case symbol, the API's short name (`usdc`).
    pub code: String,
    pub decimals: u32,
    pub kind: AssetKind,
    pub chain_alias: String,
    /// The token contract or mint.
    pub contract: Address,
}

impl Asset {
    /// The unit this asset's amounts are counted in.
    pub fn currency(&self) -> Currency {
        Currency::new(&self.code, self.decimals, self.kind.currency_kind())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("asset data file is not valid: {0}")]
    Data(String),
    #[error("unknown chain `{0}`")]
    UnknownChain(String),
    #[error("unknown asset `{0}`")]
    UnknownAsset(String),
    #[error("asset `{asset}` is not available on chain `{chain}`")]
    AssetNotOnChain { asset: String, chain: String },
}

#[derive(Deserialize)]
struct ChainsFile {
    chains: Vec<ChainRow>,
}

#[derive(Deserialize)]
struct ChainRow {
    id: String,
    alias: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    sandbox: bool,
}

#[derive(Deserialize)]
struct ReferenceFile {
    tokens: Vec<ReferenceToken>,
}

#[derive(Deserialize)]
struct ReferenceToken {
    symbol: String,
    chain: String,
    address: String,
    decimals: Option<u32>,
}

/// Every chain and asset Rialto can settle in, with lookups by alias, symbol and CAIP id.
#[derive(Debug, Clone, Default)]
pub struct AssetRegistry {
    chains: Vec<Chain>,
    /// Lower-case alias or CAIP-2 id → index into `chains`.
    chain_names: HashMap<String, usize>,
    assets: Vec<Asset>,
}

impl AssetRegistry {
    /// Builds the registry from the chains file and token files (JSON texts in the reference
    /// format: `{"tokens": [{symbol, chain, address, decimals}, …]}`; other fields ignored).
    pub fn from_json(chains_json: &str, token_files: &[&str]) -> Result<Self, RegistryError> {
        let chains: ChainsFile =
            serde_json::from_str(chains_json).map_err(|e| RegistryError::Data(e.to_string()))?;
        let mut registry = Self::default();
        for row in chains.chains {
            registry.add_chain(row)?;
        }
        for file in token_files {
            registry.add_token_file(file)?;
        }
        Ok(registry)
    }

    fn add_token_file(&mut self, json: &str) -> Result<(), RegistryError> {
        let file: ReferenceFile =
            serde_json::from_str(json).map_err(|e| RegistryError::Data(e.to_string()))?;
        for token in file.tokens {
            let Some(decimals) = token.decimals else {
                continue;
            };
            let chain = self
                .chain(&token.chain)
                .ok_or_else(|| RegistryError::UnknownChain(token.chain.clone()))?
                .clone();
            self.add_asset(
                &chain,
                &token.symbol,
                &token.address,
                decimals,
                AssetKind::Stablecoin,
            )?;
        }
        Ok(())
    }

    fn add_chain(&mut self, row: ChainRow) -> Result<(), RegistryError> {
        let id: ChainId = row
            .id
            .parse()
            .map_err(|_| RegistryError::Data(format!("bad chain id {}", row.id)))?;
        let index = self.chains.len();
        for name in std::iter::once(&row.alias)
            .chain(row.aliases.iter())
            .map(|n| n.to_ascii_lowercase())
            .chain(std::iter::once(id.to_string()))
        {
            if self.chain_names.insert(name.clone(), index).is_some() {
                return Err(RegistryError::Data(format!("chain name {name} used twice")));
            }
        }
        self.chains.push(Chain {
            id,
            alias: row.alias.to_ascii_lowercase(),
            name: row.name,
            sandbox: row.sandbox,
        });
        Ok(())
    }

    /// Registers a token on a known chain. Used by the loader and by sandbox mode, whose
    /// contracts are deployed at run time.
    pub fn add_asset(
        &mut self,
        chain: &Chain,
        symbol: &str,
        contract: &str,
        decimals: u32,
        kind: AssetKind,
    ) -> Result<(), RegistryError> {
        let namespace = chain.id.namespace();
        let address = Address::parse(contract, namespace)
            .map_err(|e| RegistryError::Data(format!("{symbol} on {}: {e}", chain.alias)))?;
        let asset_ns = match namespace {
            ChainNamespace::Eip155 => "erc20",
            ChainNamespace::Solana => "token",
            ChainNamespace::Other => {
                return Err(RegistryError::Data(format!(
                    "unsupported chain {}",
                    chain.id
                )))
            }
        };
        let id = AssetId::new(chain.id.clone(), asset_ns, &address.to_string())
            .map_err(|e| RegistryError::Data(e.to_string()))?;
        if self.assets.iter().any(|a| a.id == id) {
            return Err(RegistryError::Data(format!("asset {id} listed twice")));
        }
        self.assets.push(Asset {
            id,
            symbol: symbol.to_owned(),
            code: symbol.to_ascii_lowercase(),
            decimals,
            kind,
            chain_alias: chain.alias.clone(),
            contract: address,
        });
        Ok(())
    }

    /// A chain by alias (`base`, case-insensitive) or CAIP-2 id (`eip155:8453`).
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chain_names
            .get(&name.to_ascii_lowercase())
            .or_else(|| self.chain_names.get(name))
            .map(|&i| &self.chains[i])
    }

    pub fn chains(&self) -> &[Chain] {
        &self.chains
    }

    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// The asset on `chain` named by a symbol (`usdc`) or a CAIP-19 id.
    pub fn asset_on(&self, name: &str, chain: &Chain) -> Result<&Asset, RegistryError> {
        if name.contains('/') {
            let id: AssetId = name
                .parse()
                .map_err(|_| RegistryError::UnknownAsset(name.to_owned()))?;
            let asset = self
                .assets
                .iter()
                .find(|a| a.id == id || same_asset_ignoring_case(&a.id, &id))
                .ok_or_else(|| RegistryError::UnknownAsset(name.to_owned()))?;
            if asset.id.chain() != &chain.id {
                return Err(RegistryError::AssetNotOnChain {
                    asset: name.to_owned(),
                    chain: chain.alias.clone(),
                });
            }
            return Ok(asset);
        }
        let code = name.to_ascii_lowercase();
        if !self.assets.iter().any(|a| a.code == code) {
            return Err(RegistryError::UnknownAsset(name.to_owned()));
        }
        self.assets
            .iter()
            .find(|a| a.code == code && a.id.chain() == &chain.id)
            .ok_or_else(|| RegistryError::AssetNotOnChain {
                asset: code,
                chain: chain.alias.clone(),
            })
    }

    /// The asset with exactly this CAIP-19 id.
    pub fn asset(&self, id: &AssetId) -> Option<&Asset> {
        self.assets.iter().find(|a| &a.id == id)
    }

    /// A currency to price in: a fiat code (`usd`, `eur`) or an asset code (`usdc`).
    pub fn currency(&self, code: &str) -> Option<Currency> {
        Currency::fiat(code).or_else(|| {
            let code = code.to_ascii_lowercase();
            self.assets
                .iter()
                .find(|a| a.code == code)
                .map(Asset::currency)
        })
    }
}

/// CAIP-19 references of EVM tokens are addresses; accept them in any letter case.
fn same_asset_ignoring_case(a: &AssetId, b: &AssetId) -> bool {
    a.chain() == b.chain()
        && a.asset_namespace() == b.asset_namespace()
        && a.asset_namespace() == "erc20"
        && a.asset_reference()
            .eq_ignore_ascii_case(b.asset_reference())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAINS: &str = r#"{"chains": [
        {"id": "eip155:1", "alias": "ethereum", "name": "Ethereum", "aliases": ["eth", "mainnet"]},
        {"id": "eip155:8453", "alias": "base", "name": "Base"},
        {"id": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "alias": "solana", "name": "Solana"}
    ]}"#;
    const TOKENS: &str = r#"{"tokens": [
        {"symbol": "USDC", "chain": "ethereum", "address": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "decimals": 6},
        {"symbol": "USDC", "chain": "base", "address": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "decimals": 6},
        {"symbol": "EURC", "chain": "ethereum", "address": "0x1aBaEA1f7C830bD89Acc67eC4af516284b1bC33c", "decimals": 6},
        {"symbol": "USDT", "chain": "base", "address": "0xfde4C96c8593536E31F229EA8f37b2ADa2699bb2", "decimals": null},
        {"symbol": "USDC", "chain": "solana", "address": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "decimals": 6}
    ]}"#;

    fn registry() -> AssetRegistry {
        AssetRegistry::from_json(CHAINS, &[TOKENS]).unwrap()
    }

    #[test]
    fn chains_resolve_by_alias_or_caip2() {
        let r = registry();
        assert_eq!(r.chain("base").unwrap().id.as_str(), "eip155:8453");
        assert_eq!(r.chain("BASE").unwrap().alias, "base");
        assert_eq!(r.chain("eip155:1").unwrap().alias, "ethereum");
        assert_eq!(r.chain("mainnet").unwrap().alias, "ethereum");
        assert!(r.chain("dogechain").is_none());
    }

    #[test]
    fn assets_resolve_by_symbol_or_caip19_on_their_chain() {
        let r = registry();
        let base = r.chain("base").unwrap().clone();
        let usdc = r.asset_on("usdc", &base).unwrap();
        assert_eq!(
            usdc.id.to_string(),
            "eip155:8453/erc20:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
        );
        let lower = "eip155:8453/erc20:0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
        assert_eq!(r.asset_on(lower, &base).unwrap().id, usdc.id);
        assert_eq!(
            r.asset_on("eurc", &base),
            Err(RegistryError::AssetNotOnChain {
                asset: "eurc".into(),
                chain: "base".into()
            })
        );
        assert_eq!(
            r.asset_on("doge", &base),
            Err(RegistryError::UnknownAsset("doge".into()))
        );
        let sol = r.chain("solana").unwrap().clone();
        assert_eq!(
            r.asset_on("usdc", &sol).unwrap().id.asset_namespace(),
            "token"
        );
    }

    #[test]
    fn tokens_with_unconfirmed_decimals_are_left_out() {
        let r = registry();
        let base = r.chain("base").unwrap().clone();
        assert!(r.asset_on("usdt", &base).is_err());
    }

    #[test]
    fn currencies_cover_fiat_and_asset_codes() {
        let r = registry();
        assert_eq!(r.currency("usd").unwrap().decimals(), 2);
        assert_eq!(r.currency("USDC").unwrap().decimals(), 6);
        assert!(r.currency("xyz").is_none());
    }
}
