//! The issuer API's request signature, computed the same way by the client and the bank.
//!
//! `X-Bank-Signature` is the lowercase hex HMAC-SHA256, under the account's secret, of
//! `{timestamp_ms}\n{METHOD}\n{path with query}\n{body}`; `X-Bank-Timestamp` is that
//! timestamp and `X-Bank-Key` names the account. The bank refuses a timestamp more than
//! [`MAX_SKEW_MS`] away from its clock, so a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const KEY_HEADER: &str = "x-bank-key";
pub const TIMESTAMP_HEADER: &str = "x-bank-timestamp";
pub const SIGNATURE_HEADER: &str = "x-bank-signature";

/// How far a request's timestamp may be from the bank's clock.
pub const MAX_SKEW_MS: u64 = 30_000;

fn mac(
    secret: &[u8],
    timestamp_ms: u64,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<Hmac<Sha256>> {
    // HMAC takes keys of any length, so this is never `None` in practice.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(format!("{timestamp_ms}\n{method}\n{path}\n").as_bytes());
    mac.update(body);
    Some(mac)
}

/// The signature of one request.
pub fn signature(
    secret: &[u8],
    timestamp_ms: u64,
    method: &str,
    path: &str,
    body: &[u8],
) -> String {
    mac(secret, timestamp_ms, method, path, body)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `signature_hex` signs the request, compared in constant time.
pub fn verify(
    secret: &[u8],
    timestamp_ms: u64,
    method: &str,
    path: &str,
    body: &[u8],
    signature_hex: &str,
) -> bool {
    let Ok(given) = hex::decode(signature_hex) else {
        return false;
    };
    mac(secret, timestamp_ms, method, path, body)
        .is_some_and(|mac| mac.verify_slice(&given).is_ok())
}
