//! [`Store`] over sqlx's `Any` driver: one implementation, SQLite or PostgreSQL chosen by the
//! URL. Queries are checked at run time (a fresh machine builds with no database), use `$n`
//! placeholders in order (both engines accept them) and only portable types: TEXT, BIGINT.

use super::Db;
use super::Tx;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use rialto_core::address::Address;
use rialto_core::asset::AssetRegistry;
use rialto_core::chain::AssetId;
use rialto_core::id::{MerchantId, PaymentIntentId};
use rialto_core::intent::{CancellationReason, PaymentIntent, PaymentStatus, SettlementTarget};
use rialto_core::money::Money;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::Row;

use super::batcher::Batcher;
use super::coalesce::SharedReads;
use super::decision_commit::DecisionCommitter;
use super::group_commit::{GroupCommitter, NewIntent};
use super::key_cache::KeyCache;
use super::relay_queue::RelayItem;
use super::sql_access::insert_key;
use super::sql_relay_queue::{spawn_enqueuer, Enqueued};
use super::{
    ApiKeyRecord, CasOutcome, Conn, Connections, Event, IdempotencyRecord, IntentFilter, Merchant,
    Page, Store, StoreError,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL selects, if it is one we support.
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqlStore {
    /// Reads (and, on PostgreSQL, writes).
    pub(super) pool: Connections,
    /// Writes. On SQLite a single connection: the database admits one writer at a time, and
    /// queueing writers here (async, in order) beats letting them collide in SQLite's busy
    /// handler, which sleeps and retries.
    pub(super) writer: Connections,
    /// Batches intent creates into shared commits (see `group_commit`).
    committer: GroupCommitter,
    /// Batches screening decisions into shared commits (see `decision_commit`).
    pub(super) decisions: DecisionCommitter,
    /// Batches relay enqueues into shared commits (`sql_relay_queue::spawn_enqueuer`).
    pub(super) enqueues: Batcher<RelayItem, Enqueued>,
    /// API keys by hash, trusted only while revokes can be heard (`key_cache`).
    pub(super) key_cache: Arc<KeyCache>,
    /// Point reads a burst repeats, shared while they wait for a connection (`coalesce`).
    pub(super) shared: Arc<SharedReads>,
    pub(super) backend: Backend,
    registry: Arc<AssetRegistry>,
}

/// The intent's columns, then (last, `$28`, after the event's and the key's) its reference.
const INTENT_VALUES_REF: &str = "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
    $14, $15, $16, $17, $28)";
pub(super) const IDEMPOTENCY_COLUMNS: &str =
    "scope, idempotency_key, request_hash, response_status, response_body, created_at";

/// Creates an intent with its event, outbox entry and (when keyed) idempotency record in one
/// statement: PostgreSQL through a data-modifying CTE…
pub(super) static PG_CREATE_INTENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH created AS (INSERT INTO payment_intents ({INTENT_COLUMNS}, payment_reference) \
         VALUES {INTENT_VALUES_REF}), event AS (INSERT INTO events (id, merchant_id, livemode, type, \
         object_json, created_at) VALUES ($18, $2, $3, $19, $20, $12)), outbox AS (INSERT INTO \
         event_outbox (event_id, merchant_id, livemode, type) SELECT $18, $2, $3, $19 WHERE \
         EXISTS (SELECT 1 FROM webhook_endpoints WHERE merchant_id = $2 AND livemode = $3 AND \
         status = 'enabled')) INSERT INTO idempotency_keys ({IDEMPOTENCY_COLUMNS}, response_event_id) SELECT $21, \
         $22, $23, $24, $25, $26, $27 WHERE $22 IS NOT NULL"
    )
});

/// …and SQLite, which has no data-modifying CTEs, through the view whose INSTEAD OF trigger
/// does the same (migration 0003).
pub(super) static SQLITE_CREATE_INTENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO intent_creations ({INTENT_COLUMNS}, event_id, event_type, event_object, \
         scope, idempotency_key, request_hash, response_status, response_body, key_created_at, \
         response_event_id, payment_reference) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, \
         $27, $28)"
    )
});

pub(super) const INTENT_COLUMNS: &str =
    "id, merchant_id, livemode, amount, currency, settlement_asset, \
    settlement_address, status, description, metadata, client_secret, created_at, expires_at, \
    canceled_at, cancellation_reason, version, updated_at";
/// What intent reads select: the created columns plus those only updates write.
pub(super) const INTENT_SELECT: &str = "id, merchant_id, livemode, amount, currency, \
    settlement_asset, settlement_address, status, description, metadata, client_secret, \
    created_at, expires_at, canceled_at, cancellation_reason, version, updated_at, \
    amount_refunded, payment_detail, payment_reference, fx_lock";

impl SqlStore {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:`, `postgres://…`). SQLite files are
    /// created if missing and run in WAL mode with full fsync on commit.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        registry: Arc<AssetRegistry>,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or_else(|| {
            StoreError::Database(Box::new(sqlx::Error::Configuration(
                "database URL must start with sqlite: or postgres://".into(),
            )))
        })?;
        let url = match backend {
            Backend::Sqlite if !url.contains('?') && !url.contains(":memory:") => {
                format!("{url}?mode=rwc")
            }
            _ => url.to_owned(),
        };
        // SQLite: connections of our own (`connections`); PostgreSQL: sqlx's pool.
        let (pool, writer, committer) = match backend {
            Backend::Sqlite => {
                let pool = Connections::local(&url, max_connections).db()?;
                let writer = Connections::local(&url, 1).db()?;
                // Opened now, so a bad URL or an unwritable file fails here.
                drop(writer.acquire().await.db()?);
                let committer = GroupCommitter::spawn(Connections::local(&url, 1).db()?, backend);
                (pool, writer, committer)
            }
            Backend::Postgres => {
                let pool = Connections::Pool(
                    Self::pg_pool_options(max_connections)
                        .connect(&url)
                        .await
                        .db()?,
                );
                let committer = GroupCommitter::spawn(pool.clone(), backend);
                (pool.clone(), pool, committer)
            }
        };
        let decisions = DecisionCommitter::spawn(writer.clone(), backend);
        let enqueues = spawn_enqueuer(writer.clone(), backend);
        let key_cache = KeyCache::new();
        if backend == Backend::Postgres {
            key_cache.listen(url);
        }
        Ok(Self {
            pool,
            writer,
            committer,
            decisions,
            enqueues,
            key_cache,
            shared: Arc::default(),
            backend,
            registry,
        })
    }

    /// PostgreSQL's pool: each connection checked before use, so one the server dropped is
    /// replaced before a statement fails on it.
    fn pg_pool_options(max_connections: u32) -> AnyPoolOptions {
        AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .test_before_acquire(true)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn key_cache(&self) -> &KeyCache {
        &self.key_cache
    }

    /// The migrations this binary carries that the database has not applied, by version
    /// (empty: up to date). Reads only: `rialto doctor` asks without migrating.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        // No table yet: nothing applied.
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        Ok(migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }

    /// The connections reads run on (tests and tools run their own statements there).
    pub fn pool(&self) -> &Connections {
        &self.pool
    }

    fn intent_from_row(&self, row: &AnyRow) -> Result<PaymentIntent, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("payment intent {what}"));
        let text = |col: &str| row.try_get::<String, _>(col).db();
        let currency_code = text("currency")?;
        let currency = self
            .registry
            .currency(&currency_code)
            .ok_or_else(|| corrupt("currency"))?;
        let amount = Money::parse(&text("amount")?, currency).map_err(|_| corrupt("amount"))?;
        let asset_id: AssetId = text("settlement_asset")?
            .parse()
            .map_err(|_| corrupt("settlement asset"))?;
        let asset = self
            .registry
            .asset(&asset_id)
            .ok_or_else(|| corrupt("settlement asset"))?
            .clone();
        let address = Address::parse(&text("settlement_address")?, asset.id.chain().namespace())
            .map_err(|_| corrupt("settlement address"))?;
        let metadata: BTreeMap<String, String> =
            serde_json::from_str(&text("metadata")?).map_err(|_| corrupt("metadata"))?;
        let cancellation_reason = row
            .try_get::<Option<String>, _>("cancellation_reason")
            .db()?
            .map(|r| CancellationReason::from_str(&r).map_err(|_| corrupt("cancellation reason")))
            .transpose()?;
        Ok(PaymentIntent {
            id: text("id")?.parse().map_err(|_| corrupt("id"))?,
            merchant_id: text("merchant_id")?
                .parse()
                .map_err(|_| corrupt("merchant"))?,
            livemode: row.try_get::<i64, _>("livemode").db()? == 1,
            amount,
            settlement: SettlementTarget { asset, address },
            status: PaymentStatus::from_str(&text("status")?).map_err(|_| corrupt("status"))?,
            description: row.try_get("description").db()?,
            metadata,
            client_secret: text("client_secret")?,
            created_at_ms: row.try_get("created_at").db()?,
            expires_at_ms: row.try_get("expires_at").db()?,
            canceled_at_ms: row.try_get("canceled_at").db()?,
            cancellation_reason,
            version: row.try_get("version").db()?,
            updated_at_ms: row.try_get("updated_at").db()?,
            amount_refunded: text("amount_refunded")?
                .parse()
                .map_err(|_| corrupt("amount refunded"))?,
            payment_detail: row
                .try_get::<Option<String>, _>("payment_detail")
                .db()?
                .map(|d| serde_json::from_str(&d).map_err(|_| corrupt("payment detail")))
                .transpose()?,
            payment_reference: row
                .try_get::<Option<String>, _>("payment_reference")
                .db()?
                .map(|r| Address::parse(&r, rialto_core::ChainNamespace::Solana))
                .transpose()
                .map_err(|_| corrupt("payment reference"))?,
            fx: row
                .try_get::<Option<String>, _>("fx_lock")
                .db()?
                .map(|f| serde_json::from_str(&f).map_err(|_| corrupt("fx lock")))
                .transpose()?,
        })
    }

    pub(super) fn intents_from_rows(
        &self,
        rows: &[AnyRow],
    ) -> Result<Vec<PaymentIntent>, StoreError> {
        rows.iter().map(|r| self.intent_from_row(r)).collect()
    }
}

fn metadata_json(intent: &PaymentIntent) -> String {
    serde_json::Value::Object(
        intent
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    )
    .to_string()
}

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds one create's 28 parameters in the order of the create statements (the intent's 17,
/// the event's 3, the idempotency record's 7, the payment reference).
pub(super) fn bind_create<'q>(query: AnyQuery<'q>, create: &NewIntent) -> AnyQuery<'q> {
    let (intent, event) = (&create.intent, &create.event);
    let query = bind_intent(query, intent)
        .bind(event.id.to_string())
        .bind(event.kind.clone())
        .bind(event.object_json.clone());
    // A create's response is its event's object: store those bytes once.
    let body_is_event = create
        .record
        .as_ref()
        .is_some_and(|r| r.response_body == event.object_json);
    bind_record(query, create.record.as_ref(), !body_is_event)
        .bind(body_is_event.then(|| event.id.to_string()))
        .bind(intent.payment_reference.map(|r| r.to_string()))
}

pub(super) fn bind_intent<'q>(query: AnyQuery<'q>, intent: &PaymentIntent) -> AnyQuery<'q> {
    query
        .bind(intent.id.to_string())
        .bind(intent.merchant_id.to_string())
        .bind(i64::from(intent.livemode))
        .bind(intent.amount.to_amount_string())
        .bind(intent.amount.currency().code().to_owned())
        .bind(intent.settlement.asset.id.to_string())
        .bind(intent.settlement.address.to_string())
        .bind(intent.status.as_str())
        .bind(intent.description.clone())
        .bind(metadata_json(intent))
        .bind(intent.client_secret.clone())
        .bind(intent.created_at_ms)
        .bind(intent.expires_at_ms)
        .bind(intent.canceled_at_ms)
        .bind(intent.cancellation_reason.map(|r| r.as_str().to_owned()))
        .bind(intent.version)
        .bind(intent.updated_at_ms)
}

/// Binds an idempotency record's six columns, or six NULLs when the request had no key. With
/// `store_body` false the body is bound NULL (it is stored elsewhere, as an event's object).
pub(super) fn bind_record<'q>(
    query: AnyQuery<'q>,
    record: Option<&IdempotencyRecord>,
    store_body: bool,
) -> AnyQuery<'q> {
    query
        .bind(record.map(|r| r.scope.clone()))
        .bind(record.map(|r| r.key.clone()))
        .bind(record.map(|r| r.request_hash.clone()))
        .bind(record.map(|r| i64::from(r.response_status)))
        .bind(
            record
                .filter(|_| store_body)
                .map(|r| r.response_body.clone()),
        )
        .bind(record.map(|r| r.created_at_ms))
}

/// A unique violation on the idempotency key means another request committed it first.
pub(super) fn map_key_conflict<T>(result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    match result {
        Ok(value) => Ok(value),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(StoreError::IdempotencyKeyTaken)
        }
        Err(e) => Err(StoreError::Database(Box::new(e))),
    }
}

pub(super) async fn insert_idempotency(
    tx: &mut Tx,
    record: &IdempotencyRecord,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO idempotency_keys ({IDEMPOTENCY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    );
    map_key_conflict(
        bind_record(sqlx::query(&sql), Some(record), true)
            .execute(&mut **tx)
            .await,
    )?;
    Ok(())
}

/// Compare-and-set of an intent's mutable columns inside `tx`: `false` when the stored row is
/// no longer in status `expected` at version `next.version - 1` (someone else moved it).
pub(super) async fn cas_intent(
    tx: &mut Tx,
    expected: PaymentStatus,
    next: &PaymentIntent,
) -> Result<bool, StoreError> {
    cas_intent_from(tx, expected, next.version - 1, next).await
}

/// [`cas_intent`] from a stored version other than the one before `next`'s: several
/// transitions made in memory, written as one.
pub(super) async fn cas_intent_from(
    tx: &mut Tx,
    expected: PaymentStatus,
    expected_version: i64,
    next: &PaymentIntent,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE payment_intents SET status = $1, canceled_at = $2, cancellation_reason = $3, \
         version = $4, updated_at = $5, amount_refunded = $9, payment_detail = $10, expires_at = \
         $11, fx_lock = $12 WHERE id = $6 AND status = $7 AND version = $8",
    )
    .bind(next.status.as_str())
    .bind(next.canceled_at_ms)
    .bind(next.cancellation_reason.map(|r| r.as_str().to_owned()))
    .bind(next.version)
    .bind(next.updated_at_ms)
    .bind(next.id.to_string())
    .bind(expected.as_str())
    .bind(expected_version)
    .bind(next.amount_refunded.normalize().to_string())
    .bind(json_text(next.payment_detail.as_ref()))
    .bind(next.expires_at_ms)
    .bind(json_text(next.fx.as_ref()))
    .execute(&mut **tx)
    .await
    .db()?
    .rows_affected();
    Ok(updated == 1)
}

/// A JSON column's text (`""` if it cannot serialize: read back as corrupt, never as absent).
pub(super) fn json_text<T: serde::Serialize>(value: Option<&T>) -> Option<String> {
    value.map(|v| serde_json::to_string(v).unwrap_or_default())
}

pub(super) async fn insert_event(tx: &mut Tx, event: &Event) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (id, merchant_id, livemode, type, object_json, created_at) VALUES \
         ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.id.to_string())
    .bind(event.merchant_id.to_string())
    .bind(i64::from(event.livemode))
    .bind(event.kind.clone())
    .bind(event.object_json.clone())
    .bind(event.created_at_ms)
    .execute(&mut **tx)
    .await
    .db()?;
    sqlx::query(
        "INSERT INTO event_outbox (event_id, merchant_id, livemode, type) SELECT $1, $2, $3, $4 \
         WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE merchant_id = $2 AND livemode = $3 \
         AND status = 'enabled')",
    )
    .bind(event.id.to_string())
    .bind(event.merchant_id.to_string())
    .bind(i64::from(event.livemode))
    .bind(event.kind.clone())
    .execute(&mut **tx)
    .await
    .db()?;
    Ok(())
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let mut conn = self.writer.acquire().await.db()?;
        migrator.run_direct(&mut *conn).await.db()?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.db()?;
        Ok(())
    }

    async fn create_merchant(
        &self,
        merchant: &Merchant,
        keys: &[ApiKeyRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        sqlx::query(
            "INSERT INTO merchants (id, name, settlement_asset, settlement_address, created_at, \
             country) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(merchant.id.to_string())
        .bind(&merchant.name)
        .bind(&merchant.settlement_asset)
        .bind(&merchant.settlement_address)
        .bind(merchant.created_at_ms)
        .bind(&merchant.country)
        .execute(&mut *tx)
        .await
        .db()?;
        for key in keys {
            insert_key(&mut tx, key).await?;
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn get_merchant(&self, id: &MerchantId) -> Result<Option<Merchant>, StoreError> {
        let id = *id;
        let read = |mut conn: Conn| async move {
            let row = sqlx::query(
                "SELECT id, name, settlement_asset, settlement_address, created_at, country \
                 FROM merchants WHERE id = $1",
            )
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .db()?;
            row.map(|row| {
                Ok(Merchant {
                    id,
                    name: row.try_get("name").db()?,
                    settlement_asset: row.try_get("settlement_asset").db()?,
                    settlement_address: row.try_get("settlement_address").db()?,
                    created_at_ms: row.try_get("created_at").db()?,
                    country: row.try_get("country").db()?,
                })
            })
            .transpose()
        };
        self.shared
            .merchants
            .read(&self.pool, id.to_string(), read)
            .await
    }

    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.key_cache
            .find(&self.pool, &self.shared.keys, key_hash)
            .await
    }

    async fn create_intent(
        &self,
        intent: &PaymentIntent,
        event: &Event,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        // The hot path of every create: queued to the group committer, which writes it with
        // the creates queued beside it.
        let result = self
            .committer
            .execute(NewIntent {
                intent: intent.clone(),
                event: event.clone(),
                record: idempotency.cloned(),
            })
            .await;
        map_key_conflict(result)?;
        Ok(())
    }

    async fn get_intent(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        id: &PaymentIntentId,
    ) -> Result<Option<PaymentIntent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_SELECT} FROM payment_intents WHERE id = $1 AND merchant_id = $2 \
             AND livemode = $3"
        ))
        .bind(id.to_string())
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(|r| self.intent_from_row(r)).transpose()
    }

    async fn get_intent_unscoped(
        &self,
        id: &PaymentIntentId,
    ) -> Result<Option<PaymentIntent>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INTENT_SELECT} FROM payment_intents WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(|r| self.intent_from_row(r)).transpose()
    }

    async fn get_intents_unscoped(
        &self,
        ids: &[PaymentIntentId],
    ) -> Result<HashMap<PaymentIntentId, PaymentIntent>, StoreError> {
        let select = format!("SELECT {INTENT_SELECT} FROM payment_intents");
        let keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let rows = super::rows::fetch_in(&self.pool, (&select, "id", ""), &keys).await?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in rows {
            let intent = self.intent_from_row(&row)?;
            found.insert(intent.id, intent);
        }
        Ok(found)
    }

    async fn list_intents(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        filter: &IntentFilter,
    ) -> Result<Page<PaymentIntent>, StoreError> {
        // Placeholders are numbered in the order they appear; conditions are appended in that
        // same order so SQLite (which numbers by appearance) and Postgres agree.
        let mut sql = format!(
            "SELECT {INTENT_SELECT} FROM payment_intents WHERE merchant_id = $1 AND livemode = $2"
        );
        let mut n = 2;
        let mut next = |sql: &mut String, cond: &str| {
            n += 1;
            sql.push_str(&format!(" AND {cond} ${n}"));
        };
        if filter.status.is_some() {
            next(&mut sql, "status =");
        }
        if filter.created_gte_ms.is_some() {
            next(&mut sql, "created_at >=");
        }
        if filter.created_lte_ms.is_some() {
            next(&mut sql, "created_at <=");
        }
        if filter.starting_after.is_some() {
            next(&mut sql, "id <");
        }
        // `ending_before` pages backwards: read ascending from the cursor, then flip.
        let backwards = filter.ending_before.is_some() && filter.starting_after.is_none();
        if backwards {
            next(&mut sql, "id >");
        }
        n += 1;
        sql.push_str(&format!(
            " ORDER BY id {} LIMIT ${n}",
            if backwards { "ASC" } else { "DESC" }
        ));
        let mut query = sqlx::query(&sql)
            .bind(merchant.to_string())
            .bind(i64::from(livemode));
        if let Some(status) = filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(gte) = filter.created_gte_ms {
            query = query.bind(gte);
        }
        if let Some(lte) = filter.created_lte_ms {
            query = query.bind(lte);
        }
        if let Some(cursor) = filter.starting_after {
            query = query.bind(cursor.to_string());
        }
        if backwards {
            if let Some(cursor) = filter.ending_before {
                query = query.bind(cursor.to_string());
            }
        }
        let rows = query
            .bind(i64::from(filter.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .db()?;
        let data = self.intents_from_rows(&rows)?;
        Ok(Page::from_rows(data, filter.limit, backwards))
    }

    async fn update_intent(
        &self,
        expected: PaymentStatus,
        next: &PaymentIntent,
        event: Option<&Event>,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        if !cas_intent(&mut tx, expected, next).await? {
            tx.rollback().await.db()?;
            return Ok(CasOutcome::Conflict);
        }
        if let Some(event) = event {
            insert_event(&mut tx, event).await?;
        }
        if let Some(record) = idempotency {
            insert_idempotency(&mut tx, record).await?;
        }
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn intents_due_to_expire(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<PaymentIntent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INTENT_SELECT} FROM payment_intents WHERE status = $1 AND expires_at <= $2 \
             AND NOT EXISTS (SELECT 1 FROM payment_transactions t WHERE t.payment_intent_id = \
             payment_intents.id AND t.status = 'pending') AND NOT EXISTS (SELECT 1 FROM \
             exchange_accounts x WHERE x.payment_intent_id = payment_intents.id AND x.status IN \
             ('pending', 'submitted')) AND NOT EXISTS (SELECT 1 FROM chain_transfers c WHERE \
             c.payment_intent_id = payment_intents.id AND c.status IN ('pending', 'submitted')) \
             ORDER BY expires_at LIMIT $3"
        ))
        .bind(PaymentStatus::AwaitingFunds.as_str())
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        self.intents_from_rows(&rows)
    }

    async fn get_idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT k.request_hash, k.response_status, COALESCE(k.response_body, \
             e.object_json) AS response_body, k.created_at FROM idempotency_keys k LEFT JOIN \
             events e ON e.id = k.response_event_id WHERE k.scope = $1 AND k.idempotency_key = \
             $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.map(|row| {
            let status: i64 = row.try_get("response_status").db()?;
            Ok(IdempotencyRecord {
                scope: scope.to_owned(),
                key: key.to_owned(),
                request_hash: row.try_get("request_hash").db()?,
                response_status: u16::try_from(status)
                    .map_err(|_| StoreError::Corrupt("idempotency status".into()))?,
                response_body: row.try_get("response_body").db()?,
                created_at_ms: row.try_get("created_at").db()?,
            })
        })
        .transpose()
    }

    async fn save_idempotency(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        insert_idempotency(&mut tx, record).await?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn prune_idempotency(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before_ms)
            .execute(&self.writer)
            .await
            .db()?;
        Ok(done.rows_affected())
    }
}
