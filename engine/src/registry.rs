//! The asset registry shipped with the binary: `data/assets/chains.json`, the real tokens in
//! `data/assets/reference.json` and the devnet's tokens in `data/assets/sandbox.json` and
//! `data/assets/sandbox-solana.json` (the Solana simnet's stand-in mints); see
//! `data/assets/README.md` for provenance and refresh.

use rialto_core::asset::{AssetRegistry, RegistryError};

const CHAINS: &str = include_str!("../../data/assets/chains.json");
const REFERENCE: &str = include_str!("../../data/assets/reference.json");
const SANDBOX: &str = include_str!("../../data/assets/sandbox.json");
const SANDBOX_SOLANA: &str = include_str!("../../data/assets/sandbox-solana.json");

pub fn builtin() -> Result<AssetRegistry, RegistryError> {
    AssetRegistry::from_json(CHAINS, &[REFERENCE, SANDBOX, SANDBOX_SOLANA])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rialto_core::address::Address;
    use rialto_core::chain::ChainNamespace;

    #[test]
    fn sandbox_tokens_sit_at_the_create_addresses_of_the_devnet_deployer() {
        let file: serde_json::Value = serde_json::from_str(SANDBOX).unwrap();
        let deployer_text = file["deployer"]["address"].as_str().unwrap();
        let deployer = Address::parse(deployer_text, ChainNamespace::Eip155).unwrap();
        let registry = builtin().unwrap();
        let tokens = file["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 8);
        for token in tokens {
            let nonce = token["nonce"].as_u64().unwrap();
            let expected = deployer.evm_create(nonce).unwrap();
            let chain = registry.chain(token["chain"].as_str().unwrap()).unwrap();
            assert!(chain.sandbox);
            let asset = registry
                .asset_on(token["symbol"].as_str().unwrap(), chain)
                .unwrap();
            assert_eq!(asset.contract, expected, "{token}");
        }
    }

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
