//! Group commit of intent creates, on both backends. Committing each create on its own costs a
//! commit (a WAL flush, and on PostgreSQL a round trip and a transaction's bookkeeping) per
//! request; queued creates are written together instead and every caller is answered once the
//! batch is committed, so a caller's create is durable when its answer comes.
//!
//! - **SQLite** takes one writer at a time: one committer runs each batch in one transaction,
//!   each create inside its own savepoint.
//! - **PostgreSQL** writes a batch as *one* multi-row statement (the single-create CTE with a
//!   row per create in each of its inserts), so the batch costs one round trip, one executor
//!   start and one commit. A few committers run side by side, so one batch is built while
//!   another waits for its flush.
//!
//! One failing create never sinks the others: when PostgreSQL refuses the batch statement (a
//! taken idempotency key, say, or the same key twice in the batch) nothing of it was written,
//! and the batch is written again the SQLite way, one savepoint per create in one transaction,
//! so each create stands or falls alone and reports its own error, in queue order (of two
//! creates with the same key, the first queued wins).

use std::sync::OnceLock;

use super::Connections;
use rialto_core::intent::PaymentIntent;

use super::batcher::Batcher;
use super::sql::{bind_create, Backend, PG_CREATE_INTENT, SQLITE_CREATE_INTENT};
use super::{Event, IdempotencyRecord};

/// The most creates one batch takes; bounds the latency a batch adds (and PostgreSQL's batch
/// statement to 64 × 28 parameters).
const MAX_BATCH: usize = super::savepoints::MAX_BATCH;

/// PostgreSQL committers: one fills a batch while another's commit waits for its flush. More
/// only split the same queue into smaller batches on a small machine.
const PG_COMMITTERS: usize = 2;

/// What one create writes: the intent, its `payment_intent.created` event (and outbox row when
/// the merchant has an enabled webhook endpoint) and, when keyed, the idempotency record.
#[derive(Debug, Clone)]
pub struct NewIntent {
    pub intent: PaymentIntent,
    pub event: Event,
    pub record: Option<IdempotencyRecord>,
}

#[derive(Debug, Clone)]
pub struct GroupCommitter {
    batches: Batcher<NewIntent, Result<(), sqlx::Error>>,
}

impl GroupCommitter {
    /// Starts the committers, writing through `pool` (SQLite: give it one connection).
    pub fn spawn(pool: Connections, backend: Backend) -> Self {
        let committers = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => PG_COMMITTERS,
        };
        let batches = Batcher::spawn(committers, MAX_BATCH, move |creates: Vec<NewIntent>| {
            let pool = pool.clone();
            async move { commit_batch(&pool, backend, &creates).await }
        });
        Self { batches }
    }

    /// Writes `create` in the next batch; returns once that batch is committed (or failed).
    pub async fn execute(&self, create: NewIntent) -> Result<(), sqlx::Error> {
        self.batches
            .submit(create)
            .await
            .unwrap_or(Err(sqlx::Error::PoolClosed))
    }
}

/// Commits `creates` and answers one result per create, in order.
pub(super) async fn commit_batch(
    pool: &Connections,
    backend: Backend,
    creates: &[NewIntent],
) -> Vec<Result<(), sqlx::Error>> {
    if backend == Backend::Postgres {
        let statement = creates
            .iter()
            .fold(sqlx::query(pg_batch_sql(creates.len())), |q, c| {
                bind_create(q, c)
            });
        match statement.execute(pool).await {
            Ok(_) => return creates.iter().map(|_| Ok(())).collect(),
            // A lone create's refusal is its own.
            Err(err) if creates.len() == 1 => return vec![Err(err)],
            // Refused by the database: the statement wrote nothing, so each create is tried
            // again on its own below.
            Err(sqlx::Error::Database(_)) => {}
            // Anything else (a lost connection) may have happened after the commit: retrying
            // could write twice what is already written, so every caller gets the error.
            Err(err) => return failed_all(creates.len(), &err),
        }
    }
    commit_each(pool, backend, creates).await
}

fn failed_all(count: usize, err: &sqlx::Error) -> Vec<Result<(), sqlx::Error>> {
    (0..count)
        .map(|_| Err(sqlx::Error::Protocol(format!("batch commit failed: {err}"))))
        .collect()
}

/// One transaction for the whole batch, one savepoint per create.
async fn commit_each(
    pool: &Connections,
    backend: Backend,
    creates: &[NewIntent],
) -> Vec<Result<(), sqlx::Error>> {
    let single: &'static str = match backend {
        Backend::Postgres => &PG_CREATE_INTENT,
        Backend::Sqlite => &SQLITE_CREATE_INTENT,
    };
    let count = creates.len();
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(err) => return failed_all(count, &err),
    };
    let mut results = Vec::with_capacity(count);
    for create in creates {
        if let Err(err) = sqlx::query("SAVEPOINT w").execute(&mut *tx).await {
            return failed_all(count, &err);
        }
        let result = bind_create(sqlx::query(single), create)
            .execute(&mut *tx)
            .await
            .map(|_| ());
        let end: &[&str] = if result.is_ok() {
            &["RELEASE w"]
        } else {
            &["ROLLBACK TO w", "RELEASE w"]
        };
        for statement in end {
            if let Err(err) = sqlx::query(statement).execute(&mut *tx).await {
                return failed_all(count, &err);
            }
        }
        results.push(result);
    }
    match tx.commit().await {
        Ok(()) => results,
        Err(err) => failed_all(count, &err),
    }
}

/// Parameters per create, in [`bind_create`]'s order (the single-create statement's `$1`…`$28`).
const PARAMS: usize = 28;

/// PostgreSQL's statement for a batch of `n` creates, built once per size.
fn pg_batch_sql(n: usize) -> &'static str {
    static SQL: [OnceLock<String>; MAX_BATCH + 1] = [const { OnceLock::new() }; MAX_BATCH + 1];
    SQL[n].get_or_init(|| build_pg_batch_sql(n))
}

/// The single-create CTE (`PG_CREATE_INTENT`) with one row per create in each insert; create
/// `i`'s `$k` is `$(k + 28 i)`. The outbox and idempotency rows keep their conditions per row.
fn build_pg_batch_sql(n: usize) -> String {
    let rows = |params: &[usize]| -> String {
        (0..n)
            .map(|i| {
                let row: Vec<String> = params
                    .iter()
                    .map(|k| format!("${}", k + PARAMS * i))
                    .collect();
                format!("({})", row.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let intent: Vec<usize> = (1..=17).chain([28]).collect();
    format!(
        "WITH created AS (INSERT INTO payment_intents ({}, payment_reference) VALUES {}), \
         event AS (INSERT INTO events (id, merchant_id, livemode, type, object_json, \
         created_at) VALUES {}), outbox AS (INSERT INTO event_outbox (event_id, merchant_id, \
         livemode, type) SELECT v.event_id, v.merchant_id, v.livemode, v.type FROM (VALUES {}) \
         AS v (event_id, merchant_id, livemode, type) WHERE EXISTS (SELECT 1 FROM \
         webhook_endpoints w WHERE w.merchant_id = v.merchant_id AND w.livemode = v.livemode \
         AND w.status = 'enabled')) INSERT INTO idempotency_keys ({}, response_event_id) \
         SELECT * FROM (VALUES {}) AS v (scope, idempotency_key, request_hash, \
         response_status, response_body, created_at, response_event_id) WHERE \
         v.idempotency_key IS NOT NULL",
        super::sql::INTENT_COLUMNS,
        rows(&intent),
        rows(&[18, 2, 3, 19, 20, 12]),
        rows(&[18, 2, 3, 19]),
        super::sql::IDEMPOTENCY_COLUMNS,
        rows(&[21, 22, 23, 24, 25, 26, 27]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_statement_numbers_each_creates_parameters_after_the_previous_ones() {
        let sql = build_pg_batch_sql(2);
        assert!(sql.contains("($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $28), ($29, $30,"));
        assert!(sql.contains("($18, $2, $3, $19, $20, $12), ($46, $30, $31, $47, $48, $40)"));
        assert!(sql
            .contains("($21, $22, $23, $24, $25, $26, $27), ($49, $50, $51, $52, $53, $54, $55)"));
        assert!(!sql.contains("$57"), "2 × 28 parameters");
    }
}
