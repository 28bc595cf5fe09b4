//! The Proof of Reserve verdicts in the store, on SQLite and PostgreSQL: two gateway
//! instances reading the same feed agree on one verdict, and only the instance whose write
//! wins announces a change (its events commit with it; the loser's never exist).

mod common;

use common::{fresh_store, Db};
use rialto_core::id::{EventId, MerchantId};
use rialto_engine::reserves::{ReserveState, ReserveStatus};
use rialto_gateway::merchants::{create_merchant, NewMerchant};
use rialto_gateway::store::reserves::ReserveStore;
use rialto_gateway::store::{CasOutcome, Event, EventFilter, WebhookStore};

const T0: i64 = 1_800_000_000_000;

fn state(status: ReserveStatus, at: i64) -> ReserveState {
    ReserveState {
        livemode: false,
        chain: "eip155:31338".into(),
        asset: "usdc".into(),
        status,
        reserves: "999.99".parse().unwrap(),
        supply: "1000".parse().unwrap(),
        report_updated_at: 1_700_000_000,
        checked_at_ms: at,
        changed_at_ms: at,
    }
}

async fn verdicts_are_written_once_per_change(db: Db) {
    let (store, _dir) = fresh_store(db).await;
    let merchant = create_merchant(
        store.as_ref(),
        &common::registry(),
        &NewMerchant {
            name: "Shop".into(),
            settlement: None,
            live_keys: false,
            country: None,
        },
        T0,
    )
    .await
    .unwrap();
    let merchant: MerchantId = merchant.id.parse().unwrap();
    assert_eq!(store.merchant_ids().await.unwrap(), vec![merchant]);
    let halted = |at: i64| Event {
        id: EventId::generate(),
        merchant_id: merchant,
        livemode: false,
        kind: "reserves.halted".into(),
        object_json: state(ReserveStatus::Breached, at).object_json(),
        created_at_ms: at,
    };

    // Both instances saw the breach first; one insert wins, the other announces nothing.
    let first = state(ReserveStatus::Breached, T0);
    let won = store
        .save_reserve_state(None, &first, &[halted(T0)])
        .await
        .unwrap();
    let lost = store
        .save_reserve_state(None, &first, &[halted(T0 + 1)])
        .await
        .unwrap();
    assert_eq!((won, lost), (CasOutcome::Updated, CasOutcome::Conflict));
    assert_eq!(store.reserve_states().await.unwrap(), vec![first.clone()]);

    // A reading that keeps the verdict updates it; one expecting another verdict does not.
    let again = ReserveState {
        checked_at_ms: T0 + 10,
        ..first.clone()
    };
    let kept = store
        .save_reserve_state(Some(ReserveStatus::Breached), &again, &[])
        .await
        .unwrap();
    assert_eq!(kept, CasOutcome::Updated);
    let stale_view = store
        .save_reserve_state(
            Some(ReserveStatus::Ok),
            &state(ReserveStatus::Ok, T0 + 20),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(stale_view, CasOutcome::Conflict);
    let stored = store.reserve_states().await.unwrap();
    assert_eq!(stored, vec![again]);

    let events = store
        .list_events(
            &merchant,
            false,
            &EventFilter {
                kind: Some("reserves.halted".into()),
                limit: 10,
                ..EventFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        events.data.len(),
        1,
        "only the winning write's announcement exists"
    );
}

#[tokio::test]
async fn reserve_verdicts_are_written_once_per_change_on_sqlite() {
    verdicts_are_written_once_per_change(Db::Sqlite).await;
}

#[tokio::test]
async fn reserve_verdicts_are_written_once_per_change_on_postgres() {
    verdicts_are_written_once_per_change(Db::Postgres).await;
}
