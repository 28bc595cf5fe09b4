//! Per-intent deposit addresses and the payment URIs that point wallets at them.
//!
//! Every payment intent that is paid by a plain token transfer gets its own address, so an
//! incoming transfer identifies its intent without any memo. The addresses come from one
//! configured BIP-39 mnemonic along the standard Ethereum path `m/44'/60'/0'/0/index`, so the
//! gateway stores only an index per intent and any BIP-44 wallet can recover the funds from the
//! phrase alone.

use rialto_connectors::rail::SigningKey;
use std::fmt;

use alloy::primitives::U256;
use alloy::signers::local::coins_bip39::{MnemonicError, WordlistError};
use alloy::signers::local::{LocalSignerError, MnemonicBuilder, MnemonicKey, PrivateKeySigner};
use rialto_core::payment_uri::{Eip681Request, Uint256};
use rialto_core::Address;
use secrecy::{ExposeSecret, SecretString};

use crate::contracts::from_wire;
use crate::EvmError;

/// The parent of every deposit key: `m/44'/60'/0'/0`, the last index left to [`DepositKeys`].
const PARENT_PATH: &str = "m/44'/60'/0'/0/0";
/// BIP-32 reads an index at or above this as hardened, which is another path entirely.
const HARDENED: u32 = 0x8000_0000;

/// The extended key at `m/44'/60'/0'/0`, derived once from the mnemonic (the seed's 2048
/// PBKDF2 rounds are the slow part); each deposit key is then one cheap child derivation.
#[derive(Clone)]
pub struct DepositKeys {
    parent: MnemonicKey,
}

impl fmt::Debug for DepositKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DepositKeys(m/44'/60'/0'/0, redacted)")
    }
}

impl DepositKeys {
    /// Reads an English BIP-39 phrase (12 to 24 words, any whitespace between them) with no
    /// passphrase. The error never repeats the phrase or any word of it, so it is safe to log.
    pub fn from_mnemonic(phrase: &SecretString) -> Result<Self, EvmError> {
        // The BIP-39 parser splits on single spaces only; a phrase from a config file may carry
        // a newline or double spaces.
        let normalized = SecretString::from(
            phrase
                .expose_secret()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        );
        let parent = MnemonicBuilder::english()
            .phrase(normalized.expose_secret())
            .derivation_path(PARENT_PATH)
            .and_then(|b| b.build_parent_key())
            .map_err(|e| EvmError::InvalidMnemonic(mnemonic_reason(&e)))?;
        Ok(Self { parent })
    }

    /// The deposit address at `m/44'/60'/0'/0/index`. Only non-hardened indexes (below 2^31)
    /// exist on that path.
    pub fn address(&self, index: u32) -> Result<Address, EvmError> {
        Ok(from_wire(self.signer(index)?.address()))
    }

    /// The key of deposit address `index`, for sweeping what it received.
    pub fn signer(&self, index: u32) -> Result<PrivateKeySigner, EvmError> {
        if index >= HARDENED {
            return Err(EvmError::DepositIndexOutOfRange(index));
        }
        // BIP-32 child derivation fails with probability about 2^-127 (an invalid child key);
        // the caller then moves on to the next index.
        let child = self
            .parent
            .child(index)
            .map_err(|_| EvmError::DepositDerivation { index })?;
        Ok(child.signer())
    }

    /// The key of deposit address `index` as a rail signing key (`0x` and 64 hex digits).
    pub fn signing_key(&self, index: u32) -> Result<SigningKey, EvmError> {
        let bytes = self.signer(index)?.to_bytes();
        Ok(SigningKey(SecretString::from(format!(
            "0x{}",
            alloy::hex::encode(bytes)
        ))))
    }
}

/// A fixed description of what is wrong with a phrase. The BIP-39 crate's own messages quote
/// the phrase or the offending word, which would put the secret in logs.
fn mnemonic_reason(e: &LocalSignerError) -> &'static str {
    match e {
        LocalSignerError::Bip39Error(MnemonicError::InvalidWordCount(_))
        | LocalSignerError::Bip39Error(MnemonicError::InvalidEntropyLength(_)) => {
            "it must have 12, 15, 18, 21 or 24 words"
        }
        LocalSignerError::Bip39Error(MnemonicError::WordlistError(WordlistError::InvalidWord(
            _,
        ))) => "a word is not in the English BIP-39 word list",
        LocalSignerError::Bip39Error(MnemonicError::InvalidPhrase(_)) => {
            "its checksum does not match (a word is wrong or out of order)"
        }
        _ => "it cannot be turned into a key",
    }
}

/// An EIP-681 request to pay `units` base units of the ERC-20 `token` to `to` on `chain_id`:
/// `ethereum:<token>@<chain_id>/transfer?address=<to>&uint256=<units>`, written by core's one
/// EIP-681 builder (`rialto_core::payment_uri`), which `rialto uri` parses back.
pub fn eip681_token_transfer(chain_id: u64, token: &Address, to: &Address, units: U256) -> String {
    let units = Uint256::from_be_bytes(units.to_be_bytes::<32>());
    Eip681Request::erc20_transfer(chain_id, *token, *to, units).to_uri()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devnet::accounts::SandboxAccounts;
    use rialto_core::ChainNamespace;

    const ANVIL_MNEMONIC: &str = "test test test test test test test test test test test junk";

    fn keys() -> DepositKeys {
        DepositKeys::from_mnemonic(&SecretString::from(ANVIL_MNEMONIC)).unwrap()
    }

    #[test]
    fn the_public_test_mnemonic_gives_anvils_published_accounts() {
        let keys = keys();
        assert_eq!(
            keys.address(0).unwrap().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert_eq!(
            keys.address(1).unwrap().to_string(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        );
        // All ten, key for key, against the private keys anvil publishes.
        let anvil = SandboxAccounts::load().unwrap();
        for i in 0..10u32 {
            let published = &anvil.get(i as usize).signer;
            assert_eq!(
                keys.signer(i).unwrap().to_bytes(),
                published.to_bytes(),
                "index {i}"
            );
        }
    }

    #[test]
    fn extra_whitespace_in_the_configured_phrase_is_ignored() {
        let messy = format!("  {}\n", ANVIL_MNEMONIC.replace(' ', "  \t"));
        let keys = DepositKeys::from_mnemonic(&SecretString::from(messy)).unwrap();
        assert_eq!(
            keys.address(7).unwrap(),
            super::tests::keys().address(7).unwrap()
        );
    }

    #[test]
    fn invalid_mnemonics_are_refused_without_echoing_the_phrase() {
        let cases = [
            (
                "test test test test test test test test test test test test",
                "checksum",
            ),
            (
                "test test test test test test test test test test test zzzzq",
                "word list",
            ),
            ("test test test junk", "12, 15, 18, 21 or 24"),
        ];
        for (phrase, reason) in cases {
            let err = DepositKeys::from_mnemonic(&SecretString::from(phrase)).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, EvmError::InvalidMnemonic(_)), "{text}");
            assert!(text.contains(reason), "{phrase:?}: {text}");
            assert!(!text.contains("test") && !text.contains("zzzzq"), "{text}");
            assert!(!format!("{err:?}").contains("test"), "{err:?}");
        }
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let text = format!("{:?}", keys());
        assert_eq!(text, "DepositKeys(m/44'/60'/0'/0, redacted)");
    }

    #[test]
    fn distinct_indexes_give_distinct_addresses_and_hardened_ones_are_refused() {
        let keys = keys();
        let a = keys.address(1_000_000).unwrap();
        assert_ne!(a, keys.address(1_000_001).unwrap());
        assert_eq!(a, keys.address(1_000_000).unwrap(), "deterministic");
        assert!(keys.address(HARDENED - 1).is_ok());
        assert!(matches!(
            keys.address(HARDENED),
            Err(EvmError::DepositIndexOutOfRange(0x8000_0000))
        ));
    }

    #[test]
    fn an_eip681_uri_names_token_chain_recipient_and_integer_units() {
        let evm = |t: &str| Address::parse(t, ChainNamespace::Eip155).unwrap();
        let usdc = evm("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913");
        let to = evm("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        assert_eq!(
            eip681_token_transfer(8453, &usdc, &to, U256::from(25_500_000u64)),
            "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer\
             ?address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8&uint256=25500000"
        );
        let huge = eip681_token_transfer(1, &usdc, &to, U256::MAX);
        assert!(
            huge.ends_with("&uint256=115792089237316195423570985008687907853269984665640564039457584007913129639935"),
            "{huge}"
        );
    }
}
