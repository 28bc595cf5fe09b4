//! The fixed sandbox token addresses of `data/assets/sandbox.json`, which the deploy must hit.

use std::path::Path;

use rialto_core::{Address, ChainNamespace};
use serde::Deserialize;

use crate::EvmError;

#[derive(Debug, Deserialize)]
struct SandboxFile {
    deployer: SandboxDeployer,
    tokens: Vec<SandboxToken>,
}

#[derive(Debug, Deserialize)]
struct SandboxDeployer {
    address: String,
}

#[derive(Debug, Deserialize)]
struct SandboxToken {
    symbol: String,
    chain: String,
    address: String,
    nonce: u64,
}

/// One token the deployer must create at `nonce`, landing at `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpectedToken {
    pub symbol: String,
    pub chain_alias: String,
    pub address: Address,
    pub nonce: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct SandboxExpectations {
    pub deployer: Address,
    pub tokens: Vec<ExpectedToken>,
}

impl SandboxExpectations {
    pub fn load(path: &Path) -> Result<Self, EvmError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvmError::Io {
            path: path.to_owned(),
            source,
        })?;
        let file: SandboxFile = serde_json::from_str(&text).map_err(|source| EvmError::Json {
            path: path.to_owned(),
            source,
        })?;
        let bad = |reason: String| EvmError::SandboxFile {
            path: path.to_owned(),
            reason,
        };
        let parse = |text: &str| {
            Address::parse(text, ChainNamespace::Eip155)
                .map_err(|e| bad(format!("address {text}: {e}")))
        };
        let deployer = parse(&file.deployer.address)?;
        let tokens = file
            .tokens
            .iter()
            .map(|t| {
                Ok(ExpectedToken {
                    symbol: t.symbol.clone(),
                    chain_alias: t.chain.clone(),
                    address: parse(&t.address)?,
                    nonce: t.nonce,
                })
            })
            .collect::<Result<Vec<_>, EvmError>>()?;
        Ok(Self { deployer, tokens })
    }

    /// The expected address of `symbol` on `chain_alias`; every sandbox chain must list it.
    pub fn token(&self, chain_alias: &str, symbol: &str) -> Result<&ExpectedToken, EvmError> {
        self.tokens
            .iter()
            .find(|t| t.chain_alias == chain_alias && t.symbol == symbol)
            .ok_or_else(|| EvmError::Devnet {
                chain: chain_alias.to_owned(),
                reason: format!("sandbox.json has no {symbol} entry for this chain"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_addresses_are_the_deployers_create_addresses_at_their_nonces() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/assets/sandbox.json");
        let sandbox = SandboxExpectations::load(&path).unwrap();
        assert_eq!(sandbox.tokens.len(), 8);
        for t in &sandbox.tokens {
            assert_eq!(
                sandbox.deployer.evm_create(t.nonce),
                Some(t.address),
                "{t:?}"
            );
        }
        assert_eq!(sandbox.token("devnet-base", "USDC").unwrap().nonce, 2);
        assert!(sandbox.token("devnet-base", "DAI").is_err());
    }
}
