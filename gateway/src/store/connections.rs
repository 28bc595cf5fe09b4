//! The store's connections: sqlx's pool on PostgreSQL, connections of our own on SQLite.
//!
//! sqlx's pool (sqlx-core 0.8.6, `PoolConnection::drop`) gives every connection back through a
//! spawned task that first pings it. For a network connection that check is worth its round
//! trip. A SQLite connection is this process's own handle on a local file, served by a thread
//! of sqlx-sqlite that runs its commands in order: the ping is two more thread hand-offs and a
//! wait in the runtime's queue after every statement, and the writer (one connection) stays
//! taken until then. Here a SQLite connection goes back to the idle list the moment its guard
//! is dropped. A command still running then (its future dropped) finishes before the next
//! user's first one, since the connection's thread takes commands in order, and a transaction
//! dropped unfinished has queued its rollback ([`Tx`], which owns its connection). A
//! connection whose thread has gone (`WorkerCrashed`) or whose file failed (`Io`) is not given
//! back: the next acquire opens a new one.
//!
//! Measured on the 1,000-payment load benchmark (docs/BENCHMARKS.md, session 15).

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use sqlx::any::{AnyConnectOptions, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::pool::PoolConnection;
use sqlx::{
    Any, AnyConnection, AnyPool, ConnectOptions, Describe, Either, Execute, Executor,
    TransactionManager,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long an acquire waits for a connection before it fails, as sqlx's pool was set to.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the store's statements run.
#[derive(Debug, Clone)]
pub enum Connections {
    /// sqlx's pool (PostgreSQL): each connection checked before use and on its way back.
    Pool(AnyPool),
    /// SQLite: at most `max` connections, given back as soon as their guard is dropped.
    Local(Arc<Local>),
}

/// A SQLite database's connections (see the module's doc).
#[derive(Debug)]
pub struct Local {
    options: AnyConnectOptions,
    idle: Mutex<Vec<AnyConnection>>,
    permits: Arc<Semaphore>,
}

/// A connection taken from [`Connections`]; given back when dropped.
#[derive(Debug)]
pub enum Conn {
    Pooled(PoolConnection<Any>),
    Local {
        conn: Option<AnyConnection>,
        local: Arc<Local>,
        broken: bool,
        _permit: OwnedSemaphorePermit,
    },
}

impl Connections {
    /// At most `max` SQLite connections to `url`, each opened when first needed and set up
    /// by `sqlite_pragmas`.
    pub fn local(url: &str, max: u32) -> Result<Self, sqlx::Error> {
        let options = url.parse::<AnyConnectOptions>()?;
        let max = usize::try_from(max.max(1)).unwrap_or(1);
        Ok(Self::Local(Arc::new(Local {
            options,
            idle: Mutex::new(Vec::with_capacity(max)),
            permits: Arc::new(Semaphore::new(max)),
        })))
    }

    /// A connection: the next free one, waiting in turn (first come, first served).
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        match self {
            Self::Pool(pool) => pool.acquire().await.map(Conn::Pooled),
            Self::Local(local) => {
                let permit =
                    tokio::time::timeout(ACQUIRE_TIMEOUT, local.permits.clone().acquire_owned())
                        .await
                        .map_err(|_| sqlx::Error::PoolTimedOut)?
                        .map_err(|_| sqlx::Error::PoolClosed)?;
                let idle = local.idle().pop();
                let conn = match idle {
                    Some(conn) => conn,
                    None => {
                        let mut conn = local.options.connect().await?;
                        sqlite_pragmas(&mut conn).await?;
                        conn
                    }
                };
                Ok(Conn::Local {
                    conn: Some(conn),
                    local: local.clone(),
                    broken: false,
                    _permit: permit,
                })
            }
        }
    }

    /// A transaction on the next free connection, which it holds until it ends.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let begun = Manager::begin(&mut conn, None).await;
        conn.check(begun)?;
        Ok(Tx { conn, open: true })
    }
}

impl Local {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<AnyConnection>> {
        // Pushes and pops only: a panic while holding the lock left the list whole.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What every SQLite connection of the store is set to: WAL lets readers run beside the one
/// writer; FULL keeps every commit durable across power loss; the busy timeout queues
/// writers of other processes (the CLI); foreign keys are checked.
async fn sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA foreign_keys = ON",
    ] {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    Ok(())
}

impl Conn {
    /// Marks the connection as not to be given back when `result` says it is gone.
    fn check<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if let (Err(sqlx::Error::WorkerCrashed | sqlx::Error::Io(_)), Conn::Local { broken, .. }) =
            (&result, &mut *self)
        {
            *broken = true;
        }
        result
    }
}

impl Deref for Conn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Local { conn, .. } => conn.as_ref().expect("a connection until dropped"),
        }
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Conn::Pooled(conn) => conn,
            Conn::Local { conn, .. } => conn.as_mut().expect("a connection until dropped"),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Conn::Local {
            conn,
            local,
            broken: false,
            ..
        } = self
        {
            if let Some(conn) = conn.take() {
                local.idle().push(conn);
            }
        }
        // The permit is released after (a field), so a waiter finds the connection idle.
    }
}

type Manager = <Any as sqlx::Database>::TransactionManager;

/// A transaction that owns its connection (sqlx's `Transaction` borrows ours, which would
/// keep the connection taken until the borrower's scope ends, not when the transaction does):
/// committed, or rolled back when dropped unfinished; the connection goes back as it ends.
#[derive(Debug)]
pub struct Tx {
    conn: Conn,
    open: bool,
}

impl Tx {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let committed = Manager::commit(&mut self.conn).await;
        self.conn.check(committed)?;
        self.open = false;
        Ok(())
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let rolled_back = Manager::rollback(&mut self.conn).await;
        self.conn.check(rolled_back)?;
        self.open = false;
        Ok(())
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open {
            // Queued on the connection before it goes back: its next user's first command
            // runs after the rollback.
            Manager::start_rollback(&mut self.conn);
        }
    }
}

/// Statements run on the next free connection, as on sqlx's pool.
impl<'p> Executor<'p> for &'_ Connections {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        let connections = self.clone();
        // Collected before they are yielded: the store's reads are bounded (pages, batches, a
        // `LIMIT` each) and none streams (no `fetch`).
        futures::stream::once(async move {
            let mut conn = connections.acquire().await?;
            let rows: Result<Vec<_>, _> = conn.fetch_many(query).try_collect().await;
            let rows = conn.check(rows)?;
            Ok::<_, sqlx::Error>(futures::stream::iter(rows.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<AnyRow>, sqlx::Error>>
    where
        E: 'q + Execute<'q, Any>,
    {
        let connections = self.clone();
        Box::pin(async move {
            let mut conn = connections.acquire().await?;
            let row = conn.fetch_optional(query).await;
            conn.check(row)
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, sqlx::Error>> {
        let connections = self.clone();
        Box::pin(async move {
            let mut conn = connections.acquire().await?;
            let statement = conn.prepare_with(sql, parameters).await;
            conn.check(statement)
        })
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Any>, sqlx::Error>> {
        let connections = self.clone();
        Box::pin(async move { connections.acquire().await?.describe(sql).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    /// At most `max` of our own connections to a fresh database file, with one table.
    async fn local(max: u32) -> (tempfile::TempDir, Connections) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let connections = Connections::local(&url, max).unwrap();
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY)")
            .execute(&connections)
            .await
            .unwrap();
        (dir, connections)
    }

    async fn count(connections: &Connections) -> i64 {
        sqlx::query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(connections)
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    }

    /// A transaction that has inserted `id`, not yet ended.
    async fn inserting(connections: &Connections, id: i64) -> Tx {
        let mut tx = connections.begin().await.unwrap();
        sqlx::query("INSERT INTO t (id) VALUES ($1)")
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx
    }

    /// The only connection is free again within a second (it used to wait for a ping).
    async fn free_again(connections: &Connections) -> Conn {
        tokio::time::timeout(Duration::from_secs(1), connections.acquire())
            .await
            .expect("the connection was not given back")
            .unwrap()
    }

    #[tokio::test]
    async fn a_committed_transaction_gives_its_connection_back_as_it_ends() {
        let (_dir, connections) = local(1).await;
        let tx = inserting(&connections, 1).await;
        tx.commit().await.unwrap();
        // Still in the committer's scope: the connection is free all the same.
        drop(free_again(&connections).await);
        assert_eq!(count(&connections).await, 1);
    }

    #[tokio::test]
    async fn a_transaction_dropped_unfinished_is_rolled_back_before_the_next_user_runs() {
        let (_dir, connections) = local(1).await;
        let tx = inserting(&connections, 1).await;
        drop(tx);
        // The next user may begin at once: no transaction is left open on the connection.
        let tx = inserting(&connections, 2).await;
        tx.commit().await.unwrap();
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM t")
            .fetch_all(&connections)
            .await
            .unwrap();
        assert_eq!(ids, vec![2]);
    }

    #[tokio::test]
    async fn a_statement_whose_caller_went_away_does_not_reach_the_next_user() {
        let (_dir, connections) = local(1).await;
        // A write dropped before it was polled to the end, inside a transaction: both undone.
        let mut tx = connections.begin().await.unwrap();
        let write = sqlx::query("INSERT INTO t (id) VALUES (1)").execute(&mut *tx);
        let _ = tokio::time::timeout(Duration::from_nanos(1), write).await;
        drop(tx);
        let mut conn = free_again(&connections).await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn no_more_than_max_connections_are_out_at_once() {
        let (_dir, connections) = local(2).await;
        let first = connections.acquire().await.unwrap();
        let second = connections.acquire().await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(100), connections.acquire()).await;
        assert!(third.is_err(), "a third connection was handed out");
        drop(first);
        drop(free_again(&connections).await);
        drop(second);
    }
}
