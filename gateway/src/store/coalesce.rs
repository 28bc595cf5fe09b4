//! Point reads of one key that arrive together share one statement.
//!
//! A burst of payments for one merchant reads the same rows once per request: its settings, its
//! record, its compliance policy, the API key the requests carry (a thousand payments at once
//! were four thousand identical reads, each a round trip to a connection's thread). Here the
//! first read of a key waits for a connection as before; reads of the same key arriving while
//! it waits join it and take its result. Once it holds a connection it is *started*, and later
//! reads start their own: a joined read's statement runs after the joiner arrived, so it sees
//! every write committed before that, exactly as a read of its own would. Nothing is kept
//! after the statement: this is not a cache.
//!
//! If the first read fails (or its request is dropped), the reads that joined it read alone.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use tokio::sync::watch;

use super::{ApiKeyRecord, Conn, Connections, Db, Merchant, StoreError};

/// The reads a burst of one merchant's payments repeats, shared (see the module's doc).
#[derive(Debug, Default)]
pub(super) struct SharedReads {
    /// `merchant_settings`, by merchant and mode.
    pub settings: Coalesce<Option<String>>,
    /// `merchants`, by id.
    pub merchants: Coalesce<Option<Merchant>>,
    /// `compliance_policies`, by merchant.
    pub policies: Coalesce<Option<String>>,
    /// `api_keys` not revoked, by hash (when the key cache does not answer).
    pub keys: Coalesce<Option<ApiKeyRecord>>,
}

/// Reads not yet started, by key, each with the channel its result will be sent on.
#[derive(Debug)]
pub(super) struct Coalesce<V> {
    waiting: Mutex<HashMap<String, watch::Receiver<Option<V>>>>,
}

impl<V> Default for Coalesce<V> {
    fn default() -> Self {
        Self {
            waiting: Mutex::default(),
        }
    }
}

impl<V: Clone + Send + Sync> Coalesce<V> {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Receiver<Option<V>>>> {
        // Inserts and removes only: a panic while holding the lock left the map whole.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `read`'s result for `key`: the result of a read of the same key that has not started
    /// yet, or else of `read` itself, run on a connection of `pool`.
    pub(super) async fn read<F, Fut>(
        &self,
        pool: &Connections,
        key: String,
        read: F,
    ) -> Result<V, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<V, StoreError>>,
    {
        let joined = self.waiting().get(&key).cloned();
        if let Some(mut first) = joined {
            if let Ok(value) = first.wait_for(Option::is_some).await {
                if let Some(value) = value.clone() {
                    return Ok(value);
                }
            }
            // The first read failed or was dropped: read alone.
        }
        let (sender, receiver) = watch::channel(None);
        self.waiting().insert(key.clone(), receiver.clone());
        let started = Started {
            coalesce: self,
            key: &key,
            receiver: &receiver,
        };
        let connection = pool.acquire().await.db();
        // Holding a connection (or failed): the statement is about to run, so a read arriving
        // from now on could miss a write committed after this one started. It reads alone.
        drop(started);
        let value = read(connection?).await?;
        let _ = sender.send(Some(value.clone()));
        Ok(value)
    }
}

/// Takes a read out of the waiting map when it starts, or when its future is dropped before.
struct Started<'a, V> {
    coalesce: &'a Coalesce<V>,
    key: &'a str,
    receiver: &'a watch::Receiver<Option<V>>,
}

impl<V> Drop for Started<'_, V> {
    fn drop(&mut self) {
        let mut waiting = self
            .coalesce
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Only this read's entry: another may have replaced it (this one's joiners still hold
        // their receivers).
        if waiting
            .get(self.key)
            .is_some_and(|r| r.same_channel(self.receiver))
        {
            waiting.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use sqlx::Row;

    async fn one_connection() -> Connections {
        crate::store::memory_pool(
            "CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT NOT NULL); \
             INSERT INTO t (k, v) VALUES ('a', 1);",
        )
        .await
    }

    /// Reads `k`'s value through `coalesce`, counting the statements run.
    async fn read_v(
        coalesce: &Coalesce<i64>,
        pool: &Connections,
        statements: &AtomicUsize,
    ) -> Result<i64, StoreError> {
        coalesce
            .read(pool, "a".into(), |mut conn| async move {
                statements.fetch_add(1, Ordering::SeqCst);
                let row = sqlx::query("SELECT v FROM t WHERE k = 'a'")
                    .fetch_one(&mut *conn)
                    .await
                    .db()?;
                row.try_get::<i64, _>("v").db()
            })
            .await
    }

    #[tokio::test]
    async fn reads_arriving_while_the_first_waits_for_a_connection_share_its_statement() {
        let pool = one_connection().await;
        let coalesce = Arc::new(Coalesce::<i64>::default());
        let statements = Arc::new(AtomicUsize::new(0));
        // The only connection is busy: the first read waits, and nine more arrive meanwhile.
        let held = pool.acquire().await.unwrap();
        let reads: Vec<_> = (0..10)
            .map(|_| {
                let (c, p, s) = (coalesce.clone(), pool.clone(), statements.clone());
                tokio::spawn(async move { read_v(&c, &p, &s).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        for read in reads {
            assert_eq!(read.await.unwrap().unwrap(), 1);
        }
        assert_eq!(statements.load(Ordering::SeqCst), 1);
        assert!(coalesce.waiting().is_empty());
    }

    #[tokio::test]
    async fn a_read_arriving_after_the_first_started_runs_its_own_and_sees_later_writes() {
        let pool = one_connection().await;
        let coalesce = Coalesce::<i64>::default();
        let statements = AtomicUsize::new(0);
        assert_eq!(read_v(&coalesce, &pool, &statements).await.unwrap(), 1);
        sqlx::query("UPDATE t SET v = 2 WHERE k = 'a'")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(read_v(&coalesce, &pool, &statements).await.unwrap(), 2);
        assert_eq!(statements.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn when_the_first_read_is_dropped_the_joined_reads_read_alone() {
        let pool = one_connection().await;
        let coalesce = Arc::new(Coalesce::<i64>::default());
        let statements = Arc::new(AtomicUsize::new(0));
        let held = pool.acquire().await.unwrap();
        let first = {
            let (c, p, s) = (coalesce.clone(), pool.clone(), statements.clone());
            tokio::spawn(async move { read_v(&c, &p, &s).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let joined = {
            let (c, p, s) = (coalesce.clone(), pool.clone(), statements.clone());
            tokio::spawn(async move { read_v(&c, &p, &s).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        first.abort();
        let _ = first.await;
        drop(held);
        assert_eq!(joined.await.unwrap().unwrap(), 1);
        assert_eq!(statements.load(Ordering::SeqCst), 1);
    }
}
