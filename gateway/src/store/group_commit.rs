//! Group commit for SQLite. SQLite takes one writer at a time and a durable commit costs an
//! fsync, so committing each create on its own caps throughput at one fsync per request. The
//! committer runs queued writes in one transaction, each inside its own savepoint (a failing
//! write — say a duplicate idempotency key — rolls back alone and reports its own error), then
//! commits once and answers every caller. A caller's write is durable when its answer comes.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyPool};
use tokio::sync::{mpsc, oneshot};

/// A statement with its arguments, ready to run on the committer's connection.
pub type Write = Query<'static, Any, AnyArguments<'static>>;

/// The most writes one transaction takes; bounds the latency a batch adds.
const MAX_BATCH: usize = 128;

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<(), sqlx::Error>>,
}

#[derive(Debug, Clone)]
pub struct GroupCommitter {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommitter {
    /// Starts the committer on its own connection from `pool`.
    pub fn spawn(pool: AnyPool) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(pool, rx));
        Self { jobs }
    }

    /// Runs `write` in the next batch; returns once that batch is committed (or failed).
    pub async fn execute(&self, write: Write) -> Result<(), sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn run(pool: AnyPool, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (writes, replies): (Vec<Write>, Vec<_>) =
            batch.into_iter().map(|j| (j.write, j.reply)).unzip();
        let results = commit_batch(&pool, writes).await;
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that gave up waiting is fine: its write stands or fell like the others.
            let _ = reply.send(result);
        }
    }
}

/// One transaction for the whole batch, one savepoint per write.
async fn commit_batch(pool: &AnyPool, writes: Vec<Write>) -> Vec<Result<(), sqlx::Error>> {
    let count = writes.len();
    let failed_all = |err: &sqlx::Error| -> Vec<Result<(), sqlx::Error>> {
        (0..count)
            .map(|_| Err(sqlx::Error::Protocol(format!("batch commit failed: {err}"))))
            .collect()
    };
    let mut tx = match pool.begin().await {
        Ok(tx) => tx,
        Err(err) => return failed_all(&err),
    };
    let mut results = Vec::with_capacity(count);
    for write in writes {
        if let Err(err) = sqlx::query("SAVEPOINT w").execute(&mut *tx).await {
            return failed_all(&err);
        }
        let result = write.execute(&mut *tx).await.map(|_| ());
        let end = if result.is_ok() {
            "RELEASE w"
        } else {
            "ROLLBACK TO w"
        };
        if let Err(err) = sqlx::query(end).execute(&mut *tx).await {
            return failed_all(&err);
        }
        if end == "ROLLBACK TO w" {
            if let Err(err) = sqlx::query("RELEASE w").execute(&mut *tx).await {
                return failed_all(&err);
            }
        }
        results.push(result);
    }
    match tx.commit().await {
        Ok(()) => results,
        Err(err) => failed_all(&err),
    }
}
