//! Binance request signing and request-weight accounting.
//!
//! SIGNED endpoints carry `timestamp` (+ `recvWindow`) and a `signature` parameter: the hex
//! HMAC-SHA256, keyed by the secret, of `totalParams` = the query string immediately followed by
//! the request body (no `&` between them), per Binance's "SIGNED Endpoint security" page.

use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::exchange::{ExchangeError, Venue};

/// `hex(HMAC-SHA256(secret, query ‖ body))`.
pub fn signature(secret: &str, query: &str, body: &str) -> String {
    // HMAC takes keys of any length, so this cannot fail; an empty MAC would only ever be
    // refused by Binance, never accepted.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(query.as_bytes());
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What Binance said the IP has spent in the current minute (`X-MBX-USED-WEIGHT-1M`), so a
/// request that would cross the limit is refused here instead of earning a 429 (and, repeated,
/// a 418 IP ban).
#[derive(Debug)]
pub(super) struct UsedWeight {
    limit: u32,
    seen: Mutex<Option<(u64, u32)>>,
}

impl UsedWeight {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            seen: Mutex::new(None),
        }
    }

    /// Records the header value seen at `now_ms`.
    pub fn observe(&self, used: u32, now_ms: u64) {
        let minute = now_ms / 60_000;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Responses can arrive out of order: within a minute keep the highest count.
        let keep = match *seen {
            Some((m, u)) if m == minute => u.max(used),
            _ => used,
        };
        *seen = Some((minute, keep));
    }

    /// Refuses `cost` when the reported spend of this minute leaves no room for it.
    pub fn check(&self, cost: u32, now_ms: u64) -> Result<(), ExchangeError> {
        let minute = now_ms / 60_000;
        let seen = *self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen {
            Some((m, used)) if m == minute && used.saturating_add(cost) > self.limit => {
                let next_minute_ms = (minute + 1) * 60_000;
                Err(ExchangeError::RateLimited {
                    venue: Venue::Binance,
                    retry_after: Some(Duration::from_millis(next_minute_ms - now_ms)),
                })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

    #[test]
    fn the_signature_matches_binances_published_query_string_example() {
        // Binance API docs, "SIGNED Endpoint Examples for POST /api/v3/order", example 1.
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            signature(SECRET, query, ""),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        // Example 2 sends the same parameters as the body: same signature.
        assert_eq!(
            signature(SECRET, "", query),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn a_mixed_query_and_body_are_signed_without_a_separator() {
        // Example 3: query and body concatenated with no `&` between them.
        assert_eq!(
            signature(
                SECRET,
                "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
                "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
            ),
            "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
        );
    }

    #[test]
    fn a_request_that_would_cross_the_reported_weight_waits_for_the_next_minute() {
        let weight = UsedWeight::new(6000);
        let now = 10 * 60_000 + 45_000;
        weight.observe(5990, now);
        assert!(weight.check(10, now).is_ok());
        let err = weight.check(11, now).expect_err("over the limit");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(15)));
        // A new minute starts from zero.
        assert!(weight.check(11, now + 15_000).is_ok());
    }
}
