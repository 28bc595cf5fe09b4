//! Writing a batch of independent jobs in one transaction, each inside its own savepoint (the
//! store's group commits): a job that fails or is refused is rolled back to its savepoint and
//! answered alone, the others are committed together. SQLite's BUSY (another connection holds
//! the write lock) drops the whole transaction and the batch is tried again, as a lone write
//! was; any other failure of the transaction itself fails every job, none of it kept.

use std::future::Future;
use std::pin::Pin;

use sqlx::{Any, AnyPool, Transaction};

use super::sql::Backend;
use super::sql_compliance::{is_busy, BUSY_ATTEMPTS};
use super::{Db, StoreError};

/// One job's writes inside the batch's transaction.
pub type Step<'t, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>>;

/// Commits `jobs` and answers one result per job, in order. `kept` says whether a job's
/// successful result is kept (released) or undone (rolled back to its savepoint, as a refusal
/// such as a compare-and-set `Conflict`).
pub async fn commit_each<J: Sync, T: Send>(
    writer: &AnyPool,
    backend: Backend,
    jobs: &[J],
    kept: fn(&T) -> bool,
    step: for<'t, 'c> fn(&'t mut Transaction<'c, Any>, Backend, &'t J) -> Step<'t, T>,
) -> Vec<Result<T, StoreError>> {
    let mut attempt = 0;
    loop {
        match try_each(writer, backend, jobs, kept, step).await {
            Err(err) if is_busy(&err) && attempt + 1 < BUSY_ATTEMPTS => attempt += 1,
            Err(err) => return failed_all(jobs.len(), &err),
            Ok(answers) => return answers,
        }
    }
}

fn failed_all<T>(count: usize, err: &StoreError) -> Vec<Result<T, StoreError>> {
    (0..count)
        .map(|_| Err(sqlx::Error::Protocol(format!("batch commit failed: {err}"))).db())
        .collect()
}

/// `Err` only for what fails the whole batch (beginning, a savepoint statement, a BUSY, the
/// commit): nothing of it is then kept.
async fn try_each<J: Sync, T: Send>(
    writer: &AnyPool,
    backend: Backend,
    jobs: &[J],
    kept: fn(&T) -> bool,
    step: for<'t, 'c> fn(&'t mut Transaction<'c, Any>, Backend, &'t J) -> Step<'t, T>,
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
    tx.commit().await.db()?;
    Ok(answers)
}

async fn exec(tx: &mut Transaction<'_, Any>, statement: &str) -> Result<(), StoreError> {
    sqlx::query(statement).execute(&mut **tx).await.db()?;
    Ok(())
}
