//! The enqueue committer's fast path: a batch of relay-queue enqueues written with three
//! statements (which intents already have a row, one multi-row insert of the others, one read
//! of every row) instead of five statements each. An intent whose row already exists is
//! handled as in the savepoint path: its item takes the row over only if the row's
//! authorization ended without paying.
//!
//! An insert the database refuses (the same authorization already queued for another intent,
//! a unique violation) or any other error gives the batch up: it is rolled back unwritten and
//! the caller writes it through the savepoint path, which refuses that item alone. So every
//! answer is the one the savepoint path would give.

use std::collections::{HashMap, HashSet};

use super::Connections;
use super::Tx;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Row;

use super::relay_queue::{RelayItem, RelayItemStatus};
use super::rows::{insert_rows, list, Cell};
use super::sql_relay_queue::{item_from_row, take_over, Enqueued, COLUMNS};
use super::{Db, StoreError};

/// One answer per item in order; `None` when the batch was given up (nothing of it written).
pub(super) async fn try_commit(writer: &Connections, items: &[RelayItem]) -> Option<Vec<Enqueued>> {
    let mut tx = writer.begin().await.ok()?;
    match write(&mut tx, items).await {
        Ok(answers) => {
            tx.commit().await.ok()?;
            Some(answers)
        }
        Err(err) => {
            tracing::debug!(error = %err, "enqueue batch given up; writing it item by item");
            let _ = tx.rollback().await;
            None
        }
    }
}

async fn write(tx: &mut Tx, items: &[RelayItem]) -> Result<Vec<Enqueued>, StoreError> {
    let ids: Vec<String> = items
        .iter()
        .map(|i| i.payment_intent_id.to_string())
        .collect();
    let sql = format!(
        "SELECT payment_intent_id FROM relay_queue WHERE payment_intent_id IN ({})",
        list(ids.len())
    );
    let existing: HashSet<String> = by_ids(&sql, &ids)
        .fetch_all(&mut **tx)
        .await
        .db()?
        .iter()
        .map(|row| row.try_get::<String, _>("payment_intent_id").db())
        .collect::<Result<_, _>>()?;
    // New intents: inserted together (a second item for the same intent in the batch finds
    // the first one's row, as it would one after the other). Existing ones: taken over, in
    // order, where their authorization ended without paying.
    let queued = RelayItemStatus::Queued.as_str();
    let fresh = items
        .iter()
        .filter(|i| !existing.contains(&i.payment_intent_id.to_string()))
        .map(|i| {
            vec![
                Cell::from(i.payment_intent_id.to_string()),
                Cell::from(i.chain_id.clone()),
                Cell::from(i64::from(i.livemode)),
                Cell::from(i.token.clone()),
                Cell::from(i.payer.clone()),
                Cell::from(i.nonce.clone()),
                Cell::from(i.amount_units.clone()),
                Cell::from(i.calldata.clone()),
                Cell::from(queued),
                Cell::from(None::<String>),
                Cell::from(None::<i64>),
                Cell::from(None::<String>),
                Cell::from(None::<String>),
                Cell::from(i.created_at_ms),
                Cell::from(i.created_at_ms),
            ]
        })
        .collect::<Vec<_>>();
    if !fresh.is_empty() {
        let head = format!("INSERT INTO relay_queue ({COLUMNS})");
        insert_rows(
            tx,
            &head,
            15,
            " ON CONFLICT (payment_intent_id) DO NOTHING",
            fresh,
        )
        .await?;
    }
    for item in items
        .iter()
        .filter(|i| existing.contains(&i.payment_intent_id.to_string()))
    {
        take_over(tx, item).await?;
    }
    let mut stored: HashMap<String, RelayItem> = HashMap::new();
    let sql = format!(
        "SELECT {COLUMNS} FROM relay_queue WHERE payment_intent_id IN ({})",
        list(ids.len())
    );
    for row in by_ids(&sql, &ids).fetch_all(&mut **tx).await.db()? {
        let item = item_from_row(&row)?;
        stored.insert(item.payment_intent_id.to_string(), item);
    }
    ids.iter()
        .map(|id| {
            stored
                .get(id)
                .cloned()
                .map(Ok)
                .ok_or_else(|| StoreError::Corrupt(format!("relay queue row of {id} missing")))
        })
        .collect()
}

/// `sql` with `ids` bound to its `$1…$n`.
fn by_ids<'q>(sql: &'q str, ids: &[String]) -> Query<'q, sqlx::Any, AnyArguments<'q>> {
    let mut query = sqlx::query(sql).persistent(false);
    for id in ids {
        query = query.bind(id.clone());
    }
    query
}
