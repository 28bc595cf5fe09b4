//! SIGKILL chaos on PostgreSQL with two gateways: two `rialto serve` processes (each its own
//! port) on one throwaway PostgreSQL database and one local devnet. Traffic goes through both,
//! alternating: wallet payments into deposit addresses (USDC on devnet-base) with a partial
//! refund each, routed payments (USDT on devnet-ethereum, swapped, bridged, settled in USDC on
//! devnet-base), batched payouts crossing their threshold, and webhook deliveries of every
//! event to a local receiver. Meanwhile a seeded killer SIGKILLs either instance at random
//! points and restarts it.
//!
//! Afterwards:
//! - every payment finished: each intent `succeeded`, each route execution ended (paid ones
//!   `succeeded` leg by leg), each refund `succeeded`, each payout `paid`;
//! - nothing was sent twice, counted on chain: one swap, bridge delivery, mint and settlement
//!   per confirmed leg; the treasury's USDC transfers on devnet-base are exactly the route
//!   settlements, the refunds and the payouts (one each, to the payers and the payout address
//!   respectively), every one of them a transaction the store recorded, one per
//!   (purpose, reference);
//! - webhooks, counted at the receiver by `webhook-id` (the event id): every event dispatched
//!   to the endpoint arrived with a valid signature and was marked delivered. Standard Webhooks
//!   is at-least-once, so a redelivery is only "sent twice" when nothing explains it: a second
//!   arrival of a `webhook-id` is allowed only when a SIGKILL fell between the first arrival
//!   and it, and it came no sooner than the delivery lease allows (the sender died before
//!   recording the attempt; another took the delivery over once the 60 s lease ran out, so at
//!   least [`redelivery_floor`] later), with the same body. The receiver always answers 200, so
//!   no other retry is due. Two instances racing for one delivery arrive within a second of
//!   each other, and fail the test;
//! - the ledger balances (every transaction, every account), `rialto:routing` nets to zero,
//!   and a reconciliation run reports no exception.
//!
//! The database comes from `RIALTO_TEST_PG_URL` (exported by `tools/pg.sh`, which
//! `tools/test.sh` starts); without it the test prints why and passes without running.
//! `RIALTO_CHAOS_SEED=<n>` (decimal or `0x` hex) replays a run's kill schedule; the seed in use
//! is printed first. `RIALTO_CHAOS_LOG_DIR=<dir>` keeps both gateways' logs there.

mod common;

use common::chaos::{self, Api, Chaos, Gateway, Rng};
use common::chaos_routes::{
    check_reconciliation, check_route_store, check_routing_ledger, logs, pay_intent, wait_ended,
    wait_for_swap, wait_succeeded, wire, Funded, RouteChains,
};
use common::{fresh_database, Db};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address as WireAddress, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::Row;

/// The default seed; `RIALTO_CHAOS_SEED` replaces it.
const SEED: u64 = 0x5eed_2028;
/// Payments keep starting while the killer runs: at least the first number, at most the
/// second, per wallet payer (payers 0 and 1 on devnet-base pay at the same time) and for the
/// routed payer stream.
const WALLET_PAYMENTS: (usize, usize) = (4, 12);
const ROUTED_PAYMENTS: (usize, usize) = (4, 12);
const RECEIVER_PAUSE_MS: u64 = 1500;

/// How long everything may take to end once the kills are over. A delivery in flight when its
/// sender died is retried when its lease (60 s) runs out.
const SETTLE: Duration = Duration::from_secs(150);

fn seed() -> u64 {
    match std::env::var("RIALTO_CHAOS_SEED") {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("RIALTO_CHAOS_SEED={text} is not a u64"))
        }
        Err(_) => SEED,
    }
}

/// The soonest a delivery may arrive again after its sender was killed: the delivery lease
/// `rialto serve` uses (60 s) less the request timeout (10 s) the first arrival may have come
/// late by, less 5 s of slack.
fn redelivery_floor() -> Duration {
    let config = rialto_gateway::webhooks::DeliveryConfig::default();
    config.lease - config.timeout - Duration::from_secs(5)
}

/// One arrival at the webhook receiver.
struct Arrival {
    id: String,
    at: Instant,
    signed: bool,
    body: String,
}

/// The webhook receiver: records every arrival, then answers 200 after a seeded pause (up to
/// [`RECEIVER_PAUSE_MS`]), so deliveries stay in flight long enough for a second sender to
/// race for them, and for kills to land mid-delivery.
#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Vec<Arrival>>>,
    secret: Arc<Mutex<String>>,
    pauses: Arc<Mutex<Rng>>,
}

impl Receiver {
    fn new(seed: u64) -> Self {
        Receiver {
            seen: Arc::default(),
            secret: Arc::default(),
            pauses: Arc::new(Mutex::new(Rng(seed ^ 0x0ece_1e5e))),
        }
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = header("webhook-id");
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(0);
    let secret = r.secret.lock().unwrap().clone();
    let expected = rialto_gateway::webhooks::sign(&secret, &id, timestamp, body.as_bytes());
    r.seen.lock().unwrap().push(Arrival {
        id,
        at: Instant::now(),
        signed: expected.is_ok_and(|e| header("webhook-signature") == e),
        body,
    });
    let pause = r.pauses.lock().unwrap().below(RECEIVER_PAUSE_MS);
    tokio::time::sleep(Duration::from_millis(pause)).await;
    StatusCode::OK
}

async fn start_receiver(receiver: Receiver) -> String {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The seeded kill schedule: how many kills, and before each the gap (ms) and the instance.
fn schedule(seed: u64, instances: usize) -> Vec<(u64, usize)> {
    let mut rng = Rng(seed);
    let kills = 12 + rng.below(7);
    (0..kills)
        .map(|_| (300 + rng.below(2200), rng.below(instances as u64) as usize))
        .collect()
}

/// Runs the kill schedule (SIGKILL the instance, start it again at once), then sets `done`.
/// Answers when each kill happened and which instance it hit.
fn spawn_killer(
    gateways: Vec<Arc<Mutex<Gateway>>>,
    schedule: Vec<(u64, usize)>,
    done: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(Instant, usize)>> {
    tokio::spawn(async move {
        let mut kills = Vec::new();
        for (gap, victim) in schedule {
            tokio::time::sleep(Duration::from_millis(gap)).await;
            let mut g = gateways[victim].lock().unwrap();
            g.kill();
            kills.push((Instant::now(), victim));
            g.start();
        }
        done.store(true, Ordering::SeqCst);
        kills
    })
}

/// Whether a traffic stream starts payment `round`: always below the minimum, never at the
/// maximum, else while the killer is still at work.
fn go_on(round: usize, (min, max): (usize, usize), done: &AtomicBool) -> bool {
    round < min || (round < max && !done.load(Ordering::SeqCst))
}

/// Wallet payments into deposit addresses, each paid by payer `p` on devnet-base and partly
/// refunded, every step through the instance its turn names. Answers the intents and the
/// refunds made (a payout may have taken the balance first: then there is none to refund).
async fn wallet_payments(
    apis: &[Api],
    base: &ChainManifest,
    p: usize,
    done: &AtomicBool,
) -> (Vec<String>, Vec<String>) {
    let payer: PrivateKeySigner = base.payers[p].private_key.expose_secret().parse().unwrap();
    let wallet = ProviderBuilder::new()
        .wallet(payer)
        .connect(&base.rpc_url)
        .await
        .unwrap()
        .erased();
    let usdc = to_wire(&base.tokens["USDC"].address).unwrap();
    let (mut intents, mut refunds) = (Vec::new(), Vec::new());
    let mut round = 0;
    while go_on(round, WALLET_PAYMENTS, done) {
        round += 1;
        let api = |step: usize| &apis[(round + p + step) % apis.len()];
        let (status, paying) = api(0)
            .post_settled(
                "/v1/payment_intents",
                &json!({"amount": "15.00", "currency": "usd",
                        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": chaos::MERCHANT}}),
                &format!("wallet-intent-{p}-{round}"),
            )
            .await;
        assert_eq!(status, 200, "{paying}");
        let id = paying["id"].as_str().unwrap().to_owned();
        let (status, deposit) = api(1)
            .post_settled(
                &format!("/v1/payment_intents/{id}/deposit_address"),
                &json!({}),
                &format!("wallet-deposit-{p}-{round}"),
            )
            .await;
        assert_eq!(status, 200, "{deposit}");
        let to = deposit["address"].as_str().unwrap();
        IERC20::new(usdc, &wallet)
            .transfer(to.parse().unwrap(), U256::from(15_000_000u64))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        // The killer is still running: each SIGKILL of the gateway sweeping or settling this
        // payment costs a restart and a lease take-over, so allow what the end of the run allows.
        wait_succeeded(api(0), &[id.as_str()], SETTLE).await;
        intents.push(id.clone());
        let (status, refund) = api(1)
            .post_settled(
                "/v1/refunds",
                &json!({"payment_intent": id, "amount": "2.50"}),
                &format!("wallet-refund-{p}-{round}"),
            )
            .await;
        // A payout may have taken the balance first: then the refund waits for the merchant
        // to fund it (`requires_funding`), moves nothing, and is not followed here.
        assert_eq!(status, 200, "{refund}");
        if refund["status"] != "requires_funding" {
            refunds.push(refund["id"].as_str().unwrap().to_owned());
        }
    }
    (intents, refunds)
}

/// Routed payments, one after the other (each waits for its swap: the next quote is priced on
/// the pool after it), through alternating instances.
async fn routed_payments(
    apis: &[Api],
    chains: &RouteChains,
    done: &AtomicBool,
) -> (Vec<(String, String, Decimal)>, Vec<Funded>) {
    let (mut paid, mut funded) = (Vec::new(), Vec::new());
    let mut i = 0;
    while go_on(i, ROUTED_PAYMENTS, done) {
        let api = &apis[i % apis.len()];
        let (intent, exec, amount) = pay_intent(
            api,
            &chains.other,
            &chains.wallets,
            i,
            &mut funded,
            &mut None,
        )
        .await;
        wait_for_swap(&apis[(i + 1) % apis.len()], &exec).await;
        paid.push((intent, exec, amount));
        i += 1;
    }
    (paid, funded)
}

/// The events dispatched to the endpoint (every event made after it was created), and whether
/// each delivery row says it was delivered.
async fn dispatched_events(pool: &sqlx::AnyPool, endpoint: &str) -> BTreeMap<String, String> {
    let rows = sqlx::query(
        "SELECT e.id AS id, d.status AS status FROM events e JOIN webhook_endpoints w ON \
         e.created_at >= w.created_at LEFT JOIN webhook_deliveries d ON d.event_id = e.id AND \
         d.endpoint_id = w.id WHERE w.id = $1",
    )
    .bind(endpoint.to_owned())
    .fetch_all(pool)
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            let status: Option<String> = r.get("status");
            (r.get("id"), status.unwrap_or_else(|| "undispatched".into()))
        })
        .collect()
}

/// Waits until every event dispatched to the endpoint was delivered and arrived.
async fn wait_webhooks(url: &str, endpoint: &str, receiver: &Receiver) -> BTreeMap<String, String> {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let started = Instant::now();
    loop {
        let events = dispatched_events(&pool, endpoint).await;
        let arrived: BTreeSet<String> = receiver
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.id.clone())
            .collect();
        let missing: Vec<(&String, &String)> = events
            .iter()
            .filter(|(id, status)| *status != "succeeded" || !arrived.contains(*id))
            .collect();
        if missing.is_empty() {
            pool.close().await;
            return events;
        }
        assert!(
            started.elapsed() < SETTLE,
            "webhooks not delivered (event, delivery status): {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every event arrived, signed; a `webhook-id` arrived again only across a kill, with the same
/// body. Answers (arrivals, redeliveries).
fn check_webhooks(
    events: &BTreeMap<String, String>,
    receiver: &Receiver,
    kills: &[(Instant, usize)],
) -> (usize, usize) {
    let seen = receiver.seen.lock().unwrap();
    let mut by_id: BTreeMap<&str, Vec<&Arrival>> = BTreeMap::new();
    for a in seen.iter() {
        assert!(a.signed, "webhook {} arrived with a bad signature", a.id);
        by_id.entry(a.id.as_str()).or_default().push(a);
    }
    for id in events.keys() {
        assert!(by_id.contains_key(id.as_str()), "event {id} never arrived");
    }
    let mut redeliveries = 0;
    for (id, arrivals) in &by_id {
        assert!(
            events.contains_key(*id),
            "{id} arrived but is no dispatched event"
        );
        for pair in arrivals.windows(2) {
            let (first, again) = (pair[0], pair[1]);
            assert_eq!(
                first.body, again.body,
                "{id} arrived twice with other bodies"
            );
            assert!(
                kills.iter().any(|(at, _)| *at > first.at && *at < again.at),
                "{id} was sent twice with no kill between: two senders raced for one delivery"
            );
            assert!(
                again.at - first.at >= redelivery_floor(),
                "{id} was sent again {:?} after it arrived, inside its sender's lease",
                again.at - first.at
            );
            redeliveries += 1;
        }
    }
    (seen.len(), redeliveries)
}

/// The treasury's USDC transfers on devnet-base since `from`: exactly the route settlements,
/// refunds and payouts, each a transaction the store recorded (one per purpose and
/// reference), the refunds to the payers and the payouts to the payout address.
async fn check_treasury(
    url: &str,
    base: &ChainManifest,
    from: u64,
    (settlements, refunds, payouts): (usize, usize, usize),
    payout_to: WireAddress,
) {
    let node = ProviderBuilder::new()
        .connect(&base.rpc_url)
        .await
        .unwrap()
        .erased();
    let hot = wire(&base.gateway_hot_wallet.address);
    let usdc = wire(&base.tokens["USDC"].address);
    let sent = node
        .get_logs(
            &Filter::new()
                .address(usdc)
                .event("Transfer(address,address,uint256)")
                .topic1(hot.into_word())
                .from_block(from),
        )
        .await
        .unwrap();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let mut purposes = BTreeMap::<String, usize>::new();
    for log in &sent {
        let tx = format!("{:#x}", log.transaction_hash.unwrap());
        let row =
            sqlx::query("SELECT purpose, status FROM chain_transfers WHERE lower(tx_hash) = $1")
                .bind(tx.clone())
                .fetch_optional(&pool)
                .await
                .unwrap()
                .unwrap_or_else(|| {
                    panic!("treasury transfer {tx} is no transfer the gateway recorded")
                });
        assert_eq!(row.get::<String, _>("status"), "confirmed", "{tx}");
        *purposes.entry(row.get("purpose")).or_default() += 1;
    }
    pool.close().await;
    eprintln!("chaos_pg: treasury USDC transfers by purpose {purposes:?}");
    let n = |p: &str| purposes.get(p).copied().unwrap_or(0);
    assert_eq!(n("refund"), refunds, "refunds sent");
    assert_eq!(n("payout"), payouts, "payouts sent");
    assert_eq!(sent.len(), settlements + refunds + payouts, "{purposes:?}");
    let to = |addr: WireAddress| common::chaos_routes::transfer_logs(usdc, hot, addr, from);
    let mut refunded = 0;
    for payer in &base.payers[..2] {
        refunded += logs(&node, to(wire(&payer.address))).await;
    }
    assert_eq!(refunded, refunds, "refunds to the payers");
    assert_eq!(logs(&node, to(payout_to)).await, payouts, "payouts");
}

/// Refunds and payouts in the store: each ended well, with exactly one leg.
async fn check_money_store(url: &str, refunds: &[String], payouts: &[Value]) {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    for re in refunds {
        let row = sqlx::query("SELECT status FROM refunds WHERE id = $1")
            .bind(re.clone())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>("status"), "succeeded", "{re}");
    }
    for p in payouts {
        assert_eq!(p["status"], "paid", "{p}");
    }
    let legs = sqlx::query(
        "SELECT COUNT(*) AS n FROM chain_transfers WHERE purpose IN ('refund', 'payout')",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .get::<i64, _>("n");
    assert_eq!(
        usize::try_from(legs).unwrap(),
        refunds.len() + payouts.len(),
        "one leg per refund and payout"
    );
    pool.close().await;
}

/// Creates the webhook endpoint for every event and the batched payout settings; answers the
/// endpoint's id.
async fn configure(api: &Api, hook_url: &str, receiver: &Receiver, payout_to: &str) -> String {
    let (status, endpoint) = api
        .post_settled(
            "/v1/webhook_endpoints",
            &json!({"url": hook_url, "enabled_events": ["*"]}),
            "endpoint",
        )
        .await;
    assert_eq!(status, 200, "{endpoint}");
    *receiver.secret.lock().unwrap() = endpoint["secret"].as_str().unwrap().to_owned();
    let (status, answer) = api
        .post_settled(
            "/v1/settings",
            &json!({"settlement_schedule": "batched", "payout_threshold": "45",
                    "payout_addresses": {"devnet-base": payout_to}}),
            "settings",
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    endpoint["id"].as_str().unwrap().to_owned()
}

/// Two instances on one fresh PostgreSQL database and one devnet, both started, with the
/// webhook endpoint and batched payouts configured.
struct TwoGateways {
    devnet: rialto_evm::Devnet,
    /// Holds the devnet manifest and the logs.
    _dir: tempfile::TempDir,
    url: String,
    apis: [Api; 2],
    gateways: [Arc<Mutex<Gateway>>; 2],
    base: ChainManifest,
    chains: RouteChains,
    payout_to: String,
    receiver: Receiver,
    endpoint: String,
}

async fn two_gateways(seed: u64) -> TwoGateways {
    let (url, _) = fresh_database(Db::Postgres).await;
    let log_dir = std::env::var_os("RIALTO_CHAOS_LOG_DIR").map(PathBuf::from);
    let log = |name: &str| log_dir.as_ref().map(|d| d.join(name));
    let Chaos {
        devnet,
        dir,
        url,
        created: _,
        gateway,
        api,
    } = chaos::start_on("Two Gateway Shop", log("gateway-a.log"), Some(url)).await;
    let (second, api_b) = gateway.another(
        &api.sk,
        log("gateway-b.log").unwrap_or_else(|| dir.path().join("gateway-b.log")),
    );
    let apis = [api, api_b];
    let gateways = [gateway, second].map(|g| Arc::new(Mutex::new(g)));
    for g in &gateways {
        g.lock().unwrap().start();
    }
    let base = devnet.manifest().chain("devnet-base").unwrap().clone();
    let other = devnet.manifest().chain("devnet-ethereum").unwrap().clone();
    let chains = RouteChains::observe(&base, &other).await;
    // Not the merchant's settlement address: its transfers count the route settlements.
    let payout_to = base.payers[2].address.to_string();
    let receiver = Receiver::new(seed);
    let hook_url = start_receiver(receiver.clone()).await;
    let endpoint = configure(&apis[1], &hook_url, &receiver, &payout_to).await;
    TwoGateways {
        devnet,
        _dir: dir,
        url,
        apis,
        gateways,
        base,
        chains,
        payout_to,
        receiver,
        endpoint,
    }
}

/// What the traffic made, and the kills it ran through.
struct Traffic {
    intents: Vec<String>,
    refunds: Vec<String>,
    paid: Vec<(String, String, Decimal)>,
    funded: Vec<Funded>,
    kills: Vec<(Instant, usize)>,
}

/// Runs the seeded kill schedule while two wallet payers and one routed payer pay through both
/// instances.
async fn traffic(t: &TwoGateways, seed: u64) -> Traffic {
    let schedule = schedule(seed, t.gateways.len());
    eprintln!("chaos_pg: kill schedule (gap ms, instance) {schedule:?}");
    let done = Arc::new(AtomicBool::new(false));
    let killer = spawn_killer(t.gateways.to_vec(), schedule, done.clone());
    let started = Instant::now();
    let ((mut intents, mut refunds), (more_intents, more_refunds), (paid, funded)) = tokio::join!(
        wallet_payments(&t.apis, &t.base, 0, &done),
        wallet_payments(&t.apis, &t.base, 1, &done),
        routed_payments(&t.apis, &t.chains, &done)
    );
    intents.extend(more_intents);
    refunds.extend(more_refunds);
    let kills = killer.await.unwrap();
    let victims: Vec<usize> = kills.iter().map(|(_, v)| *v).collect();
    eprintln!(
        "chaos_pg: traffic took {:?}: {} wallet payments, {} refunds, {} routed payments \
         ({} transfers); {} SIGKILLs on instances {victims:?}",
        started.elapsed(),
        intents.len(),
        refunds.len(),
        paid.len(),
        funded.len(),
        kills.len()
    );
    Traffic {
        intents,
        refunds,
        paid,
        funded,
        kills,
    }
}

#[tokio::test]
async fn two_gateways_on_one_postgres_survive_sigkills_without_sending_anything_twice() {
    if std::env::var_os("RIALTO_TEST_PG_URL").is_none() {
        eprintln!(
            "chaos_pg: SKIPPED: RIALTO_TEST_PG_URL is not set (run under tools/test.sh, or \
             `source tools/pg.sh; pg_start` first)"
        );
        return;
    }
    let test_started = Instant::now();
    let seed = seed();
    eprintln!("chaos_pg: seed {seed:#x} (replay with RIALTO_CHAOS_SEED={seed:#x})");
    let t = two_gateways(seed).await;
    let Traffic {
        intents,
        refunds,
        paid,
        funded,
        kills,
    } = traffic(&t, seed).await;

    // Everything ends.
    let calm = Instant::now();
    let ended = wait_ended(&t.apis[0], &funded, SETTLE).await;
    let mut all: Vec<&str> = intents.iter().map(String::as_str).collect();
    all.extend(paid.iter().map(|(i, _, _)| i.as_str()));
    wait_succeeded(&t.apis[1], &all, Duration::from_secs(60)).await;
    let payouts = t.apis[0].wait_money_ended(&refunds, SETTLE).await;
    let events = wait_webhooks(&t.url, &t.endpoint, &t.receiver).await;
    eprintln!(
        "chaos_pg: everything ended {:?} after the last kill",
        calm.elapsed()
    );
    for g in &t.gateways {
        g.lock().unwrap().kill();
    }
    assert!(
        !payouts.is_empty(),
        "the threshold was crossed: a payout exists"
    );
    assert!(!refunds.is_empty(), "some refunds were made");

    let counts = t.chains.check_executions(&paid, &funded, &ended);
    t.chains.check_chains(&counts, &funded).await;
    check_route_store(&t.url, &funded, &t.chains.other, counts.n("dex_swap")).await;
    check_money_store(&t.url, &refunds, &payouts).await;
    let sent = (counts.n("settlement"), refunds.len(), payouts.len());
    let payout_to = t.payout_to.parse().unwrap();
    check_treasury(&t.url, &t.base, t.chains.base_from, sent, payout_to).await;
    let (arrivals, redeliveries) = check_webhooks(&events, &t.receiver, &kills);
    check_routing_ledger(&t.url).await;
    let manifest = t.gateways[0].lock().unwrap().manifest.clone();
    let run = check_reconciliation(&t.url, &manifest, 7 * funded.len() as u64);
    eprintln!(
        "chaos_pg: {} events, {arrivals} webhook arrivals ({redeliveries} redelivered across a \
         kill), {} payouts, reconciliation matched {}; {:?} in all",
        events.len(),
        payouts.len(),
        run["matched"],
        test_started.elapsed()
    );
    drop(t.devnet);
}
