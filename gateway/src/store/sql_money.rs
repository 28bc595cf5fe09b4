//! [`MoneyStore`] over sqlx `Any`.

use super::Db;
use super::Tx;
use async_trait::async_trait;
use rialto_core::id::{MerchantId, PaymentIntentId, PayoutId, RefundId};
use rialto_core::ledger::Account;
use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::money::{
    Effects, FundOutcome, Funding, MoneyStore, MoneyTable, Payout, PayoutStatus, Refund,
    RefundStatus, Reservation, ReserveOutcome,
};
use super::sql::{cas_intent, insert_event, insert_idempotency, SqlStore};
use super::sql_funding;
use super::sql_ledger::insert_postings;
use super::{CasOutcome, Conn, Page, StoreError};

const REFUND_COLUMNS: &str = "id, merchant_id, livemode, payment_intent_id, amount, asset, \
    chain_id, destination, reason, status, failure_code, tx_hash, created_by, metadata, \
    created_at, updated_at, conversion";
const PAYOUT_COLUMNS: &str = "id, merchant_id, livemode, amount, asset, chain_id, destination, \
    status, created_by, approved_by, approved_at, failure_code, tx_hash, created_at, updated_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(super) fn decimal(row: &AnyRow, col: &str) -> Result<Decimal, StoreError> {
    row.try_get::<String, _>(col)
        .db()?
        .parse()
        .map_err(|_| corrupt(col))
}

fn refund_from_row(row: &AnyRow) -> Result<Refund, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c).db();
    Ok(Refund {
        id: text("id")?.parse().map_err(|_| corrupt("refund id"))?,
        merchant_id: text("merchant_id")?
            .parse()
            .map_err(|_| corrupt("refund merchant"))?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        payment_intent_id: text("payment_intent_id")?
            .parse()
            .map_err(|_| corrupt("refund intent"))?,
        amount: decimal(row, "amount")?,
        asset: text("asset")?,
        chain_id: text("chain_id")?,
        destination: text("destination")?,
        reason: text("reason")?,
        status: RefundStatus::parse(&text("status")?).ok_or_else(|| corrupt("refund status"))?,
        failure_code: row.try_get("failure_code").db()?,
        tx_hash: row.try_get("tx_hash").db()?,
        created_by: text("created_by")?,
        metadata: serde_json::from_str(&text("metadata")?)
            .map_err(|_| corrupt("refund metadata"))?,
        created_at_ms: row.try_get("created_at").db()?,
        updated_at_ms: row.try_get("updated_at").db()?,
        conversion: row.try_get("conversion").db()?,
    })
}

fn payout_from_row(row: &AnyRow) -> Result<Payout, StoreError> {
    let text = |c: &str| row.try_get::<String, _>(c).db();
    Ok(Payout {
        id: text("id")?.parse().map_err(|_| corrupt("payout id"))?,
        merchant_id: text("merchant_id")?
            .parse()
            .map_err(|_| corrupt("payout merchant"))?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        amount: decimal(row, "amount")?,
        asset: text("asset")?,
        chain_id: text("chain_id")?,
        destination: text("destination")?,
        status: PayoutStatus::parse(&text("status")?).ok_or_else(|| corrupt("payout status"))?,
        created_by: text("created_by")?,
        approved_by: row.try_get("approved_by").db()?,
        approved_at_ms: row.try_get("approved_at").db()?,
        failure_code: row.try_get("failure_code").db()?,
        tx_hash: row.try_get("tx_hash").db()?,
        created_at_ms: row.try_get("created_at").db()?,
        updated_at_ms: row.try_get("updated_at").db()?,
    })
}

/// Locks the merchant's balance for this transaction, then reads `account` in `asset`.
pub(super) async fn lock_and_read(
    tx: &mut Tx,
    r: &Reservation,
    credit: &[crate::ledger::Posting],
    now_ms: i64,
) -> Result<Decimal, StoreError> {
    sqlx::query(
        "INSERT INTO merchant_settings (merchant_id, livemode, settings, balance_version, \
         updated_at) VALUES ($1, $2, '{}', 0, $3) ON CONFLICT (merchant_id, livemode) DO NOTHING",
    )
    .bind(r.merchant_id.to_string())
    .bind(i64::from(r.livemode))
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .db()?;
    sqlx::query(
        "UPDATE merchant_settings SET balance_version = balance_version + 1 WHERE merchant_id = \
         $1 AND livemode = $2",
    )
    .bind(r.merchant_id.to_string())
    .bind(i64::from(r.livemode))
    .execute(&mut **tx)
    .await
    .db()?;
    insert_postings(tx, credit).await?;
    let rows = sqlx::query(BALANCE_IN_MODE)
        .bind(r.account.to_string())
        .bind(r.asset.clone())
        .bind(i64::from(r.livemode))
        .fetch_all(&mut **tx)
        .await
        .db()?;
    sum_amounts(&rows)
}

/// An account's entries in one asset and mode. Account names carry the merchant, not the
/// mode, so the mode comes from the ledger transaction: test-mode funds must never be
/// counted towards a live-mode refund or payout.
const BALANCE_IN_MODE: &str = "SELECT e.amount FROM ledger_entries e JOIN ledger_transactions \
    t ON t.id = e.transaction_id WHERE e.account = $1 AND e.asset = $2 AND t.livemode = $3";

fn sum_amounts(rows: &[AnyRow]) -> Result<Decimal, StoreError> {
    rows.iter()
        .try_fold(Decimal::ZERO, |sum, row| Ok(sum + decimal(row, "amount")?))
}

/// The rest of a write: the intent's compare-and-set, postings, events, idempotency record.
/// `false` when the intent moved (the caller rolls back).
pub(super) async fn apply_effects(tx: &mut Tx, effects: &Effects<'_>) -> Result<bool, StoreError> {
    if let Some((expected, next)) = effects.intent {
        if !cas_intent(tx, expected, next).await? {
            return Ok(false);
        }
    }
    insert_postings(tx, effects.postings).await?;
    for event in effects.events {
        insert_event(tx, event).await?;
    }
    if let Some(record) = effects.idempotency {
        insert_idempotency(tx, record).await?;
    }
    Ok(true)
}

/// What a reservation records.
enum Reserved<'a> {
    Refund(&'a Refund),
    Payout(&'a Payout),
    /// Only the effects' postings (a write-off).
    Postings {
        at_ms: i64,
    },
}

async fn insert_refund(tx: &mut Tx, refund: &Refund) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    sqlx::query(&sql)
        .bind(refund.id.to_string())
        .bind(refund.merchant_id.to_string())
        .bind(i64::from(refund.livemode))
        .bind(refund.payment_intent_id.to_string())
        .bind(refund.amount.normalize().to_string())
        .bind(refund.asset.clone())
        .bind(refund.chain_id.clone())
        .bind(refund.destination.clone())
        .bind(refund.reason.clone())
        .bind(refund.status.as_str())
        .bind(refund.failure_code.clone())
        .bind(refund.tx_hash.clone())
        .bind(refund.created_by.clone())
        .bind(serde_json::to_string(&refund.metadata).unwrap_or_default())
        .bind(refund.created_at_ms)
        .bind(refund.updated_at_ms)
        .bind(refund.conversion.clone())
        .execute(&mut **tx)
        .await
        .db()?;
    Ok(())
}

async fn insert_payout(tx: &mut Tx, payout: &Payout) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO payouts ({PAYOUT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15)"
    );
    sqlx::query(&sql)
        .bind(payout.id.to_string())
        .bind(payout.merchant_id.to_string())
        .bind(i64::from(payout.livemode))
        .bind(payout.amount.normalize().to_string())
        .bind(payout.asset.clone())
        .bind(payout.chain_id.clone())
        .bind(payout.destination.clone())
        .bind(payout.status.as_str())
        .bind(payout.created_by.clone())
        .bind(payout.approved_by.clone())
        .bind(payout.approved_at_ms)
        .bind(payout.failure_code.clone())
        .bind(payout.tx_hash.clone())
        .bind(payout.created_at_ms)
        .bind(payout.updated_at_ms)
        .execute(&mut **tx)
        .await
        .db()?;
    Ok(())
}

impl SqlStore {
    async fn reserve(
        &self,
        reservation: &Reservation,
        effects: Effects<'_>,
        what: Reserved<'_>,
    ) -> Result<ReserveOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let now_ms = match what {
            Reserved::Refund(r) => r.created_at_ms,
            Reserved::Payout(p) => p.created_at_ms,
            Reserved::Postings { at_ms } => at_ms,
        };
        let available = lock_and_read(&mut tx, reservation, effects.credit, now_ms).await?;
        if available < reservation.amount {
            tx.rollback().await.db()?;
            return Ok(ReserveOutcome::Insufficient { available });
        }
        match what {
            Reserved::Refund(refund) => insert_refund(&mut tx, refund).await?,
            Reserved::Payout(payout) => insert_payout(&mut tx, payout).await?,
            Reserved::Postings { .. } => {}
        }
        if !apply_effects(&mut tx, &effects).await? {
            tx.rollback().await.db()?;
            return Ok(ReserveOutcome::Conflict);
        }
        tx.commit().await.db()?;
        Ok(ReserveOutcome::Reserved)
    }
}

#[async_trait]
impl MoneyStore for SqlStore {
    async fn merchant_settings(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Option<String>, StoreError> {
        let merchant = merchant.to_string();
        let key = format!("{merchant}/{livemode}");
        let read = |mut conn: Conn| async move {
            let row = sqlx::query(
                "SELECT settings FROM merchant_settings WHERE merchant_id = $1 AND livemode = $2",
            )
            .bind(merchant)
            .bind(i64::from(livemode))
            .fetch_optional(&mut *conn)
            .await
            .db()?;
            row.map(|r| r.try_get("settings")).transpose().db()
        };
        self.shared.settings.read(&self.pool, key, read).await
    }

    async fn set_merchant_settings(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        settings_json: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO merchant_settings (merchant_id, livemode, settings, balance_version, \
             updated_at) VALUES ($1, $2, $3, 0, $4) ON CONFLICT (merchant_id, livemode) DO \
             UPDATE SET settings = $3, updated_at = $4",
        )
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .bind(settings_json.to_owned())
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn merchants_with_settings(
        &self,
        livemode: bool,
    ) -> Result<Vec<(MerchantId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT merchant_id, settings FROM merchant_settings WHERE livemode = $1 ORDER BY \
             merchant_id",
        )
        .bind(i64::from(livemode))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("merchant_id").db()?;
                Ok((
                    id.parse().map_err(|_| corrupt("settings merchant"))?,
                    r.try_get("settings").db()?,
                ))
            })
            .collect()
    }

    async fn create_refund(
        &self,
        refund: &Refund,
        reservation: &Reservation,
        effects: Effects<'_>,
    ) -> Result<ReserveOutcome, StoreError> {
        self.reserve(reservation, effects, Reserved::Refund(refund))
            .await
    }

    async fn get_refund(&self, id: &RefundId) -> Result<Option<Refund>, StoreError> {
        let sql = format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db()?;
        row.as_ref().map(refund_from_row).transpose()
    }

    async fn list_refunds(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        intent: Option<&PaymentIntentId>,
        starting_after: Option<&RefundId>,
        limit: u32,
    ) -> Result<Page<Refund>, StoreError> {
        let sql = format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE merchant_id = $1 AND livemode = $2 AND \
             ($3 IS NULL OR payment_intent_id = $3) AND ($4 IS NULL OR id < $4) ORDER BY id DESC \
             LIMIT $5"
        );
        let rows = sqlx::query(&sql)
            .bind(merchant.to_string())
            .bind(i64::from(livemode))
            .bind(intent.map(|i| i.to_string()))
            .bind(starting_after.map(|i| i.to_string()))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await
            .db()?;
        let refunds = rows.iter().map(refund_from_row).collect::<Result<_, _>>()?;
        Ok(Page::from_rows(refunds, limit, false))
    }

    async fn refunds_in(
        &self,
        status: RefundStatus,
        limit: u32,
    ) -> Result<Vec<Refund>, StoreError> {
        let sql =
            format!("SELECT {REFUND_COLUMNS} FROM refunds WHERE status = $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .db()?;
        rows.iter().map(refund_from_row).collect()
    }

    async fn update_refund(
        &self,
        next: &Refund,
        expected: RefundStatus,
        effects: Effects<'_>,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let updated = sqlx::query(
            "UPDATE refunds SET status = $1, failure_code = $2, tx_hash = $3, updated_at = $4, \
             conversion = COALESCE($7, conversion) WHERE id = $5 AND status = $6",
        )
        .bind(next.status.as_str())
        .bind(next.failure_code.clone())
        .bind(next.tx_hash.clone())
        .bind(next.updated_at_ms)
        .bind(next.id.to_string())
        .bind(expected.as_str())
        .bind(next.conversion.clone())
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        if updated != 1 || !apply_effects(&mut tx, &effects).await? {
            tx.rollback().await.db()?;
            return Ok(CasOutcome::Conflict);
        }
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn create_payout(
        &self,
        payout: &Payout,
        reservation: &Reservation,
        effects: Effects<'_>,
    ) -> Result<ReserveOutcome, StoreError> {
        self.reserve(reservation, effects, Reserved::Payout(payout))
            .await
    }

    async fn reserve_and_post(
        &self,
        reservation: &Reservation,
        effects: Effects<'_>,
        now_ms: i64,
    ) -> Result<ReserveOutcome, StoreError> {
        self.reserve(reservation, effects, Reserved::Postings { at_ms: now_ms })
            .await
    }

    async fn get_payout(&self, id: &PayoutId) -> Result<Option<Payout>, StoreError> {
        let sql = format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db()?;
        row.as_ref().map(payout_from_row).transpose()
    }

    async fn list_payouts(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        starting_after: Option<&PayoutId>,
        limit: u32,
    ) -> Result<Page<Payout>, StoreError> {
        let sql = format!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE merchant_id = $1 AND livemode = $2 AND \
             ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(merchant.to_string())
            .bind(i64::from(livemode))
            .bind(starting_after.map(|i| i.to_string()))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await
            .db()?;
        let payouts = rows.iter().map(payout_from_row).collect::<Result<_, _>>()?;
        Ok(Page::from_rows(payouts, limit, false))
    }

    async fn payouts_in(
        &self,
        status: PayoutStatus,
        limit: u32,
    ) -> Result<Vec<Payout>, StoreError> {
        let sql =
            format!("SELECT {PAYOUT_COLUMNS} FROM payouts WHERE status = $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .db()?;
        rows.iter().map(payout_from_row).collect()
    }

    async fn last_payout(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        asset: &str,
    ) -> Result<Option<Payout>, StoreError> {
        let sql = format!(
            "SELECT {PAYOUT_COLUMNS} FROM payouts WHERE merchant_id = $1 AND livemode = $2 AND \
             asset = $3 AND status <> 'canceled' ORDER BY id DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(merchant.to_string())
            .bind(i64::from(livemode))
            .bind(asset.to_owned())
            .fetch_optional(&self.pool)
            .await
            .db()?;
        row.as_ref().map(payout_from_row).transpose()
    }

    async fn update_payout(
        &self,
        next: &Payout,
        expected: PayoutStatus,
        effects: Effects<'_>,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let updated = sqlx::query(
            "UPDATE payouts SET status = $1, approved_by = $2, approved_at = $3, failure_code = \
             $4, tx_hash = $5, updated_at = $6 WHERE id = $7 AND status = $8",
        )
        .bind(next.status.as_str())
        .bind(next.approved_by.clone())
        .bind(next.approved_at_ms)
        .bind(next.failure_code.clone())
        .bind(next.tx_hash.clone())
        .bind(next.updated_at_ms)
        .bind(next.id.to_string())
        .bind(expected.as_str())
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        if updated != 1 || !apply_effects(&mut tx, &effects).await? {
            tx.rollback().await.db()?;
            return Ok(CasOutcome::Conflict);
        }
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn claim_money_object(
        &self,
        table: MoneyTable,
        id: &str,
        status: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let table = match table {
            MoneyTable::Refunds => "refunds",
            MoneyTable::Payouts => "payouts",
        };
        let claimed = sqlx::query(&format!(
            "UPDATE {table} SET claimed_until = $1 WHERE id = $2 AND status = $3 AND \
             (claimed_until IS NULL OR claimed_until < $4)"
        ))
        .bind(until_ms)
        .bind(id.to_owned())
        .bind(status.to_owned())
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .db()?
        .rows_affected();
        Ok(claimed == 1)
    }

    async fn paid_into(
        &self,
        intent: &PaymentIntentId,
        account: &Account,
    ) -> Result<Decimal, StoreError> {
        let rows = sqlx::query(
            "SELECT e.amount FROM ledger_transactions t JOIN ledger_entries e ON \
             e.transaction_id = t.id WHERE t.kind = 'payment' AND t.reference = $1 AND \
             e.account = $2",
        )
        .bind(intent.to_string())
        .bind(account.to_string())
        .fetch_all(&self.pool)
        .await
        .db()?;
        sum_amounts(&rows)
    }

    async fn fund_refund(
        &self,
        next: &Refund,
        expected: RefundStatus,
        funding: Option<&Funding>,
        reservation: Option<&Reservation>,
        effects: Effects<'_>,
    ) -> Result<FundOutcome, StoreError> {
        sql_funding::fund_refund(&self.writer, next, expected, funding, reservation, effects).await
    }

    async fn record_funding(
        &self,
        funding: &Funding,
        effects: Effects<'_>,
    ) -> Result<bool, StoreError> {
        sql_funding::record_funding(&self.writer, funding, effects).await
    }

    async fn get_funding(
        &self,
        chain_id: &str,
        tx_hash: &str,
    ) -> Result<Option<Funding>, StoreError> {
        sql_funding::get_funding(&self.pool, chain_id, tx_hash).await
    }

    async fn fundings_on(&self, chain_id: &str) -> Result<Vec<Funding>, StoreError> {
        sql_funding::fundings_on(&self.pool, chain_id).await
    }

    async fn account_balance(
        &self,
        account: &Account,
        asset: &str,
        livemode: bool,
    ) -> Result<Decimal, StoreError> {
        let rows = sqlx::query(BALANCE_IN_MODE)
            .bind(account.to_string())
            .bind(asset.to_owned())
            .bind(i64::from(livemode))
            .fetch_all(&self.pool)
            .await
            .db()?;
        sum_amounts(&rows)
    }
}
