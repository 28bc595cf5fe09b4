//! [`SolanaDepositKeys`]: per-intent Solana deposit wallets derived from the gateway's deposit
//! phrase (the same BIP-39 phrase EVM deposit addresses come from), so the store keeps only an
//! index per intent and the funds are recoverable from the phrase alone.
//!
//! Derivation (version 1, fixed forever once addresses are handed out):
//!
//! ```text
//! phrase  = the configured words joined by single spaces
//! seed(i) = HMAC-SHA512(key = phrase, data = "rialto/solana-deposit/v1" || u32_be(i))[0..32]
//! wallet  = the ed25519 keypair of seed(i)     (Keypair::new_from_array, RFC 8032)
//! ```
//!
//! The label separates these keys from every other use of the phrase (the EVM keys follow
//! BIP-44 `m/44'/60'/0'/0/i`; a wallet's own Solana accounts follow SLIP-0010
//! `m/44'/501'/…`), so no two derivations ever meet. Any index is valid (ed25519 accepts
//! every 32-byte seed).

use std::fmt;

use hmac::{Hmac, Mac};
use rialto_connectors::chain::{ChainError, DepositKeyring};
use rialto_connectors::rail::SigningKey;
use rialto_core::address::Address;
use rialto_core::ChainNamespace;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha512;
use solana_keypair::Keypair;

use crate::keys::{keypair_address, signing_key_of};

/// The domain label of version 1 of the derivation (module docs).
const LABEL: &[u8] = b"rialto/solana-deposit/v1";

/// The deposit keyring of one mode.
#[derive(Clone)]
pub struct SolanaDepositKeys {
    phrase: SecretString,
}

impl fmt::Debug for SolanaDepositKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SolanaDepositKeys(rialto/solana-deposit/v1, redacted)")
    }
}

impl SolanaDepositKeys {
    /// From the configured phrase (its words are checked where the EVM keys read it; here any
    /// whitespace between them is made one space, so the keys do not depend on formatting).
    pub fn from_phrase(phrase: &SecretString) -> Option<Self> {
        let words: Vec<&str> = phrase.expose_secret().split_whitespace().collect();
        if words.is_empty() {
            return None;
        }
        Some(Self {
            phrase: SecretString::from(words.join(" ")),
        })
    }

    /// The keypair of deposit wallet `index`.
    pub fn keypair(&self, index: u32) -> Result<Keypair, ChainError> {
        // HMAC takes a key of any length; the error cannot happen, and is no panic if it did.
        let mut mac = Hmac::<Sha512>::new_from_slice(self.phrase.expose_secret().as_bytes())
            .map_err(|_| ChainError::Key("the deposit phrase is not an HMAC key".into()))?;
        mac.update(LABEL);
        mac.update(&index.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&out[..32]);
        Ok(Keypair::new_from_array(seed))
    }
}

impl DepositKeyring for SolanaDepositKeys {
    fn namespace(&self) -> ChainNamespace {
        ChainNamespace::Solana
    }

    fn signing_key(&self, index: u32) -> Result<SigningKey, ChainError> {
        Ok(signing_key_of(&self.keypair(index)?))
    }

    fn address(&self, index: u32) -> Result<Address, ChainError> {
        Ok(keypair_address(&self.keypair(index)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_signer::Signer;

    const PHRASE: &str = "test test test test test test test test test test test junk";

    fn keys(phrase: &str) -> SolanaDepositKeys {
        SolanaDepositKeys::from_phrase(&SecretString::from(phrase)).unwrap()
    }

    #[test]
    fn a_deposit_wallet_is_the_documented_hmac_of_the_phrase_and_its_index() {
        // Recomputed here from the module docs' recipe, step by step.
        let mut mac = Hmac::<Sha512>::new_from_slice(PHRASE.as_bytes()).unwrap();
        mac.update(b"rialto/solana-deposit/v1");
        mac.update(&[0, 0, 0, 7]);
        let seed: [u8; 32] = mac.finalize().into_bytes()[..32].try_into().unwrap();
        let expected = Keypair::new_from_array(seed).pubkey();
        assert_eq!(keys(PHRASE).keypair(7).unwrap().pubkey(), expected);
        let key = keys(PHRASE).signing_key(7).unwrap();
        assert_eq!(
            crate::keys::keypair_of(&key).unwrap().pubkey(),
            expected,
            "the signing key signs as the address"
        );
    }

    #[test]
    fn deposit_wallets_are_deterministic_distinct_and_independent_of_whitespace() {
        let a = keys(PHRASE);
        let messy = keys(&format!("  {}\n", PHRASE.replace(' ', " \t ")));
        assert_eq!(a.address(3).unwrap(), messy.address(3).unwrap());
        assert_ne!(a.address(3).unwrap(), a.address(4).unwrap());
        assert_ne!(
            a.address(3).unwrap(),
            keys("another phrase entirely").address(3).unwrap()
        );
        assert!(SolanaDepositKeys::from_phrase(&SecretString::from("  ")).is_none());
        assert_eq!(a.namespace(), ChainNamespace::Solana);
        assert!(!format!("{a:?}").contains("test"));
    }
}
