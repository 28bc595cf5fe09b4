//! [`X402Store`] over sqlx `Any`: the primary key (network, asset, payer, nonce) is the replay
//! guard, so two instances settling the same header at once cannot both claim it.

use async_trait::async_trait;
use sqlx::Row;

use super::sql::SqlStore;
use super::x402::{X402Payment, X402Store};
use super::{is_unique_violation, Db, StoreError};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("x402 payment {what}"))
}

#[async_trait]
impl X402Store for SqlStore {
    async fn claim_x402_payment(&self, payment: &X402Payment) -> Result<bool, StoreError> {
        let insert = sqlx::query(
            "INSERT INTO x402_payments (network, asset, payer, nonce, merchant_id, livemode, \
             payment_intent_id, created_at, request_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9)",
        )
        .bind(&payment.network)
        .bind(&payment.asset)
        .bind(&payment.payer)
        .bind(&payment.nonce)
        .bind(payment.merchant_id.to_string())
        .bind(i64::from(payment.livemode))
        .bind(payment.payment_intent_id.to_string())
        .bind(payment.created_at_ms)
        .bind(payment.request_sha256.clone())
        .execute(&self.writer)
        .await
        .db();
        match insert {
            Ok(_) => Ok(true),
            Err(err) if is_unique_violation(&err) => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn get_x402_payment(
        &self,
        network: &str,
        asset: &str,
        payer: &str,
        nonce: &str,
    ) -> Result<Option<X402Payment>, StoreError> {
        let row = sqlx::query(
            "SELECT network, asset, payer, nonce, merchant_id, livemode, payment_intent_id, \
             created_at, request_sha256 FROM x402_payments WHERE network = $1 AND asset = $2 AND payer = $3 \
             AND nonce = $4",
        )
        .bind(network)
        .bind(asset)
        .bind(payer)
        .bind(nonce)
        .fetch_optional(&self.pool)
        .await
        .db()?;
        let Some(row) = row else { return Ok(None) };
        let text = |name: &str| row.try_get::<String, _>(name).db();
        Ok(Some(X402Payment {
            network: text("network")?,
            asset: text("asset")?,
            payer: text("payer")?,
            nonce: text("nonce")?,
            merchant_id: text("merchant_id")?
                .parse()
                .map_err(|_| corrupt("merchant_id"))?,
            livemode: row.try_get::<i64, _>("livemode").db()? != 0,
            payment_intent_id: text("payment_intent_id")?
                .parse()
                .map_err(|_| corrupt("payment_intent_id"))?,
            created_at_ms: row.try_get::<i64, _>("created_at").db()?,
            request_sha256: row.try_get::<Option<String>, _>("request_sha256").db()?,
        }))
    }
}
