//! [`IssuerRedemptionStore`] over sqlx `Any` (migration 0045): the row is kept as JSON beside
//! the columns it is found by; every update is a compare-and-set on its status with its
//! postings in the same transaction.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::issuer_redemption::{IssuerRedemption, IssuerRedemptionStore, RedemptionStatus};
use super::sql::SqlStore;
use super::{Db, StoreError};
use crate::ledger::Posting;

fn row_to(row: &AnyRow) -> Result<IssuerRedemption, StoreError> {
    let body: String = row.try_get("body").db()?;
    serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(format!("issuer redemption body: {e}")))
}

fn body(row: &IssuerRedemption) -> Result<String, StoreError> {
    serde_json::to_string(row).map_err(|e| StoreError::Corrupt(format!("issuer redemption: {e}")))
}

#[async_trait]
impl IssuerRedemptionStore for SqlStore {
    async fn create_issuer_redemption(&self, r: &IssuerRedemption) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO issuer_redemptions (id, livemode, chain_id, status, body, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.id.clone())
        .bind(i64::from(r.livemode))
        .bind(r.chain.clone())
        .bind(r.status.as_str())
        .bind(body(r)?)
        .bind(r.created_at_ms)
        .bind(r.updated_at_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn get_issuer_redemption(
        &self,
        id: &str,
    ) -> Result<Option<IssuerRedemption>, StoreError> {
        let row = sqlx::query("SELECT body FROM issuer_redemptions WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .db()?;
        row.as_ref().map(row_to).transpose()
    }

    async fn list_issuer_redemptions(
        &self,
        livemode: bool,
        limit: u32,
    ) -> Result<Vec<IssuerRedemption>, StoreError> {
        let rows = sqlx::query(
            "SELECT body FROM issuer_redemptions WHERE livemode = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(i64::from(livemode))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(row_to).collect()
    }

    async fn issuer_redemptions_on(
        &self,
        chain: &str,
    ) -> Result<Vec<IssuerRedemption>, StoreError> {
        let rows =
            sqlx::query("SELECT body FROM issuer_redemptions WHERE chain_id = $1 ORDER BY id")
                .bind(chain.to_owned())
                .fetch_all(&self.pool)
                .await
                .db()?;
        rows.iter().map(row_to).collect()
    }

    async fn update_issuer_redemption(
        &self,
        r: &IssuerRedemption,
        expected: RedemptionStatus,
        postings: &[Posting],
    ) -> Result<bool, StoreError> {
        for posting in postings {
            posting
                .check()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        let mut tx = self.writer.begin().await.db()?;
        let moved = sqlx::query(
            "UPDATE issuer_redemptions SET status = $1, body = $2, updated_at = $3 \
             WHERE id = $4 AND status = $5",
        )
        .bind(r.status.as_str())
        .bind(body(r)?)
        .bind(r.updated_at_ms)
        .bind(r.id.clone())
        .bind(expected.as_str())
        .execute(&mut *tx)
        .await
        .db()?;
        if moved.rows_affected() != 1 {
            tx.rollback().await.db()?;
            return Ok(false);
        }
        super::sql_ledger::insert_postings(&mut tx, postings).await?;
        tx.commit().await.db()?;
        Ok(true)
    }
}
