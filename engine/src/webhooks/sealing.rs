//! Secrets at rest: webhook signing secrets are stored sealed with XChaCha20-Poly1305 under the
//! gateway's master key, as base64(nonce || ciphertext). A database dump alone reveals none.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingError {
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("sealed value is corrupt or was sealed with another master key")]
    Open,
}

/// Seals and opens secrets with the master key.
pub struct Sealer {
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn from_base64(key: &str) -> Result<Self, SealingError> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| SealingError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealingError::BadKey)?;
        Ok(Self {
            key: SecretBox::new(Box::new(key)),
        })
    }

    /// A fresh random master key, base64.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        STANDARD.encode(key)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.key.expose_secret()))
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for inputs this size.
        let ciphertext = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<String, SealingError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| SealingError::Open)?;
        if bytes.len() <= NONCE_LEN {
            return Err(SealingError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealingError::Open)?;
        String::from_utf8(plain).map_err(|_| SealingError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let sealed = sealer.seal("whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, sealer.seal("whsec_abc"), "fresh nonce each time");
        assert_eq!(sealer.open(&sealed).unwrap(), "whsec_abc");
        let other = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        assert_eq!(other.open(&sealed), Err(SealingError::Open));
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            sealer.open(&STANDARD.encode(tampered)),
            Err(SealingError::Open)
        );
        assert_eq!(
            Sealer::from_base64("c2hvcnQ=").unwrap_err(),
            SealingError::BadKey
        );
    }
}
