//! The queue behind the store's group commits (`group_commit`, `decision_commit`,
//! relay enqueues): callers hand in one job each and wait; committers take whatever is queued
//! (up to a bound), write it in one transaction and answer every caller with its own result,
//! in order. A caller is answered only once its batch is committed or failed.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, Mutex};

type Job<J, R> = (J, oneshot::Sender<R>);

#[derive(Debug)]
pub struct Batcher<J, R> {
    jobs: mpsc::Sender<Job<J, R>>,
}

impl<J, R> Clone for Batcher<J, R> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

impl<J: Send + 'static, R: Send + 'static> Batcher<J, R> {
    /// Starts `committers` tasks, each taking batches of up to `max_batch` jobs and answering
    /// them with `commit`, which must give one result per job, in order.
    pub fn spawn<F, Fut>(committers: usize, max_batch: usize, commit: F) -> Self
    where
        F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let (jobs, rx) = mpsc::channel(4 * max_batch);
        let rx = Arc::new(Mutex::new(rx));
        let commit = Arc::new(commit);
        for _ in 0..committers {
            tokio::spawn(run(rx.clone(), max_batch, commit.clone()));
        }
        Self { jobs }
    }

    /// Queues `job` and waits for its batch's answer; `None` when the committers are gone.
    pub async fn submit(&self, job: J) -> Option<R> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send((job, reply)).await.ok()?;
        answer.await.ok()
    }
}

async fn run<J, R, F, Fut>(rx: Arc<Mutex<mpsc::Receiver<Job<J, R>>>>, max: usize, commit: Arc<F>)
where
    F: Fn(Vec<J>) -> Fut,
    Fut: Future<Output = Vec<R>>,
{
    while let Some(batch) = next_batch(&rx, max).await {
        let (jobs, replies): (Vec<J>, Vec<_>) = batch.into_iter().unzip();
        let (count, started) = (jobs.len(), std::time::Instant::now());
        // A panic inside one batch (its transaction dropped, so rolled back) answers that
        // batch's callers "closed" and leaves the committer running for the next ones.
        let Ok(answers) = AssertUnwindSafe(commit(jobs)).catch_unwind().await else {
            tracing::error!("a store batch commit panicked; its callers are answered an error");
            continue;
        };
        tracing::debug!(
            job = std::any::type_name::<J>(),
            jobs = count,
            us = started.elapsed().as_micros() as u64,
            "store batch committed"
        );
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that gave up waiting is fine: its write stands or fell like the others.
            let _ = reply.send(answer);
        }
    }
}

/// Waits for a job, then takes whatever else is queued (up to `max`). The queue is held only
/// while taking, so another committer can take the next batch meanwhile.
async fn next_batch<T>(rx: &Mutex<mpsc::Receiver<T>>, max: usize) -> Option<Vec<T>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}
