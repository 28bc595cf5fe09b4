//! Group commit of screening decisions, on both backends. Every decision appends to the one
//! audit chain (read its head, append the next link), so decisions are written one at a time
//! whatever the backend: on SQLite by the single writer, on PostgreSQL under the chain's
//! advisory lock. Committing each on its own costs a commit per decision (a WAL flush, and on
//! PostgreSQL the lock's hand-over as well), which made a decision about 2 ms when the chain
//! watcher funds many payments at once.
//!
//! Decisions queued together are written in one transaction instead, each inside its own
//! savepoint, and every caller is answered once that transaction is committed: a decision is
//! durable when its answer comes, as before. Each decision still stands or falls alone: one
//! whose intent moved (or whose payer's history grew, or whose payment transaction is no
//! longer pending) is rolled back to its savepoint and answered `Conflict`; one that fails is
//! rolled back and answered its error; the others are committed. A later decision sees the
//! earlier ones of its batch (the audit head they appended, the payments they recorded), as
//! it would have seen them committed.

use super::Connections;
use rialto_compliance::AuditEntry;

use super::batcher::Batcher;
use super::decision_batch;
use super::savepoints;
use super::sql::Backend;
use super::sql_compliance::decide_in;
use super::Db;
use super::{CasOutcome, CaseRecord, IntentChange, ScreenedPayment, StoreError};

/// One screening decision as `ComplianceStore::record_decision` takes it.
#[derive(Debug, Clone)]
pub struct Decision {
    pub case: CaseRecord,
    pub audit: AuditEntry,
    pub intent: Option<IntentChange>,
    pub payment: Option<ScreenedPayment>,
}

type Answer = Result<CasOutcome, StoreError>;

#[derive(Debug, Clone)]
pub struct DecisionCommitter {
    batches: Batcher<Decision, Answer>,
}

impl DecisionCommitter {
    /// Starts the committer, writing through `writer` (the store's writer pool). One: every
    /// decision appends to the one audit chain, so two would only wait for each other.
    pub fn spawn(writer: Connections, backend: Backend) -> Self {
        let batches = Batcher::spawn(1, savepoints::MAX_BATCH, move |decisions: Vec<Decision>| {
            let writer = writer.clone();
            async move { commit_batch(&writer, backend, &decisions).await }
        });
        Self { batches }
    }

    /// Writes `decision` in the next batch; returns once that batch is committed (or failed).
    pub async fn execute(&self, decision: Decision) -> Answer {
        match self.batches.submit(decision).await {
            Some(answer) => answer,
            None => Err(sqlx::Error::PoolClosed).db(),
        }
    }
}

/// Commits `decisions` together: through the multi-row fast path when it can answer them
/// all (`decision_batch`), else one savepoint each, a `Conflict` rolled back to its own.
async fn commit_batch(
    writer: &Connections,
    backend: Backend,
    decisions: &[Decision],
) -> Vec<Answer> {
    if decisions.len() > 1 {
        if let Some(answers) = decision_batch::try_commit(writer, backend, decisions).await {
            return answers.into_iter().map(Ok).collect();
        }
    }
    savepoints::commit_each(
        writer,
        backend,
        decisions,
        |outcome| *outcome == CasOutcome::Updated,
        |tx, backend, decision| Box::pin(decide_in(tx, backend, decision)),
    )
    .await
}
