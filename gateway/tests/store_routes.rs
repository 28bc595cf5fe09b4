//! The route-execution store on SQLite and PostgreSQL: accepting a quote and storing its
//! execution is one transaction and happens once per intent; every step is a compare-and-set
//! on the execution's version with its legs, idempotency record and postings; a funding
//! transaction binds one execution only; claims are taken and released by their holder.

mod common;

use std::collections::BTreeMap;

use common::{fresh_store, registry, Db, ADDRESS};
use rialto_core::id::{EventId, MerchantId, PaymentIntentId};
use rialto_core::intent::{PaymentIntent, PaymentStatus, SettlementTarget};
use rialto_core::money::{Currency, Money};
use rialto_gateway::keys::generate_key;
use rialto_gateway::ledger::{Entry, Posting, PAYERS};
use rialto_gateway::routing::onchain::ChainLeg;
use rialto_gateway::store::quote::{
    AcceptOutcome, ExecutionStatus, Funding, LegSpec, QuoteRecord, QuoteStatus, RouteExecution,
    RouteLegKind, RouteLegRecord, RouteLegStatus,
};
use rialto_gateway::store::{CasOutcome, Event, IdempotencyRecord, KeyKind, Merchant, Store};
use rust_decimal::Decimal;

const T0: i64 = 1_800_000_000_000;
const NOW_S: i64 = T0 / 1000;

async fn paying_intent(store: &dyn Store) -> PaymentIntent {
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
    let pi = PaymentIntent {
        id,
        merchant_id: merchant,
        livemode: false,
        amount: Money::parse("25.00", Currency::usd()).unwrap(),
        settlement: SettlementTarget::resolve(&registry(), "usdc", "base", ADDRESS).unwrap(),
        status: PaymentStatus::AwaitingFunds,
        description: None,
        metadata: BTreeMap::new(),
        client_secret: format!("{id}_secret_x"),
        created_at_ms: T0,
        expires_at_ms: T0 + 3_600_000,
        updated_at_ms: T0,
        canceled_at_ms: None,
        cancellation_reason: None,
        version: 1,
        amount_refunded: Decimal::ZERO,
        payment_detail: None,
        payment_reference: None,
        fx: None,
    };
    let created = Event {
        id: EventId::generate(),
        merchant_id: merchant,
        livemode: false,
        kind: "payment_intent.created".into(),
        object_json: format!("{{\"id\":\"{id}\"}}"),
        created_at_ms: T0,
    };
    store.create_intent(&pi, &created, None).await.unwrap();
    pi
}

fn quote(pi: &PaymentIntent, id: &str) -> QuoteRecord {
    QuoteRecord {
        id: id.into(),
        payment_intent_id: pi.id,
        merchant_id: pi.merchant_id,
        livemode: false,
        status: QuoteStatus::Open,
        body: "{}".into(),
        expires_at: NOW_S + 60,
        created_at: NOW_S,
        accepted_at: None,
        route: Some("{\"route\":1}".into()),
    }
}

fn execution(pi: &PaymentIntent, id: &str, quote: &str) -> RouteExecution {
    RouteExecution {
        id: id.into(),
        quote_id: quote.into(),
        payment_intent_id: pi.id,
        merchant_id: pi.merchant_id,
        livemode: false,
        status: ExecutionStatus::AwaitingFunds,
        funding: Funding::Wallet {
            chain: "eip155:31337".into(),
            asset: "USDT".into(),
            payer: "0x00000000000000000000000000000000000000aa".into(),
            tx_hash: None,
            amount: None,
            block: None,
            top_ups: Vec::new(),
            booked: None,
            misdirected: None,
        },
        funding_ref: None,
        plan: None,
        graph: "{}".into(),
        failure_code: None,
        failure_message: None,
        returned: None,
        version: 1,
        next_at_ms: T0,
        created_at_ms: T0,
        updated_at_ms: T0,
    }
}

fn leg(exec: &str, id: &str, seq: i64, status: &str) -> RouteLegRecord {
    RouteLegRecord {
        id: id.into(),
        execution_id: exec.into(),
        seq,
        kind: RouteLegKind::DexSwap,
        venue: "uniswap-v2:eip155:31337".into(),
        from_node: "USDT@eip155:31337".into(),
        to_node: "USDC@eip155:31337".into(),
        input: "30.1".into(),
        topup: "0".into(),
        min_output: "30.01".into(),
        spec: LegSpec::Chain {
            leg: ChainLeg::Swap {
                chain: "eip155:31337".into(),
                token_in: "USDT".into(),
                token_out: "USDC".into(),
                amount_in: "30.1".parse().unwrap(),
                min_out: "30.01".parse().unwrap(),
            },
        },
        status: RouteLegStatus::parse(status).unwrap(),
        received: None,
        failure: None,
        external_ref: None,
        not_before_ms: T0,
        created_at_ms: T0,
        submitted_at_ms: None,
        finished_at_ms: None,
        tx_hash: None,
        block_number: None,
    }
}

async fn route_store_conformance(db: Db) {
    let (store, _keep) = fresh_store(db).await;
    let store: &dyn Store = store.as_ref();
    let pi = paying_intent(store).await;
    store
        .create_quotes(&[quote(&pi, "qt_one"), quote(&pi, "qt_two")])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_quote("qt_one")
            .await
            .unwrap()
            .unwrap()
            .route
            .as_deref(),
        Some("{\"route\":1}")
    );

    // Accepting stores the execution with it, once per intent, with the request's record.
    let record = IdempotencyRecord {
        scope: "sk:test".into(),
        key: "accept-1".into(),
        request_hash: "h".into(),
        response_status: 200,
        response_body: "{\"execution\":\"rx_one\"}".into(),
        created_at_ms: T0,
    };
    let one = execution(&pi, "rx_one", "qt_one");
    assert_eq!(
        store
            .accept_and_start("qt_one", NOW_S, &one, Some(&record))
            .await
            .unwrap(),
        AcceptOutcome::Accepted
    );
    assert_eq!(
        store.get_idempotency("sk:test", "accept-1").await.unwrap(),
        Some(record)
    );
    let two = execution(&pi, "rx_two", "qt_two");
    assert_eq!(
        store
            .accept_and_start("qt_two", NOW_S, &two, None)
            .await
            .unwrap(),
        AcceptOutcome::AlreadyAccepted,
        "one accepted quote per intent"
    );
    assert!(
        store.get_execution("rx_two").await.unwrap().is_none(),
        "no execution without its acceptance"
    );
    assert_eq!(
        store
            .accept_and_start("qt_one", NOW_S, &two, None)
            .await
            .unwrap(),
        AcceptOutcome::AlreadyAccepted
    );
    assert_eq!(
        store.get_execution("rx_one").await.unwrap(),
        Some(one.clone())
    );

    // A step is a compare-and-set on the version, with its legs and postings.
    let mut stepped = one.clone();
    stepped.version = 2;
    stepped.status = ExecutionStatus::Running;
    stepped.funding_ref = Some("eip155:31337:0xabc".into());
    let posting = Posting::for_merchant(
        pi.merchant_id,
        false,
        "route_funding",
        "rx_one",
        vec![
            Entry {
                account: PAYERS,
                asset: "eip155:31337/erc20:0x1".into(),
                amount: Decimal::new(-301, 1),
            },
            Entry {
                account: rialto_gateway::ledger::Account::Routing,
                asset: "eip155:31337/erc20:0x1".into(),
                amount: Decimal::new(301, 1),
            },
        ],
        T0,
    )
    .unwrap();
    let first = leg("rx_one", "leg_a", 1, "created");
    assert_eq!(
        store
            .save_execution_step(
                &stepped,
                7,
                std::slice::from_ref(&first),
                None,
                std::slice::from_ref(&posting)
            )
            .await
            .unwrap(),
        CasOutcome::Conflict,
        "a stale version changes nothing"
    );
    assert!(store.route_legs("rx_one").await.unwrap().is_empty());
    assert_eq!(
        store
            .save_execution_step(&stepped, 1, std::slice::from_ref(&first), None, &[posting])
            .await
            .unwrap(),
        CasOutcome::Updated
    );
    assert_eq!(
        store.route_legs("rx_one").await.unwrap(),
        vec![first.clone()]
    );
    let books = store.all_postings().await.unwrap();
    assert!(books
        .iter()
        .any(|p| p.kind == "route_funding" && p.reference == "rx_one"));
    // The leg moves on; a second leg is added after it.
    let mut sent = first.clone();
    sent.status = RouteLegStatus::Submitted;
    sent.submitted_at_ms = Some(T0 + 5);
    sent.external_ref = Some("ord-1".into());
    let second = leg("rx_one", "leg_b", 2, "created");
    let mut again = stepped.clone();
    again.version = 3;
    assert_eq!(
        store
            .save_execution_step(&again, 2, &[sent.clone(), second.clone()], None, &[])
            .await
            .unwrap(),
        CasOutcome::Updated
    );
    assert_eq!(
        store.route_legs("rx_one").await.unwrap(),
        vec![sent.clone(), second.clone()]
    );
    // Reconciliation reads confirmed legs with their transaction, and bound fundings.
    assert!(store
        .confirmed_route_legs_page(None, 10)
        .await
        .unwrap()
        .is_empty());
    let mut landed = sent.clone();
    landed.status = RouteLegStatus::Confirmed;
    landed.received = Some("30.02".into());
    landed.tx_hash = Some("0xfeed".into());
    landed.block_number = Some(12);
    landed.finished_at_ms = Some(T0 + 9);
    let mut third = again.clone();
    third.version = 4;
    assert_eq!(
        store
            .save_execution_step(&third, 3, std::slice::from_ref(&landed), None, &[])
            .await
            .unwrap(),
        CasOutcome::Updated
    );
    let page = store.confirmed_route_legs_page(None, 10).await.unwrap();
    assert_eq!(page.len(), 1, "only the confirmed leg with a transaction");
    assert_eq!(page[0].leg, landed);
    assert_eq!(page[0].merchant_id, pi.merchant_id.to_string());
    assert!(!page[0].livemode);
    assert!(store
        .confirmed_route_legs_page(Some("leg_a"), 10)
        .await
        .unwrap()
        .is_empty());
    let funded = store.funded_executions_page(None, 10).await.unwrap();
    assert_eq!(
        funded.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["rx_one"]
    );
    assert_eq!(funded[0].funding, stepped.funding);
    assert!(store
        .funded_executions_page(Some("rx_one"), 10)
        .await
        .unwrap()
        .is_empty());

    // A funding transaction binds one execution only.
    store.release_quote("qt_one").await.unwrap();
    assert_eq!(
        store
            .accept_and_start("qt_two", NOW_S, &two, None)
            .await
            .unwrap(),
        AcceptOutcome::Accepted,
        "a released quote frees its intent"
    );
    let mut thief = two.clone();
    thief.version = 2;
    thief.funding_ref = Some("eip155:31337:0xabc".into());
    assert_eq!(
        store
            .save_execution_step(&thief, 1, &[], None, &[])
            .await
            .unwrap(),
        CasOutcome::Conflict
    );
    assert_eq!(
        store
            .get_execution("rx_two")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert_eq!(store.executions_of(&pi.id).await.unwrap().len(), 2);

    // So does a top-up of a short funding (each transfer of a funding is bound): one bound as
    // another execution's first transfer is refused, a new one is taken, and that one is then
    // refused to the other execution.
    let wallet = |first: &str, top_ups: &[&str]| Funding::Wallet {
        chain: "eip155:31337".into(),
        asset: "USDT".into(),
        payer: "0x00000000000000000000000000000000000000aa".into(),
        tx_hash: Some(first.into()),
        amount: Some(Decimal::new(30, 0)),
        block: Some(1),
        top_ups: top_ups
            .iter()
            .map(|h| rialto_gateway::routing::start::TopUp {
                tx_hash: (*h).into(),
                amount: Decimal::ONE,
                block: Some(2),
            })
            .collect(),
        booked: None,
        misdirected: None,
    };
    let mut topped = two.clone();
    topped.version = 2;
    topped.funding_ref = Some("eip155:31337:0xdef".into());
    topped.funding = wallet("0xdef", &["0xABC"]);
    let save = |e: RouteExecution, expected: i64| async move {
        store
            .save_execution_step(&e, expected, &[], None, &[])
            .await
            .unwrap()
    };
    assert_eq!(save(topped.clone(), 1).await, CasOutcome::Conflict);
    topped.funding = wallet("0xdef", &["0x123"]);
    assert_eq!(save(topped.clone(), 1).await, CasOutcome::Updated);
    let mut one_now = store.get_execution("rx_one").await.unwrap().unwrap();
    let expected = one_now.version;
    one_now.version += 1;
    one_now.status = ExecutionStatus::AwaitingFunds;
    one_now.funding = wallet("0xabc", &["0x123"]);
    assert_eq!(save(one_now.clone(), expected).await, CasOutcome::Conflict);
    one_now.funding = wallet("0xabc", &["0x456"]);
    assert_eq!(save(one_now, expected).await, CasOutcome::Updated);

    // Due work, claimed by one holder at a time and released only by it.
    let due = store
        .due_executions(
            &[ExecutionStatus::Running, ExecutionStatus::AwaitingFunds],
            T0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(due.len(), 2);
    assert!(store
        .claim_execution("rx_one", T0, T0 + 30_000)
        .await
        .unwrap());
    assert!(!store
        .claim_execution("rx_one", T0 + 1, T0 + 30_001)
        .await
        .unwrap());
    let due = store
        .due_executions(&[ExecutionStatus::Running], T0 + 1, 10)
        .await
        .unwrap();
    assert!(due.is_empty(), "a claimed execution is not due elsewhere");
    store.release_execution("rx_one", T0 + 99).await.unwrap();
    assert!(
        !store
            .claim_execution("rx_one", T0 + 2, T0 + 30_002)
            .await
            .unwrap(),
        "released only by its holder"
    );
    store
        .release_execution("rx_one", T0 + 30_000)
        .await
        .unwrap();
    assert!(store
        .claim_execution("rx_one", T0 + 3, T0 + 30_003)
        .await
        .unwrap());

    // The operators' list: by status whatever the schedule or claim, newest id first, paged.
    let both = [ExecutionStatus::Running, ExecutionStatus::AwaitingFunds];
    let ids = |rows: Vec<RouteExecution>| rows.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let listed = store.executions_in(&both, None, 10).await.unwrap();
    assert_eq!(ids(listed), ["rx_two", "rx_one"]);
    let first = store.executions_in(&both, None, 1).await.unwrap();
    assert_eq!(ids(first), ["rx_two"]);
    let after = store
        .executions_in(&both, Some("rx_two"), 10)
        .await
        .unwrap();
    assert_eq!(ids(after), ["rx_one"]);
    let waiting = store
        .executions_in(&[ExecutionStatus::AwaitingReconciliation], None, 10)
        .await
        .unwrap();
    assert!(waiting.is_empty());
}

#[tokio::test]
async fn route_executions_are_stored_alike_on_sqlite() {
    route_store_conformance(Db::Sqlite).await;
}

#[tokio::test]
async fn route_executions_are_stored_alike_on_postgres() {
    route_store_conformance(Db::Postgres).await;
}
