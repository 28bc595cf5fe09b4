//! Kraken REST authentication and nonces.
//!
//! `API-Sign` = base64(HMAC-SHA512(key = base64-decoded secret,
//! message = uri_path ‖ SHA256(nonce ‖ postdata))), per Kraken's "Spot REST Authentication"
//! guide (docs.kraken.com), whose worked example is the test below.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::exchange::{Clock, SigningError};

/// Signs one private request. `secret` is the API secret exactly as Kraken shows it (base64).
pub fn api_sign(
    secret_b64: &str,
    uri_path: &str,
    nonce: u64,
    postdata: &str,
) -> Result<String, SigningError> {
    let key = STANDARD
        .decode(secret_b64.trim())
        .map_err(|e| SigningError::SecretNotBase64(e.to_string()))?;
    let mut inner = Sha256::new();
    inner.update(nonce.to_string().as_bytes());
    inner.update(postdata.as_bytes());
    let mut mac = Hmac::<Sha512>::new_from_slice(&key).map_err(|_| SigningError::HmacKey)?;
    mac.update(uri_path.as_bytes());
    mac.update(&inner.finalize());
    Ok(STANDARD.encode(mac.finalize().into_bytes()))
}

/// Where Kraken nonces come from. Kraken rejects a nonce not greater than the last one it saw
/// for the key (`EAPI:Invalid nonce`), across process restarts too.
pub trait NonceSource: Send + Sync + std::fmt::Debug {
    fn next(&self) -> Result<u64, SigningError>;
}

/// Nonces floored at the clock in milliseconds, and strictly increasing within the process.
///
/// This is the default because it survives restarts without state: a restarted process starts
/// at "now", which is above every nonce it sent before as long as it sent fewer than one per
/// millisecond on average (the limiter keeps Kraken traffic far below that) and the clock does
/// not step back. Where either could fail, use [`FileNonce`].
#[derive(Debug)]
pub struct ClockNonce {
    clock: Arc<dyn Clock>,
    last: Mutex<u64>,
}

impl ClockNonce {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            last: Mutex::new(0),
        }
    }
}

impl NonceSource for ClockNonce {
    fn next(&self) -> Result<u64, SigningError> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        *last = crate::exchange::now_ms_u64(self.clock.as_ref()).max(*last + 1);
        Ok(*last)
    }
}

/// Nonces persisted to a file before use: max(clock, last persisted + 1). Survives restarts and
/// a clock that steps back, at the cost of one small write per private request.
#[derive(Debug)]
pub struct FileNonce {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    lock: Mutex<()>,
}

impl FileNonce {
    pub fn new(path: PathBuf, clock: Arc<dyn Clock>) -> Self {
        Self {
            path,
            clock,
            lock: Mutex::new(()),
        }
    }
}

impl NonceSource for FileNonce {
    fn next(&self) -> Result<u64, SigningError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let last = match std::fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse::<u64>().map_err(|e| {
                SigningError::Nonce(format!(
                    "nonce file {} is corrupt: {e}",
                    self.path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(SigningError::Nonce(format!("reading nonce file: {e}"))),
        };
        let next = crate::exchange::now_ms_u64(self.clock.as_ref()).max(last + 1);
        // Write-then-rename so a crash mid-write never leaves a truncated (smaller) nonce.
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, next.to_string())
            .map_err(|e| SigningError::Nonce(format!("writing nonce file: {e}")))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| SigningError::Nonce(format!("writing nonce file: {e}")))?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(i64);
    impl Clock for Fixed {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn the_signature_matches_krakens_published_example() {
        // docs.kraken.com, "Spot REST Authentication", Examples.
        let sign = api_sign(
            "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==",
            "/0/private/AddOrder",
            1_616_492_376_594,
            "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
        )
        .expect("sign");
        assert_eq!(
            sign,
            "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
        );
    }

    #[test]
    fn the_path_is_part_of_the_signature() {
        let secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
        let a = api_sign(secret, "/0/private/AddOrder", 1, "nonce=1").expect("a");
        let b = api_sign(secret, "/0/private/Balance", 1, "nonce=1").expect("b");
        assert_ne!(a, b);
    }

    #[test]
    fn a_secret_that_is_not_base64_is_an_error_not_a_panic() {
        assert!(api_sign("not base64!!", "/0/private/Balance", 1, "nonce=1").is_err());
    }

    #[test]
    fn clock_nonces_increase_even_when_the_clock_stands_still() {
        let nonces = ClockNonce::new(Arc::new(Fixed(1_000)));
        let a = nonces.next().expect("a");
        let b = nonces.next().expect("b");
        assert_eq!((a, b), (1_000, 1_001));
    }

    #[test]
    fn file_nonces_survive_a_restart_with_a_clock_that_stepped_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kraken.nonce");
        let first = FileNonce::new(path.clone(), Arc::new(Fixed(5_000)));
        assert_eq!(first.next().expect("first"), 5_000);
        assert_eq!(first.next().expect("second"), 5_001);
        drop(first);
        let restarted = FileNonce::new(path, Arc::new(Fixed(4_000)));
        assert_eq!(restarted.next().expect("after restart"), 5_002);
    }
}
