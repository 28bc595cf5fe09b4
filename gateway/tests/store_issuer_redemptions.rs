//! Redemptions at the issuing bank (`rialto_engine::issuer_redemption`) in the store, on SQLite
//! and PostgreSQL: recorded once, read back exactly, listed per mode newest first and per
//! chain, and moved compare-and-set from the status the caller read, with its postings in the
//! same transaction or not at all.

mod common;

use common::fixtures::stored_intent;
use common::{fresh_store, Db, ADDRESS};
use rialto_core::intent::PaymentStatus;
use rialto_gateway::ledger::paid_and_settled;
use rialto_gateway::store::issuer_redemption::{
    IssuerRedemption, IssuerRedemptionStore, RedemptionStatus,
};
use rialto_gateway::store::ledger::LedgerStore;
use rust_decimal::Decimal;

const T0: i64 = 1_800_000_000_000;

fn redemption(id: &str, livemode: bool, chain: &str, at_ms: i64) -> IssuerRedemption {
    IssuerRedemption {
        id: id.into(),
        livemode,
        issuer: "sandbox-bank".into(),
        asset: "JPMD-DEV".into(),
        asset_id: format!("{chain}/erc20:0x00000000000000000000000000000000000000d7"),
        chain: chain.into(),
        token: "0x00000000000000000000000000000000000000d7".into(),
        decimals: 6,
        wallet: ADDRESS.into(),
        amount: Decimal::new(2_500, 2),
        status: RedemptionStatus::Pending,
        fee: None,
        usd_credited: None,
        tx_hash: None,
        block_number: None,
        reason: None,
        created_by: "operator:ops".into(),
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
    }
}

async fn redemptions_are_recorded_once_and_move_compare_and_set(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let first = redemption("leg_r1", false, "eip155:31337", T0);
    store.create_issuer_redemption(&first).await.unwrap();
    assert!(
        store.create_issuer_redemption(&first).await.is_err(),
        "one row per redemption id"
    );
    let other_chain = redemption("leg_r2", false, "eip155:31338", T0 + 1);
    let live = redemption("leg_r3", true, "eip155:31337", T0 + 2);
    store.create_issuer_redemption(&other_chain).await.unwrap();
    store.create_issuer_redemption(&live).await.unwrap();
    assert_eq!(
        store.get_issuer_redemption("leg_r1").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_issuer_redemption("leg_none").await.unwrap(), None);
    let ids = |rows: Vec<IssuerRedemption>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_issuer_redemptions(false, 10).await.unwrap()),
        ["leg_r2", "leg_r1"],
        "one mode, newest first"
    );
    assert_eq!(
        ids(store.issuer_redemptions_on("eip155:31337").await.unwrap()).len(),
        2,
        "both modes on the chain"
    );
    // Completed with its postings, compare-and-set from pending.
    let completed = IssuerRedemption {
        status: RedemptionStatus::Completed,
        fee: Some(Decimal::new(2, 2)),
        usd_credited: Some(Decimal::new(2_498, 2)),
        tx_hash: Some(format!("0x{:064x}", 7)),
        block_number: Some(12),
        updated_at_ms: T0 + 5,
        ..first.clone()
    };
    let pi = stored_intent(
        store.as_ref(),
        "25.00",
        PaymentStatus::Succeeded,
        ADDRESS,
        T0,
    )
    .await;
    let postings = paid_and_settled(&pi, Decimal::new(2_500, 2), T0 + 5).unwrap();
    let mut broken = postings.clone();
    broken[0].entries[0].amount += Decimal::ONE;
    assert!(
        store
            .update_issuer_redemption(&completed, RedemptionStatus::Pending, &broken)
            .await
            .is_err(),
        "unbalanced postings are refused"
    );
    assert_eq!(
        store
            .get_issuer_redemption("leg_r1")
            .await
            .unwrap()
            .unwrap()
            .status,
        RedemptionStatus::Pending,
        "and nothing moved"
    );
    assert!(store
        .update_issuer_redemption(&completed, RedemptionStatus::Pending, &postings)
        .await
        .unwrap());
    assert!(
        !store
            .update_issuer_redemption(&completed, RedemptionStatus::Pending, &postings)
            .await
            .unwrap(),
        "a second move from pending finds it completed"
    );
    assert_eq!(
        store.get_issuer_redemption("leg_r1").await.unwrap(),
        Some(completed)
    );
    let booked = store
        .merchant_postings(&pi.merchant_id, false)
        .await
        .unwrap();
    assert_eq!(booked, postings, "posted once, exactly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemptions_are_recorded_once_and_move_compare_and_set_on_sqlite() {
    redemptions_are_recorded_once_and_move_compare_and_set(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemptions_are_recorded_once_and_move_compare_and_set_on_postgres() {
    redemptions_are_recorded_once_and_move_compare_and_set(Db::Postgres).await;
}
