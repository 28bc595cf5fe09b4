//! Secrets at rest: webhook signing secrets and exchange credentials are stored sealed with
//! XChaCha20-Poly1305 under the gateway's master key. A database dump alone reveals none.
//!
//! A seal is bound to its row ([`Sealer::seal_for`]): the row's table and id are the cipher's
//! associated data, stored as `v2:` + base64(nonce || ciphertext), so a sealed value copied or
//! swapped into another row fails to open there. Values sealed before rows were bound (plain
//! base64, no prefix) still open with [`Sealer::open_for`], for any row, until they are sealed
//! again.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

const NONCE_LEN: usize = 24;
/// The prefix of a seal bound to its row.
const BOUND: &str = "v2:";

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

    fn seal_with(&self, aad: &[u8], plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for inputs this size.
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad,
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        STANDARD.encode(out)
    }

    fn open_with(&self, aad: &[u8], sealed: &str) -> Result<String, SealingError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| SealingError::Open)?;
        if bytes.len() <= NONCE_LEN {
            return Err(SealingError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SealingError::Open)?;
        String::from_utf8(plain).map_err(|_| SealingError::Open)
    }

    /// The name a seal is bound to: the row's table and id.
    pub fn row(table: &str, id: &str) -> String {
        format!("{table}:{id}")
    }

    /// Seals `plaintext` for one row, `row` naming its table and id (`webhook_endpoints:we_…`):
    /// it opens for that row only.
    pub fn seal_for(&self, row: &str, plaintext: &str) -> String {
        format!("{BOUND}{}", self.seal_with(row.as_bytes(), plaintext))
    }

    /// Opens a value sealed for `row`; a value sealed before rows were bound opens too.
    pub fn open_for(&self, row: &str, sealed: &str) -> Result<String, SealingError> {
        match sealed.strip_prefix(BOUND) {
            Some(bound) => self.open_with(row.as_bytes(), bound),
            None => self.open_with(&[], sealed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "webhook_endpoints:we_1";

    #[test]
    fn sealed_secrets_open_only_with_the_same_key() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let sealed = sealer.seal_for(ROW, "whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(
            sealed,
            sealer.seal_for(ROW, "whsec_abc"),
            "fresh nonce each time"
        );
        assert_eq!(sealer.open_for(ROW, &sealed).unwrap(), "whsec_abc");
        let other = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        assert_eq!(other.open_for(ROW, &sealed), Err(SealingError::Open));
        let body = sealed.strip_prefix(BOUND).unwrap();
        let mut tampered = STANDARD.decode(body).unwrap();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let tampered = format!("{BOUND}{}", STANDARD.encode(tampered));
        assert_eq!(sealer.open_for(ROW, &tampered), Err(SealingError::Open));
        assert_eq!(
            Sealer::from_base64("c2hvcnQ=").unwrap_err(),
            SealingError::BadKey
        );
    }

    #[test]
    fn a_seal_swapped_into_another_row_does_not_open() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let mine = sealer.seal_for("webhook_endpoints:we_1", "whsec_mine");
        let theirs = sealer.seal_for("webhook_endpoints:we_2", "whsec_theirs");
        assert_eq!(
            sealer.open_for("webhook_endpoints:we_1", &theirs),
            Err(SealingError::Open)
        );
        assert_eq!(
            sealer.open_for("exchange_accounts:we_1", &mine),
            Err(SealingError::Open),
            "the table is bound too"
        );
        assert_eq!(
            sealer.open_for("webhook_endpoints:we_1", &mine).unwrap(),
            "whsec_mine"
        );
    }

    #[test]
    fn values_sealed_before_rows_were_bound_still_open() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let legacy = sealer.seal_with(&[], "whsec_old");
        assert!(!legacy.starts_with(BOUND));
        assert_eq!(sealer.open_for(ROW, &legacy).unwrap(), "whsec_old");
    }
}
