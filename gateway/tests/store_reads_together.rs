//! The reads a chain worker pass makes for many intents at once answer exactly what the reads
//! of one answer, on SQLite and PostgreSQL: intents by id, payment transactions by intent
//! (each intent's in the order they were bound), and an intent's legs by purpose.

mod common;

use common::fixtures::stored_intent;
use common::{fresh_store, Db};
use rialto_connectors::rail::SignError;
use rialto_core::id::PaymentIntentId;
use rialto_core::intent::PaymentStatus;
use rialto_gateway::store::chain::{SignedLeg, TransferDraft};
use rialto_gateway::store::{PaymentSource, PaymentTransaction, PaymentTxStatus, Store};

const TO: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const CHAIN: &str = "eip155:31338";

fn ptx(intent: &PaymentIntentId, tx: &str, at_ms: i64) -> PaymentTransaction {
    PaymentTransaction {
        chain_id: CHAIN.into(),
        tx_hash: tx.into(),
        payment_intent_id: *intent,
        payer: "0xpayer".into(),
        amount: "1".into(),
        asset: "eip155:31338/erc20:0x0000000000000000000000000000000000000001".into(),
        block_number: 0,
        block_hash: String::new(),
        log_index: 0,
        status: PaymentTxStatus::Pending,
        source: PaymentSource::Transaction,
        created_at_ms: at_ms,
    }
}

fn draft(purpose: &str, reference: &str) -> TransferDraft {
    TransferDraft {
        leg_id: format!("leg_{purpose}_{reference}"),
        purpose: purpose.into(),
        reference: reference.into(),
        payment_intent_id: None,
        chain_id: CHAIN.into(),
        from: TO.into(),
        to: "0x000000000000000000000000000000000000dEaD".into(),
        token: None,
        amount_units: None,
        created_at_ms: 1,
    }
}

fn signed(nonce: u64) -> Result<SignedLeg, SignError> {
    Ok(SignedLeg {
        raw_tx: format!("0xraw{nonce:08}"),
        tx_hash: format!("0x{nonce:064x}"),
    })
}

async fn suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let mut ids = Vec::new();
    for amount in ["1.00", "2.00", "3.00"] {
        let intent = stored_intent(store, amount, PaymentStatus::AwaitingFunds, TO, 1).await;
        ids.push(intent.id);
    }
    let missing = PaymentIntentId::generate();
    let mut asked = ids.clone();
    asked.push(missing);

    let found = store.get_intents_unscoped(&asked).await.unwrap();
    assert_eq!(found.len(), 3);
    for id in &ids {
        let one = store.get_intent_unscoped(id).await.unwrap();
        assert_eq!(found.get(id), one.as_ref());
    }
    assert!(!found.contains_key(&missing));

    // Two payments of the first intent (bound later first in the list), one of the third.
    for (intent, tx, at) in [(ids[0], "0xb", 5), (ids[0], "0xa", 3), (ids[2], "0xc", 4)] {
        let claim = ptx(&intent, tx, at);
        assert_eq!(store.claim_transaction(&claim).await.unwrap(), intent);
    }
    let of = store.payment_transactions_of_intents(&asked).await.unwrap();
    assert_eq!(of.len(), 4, "every intent asked for is a key");
    for id in &asked {
        assert_eq!(of[id], store.payment_transactions_of(id).await.unwrap());
    }
    let first: Vec<&str> = of[&ids[0]].iter().map(|p| p.tx_hash.as_str()).collect();
    assert_eq!(first, ["0xa", "0xb"]);
    assert!(of[&ids[1]].is_empty() && of[&missing].is_empty());

    // Legs: two of the first intent's purposes asked for, one not asked for, another intent's.
    let reference = ids[0].to_string();
    for (nonce, (purpose, of)) in [
        ("sweep_gas", &reference),
        ("sweep", &reference),
        ("payout", &reference),
        ("sweep", &ids[1].to_string()),
    ]
    .into_iter()
    .enumerate()
    {
        let sign = |_| signed(nonce as u64);
        let leg = draft(purpose, of);
        store.record_chain_transfer(&leg, 0, &sign).await.unwrap();
    }
    let asked = ["sweep", "eip3009_relay", "sweep_gas"];
    let legs = store.get_chain_transfers(&asked, &reference).await.unwrap();
    let purposes: Vec<&str> = legs.iter().map(|l| l.draft.purpose.as_str()).collect();
    assert_eq!(purposes, ["sweep", "sweep_gas"], "in the order asked");
    for leg in &legs {
        let one = store
            .get_chain_transfer(&leg.draft.purpose, &reference)
            .await;
        assert_eq!(
            one.unwrap().map(|l| l.draft.leg_id),
            Some(leg.draft.leg_id.clone())
        );
    }
    assert!(store
        .get_chain_transfers(&[], &reference)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn reads_of_many_answer_what_reads_of_one_answer_on_sqlite() {
    suite(Db::Sqlite).await;
}

#[tokio::test]
async fn reads_of_many_answer_what_reads_of_one_answer_on_postgres() {
    suite(Db::Postgres).await;
}
