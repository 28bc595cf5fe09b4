//! Misdirected deposits in the store (migration 0038), on SQLite and PostgreSQL: one row per
//! on-chain movement, status moves compare-and-set with their postings in the same
//! transaction (a lost move writes no posting), lists filtered by mode and status, newest
//! first, and the family's deposit addresses across chains.

mod common;

use common::fixtures::stored_intent;
use common::{fresh_store, Db};
use rialto_core::address::Address;
use rialto_core::intent::PaymentStatus;
use rialto_core::ChainNamespace;
use rialto_gateway::ledger::{Account, Entry, Posting};
use rialto_gateway::store::misdirected::{
    MisdirectedDeposit, MisdirectedKind, MisdirectedStatus, MisdirectedUpdate,
};
use rialto_gateway::store::Store;

const TO: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const ASSET: &str = "eip155:8453/erc20:0xfde4C96c8593536E31F229EA8f37b2ADa2699bb2";

fn row(
    intent: &rialto_core::intent::PaymentIntent,
    id: &str,
    log_index: i64,
) -> MisdirectedDeposit {
    MisdirectedDeposit {
        id: id.into(),
        chain_id: "eip155:8453".into(),
        livemode: false,
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id.to_string(),
        address: "0x9858EfFD232B4033E47d90003D41EC34EcaEda94".into(),
        kind: MisdirectedKind::OtherToken,
        token: Some("0xfde4C96c8593536E31F229EA8f37b2ADa2699bb2".into()),
        asset: Some(ASSET.into()),
        amount_units: 5_000_000,
        sender: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".into(),
        tx_hash: "0xabc".into(),
        log_index,
        block_number: 7,
        status: MisdirectedStatus::Detected,
        reason: None,
        return_to: None,
        network_cost_units: None,
        returned_units: None,
        resolved_by: None,
        created_at_ms: 1,
        updated_at_ms: 1,
        route_execution_id: None,
    }
}

fn received(r: &MisdirectedDeposit, amount: &str) -> Posting {
    let amount: rust_decimal::Decimal = amount.parse().unwrap();
    let entry = |account, amount| Entry {
        account,
        asset: ASSET.into(),
        amount,
    };
    Posting::for_merchant(
        r.merchant_id.parse().unwrap(),
        false,
        "misdirected_received",
        &r.id,
        vec![
            entry(Account::Payers, -amount),
            entry(Account::Misdirected, amount),
        ],
        2,
    )
    .unwrap()
}

async fn suite(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let intent = stored_intent(store, "10.00", PaymentStatus::AwaitingFunds, TO, 1).await;
    let first = row(&intent, "md_01jd0000000000000000000001", 3);
    assert!(store.record_misdirected(&first).await.unwrap());
    // The same movement again (a rescan): nothing new, whatever id it would get.
    let again = row(&intent, "md_01jd0000000000000000000002", 3);
    assert!(!store.record_misdirected(&again).await.unwrap());
    assert!(store.get_misdirected(&again.id).await.unwrap().is_none());
    // Another log of the same transaction is another movement.
    let second = row(&intent, "md_01jd0000000000000000000003", 4);
    assert!(store.record_misdirected(&second).await.unwrap());
    assert_eq!(
        store.get_misdirected(&first.id).await.unwrap().unwrap(),
        first
    );

    let update = MisdirectedUpdate {
        network_cost_units: Some(12_345),
        returned_units: Some(4_987_655),
        return_to: Some(first.sender.clone()),
        ..MisdirectedUpdate::default()
    };
    let booked = [received(&first, "5")];
    assert!(store
        .move_misdirected(
            &first.id,
            MisdirectedStatus::Detected,
            MisdirectedStatus::Returning,
            &update,
            &booked,
            5,
        )
        .await
        .unwrap());
    // A second worker with the same decision loses, and writes no posting.
    assert!(!store
        .move_misdirected(
            &first.id,
            MisdirectedStatus::Detected,
            MisdirectedStatus::Returning,
            &update,
            &[received(&second, "5")],
            5,
        )
        .await
        .unwrap());
    let moved = store.get_misdirected(&first.id).await.unwrap().unwrap();
    assert_eq!(moved.status, MisdirectedStatus::Returning);
    assert_eq!(moved.network_cost_units, Some(12_345));
    assert_eq!(moved.returned_units, Some(4_987_655));
    assert_eq!(moved.updated_at_ms, 5);
    assert_eq!(
        store
            .account_balance(&Account::Misdirected, ASSET, false)
            .await
            .unwrap(),
        "5".parse().unwrap(),
        "only the winning move booked"
    );
    // A later move keeps what it does not set.
    let hold = MisdirectedUpdate {
        reason: Some("return_failed".into()),
        ..MisdirectedUpdate::default()
    };
    assert!(store
        .move_misdirected(
            &first.id,
            MisdirectedStatus::Returning,
            MisdirectedStatus::NeedsOperator,
            &hold,
            &[],
            6,
        )
        .await
        .unwrap());
    let held = store.get_misdirected(&first.id).await.unwrap().unwrap();
    assert_eq!(held.reason.as_deref(), Some("return_failed"));
    assert_eq!(held.network_cost_units, Some(12_345));

    // A conversion: converting, then handed to its route execution (kept by later moves).
    assert!(store
        .move_misdirected(
            &second.id,
            MisdirectedStatus::Detected,
            MisdirectedStatus::Converting,
            &MisdirectedUpdate::default(),
            &[],
            7,
        )
        .await
        .unwrap());
    let handed = MisdirectedUpdate {
        route_execution_id: Some("rx_01jd0000000000000000000009".into()),
        ..MisdirectedUpdate::default()
    };
    assert!(store
        .move_misdirected(
            &second.id,
            MisdirectedStatus::Converting,
            MisdirectedStatus::Converted,
            &handed,
            &[],
            8,
        )
        .await
        .unwrap());
    let converted = store.get_misdirected(&second.id).await.unwrap().unwrap();
    assert_eq!(converted.status, MisdirectedStatus::Converted);
    assert_eq!(
        converted.route_execution_id.as_deref(),
        Some("rx_01jd0000000000000000000009")
    );
    assert_eq!(
        store
            .get_misdirected(&first.id)
            .await
            .unwrap()
            .unwrap()
            .route_execution_id,
        None
    );
    assert_eq!(
        store
            .misdirected_in("eip155:8453", MisdirectedStatus::Converted, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    let chain = "eip155:8453";
    let detected = store
        .misdirected_in(chain, MisdirectedStatus::Detected, 10)
        .await
        .unwrap();
    assert!(detected.is_empty(), "{detected:?}");
    let all = store.list_misdirected(false, None, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [second.id.as_str(), first.id.as_str()],
        "newest first"
    );
    let after = store
        .list_misdirected(false, None, Some(&second.id), 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    let needing = store
        .list_misdirected(false, Some(MisdirectedStatus::NeedsOperator), None, 10)
        .await
        .unwrap();
    assert_eq!(needing.len(), 1);
    assert!(store
        .list_misdirected(true, None, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.misdirected_on(chain).await.unwrap().len(), 2);
    assert!(store.misdirected_on("eip155:1").await.unwrap().is_empty());

    // Deposit addresses of the whole EVM family, in the intent's mode only.
    let derive = |_: u32| {
        Address::parse(TO, ChainNamespace::Eip155)
            .map_err(|e| rialto_connectors::chain::ChainError::Invalid(e.to_string()))
    };
    store
        .deposit_address(&intent.id, "eip155:8453", &derive, 1)
        .await
        .unwrap();
    let family = store
        .deposit_addresses_in_family("eip155:", false)
        .await
        .unwrap();
    assert_eq!(family.len(), 1);
    assert_eq!(family[0].payment_intent_id, intent.id);
    assert!(store
        .deposit_addresses_in_family("eip155:", true)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .deposit_addresses_in_family("solana:", false)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn misdirected_deposits_are_recorded_once_and_move_compare_and_set_on_sqlite() {
    suite(Db::Sqlite).await;
}

#[tokio::test]
async fn misdirected_deposits_are_recorded_once_and_move_compare_and_set_on_postgres() {
    suite(Db::Postgres).await;
}
