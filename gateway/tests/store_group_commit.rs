//! Group commit of intent creates (`gateway/src/store/group_commit.rs`), on SQLite and
//! PostgreSQL: creates queued together are written together, one failing create does not sink
//! the others, and of two creates with the same idempotency key in one batch the first wins.
//!
//! The creates are started with `join_all` on the test's single-threaded runtime: every one is
//! queued before a committer runs, so they land in one batch. On PostgreSQL a trigger notes
//! the transaction that wrote each intent, which shows the batch really was one commit.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{fresh_store, registry, Db, ADDRESS};
use rialto_core::id::{EventId, MerchantId, PaymentIntentId, WebhookEndpointId};
use rialto_core::intent::{PaymentIntent, PaymentStatus, SettlementTarget};
use rialto_core::money::{Currency, Money};
use rialto_gateway::keys::generate_key;
use rialto_gateway::store::{
    Event, IdempotencyRecord, KeyKind, Merchant, SqlStore, Store, StoreError, WebhookEndpoint,
    WebhookStore,
};

const T0: i64 = 1_800_000_000_000;

async fn merchant(store: &dyn Store) -> MerchantId {
    let id = MerchantId::generate();
    let m = Merchant {
        id,
        name: "Shop".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: T0,
        country: None,
    };
    let (_, sk) = generate_key(id, KeyKind::Secret, false, T0);
    store.create_merchant(&m, &[sk]).await.unwrap();
    id
}

fn intent(merchant: MerchantId) -> PaymentIntent {
    let id = PaymentIntentId::generate();
    PaymentIntent {
        id,
        merchant_id: merchant,
        livemode: false,
        amount: Money::parse("12.34", Currency::usd()).unwrap(),
        settlement: SettlementTarget::resolve(&registry(), "usdc", "base", ADDRESS).unwrap(),
        status: PaymentStatus::AwaitingFunds,
        description: Some("desc".into()),
        metadata: BTreeMap::from([("order".to_owned(), "7".to_owned())]),
        client_secret: format!("{id}_secret_x"),
        created_at_ms: T0,
        expires_at_ms: T0 + 60_000,
        updated_at_ms: T0,
        canceled_at_ms: None,
        cancellation_reason: None,
        version: 1,
        amount_refunded: rust_decimal::Decimal::ZERO,
        payment_detail: None,
        payment_reference: None,
        fx: None,
    }
}

fn created(pi: &PaymentIntent) -> Event {
    Event {
        id: EventId::generate(),
        merchant_id: pi.merchant_id,
        livemode: pi.livemode,
        kind: "payment_intent.created".into(),
        object_json: format!("{{\"id\":\"{}\"}}", pi.id),
        created_at_ms: T0,
    }
}

fn record(scope: &str, key: &str, body: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: scope.into(),
        key: key.into(),
        request_hash: format!("hash-of-{body}"),
        response_status: 200,
        response_body: body.into(),
        created_at_ms: T0,
    }
}

/// One create of a batch: the intent, its event and its idempotency record, if keyed.
type Create = (PaymentIntent, Event, Option<IdempotencyRecord>);

/// Starts every create at once (one batch) and answers their results in order.
async fn create_together(store: &SqlStore, creates: &[Create]) -> Vec<Result<(), StoreError>> {
    futures::future::join_all(
        creates
            .iter()
            .map(|(pi, ev, rec)| store.create_intent(pi, ev, rec.as_ref())),
    )
    .await
}

/// On PostgreSQL, a trigger notes the top-level transaction (`txid_current()`, the same inside
/// a savepoint) of every intent row written; rows a savepoint rolls back lose their note too.
async fn note_writing_transactions(store: &SqlStore, db: Db) {
    if db != Db::Postgres {
        return;
    }
    for statement in [
        "CREATE TABLE batch_probe (intent_id TEXT NOT NULL, tx BIGINT NOT NULL)",
        "CREATE FUNCTION batch_probe() RETURNS trigger AS $$ BEGIN INSERT INTO batch_probe \
         VALUES (NEW.id, txid_current()); RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER batch_probe AFTER INSERT ON payment_intents FOR EACH ROW EXECUTE \
         FUNCTION batch_probe()",
    ] {
        sqlx::query(statement).execute(store.pool()).await.unwrap();
    }
}

/// The distinct PostgreSQL transactions that wrote these intents (`None` on SQLite).
async fn writing_transactions(store: &SqlStore, db: Db, ids: &[PaymentIntentId]) -> Option<usize> {
    if db != Db::Postgres {
        return None;
    }
    let mut seen = BTreeSet::new();
    for id in ids {
        let tx: String =
            sqlx::query_scalar("SELECT tx::text FROM batch_probe WHERE intent_id = $1")
                .bind(id.to_string())
                .fetch_one(store.pool())
                .await
                .unwrap();
        seen.insert(tx);
    }
    Some(seen.len())
}

async fn a_failing_create_inside_a_batch_does_not_sink_the_others_and_a_repeated_key_answers_the_first(
    db: Db,
) {
    let (store, _dir) = fresh_store(db).await;
    note_writing_transactions(&store, db).await;
    let m = merchant(store.as_ref()).await;
    let scope = format!("{m}:test");
    let earlier = intent(m);
    store
        .create_intent(
            &earlier,
            &created(&earlier),
            Some(&record(&scope, "taken", "earlier")),
        )
        .await
        .unwrap();
    let keys = [
        Some("k0"),
        Some("taken"),
        Some("dup"),
        Some("dup"),
        None,
        Some("k5"),
    ];
    let bodies = ["b0", "b1", "first", "second", "b4", "b5"];
    let creates: Vec<Create> = keys
        .iter()
        .zip(bodies)
        .map(|(key, body)| {
            let pi = intent(m);
            let ev = created(&pi);
            (pi, ev, key.map(|k| record(&scope, k, body)))
        })
        .collect();
    let results = create_together(&store, &creates).await;
    let refused = [1, 3];
    for (i, (result, (pi, ev, _))) in results.iter().zip(&creates).enumerate() {
        let stored = store.get_intent(&m, false, &pi.id).await.unwrap();
        let event = store.get_event(&m, false, &ev.id).await.unwrap();
        if refused.contains(&i) {
            assert!(
                matches!(result, Err(StoreError::IdempotencyKeyTaken)),
                "{i}: {result:?}"
            );
            assert_eq!(
                (stored, event),
                (None, None),
                "{i}: a refused create leaves nothing"
            );
        } else {
            assert!(result.is_ok(), "{i}: {result:?}");
            assert_eq!(stored.as_ref(), Some(pi), "{i}");
            assert_eq!(event.as_ref(), Some(ev), "{i}");
        }
    }
    // What the API replays for each key: the first create's answer, never the refused one's.
    let replay = |key: &'static str| {
        let store = store.clone();
        let scope = scope.clone();
        async move {
            store
                .get_idempotency(&scope, key)
                .await
                .unwrap()
                .unwrap()
                .response_body
        }
    };
    assert_eq!(replay("taken").await, "earlier");
    assert_eq!(replay("dup").await, "first");
    assert_eq!(replay("k5").await, "b5");
    let survivors: Vec<PaymentIntentId> = [0, 2, 4, 5].iter().map(|&i| creates[i].0.id).collect();
    assert_eq!(
        writing_transactions(&store, db, &survivors)
            .await
            .unwrap_or(1),
        1,
        "the survivors of the batch commit together"
    );
}

async fn a_clean_batch_is_one_commit_that_writes_what_single_creates_write(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    note_writing_transactions(&store, db).await;
    let quiet = merchant(store.as_ref()).await;
    let hooked = merchant(store.as_ref()).await;
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::generate(),
        merchant_id: hooked,
        livemode: false,
        url: "https://hooks.example/rialto".into(),
        description: None,
        enabled_events: vec!["*".into()],
        enabled: true,
        secret_sealed: "sealed".into(),
        created_at_ms: T0,
        updated_at_ms: T0,
    };
    store
        .create_webhook_endpoint(&endpoint, None)
        .await
        .unwrap();
    let creates: Vec<Create> = (0..12)
        .map(|i| {
            let m = if i % 3 == 0 { hooked } else { quiet };
            let pi = intent(m);
            let ev = created(&pi);
            // Half the responses equal the event's object (stored once, as the event).
            let body = if i % 2 == 0 {
                ev.object_json.clone()
            } else {
                format!("body{i}")
            };
            let rec = (i != 7).then(|| record(&format!("{m}:test"), &format!("k{i}"), &body));
            (pi, ev, rec)
        })
        .collect();
    for result in create_together(&store, &creates).await {
        result.unwrap();
    }
    for (pi, ev, rec) in &creates {
        let m = pi.merchant_id;
        assert_eq!(
            store.get_intent(&m, false, &pi.id).await.unwrap().as_ref(),
            Some(pi)
        );
        assert_eq!(
            store.get_event(&m, false, &ev.id).await.unwrap().as_ref(),
            Some(ev)
        );
        if let Some(rec) = rec {
            let stored = store.get_idempotency(&rec.scope, &rec.key).await.unwrap();
            assert_eq!(stored.as_ref(), Some(rec), "replayed byte for byte");
        }
    }
    let outboxed: BTreeSet<String> =
        sqlx::query_scalar::<_, String>("SELECT event_id FROM event_outbox")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    let expected: BTreeSet<String> = creates
        .iter()
        .filter(|(pi, _, _)| pi.merchant_id == hooked)
        .map(|(_, ev, _)| ev.id.to_string())
        .collect();
    assert_eq!(
        outboxed, expected,
        "an outbox row only for the merchant with an endpoint"
    );
    let ids: Vec<PaymentIntentId> = creates.iter().map(|(pi, _, _)| pi.id).collect();
    assert_eq!(
        writing_transactions(&store, db, &ids).await.unwrap_or(1),
        1,
        "one commit"
    );
}

#[tokio::test]
async fn on_sqlite_a_failing_create_in_a_batch_fails_alone_and_a_repeated_key_answers_the_first() {
    a_failing_create_inside_a_batch_does_not_sink_the_others_and_a_repeated_key_answers_the_first(
        Db::Sqlite,
    )
    .await;
}

#[tokio::test]
async fn on_postgres_a_failing_create_in_a_batch_fails_alone_and_a_repeated_key_answers_the_first()
{
    a_failing_create_inside_a_batch_does_not_sink_the_others_and_a_repeated_key_answers_the_first(
        Db::Postgres,
    )
    .await;
}

#[tokio::test]
async fn on_sqlite_a_clean_batch_writes_what_single_creates_write() {
    a_clean_batch_is_one_commit_that_writes_what_single_creates_write(Db::Sqlite).await;
}

#[tokio::test]
async fn on_postgres_a_clean_batch_is_one_commit_that_writes_what_single_creates_write() {
    a_clean_batch_is_one_commit_that_writes_what_single_creates_write(Db::Postgres).await;
}
