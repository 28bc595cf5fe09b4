//! The asset registry shipped with the binary: `data/assets/chains.json` and
//! `data/assets/reference.json` (see `data/assets/README.md` for provenance and refresh).

use rialto_core::asset::{AssetRegistry, RegistryError};

const CHAINS: &str = include_str!("../../data/assets/chains.json");
const REFERENCE: &str = include_str!("../../data/assets/reference.json");

pub fn builtin() -> Result<AssetRegistry, RegistryError> {
    AssetRegistry::from_json(CHAINS, REFERENCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registry_loads_the_real_mainnet_tokens() {
        let registry = builtin().unwrap();
        let base = registry.chain("base").unwrap();
        let usdc = registry.asset_on("usdc", base).unwrap();
        assert_eq!(
            usdc.id.to_string(),
            "eip155:8453/erc20:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
        );
        let solana = registry.chain("solana").unwrap();
        assert_eq!(
            registry
                .asset_on("usdc", solana)
                .unwrap()
                .contract
                .to_string(),
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
        );
        for symbol in ["usdc", "usdt", "pyusd", "eurc"] {
            assert!(registry.currency(symbol).is_some(), "{symbol}");
        }
    }
}
