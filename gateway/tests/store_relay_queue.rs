//! The relay queue (migration 0032) and payment transactions of a batch, on SQLite and
//! PostgreSQL: one live authorization per intent, each row bound to one batch only, a skipped
//! row replaceable; one batch transaction binds several intents while no other kind of payment
//! can claim a transaction already bound; a mined batch's items decided in one transaction.

mod common;

use common::fixtures::stored_intent;
use common::{fresh_store, Db};
use rialto_core::intent::PaymentStatus;
use rialto_gateway::store::relay_queue::{ItemDecision, RelayItem, RelayItemStatus};
use rialto_gateway::store::{PaymentSource, PaymentTransaction, PaymentTxStatus, Store};

const TO: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

fn row(intent: &rialto_core::intent::PaymentIntent, payer: &str, nonce: &str) -> RelayItem {
    RelayItem {
        payment_intent_id: intent.id,
        chain_id: "eip155:8453".into(),
        livemode: false,
        token: "0xtoken".into(),
        payer: payer.into(),
        nonce: nonce.into(),
        amount_units: "10000000".into(),
        calldata: "0x".into(),
        status: RelayItemStatus::Queued,
        batch_id: None,
        batch_index: None,
        tx_hash: None,
        reason: None,
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

async fn queue_suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let a = stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await;
    let b = stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await;
    let first = store
        .enqueue_relay(&row(&a, "0xpayer", "0x01"))
        .await
        .unwrap()
        .expect("queued");
    assert_eq!(first.status, RelayItemStatus::Queued);
    // Another authorization for the same intent: the first stands.
    let again = store
        .enqueue_relay(&row(&a, "0xpayer", "0x02"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.nonce, "0x01");
    // The same authorization for another intent: refused, nothing stored.
    assert!(store
        .enqueue_relay(&row(&b, "0xpayer", "0x01"))
        .await
        .unwrap()
        .is_none());
    assert!(store.get_relay_item(&b.id).await.unwrap().is_none());

    // Bound to one batch only.
    let batch = store.assign_relay_batch("rb_1", &[a.id], 2).await.unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].status, RelayItemStatus::Batched);
    assert!(store
        .assign_relay_batch("rb_2", &[a.id], 3)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.open_relay_batches("eip155:8453").await.unwrap(),
        ["rb_1"]
    );
    assert!(store
        .queued_relays("eip155:8453", 10)
        .await
        .unwrap()
        .is_empty());
    // While batched, a new authorization cannot take the row.
    let kept = store
        .enqueue_relay(&row(&a, "0xpayer", "0x03"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.nonce.as_str(), kept.status),
        ("0x01", RelayItemStatus::Batched)
    );

    // Skipped: decided once; then a new authorization takes the row.
    assert!(store
        .finish_relay_item(
            &a.id,
            RelayItemStatus::Skipped,
            "0xbatch",
            Some("no funds"),
            4
        )
        .await
        .unwrap());
    assert!(!store
        .finish_relay_item(&a.id, RelayItemStatus::Relayed, "0xbatch", None, 5)
        .await
        .unwrap());
    let retaken = store
        .enqueue_relay(&row(&a, "0xpayer", "0x03"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (retaken.nonce.as_str(), retaken.status, retaken.batch_id),
        ("0x03", RelayItemStatus::Queued, None)
    );
}

fn ptx(
    intent: &rialto_core::intent::PaymentIntent,
    tx: &str,
    source: PaymentSource,
) -> PaymentTransaction {
    PaymentTransaction {
        chain_id: "eip155:8453".into(),
        tx_hash: tx.into(),
        payment_intent_id: intent.id,
        payer: "0xpayer".into(),
        amount: "10".into(),
        asset: intent.settlement.asset.id.to_string(),
        block_number: 0,
        block_hash: String::new(),
        log_index: 0,
        status: PaymentTxStatus::Pending,
        source,
        created_at_ms: 1,
    }
}

async fn claim_suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let mut intents = Vec::new();
    for _ in 0..4 {
        intents.push(stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await);
    }
    let batch = PaymentSource::BatchAuthorization;
    // One batch transaction pays two intents, each with its own row.
    for intent in &intents[..2] {
        let owner = store
            .claim_transaction(&ptx(intent, "0xbatch", batch))
            .await;
        assert_eq!(owner.unwrap(), intent.id);
    }
    // Claimed again (a crash before the item was marked): still its own.
    let owner = store
        .claim_transaction(&ptx(&intents[0], "0xbatch", batch))
        .await;
    assert_eq!(owner.unwrap(), intents[0].id);
    // A payer reporting the batch transaction for a third intent is refused.
    let reported = ptx(&intents[2], "0xbatch", PaymentSource::Transaction);
    assert_ne!(
        store.claim_transaction(&reported).await.unwrap(),
        intents[2].id
    );
    // A reported transaction binds one intent: neither a batch row nor another report joins.
    let single = ptx(&intents[2], "0xsingle", PaymentSource::Transaction);
    assert_eq!(
        store.claim_transaction(&single).await.unwrap(),
        intents[2].id
    );
    let joined = ptx(&intents[3], "0xsingle", batch);
    assert_eq!(
        store.claim_transaction(&joined).await.unwrap(),
        intents[2].id
    );
    let joined = ptx(&intents[3], "0xsingle", PaymentSource::Transaction);
    assert_eq!(
        store.claim_transaction(&joined).await.unwrap(),
        intents[2].id
    );
    assert!(store
        .payment_transactions_of(&intents[3].id)
        .await
        .unwrap()
        .is_empty());
    // Each batch row moves on its own.
    let mut confirmed = ptx(&intents[1], "0xbatch", batch);
    confirmed.status = PaymentTxStatus::Confirmed;
    store
        .set_payment_transaction(&confirmed, PaymentTxStatus::Pending, None, 2)
        .await
        .unwrap();
    let first = store.payment_transactions_of(&intents[0].id).await.unwrap();
    let second = store.payment_transactions_of(&intents[1].id).await.unwrap();
    assert_eq!(first[0].status, PaymentTxStatus::Pending);
    assert_eq!(second[0].status, PaymentTxStatus::Confirmed);
}

/// A mined batch's items decided in one transaction: relayed items are bound to their intents,
/// a skipped one only says why, an item whose transaction another payment holds fails, an item
/// no longer batched is left as it is.
async fn decide_suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let mut intents = Vec::new();
    for _ in 0..5 {
        intents.push(stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await);
    }
    let ids: Vec<_> = intents.iter().map(|i| i.id).collect();
    for (n, intent) in intents.iter().enumerate() {
        store
            .enqueue_relay(&row(intent, "0xpayer", &format!("0x0{n}")))
            .await
            .unwrap()
            .expect("queued");
    }
    assert_eq!(
        store
            .assign_relay_batch("rb_d", &ids, 2)
            .await
            .unwrap()
            .len(),
        5
    );
    // The last one was decided already (a pass that ran before this one).
    assert!(store
        .finish_relay_item(&ids[4], RelayItemStatus::Skipped, "0xbatch", Some("x"), 3)
        .await
        .unwrap());
    // Another payment holds the transaction the fourth item's claim names.
    let other = stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await;
    let held = ptx(&other, "0xheld", PaymentSource::Transaction);
    assert_eq!(store.claim_transaction(&held).await.unwrap(), other.id);
    let relayed = |i: usize, tx: &str| ItemDecision {
        payment_intent_id: ids[i],
        status: RelayItemStatus::Relayed,
        reason: None,
        claim: Some(ptx(&intents[i], tx, PaymentSource::BatchAuthorization)),
    };
    let decisions = vec![
        relayed(0, "0xbatch"),
        relayed(1, "0xbatch"),
        ItemDecision {
            payment_intent_id: ids[2],
            status: RelayItemStatus::Skipped,
            reason: Some("FiatTokenV2: authorization is used or canceled".into()),
            claim: None,
        },
        relayed(3, "0xheld"),
        relayed(4, "0xbatch"),
    ];
    let decided = store
        .decide_relay_items("0xbatch", &decisions, 4)
        .await
        .unwrap();
    assert_eq!(
        decided,
        [
            Some(RelayItemStatus::Relayed),
            Some(RelayItemStatus::Relayed),
            Some(RelayItemStatus::Skipped),
            Some(RelayItemStatus::Failed),
            None,
        ]
    );
    for id in &ids[..2] {
        let paid = store.payment_transactions_of(id).await.unwrap();
        assert_eq!(paid.len(), 1);
        assert_eq!(paid[0].tx_hash, "0xbatch");
        assert_eq!(paid[0].source, PaymentSource::BatchAuthorization);
    }
    let skipped = store.get_relay_item(&ids[2]).await.unwrap().unwrap();
    assert_eq!(
        (skipped.status, skipped.reason.as_deref()),
        (
            RelayItemStatus::Skipped,
            Some("FiatTokenV2: authorization is used or canceled")
        )
    );
    assert!(store
        .payment_transactions_of(&ids[2])
        .await
        .unwrap()
        .is_empty());
    let failed = store.get_relay_item(&ids[3]).await.unwrap().unwrap();
    assert_eq!(failed.status, RelayItemStatus::Failed);
    assert!(store
        .payment_transactions_of(&ids[3])
        .await
        .unwrap()
        .is_empty());
    let earlier = store.get_relay_item(&ids[4]).await.unwrap().unwrap();
    assert_eq!(
        (earlier.status, earlier.reason.as_deref()),
        (RelayItemStatus::Skipped, Some("x"))
    );
    assert!(store
        .payment_transactions_of(&ids[4])
        .await
        .unwrap()
        .is_empty());
    // Decided again (a crash before the answer): nothing changes.
    let again = store
        .decide_relay_items("0xbatch", &decisions, 5)
        .await
        .unwrap();
    assert!(again.iter().all(Option::is_none));
    assert_eq!(
        store.payment_transactions_of(&ids[0]).await.unwrap().len(),
        1
    );
}

/// A mined batch whose claims all name its one transaction (as every batch the gateway builds)
/// is decided a statement per table, with the guards of the one-by-one path: an item no longer
/// batched is left alone and binds nothing, a claim bound before a crash stays its intent's one
/// row, and a transaction held by a reported payment fails every item naming it.
async fn decide_one_transaction_suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let mut intents = Vec::new();
    for _ in 0..7 {
        intents.push(stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await);
    }
    let ids: Vec<_> = intents.iter().map(|i| i.id).collect();
    for (n, intent) in intents.iter().enumerate() {
        let item = row(intent, "0xpayer", &format!("0x1{n}"));
        store.enqueue_relay(&item).await.unwrap().expect("queued");
    }
    let bound = store
        .assign_relay_batch("rb_a", &ids[..5], 2)
        .await
        .unwrap();
    assert_eq!(bound.len(), 5);
    let bound = store
        .assign_relay_batch("rb_b", &ids[5..], 2)
        .await
        .unwrap();
    assert_eq!(bound.len(), 2);
    let finished =
        store.finish_relay_item(&ids[4], RelayItemStatus::Skipped, "0xmined", Some("x"), 3);
    assert!(finished.await.unwrap());
    let batch = PaymentSource::BatchAuthorization;
    let early = ptx(&intents[1], "0xmined", batch);
    assert_eq!(store.claim_transaction(&early).await.unwrap(), ids[1]);
    let relayed = |i: usize, tx: &str| ItemDecision {
        payment_intent_id: ids[i],
        status: RelayItemStatus::Relayed,
        reason: None,
        claim: Some(ptx(&intents[i], tx, batch)),
    };
    let decisions = vec![
        relayed(0, "0xmined"),
        relayed(1, "0xmined"),
        ItemDecision {
            payment_intent_id: ids[2],
            status: RelayItemStatus::Skipped,
            reason: Some("FiatTokenV2: invalid signature".into()),
            claim: None,
        },
        relayed(3, "0xmined"),
        relayed(4, "0xmined"),
    ];
    let decided = store
        .decide_relay_items("0xmined", &decisions, 4)
        .await
        .unwrap();
    let relayed_status = Some(RelayItemStatus::Relayed);
    assert_eq!(
        decided,
        [
            relayed_status,
            relayed_status,
            Some(RelayItemStatus::Skipped),
            relayed_status,
            None
        ]
    );
    for i in [0, 1, 3] {
        let paid = store.payment_transactions_of(&ids[i]).await.unwrap();
        assert_eq!(paid.len(), 1, "intent {i}");
        assert_eq!(
            (paid[0].tx_hash.as_str(), paid[0].source),
            ("0xmined", batch)
        );
        assert_eq!(
            (paid[0].amount.as_str(), paid[0].status),
            ("10", PaymentTxStatus::Pending)
        );
        let item = store.get_relay_item(&ids[i]).await.unwrap().unwrap();
        assert_eq!(item.status, RelayItemStatus::Relayed);
        assert_eq!(item.tx_hash.as_deref(), Some("0xmined"));
    }
    let skipped = store.get_relay_item(&ids[2]).await.unwrap().unwrap();
    assert_eq!(
        skipped.reason.as_deref(),
        Some("FiatTokenV2: invalid signature")
    );
    let earlier = store.get_relay_item(&ids[4]).await.unwrap().unwrap();
    assert_eq!(
        (earlier.status, earlier.reason.as_deref()),
        (RelayItemStatus::Skipped, Some("x"))
    );
    for i in [2, 4] {
        assert!(store
            .payment_transactions_of(&ids[i])
            .await
            .unwrap()
            .is_empty());
    }
    // Decided again (a crash before the answer): nothing changes.
    let again = store
        .decide_relay_items("0xmined", &decisions, 5)
        .await
        .unwrap();
    assert!(again.iter().all(Option::is_none));
    // A transaction a reported payment holds: every item naming it fails, nothing is bound.
    let other = stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await;
    let held = ptx(&other, "0xtaken", PaymentSource::Transaction);
    assert_eq!(store.claim_transaction(&held).await.unwrap(), other.id);
    let decisions = vec![relayed(5, "0xtaken"), relayed(6, "0xtaken")];
    let decided = store
        .decide_relay_items("0xtaken", &decisions, 6)
        .await
        .unwrap();
    assert_eq!(decided, [Some(RelayItemStatus::Failed); 2]);
    for id in &ids[5..] {
        let item = store.get_relay_item(id).await.unwrap().unwrap();
        assert_eq!(item.status, RelayItemStatus::Failed);
        assert!(store.payment_transactions_of(id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_mined_batch_naming_one_transaction_is_decided_together_on_sqlite() {
    decide_one_transaction_suite(Db::Sqlite).await;
}

#[tokio::test]
async fn a_mined_batch_naming_one_transaction_is_decided_together_on_postgres() {
    decide_one_transaction_suite(Db::Postgres).await;
}

#[tokio::test]
async fn a_mined_batch_is_decided_in_one_transaction_on_sqlite() {
    decide_suite(Db::Sqlite).await;
}

#[tokio::test]
async fn a_mined_batch_is_decided_in_one_transaction_on_postgres() {
    decide_suite(Db::Postgres).await;
}

#[tokio::test]
async fn the_relay_queue_takes_one_live_authorization_per_intent_on_sqlite() {
    queue_suite(Db::Sqlite).await;
}

#[tokio::test]
async fn the_relay_queue_takes_one_live_authorization_per_intent_on_postgres() {
    queue_suite(Db::Postgres).await;
}

#[tokio::test]
async fn a_batch_transaction_pays_several_intents_and_no_other_payment_can_join_it_on_sqlite() {
    claim_suite(Db::Sqlite).await;
}

#[tokio::test]
async fn a_batch_transaction_pays_several_intents_and_no_other_payment_can_join_it_on_postgres() {
    claim_suite(Db::Postgres).await;
}

/// Enqueues arriving together share a commit (`sql_relay_queue::spawn_enqueuer`, a savepoint
/// each): the one reusing another intent's authorization is refused alone, and every other is
/// stored and answered with its own row.
async fn together_suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let mut intents = Vec::new();
    for _ in 0..10 {
        intents.push(stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await);
    }
    // Intent 9 carries intent 0's authorization (same payer and nonce).
    let rows: Vec<RelayItem> = intents
        .iter()
        .enumerate()
        .map(|(i, pi)| {
            row(
                pi,
                "0xpayer",
                &format!("0x{:02x}", if i == 9 { 0 } else { i }),
            )
        })
        .collect();
    let answers = futures::future::join_all(rows.iter().map(|r| store.enqueue_relay(r))).await;
    for (i, answer) in answers.into_iter().enumerate() {
        let stored = store.get_relay_item(&intents[i].id).await.unwrap();
        if i == 9 {
            assert!(
                answer.unwrap().is_none(),
                "the reused authorization is refused"
            );
            assert!(stored.is_none(), "and nothing of it is stored");
        } else {
            let answered = answer.unwrap().expect("queued");
            assert_eq!(answered.payment_intent_id, intents[i].id, "its own row");
            assert_eq!(answered.nonce, format!("0x{i:02x}"));
            assert_eq!(stored.unwrap().status, RelayItemStatus::Queued);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueues_arriving_together_each_stand_or_fall_alone_on_sqlite() {
    together_suite(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueues_arriving_together_each_stand_or_fall_alone_on_postgres() {
    together_suite(Db::Postgres).await;
}

/// Enqueues arriving together with no refusal among them (`enqueue_batch`, three statements
/// for a whole batch, when they form one): a new row each; a second authorization for an
/// intent already queued answers the first; a row whose authorization was skipped is taken
/// over; a batched row is left alone.
async fn together_taking_over_suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let mut intents = Vec::new();
    for _ in 0..8 {
        intents.push(stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await);
    }
    // Intent 0's row skipped, intent 1's batched, before the others arrive.
    for (i, pi) in intents[..2].iter().enumerate() {
        store
            .enqueue_relay(&row(pi, "0xearlier", &format!("0x1{i}")))
            .await
            .unwrap()
            .unwrap();
    }
    store
        .assign_relay_batch("rb_1", &[intents[0].id, intents[1].id], 2)
        .await
        .unwrap();
    assert!(store
        .finish_relay_item(&intents[0].id, RelayItemStatus::Skipped, "0xb", None, 3)
        .await
        .unwrap());
    // Items 0..8 for intents 0..8, and item 8 a second one for intent 2.
    let mut rows: Vec<RelayItem> = intents
        .iter()
        .enumerate()
        .map(|(i, pi)| row(pi, "0xpayer", &format!("0x{i:02x}")))
        .collect();
    rows.push(row(&intents[2], "0xpayer", "0x99"));
    let answers = futures::future::join_all(rows.iter().map(|r| store.enqueue_relay(r))).await;
    let answers: Vec<RelayItem> = answers
        .into_iter()
        .map(|a| a.unwrap().expect("answered its row"))
        .collect();
    assert_eq!(
        (answers[0].nonce.as_str(), answers[0].status),
        ("0x00", RelayItemStatus::Queued),
        "the skipped row is taken over"
    );
    assert_eq!(
        (answers[1].nonce.as_str(), answers[1].status),
        ("0x11", RelayItemStatus::Batched),
        "the batched row is left alone"
    );
    let second = &answers[8];
    assert_eq!(second.payment_intent_id, intents[2].id);
    assert_eq!(
        second.nonce, answers[2].nonce,
        "one row per intent: both items answer it"
    );
    for (i, pi) in intents.iter().enumerate().skip(3) {
        assert_eq!(answers[i].payment_intent_id, pi.id);
        assert_eq!(answers[i].nonce, format!("0x{i:02x}"));
        let stored = store.get_relay_item(&pi.id).await.unwrap().unwrap();
        assert_eq!(stored.status, RelayItemStatus::Queued);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueues_arriving_together_take_over_what_they_may_on_sqlite() {
    together_taking_over_suite(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueues_arriving_together_take_over_what_they_may_on_postgres() {
    together_taking_over_suite(Db::Postgres).await;
}
