//! Writing a batch of independent jobs in one transaction, each inside its own savepoint (the
//! store's group commits): a job that fails or is refused is rolled back to its savepoint and
//! answered alone, the others are committed together. SQLite's BUSY (another connection holds
//! the write lock) drops the whole transaction and the batch is tried again, as a lone write
//! was; any other failure of the transaction itself fails every job, none of it kept.

use std::future::Future;
use std::pin::Pin;

use super::Connections;
use super::Tx;

use super::sql::Backend;
use super::sql_compliance::{is_busy, BUSY_ATTEMPTS};
use super::{Db, StoreError};

/// The most jobs one batch takes. PostgreSQL caches 64 subtransactions per backend
/// (`PGPROC_MAX_CACHED_SUBXIDS`); a transaction with more overflows it and slows every other
/// session's snapshots, so a batch never holds more than 64 savepoints. Do not raise.
pub const MAX_BATCH: usize = 64;

/// One job's writes inside the batch's transaction.
pub type Step<'t, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>>;

/// Commits `jobs` and answers one result per job, in order. `kept` says whether a job's
/// successful result is kept (released) or undone (rolled back to its savepoint, as a refusal
/// such as a compare-and-set `Conflict`).
pub async fn commit_each<J: Sync, T: Send>(
    writer: &Connections,
    backend: Backend,
    jobs: &[J],
    kept: fn(&T) -> bool,
    step: for<'t> fn(&'t mut Tx, Backend, &'t J) -> Step<'t, T>,
) -> Vec<Result<T, StoreError>> {
    let mut attempt = 0;
    loop {
        match try_each(writer, backend, jobs, kept, step).await {
            Err(err) if is_busy(&err) && attempt + 1 < BUSY_ATTEMPTS => attempt += 1,
            Err(err) => return failed_all(jobs.len(), err),
            Ok(answers) => return answers,
        }
    }
}

fn failed_all<T>(count: usize, err: StoreError) -> Vec<Result<T, StoreError>> {
    // A lone job keeps its error as the database gave it (callers classify it).
    if count == 1 {
        return vec![Err(err)];
    }
    (0..count)
        .map(|_| Err(sqlx::Error::Protocol(format!("batch commit failed: {err}"))).db())
        .collect()
}

/// `Err` only for what fails the whole batch (beginning, a savepoint statement, a BUSY, the
/// commit): nothing of it is then kept.
async fn try_each<J: Sync, T: Send>(
    writer: &Connections,
    backend: Backend,
    jobs: &[J],
    kept: fn(&T) -> bool,
    step: for<'t> fn(&'t mut Tx, Backend, &'t J) -> Step<'t, T>,
) -> Result<Vec<Result<T, StoreError>>, StoreError> {
    let mut tx = writer.begin().await.db()?;
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        exec(&mut tx, "SAVEPOINT job").await?;
        match step(&mut tx, backend, job).await {
            Ok(done) if kept(&done) => {
                exec(&mut tx, "RELEASE job").await?;
                answers.push(Ok(done));
            }
            // Another connection holds the write lock: the whole transaction is dropped
            // (rolled back) and the batch goes again.
            Err(err) if is_busy(&err) => return Err(err),
            other => {
                exec(&mut tx, "ROLLBACK TO job").await?;
                exec(&mut tx, "RELEASE job").await?;
                answers.push(other);
            }
        }
    }
    // PostgreSQL answers COMMIT of an aborted transaction by rolling it back, without an
    // error: a statement first, which fails if anything left the transaction aborted, so no
    // answer claims a write that was rolled back.
    if backend == Backend::Postgres {
        exec(&mut tx, "SELECT 1").await?;
    }
    tx.commit().await.db()?;
    Ok(answers)
}

async fn exec(tx: &mut Tx, statement: &str) -> Result<(), StoreError> {
    sqlx::query(statement).execute(&mut **tx).await.db()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum Job {
        Insert(i64),
        /// Writes its row, then fails (a duplicate key): its row must go too.
        InsertThenFail(i64),
        /// Writes its row, then is refused (as a compare-and-set `Conflict`).
        InsertThenRefuse(i64),
    }

    fn step<'t>(tx: &'t mut Tx, _: Backend, job: &'t Job) -> Step<'t, bool> {
        Box::pin(async move {
            let insert = |id: i64| sqlx::query("INSERT INTO t (id) VALUES ($1)").bind(id);
            let (id, then) = match job {
                Job::Insert(id) => (*id, None),
                Job::InsertThenFail(id) => (*id, Some(true)),
                Job::InsertThenRefuse(id) => (*id, Some(false)),
            };
            insert(id).execute(&mut **tx).await.db()?;
            match then {
                None => Ok(true),
                Some(false) => Ok(false),
                Some(true) => insert(1).execute(&mut **tx).await.db().map(|_| true),
            }
        })
    }

    #[tokio::test]
    async fn in_one_batch_a_late_failure_and_a_refusal_are_undone_alone() {
        let pool = crate::store::memory_pool("CREATE TABLE t (id INTEGER PRIMARY KEY)").await;
        let jobs = [
            Job::Insert(1),
            Job::InsertThenFail(2),
            Job::InsertThenRefuse(3),
            Job::Insert(4),
        ];
        let answers = commit_each(&pool, Backend::Sqlite, &jobs, |kept| *kept, step).await;
        assert!(matches!(answers[0], Ok(true)));
        assert!(answers[1].is_err(), "the failing job answers its own error");
        assert!(
            matches!(answers[2], Ok(false)),
            "the refused job answers its refusal"
        );
        assert!(
            matches!(answers[3], Ok(true)),
            "a job after them is still kept"
        );
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM t ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(ids, [1, 4], "only the kept jobs' writes were committed");
    }
}
