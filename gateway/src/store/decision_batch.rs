//! The decision committer's fast path: a batch of screening decisions written with a few
//! multi-row statements instead of ten statements and two savepoint statements each.
//!
//! Every decision's case is inserted first, in one statement (as each decision writes its case
//! first in the savepoint path). Then the decisions' conditions are checked, each kind in one
//! statement for the whole batch: every payer's history (counted in the database, each against
//! its own window), then the compare-and-set of the intents of the decisions whose history
//! holds and to which no earlier such decision of the batch adds a payment, then the payment
//! transactions the kept decisions confirm. A decision that fails the first two is answered
//! `Conflict` and its case deleted again, as its savepoint would be rolled back. Then the kept
//! decisions' events, payments and audit links are written, a statement per table.
//!
//! Anything else (a confirmation that is no longer pending, one intent named by two decisions,
//! a case id the database refuses, any database error) gives the batch up: its transaction is
//! rolled back unwritten and the caller writes it through the savepoint path, which answers
//! each decision exactly. So the fast path never answers differently from the savepoint path,
//! except that a decision whose payer has an earlier decision in the same batch (one whose
//! history held) is answered `Conflict` (the caller screens it again, against the history
//! that then includes the other) without the database being asked whether the other's
//! payment was counted, or whether the other's intent moved meanwhile.

use std::collections::HashSet;

use super::Connections;
use super::Tx;
use sqlx::Row;

use super::batch_writes::{cas_intents_from, insert_events};
use super::decision_commit::Decision;
use super::rows::{insert_rows, list, rows_per_statement, tuples, Cell};
use super::sql::Backend;
use super::sql_compliance::{audit_head, lock_audit, AUDIT_COLUMNS, CASE_COLUMNS};
use super::{CasOutcome, Db, IntentChange, PaymentTransaction, ScreenedPayment, StoreError};

/// The batch's answers, one per decision in order; `None` when the batch was given up
/// (nothing of it written) and must go through the savepoint path.
pub(super) async fn try_commit(
    writer: &Connections,
    backend: Backend,
    decisions: &[Decision],
) -> Option<Vec<CasOutcome>> {
    let mut tx = writer.begin().await.ok()?;
    let answers = match write(&mut tx, backend, decisions).await {
        Ok(Some(answers)) => answers,
        outcome => {
            if let Err(err) = outcome {
                tracing::debug!(error = %err, "decision batch given up; writing it decision by decision");
            }
            // Rolled back on drop too; explicitly, so the writer is free for the savepoint path.
            let _ = tx.rollback().await;
            return None;
        }
    };
    tx.commit().await.ok()?;
    Some(answers)
}

/// `Ok(None)`: give the batch up (the caller drops `tx`, rolling it back).
async fn write(
    tx: &mut Tx,
    backend: Backend,
    decisions: &[Decision],
) -> Result<Option<Vec<CasOutcome>>, StoreError> {
    lock_audit(backend, tx).await?;
    // Every decision's case first, as each decision writes it first in the savepoint path: a
    // case id the database refuses gives the batch up, whatever that decision's conditions
    // (and on SQLite the first statement, a write, takes the write lock).
    let all: Vec<&Decision> = decisions.iter().collect();
    insert_cases(tx, &all).await?;
    // The conditions, a statement each for the whole batch: every payer's history, then the
    // intents' compare-and-set of the decisions whose history holds.
    let histories = histories_hold(tx, decisions).await?;
    let mut candidates: Vec<&Decision> = Vec::with_capacity(decisions.len());
    let mut holds = Vec::with_capacity(decisions.len());
    for (decision, history) in decisions.iter().zip(histories) {
        let held = history && !earlier_payment(decision, &candidates);
        if held {
            candidates.push(decision);
        }
        holds.push(held);
    }
    let changes: Vec<&IntentChange> = candidates
        .iter()
        .filter_map(|d| d.intent.as_ref())
        .collect();
    let mut named = HashSet::new();
    if !changes.iter().all(|c| named.insert(c.next.id)) {
        return Ok(None); // one intent twice: only the savepoint path answers that exactly
    }
    let writes: Vec<_> = changes
        .iter()
        .map(|c| (c.expected, c.next.version - 1, &c.next))
        .collect();
    let moved: HashSet<_> = cas_intents_from(tx, &writes)
        .await?
        .into_iter()
        .zip(&changes)
        .filter(|(written, _)| !written)
        .map(|(_, c)| c.next.id)
        .collect();
    let mut answers = Vec::with_capacity(decisions.len());
    let mut kept: Vec<&Decision> = Vec::with_capacity(decisions.len());
    for (decision, held) in decisions.iter().zip(holds) {
        let unmoved = decision
            .intent
            .as_ref()
            .is_none_or(|c| !moved.contains(&c.next.id));
        if held && unmoved {
            kept.push(decision);
            answers.push(CasOutcome::Updated);
        } else {
            answers.push(CasOutcome::Conflict);
        }
    }
    // The kept decisions' payment transactions confirmed, one statement: one that is no
    // longer pending gives the batch up.
    let confirms: Vec<(&PaymentTransaction, i64)> = kept
        .iter()
        .filter_map(|d| d.intent.as_ref())
        .filter_map(|c| c.confirms.as_ref().map(|p| (p, c.next.updated_at_ms)))
        .collect();
    if confirm_pending(tx, &confirms).await? != confirms.len() {
        return Ok(None);
    }
    delete_cases(tx, decisions, &answers).await?;
    let events: Vec<_> = kept
        .iter()
        .filter_map(|d| d.intent.as_ref())
        .flat_map(|c| &c.events)
        .collect();
    insert_events(tx, &events).await?;
    insert_payments(tx, &kept).await?;
    append_audit(tx, &kept).await?;
    Ok(Some(answers))
}

/// An earlier decision of the batch (one whose conditions held) adds to this decision's
/// payer history: answered `Conflict`, and screened again by the caller against the history
/// that then includes it, as the savepoint path would answer when that one is written.
fn earlier_payment(decision: &Decision, earlier: &[&Decision]) -> bool {
    let Some(p) = &decision.payment else {
        return false;
    };
    let Some((since, _)) = p.history_seen else {
        return false;
    };
    earlier.iter().filter_map(|d| d.payment.as_ref()).any(|q| {
        q.merchant_id == p.merchant_id
            && q.payer == p.payer
            && q.at_ms >= since
            && q.payment_intent_id != p.payment_intent_id
    })
}

/// Per decision, whether its payer's history in the database is what its rules saw
/// (`history_unchanged` for each, in one statement per chunk); `true` with no history to
/// check.
async fn histories_hold(tx: &mut Tx, decisions: &[Decision]) -> Result<Vec<bool>, StoreError> {
    let mut holds = vec![true; decisions.len()];
    let checked: Vec<(usize, &ScreenedPayment, i64, usize)> = decisions
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let p = d.payment.as_ref()?;
            let (since, seen) = p.history_seen?;
            Some((i, p, since, seen))
        })
        .collect();
    for chunk in checked.chunks(rows_per_statement(5)) {
        let sql = format!(
            "SELECT v.column1, (SELECT COUNT(*) FROM compliance_payments c WHERE c.merchant_id \
             = v.column2 AND c.payer = v.column3 AND c.at_ms >= v.column4 AND \
             c.payment_intent_id <> v.column5) FROM (VALUES {}) AS v",
            tuples(chunk.len(), 5)
        );
        let mut query = sqlx::query(&sql).persistent(false);
        for (i, p, since, _) in chunk {
            query = query
                .bind(i64::try_from(*i).unwrap_or(i64::MAX))
                .bind(p.merchant_id.to_string())
                .bind(p.payer.clone())
                .bind(*since)
                .bind(p.payment_intent_id.to_string());
        }
        let mut counted = std::collections::HashMap::new();
        for row in query.fetch_all(&mut **tx).await.db()? {
            counted.insert(
                row.try_get::<i64, _>(0).db()?,
                row.try_get::<i64, _>(1).db()?,
            );
        }
        for (i, _, _, seen) in chunk {
            let now = counted.get(&i64::try_from(*i).unwrap_or(i64::MAX));
            holds[*i] = now.and_then(|n| usize::try_from(*n).ok()) == Some(*seen);
        }
    }
    Ok(holds)
}

/// `sql_chain::update_payment_transaction` from `pending` for each `(ptx, at)`, one statement
/// per chunk: how many were written.
async fn confirm_pending(
    tx: &mut Tx,
    confirms: &[(&PaymentTransaction, i64)],
) -> Result<usize, StoreError> {
    let mut written = 0;
    for chunk in confirms.chunks(rows_per_statement(10)) {
        let sql = format!(
            "UPDATE payment_transactions SET status = v.column1, block_number = v.column2, \
             block_hash = v.column3, log_index = v.column4, amount = v.column5, updated_at = \
             v.column6, payer = v.column7 FROM (VALUES {}) AS v WHERE \
             payment_transactions.chain_id = v.column8 AND payment_transactions.tx_hash = \
             v.column9 AND payment_transactions.payment_intent_id = v.column10 AND \
             payment_transactions.status = 'pending' RETURNING payment_transactions.tx_hash",
            tuples(chunk.len(), 10)
        );
        let mut query = sqlx::query(&sql).persistent(false);
        for (ptx, at) in chunk {
            query = query
                .bind(ptx.status.as_str())
                .bind(ptx.block_number)
                .bind(ptx.block_hash.clone())
                .bind(ptx.log_index)
                .bind(ptx.amount.clone())
                .bind(*at)
                .bind(ptx.payer.clone())
                .bind(ptx.chain_id.clone())
                .bind(ptx.tx_hash.clone())
                .bind(ptx.payment_intent_id.to_string());
        }
        written += query.fetch_all(&mut **tx).await.db()?.len();
    }
    Ok(written)
}

async fn insert_cases(tx: &mut Tx, kept: &[&Decision]) -> Result<(), StoreError> {
    let rows = kept
        .iter()
        .map(|d| {
            let case = &d.case;
            vec![
                Cell::from(case.id.to_string()),
                Cell::from(case.merchant_id.map(|m| m.to_string())),
                Cell::from(i64::from(case.livemode)),
                Cell::from(case.payment_intent_id.map(|p| p.to_string())),
                Cell::from(case.point.clone()),
                Cell::from(case.outcome.clone()),
                Cell::from(case.status.as_str()),
                Cell::from(case.decision_json.clone()),
                Cell::from(case.subject_json.clone()),
                Cell::from(case.created_at_ms),
                Cell::from(case.resolved_at_ms),
                Cell::from(case.resolved_by.clone()),
                Cell::from(case.resolution_note.clone()),
            ]
        })
        .collect();
    let head = format!("INSERT INTO compliance_cases ({CASE_COLUMNS})");
    insert_rows(tx, &head, 13, "", rows).await?;
    Ok(())
}

/// The cases of the decisions answered `Conflict`: undone, as their savepoints would be.
async fn delete_cases(
    tx: &mut Tx,
    decisions: &[Decision],
    answers: &[CasOutcome],
) -> Result<(), StoreError> {
    let refused: Vec<String> = decisions
        .iter()
        .zip(answers)
        .filter(|(_, a)| **a == CasOutcome::Conflict)
        .map(|(d, _)| d.case.id.to_string())
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM compliance_cases WHERE id IN ({})",
        list(refused.len())
    );
    let mut query = sqlx::query(&sql).persistent(false);
    for id in refused {
        query = query.bind(id);
    }
    query.execute(&mut **tx).await.db()?;
    Ok(())
}

async fn insert_payments(tx: &mut Tx, kept: &[&Decision]) -> Result<(), StoreError> {
    let rows = kept
        .iter()
        .filter_map(|d| d.payment.as_ref())
        .map(|p| {
            vec![
                Cell::from(p.payment_intent_id.to_string()),
                Cell::from(p.merchant_id.to_string()),
                Cell::from(p.payer.clone()),
                Cell::from(p.amount.clone()),
                Cell::from(p.currency.clone()),
                Cell::from(p.at_ms),
            ]
        })
        .collect::<Vec<_>>();
    if rows.is_empty() {
        return Ok(());
    }
    insert_rows(
        tx,
        "INSERT INTO compliance_payments (payment_intent_id, merchant_id, payer, amount, \
         currency, at_ms)",
        6,
        " ON CONFLICT (payment_intent_id) DO NOTHING",
        rows,
    )
    .await?;
    Ok(())
}

/// The kept decisions' audit entries chained after the head, in the batch's order.
async fn append_audit(tx: &mut Tx, kept: &[&Decision]) -> Result<(), StoreError> {
    if kept.is_empty() {
        return Ok(());
    }
    let mut chain = audit_head(tx).await?;
    let mut rows = Vec::with_capacity(kept.len());
    for decision in kept {
        let record = chain.append(decision.audit.clone());
        let number = |v: u64, what: &str| {
            i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("compliance {what}")))
        };
        rows.push(vec![
            Cell::from(number(record.seq, "audit seq")?),
            Cell::from(record.entry.id.clone()),
            Cell::from(number(record.entry.at_ms, "audit time")?),
            Cell::from(record.entry.kind.clone()),
            Cell::from(record.entry.subject.clone()),
            Cell::from(record.entry.outcome.clone()),
            Cell::from(record.entry.detail.clone()),
            Cell::from(record.prev_hash.clone()),
            Cell::from(record.hash.clone()),
        ]);
    }
    let head = format!("INSERT INTO compliance_audit_log ({AUDIT_COLUMNS})");
    insert_rows(tx, &head, 9, "", rows).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rialto_compliance::{verify_chain, AuditEntry, ComplianceCaseId};
    use rialto_core::id::{MerchantId, PaymentIntentId};

    use super::*;
    use crate::store::sql::SqlStore;
    use crate::store::{CaseRecord, CaseStatus, ComplianceStore, ScreenedPayment, Store};

    fn decision(case: ComplianceCaseId, payment: Option<ScreenedPayment>) -> Decision {
        Decision {
            case: CaseRecord {
                id: case,
                merchant_id: None,
                livemode: false,
                payment_intent_id: None,
                point: "funds_received".into(),
                outcome: "clear".into(),
                status: CaseStatus::Closed,
                decision_json: "{}".into(),
                subject_json: "{}".into(),
                created_at_ms: 1,
                resolved_at_ms: None,
                resolved_by: None,
                resolution_note: None,
            },
            audit: AuditEntry {
                id: case.to_string(),
                at_ms: 1,
                kind: "screening".into(),
                subject: "pi".into(),
                outcome: "clear".into(),
                detail: "{}".into(),
            },
            intent: None,
            payment,
        }
    }

    fn payment(merchant: MerchantId, payer: &str, seen: usize) -> ScreenedPayment {
        ScreenedPayment {
            payment_intent_id: PaymentIntentId::generate(),
            merchant_id: merchant,
            payer: payer.into(),
            amount: "25".into(),
            currency: "usd".into(),
            at_ms: 100,
            history_seen: Some((0, seen)),
        }
    }

    async fn count(store: &SqlStore, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&store.writer)
            .await
            .unwrap()
    }

    /// The fast path itself (the concurrent store tests cannot be sure a batch forms): the
    /// conditions are judged in order, only the kept decisions are written, and a batch it
    /// cannot answer exactly is given up with nothing written.
    #[tokio::test]
    async fn a_batch_keeps_what_holds_and_gives_up_on_what_it_cannot_answer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("batch.db").display());
        let registry = Arc::new(rialto_engine::registry::builtin().unwrap());
        let store = SqlStore::connect(&url, 2, registry).await.unwrap();
        store.migrate().await.unwrap();
        let m = MerchantId::generate();
        let ids: Vec<ComplianceCaseId> = (0..4).map(|_| ComplianceCaseId::generate()).collect();
        let batch = [
            // Kept.
            decision(ids[0], Some(payment(m, "0xa", 0))),
            // The same payer, screened on the same empty history: the first one grew it.
            decision(ids[1], Some(payment(m, "0xa", 0))),
            // Its rules saw one earlier payment; the database has none.
            decision(ids[2], Some(payment(m, "0xb", 1))),
            // No payment to count: kept.
            decision(ids[3], None),
        ];
        let answers = try_commit(&store.writer, Backend::Sqlite, &batch)
            .await
            .expect("the fast path answers this batch");
        assert_eq!(
            answers,
            [
                CasOutcome::Updated,
                CasOutcome::Conflict,
                CasOutcome::Conflict,
                CasOutcome::Updated
            ]
        );
        for (i, id) in ids.iter().enumerate() {
            let kept = store.get_case(id).await.unwrap().is_some();
            assert_eq!(kept, i == 0 || i == 3, "case {i}");
        }
        let paid: Vec<String> =
            sqlx::query_scalar("SELECT payment_intent_id FROM compliance_payments")
                .fetch_all(&store.writer)
                .await
                .unwrap();
        let first = batch[0].payment.as_ref().unwrap().payment_intent_id;
        assert_eq!(paid, [first.to_string()]);
        let records = store.audit_records(0, 10).await.unwrap();
        let linked: Vec<&str> = records.iter().map(|r| r.entry.id.as_str()).collect();
        assert_eq!(linked, [ids[0].to_string(), ids[3].to_string()]);
        verify_chain(&records).unwrap();

        // A case id already stored: the batch is given up whole, nothing of it written.
        let again = [
            decision(ComplianceCaseId::generate(), Some(payment(m, "0xc", 0))),
            decision(ids[0], None),
        ];
        assert!(try_commit(&store.writer, Backend::Sqlite, &again)
            .await
            .is_none());
        assert_eq!(count(&store, "compliance_cases").await, 2);
        assert_eq!(count(&store, "compliance_payments").await, 1);
        assert_eq!(count(&store, "compliance_audit_log").await, 2);
    }
}
