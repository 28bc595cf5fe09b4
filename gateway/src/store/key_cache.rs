//! API keys found by their hash, kept in memory for a few seconds so an authenticated request
//! does not pay a second PostgreSQL round trip for its key (issue 21, point 6: on the create
//! path that lookup was half of the statements a create sent).
//!
//! A revoked or rolled key must stop working at once, so the cache is only trusted while it
//! can hear about changes:
//!
//! - **this instance**: a revoke or roll flushes the cache right after its commit, before it
//!   is answered (`sql_access.rs`), so the next request reads the key afresh;
//! - **other instances** (several gateways on one PostgreSQL): the revoke or roll also sends a
//!   `NOTIFY rialto_api_keys` in its transaction, which PostgreSQL delivers at commit; every
//!   store keeps a `LISTEN` connection and flushes on each notice. While that connection is
//!   not listening (starting, lost, reconnecting) nothing is served from the cache, and a lost
//!   connection flushes it, since notices sent meanwhile are gone;
//! - **bound**: an entry lives [`TTL`] at most, which caps the damage if a notice is delayed
//!   or the listening connection dies without the store noticing, and covers a key changed
//!   outside Rialto's store (a hand-written `UPDATE`).
//!
//! A read that raced with a flush (it began before a revoke committed and ends after the
//! flush) is not kept: entries are stored only if no flush happened since the read began.
//! Only keys that were found are kept, by the hash of the key (never the key): a guessed key
//! always reaches the database, as before, and is counted by the rate limiter. SQLite never
//! caches: its lookup is an in-process read, and `rialto keys revoke` run in another process
//! on the same file could not tell the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::coalesce::Coalesce;
use super::sql_access::{key_from_row, KEY_COLUMNS};
use super::{ApiKeyRecord, Conn, Connections, Db, StoreError};

/// The PostgreSQL channel a key's revoke or roll is announced on.
pub(super) const CHANNEL: &str = "rialto_api_keys";

/// How long a found key is served from memory at most.
pub const TTL: Duration = Duration::from_secs(5);

/// Bounds the memory the cache takes (one entry per active key in use).
const MAX_ENTRIES: usize = 10_000;

/// Wait before listening again after the listening connection failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

/// What the cache is doing, for whoever waits on it (tests, start-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheState {
    /// Flushes so far (each revoke or roll heard of, each listener loss).
    pub flushes: u64,
    /// Whether changes are being heard, so entries may be served.
    pub listening: bool,
}

#[derive(Debug)]
struct Entry {
    record: ApiKeyRecord,
    until: Instant,
}

#[derive(Debug)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
    state: watch::Sender<CacheState>,
    ttl_ms: AtomicU64,
    /// Lookups that went to the database.
    reads: AtomicU64,
    listener: OnceLock<AbortHandle>,
}

impl Drop for KeyCache {
    fn drop(&mut self) {
        if let Some(task) = self.listener.get() {
            task.abort();
        }
    }
}

impl KeyCache {
    /// A cache that serves nothing until [`KeyCache::listen`] hears PostgreSQL.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            entries: Mutex::new(HashMap::new()),
            state: watch::Sender::new(CacheState {
                flushes: 0,
                listening: false,
            }),
            ttl_ms: AtomicU64::new(u64::try_from(TTL.as_millis()).unwrap_or(u64::MAX)),
            reads: AtomicU64::new(0),
            listener: OnceLock::new(),
        })
    }

    /// Lookups by hash that read the database (the rest were served from memory).
    pub fn database_reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Changes of [`CacheState`], to wait for the listener or for a flush.
    pub fn watch(&self) -> watch::Receiver<CacheState> {
        self.state.subscribe()
    }

    /// Sets how long entries live (tests use a long one to prove notices, not time, evict).
    pub fn set_ttl(&self, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.ttl_ms.store(ms, Ordering::Relaxed);
    }

    /// Forgets every entry; reads that began before this are not kept.
    pub(super) fn flush(&self) {
        self.reset(None);
    }

    fn reset(&self, listening: Option<bool>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.clear();
        // Bumped under the entries' lock, so `keep` sees a flush or runs before it.
        self.state.send_modify(|s| {
            s.flushes += 1;
            if let Some(listening) = listening {
                s.listening = listening;
            }
        });
    }

    /// The key with this hash, from memory when it may be trusted, else from the database.
    pub(super) async fn find(
        &self,
        pool: &Connections,
        shared: &Coalesce<Option<ApiKeyRecord>>,
        hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let began = match self.cached(hash) {
            Ok(record) => return Ok(Some(record)),
            Err(began) => began,
        };
        let read = |mut conn: Conn| async move {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let row = sqlx::query(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
            ))
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await
            .db()?;
            row.as_ref().map(key_from_row).transpose()
        };
        let record = shared.read(pool, hash.to_owned(), read).await?;
        if let (Some(record), Some(began)) = (&record, began) {
            self.keep(hash, record, began);
        }
        Ok(record)
    }

    /// `Ok` with a fresh entry; else `Err` with the flush count the read starts at (`None`
    /// when nothing may be kept: not listening, or caching off).
    fn cached(&self, hash: &str) -> Result<ApiKeyRecord, Option<u64>> {
        let state = *self.state.borrow();
        if !state.listening || self.ttl_ms.load(Ordering::Relaxed) == 0 {
            return Err(None);
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(hash) {
            Some(entry) if entry.until > Instant::now() => Ok(entry.record.clone()),
            _ => Err(Some(state.flushes)),
        }
    }

    fn keep(&self, hash: &str, record: &ApiKeyRecord, began: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let state = *self.state.borrow();
        if !state.listening || state.flushes != began {
            return;
        }
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.until > now);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        let ttl = Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed));
        entries.insert(
            hash.to_owned(),
            Entry {
                record: record.clone(),
                until: now + ttl,
            },
        );
    }

    /// Listens for key changes on PostgreSQL at `url` for as long as the cache lives,
    /// listening again after a lost connection.
    pub(super) fn listen(self: &Arc<Self>, url: String) {
        let cache = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            loop {
                if let Ok(mut listener) = PgListener::connect(&url).await {
                    if listener.listen(CHANNEL).await.is_ok() {
                        let Some(live) = cache.upgrade() else { return };
                        live.reset(Some(true));
                        drop(live);
                        // Until the connection is lost: each notice flushes.
                        loop {
                            let notice = listener.try_recv().await;
                            let Some(live) = cache.upgrade() else { return };
                            if let Ok(Some(_)) = notice {
                                live.flush();
                            } else {
                                // Lost: notices sent meanwhile are gone, so is what we kept.
                                live.reset(Some(false));
                                break;
                            }
                        }
                    }
                }
                if cache.strong_count() == 0 {
                    return;
                }
                tracing::warn!("API key cache: not listening to PostgreSQL; keys are read fresh");
                tokio::time::sleep(RELISTEN_AFTER).await;
            }
        });
        let _ = self.listener.set(task.abort_handle());
    }
}
