//! Coinbase Developer Platform (CDP) API-key JWTs for Advanced Trade and the App v2 API.
//!
//! The documented rule ("JWT Authentication", docs.cdp.coinbase.com, and Coinbase's
//! `coinbase-advanced-py` `jwt_generator`): an ES256 (ECDSA P-256, SHA-256) JWS whose header
//! carries `kid` = the key name and a random hex `nonce`, and whose claims are `sub` = the key
//! name, `iss` = `"cdp"`, `nbf` = now, `exp` = now + 120 s and `uri` = `"METHOD host/path"`.
//! A JWT is valid for one request (its `uri`) and two minutes, so one is built per request.
//!
//! ECDSA signatures are randomized, so Coinbase publishes no fixed vector; the tests build a
//! JWT, verify it with the public key and check every header and claim.

use crate::exchange::SigningError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

/// How long a JWT is valid, per Coinbase's docs ("Your JWT expires after 2 minutes").
pub const JWT_LIFETIME_SECS: u64 = 120;

/// A CDP API key: its name (`organizations/{org}/apiKeys/{id}`) and P-256 private key.
pub struct CdpKey {
    name: String,
    signing_key: SigningKey,
}

impl std::fmt::Debug for CdpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdpKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CdpKey {
    /// Reads the key as Coinbase hands it out (SEC1 `EC PRIVATE KEY` PEM) or as PKCS#8
    /// (`PRIVATE KEY`). Escaped `\n` sequences, as found in environment variables, are undone.
    pub fn from_pem(name: impl Into<String>, pem: &SecretString) -> Result<Self, SigningError> {
        let text = pem.expose_secret().replace("\\n", "\n");
        let signing_key = match p256::SecretKey::from_sec1_pem(text.trim()) {
            Ok(secret) => SigningKey::from(secret),
            Err(_) => SigningKey::from_pkcs8_pem(text.trim()).map_err(|_| SigningError::BadPem)?,
        };
        Ok(Self {
            name: name.into(),
            signing_key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A key derived from a fixed byte, as SEC1 PEM, for the sandbox exchange only (which
    /// checks signatures, not who holds the key): it guards nothing. Never for a real venue.
    pub fn sandbox_pem(seed: u8) -> Result<String, SigningError> {
        let secret =
            p256::SecretKey::from_slice(&[seed.max(1); 32]).map_err(|_| SigningError::BadScalar)?;
        secret
            .to_sec1_pem(p256::pkcs8::LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|_| SigningError::PemEncoding)
    }

    /// The public half (the sandbox checks JWTs with it).
    #[cfg(any(test, feature = "sandbox"))]
    pub(crate) fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        *self.signing_key.verifying_key()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    kid: &'a str,
    nonce: &'a str,
    typ: &'static str,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iss: &'static str,
    nbf: u64,
    exp: u64,
    uri: &'a str,
}

/// The JWT for one request: `method` upper case, `host` without scheme (with `:port` if not
/// the default), `path` without the query string.
pub fn build_jwt(
    key: &CdpKey,
    method: &str,
    host: &str,
    path: &str,
    now_secs: u64,
    nonce_hex: &str,
) -> Result<String, SigningError> {
    let uri = format!("{method} {host}{path}");
    let header = Header {
        alg: "ES256",
        kid: &key.name,
        nonce: nonce_hex,
        typ: "JWT",
    };
    let claims = Claims {
        sub: &key.name,
        iss: "cdp",
        nbf: now_secs,
        exp: now_secs + JWT_LIFETIME_SECS,
        uri: &uri,
    };
    let header = serde_json::to_vec(&header).map_err(|e| SigningError::Encoding(e.to_string()))?;
    let claims = serde_json::to_vec(&claims).map_err(|e| SigningError::Encoding(e.to_string()))?;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    // JWS ES256 wants the raw 64-byte r ‖ s, not DER.
    let signature: Signature = key.signing_key.sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

/// A fresh random nonce: 32 bytes as hex, like the `secrets.token_hex()` of Coinbase's samples.
pub fn random_nonce() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::EncodePrivateKey as _;

    fn key() -> CdpKey {
        // A fixed test key, generated once for these tests; it guards nothing.
        let bytes = [7u8; 32];
        let secret = p256::SecretKey::from_slice(&bytes).expect("valid scalar");
        let pem = secret
            .to_sec1_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem");
        CdpKey::from_pem(
            "organizations/org-1/apiKeys/key-1",
            &SecretString::from(pem.to_string()),
        )
        .expect("key")
    }

    /// Splits and verifies a JWT, returning its header and claims as JSON.
    pub(crate) fn verify(
        token: &str,
        key: &p256::ecdsa::VerifyingKey,
    ) -> (serde_json::Value, serde_json::Value) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "three JWS parts");
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64 sig");
        let sig = Signature::from_slice(&sig).expect("64-byte r||s");
        key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("signature verifies");
        let header =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        let claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        (header, claims)
    }

    #[test]
    fn the_jwt_follows_coinbases_documented_rule_and_verifies() {
        let key = key();
        let token = build_jwt(
            &key,
            "GET",
            "api.coinbase.com",
            "/api/v3/brokerage/accounts",
            1_700_000_000,
            "ab12",
        )
        .expect("jwt");
        let (header, claims) = verify(&token, &key.verifying_key());
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "organizations/org-1/apiKeys/key-1");
        assert_eq!(header["nonce"], "ab12");
        assert_eq!(claims["sub"], "organizations/org-1/apiKeys/key-1");
        assert_eq!(claims["iss"], "cdp");
        assert_eq!(claims["nbf"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_120u64);
        assert_eq!(
            claims["uri"],
            "GET api.coinbase.com/api/v3/brokerage/accounts"
        );
    }

    #[test]
    fn a_tampered_jwt_does_not_verify() {
        let key = key();
        let token = build_jwt(
            &key,
            "POST",
            "api.coinbase.com",
            "/api/v3/brokerage/orders",
            1,
            "00",
        )
        .expect("jwt");
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"x","iss":"cdp","nbf":1,"exp":999999,"uri":"POST api.coinbase.com/api/v3/brokerage/orders"}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let sig =
            Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).expect("b64")).expect("sig");
        let forged = format!("{}.{forged_claims}", parts[0]);
        assert!(key.verifying_key().verify(forged.as_bytes(), &sig).is_err());
    }

    #[test]
    fn pkcs8_keys_are_accepted_and_garbage_is_an_error() {
        let secret = p256::SecretKey::from_slice(&[9u8; 32]).expect("scalar");
        let pem = secret
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .expect("pem");
        assert!(CdpKey::from_pem("k", &SecretString::from(pem.to_string())).is_ok());
        assert!(CdpKey::from_pem("k", &SecretString::from("not a key".to_owned())).is_err());
    }

    #[test]
    fn nonces_are_fresh_hex() {
        let a = random_nonce();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_nonce());
    }
}
