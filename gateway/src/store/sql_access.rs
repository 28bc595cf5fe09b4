//! [`AccessStore`] on SQL: API keys and operator keys (roll, revoke, list) and pending settings
//! changes. A key's revoke or roll flushes this store's key cache after its commit and, on
//! PostgreSQL, notifies every other store in the same transaction (`key_cache.rs`). Operator
//! keys and settings changes are not cached.

use async_trait::async_trait;
use rialto_core::id::{ApiKeyId, MerchantId, SettingsChangeId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::key_cache::CHANNEL as KEY_CHANNEL;
use super::sql::{insert_event, insert_idempotency, Backend, SqlStore};
use super::sql_compliance::{operator_key_from_row, OPERATOR_KEY_COLUMNS};
use super::Tx;
use super::{
    access::{AccessStore, SettingsChange, SettingsChangeStatus, SettingsSwap},
    ApiKeyRecord, CasOutcome, Db, Event, IdempotencyRecord, KeyKind, OperatorKey, StoreError,
};

const CHANGE_COLUMNS: &str = "id, merchant_id, livemode, status, change_json, requested_by, \
    requested_custody, approved_by, effective_at, created_at, updated_at";

fn change_from_row(row: &AnyRow) -> Result<SettingsChange, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("settings change {what}"));
    let text = |col: &str| row.try_get::<String, _>(col).db();
    Ok(SettingsChange {
        id: text("id")?.parse().map_err(|_| corrupt("id"))?,
        merchant_id: text("merchant_id")?
            .parse()
            .map_err(|_| corrupt("merchant"))?,
        livemode: row.try_get::<i64, _>("livemode").db()? == 1,
        status: SettingsChangeStatus::parse(&text("status")?).ok_or_else(|| corrupt("status"))?,
        change_json: text("change_json")?,
        requested_by: text("requested_by")?,
        requested_custody: text("requested_custody")?
            .parse()
            .map_err(|_| corrupt("custody"))?,
        approved_by: row.try_get("approved_by").db()?,
        effective_at_ms: row.try_get("effective_at").db()?,
        created_at_ms: row.try_get("created_at").db()?,
        updated_at_ms: row.try_get("updated_at").db()?,
    })
}

fn outcome(rows: u64) -> CasOutcome {
    if rows == 1 {
        CasOutcome::Updated
    } else {
        CasOutcome::Conflict
    }
}

/// Replaces the merchant's settings inside `tx` only if they still read `swap.expected`.
async fn swap_settings(
    tx: &mut Tx,
    (merchant, livemode): (&MerchantId, bool),
    swap: SettingsSwap<'_>,
    at_ms: i64,
) -> Result<bool, StoreError> {
    let query = match swap.expected {
        Some(expected) => sqlx::query(
            "UPDATE merchant_settings SET settings = $3, updated_at = $4 WHERE merchant_id = $1 \
             AND livemode = $2 AND settings = $5",
        )
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .bind(swap.next.to_owned())
        .bind(at_ms)
        .bind(expected.to_owned()),
        None => sqlx::query(
            "INSERT INTO merchant_settings (merchant_id, livemode, settings, balance_version, \
             updated_at) VALUES ($1, $2, $3, 0, $4) ON CONFLICT (merchant_id, livemode) DO NOTHING",
        )
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .bind(swap.next.to_owned())
        .bind(at_ms),
    };
    Ok(query.execute(&mut **tx).await.db()?.rows_affected() == 1)
}

async fn insert_change(tx: &mut Tx, change: &SettingsChange) -> Result<(), StoreError> {
    // One pending change per merchant and mode: a newer request replaces the older one.
    sqlx::query(
        "UPDATE settings_changes SET status = 'canceled', updated_at = $3 WHERE merchant_id = $1 \
         AND livemode = $2 AND status = 'pending'",
    )
    .bind(change.merchant_id.to_string())
    .bind(i64::from(change.livemode))
    .bind(change.created_at_ms)
    .execute(&mut **tx)
    .await
    .db()?;
    sqlx::query(&format!(
        "INSERT INTO settings_changes ({CHANGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $11)"
    ))
    .bind(change.id.to_string())
    .bind(change.merchant_id.to_string())
    .bind(i64::from(change.livemode))
    .bind(change.status.as_str())
    .bind(change.change_json.clone())
    .bind(change.requested_by.clone())
    .bind(change.requested_custody.to_string())
    .bind(change.approved_by.clone())
    .bind(change.effective_at_ms)
    .bind(change.created_at_ms)
    .bind(change.updated_at_ms)
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(())
}

/// Ends a key's life at `expires_at_ms` (or now), once: `false` if revoked or rolled before.
async fn retire(
    tx: &mut Tx,
    table: &str,
    id: &str,
    (expires_at_ms, now_ms, rolled_into): (i64, Option<i64>, Option<String>),
) -> Result<bool, StoreError> {
    let revoked_at = now_ms.filter(|now| expires_at_ms <= *now);
    let rows = sqlx::query(&format!(
        "UPDATE {table} SET expires_at = $2, revoked_at = $3, rolled_into = $4 WHERE id = $1 AND \
         revoked_at IS NULL AND rolled_into IS NULL"
    ))
    .bind(id.to_owned())
    .bind(expires_at_ms)
    .bind(revoked_at)
    .bind(rolled_into)
    .execute(&mut **tx)
    .await
    .db()?
    .rows_affected();
    Ok(rows == 1)
}

impl SqlStore {
    /// Tells every gateway on this PostgreSQL that a key changed: the notice is delivered when
    /// `tx` commits (never if it rolls back), and each store's key cache flushes on it. The
    /// caller flushes this store's own cache after the commit, before answering.
    async fn key_changed(&self, tx: &mut Tx, id: &ApiKeyId) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(KEY_CHANNEL)
                .bind(id.to_string())
                .execute(&mut **tx)
                .await
                .db()?;
        }
        Ok(())
    }
}

#[async_trait]
impl AccessStore for SqlStore {
    async fn get_api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .db()?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn list_api_keys(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE merchant_id = $1 AND livemode = $2 ORDER \
             BY id DESC"
        ))
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(key_from_row).collect()
    }

    async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        insert_key(&mut tx, key).await?;
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        tx.commit().await.db()
    }

    async fn roll_api_key(
        &self,
        old: &ApiKeyId,
        old_expires_at_ms: i64,
        new: &ApiKeyRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let retired = (
            old_expires_at_ms,
            Some(new.created_at_ms),
            Some(new.id.to_string()),
        );
        if !retire(&mut tx, "api_keys", &old.to_string(), retired).await? {
            return Ok(CasOutcome::Conflict);
        }
        insert_key(&mut tx, new).await?;
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        self.key_changed(&mut tx, old).await?;
        // Flushed even when the commit's outcome is unknown: a stale entry must not outlive it.
        let committed = tx.commit().await.db();
        self.key_cache.flush();
        committed?;
        Ok(CasOutcome::Updated)
    }

    async fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        at_ms: i64,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let rows =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.to_string())
                .bind(at_ms)
                .execute(&mut *tx)
                .await
                .db()?
                .rows_affected();
        if rows != 1 {
            return Ok(CasOutcome::Conflict);
        }
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        self.key_changed(&mut tx, id).await?;
        // Flushed even when the commit's outcome is unknown: a stale entry must not outlive it.
        let committed = tx.commit().await.db();
        self.key_cache.flush();
        committed?;
        Ok(CasOutcome::Updated)
    }

    async fn get_operator_key(&self, id: &str) -> Result<Option<OperatorKey>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OPERATOR_KEY_COLUMNS} FROM operator_keys WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(operator_key_from_row).transpose()
    }

    async fn list_operator_keys(&self) -> Result<Vec<OperatorKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {OPERATOR_KEY_COLUMNS} FROM operator_keys ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(operator_key_from_row).collect()
    }

    async fn roll_operator_key(
        &self,
        old: &str,
        old_expires_at_ms: i64,
        new: &OperatorKey,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let retired = (
            old_expires_at_ms,
            Some(new.created_at_ms),
            Some(new.id.clone()),
        );
        if !retire(&mut tx, "operator_keys", old, retired).await? {
            return Ok(CasOutcome::Conflict);
        }
        sqlx::query(
            "INSERT INTO operator_keys (id, name, key_hash, key_hint, created_at) VALUES ($1, $2, \
             $3, $4, $5)",
        )
        .bind(new.id.clone())
        .bind(new.name.clone())
        .bind(new.key_hash.clone())
        .bind(new.key_hint.clone())
        .bind(new.created_at_ms)
        .execute(&mut *tx)
        .await
        .db()?;
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn revoke_operator_key(&self, id: &str, at_ms: i64) -> Result<CasOutcome, StoreError> {
        let rows = sqlx::query(
            "UPDATE operator_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.to_owned())
        .bind(at_ms)
        .execute(&self.writer)
        .await
        .db()?
        .rows_affected();
        Ok(outcome(rows))
    }

    async fn save_settings(
        &self,
        merchant: (&MerchantId, bool),
        swap: SettingsSwap<'_>,
        change: Option<&SettingsChange>,
        events: &[Event],
        at_ms: i64,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        if !swap_settings(&mut tx, merchant, swap, at_ms).await? {
            return Ok(CasOutcome::Conflict);
        }
        if let Some(change) = change {
            insert_change(&mut tx, change).await?;
        }
        for event in events {
            insert_event(&mut tx, event).await?;
        }
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn get_settings_change(
        &self,
        id: &SettingsChangeId,
    ) -> Result<Option<SettingsChange>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CHANGE_COLUMNS} FROM settings_changes WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(change_from_row).transpose()
    }

    async fn list_settings_changes(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        limit: u32,
    ) -> Result<Vec<SettingsChange>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CHANGE_COLUMNS} FROM settings_changes WHERE merchant_id = $1 AND livemode = \
             $2 ORDER BY id DESC LIMIT $3"
        ))
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(change_from_row).collect()
    }

    async fn due_settings_changes(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<SettingsChange>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CHANGE_COLUMNS} FROM settings_changes WHERE status = 'pending' AND \
             effective_at IS NOT NULL AND effective_at <= $1 ORDER BY effective_at LIMIT $2"
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(change_from_row).collect()
    }

    async fn finish_settings_change(
        &self,
        next: &SettingsChange,
        swap: Option<SettingsSwap<'_>>,
        events: &[Event],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let rows = sqlx::query(
            "UPDATE settings_changes SET status = $2, approved_by = $3, updated_at = $4 WHERE id \
             = $1 AND status = 'pending'",
        )
        .bind(next.id.to_string())
        .bind(next.status.as_str())
        .bind(next.approved_by.clone())
        .bind(next.updated_at_ms)
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        if rows != 1 {
            return Ok(CasOutcome::Conflict);
        }
        if let Some(swap) = swap {
            let merchant = (&next.merchant_id, next.livemode);
            if !swap_settings(&mut tx, merchant, swap, next.updated_at_ms).await? {
                return Ok(CasOutcome::Conflict);
            }
        }
        for event in events {
            insert_event(&mut tx, event).await?;
        }
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }
}

/// The columns [`key_from_row`] reads.
pub(super) const KEY_COLUMNS: &str = "id, merchant_id, kind, livemode, key_hash, key_hint, \
    created_at, name, custody, expires_at, revoked_at";

pub(super) fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("api key {what}"));
    let kind = match row.try_get::<String, _>("kind").db()?.as_str() {
        "secret" => KeyKind::Secret,
        "publishable" => KeyKind::Publishable,
        _ => return Err(corrupt("kind")),
    };
    let id: rialto_core::id::ApiKeyId = row
        .try_get::<String, _>("id")
        .db()?
        .parse()
        .map_err(|_| corrupt("id"))?;
    // Keys from before custodies existed are each their own.
    let custody = match row.try_get::<Option<String>, _>("custody").db()? {
        Some(text) => text.parse().map_err(|_| corrupt("custody"))?,
        None => id,
    };
    Ok(ApiKeyRecord {
        id,
        merchant_id: row
            .try_get::<String, _>("merchant_id")
            .db()?
            .parse()
            .map_err(|_| corrupt("merchant"))?,
        kind,
        livemode: row.try_get::<i64, _>("livemode").db()? == 1,
        key_hash: row.try_get("key_hash").db()?,
        key_hint: row.try_get("key_hint").db()?,
        created_at_ms: row.try_get("created_at").db()?,
        name: row.try_get("name").db()?,
        custody,
        expires_at_ms: row.try_get("expires_at").db()?,
        revoked_at_ms: row.try_get("revoked_at").db()?,
    })
}

/// Inserts one API key inside `tx`.
pub(super) async fn insert_key(tx: &mut Tx, key: &ApiKeyRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, merchant_id, kind, livemode, key_hash, key_hint, created_at, \
         name, custody, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(key.id.to_string())
    .bind(key.merchant_id.to_string())
    .bind(key.kind.as_str())
    .bind(i64::from(key.livemode))
    .bind(&key.key_hash)
    .bind(&key.key_hint)
    .bind(key.created_at_ms)
    .bind(&key.name)
    .bind(key.custody.to_string())
    .bind(key.expires_at_ms)
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(())
}
