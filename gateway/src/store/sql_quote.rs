//! [`QuoteStore`] over sqlx `Any`.

use super::Db;
use super::Tx;
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::quote::{
    AcceptOutcome, ExecutionStatus, FundedExecution, OwnedRouteLeg, QuoteRecord, QuoteStatus,
    QuoteStore, RouteExecution, RouteLegKind, RouteLegRecord, RouteLegStatus,
};
use super::sql::{insert_idempotency, SqlStore};
use super::StoreError;
use super::{CasOutcome, IdempotencyRecord};
use rialto_core::id::PaymentIntentId;

const COLUMNS: &str = "id, payment_intent_id, merchant_id, livemode, status, body, expires_at, \
     created_at, accepted_at, route";
const EXECUTION_COLUMNS: &str = "id, quote_id, payment_intent_id, merchant_id, livemode, status, \
     funding, funding_ref, plan, graph, failure_code, failure_message, returned, version, \
     next_at_ms, created_at_ms, updated_at_ms";
const LEG_COLUMNS: &str = "id, execution_id, seq, kind, venue, from_node, to_node, input, topup, \
     min_output, spec, status, received, failure, external_ref, not_before_ms, created_at_ms, \
     submitted_at_ms, finished_at_ms, tx_hash, block_number";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("quote {what}"))
}

/// A typed value stored as JSON text in column `column`.
fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, StoreError> {
    let text: String = row.try_get(column).db()?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("route {column}: {e}")))
}

/// The JSON text a typed value is stored as.
fn json_text<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("route value: {e}")))
}

fn from_row(row: &AnyRow) -> Result<QuoteRecord, StoreError> {
    let intent: String = row.try_get("payment_intent_id").db()?;
    let merchant: String = row.try_get("merchant_id").db()?;
    Ok(QuoteRecord {
        id: row.try_get("id").db()?,
        payment_intent_id: intent.parse().map_err(|_| corrupt("intent"))?,
        merchant_id: merchant.parse().map_err(|_| corrupt("merchant"))?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        status: QuoteStatus::parse(&row.try_get::<String, _>("status").db()?)
            .ok_or_else(|| corrupt("status"))?,
        body: row.try_get("body").db()?,
        expires_at: row.try_get("expires_at").db()?,
        created_at: row.try_get("created_at").db()?,
        accepted_at: row.try_get("accepted_at").db()?,
        route: row.try_get("route").db()?,
    })
}

fn execution_from_row(row: &AnyRow) -> Result<RouteExecution, StoreError> {
    let intent: String = row.try_get("payment_intent_id").db()?;
    let merchant: String = row.try_get("merchant_id").db()?;
    Ok(RouteExecution {
        id: row.try_get("id").db()?,
        quote_id: row.try_get("quote_id").db()?,
        payment_intent_id: intent.parse().map_err(|_| corrupt("execution intent"))?,
        merchant_id: merchant
            .parse()
            .map_err(|_| corrupt("execution merchant"))?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        status: ExecutionStatus::parse(&row.try_get::<String, _>("status").db()?)
            .ok_or_else(|| corrupt("execution status"))?,
        funding: json_column(row, "funding")?,
        funding_ref: row.try_get("funding_ref").db()?,
        plan: row
            .try_get::<Option<String>, _>("plan")
            .db()?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| corrupt(&format!("execution plan: {e}")))?,
        graph: row.try_get("graph").db()?,
        failure_code: row.try_get("failure_code").db()?,
        failure_message: row.try_get("failure_message").db()?,
        returned: row.try_get("returned").db()?,
        version: row.try_get("version").db()?,
        next_at_ms: row.try_get("next_at_ms").db()?,
        created_at_ms: row.try_get("created_at_ms").db()?,
        updated_at_ms: row.try_get("updated_at_ms").db()?,
    })
}

fn leg_from_row(row: &AnyRow) -> Result<RouteLegRecord, StoreError> {
    Ok(RouteLegRecord {
        id: row.try_get("id").db()?,
        execution_id: row.try_get("execution_id").db()?,
        seq: row.try_get("seq").db()?,
        kind: RouteLegKind::parse(&row.try_get::<String, _>("kind").db()?)
            .ok_or_else(|| StoreError::Corrupt("route leg kind".into()))?,
        venue: row.try_get("venue").db()?,
        from_node: row.try_get("from_node").db()?,
        to_node: row.try_get("to_node").db()?,
        input: row.try_get("input").db()?,
        topup: row.try_get("topup").db()?,
        min_output: row.try_get("min_output").db()?,
        spec: json_column(row, "spec")?,
        status: RouteLegStatus::parse(&row.try_get::<String, _>("status").db()?)
            .ok_or_else(|| StoreError::Corrupt("route leg status".into()))?,
        received: row.try_get("received").db()?,
        failure: row.try_get("failure").db()?,
        external_ref: row.try_get("external_ref").db()?,
        not_before_ms: row.try_get("not_before_ms").db()?,
        created_at_ms: row.try_get("created_at_ms").db()?,
        submitted_at_ms: row.try_get("submitted_at_ms").db()?,
        finished_at_ms: row.try_get("finished_at_ms").db()?,
        tx_hash: row.try_get("tx_hash").db()?,
        block_number: row.try_get("block_number").db()?,
    })
}

/// Inserts the leg, or updates what can change on it (status, outcome, timestamps).
async fn upsert_leg(tx: &mut Tx, leg: &RouteLegRecord) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE route_legs SET status = $1, received = $2, failure = $3, external_ref = $4, \
         submitted_at_ms = $5, finished_at_ms = $6, not_before_ms = $7, tx_hash = $8, \
         block_number = $9 WHERE id = $10",
    )
    .bind(leg.status.as_str())
    .bind(leg.received.clone())
    .bind(leg.failure.clone())
    .bind(leg.external_ref.clone())
    .bind(leg.submitted_at_ms)
    .bind(leg.finished_at_ms)
    .bind(leg.not_before_ms)
    .bind(leg.tx_hash.clone())
    .bind(leg.block_number)
    .bind(leg.id.clone())
    .execute(&mut **tx)
    .await
    .db()?;
    if updated.rows_affected() == 1 {
        return Ok(());
    }
    sqlx::query(&format!(
        "INSERT INTO route_legs ({LEG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    ))
    .bind(leg.id.clone())
    .bind(leg.execution_id.clone())
    .bind(leg.seq)
    .bind(leg.kind.as_str())
    .bind(leg.venue.clone())
    .bind(leg.from_node.clone())
    .bind(leg.to_node.clone())
    .bind(leg.input.clone())
    .bind(leg.topup.clone())
    .bind(leg.min_output.clone())
    .bind(json_text(&leg.spec)?)
    .bind(leg.status.as_str())
    .bind(leg.received.clone())
    .bind(leg.failure.clone())
    .bind(leg.external_ref.clone())
    .bind(leg.not_before_ms)
    .bind(leg.created_at_ms)
    .bind(leg.submitted_at_ms)
    .bind(leg.finished_at_ms)
    .bind(leg.tx_hash.clone())
    .bind(leg.block_number)
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(())
}

#[async_trait]
impl QuoteStore for SqlStore {
    async fn create_quotes(&self, quotes: &[QuoteRecord]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        for q in quotes {
            sqlx::query(&format!(
                "INSERT INTO quotes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(q.id.clone())
            .bind(q.payment_intent_id.to_string())
            .bind(q.merchant_id.to_string())
            .bind(i64::from(q.livemode))
            .bind(q.status.as_str())
            .bind(q.body.clone())
            .bind(q.expires_at)
            .bind(q.created_at)
            .bind(q.accepted_at)
            .bind(q.route.clone())
            .execute(&mut *tx)
            .await
            .db()?;
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn get_quote(&self, id: &str) -> Result<Option<QuoteRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM quotes WHERE id = $1"))
            .bind(id.to_owned())
            .fetch_optional(&self.writer)
            .await
            .db()?;
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
            Err(e) => return Err(StoreError::Database(Box::new(e))),
        }
        self.why_not_accepted(id, now).await
    }

    async fn accept_and_start(
        &self,
        quote_id: &str,
        now: i64,
        execution: &RouteExecution,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<AcceptOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let changed = sqlx::query(
            "UPDATE quotes SET status = 'accepted', accepted_at = $1 WHERE id = $2 AND \
             status = 'open' AND expires_at > $1 AND NOT EXISTS (SELECT 1 FROM quotes other \
             WHERE other.payment_intent_id = quotes.payment_intent_id AND other.status = \
             'accepted')",
        )
        .bind(now)
        .bind(quote_id.to_owned())
        .execute(&mut *tx)
        .await;
        match changed {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => {
                drop(tx);
                return self.why_not_accepted(quote_id, now).await;
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(AcceptOutcome::AlreadyAccepted)
            }
            Err(e) => return Err(StoreError::Database(Box::new(e))),
        }
        let e = execution;
        let inserted = sqlx::query(&format!(
            "INSERT INTO route_executions ({EXECUTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, \
             $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(e.id.clone())
        .bind(e.quote_id.clone())
        .bind(e.payment_intent_id.to_string())
        .bind(e.merchant_id.to_string())
        .bind(i64::from(e.livemode))
        .bind(e.status.as_str())
        .bind(json_text(&e.funding)?)
        .bind(e.funding_ref.clone())
        .bind(e.plan.as_ref().map(json_text).transpose()?)
        .bind(e.graph.clone())
        .bind(e.failure_code.clone())
        .bind(e.failure_message.clone())
        .bind(e.returned.clone())
        .bind(e.version)
        .bind(e.next_at_ms)
        .bind(e.created_at_ms)
        .bind(e.updated_at_ms)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                return Ok(AcceptOutcome::AlreadyAccepted)
            }
            Err(err) => return Err(StoreError::Database(Box::new(err))),
        }
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        tx.commit().await.db()?;
        Ok(AcceptOutcome::Accepted)
    }

    async fn get_execution(&self, id: &str) -> Result<Option<RouteExecution>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM route_executions WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(&self.writer)
        .await
        .db()?;
        row.as_ref().map(execution_from_row).transpose()
    }

    async fn executions_of(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Vec<RouteExecution>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM route_executions WHERE payment_intent_id = $1 \
             ORDER BY created_at_ms DESC, id DESC"
        ))
        .bind(intent.to_string())
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter().map(execution_from_row).collect()
    }

    async fn due_executions(
        &self,
        statuses: &[ExecutionStatus],
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<RouteExecution>, StoreError> {
        let mut out = Vec::new();
        for status in statuses {
            let rows = sqlx::query(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM route_executions WHERE status = $1 AND \
                 next_at_ms <= $2 AND claimed_until <= $2 ORDER BY next_at_ms, id LIMIT $3"
            ))
            .bind(status.as_str())
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await
            .db()?;
            for row in &rows {
                out.push(execution_from_row(row)?);
            }
        }
        Ok(out)
    }

    async fn executions_in(
        &self,
        statuses: &[ExecutionStatus],
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RouteExecution>, StoreError> {
        let mut out = Vec::new();
        for status in statuses {
            let rows = sqlx::query(&format!(
                "SELECT {EXECUTION_COLUMNS} FROM route_executions WHERE status = $1 AND \
                 ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
            ))
            .bind(status.as_str())
            .bind(starting_after)
            .bind(i64::from(limit))
            .fetch_all(&self.writer)
            .await
            .db()?;
            for row in &rows {
                out.push(execution_from_row(row)?);
            }
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn save_execution_step(
        &self,
        execution: &RouteExecution,
        expected_version: i64,
        legs: &[RouteLegRecord],
        idempotency: Option<&IdempotencyRecord>,
        postings: &[crate::ledger::Posting],
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let e = execution;
        let changed = sqlx::query(
            "UPDATE route_executions SET status = $1, plan = $2, failure_code = $3, \
             failure_message = $4, returned = $5, version = $6, next_at_ms = $7, \
             updated_at_ms = $8, funding_ref = $9, graph = $10, funding = $11 WHERE id = $12 AND \
             version = $13",
        )
        .bind(e.status.as_str())
        .bind(e.plan.as_ref().map(json_text).transpose()?)
        .bind(e.failure_code.clone())
        .bind(e.failure_message.clone())
        .bind(e.returned.clone())
        .bind(e.version)
        .bind(e.next_at_ms)
        .bind(e.updated_at_ms)
        .bind(e.funding_ref.clone())
        .bind(e.graph.clone())
        .bind(json_text(&e.funding)?)
        .bind(e.id.clone())
        .bind(expected_version)
        .execute(&mut *tx)
        .await;
        match changed {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => return Ok(CasOutcome::Conflict),
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                return Ok(CasOutcome::Conflict)
            }
            Err(err) => return Err(StoreError::Database(Box::new(err))),
        }
        // Binding a wallet funding (the first transfer or a top-up) happens while it awaits
        // funds: each transaction funds one execution only.
        if e.status == ExecutionStatus::AwaitingFunds
            && e.funding_ref.is_some()
            && !bind_funding_refs(&mut tx, e).await?
        {
            return Ok(CasOutcome::Conflict);
        }
        for leg in legs {
            upsert_leg(&mut tx, leg).await?;
        }
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        super::sql_ledger::insert_postings(&mut tx, postings).await?;
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn claim_execution(
        &self,
        id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE route_executions SET claimed_until = $1 WHERE id = $2 AND claimed_until <= $3",
        )
        .bind(until_ms)
        .bind(id.to_owned())
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_quote(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE quotes SET status = 'expired' WHERE id = $1 AND status = 'accepted'")
            .bind(id.to_owned())
            .execute(&self.writer)
            .await
            .db()?;
        Ok(())
    }

    async fn release_execution(&self, id: &str, until_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE route_executions SET claimed_until = 0 WHERE id = $1 AND claimed_until = $2",
        )
        .bind(id.to_owned())
        .bind(until_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn route_legs(&self, execution: &str) -> Result<Vec<RouteLegRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {LEG_COLUMNS} FROM route_legs WHERE execution_id = $1 ORDER BY seq"
        ))
        .bind(execution.to_owned())
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter().map(leg_from_row).collect()
    }

    async fn confirmed_route_legs_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OwnedRouteLeg>, StoreError> {
        let columns = LEG_COLUMNS
            .split(", ")
            .map(|c| format!("l.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {columns}, e.merchant_id, e.livemode FROM route_legs l JOIN route_executions \
             e ON e.id = l.execution_id WHERE l.status = 'confirmed' AND l.tx_hash IS NOT NULL \
             AND l.id > $1 ORDER BY l.id LIMIT $2"
        ))
        .bind(after.unwrap_or("").to_owned())
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter()
            .map(|row| {
                Ok(OwnedRouteLeg {
                    leg: leg_from_row(row)?,
                    merchant_id: row.try_get("merchant_id").db()?,
                    livemode: row.try_get::<i64, _>("livemode").db()? != 0,
                })
            })
            .collect()
    }

    async fn funded_executions_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FundedExecution>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, merchant_id, livemode, funding, created_at_ms FROM route_executions \
             WHERE funding_ref IS NOT NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.unwrap_or("").to_owned())
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter()
            .map(|row| {
                Ok(FundedExecution {
                    id: row.try_get("id").db()?,
                    merchant_id: row.try_get("merchant_id").db()?,
                    livemode: row.try_get::<i64, _>("livemode").db()? != 0,
                    funding: json_column(row, "funding")?,
                    created_at_ms: row.try_get("created_at_ms").db()?,
                })
            })
            .collect()
    }
}

impl SqlStore {
    /// Zero rows accepted: find out why, never overwrite.
    async fn why_not_accepted(&self, id: &str, now: i64) -> Result<AcceptOutcome, StoreError> {
        let Some(quote) = self.get_quote(id).await? else {
            return Ok(AcceptOutcome::NotFound);
        };
        if quote.status == QuoteStatus::Accepted {
            return Ok(AcceptOutcome::AlreadyAccepted);
        }
        if quote.status == QuoteStatus::Open && quote.expires_at > now {
            return Ok(AcceptOutcome::AlreadyAccepted);
        }
        sqlx::query("UPDATE quotes SET status = 'expired' WHERE id = $1 AND status = 'open'")
            .bind(id.to_owned())
            .execute(&self.writer)
            .await
            .db()?;
        Ok(AcceptOutcome::Expired)
    }
}

/// Binds every funding transaction of `e` to it (`route_funding_transfers`): false when one
/// already funds another execution (as a top-up there, or as an execution's first transfer).
async fn bind_funding_refs(tx: &mut Tx, e: &RouteExecution) -> Result<bool, StoreError> {
    for reference in e.funding.transfer_refs() {
        sqlx::query(
            "INSERT INTO route_funding_transfers (funding_ref, execution_id) VALUES ($1, $2) \
             ON CONFLICT (funding_ref) DO NOTHING",
        )
        .bind(reference.clone())
        .bind(e.id.clone())
        .execute(&mut **tx)
        .await
        .db()?;
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT execution_id FROM route_funding_transfers WHERE funding_ref = $1",
        )
        .bind(reference.clone())
        .fetch_optional(&mut **tx)
        .await
        .db()?;
        // Executions bound before this table existed hold theirs in `funding_ref` only.
        let first_elsewhere: Option<String> = sqlx::query_scalar(
            "SELECT id FROM route_executions WHERE funding_ref = $1 AND id <> $2",
        )
        .bind(reference)
        .bind(e.id.clone())
        .fetch_optional(&mut **tx)
        .await
        .db()?;
        if owner.as_deref() != Some(e.id.as_str()) || first_elsewhere.is_some() {
            return Ok(false);
        }
    }
    Ok(true)
}
