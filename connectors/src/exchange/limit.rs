//! Client-side rate limiting: a governor limiter per venue, sized from the venue's published
//! limits (the numbers and their sources are next to each venue's `VenueLimiter` constructor).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::{ExchangeError, Venue};

/// A token bucket in front of one venue account. Each request spends its cost (1 for most
/// venues, the endpoint's weight on Binance).
///
/// A short wait is absorbed here; a longer one comes back as `RateLimited` with the wait, so
/// that a payment never blocks silently for a minute and the router can choose another venue.
#[derive(Debug)]
pub struct VenueLimiter {
    venue: Venue,
    limiter: DefaultDirectRateLimiter,
    max_wait: Duration,
}

impl VenueLimiter {
    /// `burst` cells refilled at `per` per cell: `Quota::with_period(per).allow_burst(burst)`.
    pub fn new(
        venue: Venue,
        burst: NonZeroU32,
        replenish_one_per: Duration,
        max_wait: Duration,
    ) -> Self {
        let quota = Quota::with_period(replenish_one_per)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            venue,
            limiter: RateLimiter::direct(quota),
            max_wait,
        }
    }

    /// Spends `cost` cells, waiting up to `max_wait` for them.
    pub async fn acquire(&self, cost: u32) -> Result<(), ExchangeError> {
        let Some(cost) = NonZeroU32::new(cost) else {
            return Ok(());
        };
        loop {
            match self.limiter.check_n(cost) {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(not_until)) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    if wait > self.max_wait {
                        return Err(ExchangeError::RateLimited {
                            venue: self.venue,
                            retry_after: Some(wait),
                        });
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(_insufficient) => {
                    return Err(ExchangeError::Config {
                        venue: self.venue,
                        message: format!("request cost {cost} exceeds the limiter's burst"),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drained_limiter_reports_the_wait_instead_of_blocking() {
        let limiter = VenueLimiter::new(
            Venue::Kraken,
            NonZeroU32::new(2).expect("non-zero"),
            Duration::from_secs(3),
            Duration::from_millis(10),
        );
        limiter.acquire(1).await.expect("first");
        limiter.acquire(1).await.expect("second");
        let err = limiter.acquire(1).await.expect_err("drained");
        let wait = err.retry_after().expect("wait");
        assert!(
            wait > Duration::from_secs(2) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
    }

    #[tokio::test]
    async fn a_cost_above_the_burst_is_a_configuration_error() {
        let limiter = VenueLimiter::new(
            Venue::Binance,
            NonZeroU32::new(5).expect("non-zero"),
            Duration::from_millis(10),
            Duration::from_secs(1),
        );
        let err = limiter.acquire(6).await.expect_err("too big");
        assert!(matches!(err, ExchangeError::Config { .. }), "{err:?}");
    }
}
