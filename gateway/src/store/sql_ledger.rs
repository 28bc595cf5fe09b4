//! [`LedgerStore`] over sqlx `Any`.

use super::Db;
use super::Tx;
use std::collections::BTreeMap;

use async_trait::async_trait;
use rialto_core::id::MerchantId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use sqlx::Row;

use super::batch_writes::{cas_intents_from, insert_events};
use super::ledger::{IntentWrite, LedgerStore};
use super::rows::{insert_rows, Cell};
use super::sql::{cas_intent, cas_intent_from, insert_event, SqlStore};
use super::{CasOutcome, Event, StoreError};
use crate::ledger::{Entry, Posting};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("ledger {what}"))
}

impl SqlStore {
    async fn postings_where(
        &self,
        filter: &str,
        merchant: Option<(&MerchantId, bool)>,
    ) -> Result<Vec<Posting>, StoreError> {
        let sql = format!(
            "SELECT t.id, t.merchant_id, t.livemode, t.kind, t.reference, t.created_at, e.seq, \
             e.account, e.asset, e.amount FROM ledger_transactions t JOIN ledger_entries e ON \
             e.transaction_id = t.id {filter} ORDER BY t.created_at, t.id, e.seq"
        );
        let mut query = sqlx::query(&sql);
        if let Some((m, live)) = merchant {
            query = query.bind(m.to_string()).bind(i64::from(live));
        }
        let rows = query.fetch_all(&self.pool).await.db()?;
        let mut out: Vec<Posting> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for row in &rows {
            let id: String = row.try_get("id").db()?;
            let at = match index.get(&id) {
                Some(at) => *at,
                None => {
                    let merchant: String = row.try_get("merchant_id").db()?;
                    out.push(Posting {
                        id: id.clone(),
                        merchant_id: merchant.parse().map_err(|_| corrupt("merchant"))?,
                        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
                        kind: row.try_get("kind").db()?,
                        reference: row.try_get("reference").db()?,
                        created_at_ms: row.try_get("created_at").db()?,
                        entries: Vec::new(),
                    });
                    index.insert(id, out.len() - 1);
                    out.len() - 1
                }
            };
            let amount: String = row.try_get("amount").db()?;
            out[at].entries.push(Entry {
                account: row.try_get::<String, _>("account").db()?.parse().map_err(
                    |e: rialto_core::ledger::AccountError| StoreError::Corrupt(e.to_string()),
                )?,
                asset: row.try_get("asset").db()?,
                amount: amount.parse().map_err(|_| corrupt("amount"))?,
            });
        }
        Ok(out)
    }
}

/// Inserts `postings` (checked to balance first) inside `tx`.
pub(super) async fn insert_postings(tx: &mut Tx, postings: &[Posting]) -> Result<(), StoreError> {
    for posting in postings {
        posting
            .check()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    }
    if postings.is_empty() {
        return Ok(());
    }
    // Two statements whatever the number of postings: the transactions, then their entries.
    let transactions = postings
        .iter()
        .map(|p| {
            vec![
                Cell::from(p.id.clone()),
                Cell::from(p.merchant_id.to_string()),
                Cell::from(i64::from(p.livemode)),
                Cell::from(p.kind.clone()),
                Cell::from(p.reference.clone()),
                Cell::from(p.created_at_ms),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO ledger_transactions (id, merchant_id, livemode, kind, reference, created_at)",
        6,
        "",
        transactions,
    )
    .await?;
    let mut entries = Vec::new();
    for posting in postings {
        for (seq, entry) in posting.entries.iter().enumerate() {
            entries.push(vec![
                Cell::from(posting.id.clone()),
                Cell::from(i64::try_from(seq).map_err(|_| corrupt("seq"))?),
                Cell::from(entry.account.to_string()),
                Cell::from(entry.asset.clone()),
                Cell::from(entry.amount.normalize().to_string()),
            ]);
        }
    }
    insert_rows(
        tx,
        "INSERT INTO ledger_entries (transaction_id, seq, account, asset, amount)",
        5,
        "",
        entries,
    )
    .await?;
    Ok(())
}

#[async_trait]
impl LedgerStore for SqlStore {
    async fn update_intent_with_postings(
        &self,
        expected: PaymentStatus,
        next: &PaymentIntent,
        event: &Event,
        postings: &[Posting],
    ) -> Result<CasOutcome, StoreError> {
        for posting in postings {
            posting
                .check()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        let mut tx = self.writer.begin().await.db()?;
        if !cas_intent(&mut tx, expected, next).await? {
            tx.rollback().await.db()?;
            return Ok(CasOutcome::Conflict);
        }
        insert_event(&mut tx, event).await?;
        insert_postings(&mut tx, postings).await?;
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn update_intents_with_postings(
        &self,
        writes: &[IntentWrite],
    ) -> Result<Vec<CasOutcome>, StoreError> {
        for posting in writes.iter().flat_map(|w| &w.postings) {
            posting
                .check()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        let mut tx = self.writer.begin().await.db()?;
        // A compare-and-set that matches no row writes nothing: that write is skipped alone,
        // with nothing to roll back. Distinct intents are set together, one statement.
        let distinct = {
            let mut seen = std::collections::HashSet::new();
            writes.iter().all(|w| seen.insert(w.next.id))
        };
        let written = if distinct {
            let cas: Vec<_> = writes
                .iter()
                .map(|w| (w.expected, w.expected_version, &w.next))
                .collect();
            cas_intents_from(&mut tx, &cas).await?
        } else {
            let mut written = Vec::with_capacity(writes.len());
            for w in writes {
                written
                    .push(cas_intent_from(&mut tx, w.expected, w.expected_version, &w.next).await?);
            }
            written
        };
        let (mut events, mut postings) = (Vec::new(), Vec::new());
        let mut outcomes = Vec::with_capacity(writes.len());
        for (write, written) in writes.iter().zip(written) {
            if !written {
                outcomes.push(CasOutcome::Conflict);
                continue;
            }
            events.extend(&write.events);
            postings.extend(write.postings.iter().cloned());
            outcomes.push(CasOutcome::Updated);
        }
        // The kept writes' events and postings, a statement per table for them all.
        insert_events(&mut tx, &events).await?;
        insert_postings(&mut tx, &postings).await?;
        tx.commit().await.db()?;
        Ok(outcomes)
    }

    async fn merchant_postings(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Vec<Posting>, StoreError> {
        self.postings_where(
            "WHERE t.merchant_id = $1 AND t.livemode = $2",
            Some((merchant, livemode)),
        )
        .await
    }

    async fn all_postings(&self) -> Result<Vec<Posting>, StoreError> {
        self.postings_where("", None).await
    }
}
