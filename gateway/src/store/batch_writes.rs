//! Multi-row writes of intents and their events (`rows`): the settlement path writes a
//! whole chunk of intents with a statement per table.

use rialto_core::intent::{PaymentIntent, PaymentStatus};
use sqlx::Row;

use super::rows::{insert_rows, list, rows_per_statement, tuples, Cell, MAX_VALUES};
use super::sql::json_text;
use super::Tx;
use super::{Db, Event, StoreError};

/// `sql::cas_intent_from` for many intents, one statement per 500: answers, in order, whether
/// each was written. Intents must be distinct (the caller writes a repeated one on its own).
pub(super) async fn cas_intents_from(
    tx: &mut Tx,
    writes: &[(PaymentStatus, i64, &PaymentIntent)],
) -> Result<Vec<bool>, StoreError> {
    let mut written = std::collections::HashSet::new();
    for chunk in writes.chunks(rows_per_statement(12)) {
        let sql = format!(
            "UPDATE payment_intents SET status = v.column2, canceled_at = v.column3, \
             cancellation_reason = v.column4, version = v.column5, updated_at = v.column6, \
             amount_refunded = v.column7, payment_detail = v.column8, expires_at = v.column9, \
             fx_lock = v.column10 FROM (VALUES {}) AS v WHERE payment_intents.id = v.column1 \
             AND payment_intents.status = v.column11 AND payment_intents.version = v.column12 \
             RETURNING payment_intents.id",
            tuples(chunk.len(), 12)
        );
        let mut query = sqlx::query(&sql).persistent(false);
        for (expected, expected_version, next) in chunk {
            query = query
                .bind(next.id.to_string())
                .bind(next.status.as_str())
                .bind(next.canceled_at_ms)
                .bind(next.cancellation_reason.map(|r| r.as_str().to_owned()))
                .bind(next.version)
                .bind(next.updated_at_ms)
                .bind(next.amount_refunded.normalize().to_string())
                .bind(json_text(next.payment_detail.as_ref()))
                .bind(next.expires_at_ms)
                .bind(json_text(next.fx.as_ref()))
                .bind(expected.as_str())
                .bind(*expected_version);
        }
        for row in query.fetch_all(&mut **tx).await.db()? {
            written.insert(row.try_get::<String, _>(0).db()?);
        }
    }
    Ok(writes
        .iter()
        .map(|(_, _, next)| written.contains(&next.id.to_string()))
        .collect())
}

/// `sql::insert_event` for many events: one statement for the events and one for their outbox
/// rows, whatever their number.
pub(super) async fn insert_events(tx: &mut Tx, events: &[&Event]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let rows = events
        .iter()
        .map(|e| {
            vec![
                Cell::from(e.id.to_string()),
                Cell::from(e.merchant_id.to_string()),
                Cell::from(i64::from(e.livemode)),
                Cell::from(e.kind.clone()),
                Cell::from(e.object_json.clone()),
                Cell::from(e.created_at_ms),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO events (id, merchant_id, livemode, type, object_json, created_at)",
        6,
        "",
        rows,
    )
    .await?;
    for chunk in events.chunks(MAX_VALUES) {
        let sql = format!(
            "INSERT INTO event_outbox (event_id, merchant_id, livemode, type) SELECT e.id, \
             e.merchant_id, e.livemode, e.type FROM events e WHERE e.id IN ({}) AND EXISTS \
             (SELECT 1 FROM webhook_endpoints w WHERE w.merchant_id = e.merchant_id AND \
             w.livemode = e.livemode AND w.status = 'enabled')",
            list(chunk.len())
        );
        let mut query = sqlx::query(&sql).persistent(false);
        for event in chunk {
            query = query.bind(event.id.to_string());
        }
        query.execute(&mut **tx).await.db()?;
    }
    Ok(())
}
