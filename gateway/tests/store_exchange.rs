//! The exchange-account lease, on SQLite and PostgreSQL: one holder at a time resumes a linked
//! account, a dead holder's lease is taken over once it expires, and only a pending account
//! can be leased.

mod common;

use common::fixtures::stored_intent;
use common::{fresh_store, Db, ADDRESS};
use rialto_core::intent::PaymentStatus;
use rialto_gateway::store::exchange::{ExchangeAccount, ExchangeAccountStatus, ExchangeStore};
use rialto_gateway::store::SqlStore;

const T0: i64 = 1_800_000_000_000;

async fn pending_account(store: &SqlStore) -> ExchangeAccount {
    let pi = stored_intent(store, "12.34", PaymentStatus::AwaitingFunds, ADDRESS, T0).await;
    let (id, merchant) = (pi.id, pi.merchant_id);
    let account = ExchangeAccount {
        id: format!("xa_{}", id.to_string().trim_start_matches("pi_")),
        payment_intent_id: id,
        merchant_id: merchant,
        livemode: false,
        venue: "kraken".into(),
        sealed_credentials: "sealed".into(),
        keep_credentials: false,
        order_leg: "leg_01JA0000000000000000000000".into(),
        withdrawal_leg: "leg_01JA0000000000000000000001".into(),
        status: ExchangeAccountStatus::Pending,
        venue_withdrawal_id: None,
        tx_hash: None,
        failure: None,
        created_at_ms: T0,
        updated_at_ms: T0,
        erased_at_ms: None,
        conversion: None,
        deposit_address: None,
    };
    store.create_exchange_account(&account).await.unwrap();
    account
}

async fn one_holder_at_a_time_resumes_a_linked_account(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let account = pending_account(&store).await;
    let lease = 60_000;
    // Eight concurrent resumes: exactly one gets the lease.
    let claims = (0..8).map(|_| store.claim_exchange_account(&account.id, T0, T0 + lease));
    let won = futures::future::join_all(claims)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(won, 1, "{db:?}");
    // Held: refused until it expires; a dead holder's lease is then taken over.
    assert!(!store
        .claim_exchange_account(&account.id, T0 + lease - 1, T0 + 2 * lease)
        .await
        .unwrap());
    assert!(store
        .claim_exchange_account(&account.id, T0 + lease, T0 + 2 * lease)
        .await
        .unwrap());
    // The old holder's release does not free the new holder's lease; the new one's does.
    store
        .release_exchange_account(&account.id, T0 + lease)
        .await
        .unwrap();
    assert!(!store
        .claim_exchange_account(&account.id, T0 + lease + 1, T0 + 3 * lease)
        .await
        .unwrap());
    store
        .release_exchange_account(&account.id, T0 + 2 * lease)
        .await
        .unwrap();
    assert!(store
        .claim_exchange_account(&account.id, T0 + lease + 1, T0 + 3 * lease)
        .await
        .unwrap());
    // Once past pending, nothing is left to resume: no lease.
    let mut submitted = account.clone();
    submitted.status = ExchangeAccountStatus::Submitted;
    store.update_exchange_account(&submitted).await.unwrap();
    assert!(!store
        .claim_exchange_account(&account.id, T0 + 10 * lease, T0 + 11 * lease)
        .await
        .unwrap());
}

#[tokio::test]
async fn one_holder_at_a_time_resumes_a_linked_account_on_sqlite() {
    one_holder_at_a_time_resumes_a_linked_account(Db::Sqlite).await;
}

#[tokio::test]
async fn one_holder_at_a_time_resumes_a_linked_account_on_postgres() {
    one_holder_at_a_time_resumes_a_linked_account(Db::Postgres).await;
}

/// The venue's deposit address is kept with the account (a refund's default destination), and
/// an update that carries none keeps it.
async fn the_venue_deposit_address_is_kept_with_the_account(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let mut account = pending_account(&store).await;
    assert_eq!(
        store
            .get_exchange_account(&account.id)
            .await
            .unwrap()
            .unwrap()
            .deposit_address,
        None
    );
    account.deposit_address = Some("0x000000000000000000000000000000000000dEaD".into());
    store.update_exchange_account(&account).await.unwrap();
    let mut later = account.clone();
    later.deposit_address = None;
    later.status = ExchangeAccountStatus::Withdrawn;
    store.update_exchange_account(&later).await.unwrap();
    let read = store
        .exchange_accounts_of(&account.payment_intent_id)
        .await
        .unwrap();
    assert_eq!(read.len(), 1, "{db:?}");
    assert_eq!(read[0].status, ExchangeAccountStatus::Withdrawn);
    assert_eq!(
        read[0].deposit_address.as_deref(),
        Some("0x000000000000000000000000000000000000dEaD"),
        "{db:?}"
    );
}

#[tokio::test]
async fn the_venue_deposit_address_is_kept_with_the_account_on_sqlite() {
    the_venue_deposit_address_is_kept_with_the_account(Db::Sqlite).await;
}

#[tokio::test]
async fn the_venue_deposit_address_is_kept_with_the_account_on_postgres() {
    the_venue_deposit_address_is_kept_with_the_account(Db::Postgres).await;
}
