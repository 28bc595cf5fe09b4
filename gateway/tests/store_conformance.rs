//! One conformance suite for the `Store` trait, run against SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;

use common::fixtures::{case, entry};
use common::{fresh_store, registry, Db, ADDRESS};
use rialto_compliance::ComplianceCaseId;
use rialto_core::id::{CheckoutSessionId, EventId};
use rialto_core::id::{MerchantId, PaymentIntentId};
use rialto_core::intent::{PaymentEvent, PaymentIntent, PaymentStatus, SettlementTarget};
use rialto_core::money::{Currency, Money};
use rialto_gateway::clock::ManualClock;
use rialto_gateway::keys::generate_key;
use rialto_gateway::store::checkout::{
    checkout_token, CheckoutLocale, CheckoutSession, CheckoutSessionState, LineItem,
};
use rialto_gateway::store::{
    CasOutcome, CaseResolution, CaseStatus, Event, EventFilter, IdempotencyRecord, IntentChange,
    IntentFilter, KeyKind, ListEntry, Merchant, ScreenedPayment, Store, StoreError,
};
use rialto_gateway::workers::{expire_due_intents, prune_idempotency_keys, IDEMPOTENCY_TTL_MS};

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

fn intent(merchant: MerchantId, created_at_ms: i64) -> PaymentIntent {
    let registry = registry();
    let id = PaymentIntentId::generate();
    PaymentIntent {
        id,
        merchant_id: merchant,
        livemode: false,
        amount: Money::parse("12.34", Currency::usd()).unwrap(),
        settlement: SettlementTarget::resolve(&registry, "usdc", "base", ADDRESS).unwrap(),
        status: PaymentStatus::AwaitingFunds,
        description: Some("desc".into()),
        metadata: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        client_secret: format!("{id}_secret_x"),
        created_at_ms,
        expires_at_ms: created_at_ms + 60_000,
        updated_at_ms: created_at_ms,
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
        created_at_ms: pi.created_at_ms,
    }
}

fn record(scope: &str, key: &str, body: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: scope.into(),
        key: key.into(),
        request_hash: "h".into(),
        response_status: 200,
        response_body: body.into(),
        created_at_ms: T0,
    }
}

async fn intents_round_trip_exactly(store: &dyn Store) {
    let m = merchant(store).await;
    let pi = intent(m, T0);
    store.create_intent(&pi, &created(&pi), None).await.unwrap();
    assert_eq!(
        store.get_intent(&m, false, &pi.id).await.unwrap(),
        Some(pi.clone())
    );
    assert_eq!(
        store.get_intent(&m, true, &pi.id).await.unwrap(),
        None,
        "other mode"
    );
    let other = merchant(store).await;
    assert_eq!(
        store.get_intent(&other, false, &pi.id).await.unwrap(),
        None,
        "other merchant"
    );
    assert_eq!(store.get_intent_unscoped(&pi.id).await.unwrap(), Some(pi));
}

async fn api_keys_are_found_by_hash_only(store: &dyn Store) {
    let id = MerchantId::generate();
    let m = Merchant {
        id,
        name: "Keys".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: T0,
        country: None,
    };
    let (key, record) = generate_key(id, KeyKind::Publishable, true, T0);
    store
        .create_merchant(&m, std::slice::from_ref(&record))
        .await
        .unwrap();
    let found = store.find_api_key(&record.key_hash).await.unwrap().unwrap();
    assert_eq!(found, record);
    assert!(
        store.find_api_key(&key).await.unwrap().is_none(),
        "the plain key is not stored"
    );
    assert_eq!(store.get_merchant(&id).await.unwrap().unwrap().name, "Keys");
}

async fn an_intent_and_its_idempotency_record_commit_together(store: &dyn Store) {
    let m = merchant(store).await;
    let scope = format!("{m}:test");
    let first = intent(m, T0);
    store
        .create_intent(
            &first,
            &created(&first),
            Some(&record(&scope, "k1", "first")),
        )
        .await
        .unwrap();
    let second = intent(m, T0);
    let err = store
        .create_intent(
            &second,
            &created(&second),
            Some(&record(&scope, "k1", "second")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyKeyTaken), "{err}");
    assert_eq!(
        store.get_intent(&m, false, &second.id).await.unwrap(),
        None,
        "rolled back"
    );
    let stored = store.get_idempotency(&scope, "k1").await.unwrap().unwrap();
    assert_eq!(stored.response_body, "first");
    // A response equal to the event's object is stored once and still replays exactly.
    let third = intent(m, T0);
    let event = created(&third);
    let same = record(&scope, "k2", &event.object_json);
    store
        .create_intent(&third, &event, Some(&same))
        .await
        .unwrap();
    let stored = store.get_idempotency(&scope, "k2").await.unwrap().unwrap();
    assert_eq!(stored.response_body, event.object_json);
}

async fn concurrent_creates_fail_alone_when_their_key_is_taken(store: &dyn Store) {
    let m = merchant(store).await;
    let scope = format!("{m}:test");
    let taken = intent(m, T0);
    store
        .create_intent(
            &taken,
            &created(&taken),
            Some(&record(&scope, "taken", "x")),
        )
        .await
        .unwrap();
    let intents: Vec<PaymentIntent> = (0..50).map(|_| intent(m, T0)).collect();
    let events: Vec<Event> = intents.iter().map(created).collect();
    let records: Vec<IdempotencyRecord> = (0..50)
        .map(|i| {
            let key = if i % 5 == 0 {
                "taken".to_owned()
            } else {
                format!("k{i}")
            };
            record(&scope, &key, "y")
        })
        .collect();
    let results = futures::future::join_all(
        intents
            .iter()
            .zip(&events)
            .zip(&records)
            .map(|((pi, ev), rec)| store.create_intent(pi, ev, Some(rec))),
    )
    .await;
    for (i, (result, pi)) in results.iter().zip(&intents).enumerate() {
        let stored = store.get_intent(&m, false, &pi.id).await.unwrap();
        if i % 5 == 0 {
            assert!(
                matches!(result, Err(StoreError::IdempotencyKeyTaken)),
                "{i}: {result:?}"
            );
            assert!(
                stored.is_none(),
                "{i}: a refused create leaves nothing behind"
            );
        } else {
            assert!(result.is_ok(), "{i}: {result:?}");
            assert!(stored.is_some(), "{i}");
        }
    }
}

async fn transitions_are_compare_and_set(store: &dyn Store) {
    let m = merchant(store).await;
    let pi = intent(m, T0);
    store.create_intent(&pi, &created(&pi), None).await.unwrap();
    let canceled = pi.transition(PaymentEvent::Cancel, T0 + 5).unwrap();
    let funded = pi.transition(PaymentEvent::FundsDetected, T0 + 5).unwrap();
    assert_eq!(
        store
            .update_intent(pi.status, &canceled, None, None)
            .await
            .unwrap(),
        CasOutcome::Updated
    );
    // A writer that read the old row loses: zero rows change, nothing is overwritten.
    assert_eq!(
        store
            .update_intent(pi.status, &funded, None, None)
            .await
            .unwrap(),
        CasOutcome::Conflict
    );
    let now = store.get_intent(&m, false, &pi.id).await.unwrap().unwrap();
    assert_eq!(now.status, PaymentStatus::Canceled);
    assert_eq!(now.canceled_at_ms, Some(T0 + 5));
    assert_eq!(now.version, 2);
}

async fn concurrent_transitions_let_exactly_one_writer_win(store: &dyn Store) {
    let m = merchant(store).await;
    let pi = intent(m, T0);
    store.create_intent(&pi, &created(&pi), None).await.unwrap();
    let a = pi.transition(PaymentEvent::Cancel, T0 + 1).unwrap();
    let b = pi.transition(PaymentEvent::Expire, T0 + 1).unwrap();
    let (ra, rb) = tokio::join!(
        store.update_intent(pi.status, &a, None, None),
        store.update_intent(pi.status, &b, None, None)
    );
    let outcomes = [ra.unwrap(), rb.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == CasOutcome::Updated)
            .count(),
        1,
        "{outcomes:?}"
    );
}

async fn lists_page_newest_first_with_filters(store: &dyn Store) {
    let m = merchant(store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let pi = intent(m, T0 + i * 1000);
        store.create_intent(&pi, &created(&pi), None).await.unwrap();
        ids.push(pi.id);
    }
    ids.reverse();
    let page =
        |filter: IntentFilter| async move { store.list_intents(&m, false, &filter).await.unwrap() };
    let first = page(IntentFilter {
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(
        first.data.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids[..2]
    );
    assert!(first.has_more);
    let next = page(IntentFilter {
        limit: 2,
        starting_after: Some(ids[1]),
        ..Default::default()
    })
    .await;
    assert_eq!(
        next.data.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids[2..4]
    );
    let back = page(IntentFilter {
        limit: 2,
        ending_before: Some(ids[3]),
        ..Default::default()
    })
    .await;
    assert_eq!(
        back.data.iter().map(|i| i.id).collect::<Vec<_>>(),
        ids[1..3]
    );
    let window = page(IntentFilter {
        limit: 10,
        created_gte_ms: Some(T0 + 1000),
        created_lte_ms: Some(T0 + 3000),
        ..Default::default()
    })
    .await;
    assert_eq!(window.data.len(), 3);
    assert!(!window.has_more);
    let none = page(IntentFilter {
        limit: 10,
        status: Some(PaymentStatus::Succeeded),
        ..Default::default()
    })
    .await;
    assert!(none.data.is_empty());
}

async fn the_expiry_worker_expires_only_overdue_unfunded_intents(store: &dyn Store) {
    let m = merchant(store).await;
    let clock = ManualClock::new(T0);
    let due = intent(m, T0 - 120_000);
    let fresh = intent(m, T0);
    let mut funded = intent(m, T0 - 120_000);
    funded.status = PaymentStatus::FundsReceived;
    for pi in [&due, &fresh, &funded] {
        store.create_intent(pi, &created(pi), None).await.unwrap();
    }
    let moved = expire_due_intents(store, &clock).await.unwrap();
    assert!(moved >= 1);
    let get = |id| async move {
        store
            .get_intent(&m, false, &id)
            .await
            .unwrap()
            .unwrap()
            .status
    };
    assert_eq!(get(due.id).await, PaymentStatus::Expired);
    assert_eq!(get(fresh.id).await, PaymentStatus::AwaitingFunds);
    assert_eq!(get(funded.id).await, PaymentStatus::FundsReceived);
    clock.advance_ms(61_000);
    expire_due_intents(store, &clock).await.unwrap();
    assert_eq!(get(fresh.id).await, PaymentStatus::Expired);
    let filter = EventFilter {
        kind: Some("payment_intent.expired".into()),
        limit: 10,
        ..Default::default()
    };
    let events = store.list_events(&m, false, &filter).await.unwrap();
    assert_eq!(events.data.len(), 2, "one expired event per expired intent");
    let object: serde_json::Value = serde_json::from_str(&events.data[0].object_json).unwrap();
    assert_eq!(object["status"], "expired");
}

async fn idempotency_records_are_pruned_after_a_day(store: &dyn Store) {
    let scope = format!("{}:test", MerchantId::generate());
    let m = merchant(store).await;
    let mut old = record(&scope, "old", "x");
    old.created_at_ms = T0 - IDEMPOTENCY_TTL_MS - 1;
    store
        .create_intent(&intent(m, T0), &created(&intent(m, T0)), Some(&old))
        .await
        .unwrap();
    store
        .create_intent(
            &intent(m, T0),
            &created(&intent(m, T0)),
            Some(&record(&scope, "new", "y")),
        )
        .await
        .unwrap();
    let clock = ManualClock::new(T0);
    assert!(prune_idempotency_keys(store, &clock).await.unwrap() >= 1);
    assert!(store
        .get_idempotency(&scope, "old")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_idempotency(&scope, "new")
        .await
        .unwrap()
        .is_some());
}

async fn decisions_commit_with_their_intent_change_and_audit_record_or_not_at_all(
    store: &dyn Store,
) {
    let m = merchant(store).await;
    let pi = intent(m, T0);
    store.create_intent(&pi, &created(&pi), None).await.unwrap();
    let held = pi.transition(PaymentEvent::FundsDetected, T0 + 1).unwrap();
    let mut held = held
        .transition(PaymentEvent::ComplianceReview, T0 + 1)
        .unwrap();
    held.version = pi.version + 1;
    let change = IntentChange {
        expected: PaymentStatus::AwaitingFunds,
        next: held.clone(),
        events: vec![],
        confirms: None,
    };
    let first = ComplianceCaseId::generate();
    let before = store.audit_records(0, 10_000).await.unwrap().len();
    let outcome = store
        .record_decision(
            &case(first, &pi, CaseStatus::Open),
            &entry(&first, "screening"),
            Some(&change),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome, CasOutcome::Updated);
    // The same change again finds the intent moved: nothing of the second decision is stored.
    let second = ComplianceCaseId::generate();
    let outcome = store
        .record_decision(
            &case(second, &pi, CaseStatus::Open),
            &entry(&second, "screening"),
            Some(&change),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome, CasOutcome::Conflict);
    assert!(store.get_case(&second).await.unwrap().is_none());
    let records = store.audit_records(0, 10_000).await.unwrap();
    assert_eq!(records.len(), before + 1);
    assert_eq!(rialto_compliance::verify_chain(&records), Ok(()));
    // Resolving is compare-and-set on the open case.
    let approved = held
        .transition(PaymentEvent::ComplianceApproved, T0 + 2)
        .unwrap();
    let resolution = CaseResolution {
        case_id: first,
        to: CaseStatus::Approved,
        by: "op".into(),
        note: "ok".into(),
        at_ms: T0 + 2,
    };
    let change = IntentChange {
        expected: PaymentStatus::InReview,
        next: approved,
        events: vec![],
        confirms: None,
    };
    let audit = [entry(&first, "case:approved")];
    assert_eq!(
        store
            .resolve_case(&resolution, &audit, None, Some(&change))
            .await
            .unwrap(),
        CasOutcome::Updated
    );
    assert_eq!(
        store
            .resolve_case(&resolution, &audit, None, Some(&change))
            .await
            .unwrap(),
        CasOutcome::Conflict
    );
    let stored = store.get_case(&first).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.resolved_by.as_deref()),
        (CaseStatus::Approved, Some("op"))
    );
    let now = store.get_intent(&m, false, &pi.id).await.unwrap().unwrap();
    assert_eq!(now.status, PaymentStatus::FundsReceived);
    assert_eq!(
        store.audit_records(0, 10_000).await.unwrap().len(),
        before + 2
    );
}

async fn list_entries_are_unique_per_owner_and_kind_and_every_change_is_audited(store: &dyn Store) {
    let m = format!("{}:test", merchant(store).await);
    let e = |id: &str, owner: &str, kind: &str| ListEntry {
        id: id.into(),
        owner: owner.into(),
        kind: kind.into(),
        address: "0x8ba1f109551bd432803012645ac136ddd64dba72".into(),
        note: None,
        created_at_ms: T0,
    };
    let id = ComplianceCaseId::generate();
    let audit = entry(&id, "list_entry:create");
    let before = store.audit_records(0, 10_000).await.unwrap().len();
    assert!(store
        .create_list_entry(&e("cle_1", &m, "block"), &audit)
        .await
        .unwrap());
    assert!(!store
        .create_list_entry(&e("cle_2", &m, "block"), &audit)
        .await
        .unwrap());
    assert!(store
        .create_list_entry(&e("cle_3", "operator", "block"), &audit)
        .await
        .unwrap());
    assert!(store
        .create_list_entry(&e("cle_4", "operator", "allow"), &audit)
        .await
        .unwrap());
    assert_eq!(
        store
            .list_entries(&[m.as_str(), "operator"])
            .await
            .unwrap()
            .len(),
        3
    );
    let address = ["0x8ba1f109551bd432803012645ac136ddd64dba72".to_owned()];
    let found = store
        .find_list_entries(&["operator", m.as_str()], &address)
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    let other = store
        .find_list_entries(&["operator", "mer_other:test"], &address)
        .await
        .unwrap();
    assert_eq!(other.len(), 2, "another merchant's entry is not theirs");
    // Several addresses are looked up together: only the listed one's entries come back.
    let several = [
        "0x0000000000000000000000000000000000000002".to_owned(),
        address[0].clone(),
        "0x0000000000000000000000000000000000000003".to_owned(),
    ];
    let found = store
        .find_list_entries(&["operator", m.as_str()], &several)
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert!(found.iter().all(|e| e.address == address[0]));
    let elsewhere = ["0x0000000000000000000000000000000000000001".to_owned()];
    assert!(store
        .find_list_entries(&["operator"], &elsewhere)
        .await
        .unwrap()
        .is_empty());
    let gone = entry(&id, "list_entry:delete");
    assert!(
        !store
            .delete_list_entry("operator", "cle_1", &gone)
            .await
            .unwrap(),
        "another owner's entry"
    );
    assert!(store.delete_list_entry(&m, "cle_1", &gone).await.unwrap());
    assert_eq!(store.list_entries(&[m.as_str()]).await.unwrap().len(), 0);
    // Three creates and one delete happened; the refused ones left no record.
    let records = store.audit_records(0, 10_000).await.unwrap();
    assert_eq!(records.len(), before + 4);
    assert_eq!(rialto_compliance::verify_chain(&records), Ok(()));
}

async fn a_decision_whose_payer_history_grew_meanwhile_is_refused(store: &dyn Store) {
    let m = merchant(store).await;
    let payment = |pi: &PaymentIntent, seen: Option<(i64, usize)>| ScreenedPayment {
        payment_intent_id: pi.id,
        merchant_id: m,
        payer: "0xpayer".into(),
        amount: "5.00".into(),
        currency: "usd".into(),
        at_ms: T0,
        history_seen: seen,
    };
    let (a, b) = (intent(m, T0), intent(m, T0));
    for pi in [&a, &b] {
        store.create_intent(pi, &created(pi), None).await.unwrap();
    }
    // Both were screened against an empty history; the first to commit wins.
    let first = ComplianceCaseId::generate();
    let outcome = store
        .record_decision(
            &case(first, &a, CaseStatus::Closed),
            &entry(&first, "screening"),
            None,
            Some(&payment(&a, Some((0, 0)))),
        )
        .await
        .unwrap();
    assert_eq!(outcome, CasOutcome::Updated);
    let second = ComplianceCaseId::generate();
    let outcome = store
        .record_decision(
            &case(second, &b, CaseStatus::Closed),
            &entry(&second, "screening"),
            None,
            Some(&payment(&b, Some((0, 0)))),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        CasOutcome::Conflict,
        "the history it read is stale"
    );
    assert!(store.get_case(&second).await.unwrap().is_none());
    let outcome = store
        .record_decision(
            &case(second, &b, CaseStatus::Closed),
            &entry(&second, "screening"),
            None,
            Some(&payment(&b, Some((0, 1)))),
        )
        .await
        .unwrap();
    assert_eq!(outcome, CasOutcome::Updated);
    assert_eq!(
        store.payer_history(&m, "0xpayer", 0).await.unwrap().len(),
        2
    );
}

async fn migrations_are_idempotent_and_ping_works(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

async fn checkout_sessions_are_found_by_owner_or_exact_token_and_cancel_once(store: &dyn Store) {
    let m = merchant(store).await;
    let pi = intent(m, T0);
    store.create_intent(&pi, &created(&pi), None).await.unwrap();
    let session = CheckoutSession {
        id: CheckoutSessionId::generate(),
        token: checkout_token(),
        merchant_id: m,
        livemode: false,
        payment_intent_id: pi.id,
        success_url: "https://shop.example/ok".into(),
        cancel_url: "https://shop.example/cart".into(),
        locale: CheckoutLocale::De,
        line_items: vec![LineItem {
            name: "Kaffee, 1 kg".into(),
            quantity: 2,
            unit_amount: "6.17".into(),
        }],
        state: CheckoutSessionState::Open,
        created_at_ms: T0,
        canceled_at_ms: None,
    };
    store.create_checkout_session(&session).await.unwrap();
    let got = store
        .get_checkout_session(&m, false, &session.id)
        .await
        .unwrap();
    assert_eq!(got.as_ref(), Some(&session));
    // Another merchant, the other mode, a token prefix or another case find nothing.
    let other = merchant(store).await;
    assert!(store
        .get_checkout_session(&other, false, &session.id)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_checkout_session(&m, true, &session.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .checkout_session_by_token(&session.token)
            .await
            .unwrap(),
        Some(session.clone())
    );
    for wrong in [
        &session.token[..42],
        &session.token.to_ascii_lowercase(),
        "",
    ] {
        if wrong != session.token {
            assert!(store
                .checkout_session_by_token(wrong)
                .await
                .unwrap()
                .is_none());
        }
    }
    // A second session with the same token is refused by the database.
    let twin = CheckoutSession {
        id: CheckoutSessionId::generate(),
        ..session.clone()
    };
    assert!(store.create_checkout_session(&twin).await.is_err());
    // Cancel is compare-and-set: the first wins, the second changes nothing.
    assert!(store
        .cancel_checkout_session(&session.id, T0 + 5)
        .await
        .unwrap());
    assert!(!store
        .cancel_checkout_session(&session.id, T0 + 9)
        .await
        .unwrap());
    let canceled = store
        .checkout_session_by_token(&session.token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(canceled.state, CheckoutSessionState::Canceled);
    assert_eq!(canceled.canceled_at_ms, Some(T0 + 5));
}

async fn run_suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    migrations_are_idempotent_and_ping_works(store).await;
    intents_round_trip_exactly(store).await;
    api_keys_are_found_by_hash_only(store).await;
    an_intent_and_its_idempotency_record_commit_together(store).await;
    concurrent_creates_fail_alone_when_their_key_is_taken(store).await;
    transitions_are_compare_and_set(store).await;
    concurrent_transitions_let_exactly_one_writer_win(store).await;
    lists_page_newest_first_with_filters(store).await;
    the_expiry_worker_expires_only_overdue_unfunded_intents(store).await;
    idempotency_records_are_pruned_after_a_day(store).await;
    decisions_commit_with_their_intent_change_and_audit_record_or_not_at_all(store).await;
    list_entries_are_unique_per_owner_and_kind_and_every_change_is_audited(store).await;
    a_decision_whose_payer_history_grew_meanwhile_is_refused(store).await;
    checkout_sessions_are_found_by_owner_or_exact_token_and_cancel_once(store).await;
}

#[tokio::test]
async fn the_store_conformance_suite_passes_on_sqlite() {
    run_suite(Db::Sqlite).await;
}

#[tokio::test]
async fn the_store_conformance_suite_passes_on_postgres() {
    run_suite(Db::Postgres).await;
}
