//! [`RelayQueueStore`] over sqlx `Any` (migration 0032): the intent key and the unique
//! authorization index are the at-most-once guards; every status move is a compare-and-set on
//! the row's status, so several gateway instances can drain one queue.

use super::Connections;
use super::Tx;
use async_trait::async_trait;
use rialto_core::id::PaymentIntentId;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::batcher::Batcher;
use super::relay_queue::{ItemDecision, RelayItem, RelayItemStatus, RelayQueueStore};
use super::savepoints;
use super::sql::{Backend, SqlStore};
use super::{is_unique_violation, Db, StoreError};

pub(super) const COLUMNS: &str =
    "payment_intent_id, chain_id, livemode, token, payer, nonce, amount_units, \
    calldata, status, batch_id, batch_index, tx_hash, reason, created_at, updated_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("relay queue {what}"))
}

pub(super) fn item_from_row(row: &AnyRow) -> Result<RelayItem, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name).db();
    let maybe = |name: &str| row.try_get::<Option<String>, _>(name).db();
    Ok(RelayItem {
        payment_intent_id: text("payment_intent_id")?
            .parse()
            .map_err(|_| corrupt("payment_intent_id"))?,
        chain_id: text("chain_id")?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        token: text("token")?,
        payer: text("payer")?,
        nonce: text("nonce")?,
        amount_units: text("amount_units")?,
        calldata: text("calldata")?,
        status: RelayItemStatus::parse(&text("status")?).ok_or_else(|| corrupt("status"))?,
        batch_id: maybe("batch_id")?,
        batch_index: row.try_get::<Option<i64>, _>("batch_index").db()?,
        tx_hash: maybe("tx_hash")?,
        reason: maybe("reason")?,
        created_at_ms: row.try_get::<i64, _>("created_at").db()?,
        updated_at_ms: row.try_get::<i64, _>("updated_at").db()?,
    })
}

/// What one enqueue answers inside its batch: the row as stored, or the database's refusal (a
/// unique violation: the same authorization already queued for another intent).
pub(super) type Enqueued = Result<RelayItem, StoreError>;

/// Enqueues arriving together are written in one transaction: with a few multi-row
/// statements when they can be (`enqueue_batch`), else one savepoint each (`savepoints`). A
/// thousand wallets submitting at once cost a few commits, not a thousand.
/// One committer on either backend: on PostgreSQL two batches taking rows in arrival order
/// could wait on each other.
pub(super) fn spawn_enqueuer(
    writer: Connections,
    backend: Backend,
) -> Batcher<RelayItem, Enqueued> {
    Batcher::spawn(1, savepoints::MAX_BATCH, move |items: Vec<RelayItem>| {
        let writer = writer.clone();
        async move {
            if items.len() > 1 {
                if let Some(answers) = super::enqueue_batch::try_commit(&writer, &items).await {
                    return answers;
                }
            }
            savepoints::commit_each(
                &writer,
                backend,
                &items,
                |_| true,
                |tx, _, item| Box::pin(enqueue_in(tx, item)),
            )
            .await
        }
    })
}

/// A new row, or a row whose authorization ended without paying (skipped, failed) taken over
/// by this one; a live row is kept as it is, and not locked (a conditional `DO UPDATE` would
/// lock it until the batch commits, against the batch worker moving it). Answers the row as
/// it now stands.
async fn enqueue_in(tx: &mut Tx, item: &RelayItem) -> Enqueued {
    let queued = RelayItemStatus::Queued.as_str();
    sqlx::query(&format!(
        "INSERT INTO relay_queue ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, \
         NULL, NULL, NULL, $10, $10) ON CONFLICT (payment_intent_id) DO NOTHING"
    ))
    .bind(item.payment_intent_id.to_string())
    .bind(&item.chain_id)
    .bind(i64::from(item.livemode))
    .bind(&item.token)
    .bind(&item.payer)
    .bind(&item.nonce)
    .bind(&item.amount_units)
    .bind(&item.calldata)
    .bind(queued)
    .bind(item.created_at_ms)
    .execute(&mut **tx)
    .await
    .db()?;
    take_over(tx, item).await?;
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM relay_queue WHERE payment_intent_id = $1"
    ))
    .bind(item.payment_intent_id.to_string())
    .fetch_one(&mut **tx)
    .await
    .db()?;
    item_from_row(&row)
}

/// `item` takes over its intent's row if that row's authorization ended without paying
/// (skipped, failed); a live row is left as it is.
pub(super) async fn take_over(tx: &mut Tx, item: &RelayItem) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE relay_queue SET token = $2, payer = $3, nonce = $4, amount_units = $5, \
         calldata = $6, status = $7, batch_id = NULL, batch_index = NULL, tx_hash = NULL, reason \
         = NULL, created_at = $8, updated_at = $8 WHERE payment_intent_id = $1 AND status IN \
         ($9, $10)",
    )
    .bind(item.payment_intent_id.to_string())
    .bind(&item.token)
    .bind(&item.payer)
    .bind(&item.nonce)
    .bind(&item.amount_units)
    .bind(&item.calldata)
    .bind(RelayItemStatus::Queued.as_str())
    .bind(item.created_at_ms)
    .bind(RelayItemStatus::Skipped.as_str())
    .bind(RelayItemStatus::Failed.as_str())
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(())
}

#[async_trait]
impl RelayQueueStore for SqlStore {
    async fn enqueue_relay(&self, item: &RelayItem) -> Result<Option<RelayItem>, StoreError> {
        match self.enqueues.submit(item.clone()).await {
            Some(Err(err)) if is_unique_violation(&err) => Ok(None),
            Some(answer) => answer.map(Some),
            None => Err(sqlx::Error::PoolClosed).db(),
        }
    }

    async fn get_relay_item(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Option<RelayItem>, StoreError> {
        // Through the readers: a thousand waiting requests re-read their rows as their items
        // are decided, and must not queue behind the writes on SQLite's one writer connection.
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM relay_queue WHERE payment_intent_id = $1"
        ))
        .bind(intent.to_string())
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(item_from_row).transpose()
    }

    async fn queued_relays(
        &self,
        chain_id: &str,
        limit: u32,
    ) -> Result<Vec<RelayItem>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM relay_queue WHERE chain_id = $1 AND status = $2 ORDER BY \
             created_at, payment_intent_id LIMIT $3"
        ))
        .bind(chain_id)
        .bind(RelayItemStatus::Queued.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter().map(item_from_row).collect()
    }

    async fn assign_relay_batch(
        &self,
        batch_id: &str,
        intents: &[PaymentIntentId],
        now_ms: i64,
    ) -> Result<Vec<RelayItem>, StoreError> {
        // Each row bound only if still queued, at its place in `intents`: one statement per
        // chunk (a batch is a few hundred at most).
        let mut tx = self.writer.begin().await.db()?;
        let per_statement = super::rows::rows_per_statement(6);
        for (chunk_at, chunk) in intents.chunks(per_statement).enumerate() {
            let sql = format!(
                "UPDATE relay_queue SET status = v.column2, batch_id = v.column3, batch_index = \
                 v.column4, updated_at = v.column5 FROM (VALUES {}) AS v WHERE \
                 relay_queue.payment_intent_id = v.column1 AND relay_queue.status = v.column6",
                super::rows::tuples(chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql).persistent(false);
            for (at, intent) in chunk.iter().enumerate() {
                let index = chunk_at * per_statement + at;
                query = query
                    .bind(intent.to_string())
                    .bind(RelayItemStatus::Batched.as_str())
                    .bind(batch_id)
                    .bind(i64::try_from(index).unwrap_or(i64::MAX))
                    .bind(now_ms)
                    .bind(RelayItemStatus::Queued.as_str());
            }
            query.execute(&mut *tx).await.db()?;
        }
        tx.commit().await.db()?;
        self.relay_batch(batch_id).await
    }

    async fn open_relay_batches(&self, chain_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT batch_id FROM relay_queue WHERE chain_id = $1 AND status = $2 AND \
             batch_id IS NOT NULL",
        )
        .bind(chain_id)
        .bind(RelayItemStatus::Batched.as_str())
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("batch_id").db())
            .collect()
    }

    async fn relay_batch(&self, batch_id: &str) -> Result<Vec<RelayItem>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM relay_queue WHERE batch_id = $1 ORDER BY batch_index"
        ))
        .bind(batch_id)
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter().map(item_from_row).collect()
    }

    async fn set_relay_batch_tx(
        &self,
        batch_id: &str,
        tx_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE relay_queue SET tx_hash = $1, updated_at = $2 WHERE batch_id = $3 AND \
             status = $4 AND tx_hash IS NULL",
        )
        .bind(tx_hash)
        .bind(now_ms)
        .bind(batch_id)
        .bind(RelayItemStatus::Batched.as_str())
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn finish_relay_item(
        &self,
        intent: &PaymentIntentId,
        status: RelayItemStatus,
        tx_hash: &str,
        reason: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.writer.acquire().await.db()?;
        let set = (status, reason.map(str::to_owned));
        let from = RelayItemStatus::Batched;
        super::relay_decide_batch::set_status(&mut conn, tx_hash, *intent, set, from, now_ms).await
    }

    async fn decide_relay_items(
        &self,
        tx_hash: &str,
        decisions: &[ItemDecision],
        now_ms: i64,
    ) -> Result<Vec<Option<RelayItemStatus>>, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let decided =
            super::relay_decide_batch::decide_items(&mut tx, tx_hash, decisions, now_ms).await?;
        tx.commit().await.db()?;
        Ok(decided)
    }
}
