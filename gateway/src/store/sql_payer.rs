//! [`PayerDetailsStore`] over sqlx `Any`: one sealed row per intent, replaced by an upsert.

use async_trait::async_trait;
use rialto_core::id::{MerchantId, PaymentIntentId};
use sqlx::Row;

use super::payer::{PayerDetailsRecord, PayerDetailsStore};
use super::sql::SqlStore;
use super::{Db, StoreError};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("payer details {what}"))
}

#[async_trait]
impl PayerDetailsStore for SqlStore {
    async fn put_payer_details(&self, record: &PayerDetailsRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO payer_details (payment_intent_id, merchant_id, livemode, sealed, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (payment_intent_id) DO UPDATE SET sealed = excluded.sealed, \
             updated_at = excluded.updated_at",
        )
        .bind(record.payment_intent_id.to_string())
        .bind(record.merchant_id.to_string())
        .bind(i64::from(record.livemode))
        .bind(&record.sealed)
        .bind(record.created_at_ms)
        .bind(record.updated_at_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn get_payer_details(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Option<PayerDetailsRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT payment_intent_id, merchant_id, livemode, sealed, created_at, updated_at \
             FROM payer_details WHERE payment_intent_id = $1",
        )
        .bind(intent.to_string())
        .fetch_optional(&self.pool)
        .await
        .db()?;
        let Some(row) = row else { return Ok(None) };
        let text = |name: &str| row.try_get::<String, _>(name).db();
        Ok(Some(PayerDetailsRecord {
            payment_intent_id: text("payment_intent_id")?
                .parse::<PaymentIntentId>()
                .map_err(|_| corrupt("intent id"))?,
            merchant_id: text("merchant_id")?
                .parse::<MerchantId>()
                .map_err(|_| corrupt("merchant id"))?,
            livemode: row.try_get::<i64, _>("livemode").db()? != 0,
            sealed: text("sealed")?,
            created_at_ms: row.try_get("created_at").db()?,
            updated_at_ms: row.try_get("updated_at").db()?,
        }))
    }
}
