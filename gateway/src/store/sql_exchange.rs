//! [`ExchangeStore`] over sqlx `Any`.

use super::exchange::ExchangeAccountStatus;
use super::Db;
use async_trait::async_trait;
use rialto_core::id::PaymentIntentId;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::exchange::{ExchangeAccount, ExchangeStore};
use super::sql::SqlStore;
use super::StoreError;

const COLUMNS: &str = "id, payment_intent_id, merchant_id, livemode, venue, sealed_credentials, \
    keep_credentials, order_leg, withdrawal_leg, status, venue_withdrawal_id, tx_hash, failure, \
    created_at, updated_at, erased_at, deposit_address";
const SELECT: &str = "id, payment_intent_id, merchant_id, livemode, venue, sealed_credentials, \
    keep_credentials, order_leg, withdrawal_leg, status, venue_withdrawal_id, tx_hash, failure, \
    created_at, updated_at, erased_at, conversion, deposit_address";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("exchange account {what}"))
}

fn from_row(row: &AnyRow) -> Result<ExchangeAccount, StoreError> {
    let intent: String = row.try_get("payment_intent_id").db()?;
    let merchant: String = row.try_get("merchant_id").db()?;
    Ok(ExchangeAccount {
        id: row.try_get("id").db()?,
        payment_intent_id: intent.parse().map_err(|_| corrupt("intent"))?,
        merchant_id: merchant.parse().map_err(|_| corrupt("merchant"))?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        venue: row.try_get("venue").db()?,
        sealed_credentials: row.try_get("sealed_credentials").db()?,
        keep_credentials: row.try_get::<i64, _>("keep_credentials").db()? != 0,
        order_leg: row.try_get("order_leg").db()?,
        withdrawal_leg: row.try_get("withdrawal_leg").db()?,
        status: ExchangeAccountStatus::parse(&row.try_get::<String, _>("status").db()?)
            .ok_or_else(|| StoreError::Corrupt("exchange account status".into()))?,
        venue_withdrawal_id: row.try_get("venue_withdrawal_id").db()?,
        tx_hash: row.try_get("tx_hash").db()?,
        failure: row.try_get("failure").db()?,
        created_at_ms: row.try_get("created_at").db()?,
        updated_at_ms: row.try_get("updated_at").db()?,
        erased_at_ms: row.try_get("erased_at").db()?,
        conversion: row.try_get("conversion").db()?,
        deposit_address: row.try_get("deposit_address").db()?,
    })
}

/// Erases the credentials of exchange accounts whose payment ended. It starts from the
/// accounts not erased yet (`exchange_accounts_to_erase`, migration 0047), not from every
/// finished payment intent: it holds the writer, and the finished intents only grow
/// (`store::plans` checks the plan).
pub(super) const ERASE_FINISHED_CREDENTIALS: &str =
    "UPDATE exchange_accounts SET sealed_credentials = '', erased_at = $1 WHERE \
     keep_credentials = 0 AND erased_at IS NULL AND status NOT IN ('pending', 'submitted') AND \
     EXISTS (SELECT 1 FROM payment_intents p WHERE p.id = exchange_accounts.payment_intent_id \
     AND p.status IN ('succeeded', 'blocked', 'expired', 'canceled', 'failed'))";

#[async_trait]
impl ExchangeStore for SqlStore {
    async fn create_exchange_account(&self, a: &ExchangeAccount) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO exchange_accounts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(a.id.clone())
        .bind(a.payment_intent_id.to_string())
        .bind(a.merchant_id.to_string())
        .bind(i64::from(a.livemode))
        .bind(a.venue.clone())
        .bind(a.sealed_credentials.clone())
        .bind(i64::from(a.keep_credentials))
        .bind(a.order_leg.clone())
        .bind(a.withdrawal_leg.clone())
        .bind(a.status.as_str())
        .bind(a.venue_withdrawal_id.clone())
        .bind(a.tx_hash.clone())
        .bind(a.failure.clone())
        .bind(a.created_at_ms)
        .bind(a.updated_at_ms)
        .bind(a.erased_at_ms)
        .bind(a.deposit_address.clone())
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn get_exchange_account(&self, id: &str) -> Result<Option<ExchangeAccount>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SELECT} FROM exchange_accounts WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(&self.writer)
        .await
        .db()?;
        row.as_ref().map(from_row).transpose()
    }

    async fn exchange_accounts_of(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Vec<ExchangeAccount>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SELECT} FROM exchange_accounts WHERE payment_intent_id = $1 ORDER BY \
             created_at, id"
        ))
        .bind(intent.to_string())
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter().map(from_row).collect()
    }

    async fn submitted_exchange_withdrawals(&self) -> Result<Vec<ExchangeAccount>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SELECT} FROM exchange_accounts WHERE status = 'submitted' ORDER BY \
             created_at LIMIT 200"
        ))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(from_row).collect()
    }

    async fn update_exchange_account(&self, a: &ExchangeAccount) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE exchange_accounts SET status = $1, venue_withdrawal_id = $2, tx_hash = $3, \
             failure = $4, updated_at = $5, conversion = COALESCE($7, conversion), \
             deposit_address = COALESCE($8, deposit_address) WHERE id = $6",
        )
        .bind(a.status.as_str())
        .bind(a.venue_withdrawal_id.clone())
        .bind(a.tx_hash.clone())
        .bind(a.failure.clone())
        .bind(a.updated_at_ms)
        .bind(a.id.clone())
        .bind(a.conversion.clone())
        .bind(a.deposit_address.clone())
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn claim_exchange_account(
        &self,
        id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        // One statement, compare-and-set on the lease: of two callers, one changes the row.
        let taken = sqlx::query(
            "UPDATE exchange_accounts SET claimed_until = $1 WHERE id = $2 AND status = \
             'pending' AND claimed_until <= $3",
        )
        .bind(until_ms)
        .bind(id.to_owned())
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .db()?
        .rows_affected();
        Ok(taken == 1)
    }

    async fn release_exchange_account(&self, id: &str, until_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE exchange_accounts SET claimed_until = 0 WHERE id = $1 AND claimed_until = $2",
        )
        .bind(id.to_owned())
        .bind(until_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn erase_finished_exchange_credentials(&self, now_ms: i64) -> Result<u64, StoreError> {
        let erased = sqlx::query(ERASE_FINISHED_CREDENTIALS)
            .bind(now_ms)
            .execute(&self.writer)
            .await
            .db()?
            .rows_affected();
        Ok(erased)
    }
}
