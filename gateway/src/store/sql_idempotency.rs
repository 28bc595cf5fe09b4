//! [`IdempotencyStore`] over sqlx `Any`: reservations are rows of `idempotency_keys` whose
//! `response_status` is 0 and whose body is empty until the request completes.

use async_trait::async_trait;

use super::idempotency::{IdempotencyStore, KeyClaim};
use super::sql::{map_key_conflict, SqlStore};
use super::{Db, StoreError};

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn reserve_idempotency(
        &self,
        claim: KeyClaim<'_>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, \
             response_status, response_body, created_at) VALUES ($1, $2, $3, 0, '', $4)",
        )
        .bind(claim.scope)
        .bind(claim.key)
        .bind(claim.request_hash)
        .bind(now_ms)
        .execute(&self.writer)
        .await;
        map_key_conflict(insert).map(|_| ())
    }

    async fn take_over_idempotency(
        &self,
        claim: KeyClaim<'_>,
        stale_before_ms: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE idempotency_keys SET request_hash = $1, created_at = $2 WHERE scope = $3 \
             AND idempotency_key = $4 AND response_status = 0 AND created_at < $5",
        )
        .bind(claim.request_hash)
        .bind(now_ms)
        .bind(claim.scope)
        .bind(claim.key)
        .bind(stale_before_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_idempotency(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE idempotency_keys SET response_status = $1, response_body = $2 WHERE scope = \
             $3 AND idempotency_key = $4 AND response_status = 0",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(scope)
        .bind(key)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn release_idempotency(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2 AND \
             response_status = 0",
        )
        .bind(scope)
        .bind(key)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }
}
