//! The Solana part of the devnet manifest: the `solana` key of the file `rialto devnet` writes
//! (beside the EVM chains, which the EVM side reads and which ignores this key). It names the
//! simnet's RPC URL and CAIP-2, the two stand-in mints, the funded payers and the gateway's hot
//! wallet there.
//!
//! Every devnet key derives from a public label ([`devnet_keypair`]): the mints land at the same
//! addresses on every run (so `data/assets/sandbox.json` can list them) and the keys are
//! publicly known. Devnet only: never use one of these keys for real funds.

use std::collections::BTreeMap;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::keys::address_of;

/// The chain's alias in `data/assets/chains.json`.
pub const DEVNET_ALIAS: &str = "devnet-solana";

/// The devnet keypair of `label` (`"USDC mint"`, `"payer 1"`, `"gateway hot wallet"`, …): the
/// SHA-256 of a public text as its secret. Publicly known: devnet only.
pub fn devnet_keypair(label: &str) -> Keypair {
    let seed: [u8; 32] = Sha256::digest(format!("rialto devnet solana {label}").as_bytes()).into();
    Keypair::new_from_array(seed)
}

/// A devnet account with its key (base58 of the 64-byte keypair, as wallets export it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SolanaAccount {
    pub address: String,
    #[serde(serialize_with = "expose")]
    pub secret_key: SecretString,
}

fn expose<S: serde::Serializer>(key: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(key.expose_secret())
}

impl SolanaAccount {
    pub fn of(keypair: &Keypair) -> Self {
        Self {
            address: address_of(&keypair.pubkey()).to_string(),
            secret_key: SecretString::from(keypair.to_base58_string()),
        }
    }
}

/// One stand-in mint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolanaTokenEntry {
    pub mint: String,
    pub decimals: u8,
    /// `spl-token` or `token-2022`.
    pub program: String,
}

/// The simnet and what the devnet made on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SolanaManifest {
    /// CAIP-2: the devnet's fixed [`super::DEVNET_CAIP2`].
    pub chain_id: String,
    pub alias: String,
    pub rpc_url: String,
    /// By symbol: `USDC` (classic SPL Token), `PYUSD` (Token-2022).
    pub tokens: BTreeMap<String, SolanaTokenEntry>,
    /// Funded payers: SOL for fees and every stand-in token.
    pub payers: Vec<SolanaAccount>,
    /// The gateway's own hot wallet: SOL only (fees and the rent of the token accounts it
    /// creates for recipients).
    pub gateway_hot_wallet: SolanaAccount,
    /// Mint and freeze authority of both mints (a sandbox faucet can mint more).
    pub mint_authority: SolanaAccount,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
}

impl SolanaManifest {
    /// The `solana` key of the manifest at `path`; `None` when the devnet ran without Solana.
    pub fn read(path: &Path) -> Result<Option<Self>, ManifestError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: shown.clone(),
            source,
        })?;
        let mut whole: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| ManifestError::Json {
                path: shown.clone(),
                source,
            })?;
        match whole.get_mut("solana").map(serde_json::Value::take) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(section) => {
                serde_json::from_value(section)
                    .map(Some)
                    .map_err(|source| ManifestError::Json {
                        path: shown,
                        source,
                    })
            }
        }
    }

    /// Sets the `solana` key of the manifest at `path` (written already by the EVM side),
    /// through a sibling temporary file and a rename, so a reader never sees half a file.
    pub fn write_into(&self, path: &Path) -> Result<(), ManifestError> {
        let shown = path.display().to_string();
        let io = |source| ManifestError::Io {
            path: shown.clone(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        let json = |source| ManifestError::Json {
            path: shown.clone(),
            source,
        };
        let mut whole: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
        let section = serde_json::to_value(self).map_err(json)?;
        if let Some(object) = whole.as_object_mut() {
            object.insert("solana".into(), section);
        }
        let tmp = path.with_extension("json.solana.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&whole).map_err(json)?).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `data/assets/sandbox-solana.json` lists the mints where the devnet creates them.
    #[test]
    fn the_registry_lists_the_mints_where_the_devnet_creates_them() {
        let file: serde_json::Value =
            serde_json::from_str(include_str!("../../../data/assets/sandbox-solana.json")).unwrap();
        let tokens = file["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 2);
        for token in tokens {
            let label = token["label"].as_str().unwrap();
            let expected = address_of(&devnet_keypair(label).pubkey()).to_string();
            assert_eq!(token["address"].as_str().unwrap(), expected, "{label}");
        }
    }
}
