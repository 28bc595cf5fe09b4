//! The API-key cache (`gateway/src/store/key_cache.rs`), as an attacker holding a key that was
//! just revoked would probe it: on PostgreSQL a key is served from memory, yet a revoke or
//! roll through this store is seen by its very next lookup, a revoke through another store on
//! the same database is seen there as soon as its notice arrives (the cache's TTL is set to an
//! hour here, so only the notice can evict), and a store that lost its listening connection
//! serves nothing from memory. SQLite never caches.
//!
//! Waiting on the cache's state is bounded by [`HANG_GUARD`] only so a broken listener fails
//! the test instead of hanging it; no assertion is about time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{fresh_database, registry, Db};
use rialto_core::id::MerchantId;
use rialto_gateway::config::Config;
use rialto_gateway::keys::{generate_key, hash_key};
use rialto_gateway::server::open_store;
use rialto_gateway::store::{
    access::AccessStore, ApiKeyRecord, CacheState, CasOutcome, KeyKind, Merchant, SqlStore, Store,
};
use sqlx::any::AnyPoolOptions;

const T0: i64 = 1_800_000_000_000;
const HANG_GUARD: Duration = Duration::from_secs(60);

async fn open(url: &str) -> Arc<SqlStore> {
    let mut config = Config::default();
    config.database.url = url.to_owned();
    Arc::new(open_store(&config, registry()).await.expect("open store"))
}

/// A merchant with one secret key: its secret and record.
async fn merchant_with_key(store: &dyn Store) -> (String, ApiKeyRecord) {
    let id = MerchantId::generate();
    let merchant = Merchant {
        id,
        name: "Shop".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: T0,
        country: None,
    };
    let (secret, record) = generate_key(id, KeyKind::Secret, false, T0);
    store
        .create_merchant(&merchant, std::slice::from_ref(&record))
        .await
        .unwrap();
    (secret, record)
}

/// Waits until `store`'s cache state satisfies `ready`.
async fn wait_for(store: &SqlStore, ready: impl Fn(&CacheState) -> bool) {
    let mut state = store.key_cache().watch();
    tokio::time::timeout(HANG_GUARD, state.wait_for(ready))
        .await
        .expect("the key cache never reached the awaited state")
        .expect("the key cache is gone");
}

/// Finds `hash` twice and answers how many of those lookups read the database.
async fn reads_for_two_lookups(store: &SqlStore, hash: &str) -> u64 {
    let before = store.key_cache().database_reads();
    for _ in 0..2 {
        assert!(store.find_api_key(hash).await.unwrap().is_some());
    }
    store.key_cache().database_reads() - before
}

async fn a_revoked_key_is_refused_at_once_even_when_cached(db: Db) {
    let (url, _dir) = fresh_database(db).await;
    let store = open(&url).await;
    let (secret, key) = merchant_with_key(store.as_ref()).await;
    let hash = hash_key(&secret);
    if db == Db::Postgres {
        wait_for(&store, |s| s.listening).await;
        assert_eq!(reads_for_two_lookups(&store, &hash).await, 1, "cached");
    } else {
        assert_eq!(
            reads_for_two_lookups(&store, &hash).await,
            2,
            "SQLite reads fresh"
        );
    }
    let outcome = store.revoke_api_key(&key.id, T0 + 1, None).await.unwrap();
    assert_eq!(outcome, CasOutcome::Updated);
    assert_eq!(store.find_api_key(&hash).await.unwrap(), None);
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_even_when_cached_on_sqlite() {
    a_revoked_key_is_refused_at_once_even_when_cached(Db::Sqlite).await;
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_even_when_cached_on_postgres() {
    a_revoked_key_is_refused_at_once_even_when_cached(Db::Postgres).await;
}

#[tokio::test]
async fn a_rolled_keys_grace_period_applies_at_once_even_when_cached_on_postgres() {
    let (url, _dir) = fresh_database(Db::Postgres).await;
    let store = open(&url).await;
    let (secret, key) = merchant_with_key(store.as_ref()).await;
    let hash = hash_key(&secret);
    wait_for(&store, |s| s.listening).await;
    assert_eq!(reads_for_two_lookups(&store, &hash).await, 1, "cached");
    let (_, new) = generate_key(key.merchant_id, KeyKind::Secret, false, T0 + 1);
    let grace_end = T0 + 60_000;
    let outcome = store
        .roll_api_key(&key.id, grace_end, &new, None)
        .await
        .unwrap();
    assert_eq!(outcome, CasOutcome::Updated);
    let seen = store.find_api_key(&hash).await.unwrap().expect("in grace");
    assert_eq!(seen.expires_at_ms, Some(grace_end));
    assert!(!seen.is_active(grace_end));
}

#[tokio::test]
async fn a_key_revoked_through_another_store_is_refused_there_once_the_notice_arrives() {
    let (url, _dir) = fresh_database(Db::Postgres).await;
    let (here, there) = (open(&url).await, open(&url).await);
    there.key_cache().set_ttl(Duration::from_secs(3600));
    let (secret, key) = merchant_with_key(here.as_ref()).await;
    let hash = hash_key(&secret);
    wait_for(&there, |s| s.listening).await;
    assert_eq!(
        reads_for_two_lookups(&there, &hash).await,
        1,
        "cached there"
    );
    let flushes = there.key_cache().watch().borrow().flushes;
    let outcome = here.revoke_api_key(&key.id, T0 + 1, None).await.unwrap();
    assert_eq!(outcome, CasOutcome::Updated);
    wait_for(&there, |s| s.flushes > flushes).await;
    assert_eq!(there.find_api_key(&hash).await.unwrap(), None);
}

#[tokio::test]
async fn a_store_that_lost_its_listening_connection_reads_keys_fresh() {
    let (url, _dir) = fresh_database(Db::Postgres).await;
    let store = open(&url).await;
    store.key_cache().set_ttl(Duration::from_secs(3600));
    let (secret, _key) = merchant_with_key(store.as_ref()).await;
    let hash = hash_key(&secret);
    wait_for(&store, |s| s.listening).await;
    assert_eq!(reads_for_two_lookups(&store, &hash).await, 1, "cached");
    let admin = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    // Cut the listening connection, then revoke behind Rialto's back (no notice at all).
    let flushes = store.key_cache().watch().borrow().flushes;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = \
         current_database() AND query LIKE 'LISTEN%'",
    )
    .execute(&admin)
    .await
    .unwrap();
    // The loss flushes (the store may already be listening again: it starts empty then).
    wait_for(&store, |s| s.flushes > flushes).await;
    sqlx::query("UPDATE api_keys SET revoked_at = 1 WHERE key_hash = $1")
        .bind(&hash)
        .execute(&admin)
        .await
        .unwrap();
    assert_eq!(store.find_api_key(&hash).await.unwrap(), None);
}
