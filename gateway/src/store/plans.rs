//! Query plans of statements whose cost must not grow with history (issue 21, point 7): each
//! is asked `EXPLAIN QUERY PLAN` of a migrated SQLite database. SQLite has no statistics until
//! `ANALYZE`, so its planner picks by the indexes alone; these tests fail if an index they rely
//! on is dropped or a rewrite makes the planner walk a whole table or index again.

use std::sync::Arc;

use sqlx::Row;

use super::sql::SqlStore;
use super::sql_chain::funded_intents_sql;
use super::sql_exchange::ERASE_FINISHED_CREDENTIALS;
use super::Store;

/// The plan's detail lines of `sql`, every parameter bound to NULL.
async fn plan(store: &SqlStore, sql: &str, params: usize) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut query = sqlx::query(&explain);
    for _ in 0..params {
        query = query.bind(None::<String>);
    }
    query
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String, _>("detail").unwrap())
        .collect()
}

async fn store() -> (tempfile::TempDir, SqlStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("plans.db").display());
    let registry = Arc::new(rialto_engine::registry::builtin().unwrap());
    let store = SqlStore::connect(&url, 2, registry).await.unwrap();
    store.migrate().await.unwrap();
    (dir, store)
}

/// Before migration 0047 the planner probed `payment_transactions` by (chain, status) for
/// every intent: every confirmed transaction of the chain, per intent.
#[tokio::test]
async fn a_chains_funded_intents_are_probed_by_intent() {
    let (_dir, store) = store().await;
    let plan = plan(&store, &funded_intents_sql(), 4).await;
    assert!(
        plan.iter().any(|d| d.contains(
            "payment_transactions_intent (payment_intent_id=? AND chain_id=? AND status=?)"
        )),
        "{plan:?}"
    );
    assert!(
        !plan
            .iter()
            .any(|d| d.contains("payment_transactions_status")),
        "{plan:?}"
    );
}

/// Before, the statement listed every finished intent and probed the accounts for each.
#[tokio::test]
async fn credential_erasure_starts_from_the_accounts_not_erased() {
    let (_dir, store) = store().await;
    let plan = plan(&store, ERASE_FINISHED_CREDENTIALS, 1).await;
    assert!(
        plan.first()
            .is_some_and(|d| d.contains("exchange_accounts_to_erase")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|d| d.contains("LIST SUBQUERY")),
        "{plan:?}"
    );
}
