//! Idempotency keys of writes whose change is not committed together with its response (see
//! `crate::idempotency` for those that are). Such a write *reserves* its key first, a record
//! with no response yet (`response_status` 0), runs, then completes the record with the
//! response to replay, or releases it when the request failed. The reservation is what makes a
//! second request with the same key wait (409) on every instance, not only on the one running
//! it; a reservation whose instance died is taken over once it is older than the caller's
//! staleness bound.

use async_trait::async_trait;

use super::StoreError;

/// A request's claim on an idempotency key: its scope, the key and the request fingerprint.
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Records `claim` as in flight since `now_ms`. `IdempotencyKeyTaken` when any record,
    /// in flight or complete, already holds the key.
    async fn reserve_idempotency(&self, claim: KeyClaim<'_>, now_ms: i64)
        -> Result<(), StoreError>;

    /// Takes over an in-flight record created before `stale_before_ms` (its instance is
    /// presumed dead), for `claim`. `false` when there is no such record any more.
    async fn take_over_idempotency(
        &self,
        claim: KeyClaim<'_>,
        stale_before_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Stores the response of the in-flight record of (`scope`, `key`).
    async fn complete_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError>;

    /// Forgets the in-flight record of (`scope`, `key`): the request failed and may be retried.
    /// A completed record is never removed here.
    async fn release_idempotency(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}
