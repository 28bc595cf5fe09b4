//! Rate limits, checked before a presented key is looked up, so a flood costs no database
//! round trip:
//!
//! - a secret or operator key has one bucket, named by the key's hash;
//! - a publishable key is shared by every shopper of a merchant, so it has one bucket per
//!   payer session: the key together with the client's address. One busy (or hostile) payer
//!   cannot lock the merchant's other shoppers out;
//! - keys that fail to resolve count against their client address; an address that keeps
//!   presenting unknown keys is refused before any lookup until its bucket refills.
//!
//! The client address is the peer of the TCP connection (`ConnectInfo`); behind a reverse
//! proxy that is the proxy, and the limits apply to it as a whole.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;
use crate::error::{ApiError, ErrorCode};
use crate::store::KeyKind;

/// Unknown keys an address may present per second, and at once.
const FAILED_LOOKUPS_PER_SECOND: u32 = 2;
const FAILED_LOOKUPS_BURST: u32 = 20;
/// Bound on the refused-address table; it is cleared when full (a refusal is short-lived).
const MAX_REFUSED: usize = 10_000;

/// The gateway's rate limits (see the module docs).
#[derive(Debug)]
pub struct RateLimits {
    keys: DefaultKeyedRateLimiter<String>,
    failed_lookups: DefaultKeyedRateLimiter<IpAddr>,
    refused_until: Mutex<HashMap<IpAddr, Instant>>,
}

/// Which key is knocking, before it is known to exist.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    Api { kind: KeyKind, hash: &'a str },
    Operator { hash: &'a str },
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

fn limited(message: &str, wait: Duration) -> ApiError {
    let mut err = ApiError::new(ErrorCode::RateLimited, message);
    err.retry_after = Some(wait.as_secs().max(1));
    err
}

/// The client's address, when the server knows it.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            keys: RateLimiter::keyed(quota(config.per_second, config.burst)),
            failed_lookups: RateLimiter::keyed(quota(
                FAILED_LOOKUPS_PER_SECOND,
                FAILED_LOOKUPS_BURST,
            )),
            refused_until: Mutex::default(),
        }
    }

    /// Checks (and spends from) the presented key's bucket, and refuses an address that has
    /// been presenting unknown keys. Runs before the key is looked up.
    pub fn check(&self, presented: Presented<'_>, client: Option<IpAddr>) -> Result<(), ApiError> {
        self.check_address(client)?;
        self.check_key(presented, client)
    }

    /// Refuses an address that has been presenting unknown or malformed keys.
    pub fn check_address(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        if let Some(ip) = client {
            let until = self
                .refused_until
                .lock()
                .ok()
                .and_then(|map| map.get(&ip).copied());
            if let Some(until) = until.filter(|u| *u > Instant::now()) {
                return Err(limited(
                    "Too many requests with unknown API keys from this address. Retry after the \
                     number of seconds in the Retry-After header.",
                    until - Instant::now(),
                ));
            }
        }
        Ok(())
    }

    fn check_key(&self, presented: Presented<'_>, client: Option<IpAddr>) -> Result<(), ApiError> {
        let bucket = match presented {
            Presented::Operator { hash } => format!("op:{hash}"),
            Presented::Api {
                kind: KeyKind::Secret,
                hash,
            } => format!("sk:{hash}"),
            Presented::Api {
                kind: KeyKind::Publishable,
                hash,
            } => match client {
                Some(ip) => format!("pk:{hash}:{ip}"),
                None => format!("pk:{hash}"),
            },
        };
        self.keys.check_key(&bucket).map_err(|not_until| {
            limited(
                "Too many requests with this API key. Retry after the number of seconds in the \
                 Retry-After header.",
                not_until.wait_time_from(DefaultClock::default().now()),
            )
        })
    }

    /// A presented key did not resolve: counts against the client's address.
    pub fn lookup_failed(&self, client: Option<IpAddr>) {
        let Some(ip) = client else { return };
        if let Err(not_until) = self.failed_lookups.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            if let Ok(mut map) = self.refused_until.lock() {
                if map.len() >= MAX_REFUSED {
                    map.clear();
                }
                map.insert(ip, Instant::now() + wait.max(Duration::from_secs(1)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits::new(&RateLimitConfig {
            per_second: 1,
            burst: 2,
        })
    }

    #[test]
    fn a_publishable_key_has_a_bucket_per_payer_address() {
        let limits = limits();
        let pk = Presented::Api {
            kind: KeyKind::Publishable,
            hash: "h",
        };
        let alice = Some(IpAddr::from([10, 0, 0, 1]));
        let bob = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(limits.check(pk, alice).is_ok());
        assert!(limits.check(pk, alice).is_ok());
        assert!(limits.check(pk, alice).is_err(), "alice spent her burst");
        assert!(limits.check(pk, bob).is_ok(), "bob has his own bucket");
    }

    #[test]
    fn a_secret_key_has_one_bucket_wherever_it_calls_from() {
        let limits = limits();
        let sk = Presented::Api {
            kind: KeyKind::Secret,
            hash: "h",
        };
        assert!(limits.check(sk, Some(IpAddr::from([10, 0, 0, 1]))).is_ok());
        assert!(limits.check(sk, Some(IpAddr::from([10, 0, 0, 2]))).is_ok());
        assert!(limits.check(sk, Some(IpAddr::from([10, 0, 0, 3]))).is_err());
    }

    #[test]
    fn an_address_presenting_unknown_keys_is_refused_before_any_lookup() {
        let limits = limits();
        let ip = Some(IpAddr::from([10, 0, 0, 9]));
        for _ in 0..=FAILED_LOOKUPS_BURST {
            limits.lookup_failed(ip);
        }
        let fresh = Presented::Api {
            kind: KeyKind::Secret,
            hash: "never-seen",
        };
        let err = limits.check(fresh, ip).unwrap_err();
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert!(limits
            .check(fresh, Some(IpAddr::from([10, 0, 0, 8])))
            .is_ok());
    }
}
