//! API keys: `sk_test_…`/`pk_test_…` (and `_live_`). A key is 32 random base62 characters after
//! its prefix (~190 bits), shown once and stored only as its SHA-256: a fast hash is the right
//! tool for high-entropy secrets (a slow password hash would only slow every request).

use rand::distributions::Alphanumeric;
use rand::Rng;
use rialto_core::id::{ApiKeyId, MerchantId};
use sha2::{Digest, Sha256};

use crate::store::{ApiKeyRecord, KeyKind};

const SECRET_LEN: usize = 32;

/// The parts a well-formed key is made of; anything else is not a key of ours.
pub fn parse_key(key: &str) -> Option<(KeyKind, bool)> {
    let (kind, rest) = if let Some(rest) = key.strip_prefix("sk_") {
        (KeyKind::Secret, rest)
    } else if let Some(rest) = key.strip_prefix("pk_") {
        (KeyKind::Publishable, rest)
    } else {
        return None;
    };
    let (livemode, secret) = if let Some(s) = rest.strip_prefix("test_") {
        (false, s)
    } else if let Some(s) = rest.strip_prefix("live_") {
        (true, s)
    } else {
        return None;
    };
    (secret.len() == SECRET_LEN && secret.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some((kind, livemode))
}

/// Operator keys (`op_` + 32 base62 characters) authorise the compliance operator surface.
pub fn is_operator_key(key: &str) -> bool {
    key.strip_prefix("op_")
        .is_some_and(|s| s.len() == SECRET_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A fresh operator key and the record that stores its hash.
pub fn generate_operator_key(name: &str, now_ms: i64) -> (String, crate::store::OperatorKey) {
    let secret: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(SECRET_LEN)
        .map(char::from)
        .collect();
    let key = format!("op_{secret}");
    let record = crate::store::OperatorKey {
        id: format!(
            "opk_{}",
            rialto_core::id::ApiKeyId::generate()
                .to_string()
                .trim_start_matches("key_")
        ),
        name: name.to_owned(),
        key_hash: hash_key(&key),
        key_hint: key.chars().take(7).collect(),
        created_at_ms: now_ms,
        expires_at_ms: None,
        revoked_at_ms: None,
    };
    (key, record)
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh, unnamed key of a custody of its own, and the record that stores its hash.
pub fn generate_key(
    merchant_id: MerchantId,
    kind: KeyKind,
    livemode: bool,
    now_ms: i64,
) -> (String, ApiKeyRecord) {
    generate_named_key(merchant_id, (kind, livemode), "", None, now_ms)
}

/// A fresh key named `name` in `custody` (a custody of its own when `None`).
pub fn generate_named_key(
    merchant_id: MerchantId,
    (kind, livemode): (KeyKind, bool),
    name: &str,
    custody: Option<ApiKeyId>,
    now_ms: i64,
) -> (String, ApiKeyRecord) {
    let prefix = match (kind, livemode) {
        (KeyKind::Secret, false) => "sk_test_",
        (KeyKind::Secret, true) => "sk_live_",
        (KeyKind::Publishable, false) => "pk_test_",
        (KeyKind::Publishable, true) => "pk_live_",
    };
    let secret: String = rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(SECRET_LEN)
        .map(char::from)
        .collect();
    let key = format!("{prefix}{secret}");
    let id = ApiKeyId::generate();
    let record = ApiKeyRecord {
        id,
        merchant_id,
        kind,
        livemode,
        key_hash: hash_key(&key),
        key_hint: format!("{}…", &key[..prefix.len() + 4]),
        created_at_ms: now_ms,
        name: name.to_owned(),
        custody: custody.unwrap_or(id),
        expires_at_ms: None,
        revoked_at_ms: None,
    };
    (key, record)
}

/// A capability to read one intent from the payer side, shown to the merchant's server. Drawn
/// from the thread-local CSPRNG (ChaCha, seeded and periodically reseeded from the OS): as
/// unguessable as the OS source, without a system call on every create.
pub fn client_secret(intent_id: &str) -> String {
    let secret: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("{intent_id}_secret_{secret}")
}

/// Equality that takes the same time wherever the inputs first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_and_hash_stably() {
        let merchant = MerchantId::generate();
        for (kind, live) in [(KeyKind::Secret, false), (KeyKind::Publishable, true)] {
            let (key, record) = generate_key(merchant, kind, live, 0);
            assert_eq!(parse_key(&key), Some((kind, live)));
            assert_eq!(record.key_hash, hash_key(&key));
            assert!(!record.key_hint.contains(&key[12..]));
        }
    }

    #[test]
    fn foreign_or_truncated_keys_do_not_parse() {
        for bad in [
            "",
            "sk_test_",
            "sk_test_short",
            "rk_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "sk_prod_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "sk_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }
}
