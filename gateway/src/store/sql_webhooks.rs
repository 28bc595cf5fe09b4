//! [`WebhookStore`] for [`SqlStore`]: events, endpoints and the delivery outbox.

use super::Db;
use async_trait::async_trait;
use rialto_core::id::{EventId, MerchantId, WebhookEndpointId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::{insert_idempotency, Backend, SqlStore};
use super::PendingEvent;
use super::{
    Attempt, AttemptOutcome, Delivery, DeliveryPage, DeliveryStatus, Event, EventFilter,
    IdempotencyRecord, Page, StoreError, WebhookEndpoint, WebhookStore,
};

const EVENT_COLUMNS: &str = "id, merchant_id, livemode, type, object_json, created_at";
const ENDPOINT_COLUMNS: &str = "id, merchant_id, livemode, url, description, enabled_events, \
    status, secret_sealed, created_at, updated_at";
const DELIVERY_COLUMNS: &str =
    "id, event_id, endpoint_id, status, attempts, next_attempt_at, created_at, updated_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn parsed<T: std::str::FromStr>(row: &AnyRow, col: &str) -> Result<T, StoreError> {
    row.try_get::<String, _>(col)
        .db()?
        .parse()
        .map_err(|_| corrupt(col))
}

fn event_from_row(row: &AnyRow) -> Result<Event, StoreError> {
    Ok(Event {
        id: parsed(row, "id")?,
        merchant_id: parsed(row, "merchant_id")?,
        livemode: row.try_get::<i64, _>("livemode").db()? == 1,
        kind: row.try_get("type").db()?,
        object_json: row.try_get("object_json").db()?,
        created_at_ms: row.try_get("created_at").db()?,
    })
}

fn endpoint_from_row(row: &AnyRow) -> Result<WebhookEndpoint, StoreError> {
    let events: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("enabled_events").db()?)
            .map_err(|_| corrupt("enabled_events"))?;
    Ok(WebhookEndpoint {
        id: parsed(row, "id")?,
        merchant_id: parsed(row, "merchant_id")?,
        livemode: row.try_get::<i64, _>("livemode").db()? == 1,
        url: row.try_get("url").db()?,
        description: row.try_get("description").db()?,
        enabled_events: events,
        enabled: row.try_get::<String, _>("status").db()? == "enabled",
        secret_sealed: row.try_get("secret_sealed").db()?,
        created_at_ms: row.try_get("created_at").db()?,
        updated_at_ms: row.try_get("updated_at").db()?,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<Delivery, StoreError> {
    let status = match row.try_get::<String, _>("status").db()?.as_str() {
        "pending" => DeliveryStatus::Pending,
        "succeeded" => DeliveryStatus::Succeeded,
        "failed" => DeliveryStatus::Failed,
        _ => return Err(corrupt("delivery status")),
    };
    Ok(Delivery {
        id: parsed(row, "id")?,
        event_id: parsed(row, "event_id")?,
        endpoint_id: parsed(row, "endpoint_id")?,
        status,
        attempts: row.try_get("attempts").db()?,
        next_attempt_at_ms: row.try_get("next_attempt_at").db()?,
        created_at_ms: row.try_get("created_at").db()?,
        updated_at_ms: row.try_get("updated_at").db()?,
    })
}

fn attempt_from_row(row: &AnyRow) -> Result<Attempt, StoreError> {
    let status: Option<i64> = row.try_get("status_code").db()?;
    Ok(Attempt {
        id: parsed(row, "id")?,
        delivery_id: parsed(row, "delivery_id")?,
        attempted_at_ms: row.try_get("attempted_at").db()?,
        status_code: status.and_then(|s| u16::try_from(s).ok()),
        error: row.try_get("error").db()?,
        duration_ms: row.try_get("duration_ms").db()?,
    })
}

fn events_json(endpoint: &WebhookEndpoint) -> String {
    serde_json::Value::from(endpoint.enabled_events.clone()).to_string()
}

fn status_str(endpoint: &WebhookEndpoint) -> &'static str {
    if endpoint.enabled {
        "enabled"
    } else {
        "disabled"
    }
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn list_events(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        filter: &EventFilter,
    ) -> Result<Page<Event>, StoreError> {
        let mut sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE merchant_id = $1 AND livemode = $2");
        let mut n = 2;
        let mut cond = |sql: &mut String, text: &str| {
            n += 1;
            sql.push_str(&format!(" AND {text} ${n}"));
        };
        if filter.kind.is_some() {
            cond(&mut sql, "type =");
        }
        if filter.starting_after.is_some() {
            cond(&mut sql, "id <");
        }
        let backwards = filter.ending_before.is_some() && filter.starting_after.is_none();
        if backwards {
            cond(&mut sql, "id >");
        }
        sql.push_str(&format!(
            " ORDER BY id {} LIMIT ${}",
            if backwards { "ASC" } else { "DESC" },
            n + 1
        ));
        let mut query = sqlx::query(&sql)
            .bind(merchant.to_string())
            .bind(i64::from(livemode));
        if let Some(kind) = &filter.kind {
            query = query.bind(kind.clone());
        }
        if let Some(cursor) = filter.starting_after {
            query = query.bind(cursor.to_string());
        }
        if let (true, Some(cursor)) = (backwards, filter.ending_before) {
            query = query.bind(cursor.to_string());
        }
        let rows = query
            .bind(i64::from(filter.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .db()?;
        let data = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(data, filter.limit, backwards))
    }

    async fn get_event(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND merchant_id = $2 AND \
             livemode = $3"
        ))
        .bind(id.to_string())
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn create_webhook_endpoint(
        &self,
        e: &WebhookEndpoint,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        sqlx::query(&format!(
            "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, \
             $7, $8, $9, $10)"
        ))
        .bind(e.id.to_string())
        .bind(e.merchant_id.to_string())
        .bind(i64::from(e.livemode))
        .bind(e.url.clone())
        .bind(e.description.clone())
        .bind(events_json(e))
        .bind(status_str(e))
        .bind(e.secret_sealed.clone())
        .bind(e.created_at_ms)
        .bind(e.updated_at_ms)
        .execute(&mut *tx)
        .await
        .db()?;
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn update_webhook_endpoint(
        &self,
        e: &WebhookEndpoint,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, enabled_events = $3, \
             status = $4, secret_sealed = $5, updated_at = $6 WHERE id = $7 AND merchant_id = $8",
        )
        .bind(e.url.clone())
        .bind(e.description.clone())
        .bind(events_json(e))
        .bind(status_str(e))
        .bind(e.secret_sealed.clone())
        .bind(e.updated_at_ms)
        .bind(e.id.to_string())
        .bind(e.merchant_id.to_string())
        .execute(&mut *tx)
        .await
        .db()?;
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn get_webhook_endpoint(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        id: &WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2 \
             AND livemode = $3"
        ))
        .bind(id.to_string())
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn list_webhook_endpoints(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 AND \
             livemode = $2 ORDER BY id DESC"
        ))
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(endpoint_from_row).collect()
    }

    async fn undispatched_events(&self, limit: u32) -> Result<Vec<PendingEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT event_id, merchant_id, livemode, type FROM event_outbox ORDER BY event_id \
             LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter()
            .map(|row| {
                Ok(PendingEvent {
                    id: parsed(row, "event_id")?,
                    merchant_id: parsed(row, "merchant_id")?,
                    livemode: row.try_get::<i64, _>("livemode").db()? == 1,
                    kind: row.try_get("type").db()?,
                })
            })
            .collect()
    }

    async fn dispatch_events(
        &self,
        events: &[EventId],
        deliveries: &[Delivery],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        for d in deliveries {
            sqlx::query(&format!(
                "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}, locked_until) VALUES ($1, \
                 $2, $3, $4, $5, $6, $7, $8, 0) ON CONFLICT (event_id, endpoint_id) DO NOTHING"
            ))
            .bind(d.id.to_string())
            .bind(d.event_id.to_string())
            .bind(d.endpoint_id.to_string())
            .bind(d.status.as_str())
            .bind(d.attempts)
            .bind(d.next_attempt_at_ms)
            .bind(d.created_at_ms)
            .bind(d.updated_at_ms)
            .execute(&mut *tx)
            .await
            .db()?;
        }
        for chunk in events.chunks(100) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "DELETE FROM event_outbox WHERE event_id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            query.execute(&mut *tx).await.db()?;
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        // Postgres: rows another worker is claiming right now are skipped, not waited for.
        // SQLite: the single writer connection already serialises claims.
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN (SELECT id FROM \
             webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 AND \
             locked_until <= $2 ORDER BY next_attempt_at LIMIT $3{lock}) RETURNING \
             {DELIVERY_COLUMNS}"
        ))
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter().map(delivery_from_row).collect()
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await
                .db()?;
        let n: i64 = row.try_get("n").db()?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn record_attempt(&self, outcome: &AttemptOutcome) -> Result<(), StoreError> {
        let a = &outcome.attempt;
        let mut tx = self.writer.begin().await.db()?;
        sqlx::query(
            "INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, error, \
             duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(a.id.to_string())
        .bind(a.delivery_id.to_string())
        .bind(a.attempted_at_ms)
        .bind(a.status_code.map(i64::from))
        .bind(a.error.clone())
        .bind(a.duration_ms)
        .execute(&mut *tx)
        .await
        .db()?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, \
             next_attempt_at = $2, locked_until = 0, updated_at = $3 WHERE id = $4",
        )
        .bind(outcome.status.as_str())
        .bind(outcome.next_attempt_at_ms)
        .bind(a.attempted_at_ms)
        .bind(a.delivery_id.to_string())
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn get_endpoint_by_id(
        &self,
        id: &WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn get_event_by_id(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        let row = sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db()?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn deliveries_for_event(
        &self,
        event: &EventId,
        page: &DeliveryPage,
    ) -> Result<Page<(Delivery, Vec<Attempt>)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE event_id = $1 AND ($2 IS \
             NULL OR endpoint_id = $2) AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
        ))
        .bind(event.to_string())
        .bind(page.endpoint.as_ref().map(ToString::to_string))
        .bind(page.starting_after.clone())
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .db()?;
        let mut out = Vec::with_capacity(rows.len());
        for delivery in rows.iter().map(delivery_from_row) {
            let delivery = delivery?;
            let attempts = sqlx::query(
                "SELECT id, delivery_id, attempted_at, status_code, error, duration_ms FROM \
                 webhook_attempts WHERE delivery_id = $1 ORDER BY id",
            )
            .bind(delivery.id.to_string())
            .fetch_all(&self.pool)
            .await
            .db()?;
            let attempts = attempts
                .iter()
                .map(attempt_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            out.push((delivery, attempts));
        }
        Ok(Page::from_rows(out, page.limit, false))
    }

    async fn redeliver(
        &self,
        event: &EventId,
        endpoint: &WebhookEndpointId,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, \
             updated_at = $1 WHERE event_id = $2 AND endpoint_id = $3",
        )
        .bind(now_ms)
        .bind(event.to_string())
        .bind(endpoint.to_string())
        .execute(&self.writer)
        .await
        .db()?;
        Ok(done.rows_affected() > 0)
    }
}
