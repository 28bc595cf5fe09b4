//! The reconciliation store contract on SQLite and PostgreSQL: a run and its exceptions are
//! stored together and read back exactly, merchants see only their own exceptions, the
//! period filters are inclusive, and the chain records page in order with their owners.

mod common;

use common::fixtures::stored_intent;
use common::{fresh_store, Db};
use rialto_core::id::MerchantId;
use rialto_core::intent::PaymentStatus;
use rialto_gateway::store::chain::{SignedLeg, TransferDraft};
use rialto_gateway::store::reconcile::{ExceptionRecord, ReconciliationRun, ReportScope};
use rialto_gateway::store::{PaymentSource, PaymentTransaction, PaymentTxStatus, Store};

const CHAIN: &str = "eip155:8453";
const HOT: &str = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720";
const SHOP: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const T0: i64 = 1_800_000_000_000;

fn run_record(id: &str, at: i64) -> ReconciliationRun {
    ReconciliationRun {
        id: id.into(),
        period_start_ms: Some(T0 - 1000),
        period_end_ms: None,
        block_ranges: r#"[{"chain":"eip155:8453","from_block":0,"to_block":9}]"#.into(),
        expected_count: 3,
        observed_count: 4,
        matched_count: 2,
        ledger_count: 5,
        exception_count: 2,
        status: "succeeded".into(),
        failure: None,
        created_by: "operator:ops".into(),
        created_at_ms: at,
    }
}

fn exception(run: &str, seq: i64, merchant: Option<&MerchantId>, at: i64) -> ExceptionRecord {
    ExceptionRecord {
        run_id: run.into(),
        seq,
        kind: "unexpected_inflow".into(),
        merchant_id: merchant.map(ToString::to_string),
        livemode: false,
        chain_id: Some(CHAIN.into()),
        tx_hash: Some(format!("0x{seq:064x}")),
        log_index: Some(seq),
        block_number: Some(seq + 100),
        expected_amount: None,
        observed_amount: Some("1.5".into()),
        asset: Some(format!(
            "{CHAIN}/erc20:0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
        )),
        purpose: None,
        reference: None,
        detail: "a deposit address received, with \"quotes\", and commas".into(),
        created_at_ms: at,
    }
}

async fn runs_and_their_exceptions_are_stored_together_and_scoped(store: &dyn Store) {
    let mine = MerchantId::generate();
    let theirs = MerchantId::generate();
    let run = run_record("rec_1", T0);
    let exceptions = vec![
        exception("rec_1", 0, Some(&mine), T0),
        exception("rec_1", 1, Some(&theirs), T0),
        exception("rec_1", 2, None, T0),
    ];
    store
        .create_reconciliation_run(&run, &exceptions)
        .await
        .unwrap();
    assert_eq!(
        store.get_reconciliation_run("rec_1").await.unwrap(),
        Some(run.clone())
    );
    assert_eq!(store.get_reconciliation_run("rec_2").await.unwrap(), None);
    assert_eq!(
        store.run_exceptions("rec_1", None).await.unwrap(),
        exceptions,
        "the operator reads every exception, in order, exactly"
    );
    let own = store
        .run_exceptions("rec_1", Some((mine, false)))
        .await
        .unwrap();
    assert_eq!(
        own,
        vec![exceptions[0].clone()],
        "a merchant reads its own only"
    );
    assert!(store
        .run_exceptions("rec_1", Some((mine, true)))
        .await
        .unwrap()
        .is_empty());

    // A later run; period filters are inclusive at both ends.
    let later = run_record("rec_2", T0 + 10_000);
    store
        .create_reconciliation_run(&later, &[exception("rec_2", 0, Some(&mine), T0 + 10_000)])
        .await
        .unwrap();
    let scope = |from: Option<i64>, to: Option<i64>| ReportScope {
        merchant: Some((mine, false)),
        from_ms: from,
        to_ms: to,
        limit: 10,
    };
    let all = store.exception_rows(&scope(None, None)).await.unwrap();
    assert_eq!(
        all.iter().map(|x| x.run_id.as_str()).collect::<Vec<_>>(),
        ["rec_1", "rec_2"]
    );
    let first = store.exception_rows(&scope(None, Some(T0))).await.unwrap();
    assert_eq!(first.len(), 1);
    let second = store
        .exception_rows(&scope(Some(T0 + 10_000), None))
        .await
        .unwrap();
    assert_eq!(second[0].run_id, "rec_2");
}

async fn chain_records_page_in_order_with_their_owners(store: &dyn Store) {
    let intent = stored_intent(store, "1.00", PaymentStatus::FundsReceived, SHOP, T0).await;
    let (id, merchant) = (intent.id, intent.merchant_id);
    let tx = PaymentTransaction {
        chain_id: CHAIN.into(),
        tx_hash: format!("0x{:064x}", 7),
        payment_intent_id: id,
        payer: HOT.into(),
        amount: "1".into(),
        asset: intent.settlement.asset.id.to_string(),
        block_number: 3,
        block_hash: "0x3".into(),
        log_index: 2,
        status: PaymentTxStatus::Confirmed,
        source: PaymentSource::Transaction,
        created_at_ms: T0,
    };
    store.claim_transaction(&tx).await.unwrap();
    for n in 0..3u64 {
        let draft = TransferDraft {
            leg_id: format!("leg_{n}"),
            purpose: if n == 0 { "sweep" } else { "refund" }.into(),
            reference: format!("ref_{n}"),
            payment_intent_id: (n == 0).then_some(id),
            chain_id: CHAIN.into(),
            from: HOT.into(),
            to: SHOP.into(),
            token: Some("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913".into()),
            amount_units: Some("1000000".into()),
            created_at_ms: T0,
        };
        let sign = |nonce: u64| {
            Ok(SignedLeg {
                raw_tx: format!("0xraw{nonce}"),
                tx_hash: format!("0x{:064x}", 100 + nonce),
            })
        };
        store.record_chain_transfer(&draft, 0, &sign).await.unwrap();
    }
    let first = store.legs_page(CHAIN, None, 2).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|l| l.leg.draft.leg_id.as_str())
            .collect::<Vec<_>>(),
        ["leg_0", "leg_1"]
    );
    assert_eq!(first[0].merchant_id, Some(merchant.to_string()));
    assert_eq!(
        first[1].merchant_id, None,
        "a leg without an intent has no owner"
    );
    let rest = store.legs_page(CHAIN, Some("leg_1"), 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        store.leg_senders_on(CHAIN).await.unwrap(),
        [HOT],
        "three legs, one sender"
    );
    assert!(store.leg_senders_on("eip155:1").await.unwrap().is_empty());
    assert!(store
        .legs_page("eip155:1", None, 9)
        .await
        .unwrap()
        .is_empty());

    let payments = store.payments_page(CHAIN, None, 10).await.unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(
        payments[0].recipient, SHOP,
        "paid straight to the settlement address"
    );
    assert_eq!(payments[0].merchant_id, merchant.to_string());
    assert_eq!(payments[0].tx.log_index, 2);
    let settlements = store.settlement_addresses_on(CHAIN).await.unwrap();
    assert_eq!(settlements.len(), 1);
    assert_eq!(settlements[0].address, SHOP);
    let by_ref = store
        .legs_for_references(&["ref_2".into(), "ref_0".into()])
        .await
        .unwrap();
    assert_eq!(by_ref.len(), 2);
    let rows = store
        .payment_rows(&ReportScope {
            merchant: Some((merchant, false)),
            from_ms: Some(T0),
            to_ms: Some(T0),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].intent_amount, "1.00");
}

async fn run(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    runs_and_their_exceptions_are_stored_together_and_scoped(store.as_ref()).await;
    chain_records_page_in_order_with_their_owners(store.as_ref()).await;
}

#[tokio::test]
async fn the_reconciliation_store_contract_holds_on_sqlite() {
    run(Db::Sqlite).await;
}

#[tokio::test]
async fn the_reconciliation_store_contract_holds_on_postgres() {
    run(Db::Postgres).await;
}
