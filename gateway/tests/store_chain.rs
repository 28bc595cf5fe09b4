//! The EVM rail's store contract, on SQLite and PostgreSQL: a leg is signed once and only
//! once, nonces are never handed out twice (concurrent senders, a restarted gateway, a wallet
//! someone else also sends from), deposit addresses are one per intent, an x402
//! authorization is claimed once, and intents settled together in one write each stand or
//! fall on their own compare-and-set.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{fresh_database, registry, Db};
use rialto_connectors::rail::SignError;
use rialto_gateway::config::Config;
use rialto_gateway::server::open_store;
use rialto_gateway::store::chain::{ChainStore, LegStatus, Mined, SignedLeg, TransferDraft};
use rialto_gateway::store::{PaymentSource, PaymentTxStatus, SqlStore, Store};

const CHAIN: &str = "eip155:31338";
const HOT: &str = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720";
const T0: i64 = 1_800_000_000_000;

fn draft(purpose: &str, reference: &str) -> TransferDraft {
    TransferDraft {
        leg_id: format!("leg_{purpose}_{reference}"),
        purpose: purpose.into(),
        reference: reference.into(),
        payment_intent_id: None,
        chain_id: CHAIN.into(),
        from: HOT.into(),
        to: "0x000000000000000000000000000000000000dEaD".into(),
        token: None,
        amount_units: None,
        created_at_ms: T0,
    }
}

/// A stand-in for signing: the "transaction" names its nonce, so a reused nonce would show.
fn signed(nonce: u64) -> Result<SignedLeg, SignError> {
    Ok(SignedLeg {
        raw_tx: format!("0xraw{nonce:08}"),
        tx_hash: format!("0x{nonce:064x}"),
    })
}

async fn open(url: &str) -> Arc<SqlStore> {
    let mut config = Config::default();
    config.database.url = url.to_owned();
    Arc::new(open_store(&config, registry()).await.expect("open store"))
}

async fn a_leg_is_signed_once_however_often_it_is_asked_for(store: &dyn Store) {
    let calls = AtomicUsize::new(0);
    let sign = |nonce: u64| {
        calls.fetch_add(1, Ordering::SeqCst);
        signed(nonce)
    };
    let first = store
        .record_chain_transfer(&draft("payout", "po_1"), 5, &sign)
        .await
        .unwrap();
    assert_eq!(first.nonce, 5, "starts at the node's pending count");
    assert_eq!(first.status, LegStatus::Pending);
    let again = store
        .record_chain_transfer(&draft("payout", "po_1"), 9, &sign)
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "signed exactly once");
    let stored = store
        .get_chain_transfer("payout", "po_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.raw_tx, first.raw_tx);
    // It moves forward only: a confirmed leg cannot be set back to submitted.
    store
        .set_chain_transfer_status(
            &first.draft.leg_id,
            LegStatus::Confirmed,
            Some(Mined {
                block_number: 7,
                block_hash: "0xb".into(),
                fee_units: Some(21_000),
                replacement: None,
            }),
            None,
            T0 + 1,
        )
        .await
        .unwrap();
    store
        .set_chain_transfer_status(
            &first.draft.leg_id,
            LegStatus::Submitted,
            None,
            None,
            T0 + 2,
        )
        .await
        .unwrap();
    let stored = store
        .get_chain_transfer("payout", "po_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, LegStatus::Confirmed);
    assert_eq!(stored.block_number, Some(7));
    assert!(store
        .open_chain_transfers(CHAIN, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn concurrent_senders_get_distinct_consecutive_nonces(store: Arc<SqlStore>) {
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_chain_transfer(&draft("refund", &format!("re_{i}")), 0, &signed)
                .await
                .unwrap()
                .nonce
        }));
    }
    let mut nonces = BTreeSet::new();
    for task in tasks {
        assert!(
            nonces.insert(task.await.unwrap()),
            "a nonce was handed out twice"
        );
    }
    // After the first test's leg (nonce 5): 6..=29, no gaps, no repeats.
    assert_eq!(nonces, (6..30).collect::<BTreeSet<u64>>());
    // The same leg asked for by many at once is still one leg.
    let mut same = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        same.push(tokio::spawn(async move {
            store
                .record_chain_transfer(&draft("sweep", "pi_same"), 0, &signed)
                .await
                .unwrap()
                .nonce
        }));
    }
    let mut seen = BTreeSet::new();
    for task in same {
        seen.insert(task.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "one leg, one nonce: {seen:?}");
    assert_eq!(
        store.open_chain_transfers(CHAIN, 100).await.unwrap().len(),
        25
    );
}

async fn nonces_survive_a_restart_and_follow_the_node_when_it_is_ahead(url: &str) {
    let restarted = open(url).await;
    let next = restarted
        .record_chain_transfer(&draft("payout", "after_restart"), 0, &signed)
        .await
        .unwrap();
    assert_eq!(next.nonce, 31, "continues after 30 legs");
    // Someone else sent from this wallet: the node's count wins.
    let ahead = restarted
        .record_chain_transfer(&draft("payout", "node_ahead"), 100, &signed)
        .await
        .unwrap();
    assert_eq!(ahead.nonce, 100);
}

async fn the_ledger_posts_with_its_status_change_or_not_at_all(store: &dyn Store) {
    use rialto_core::id::{EventId, MerchantId, PaymentIntentId};
    use rialto_core::intent::{PaymentIntent, PaymentStatus, SettlementTarget};
    use rialto_core::money::{Currency, Money};
    use rialto_gateway::keys::generate_key;
    use rialto_gateway::ledger::{paid_and_settled, Entry, Posting};
    use rialto_gateway::store::{CasOutcome, Event, KeyKind, Merchant};

    let merchant = MerchantId::generate();
    let m = Merchant {
        id: merchant,
        name: "Shop".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: T0,
        country: None,
    };
    let (_, sk) = generate_key(merchant, KeyKind::Secret, false, T0);
    store.create_merchant(&m, &[sk]).await.unwrap();
    let id = PaymentIntentId::generate();
    let intent = PaymentIntent {
        id,
        merchant_id: merchant,
        livemode: false,
        amount: Money::parse("25.00", Currency::usd()).unwrap(),
        settlement: SettlementTarget::resolve(&registry(), "usdc", "base", HOT).unwrap(),
        status: PaymentStatus::Settling,
        description: None,
        metadata: Default::default(),
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
    };
    let event = |kind: &str| Event {
        id: EventId::generate(),
        merchant_id: merchant,
        livemode: false,
        kind: kind.into(),
        object_json: "{}".into(),
        created_at_ms: T0,
    };
    store
        .create_intent(&intent, &event("payment_intent.created"), None)
        .await
        .unwrap();
    let next = intent
        .transition(rialto_core::intent::PaymentEvent::Settled, T0 + 1)
        .unwrap();
    let postings = paid_and_settled(&next, "25.000001".parse().unwrap(), T0 + 1).unwrap();
    // An unbalanced posting is refused and nothing changes.
    let mut broken = postings.clone();
    broken[0].entries.push(Entry {
        account: rialto_gateway::ledger::Account::WriteOffs,
        asset: "y".into(),
        amount: "1".parse().unwrap(),
    });
    assert!(store
        .update_intent_with_postings(intent.status, &next, &event("e"), &broken)
        .await
        .is_err());
    assert!(store.all_postings().await.unwrap().is_empty());
    // A stale compare-and-set posts nothing.
    let mut stale = next.clone();
    stale.version += 5;
    assert_eq!(
        store
            .update_intent_with_postings(intent.status, &stale, &event("e"), &postings)
            .await
            .unwrap(),
        CasOutcome::Conflict
    );
    assert!(store.all_postings().await.unwrap().is_empty());
    // The real one: both postings, exact, readable per merchant.
    assert_eq!(
        store
            .update_intent_with_postings(
                intent.status,
                &next,
                &event("payment_intent.succeeded"),
                &postings
            )
            .await
            .unwrap(),
        CasOutcome::Updated
    );
    let stored: Vec<Posting> = store.merchant_postings(&merchant, false).await.unwrap();
    assert_eq!(
        stored, postings,
        "exact amounts and order survive the round trip"
    );
    // The same money event cannot be posted twice.
    let again = next.transition(rialto_core::intent::PaymentEvent::Settled, T0 + 2);
    assert!(again.is_err(), "succeeded takes no second settlement");
    assert!(
        store
            .merchant_postings(&merchant, true)
            .await
            .unwrap()
            .is_empty(),
        "modes are apart"
    );
}

async fn only_intents_funded_on_the_chain_in_the_mode_are_picked_up(store: &dyn Store) {
    use rialto_core::id::{EventId, MerchantId, PaymentIntentId};
    use rialto_core::intent::{PaymentIntent, PaymentStatus, SettlementTarget};
    use rialto_core::money::{Currency, Money};
    use rialto_gateway::keys::generate_key;
    use rialto_gateway::store::{Event, KeyKind, Merchant, PaymentTransaction};

    let merchant = MerchantId::generate();
    let m = Merchant {
        id: merchant,
        name: "Shop".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: T0,
        country: None,
    };
    let (_, sk) = generate_key(merchant, KeyKind::Secret, false, T0);
    store.create_merchant(&m, &[sk]).await.unwrap();
    let make = |livemode: bool, at: i64| {
        let id = PaymentIntentId::generate();
        PaymentIntent {
            id,
            merchant_id: merchant,
            livemode,
            amount: Money::parse("1.00", Currency::usd()).unwrap(),
            settlement: SettlementTarget::resolve(&registry(), "usdc", "base", HOT).unwrap(),
            status: PaymentStatus::FundsReceived,
            description: None,
            metadata: Default::default(),
            client_secret: format!("{id}_secret_x"),
            created_at_ms: at,
            expires_at_ms: at + 60_000,
            updated_at_ms: at,
            canceled_at_ms: None,
            cancellation_reason: None,
            version: 1,
            amount_refunded: rust_decimal::Decimal::ZERO,
            payment_detail: None,
            payment_reference: None,
            fx: None,
        }
    };
    let claim = |intent: &PaymentIntent, chain: &str, status: &str, n: u8| PaymentTransaction {
        chain_id: chain.into(),
        tx_hash: format!("0x{:064x}", u64::from(n) + 1000),
        payment_intent_id: intent.id,
        payer: HOT.into(),
        amount: "1".into(),
        asset: intent.settlement.asset.id.to_string(),
        block_number: 1,
        block_hash: "0x1".into(),
        log_index: 0,
        status: PaymentTxStatus::parse(status).unwrap(),
        source: PaymentSource::Transaction,
        created_at_ms: T0,
    };
    // The oldest ones would crowd a page of one if the store did not filter.
    let helper_funded = make(false, T0);
    let other_chain = make(false, T0 + 1);
    let still_pending = make(false, T0 + 2);
    let live = make(true, T0 + 3);
    let ours = make(false, T0 + 4);
    for intent in [&helper_funded, &other_chain, &still_pending, &live, &ours] {
        let event = Event {
            id: EventId::generate(),
            merchant_id: merchant,
            livemode: intent.livemode,
            kind: "payment_intent.created".into(),
            object_json: "{}".into(),
            created_at_ms: T0,
        };
        store.create_intent(intent, &event, None).await.unwrap();
    }
    store
        .claim_transaction(&claim(&other_chain, "eip155:1", "confirmed", 1))
        .await
        .unwrap();
    store
        .claim_transaction(&claim(&still_pending, CHAIN, "pending", 2))
        .await
        .unwrap();
    store
        .claim_transaction(&claim(&live, CHAIN, "confirmed", 3))
        .await
        .unwrap();
    store
        .claim_transaction(&claim(&ours, CHAIN, "confirmed", 4))
        .await
        .unwrap();
    let picked = store
        .chain_funded_intents(CHAIN, false, PaymentStatus::FundsReceived, 1)
        .await
        .unwrap();
    assert_eq!(
        picked.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ours.id]
    );
    let live_picked = store
        .chain_funded_intents(CHAIN, true, PaymentStatus::FundsReceived, 10)
        .await
        .unwrap();
    assert_eq!(
        live_picked.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![live.id]
    );
}

/// The x402 replay guard: one claim per (network, token, payer, nonce), whoever asks again,
/// and the claim reads back exactly.
async fn an_x402_authorization_is_claimed_once(store: &dyn Store) {
    use rialto_core::id::{MerchantId, PaymentIntentId};
    use rialto_gateway::keys::generate_key;
    use rialto_gateway::store::x402::X402Payment;
    use rialto_gateway::store::{KeyKind, Merchant};

    let merchant = MerchantId::generate();
    let m = Merchant {
        id: merchant,
        name: "Agent shop".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: T0,
        country: None,
    };
    let (_, sk) = generate_key(merchant, KeyKind::Secret, false, T0);
    store.create_merchant(&m, &[sk]).await.unwrap();
    let payment = X402Payment {
        network: CHAIN.into(),
        asset: "0x036cbd53842c5426634e7929541ec2318f3dcf7e".into(),
        payer: "0x857b06519e91e3a54538791bdbb0e22373e36b66".into(),
        nonce: format!("0x{}", "ab".repeat(32)),
        merchant_id: merchant,
        livemode: false,
        payment_intent_id: PaymentIntentId::generate(),
        created_at_ms: T0,
        request_sha256: Some("ab".repeat(32)),
    };
    let find = || {
        store.get_x402_payment(
            &payment.network,
            &payment.asset,
            &payment.payer,
            &payment.nonce,
        )
    };
    assert_eq!(find().await.unwrap(), None);
    assert!(store.claim_x402_payment(&payment).await.unwrap());
    let replay = X402Payment {
        payment_intent_id: PaymentIntentId::generate(),
        ..payment.clone()
    };
    assert!(
        !store.claim_x402_payment(&replay).await.unwrap(),
        "a replay claims nothing"
    );
    assert_eq!(find().await.unwrap(), Some(payment.clone()));
    // Another nonce of the same payer is another payment.
    let next = X402Payment {
        nonce: format!("0x{}", "cd".repeat(32)),
        ..replay
    };
    assert!(store.claim_x402_payment(&next).await.unwrap());
}

/// A Solana Pay reference names one intent only (UNIQUE), reads back, and the reference watcher
/// is handed exactly the open intents of the chain and mode with a reference and no payment.
async fn a_reference_names_one_intent_and_only_open_unpaid_ones_are_watched(store: &dyn Store) {
    use rialto_core::address::Address;
    use rialto_core::id::{EventId, MerchantId, PaymentIntentId};
    use rialto_core::intent::{PaymentIntent, PaymentStatus, SettlementTarget};
    use rialto_core::money::{Currency, Money};
    use rialto_core::ChainNamespace;
    use rialto_gateway::keys::generate_key;
    use rialto_gateway::store::{Event, KeyKind, Merchant, PaymentTransaction};

    const SOLANA: &str = "solana:rialto-devnet-simnet";
    let merchant = MerchantId::generate();
    let m = Merchant {
        id: merchant,
        name: "Solana shop".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: T0,
        country: None,
    };
    let (_, sk) = generate_key(merchant, KeyKind::Secret, false, T0);
    store.create_merchant(&m, &[sk]).await.unwrap();
    let key = |n: u8| Some(Address::Solana([n; 32]));
    let make = |livemode: bool, at: i64, status: PaymentStatus, reference: Option<Address>| {
        let id = PaymentIntentId::generate();
        let to = Address::parse("11111111111111111111111111111112", ChainNamespace::Solana)
            .unwrap()
            .to_string();
        PaymentIntent {
            id,
            merchant_id: merchant,
            livemode,
            amount: Money::parse("1.00", Currency::usd()).unwrap(),
            settlement: SettlementTarget::resolve(&registry(), "usdc", "devnet-solana", &to)
                .unwrap(),
            status,
            description: None,
            metadata: Default::default(),
            client_secret: format!("{id}_secret_x"),
            created_at_ms: at,
            expires_at_ms: at + 60_000,
            updated_at_ms: at,
            canceled_at_ms: None,
            cancellation_reason: None,
            version: 1,
            amount_refunded: rust_decimal::Decimal::ZERO,
            payment_detail: None,
            payment_reference: reference,
            fx: None,
        }
    };
    let event = |intent: &PaymentIntent| Event {
        id: EventId::generate(),
        merchant_id: merchant,
        livemode: intent.livemode,
        kind: "payment_intent.created".into(),
        object_json: "{}".into(),
        created_at_ms: T0,
    };
    let open = PaymentStatus::AwaitingFunds;
    let first = make(false, T0, open, key(1));
    let paid = make(false, T0 + 1, open, key(2));
    let no_key = make(false, T0 + 2, open, None);
    let live = make(true, T0 + 3, open, key(3));
    let canceled = make(false, T0 + 4, PaymentStatus::Canceled, key(4));
    let second = make(false, T0 + 5, open, key(5));
    for intent in [&first, &paid, &no_key, &live, &canceled, &second] {
        store
            .create_intent(intent, &event(intent), None)
            .await
            .unwrap();
    }
    let reused = make(false, T0 + 6, open, key(1));
    assert!(
        store
            .create_intent(&reused, &event(&reused), None)
            .await
            .is_err(),
        "a reference names one intent only"
    );
    let read = store.get_intent_unscoped(&first.id).await.unwrap().unwrap();
    assert_eq!(read.payment_reference, key(1));
    store
        .claim_transaction(&PaymentTransaction {
            chain_id: SOLANA.into(),
            tx_hash: "5".repeat(88),
            payment_intent_id: paid.id,
            payer: "11111111111111111111111111111112".into(),
            amount: "1".into(),
            asset: paid.settlement.asset.id.to_string(),
            block_number: 1,
            block_hash: "h".into(),
            log_index: 0,
            status: PaymentTxStatus::Pending,
            source: PaymentSource::Reference,
            created_at_ms: T0,
        })
        .await
        .unwrap();
    let ids = |list: Vec<PaymentIntent>| list.iter().map(|i| i.id).collect::<Vec<_>>();
    let watched = store
        .reference_intents(SOLANA, false, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(watched), vec![first.id, second.id]);
    // Page by page: the next page starts after the last one seen.
    let page = store
        .reference_intents(SOLANA, false, None, 1)
        .await
        .unwrap();
    assert_eq!(ids(page.clone()), vec![first.id]);
    let next = store
        .reference_intents(SOLANA, false, page.last(), 1)
        .await
        .unwrap();
    assert_eq!(ids(next.clone()), vec![second.id]);
    let none = store.reference_intents(SOLANA, false, next.last(), 1);
    assert!(none.await.unwrap().is_empty());
    let live_watched = store
        .reference_intents(SOLANA, true, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(live_watched), vec![live.id]);
    assert!(store
        .reference_intents(CHAIN, false, None, 10)
        .await
        .unwrap()
        .is_empty());
    let reread = store.payment_transactions_of(&paid.id).await.unwrap();
    assert_eq!(
        reread[0].source,
        PaymentSource::Reference,
        "the source reads back"
    );
}

/// Payer details: one sealed row per intent, replaced (keeping its creation time) when the
/// payer corrects them, read back exactly.
async fn payer_details_are_one_row_per_intent_replaced_in_place(store: &dyn Store) {
    use rialto_core::id::{MerchantId, PaymentIntentId};
    use rialto_gateway::keys::generate_key;
    use rialto_gateway::store::payer::PayerDetailsRecord;
    use rialto_gateway::store::{KeyKind, Merchant};

    let merchant = MerchantId::generate();
    let m = Merchant {
        id: merchant,
        name: "Café Berlin".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: T0,
        country: None,
    };
    let (_, sk) = generate_key(merchant, KeyKind::Secret, false, T0);
    store.create_merchant(&m, &[sk]).await.unwrap();
    let intent = PaymentIntentId::generate();
    assert_eq!(store.get_payer_details(&intent).await.unwrap(), None);
    let first = PayerDetailsRecord {
        payment_intent_id: intent,
        merchant_id: merchant,
        livemode: false,
        sealed: "v2:first".into(),
        created_at_ms: T0,
        updated_at_ms: T0,
    };
    store.put_payer_details(&first).await.unwrap();
    assert_eq!(
        store.get_payer_details(&intent).await.unwrap(),
        Some(first.clone())
    );
    let corrected = PayerDetailsRecord {
        sealed: "v2:corrected".into(),
        created_at_ms: T0 + 5,
        updated_at_ms: T0 + 5,
        ..first.clone()
    };
    store.put_payer_details(&corrected).await.unwrap();
    let stored = store.get_payer_details(&intent).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.sealed.as_str(),
            stored.created_at_ms,
            stored.updated_at_ms
        ),
        ("v2:corrected", T0, T0 + 5)
    );
}

async fn many_intents_settle_in_one_write_each_compare_and_set_on_its_own(store: &dyn Store) {
    use common::fixtures::stored_intent;
    use rialto_core::id::EventId;
    use rialto_core::intent::{PaymentEvent, PaymentIntent, PaymentStatus};
    use rialto_gateway::ledger::{paid_and_settled, Entry, Posting};
    use rialto_gateway::store::ledger::IntentWrite;
    use rialto_gateway::store::{CasOutcome, Event, EventFilter};

    let mut intents = Vec::new();
    for amount in ["1.00", "2.00", "3.00"] {
        intents.push(stored_intent(store, amount, PaymentStatus::FundsReceived, HOT, T0).await);
    }
    // Two transitions in memory, written as one from the stored version.
    let write = |intent: &PaymentIntent, expected_version: i64| {
        let settling = intent
            .transition(PaymentEvent::SettlementStarted, T0 + 1)
            .unwrap();
        let next = settling.transition(PaymentEvent::Settled, T0 + 1).unwrap();
        let postings = paid_and_settled(&next, intent.amount.amount(), T0 + 1).unwrap();
        let event = |kind: &str| Event {
            id: EventId::generate(),
            merchant_id: intent.merchant_id,
            livemode: false,
            kind: kind.into(),
            object_json: "{}".into(),
            created_at_ms: T0 + 1,
        };
        IntentWrite {
            expected: intent.status,
            expected_version,
            next,
            events: vec![
                event("payment_intent.settling"),
                event("payment_intent.succeeded"),
            ],
            postings,
        }
    };
    let writes = [
        write(&intents[0], 1),
        write(&intents[1], 7), // stale: another worker moved it
        write(&intents[2], 1),
    ];
    let postings = |i: usize| {
        let merchant = intents[i].merchant_id;
        async move { store.merchant_postings(&merchant, false).await.unwrap() }
    };
    // An unbalanced posting anywhere refuses the whole batch; nothing is written.
    let mut broken = writes.clone();
    broken[2].postings[0].entries.push(Entry {
        account: rialto_gateway::ledger::Account::WriteOffs,
        asset: "y".into(),
        amount: "1".parse().unwrap(),
    });
    assert!(store.update_intents_with_postings(&broken).await.is_err());
    assert!(postings(0).await.is_empty());
    let outcomes = store.update_intents_with_postings(&writes).await.unwrap();
    assert_eq!(
        outcomes,
        [
            CasOutcome::Updated,
            CasOutcome::Conflict,
            CasOutcome::Updated
        ]
    );
    let filter = EventFilter {
        kind: None,
        starting_after: None,
        ending_before: None,
        limit: 100,
    };
    for (i, (status, version, events)) in [
        (PaymentStatus::Succeeded, 3, 3),
        (PaymentStatus::FundsReceived, 1, 1),
        (PaymentStatus::Succeeded, 3, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let stored = store
            .get_intent_unscoped(&intents[i].id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.status, stored.version),
            (status, version),
            "intent {i}"
        );
        let written = store
            .list_events(&intents[i].merchant_id, false, &filter)
            .await
            .unwrap()
            .data;
        assert_eq!(
            written.len(),
            events,
            "intent {i}: created, settling, succeeded"
        );
        let want: Vec<Posting> = if status == PaymentStatus::Succeeded {
            writes[i].postings.clone()
        } else {
            Vec::new()
        };
        assert_eq!(
            postings(i).await,
            want,
            "intent {i}: exactly its own postings"
        );
    }
    // Written again, both applied ones conflict: a settlement is posted once.
    let again = store.update_intents_with_postings(&writes).await.unwrap();
    assert_eq!(again, [CasOutcome::Conflict; 3]);
    assert_eq!(postings(0).await, writes[0].postings);
}

async fn run(db: Db) {
    let (url, _dir) = fresh_database(db).await;
    let store = open(&url).await;
    a_leg_is_signed_once_however_often_it_is_asked_for(store.as_ref()).await;
    concurrent_senders_get_distinct_consecutive_nonces(store.clone()).await;
    nonces_survive_a_restart_and_follow_the_node_when_it_is_ahead(&url).await;
    the_ledger_posts_with_its_status_change_or_not_at_all(store.as_ref()).await;
    many_intents_settle_in_one_write_each_compare_and_set_on_its_own(store.as_ref()).await;
    only_intents_funded_on_the_chain_in_the_mode_are_picked_up(store.as_ref()).await;
    an_x402_authorization_is_claimed_once(store.as_ref()).await;
    a_reference_names_one_intent_and_only_open_unpaid_ones_are_watched(store.as_ref()).await;
    payer_details_are_one_row_per_intent_replaced_in_place(store.as_ref()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rail_store_contract_holds_on_sqlite() {
    run(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rail_store_contract_holds_on_postgres() {
    run(Db::Postgres).await;
}
