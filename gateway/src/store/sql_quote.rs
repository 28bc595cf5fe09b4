//! [`QuoteStore`] over sqlx `Any`.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::quote::{AcceptOutcome, QuoteRecord, QuoteStore};
use super::sql::SqlStore;
use super::StoreError;

const COLUMNS: &str =
    "id, payment_intent_id, merchant_id, livemode, status, body, expires_at, created_at, accepted_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("quote {what}"))
}

fn from_row(row: &AnyRow) -> Result<QuoteRecord, StoreError> {
    let intent: String = row.try_get("payment_intent_id")?;
    let merchant: String = row.try_get("merchant_id")?;
    Ok(QuoteRecord {
        id: row.try_get("id")?,
        payment_intent_id: intent.parse().map_err(|_| corrupt("intent"))?,
        merchant_id: merchant.parse().map_err(|_| corrupt("merchant"))?,
        livemode: row.try_get::<i64, _>("livemode")? != 0,
        status: row.try_get("status")?,
        body: row.try_get("body")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        accepted_at: row.try_get("accepted_at")?,
    })
}

#[async_trait]
impl QuoteStore for SqlStore {
    async fn create_quotes(&self, quotes: &[QuoteRecord]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for q in quotes {
            sqlx::query(&format!(
                "INSERT INTO quotes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ))
            .bind(q.id.clone())
            .bind(q.payment_intent_id.to_string())
            .bind(q.merchant_id.to_string())
            .bind(i64::from(q.livemode))
            .bind(q.status.clone())
            .bind(q.body.clone())
            .bind(q.expires_at)
            .bind(q.created_at)
            .bind(q.accepted_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_quote(&self, id: &str) -> Result<Option<QuoteRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM quotes WHERE id = $1"))
            .bind(id.to_owned())
            .fetch_optional(&self.writer)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn accept_quote(&self, id: &str, now: i64) -> Result<AcceptOutcome, StoreError> {
        let changed = sqlx::query(
            "UPDATE quotes SET status = 'accepted', accepted_at = $1 WHERE id = $2 AND \
             status = 'open' AND expires_at > $1 AND NOT EXISTS (SELECT 1 FROM quotes other \
             WHERE other.payment_intent_id = quotes.payment_intent_id AND other.status = \
             'accepted')",
        )
        .bind(now)
        .bind(id.to_owned())
        .execute(&self.writer)
        .await;
        match changed {
            Ok(done) if done.rows_affected() == 1 => return Ok(AcceptOutcome::Accepted),
            Ok(_) => {}
            // The one-accepted index caught a concurrent accept of a sibling quote.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(AcceptOutcome::AlreadyAccepted)
            }
            Err(e) => return Err(e.into()),
        }
        // Zero rows: find out why, never overwrite.
        let Some(quote) = self.get_quote(id).await? else {
            return Ok(AcceptOutcome::NotFound);
        };
        if quote.status == "accepted" {
            return Ok(AcceptOutcome::AlreadyAccepted);
        }
        if quote.status == "open" && quote.expires_at > now {
            return Ok(AcceptOutcome::AlreadyAccepted);
        }
        sqlx::query("UPDATE quotes SET status = 'expired' WHERE id = $1 AND status = 'open'")
            .bind(id.to_owned())
            .execute(&self.writer)
            .await?;
        Ok(AcceptOutcome::Expired)
    }
}
