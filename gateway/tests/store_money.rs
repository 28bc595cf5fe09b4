//! The money store's reservations on SQLite and PostgreSQL: a merchant's test-mode balance
//! can never fund a live-mode payout or refund (the ledger accounts are named per merchant,
//! so the mode has to come from the ledger transaction).

mod common;

use common::{registry, Db};
use rialto_core::id::MerchantId;
use rialto_gateway::ledger::{merchant_balance, payouts_pending, PAYERS};
use rialto_gateway::merchants::{create_merchant, NewMerchant};
use rialto_gateway::store::money::{
    Effects, MoneyStore, Payout, PayoutStatus, Reservation, ReserveOutcome,
};
use rust_decimal::Decimal;

const T0: i64 = 1_800_000_000_000;
const USDC: &str = "eip155:8453/erc20:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";

/// A test-mode payment of `amount` held in the merchant's balance, written as the ledger does.
async fn held_in_test_mode(url: &str, merchant: &str, amount: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query(
        "INSERT INTO ledger_transactions (id, merchant_id, livemode, kind, reference, \
         created_at) VALUES ('ltx_test1', $1, 0, 'payment', 'pi_test1', $2)",
    )
    .bind(merchant.to_owned())
    .bind(T0)
    .execute(&pool)
    .await
    .unwrap();
    let account = merchant_balance(&merchant.parse().unwrap());
    for (seq, acct, amt) in [
        (0i64, PAYERS.to_owned(), format!("-{amount}")),
        (1, account, amount.to_owned()),
    ] {
        sqlx::query(
            "INSERT INTO ledger_entries (transaction_id, seq, account, asset, amount) VALUES \
             ('ltx_test1', $1, $2, $3, $4)",
        )
        .bind(seq)
        .bind(acct.to_string())
        .bind(USDC)
        .bind(amt)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
}

async fn test_funds_never_pay_out_in_live_mode(db: Db) {
    let (url, _dir) = common::fresh_database(db).await;
    let mut config = rialto_gateway::config::Config::default();
    config.database.url = url.clone();
    let store = rialto_gateway::server::open_store(&config, registry())
        .await
        .unwrap();
    let merchant = create_merchant(
        &store,
        &registry(),
        &NewMerchant {
            name: "Shop".into(),
            settlement: None,
            live_keys: true,
            country: None,
        },
        T0,
    )
    .await
    .unwrap();
    let merchant_id: MerchantId = merchant.id.parse().unwrap();
    held_in_test_mode(&url, &merchant.id, "50").await;
    let account = merchant_balance(&merchant_id);
    assert_eq!(
        store.account_balance(&account, USDC, false).await.unwrap(),
        Decimal::from(50)
    );
    assert_eq!(
        store.account_balance(&account, USDC, true).await.unwrap(),
        Decimal::ZERO,
        "test funds counted in live mode"
    );
    let payout = Payout {
        id: rialto_core::id::PayoutId::generate(),
        merchant_id,
        livemode: true,
        amount: Decimal::from(50),
        asset: USDC.into(),
        chain_id: "eip155:8453".into(),
        destination: common::ADDRESS.into(),
        status: PayoutStatus::Pending,
        created_by: "test".into(),
        approved_by: None,
        approved_at_ms: None,
        failure_code: None,
        tx_hash: None,
        created_at_ms: T0,
        updated_at_ms: T0,
    };
    let posting = rialto_gateway::ledger::transfer(
        (merchant_id, true),
        "payout",
        &payout.id.to_string(),
        USDC,
        (account.clone(), payouts_pending(&merchant_id)),
        payout.amount,
        T0,
    )
    .unwrap();
    let reservation = Reservation {
        merchant_id,
        livemode: true,
        account,
        asset: USDC.into(),
        amount: payout.amount,
    };
    let outcome = store
        .create_payout(
            &payout,
            &reservation,
            Effects {
                postings: std::slice::from_ref(&posting),
                ..Effects::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ReserveOutcome::Insufficient {
            available: Decimal::ZERO
        }
    );
    assert!(store.get_payout(&payout.id).await.unwrap().is_none());
}

#[tokio::test]
async fn test_mode_funds_never_pay_out_in_live_mode_on_sqlite() {
    test_funds_never_pay_out_in_live_mode(Db::Sqlite).await;
}

#[tokio::test]
async fn test_mode_funds_never_pay_out_in_live_mode_on_postgres() {
    test_funds_never_pay_out_in_live_mode(Db::Postgres).await;
}

/// Payouts reserve exactly what the balance holds, one after another, and list newest first
/// in pages; refunds list (none yet) with and without filters. On both backends, so the
/// optional filters bind the same way on each.
async fn reservations_add_up_and_lists_page(db: Db) {
    let (url, _dir) = common::fresh_database(db).await;
    let mut config = rialto_gateway::config::Config::default();
    config.database.url = url.clone();
    let store = rialto_gateway::server::open_store(&config, registry())
        .await
        .unwrap();
    let merchant = create_merchant(
        &store,
        &registry(),
        &NewMerchant {
            name: "Shop".into(),
            ..NewMerchant::default()
        },
        T0,
    )
    .await
    .unwrap();
    let merchant_id: MerchantId = merchant.id.parse().unwrap();
    held_in_test_mode(&url, &merchant.id, "3").await;
    let account = merchant_balance(&merchant_id);
    let mut ids = Vec::new();
    for i in 0..4 {
        let payout = Payout {
            id: rialto_core::id::PayoutId::generate(),
            merchant_id,
            livemode: false,
            amount: Decimal::ONE,
            asset: USDC.into(),
            chain_id: "eip155:8453".into(),
            destination: common::ADDRESS.into(),
            status: PayoutStatus::Pending,
            created_by: "test".into(),
            approved_by: None,
            approved_at_ms: None,
            failure_code: None,
            tx_hash: None,
            created_at_ms: T0 + i,
            updated_at_ms: T0 + i,
        };
        let posting = rialto_gateway::ledger::transfer(
            (merchant_id, false),
            "payout",
            &payout.id.to_string(),
            USDC,
            (account.clone(), payouts_pending(&merchant_id)),
            Decimal::ONE,
            T0 + i,
        )
        .unwrap();
        let reservation = Reservation {
            merchant_id,
            livemode: false,
            account: account.clone(),
            asset: USDC.into(),
            amount: Decimal::ONE,
        };
        let effects = Effects {
            postings: std::slice::from_ref(&posting),
            ..Effects::default()
        };
        let outcome = store
            .create_payout(&payout, &reservation, effects)
            .await
            .unwrap();
        if i < 3 {
            assert_eq!(outcome, ReserveOutcome::Reserved, "payout {i}");
            ids.push(payout.id);
        } else {
            assert_eq!(
                outcome,
                ReserveOutcome::Insufficient {
                    available: Decimal::ZERO
                }
            );
        }
    }
    let first = store
        .list_payouts(&merchant_id, false, None, 2)
        .await
        .unwrap();
    assert_eq!(
        first.data.iter().map(|p| p.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    assert!(first.has_more);
    let rest = store
        .list_payouts(&merchant_id, false, Some(&ids[1]), 2)
        .await
        .unwrap();
    assert_eq!(rest.data.iter().map(|p| p.id).collect::<Vec<_>>(), [ids[0]]);
    assert!(!rest.has_more);
    assert!(store
        .list_payouts(&merchant_id, true, None, 10)
        .await
        .unwrap()
        .data
        .is_empty());
    let refunds = store
        .list_refunds(&merchant_id, false, None, None, 10)
        .await
        .unwrap();
    assert!(refunds.data.is_empty() && !refunds.has_more);
    let intent: rialto_core::id::PaymentIntentId = rialto_core::id::PaymentIntentId::generate();
    let after = rialto_core::id::RefundId::generate();
    let filtered = store
        .list_refunds(&merchant_id, false, Some(&intent), Some(&after), 10)
        .await
        .unwrap();
    assert!(filtered.data.is_empty());
    assert_eq!(
        store
            .payouts_in(PayoutStatus::Pending, 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store.account_balance(&account, USDC, false).await.unwrap(),
        Decimal::ZERO
    );
}

#[tokio::test]
async fn reservations_add_up_and_lists_page_on_sqlite() {
    reservations_add_up_and_lists_page(Db::Sqlite).await;
}

#[tokio::test]
async fn reservations_add_up_and_lists_page_on_postgres() {
    reservations_add_up_and_lists_page(Db::Postgres).await;
}
