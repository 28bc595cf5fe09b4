//! [`LedgerStore`] over sqlx `Any`.

use super::Db;
use std::collections::BTreeMap;

use async_trait::async_trait;
use rialto_core::id::MerchantId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use sqlx::Row;

use super::ledger::{IntentWrite, LedgerStore};
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
pub(super) async fn insert_postings(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    postings: &[Posting],
) -> Result<(), StoreError> {
    for posting in postings {
        posting
            .check()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    }
    for posting in postings {
        sqlx::query(
            "INSERT INTO ledger_transactions (id, merchant_id, livemode, kind, reference, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(posting.id.clone())
        .bind(posting.merchant_id.to_string())
        .bind(i64::from(posting.livemode))
        .bind(posting.kind.clone())
        .bind(posting.reference.clone())
        .bind(posting.created_at_ms)
        .execute(&mut **tx)
        .await
        .db()?;
        for (seq, entry) in posting.entries.iter().enumerate() {
            sqlx::query(
                "INSERT INTO ledger_entries (transaction_id, seq, account, asset, amount) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(posting.id.clone())
            .bind(i64::try_from(seq).map_err(|_| corrupt("seq"))?)
            .bind(entry.account.to_string())
            .bind(entry.asset.clone())
            .bind(entry.amount.normalize().to_string())
            .execute(&mut **tx)
            .await
            .db()?;
        }
    }
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
        let mut outcomes = Vec::with_capacity(writes.len());
        let mut tx = self.writer.begin().await.db()?;
        for write in writes {
            // A compare-and-set that matches no row writes nothing: the write is skipped
            // alone, with nothing to roll back.
            if !cas_intent_from(&mut tx, write.expected, write.expected_version, &write.next)
                .await?
            {
                outcomes.push(CasOutcome::Conflict);
                continue;
            }
            for event in &write.events {
                insert_event(&mut tx, event).await?;
            }
            insert_postings(&mut tx, &write.postings).await?;
            outcomes.push(CasOutcome::Updated);
        }
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
