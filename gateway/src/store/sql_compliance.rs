//! [`ComplianceStore`] for [`SqlStore`]: decisions and cases, the hash-chained audit log,
//! custom lists, payment history for the rules, operator keys and merchant policies.
//!
//! The audit chain has one head, so appends are serialised: on SQLite by the single writer
//! connection, on PostgreSQL by a transaction-scoped advisory lock taken before the head is
//! read. The primary key on `seq` is the last line of defence: a second record claiming the
//! same predecessor fails to insert instead of forking the chain.

use super::Db;
use super::Tx;
use async_trait::async_trait;
use rialto_compliance::{AuditChain, AuditEntry, AuditRecord, ComplianceCaseId};
use rialto_core::id::{MerchantId, PaymentIntentId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::decision_commit::Decision;
use super::sql::{cas_intent, insert_event, Backend, SqlStore};
use super::sql_chain::update_payment_transaction;
use super::Conn;
use super::{
    CasOutcome, CaseFilter, CaseRecord, CaseResolution, CaseStatus, ComplianceStore, IntentChange,
    ListEntry, OperatorKey, Page, PaymentSource, PaymentTransaction, PaymentTxStatus,
    ScreenedPayment, StoreError,
};

/// Any constant: it names the audit chain's lock among the database's advisory locks.
const AUDIT_LOCK_KEY: i64 = 0x7269_616c_746f_4155;

pub(super) const CASE_COLUMNS: &str =
    "id, merchant_id, livemode, payment_intent_id, point, outcome, \
    status, decision_json, subject_json, created_at, resolved_at, resolved_by, resolution_note";
pub(super) const AUDIT_COLUMNS: &str =
    "seq, id, at_ms, kind, subject, outcome, detail, prev_hash, hash";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("compliance {what}"))
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| corrupt(what))
}

fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what))
}

fn case_from_row(row: &AnyRow) -> Result<CaseRecord, StoreError> {
    let parse_opt = |col: &str| -> Result<Option<String>, StoreError> {
        row.try_get::<Option<String>, _>(col).db()
    };
    Ok(CaseRecord {
        id: row
            .try_get::<String, _>("id")
            .db()?
            .parse()
            .map_err(|_| corrupt("case id"))?,
        merchant_id: parse_opt("merchant_id")?
            .map(|m| m.parse().map_err(|_| corrupt("case merchant")))
            .transpose()?,
        livemode: row.try_get::<i64, _>("livemode").db()? == 1,
        payment_intent_id: parse_opt("payment_intent_id")?
            .map(|p| p.parse().map_err(|_| corrupt("case intent")))
            .transpose()?,
        point: row.try_get("point").db()?,
        outcome: row.try_get("outcome").db()?,
        status: CaseStatus::parse(&row.try_get::<String, _>("status").db()?)
            .ok_or_else(|| corrupt("case status"))?,
        decision_json: row.try_get("decision_json").db()?,
        subject_json: row.try_get("subject_json").db()?,
        created_at_ms: row.try_get("created_at").db()?,
        resolved_at_ms: row.try_get("resolved_at").db()?,
        resolved_by: row.try_get("resolved_by").db()?,
        resolution_note: row.try_get("resolution_note").db()?,
    })
}

fn audit_from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: to_u64(row.try_get("seq").db()?, "audit seq")?,
        entry: AuditEntry {
            id: row.try_get("id").db()?,
            at_ms: to_u64(row.try_get("at_ms").db()?, "audit time")?,
            kind: row.try_get("kind").db()?,
            subject: row.try_get("subject").db()?,
            outcome: row.try_get("outcome").db()?,
            detail: row.try_get("detail").db()?,
        },
        prev_hash: row.try_get("prev_hash").db()?,
        hash: row.try_get("hash").db()?,
    })
}

fn entry_from_row(row: &AnyRow) -> Result<ListEntry, StoreError> {
    Ok(ListEntry {
        id: row.try_get("id").db()?,
        owner: row.try_get("owner").db()?,
        kind: row.try_get("kind").db()?,
        address: row.try_get("address").db()?,
        note: row.try_get("note").db()?,
        created_at_ms: row.try_get("created_at").db()?,
    })
}

async fn insert_case(tx: &mut Tx, case: &CaseRecord) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO compliance_cases ({CASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $11, $12, $13)"
    ))
    .bind(case.id.to_string())
    .bind(case.merchant_id.map(|m| m.to_string()))
    .bind(i64::from(case.livemode))
    .bind(case.payment_intent_id.map(|p| p.to_string()))
    .bind(case.point.clone())
    .bind(case.outcome.clone())
    .bind(case.status.as_str())
    .bind(case.decision_json.clone())
    .bind(case.subject_json.clone())
    .bind(case.created_at_ms)
    .bind(case.resolved_at_ms)
    .bind(case.resolved_by.clone())
    .bind(case.resolution_note.clone())
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(())
}

/// SQLite answers BUSY / BUSY_SNAPSHOT when another connection (the group committer of intent
/// creates) wrote between this transaction's first read and its first write; a fresh attempt
/// sees the new snapshot.
pub(super) fn is_busy(err: &StoreError) -> bool {
    match super::sqlx_cause(err) {
        Some(sqlx::Error::Database(e)) => {
            matches!(e.code().as_deref(), Some("5" | "517" | "261" | "6"))
        }
        _ => false,
    }
}

pub(super) const BUSY_ATTEMPTS: usize = 5;

/// Serialises decision writers: on PostgreSQL a transaction-scoped advisory lock (SQLite has one
/// writer connection already).
pub(super) async fn lock_audit(backend: Backend, tx: &mut Tx) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK_KEY)
            .execute(&mut **tx)
            .await
            .db()?;
    }
    Ok(())
}

/// The audit chain as it stands inside `tx`, ready to append after its newest record (the
/// caller holds the chain's lock).
pub(super) async fn audit_head(tx: &mut Tx) -> Result<AuditChain, StoreError> {
    let last = sqlx::query(&format!(
        "SELECT {AUDIT_COLUMNS} FROM compliance_audit_log ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(&mut **tx)
    .await
    .db()?;
    Ok(match last {
        Some(row) => AuditChain::resume(&audit_from_row(&row)?),
        None => AuditChain::genesis(),
    })
}

/// Chains `entry` after the newest record, inside `tx`.
async fn append_in(
    backend: Backend,
    tx: &mut Tx,
    entry: &AuditEntry,
) -> Result<AuditRecord, StoreError> {
    lock_audit(backend, tx).await?;
    let mut chain = audit_head(tx).await?;
    let record = chain.append(entry.clone());
    sqlx::query(&format!(
        "INSERT INTO compliance_audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9)"
    ))
    .bind(to_i64(record.seq, "audit seq")?)
    .bind(record.entry.id.clone())
    .bind(to_i64(record.entry.at_ms, "audit time")?)
    .bind(record.entry.kind.clone())
    .bind(record.entry.subject.clone())
    .bind(record.entry.outcome.clone())
    .bind(record.entry.detail.clone())
    .bind(record.prev_hash.clone())
    .bind(record.hash.clone())
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(record)
}

/// Whether the payer's history since `since` (other intents' screened payments to the same
/// merchant) still counts `seen`, read inside `tx`.
pub(super) async fn history_unchanged(
    tx: &mut Tx,
    p: &ScreenedPayment,
    since: i64,
    seen: usize,
) -> Result<bool, StoreError> {
    let now: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM compliance_payments WHERE merchant_id = $1 AND payer = $2 AND \
         at_ms >= $3 AND payment_intent_id <> $4",
    )
    .bind(p.merchant_id.to_string())
    .bind(p.payer.clone())
    .bind(since)
    .bind(p.payment_intent_id.to_string())
    .fetch_one(&mut **tx)
    .await
    .db()?
    .try_get("n")
    .db()?;
    Ok(usize::try_from(now).ok() == Some(seen))
}

/// Writes one screening decision inside `tx` (the group committer's, one savepoint per
/// decision): `Conflict` when its intent moved, its payer's history grew or its payment
/// transaction is no longer pending; the caller then rolls back what this wrote.
pub(super) async fn decide_in(
    tx: &mut Tx,
    backend: Backend,
    decision: &Decision,
) -> Result<CasOutcome, StoreError> {
    // A write first, so SQLite takes its write lock before anything is read.
    insert_case(tx, &decision.case).await?;
    lock_audit(backend, tx).await?;
    if let Some(change) = &decision.intent {
        if !SqlStore::apply_change(tx, change).await? {
            return Ok(CasOutcome::Conflict);
        }
    }
    if let Some(p) = &decision.payment {
        if let Some((since, seen)) = p.history_seen {
            if !history_unchanged(tx, p, since, seen).await? {
                return Ok(CasOutcome::Conflict);
            }
        }
        sqlx::query(
            "INSERT INTO compliance_payments (payment_intent_id, merchant_id, payer, amount, \
             currency, at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_intent_id) DO \
             NOTHING",
        )
        .bind(p.payment_intent_id.to_string())
        .bind(p.merchant_id.to_string())
        .bind(p.payer.clone())
        .bind(p.amount.clone())
        .bind(p.currency.clone())
        .bind(p.at_ms)
        .execute(&mut **tx)
        .await
        .db()?;
    }
    append_in(backend, tx, &decision.audit).await?;
    Ok(CasOutcome::Updated)
}

impl SqlStore {
    async fn append_in(&self, tx: &mut Tx, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        append_in(self.backend, tx, entry).await
    }

    /// Applies an intent change inside `tx`; `false` when the intent moved meanwhile.
    async fn apply_change(tx: &mut Tx, change: &IntentChange) -> Result<bool, StoreError> {
        if !cas_intent(tx, change.expected, &change.next).await? {
            return Ok(false);
        }
        for event in &change.events {
            insert_event(tx, event).await?;
        }
        if let Some(ptx) = &change.confirms {
            let at = change.next.updated_at_ms;
            return update_payment_transaction(tx, ptx, PaymentTxStatus::Pending, at).await;
        }
        Ok(true)
    }
}

#[async_trait]
impl ComplianceStore for SqlStore {
    async fn record_decision(
        &self,
        case: &CaseRecord,
        audit: &AuditEntry,
        intent: Option<&IntentChange>,
        payment: Option<&ScreenedPayment>,
    ) -> Result<CasOutcome, StoreError> {
        let decision = Decision {
            case: case.clone(),
            audit: audit.clone(),
            intent: intent.cloned(),
            payment: payment.cloned(),
        };
        self.decisions.execute(decision).await
    }

    async fn resolve_case(
        &self,
        resolution: &CaseResolution,
        audit: &[AuditEntry],
        release: Option<&CaseRecord>,
        intent: Option<&IntentChange>,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let updated = sqlx::query(
            "UPDATE compliance_cases SET status = $1, resolved_at = $2, resolved_by = $3, \
             resolution_note = $4 WHERE id = $5 AND status = $6",
        )
        .bind(resolution.to.as_str())
        .bind(resolution.at_ms)
        .bind(resolution.by.clone())
        .bind(resolution.note.clone())
        .bind(resolution.case_id.to_string())
        .bind(CaseStatus::Open.as_str())
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        let intent_moved = match intent {
            Some(change) if updated == 1 => !Self::apply_change(&mut tx, change).await?,
            _ => false,
        };
        if updated == 0 || intent_moved {
            tx.rollback().await.db()?;
            return Ok(CasOutcome::Conflict);
        }
        if let Some(case) = release {
            insert_case(&mut tx, case).await?;
        }
        for entry in audit {
            self.append_in(&mut tx, entry).await?;
        }
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
        let mut attempt = 0;
        loop {
            let result = async {
                let mut tx = self.writer.begin().await.db()?;
                let record = self.append_in(&mut tx, entry).await?;
                tx.commit().await.db()?;
                Ok(record)
            }
            .await;
            match result {
                Err(e) if is_busy(&e) && attempt + 1 < BUSY_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    async fn audit_records(
        &self,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM compliance_audit_log WHERE seq >= $1 ORDER BY seq LIMIT \
             $2"
        ))
        .bind(to_i64(from_seq, "audit seq")?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn get_case(&self, id: &ComplianceCaseId) -> Result<Option<CaseRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CASE_COLUMNS} FROM compliance_cases WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(case_from_row).transpose()
    }

    async fn list_cases(&self, filter: &CaseFilter) -> Result<Page<CaseRecord>, StoreError> {
        let mut sql = format!("SELECT {CASE_COLUMNS} FROM compliance_cases WHERE 1 = 1");
        let mut n = 0;
        let mut cond = |sql: &mut String, text: &str| {
            n += 1;
            sql.push_str(&format!(" AND {text} ${n}"));
        };
        if filter.status.is_some() {
            cond(&mut sql, "status =");
        }
        if filter.payment_intent_id.is_some() {
            cond(&mut sql, "payment_intent_id =");
        }
        if filter.starting_after.is_some() {
            cond(&mut sql, "id <");
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        let mut query = sqlx::query(&sql);
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(intent) = filter.payment_intent_id {
            query = query.bind(intent.to_string());
        }
        if let Some(cursor) = filter.starting_after {
            query = query.bind(cursor.to_string());
        }
        let rows = query
            .bind(i64::from(filter.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .db()?;
        let cases = rows
            .iter()
            .map(case_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(cases, filter.limit, false))
    }

    async fn create_list_entry(
        &self,
        entry: &ListEntry,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let result = sqlx::query(
            "INSERT INTO compliance_list_entries (id, owner, kind, address, note, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(entry.id.clone())
        .bind(entry.owner.clone())
        .bind(entry.kind.clone())
        .bind(entry.address.clone())
        .bind(entry.note.clone())
        .bind(entry.created_at_ms)
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await.db()?;
                return Ok(false);
            }
            Err(e) => return Err(StoreError::Database(Box::new(e))),
        }
        self.append_in(&mut tx, audit).await?;
        tx.commit().await.db()?;
        Ok(true)
    }

    async fn delete_list_entry(
        &self,
        owner: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let done = sqlx::query("DELETE FROM compliance_list_entries WHERE owner = $1 AND id = $2")
            .bind(owner)
            .bind(id)
            .execute(&mut *tx)
            .await
            .db()?;
        if done.rows_affected() != 1 {
            tx.rollback().await.db()?;
            return Ok(false);
        }
        self.append_in(&mut tx, audit).await?;
        tx.commit().await.db()?;
        Ok(true)
    }

    async fn list_entries(&self, owners: &[&str]) -> Result<Vec<ListEntry>, StoreError> {
        let mut entries = Vec::new();
        for owner in owners {
            let rows = sqlx::query(
                "SELECT id, owner, kind, address, note, created_at FROM compliance_list_entries \
                 WHERE owner = $1 ORDER BY id",
            )
            .bind(*owner)
            .fetch_all(&self.pool)
            .await
            .db()?;
            for row in &rows {
                entries.push(entry_from_row(row)?);
            }
        }
        Ok(entries)
    }

    async fn list_entries_page(
        &self,
        owner: &str,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ListEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, owner, kind, address, note, created_at FROM compliance_list_entries \
             WHERE owner = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(owner)
        .bind(starting_after)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .db()?;
        let entries = rows.iter().map(entry_from_row).collect::<Result<_, _>>()?;
        Ok(Page::from_rows(entries, limit, false))
    }

    async fn find_list_entries(
        &self,
        owners: &[&str],
        addresses: &[String],
    ) -> Result<Vec<ListEntry>, StoreError> {
        let mut entries = Vec::new();
        let (Some(first), Some(second)) = (owners.first(), owners.get(1).or(owners.first())) else {
            return Ok(entries);
        };
        if owners.len() > 2 {
            // Only the operator and one merchant ever screen together; refuse loudly rather
            // than silently ignore a list.
            return Err(corrupt("more than two list owners"));
        }
        // Every address in one statement (a request screens one to a few), each served by the
        // address index; chunked only past the statement's value budget.
        for chunk in addresses.chunks(super::rows::MAX_VALUES - 2) {
            let n = chunk.len();
            let sql = format!(
                "SELECT id, owner, kind, address, note, created_at FROM compliance_list_entries \
                 WHERE address IN ({}) AND owner IN (${}, ${})",
                super::rows::list(n),
                n + 1,
                n + 2
            );
            let mut query = sqlx::query(&sql);
            for address in chunk {
                query = query.bind(address.clone());
            }
            let rows = query
                .bind(*first)
                .bind(*second)
                .fetch_all(&self.pool)
                .await
                .db()?;
            for row in &rows {
                entries.push(entry_from_row(row)?);
            }
        }
        Ok(entries)
    }

    async fn payer_history(
        &self,
        merchant: &MerchantId,
        payer: &str,
        since_ms: i64,
    ) -> Result<Vec<ScreenedPayment>, StoreError> {
        let rows = sqlx::query(
            "SELECT payment_intent_id, merchant_id, payer, amount, currency, at_ms FROM \
             compliance_payments WHERE merchant_id = $1 AND payer = $2 AND at_ms >= $3",
        )
        .bind(merchant.to_string())
        .bind(payer)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter()
            .map(|row| {
                Ok(ScreenedPayment {
                    payment_intent_id: row
                        .try_get::<String, _>("payment_intent_id")
                        .db()?
                        .parse()
                        .map_err(|_| corrupt("payment intent"))?,
                    merchant_id: *merchant,
                    payer: row.try_get("payer").db()?,
                    amount: row.try_get("amount").db()?,
                    currency: row.try_get("currency").db()?,
                    at_ms: row.try_get("at_ms").db()?,
                    history_seen: None,
                })
            })
            .collect()
    }

    async fn claim_transaction(
        &self,
        tx: &PaymentTransaction,
    ) -> Result<PaymentIntentId, StoreError> {
        let mut conn = self.writer.acquire().await.db()?;
        claim_in(&mut conn, tx).await
    }

    async fn create_operator_key(&self, key: &OperatorKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO operator_keys (id, name, key_hash, key_hint, created_at) VALUES ($1, $2, \
             $3, $4, $5)",
        )
        .bind(key.id.clone())
        .bind(key.name.clone())
        .bind(key.key_hash.clone())
        .bind(key.key_hint.clone())
        .bind(key.created_at_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn find_operator_key(&self, key_hash: &str) -> Result<Option<OperatorKey>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OPERATOR_KEY_COLUMNS} FROM operator_keys WHERE key_hash = $1 AND revoked_at \
             IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(operator_key_from_row).transpose()
    }

    async fn get_policy(&self, merchant: &MerchantId) -> Result<Option<String>, StoreError> {
        let merchant = merchant.to_string();
        let key = merchant.clone();
        let read = |mut conn: Conn| async move {
            let row =
                sqlx::query("SELECT policy_json FROM compliance_policies WHERE merchant_id = $1")
                    .bind(merchant)
                    .fetch_optional(&mut *conn)
                    .await
                    .db()?;
            row.map(|r| r.try_get("policy_json").db()).transpose()
        };
        self.shared.policies.read(&self.pool, key, read).await
    }

    async fn set_policy(
        &self,
        merchant: &MerchantId,
        policy_json: &str,
        at_ms: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        sqlx::query(
            "INSERT INTO compliance_policies (merchant_id, policy_json, updated_at) VALUES ($1, \
             $2, $3) ON CONFLICT (merchant_id) DO UPDATE SET policy_json = excluded.policy_json, \
             updated_at = excluded.updated_at",
        )
        .bind(merchant.to_string())
        .bind(policy_json)
        .bind(at_ms)
        .execute(&mut *tx)
        .await
        .db()?;
        self.append_in(&mut tx, audit).await?;
        tx.commit().await.db()?;
        Ok(())
    }
}

/// The columns [`operator_key_from_row`] reads.
pub(super) const OPERATOR_KEY_COLUMNS: &str =
    "id, name, key_hash, key_hint, created_at, expires_at, revoked_at";

pub(super) fn operator_key_from_row(row: &sqlx::any::AnyRow) -> Result<OperatorKey, StoreError> {
    Ok(OperatorKey {
        id: row.try_get("id").db()?,
        name: row.try_get("name").db()?,
        key_hash: row.try_get("key_hash").db()?,
        key_hint: row.try_get("key_hint").db()?,
        created_at_ms: row.try_get("created_at").db()?,
        expires_at_ms: row.try_get("expires_at").db()?,
        revoked_at_ms: row.try_get("revoked_at").db()?,
    })
}

/// Binds `tx` to its intent once (see `ComplianceStore::claim_transaction`), on `conn`: the
/// writer, or a transaction of it.
pub(super) async fn claim_in(
    conn: &mut sqlx::AnyConnection,
    tx: &PaymentTransaction,
) -> Result<PaymentIntentId, StoreError> {
    // Insert-or-keep, then read who owns it: two intents racing for one hash both read the
    // single winner (the partial unique index `payment_transactions_one_owner`). The one
    // exception is a batch relay: one transaction spends several authorizations, each paying
    // its own intent, so its rows live beside each other, never beside another kind.
    let batch = PaymentSource::BatchAuthorization.as_str();
    sqlx::query(
        "INSERT INTO payment_transactions (chain_id, tx_hash, payment_intent_id, payer, \
         amount, asset, block_number, block_hash, log_index, created_at, status, source, \
         updated_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $10 WHERE NOT \
         EXISTS (SELECT 1 FROM payment_transactions WHERE chain_id = $1 AND tx_hash = $2 AND \
         (payment_intent_id = $3 OR source <> $13 OR $12 <> $13)) ON CONFLICT DO NOTHING",
    )
    .bind(tx.chain_id.clone())
    .bind(tx.tx_hash.clone())
    .bind(tx.payment_intent_id.to_string())
    .bind(tx.payer.clone())
    .bind(tx.amount.clone())
    .bind(tx.asset.clone())
    .bind(tx.block_number)
    .bind(tx.block_hash.clone())
    .bind(tx.log_index)
    .bind(tx.created_at_ms)
    .bind(tx.status.as_str())
    .bind(tx.source.as_str())
    .bind(batch)
    .execute(&mut *conn)
    .await
    .db()?;
    // This intent's own row if it has one, else whoever holds the hash.
    let owner: String = sqlx::query(
        "SELECT payment_intent_id FROM payment_transactions WHERE chain_id = $1 AND tx_hash = \
         $2 ORDER BY CASE WHEN payment_intent_id = $3 THEN 0 ELSE 1 END, created_at LIMIT 1",
    )
    .bind(tx.chain_id.clone())
    .bind(tx.tx_hash.clone())
    .bind(tx.payment_intent_id.to_string())
    .fetch_one(&mut *conn)
    .await
    .db()?
    .try_get("payment_intent_id")
    .db()?;
    owner.parse().map_err(|_| corrupt("transaction intent"))
}
