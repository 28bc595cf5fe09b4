//! Keys and addresses: a leg's [`SigningKey`] as a Solana keypair, and the workspace's
//! [`Address`] as a Solana public key.

use rialto_connectors::rail::SigningKey;
use rialto_core::address::Address;
use secrecy::ExposeSecret;
use solana_keypair::Keypair;
use solana_pubkey::Pubkey;
use solana_signer::Signer;

use crate::SolanaError;

/// The keypair of a signing key written as the Solana tools write one: base58 of the 64 bytes
/// (secret then public, as wallets export it) or the JSON array of those 64 numbers (a
/// `solana-keygen` file). The public half must match the secret: a key that does not is refused.
pub fn keypair_of(key: &SigningKey) -> Result<Keypair, SolanaError> {
    let text = key.0.expose_secret().trim();
    if text.starts_with('[') {
        let bytes: Vec<u8> = serde_json::from_str(text).map_err(|_| SolanaError::Key)?;
        return Keypair::try_from(bytes.as_slice()).map_err(|_| SolanaError::Key);
    }
    Keypair::try_from_base58_string(text).map_err(|_| SolanaError::Key)
}

/// A keypair as the signing-key text [`keypair_of`] reads (base58 of its 64 bytes).
pub fn signing_key_of(keypair: &Keypair) -> SigningKey {
    SigningKey(secrecy::SecretString::from(keypair.to_base58_string()))
}

/// The Solana public key of an address of the Solana namespace.
pub fn pubkey_of(address: &Address) -> Result<Pubkey, SolanaError> {
    match address {
        Address::Solana(bytes) => Ok(Pubkey::new_from_array(*bytes)),
        _ => Err(SolanaError::Unsupported(
            "an address of another chain family",
        )),
    }
}

/// The workspace address of a public key.
pub fn address_of(pubkey: &Pubkey) -> Address {
    Address::Solana(pubkey.to_bytes())
}

/// The address a keypair signs as.
pub fn keypair_address(keypair: &Keypair) -> Address {
    address_of(&keypair.pubkey())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keypair_reads_back_from_base58_and_from_a_keygen_file() {
        let keypair = Keypair::new_from_array([7; 32]);
        let from_base58 = keypair_of(&signing_key_of(&keypair)).unwrap();
        assert_eq!(from_base58.pubkey(), keypair.pubkey());
        let json = serde_json::to_string(&keypair.to_bytes().to_vec()).unwrap();
        let from_file = keypair_of(&SigningKey(json.into())).unwrap();
        assert_eq!(from_file.pubkey(), keypair.pubkey());
    }

    #[test]
    fn an_evm_key_or_a_mismatched_keypair_is_refused() {
        let evm = SigningKey(format!("0x{}", "11".repeat(32)).into());
        assert!(matches!(keypair_of(&evm), Err(SolanaError::Key)));
        let mut bytes = Keypair::new_from_array([7; 32]).to_bytes();
        bytes[40] ^= 1;
        let json = serde_json::to_string(&bytes.to_vec()).unwrap();
        assert!(matches!(
            keypair_of(&SigningKey(json.into())),
            Err(SolanaError::Key)
        ));
    }
}
