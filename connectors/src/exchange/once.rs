//! Sending a money-moving request at most once in effect.
//!
//! After an `Unknown` outcome the venue is asked, by the id derived from the leg, whether the
//! order or withdrawal exists. Only a definite "no such order" allows another send; a request
//! that was refused before it reached the venue (`RateLimited`, `Unavailable`) may be sent again.

use std::future::Future;
use std::time::Duration;

use super::{Exchange, ExchangeError, Order, OrderRequest, Withdrawal, WithdrawalRequest};

/// How hard the `*_once` helpers try.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Sends of the request, including the first.
    pub max_sends: u32,
    /// Lookups after each unknown outcome (transient lookup failures are retried).
    pub max_lookups: u32,
    /// Wait before the first lookup, so the venue has registered what it received.
    pub settle_delay: Duration,
    /// Wait between attempts when the venue gave no `retry_after`; doubled each time.
    pub backoff: Duration,
    /// Upper bound on any single wait, including the venue's `retry_after`.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_sends: 3,
            max_lookups: 5,
            settle_delay: Duration::from_secs(1),
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    fn wait_for(&self, error: &ExchangeError, attempt: u32) -> Duration {
        let doubled = self.backoff.saturating_mul(2u32.saturating_pow(attempt));
        error.retry_after().unwrap_or(doubled).min(self.max_wait)
    }
}

/// Places `order`, never twice: an unknown outcome is resolved with
/// [`Exchange::find_order`] before any other send.
pub async fn place_order_once<E: Exchange + ?Sized>(
    exchange: &E,
    order: &OrderRequest,
    policy: &RetryPolicy,
) -> Result<Order, ExchangeError> {
    send_once(
        policy,
        || exchange.place_order(order),
        || exchange.find_order(order),
    )
    .await
}

/// Withdraws, never twice: an unknown outcome is resolved with
/// [`Exchange::find_withdrawal`] before any other send.
pub async fn withdraw_once<E: Exchange + ?Sized>(
    exchange: &E,
    request: &WithdrawalRequest,
    policy: &RetryPolicy,
) -> Result<Withdrawal, ExchangeError> {
    send_once(
        policy,
        || exchange.withdraw(request),
        || exchange.find_withdrawal(request),
    )
    .await
}

async fn send_once<T, S, SF, L, LF>(
    policy: &RetryPolicy,
    mut send: S,
    mut lookup: L,
) -> Result<T, ExchangeError>
where
    S: FnMut() -> SF,
    SF: Future<Output = Result<T, ExchangeError>>,
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, ExchangeError>>,
{
    let mut sends = 0;
    loop {
        sends += 1;
        let error = match send().await {
            Ok(done) => return Ok(done),
            Err(error) => error,
        };
        if error.is_unknown_outcome() {
            tokio::time::sleep(policy.settle_delay).await;
            match resolve(policy, &mut lookup).await? {
                Some(found) => return Ok(found),
                // The venue definitely has no such request: sending again cannot duplicate it.
                None if sends < policy.max_sends => continue,
                None => return Err(error),
            }
        }
        if !error.is_retryable() || sends >= policy.max_sends {
            return Err(error);
        }
        tokio::time::sleep(policy.wait_for(&error, sends - 1)).await;
    }
}

/// Looks the request up; transient lookup failures are retried, and if the lookups run out the
/// outcome stays unknown (returned as the lookup's error, which callers must not resend on).
async fn resolve<T, L, LF>(policy: &RetryPolicy, lookup: &mut L) -> Result<Option<T>, ExchangeError>
where
    L: FnMut() -> LF,
    LF: Future<Output = Result<Option<T>, ExchangeError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match lookup().await {
            Ok(found) => return Ok(found),
            Err(error) if error.is_retryable() && attempt < policy.max_lookups => {
                tokio::time::sleep(policy.wait_for(&error, attempt - 1)).await;
            }
            Err(error) => {
                return Err(ExchangeError::Unknown {
                    venue: error.venue(),
                    operation: "lookup after an unknown outcome",
                    message: error.to_string(),
                })
            }
        }
    }
}
