//! A refund's conversion (a refund in another asset, `rialto_engine::refund_convert`) is stored
//! with it, on SQLite and PostgreSQL: written when the refund is created, replaced by an update
//! that carries one, kept by an update that carries none.

mod common;

use common::fixtures::stored_intent;
use common::{fresh_store, Db, ADDRESS};
use rialto_core::intent::PaymentStatus;
use rialto_gateway::ledger::merchant_balance;
use rialto_gateway::store::money::{
    Effects, MoneyStore, Refund, RefundStatus, Reservation, ReserveOutcome,
};
use rialto_gateway::store::CasOutcome;
use rust_decimal::Decimal;

const T0: i64 = 1_800_000_000_000;

async fn a_refund_keeps_its_conversion(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let pi = stored_intent(
        store.as_ref(),
        "12.34",
        PaymentStatus::Succeeded,
        ADDRESS,
        T0,
    )
    .await;
    let refund = Refund {
        id: rialto_core::id::RefundId::generate(),
        merchant_id: pi.merchant_id,
        livemode: false,
        payment_intent_id: pi.id,
        amount: Decimal::new(5, 0),
        asset: pi.settlement.asset.id.to_string(),
        chain_id: pi.settlement.asset.id.chain().to_string(),
        destination: ADDRESS.into(),
        reason: "requested_by_customer".into(),
        status: RefundStatus::RequiresFunding,
        failure_code: None,
        tx_hash: None,
        created_by: "test".into(),
        metadata: Default::default(),
        created_at_ms: T0,
        updated_at_ms: T0,
        conversion: Some(r#"{"quote_id":"qt_1"}"#.into()),
    };
    // Nothing reserved (as for a refund waiting for funds).
    let reservation = Reservation {
        merchant_id: pi.merchant_id,
        livemode: false,
        account: merchant_balance(&pi.merchant_id),
        asset: refund.asset.clone(),
        amount: Decimal::ZERO,
    };
    let created = store
        .create_refund(&refund, &reservation, Effects::default())
        .await
        .unwrap();
    assert_eq!(created, ReserveOutcome::Reserved, "{db:?}");
    let read = store.get_refund(&refund.id).await.unwrap().unwrap();
    assert_eq!(read.conversion, refund.conversion, "{db:?}");

    let mut next = refund.clone();
    next.status = RefundStatus::Pending;
    next.conversion = Some(r#"{"quote_id":"qt_2"}"#.into());
    let moved = store
        .update_refund(&next, RefundStatus::RequiresFunding, Effects::default())
        .await
        .unwrap();
    assert_eq!(moved, CasOutcome::Updated);
    let mut failed = next.clone();
    failed.status = RefundStatus::Failed;
    failed.conversion = None;
    store
        .update_refund(&failed, RefundStatus::Pending, Effects::default())
        .await
        .unwrap();
    let read = store.get_refund(&refund.id).await.unwrap().unwrap();
    assert_eq!(read.status, RefundStatus::Failed);
    assert_eq!(
        read.conversion.as_deref(),
        Some(r#"{"quote_id":"qt_2"}"#),
        "{db:?}"
    );
}

#[tokio::test]
async fn a_refund_keeps_its_conversion_on_sqlite() {
    a_refund_keeps_its_conversion(Db::Sqlite).await;
}

#[tokio::test]
async fn a_refund_keeps_its_conversion_on_postgres() {
    a_refund_keeps_its_conversion(Db::Postgres).await;
}
