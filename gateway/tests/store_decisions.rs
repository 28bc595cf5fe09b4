//! A screening decision that funds an intent also confirms the payment transaction that
//! brought the funds (`IntentChange::confirms`), in one store transaction, on SQLite and
//! PostgreSQL: both land or neither does.

mod common;

use common::fixtures::{case, entry, stored_intent};
use common::{fresh_store, Db, ADDRESS};
use rialto_compliance::ComplianceCaseId;
use rialto_core::intent::{PaymentEvent, PaymentStatus};
use rialto_gateway::store::{CasOutcome, CaseStatus, IntentChange, Store};

const T0: i64 = 1_800_000_000_000;

/// A pending payment transaction of `pi` (hash `n`), claimed for it.
async fn claimed_pending(
    store: &dyn Store,
    pi: &rialto_core::intent::PaymentIntent,
    n: u32,
) -> rialto_gateway::store::PaymentTransaction {
    use rialto_gateway::store::{PaymentSource, PaymentTransaction, PaymentTxStatus};
    let pending = PaymentTransaction {
        chain_id: "eip155:8453".into(),
        tx_hash: format!("0x{n:064x}"),
        payment_intent_id: pi.id,
        payer: ADDRESS.into(),
        amount: "25".into(),
        asset: pi.settlement.asset.id.to_string(),
        block_number: 0,
        block_hash: String::new(),
        log_index: 0,
        status: PaymentTxStatus::Pending,
        source: PaymentSource::Transaction,
        created_at_ms: T0,
    };
    assert_eq!(store.claim_transaction(&pending).await.unwrap(), pi.id);
    pending
}

async fn a_decision_confirms_its_payment_transaction_with_the_intent_or_not_at_all(
    store: &dyn Store,
) {
    use rialto_gateway::store::{PaymentTransaction, PaymentTxStatus};
    let pi = stored_intent(store, "25.00", PaymentStatus::AwaitingFunds, ADDRESS, T0).await;
    let m = pi.merchant_id;
    let pending = claimed_pending(store, &pi, 0xc0f1).await;
    let confirmed = PaymentTransaction {
        status: PaymentTxStatus::Confirmed,
        amount: "25.00".into(),
        block_number: 7,
        block_hash: "0xb7".into(),
        log_index: 3,
        ..pending.clone()
    };
    let mut funded = pi.transition(PaymentEvent::FundsDetected, T0 + 1).unwrap();
    funded.version = pi.version + 1;
    let pi = &pi;
    let decide = |id: ComplianceCaseId, change: IntentChange| async move {
        store
            .record_decision(
                &case(id, pi, CaseStatus::Open),
                &entry(&id, "screening"),
                Some(&change),
                None,
            )
            .await
            .unwrap()
    };
    let change = IntentChange {
        expected: PaymentStatus::AwaitingFunds,
        next: funded.clone(),
        events: vec![],
        confirms: Some(confirmed.clone()),
    };
    // A payment transaction that is no longer pending refuses the whole decision.
    let mut elsewhere = change.clone();
    elsewhere.confirms = Some(PaymentTransaction {
        tx_hash: format!("0x{:064x}", 0xdeadu32),
        ..confirmed.clone()
    });
    let refused = ComplianceCaseId::generate();
    assert_eq!(decide(refused, elsewhere).await, CasOutcome::Conflict);
    assert!(store.get_case(&refused).await.unwrap().is_none());
    let now = store.get_intent(&m, false, &pi.id).await.unwrap().unwrap();
    assert_eq!(now.status, PaymentStatus::AwaitingFunds, "nothing moved");
    // The real one: the intent and its confirmed transaction together.
    assert_eq!(
        decide(ComplianceCaseId::generate(), change.clone()).await,
        CasOutcome::Updated
    );
    let now = store.get_intent(&m, false, &pi.id).await.unwrap().unwrap();
    assert_eq!(now.status, PaymentStatus::FundsReceived);
    let stored = store.payment_transactions_of(&pi.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (
            stored[0].status,
            stored[0].amount.as_str(),
            stored[0].block_number,
            stored[0].log_index
        ),
        (PaymentTxStatus::Confirmed, "25.00", 7, 3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_confirms_its_payment_transaction_on_sqlite() {
    let (store, _dir) = fresh_store(Db::Sqlite).await;
    a_decision_confirms_its_payment_transaction_with_the_intent_or_not_at_all(store.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_confirms_its_payment_transaction_on_postgres() {
    let (store, _dir) = fresh_store(Db::Postgres).await;
    a_decision_confirms_its_payment_transaction_with_the_intent_or_not_at_all(store.as_ref()).await;
}

/// Decisions arriving together are committed together (`decision_commit`): each still stands
/// or falls alone, and the audit chain stays one unbroken chain in commit order.
async fn decisions_arriving_together_each_stand_or_fall_alone(store: &dyn Store) {
    use futures::future::join_all;
    use rialto_compliance::verify_chain;
    let mut intents = Vec::new();
    for _ in 0..12 {
        intents
            .push(stored_intent(store, "25.00", PaymentStatus::AwaitingFunds, ADDRESS, T0).await);
    }
    let change = |pi: &rialto_core::intent::PaymentIntent, expected| {
        let mut next = pi.transition(PaymentEvent::FundsDetected, T0 + 1).unwrap();
        next.version = pi.version + 1;
        IntentChange {
            expected,
            next,
            events: vec![],
            confirms: None,
        }
    };
    // Even intents are funded; odd ones are expected in a status they are not in (Conflict);
    // and one decision reuses the first one's case id (the database refuses it: an error).
    let ids: Vec<ComplianceCaseId> = intents
        .iter()
        .map(|_| ComplianceCaseId::generate())
        .collect();
    let decisions = intents.iter().enumerate().map(|(i, pi)| {
        let expected = if i % 2 == 0 {
            PaymentStatus::AwaitingFunds
        } else {
            PaymentStatus::Settling
        };
        let id = if i == 11 { ids[0] } else { ids[i] };
        let change = change(pi, expected);
        async move {
            store
                .record_decision(
                    &case(id, pi, CaseStatus::Open),
                    &entry(&id, "screening"),
                    Some(&change),
                    None,
                )
                .await
        }
    });
    let answers = join_all(decisions).await;
    for (i, answer) in answers.iter().enumerate() {
        let pi = &intents[i];
        let now = store
            .get_intent(&pi.merchant_id, false, &pi.id)
            .await
            .unwrap()
            .unwrap();
        match i {
            11 => {
                assert!(
                    answer.is_err(),
                    "a duplicate case id is refused: {answer:?}"
                );
                assert_eq!(
                    now.status,
                    PaymentStatus::AwaitingFunds,
                    "its intent did not move"
                );
            }
            i if i % 2 == 0 => {
                assert_eq!(
                    answer.as_ref().unwrap(),
                    &CasOutcome::Updated,
                    "decision {i}"
                );
                assert_eq!(now.status, PaymentStatus::FundsReceived);
                assert!(store.get_case(&ids[i]).await.unwrap().is_some());
            }
            i => {
                assert_eq!(
                    answer.as_ref().unwrap(),
                    &CasOutcome::Conflict,
                    "decision {i}"
                );
                assert_eq!(now.status, PaymentStatus::AwaitingFunds);
                assert!(
                    store.get_case(&ids[i]).await.unwrap().is_none(),
                    "rolled back"
                );
            }
        }
    }
    let records = store.audit_records(0, 100).await.unwrap();
    let kept: Vec<String> = (0..12).step_by(2).map(|i| ids[i].to_string()).collect();
    let mut chained: Vec<String> = records.iter().map(|r| r.entry.id.clone()).collect();
    chained.sort();
    let mut expected = kept.clone();
    expected.sort();
    assert_eq!(
        chained, expected,
        "one link per kept decision, none for the others"
    );
    verify_chain(&records).expect("one unbroken chain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_arriving_together_on_sqlite() {
    let (store, _dir) = fresh_store(Db::Sqlite).await;
    decisions_arriving_together_each_stand_or_fall_alone(store.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_arriving_together_on_postgres() {
    let (store, _dir) = fresh_store(Db::Postgres).await;
    decisions_arriving_together_each_stand_or_fall_alone(store.as_ref()).await;
}

/// Decisions with payments arriving together (the multi-row fast path, `decision_batch`, when
/// they form a batch): each kept decision writes its intent, event, case, payment and audit
/// link; a conflicting one writes nothing; and of two payments by one payer screened on the
/// same empty history, exactly one is kept, whether or not they share a batch.
/// Screening decisions with payments and confirmations arriving together. With `refused`,
/// that intent's decision names a transaction that is not pending.
async fn decisions_with_payments_arriving_together(store: &dyn Store, refused: Option<usize>) {
    use futures::future::join_all;
    use rialto_compliance::verify_chain;
    use rialto_core::id::EventId;
    use rialto_gateway::store::{Event, PaymentTransaction, PaymentTxStatus, ScreenedPayment};
    let mut intents = Vec::new();
    let mut paid = Vec::new();
    for i in 0..12u32 {
        let pi = stored_intent(store, "25.00", PaymentStatus::AwaitingFunds, ADDRESS, T0).await;
        // Each funded by its own pending transaction, which its decision confirms.
        let pending = claimed_pending(store, &pi, 0xa000 + i).await;
        paid.push(PaymentTransaction {
            status: PaymentTxStatus::Confirmed,
            amount: "25.00".into(),
            block_number: 9,
            block_hash: "0xb9".into(),
            log_index: i64::from(i),
            ..pending
        });
        intents.push(pi);
    }
    let ids: Vec<ComplianceCaseId> = intents
        .iter()
        .map(|_| ComplianceCaseId::generate())
        .collect();
    let events: Vec<EventId> = intents.iter().map(|_| EventId::generate()).collect();
    let decisions = intents.iter().enumerate().map(|(i, pi)| {
        // Odd intents are expected in a status they are not in (Conflict).
        let expected = if i % 2 == 0 {
            PaymentStatus::AwaitingFunds
        } else {
            PaymentStatus::Settling
        };
        let mut next = pi.transition(PaymentEvent::FundsDetected, T0 + 1).unwrap();
        next.version = pi.version + 1;
        let change = IntentChange {
            expected,
            next,
            events: vec![Event {
                id: events[i],
                merchant_id: pi.merchant_id,
                livemode: false,
                kind: "payment_intent.funds_received".into(),
                object_json: "{}".into(),
                created_at_ms: T0 + 1,
            }],
            // The refused one names a transaction that is not pending (not stored at all):
            // its decision is refused whole, whichever path writes its batch.
            confirms: Some(if refused == Some(i) {
                PaymentTransaction {
                    tx_hash: format!("0x{:064x}", 0xdeadu32),
                    ..paid[i].clone()
                }
            } else {
                paid[i].clone()
            }),
        };
        // Intents 0 and 2 are paid by one payer to one merchant; the others each by their own.
        let (merchant, payer) = match i {
            2 => (intents[0].merchant_id, "0xshared".to_owned()),
            0 => (pi.merchant_id, "0xshared".to_owned()),
            i => (pi.merchant_id, format!("0xpayer{i}")),
        };
        let payment = ScreenedPayment {
            payment_intent_id: pi.id,
            merchant_id: merchant,
            payer,
            amount: "25.00".into(),
            currency: "usd".into(),
            at_ms: T0,
            history_seen: Some((0, 0)),
        };
        let id = ids[i];
        async move {
            store
                .record_decision(
                    &case(id, pi, CaseStatus::Open),
                    &entry(&id, "screening"),
                    Some(&change),
                    Some(&payment),
                )
                .await
                .unwrap()
        }
    });
    let answers = join_all(decisions).await;
    let shared: Vec<&CasOutcome> = [&answers[0], &answers[2]].into_iter().collect();
    assert!(
        shared.contains(&&CasOutcome::Updated) && shared.contains(&&CasOutcome::Conflict),
        "one of the shared payer's two payments is kept: {shared:?}"
    );
    let mut kept = Vec::new();
    for (i, answer) in answers.iter().enumerate() {
        let pi = &intents[i];
        let now = store
            .get_intent(&pi.merchant_id, false, &pi.id)
            .await
            .unwrap()
            .unwrap();
        let event = store.get_event_by_id(&events[i]).await.unwrap();
        let case = store.get_case(&ids[i]).await.unwrap();
        if i % 2 == 1 || refused == Some(i) {
            assert_eq!(answer, &CasOutcome::Conflict, "decision {i}");
        } else if i != 0 && i != 2 {
            assert_eq!(answer, &CasOutcome::Updated, "decision {i}");
        }
        let ptx = store.payment_transactions_of(&pi.id).await.unwrap();
        if answer == &CasOutcome::Updated {
            kept.push(ids[i].to_string());
            assert_eq!(now.status, PaymentStatus::FundsReceived, "decision {i}");
            assert!(event.is_some() && case.is_some(), "decision {i} written");
            assert_eq!(
                (ptx[0].status, ptx[0].block_number, ptx[0].log_index),
                (PaymentTxStatus::Confirmed, 9, i as i64),
                "decision {i} confirmed its transaction"
            );
        } else {
            assert_eq!(now.status, PaymentStatus::AwaitingFunds, "decision {i}");
            assert_eq!(ptx[0].status, PaymentTxStatus::Pending, "decision {i}");
            assert!(
                event.is_none() && case.is_none(),
                "decision {i} not written"
            );
        }
    }
    // The even ones but the refused one and one of the shared payer's.
    assert_eq!(kept.len(), if refused.is_some() { 4 } else { 5 });
    let records = store.audit_records(0, 100).await.unwrap();
    let mut chained: Vec<String> = records.iter().map(|r| r.entry.id.clone()).collect();
    chained.sort();
    kept.sort();
    assert_eq!(chained, kept, "one link per kept decision");
    verify_chain(&records).expect("one unbroken chain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_with_payments_arriving_together_on_sqlite() {
    let (store, _dir) = fresh_store(Db::Sqlite).await;
    decisions_with_payments_arriving_together(store.as_ref(), None).await;
    let (store, _dir) = fresh_store(Db::Sqlite).await;
    decisions_with_payments_arriving_together(store.as_ref(), Some(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_with_payments_arriving_together_on_postgres() {
    let (store, _dir) = fresh_store(Db::Postgres).await;
    decisions_with_payments_arriving_together(store.as_ref(), None).await;
    let (store, _dir) = fresh_store(Db::Postgres).await;
    decisions_with_payments_arriving_together(store.as_ref(), Some(4)).await;
}
