//! The SQL store: [`SqlStore`] implements every store port of the engine
//! (`rialto_engine::store`) for SQLite (the embedded default) and PostgreSQL, with one set of
//! runtime-checked queries and a migration directory per backend. The conformance suite in
//! `tests/store_conformance.rs` runs against both.
//!
//! sqlx errors become the engine's [`StoreError`] through [`Db::db`]: the engine never sees a
//! sqlx type.

mod batch_writes;
mod batcher;
mod coalesce;
mod connections;
mod decision_batch;
mod decision_commit;
mod enqueue_batch;
mod group_commit;
mod key_cache;
#[cfg(test)]
mod plans;
mod relay_decide_batch;
mod rows;
mod savepoints;
mod sql;
mod sql_access;
mod sql_chain;
mod sql_checkout;
mod sql_compliance;
mod sql_exchange;
mod sql_funding;
mod sql_idempotency;
mod sql_issuer_redemption;
mod sql_ledger;
mod sql_misdirected;
mod sql_money;
mod sql_payer;
mod sql_quote;
mod sql_reconcile;
mod sql_relay_queue;
mod sql_reserves;
mod sql_webhooks;
mod sql_x402;

pub use connections::{Conn, Connections, Tx};
pub use key_cache::{CacheState, KeyCache, TTL as KEY_CACHE_TTL};
pub use rialto_engine::store::*;
pub use sql::{Backend, SqlStore};

/// Turns a sqlx result into a store result (the orphan rule keeps a `From` impl out of reach:
/// `StoreError` is the engine's, `sqlx::Error` is sqlx's).
pub(crate) trait Db<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> Db<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Database(Box::new(e)))
    }
}

impl<T> Db<T> for Result<T, sqlx::migrate::MigrateError> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Migrate(Box::new(e)))
    }
}

/// The database's own error under a store error, if that is what it is.
pub(crate) fn sqlx_cause(err: &StoreError) -> Option<&sqlx::Error> {
    match err {
        StoreError::Database(cause) => cause.downcast_ref::<sqlx::Error>(),
        _ => None,
    }
}

/// Unit tests' database: one in-memory SQLite connection (sqlx's pool of one: each of our own
/// connections would open a database of its own) with `schema` applied.
#[cfg(test)]
pub(crate) async fn memory_pool(schema: &str) -> Connections {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("an in-memory SQLite database");
    sqlx::raw_sql(schema)
        .execute(&pool)
        .await
        .expect("the test schema");
    Connections::Pool(pool)
}

/// True when the database refused a write for a duplicate key.
pub fn is_unique_violation(err: &StoreError) -> bool {
    matches!(sqlx_cause(err), Some(sqlx::Error::Database(e)) if e.is_unique_violation())
}
