//! [`ReconcileStore`] over sqlx `Any` (SQLite and PostgreSQL).

use super::Db;
use async_trait::async_trait;
use rialto_core::id::MerchantId;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::chain::ChainTransfer;
use super::reconcile::{
    ExceptionRecord, OwnedAddress, OwnedLeg, OwnedPayment, ReconcileStore, ReconciliationRun,
    ReportScope,
};
use super::sql::SqlStore;
use super::sql_chain::{leg_from_row, payment_tx_from_row};
use super::StoreError;

const LEG_COLUMNS: &str = "l.leg_id, l.purpose, l.reference, l.payment_intent_id, l.chain_id, \
    l.from_address, l.to_address, l.token, l.amount_units, l.nonce, l.raw_tx, l.tx_hash, \
    l.status, l.block_number, l.block_hash, l.failure, l.created_at, l.updated_at, l.fee_wei";
const PAYMENT_SELECT: &str = "SELECT t.chain_id, t.tx_hash, t.payment_intent_id, t.payer, \
    t.amount, t.asset, t.block_number, t.block_hash, t.log_index, t.created_at, t.status, \
    t.source, i.merchant_id, i.livemode, i.status AS intent_status, i.amount AS intent_amount, \
    i.currency AS intent_currency, COALESCE(d.address, i.settlement_address) AS recipient \
    FROM payment_transactions t JOIN payment_intents i ON i.id = t.payment_intent_id \
    LEFT JOIN deposit_addresses d ON d.payment_intent_id = t.payment_intent_id \
    AND t.source = 'deposit'";
const RUN_COLUMNS: &str = "id, period_start, period_end, block_ranges, expected_count, \
    observed_count, matched_count, ledger_count, exception_count, status, failure, created_by, \
    created_at";
const EXCEPTION_COLUMNS: &str = "run_id, seq, kind, merchant_id, livemode, chain_id, tx_hash, \
    log_index, expected_amount, observed_amount, asset, purpose, reference, detail, created_at, \
    block_number";

fn payment_from_row(row: &AnyRow) -> Result<OwnedPayment, StoreError> {
    Ok(OwnedPayment {
        tx: payment_tx_from_row(row)?,
        merchant_id: row.try_get("merchant_id").db()?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        recipient: row.try_get("recipient").db()?,
        intent_status: row.try_get("intent_status").db()?,
        intent_amount: row.try_get("intent_amount").db()?,
        intent_currency: row.try_get("intent_currency").db()?,
    })
}

fn run_from_row(row: &AnyRow) -> Result<ReconciliationRun, StoreError> {
    Ok(ReconciliationRun {
        id: row.try_get("id").db()?,
        period_start_ms: row.try_get("period_start").db()?,
        period_end_ms: row.try_get("period_end").db()?,
        block_ranges: row.try_get("block_ranges").db()?,
        expected_count: row.try_get("expected_count").db()?,
        observed_count: row.try_get("observed_count").db()?,
        matched_count: row.try_get("matched_count").db()?,
        ledger_count: row.try_get("ledger_count").db()?,
        exception_count: row.try_get("exception_count").db()?,
        status: row.try_get("status").db()?,
        failure: row.try_get("failure").db()?,
        created_by: row.try_get("created_by").db()?,
        created_at_ms: row.try_get("created_at").db()?,
    })
}

fn exception_from_row(row: &AnyRow) -> Result<ExceptionRecord, StoreError> {
    Ok(ExceptionRecord {
        run_id: row.try_get("run_id").db()?,
        seq: row.try_get("seq").db()?,
        kind: row.try_get("kind").db()?,
        merchant_id: row.try_get("merchant_id").db()?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        chain_id: row.try_get("chain_id").db()?,
        tx_hash: row.try_get("tx_hash").db()?,
        log_index: row.try_get("log_index").db()?,
        block_number: row.try_get("block_number").db()?,
        expected_amount: row.try_get("expected_amount").db()?,
        observed_amount: row.try_get("observed_amount").db()?,
        asset: row.try_get("asset").db()?,
        purpose: row.try_get("purpose").db()?,
        reference: row.try_get("reference").db()?,
        detail: row.try_get("detail").db()?,
        created_at_ms: row.try_get("created_at").db()?,
    })
}

/// A WHERE clause built from the filters that are set, with its bind values in order.
#[derive(Debug, Default)]
struct Filter {
    clauses: Vec<String>,
    texts: Vec<Bind>,
}

#[derive(Debug)]
enum Bind {
    Text(String),
    Int(i64),
}

impl Filter {
    fn push(&mut self, clause: &str, value: Bind) {
        self.texts.push(value);
        let n = self.texts.len();
        self.clauses.push(clause.replace("$?", &format!("${n}")));
    }

    fn scope(scope: &ReportScope, table: &str, merchant_table: &str) -> Self {
        let mut f = Filter::default();
        if let Some((merchant, live)) = scope.merchant {
            f.push(
                &format!("{merchant_table}.merchant_id = $?"),
                Bind::Text(merchant.to_string()),
            );
            f.push(
                &format!("{merchant_table}.livemode = $?"),
                Bind::Int(i64::from(live)),
            );
        }
        if let Some(from) = scope.from_ms {
            f.push(&format!("{table}.created_at >= $?"), Bind::Int(from));
        }
        if let Some(to) = scope.to_ms {
            f.push(&format!("{table}.created_at <= $?"), Bind::Int(to));
        }
        f
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    async fn fetch(&self, store: &SqlStore, sql: &str) -> Result<Vec<AnyRow>, StoreError> {
        let mut query = sqlx::query(sql);
        for bind in &self.texts {
            query = match bind {
                Bind::Text(t) => query.bind(t.clone()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        query.fetch_all(&store.pool).await.db()
    }
}

fn owned_addresses(rows: &[AnyRow], column: &str) -> Result<Vec<OwnedAddress>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(OwnedAddress {
                address: row.try_get(column).db()?,
                merchant_id: row.try_get("merchant_id").db()?,
                livemode: row.try_get::<i64, _>("livemode").db()? != 0,
            })
        })
        .collect()
}

#[async_trait]
impl ReconcileStore for SqlStore {
    async fn legs_page(
        &self,
        chain_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OwnedLeg>, StoreError> {
        let mut f = Filter::default();
        f.push("l.chain_id = $?", Bind::Text(chain_id.to_owned()));
        if let Some(after) = after {
            f.push("l.leg_id > $?", Bind::Text(after.to_owned()));
        }
        let sql = format!(
            "SELECT {LEG_COLUMNS}, i.merchant_id, i.livemode AS intent_livemode FROM \
             chain_transfers l LEFT JOIN payment_intents i ON i.id = l.payment_intent_id {} \
             ORDER BY l.leg_id LIMIT {limit}",
            f.sql()
        );
        f.fetch(self, &sql)
            .await?
            .iter()
            .map(|row| {
                Ok(OwnedLeg {
                    leg: leg_from_row(row)?,
                    merchant_id: row.try_get("merchant_id").db()?,
                    livemode: row
                        .try_get::<Option<i64>, _>("intent_livemode")
                        .db()?
                        .map(|l| l != 0),
                })
            })
            .collect()
    }

    async fn payments_page(
        &self,
        chain_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OwnedPayment>, StoreError> {
        let mut f = Filter::default();
        f.push("t.chain_id = $?", Bind::Text(chain_id.to_owned()));
        if let Some(after) = after {
            f.push("t.tx_hash > $?", Bind::Text(after.to_owned()));
        }
        let sql = format!(
            "{PAYMENT_SELECT} {} ORDER BY t.tx_hash LIMIT {limit}",
            f.sql()
        );
        f.fetch(self, &sql)
            .await?
            .iter()
            .map(payment_from_row)
            .collect()
    }

    async fn deposit_addresses_on(&self, chain_id: &str) -> Result<Vec<OwnedAddress>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.address, i.merchant_id, i.livemode FROM deposit_addresses d JOIN \
             payment_intents i ON i.id = d.payment_intent_id WHERE d.chain_id = $1",
        )
        .bind(chain_id.to_owned())
        .fetch_all(&self.pool)
        .await
        .db()?;
        owned_addresses(&rows, "address")
    }

    async fn leg_senders_on(&self, chain_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT from_address FROM chain_transfers WHERE chain_id = $1 ORDER BY \
             from_address",
        )
        .bind(chain_id.to_owned())
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter()
            .map(|row| row.try_get("from_address").db())
            .collect()
    }

    async fn settlement_addresses_on(
        &self,
        chain_id: &str,
    ) -> Result<Vec<OwnedAddress>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT settlement_address, merchant_id, livemode FROM payment_intents \
             WHERE settlement_asset LIKE $1",
        )
        .bind(format!("{chain_id}/%"))
        .fetch_all(&self.pool)
        .await
        .db()?;
        owned_addresses(&rows, "settlement_address")
    }

    async fn legs_for_references(
        &self,
        references: &[String],
    ) -> Result<Vec<ChainTransfer>, StoreError> {
        let mut out = Vec::new();
        for chunk in references.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT {LEG_COLUMNS} FROM chain_transfers l WHERE l.reference IN ({}) ORDER BY \
                 l.created_at, l.leg_id",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for reference in chunk {
                query = query.bind(reference.clone());
            }
            for row in query.fetch_all(&self.pool).await.db()? {
                out.push(leg_from_row(&row)?);
            }
        }
        Ok(out)
    }

    async fn payment_rows(&self, scope: &ReportScope) -> Result<Vec<OwnedPayment>, StoreError> {
        let f = Filter::scope(scope, "t", "i");
        let sql = format!(
            "{PAYMENT_SELECT} {} ORDER BY t.created_at, t.chain_id, t.tx_hash LIMIT {}",
            f.sql(),
            scope.limit
        );
        f.fetch(self, &sql)
            .await?
            .iter()
            .map(payment_from_row)
            .collect()
    }

    async fn create_reconciliation_run(
        &self,
        run: &ReconciliationRun,
        exceptions: &[ExceptionRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        sqlx::query(&format!(
            "INSERT INTO reconciliation_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13)"
        ))
        .bind(run.id.clone())
        .bind(run.period_start_ms)
        .bind(run.period_end_ms)
        .bind(run.block_ranges.clone())
        .bind(run.expected_count)
        .bind(run.observed_count)
        .bind(run.matched_count)
        .bind(run.ledger_count)
        .bind(run.exception_count)
        .bind(run.status.clone())
        .bind(run.failure.clone())
        .bind(run.created_by.clone())
        .bind(run.created_at_ms)
        .execute(&mut *tx)
        .await
        .db()?;
        for x in exceptions {
            sqlx::query(&format!(
                "INSERT INTO reconciliation_exceptions ({EXCEPTION_COLUMNS}) VALUES ($1, $2, $3, \
                 $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            ))
            .bind(x.run_id.clone())
            .bind(x.seq)
            .bind(x.kind.clone())
            .bind(x.merchant_id.clone())
            .bind(i64::from(x.livemode))
            .bind(x.chain_id.clone())
            .bind(x.tx_hash.clone())
            .bind(x.log_index)
            .bind(x.expected_amount.clone())
            .bind(x.observed_amount.clone())
            .bind(x.asset.clone())
            .bind(x.purpose.clone())
            .bind(x.reference.clone())
            .bind(x.detail.clone())
            .bind(x.created_at_ms)
            .bind(x.block_number)
            .execute(&mut *tx)
            .await
            .db()?;
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn get_reconciliation_run(
        &self,
        id: &str,
    ) -> Result<Option<ReconciliationRun>, StoreError> {
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM reconciliation_runs WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .db()?
        .as_ref()
        .map(run_from_row)
        .transpose()
    }

    async fn run_exceptions(
        &self,
        run_id: &str,
        merchant: Option<(MerchantId, bool)>,
    ) -> Result<Vec<ExceptionRecord>, StoreError> {
        let mut f = Filter::scope(
            &ReportScope {
                merchant,
                ..ReportScope::default()
            },
            "x",
            "x",
        );
        f.push("x.run_id = $?", Bind::Text(run_id.to_owned()));
        let sql = format!(
            "SELECT {EXCEPTION_COLUMNS} FROM reconciliation_exceptions x {} ORDER BY x.seq",
            f.sql()
        );
        f.fetch(self, &sql)
            .await?
            .iter()
            .map(exception_from_row)
            .collect()
    }

    async fn exception_rows(
        &self,
        scope: &ReportScope,
    ) -> Result<Vec<ExceptionRecord>, StoreError> {
        let f = Filter::scope(scope, "x", "x");
        let sql = format!(
            "SELECT {EXCEPTION_COLUMNS} FROM reconciliation_exceptions x {} ORDER BY \
             x.created_at, x.run_id, x.seq LIMIT {}",
            f.sql(),
            scope.limit
        );
        f.fetch(self, &sql)
            .await?
            .iter()
            .map(exception_from_row)
            .collect()
    }
}
