//! Money held by Rialto on Solana: per-intent deposit wallets on the devnet's Solana simnet,
//! swept with the gateway's hot wallet as fee payer (the deposit wallet never holds SOL); the
//! merchant's payment policy (a top-up, an over-payment's surplus, a late payment); refunds from
//! the treasury to the payer's wallet; a batched payout. Base units exact, books balanced, and a
//! reconciliation run over the chain clean after a sweep, a refund and a payout.
//!
//! The simnet comes from `SOLANA_SIMNET_BIN` (set by tools/test.sh) or the workspace's build.

mod common;
mod solana_support;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::devnet::settings;
use common::{assert_ledger_balanced, TestApp};
use rialto_core::payment_uri::solana_pay::SolanaPayRequest;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::store::chain::ChainStore;
use rialto_solana::devnet::manifest::devnet_keypair;
use rialto_solana::devnet::SolanaDevnet;
use rialto_solana::sdk::{Keypair, Pubkey, Signer};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use solana_support::{reconcile, setup, setup_clocked, Setup};

/// Where the devnet's chain books its native coin: SOL, SLIP-44 501, in lamports' 9 decimals.
const SOL: &str = "solana:rialto-devnet-simnet/slip44:501";

async fn intent(app: &TestApp, amount: &str, merchant: &Pubkey) -> Value {
    app.create_intent(json!({"amount": amount, "currency": "usd", "expires_in": 60,
        "settlement": {"asset": "usdc", "chain": "devnet-solana", "address": merchant.to_string()}}))
        .await
}

fn id(value: &Value) -> &str {
    value["id"].as_str().unwrap()
}

/// `POST /v1/payment_intents/{id}/deposit_address`: the deposit wallet, checked against its
/// Solana Pay URL (recipient, amount and mint of the intent).
async fn deposit_wallet(app: &TestApp, devnet: &SolanaDevnet, intent: &Value) -> Pubkey {
    let answer: Value = app
        .post(
            &format!("/v1/payment_intents/{}/deposit_address", id(intent)),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let address = answer["address"].as_str().expect("a deposit address");
    assert_eq!(answer["chain"], "solana:rialto-devnet-simnet", "{answer}");
    let url = answer["uri"].as_str().unwrap();
    let SolanaPayRequest::Transfer(request) = SolanaPayRequest::parse(url).unwrap() else {
        panic!("a transfer request: {url}");
    };
    assert_eq!(request.recipient.to_string(), address);
    assert_eq!(
        request.spl_token.unwrap().to_string(),
        devnet.usdc.mint.to_string()
    );
    assert_eq!(
        Some(request.amount.unwrap()),
        intent["amount"].as_str().unwrap().parse::<Decimal>().ok()
    );
    Pubkey::from_str(address).unwrap()
}

async fn usdc(devnet: &SolanaDevnet, owner: &Pubkey) -> u64 {
    devnet.token_balance(owner, &devnet.usdc).await.unwrap()
}

async fn lamports(devnet: &SolanaDevnet, owner: &Pubkey) -> u64 {
    devnet.rpc().get_balance(owner).await.unwrap()
}

async fn pay(devnet: &SolanaDevnet, payer: &Keypair, to: &Pubkey, units: u64) {
    devnet.pay(payer, to, &devnet.usdc, units).await.unwrap();
}

/// Polls `path` until `check` holds on it; 60 s at most.
async fn wait_until(app: &TestApp, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let value = app.get_json(path).await;
        if check(&value) {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{path} stuck: {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The intent's refunds once `count` of them succeeded.
async fn refunds_done(app: &TestApp, intent: &Value, count: usize) -> Vec<Value> {
    let path = format!("/v1/refunds?payment_intent={}", id(intent));
    let list = wait_until(app, &path, |list| {
        let data = list["data"].as_array().cloned().unwrap_or_default();
        data.len() == count && data.iter().all(|r| r["status"] == "succeeded")
    })
    .await;
    list["data"].as_array().unwrap().clone()
}

/// What the ledger booked as the network fee of leg `leg_id`: `(asset, amount)` of its debit.
async fn booked_fee(app: &TestApp, leg_id: &str) -> Vec<(String, Decimal)> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let rows = sqlx::query(
        "SELECT e.asset, e.amount FROM ledger_entries e JOIN ledger_transactions t \
         ON t.id = e.transaction_id WHERE t.kind = 'network_fee' AND t.reference = $1",
    )
    .bind(leg_id.to_owned())
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| {
            let amount: Decimal = r.get::<String, _>("amount").parse().unwrap();
            (r.get::<String, _>("asset"), amount.abs())
        })
        .collect()
}

/// A reconciliation run over the Solana chain finds every recorded transfer on chain and
/// nothing else: no exception, and everything it expected matched.
async fn reconciles_clean(app: &TestApp) {
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "{run}");
    let counts = &run["counts"];
    assert!(counts["expected"].as_u64().unwrap() > 0, "{run}");
    assert_eq!(counts["matched"], counts["expected"], "{run}");
}

fn hot_wallet() -> Pubkey {
    devnet_keypair("gateway hot wallet").pubkey()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_wallet_payment_pays_the_merchant_exactly_and_the_deposit_wallet_never_holds_sol()
{
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new().pubkey();
    let payer = devnet_keypair("payer 1");
    let paying = intent(app, "25.00", &merchant).await;
    let deposit = deposit_wallet(app, devnet, &paying).await;
    let other = deposit_wallet(app, devnet, &intent(app, "25.00", &merchant).await).await;
    assert_ne!(deposit, other, "one wallet per intent");
    let payer_before = usdc(devnet, &payer.pubkey()).await;
    let hot_before = lamports(devnet, &hot_wallet()).await;

    pay(devnet, &payer, &deposit, 25_000_000).await;
    app.wait_status(&format!("/v1/payment_intents/{}", id(&paying)), "succeeded")
        .await;
    assert_eq!(usdc(devnet, &merchant).await, 25_000_000);
    assert_eq!(usdc(devnet, &deposit).await, 0, "swept empty");
    assert_eq!(
        payer_before - usdc(devnet, &payer.pubkey()).await,
        25_000_000
    );
    assert_eq!(
        lamports(devnet, &deposit).await,
        0,
        "the deposit wallet never held SOL: the hot wallet paid the sweep"
    );
    // The sweep's fee and the merchant's new token account's rent left the hot wallet, and
    // exactly that is booked as a network fee in SOL.
    let sweep = app
        .store
        .get_chain_transfer("sweep", id(&paying))
        .await
        .unwrap()
        .expect("a sweep leg");
    assert!(
        app.store
            .get_chain_transfer("sweep_gas", id(&paying))
            .await
            .unwrap()
            .is_none(),
        "no gas was sent to the deposit wallet"
    );
    let spent = hot_before - lamports(devnet, &hot_wallet()).await;
    assert_eq!(sweep.fee_units, Some(u128::from(spent)));
    assert!(
        spent > 2_039_280,
        "rent of the token account and the fee: {spent}"
    );
    assert_eq!(
        booked_fee(app, &sweep.draft.leg_id).await,
        vec![
            (
                SOL.to_owned(),
                Decimal::new(i64::try_from(spent).unwrap(), 9)
            ),
            (
                SOL.to_owned(),
                Decimal::new(i64::try_from(spent).unwrap(), 9)
            )
        ]
    );
    assert_ledger_balanced(app).await;
    reconciles_clean(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_underpayment_waits_for_a_top_up_and_then_pays_the_merchant_exactly() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new().pubkey();
    let payer = devnet_keypair("payer 2");
    let paying = intent(app, "25.00", &merchant).await;
    let deposit = deposit_wallet(app, devnet, &paying).await;
    let path = format!("/v1/payment_intents/{}", id(&paying));

    pay(devnet, &payer, &deposit, 10_000_000).await;
    let waiting = wait_until(app, &path, |i| {
        i["payment_detail"]["resolution"] == "awaiting_top_up"
    })
    .await;
    assert_eq!(waiting["status"], "awaiting_funds");
    assert_eq!(waiting["payment_detail"]["received"], "10");
    assert_eq!(usdc(devnet, &merchant).await, 0, "nothing moved yet");

    pay(devnet, &payer, &deposit, 15_000_000).await;
    app.wait_status(&path, "succeeded").await;
    assert_eq!(usdc(devnet, &merchant).await, 25_000_000);
    assert_eq!(usdc(devnet, &deposit).await, 0);
    assert_eq!(lamports(devnet, &deposit).await, 0);
    assert_ledger_balanced(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overpayments_surplus_returns_to_the_payer_exactly() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    settings(app, json!({"overpaid": "refund_surplus"})).await;
    let merchant = Keypair::new().pubkey();
    let payer = devnet_keypair("payer 3");
    let paying = intent(app, "25.00", &merchant).await;
    let deposit = deposit_wallet(app, devnet, &paying).await;
    let payer_before = usdc(devnet, &payer.pubkey()).await;

    pay(devnet, &payer, &deposit, 25_750_000).await;
    app.wait_status(&format!("/v1/payment_intents/{}", id(&paying)), "succeeded")
        .await;
    let refunds = refunds_done(app, &paying, 1).await;
    assert_eq!(
        (refunds[0]["amount"].as_str(), refunds[0]["reason"].as_str()),
        (Some("0.75"), Some("overpaid"))
    );
    assert_eq!(refunds[0]["destination"], payer.pubkey().to_string());
    // The payer is out exactly the amount; the merchant got exactly the amount (paid out from
    // the treasury the surplus was swept to).
    assert_eq!(
        payer_before - usdc(devnet, &payer.pubkey()).await,
        25_000_000
    );
    wait_until(app, "/v1/payouts?limit=10", |l| {
        l["data"][0]["status"] == "paid"
    })
    .await;
    assert_eq!(usdc(devnet, &merchant).await, 25_000_000);
    assert_eq!(lamports(devnet, &deposit).await, 0);
    assert_ledger_balanced(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_after_expiry_is_refunded_to_the_payer_in_full() {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup: Setup = setup_clocked(|_| {}, Some(clock.clone() as Arc<dyn Clock>)).await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new().pubkey();
    let payer = devnet_keypair("payer 1");
    let paying = intent(app, "25.00", &merchant).await;
    let deposit = deposit_wallet(app, devnet, &paying).await;
    clock.advance_ms(61_000);
    assert_eq!(
        rialto_gateway::workers::expire_due_intents(app.store.as_ref(), clock.as_ref())
            .await
            .unwrap(),
        1
    );
    let payer_before = usdc(devnet, &payer.pubkey()).await;

    pay(devnet, &payer, &deposit, 25_000_000).await;
    let refunds = refunds_done(app, &paying, 1).await;
    assert_eq!(
        (refunds[0]["amount"].as_str(), refunds[0]["reason"].as_str()),
        (Some("25"), Some("late"))
    );
    let now = app
        .get_json(&format!("/v1/payment_intents/{}", id(&paying)))
        .await;
    assert_eq!(now["status"], "expired");
    assert_eq!(
        (
            now["payment_detail"]["type"].as_str(),
            now["payment_detail"]["resolution"].as_str()
        ),
        (Some("late"), Some("refunded"))
    );
    assert_eq!(usdc(devnet, &payer.pubkey()).await, payer_before);
    assert_eq!(usdc(devnet, &merchant).await, 0);
    assert_eq!(lamports(devnet, &deposit).await, 0);
    assert_ledger_balanced(app).await;
}

/// Batched settlement to `merchant` on the Solana chain, paid out from `threshold`.
async fn batched(app: &TestApp, merchant: &Pubkey, threshold: &str) {
    settings(
        app,
        json!({"settlement_schedule": "batched", "payout_threshold": threshold,
               "payout_addresses": {"devnet-solana": merchant.to_string()}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_settled_payment_is_refunded_from_the_treasury_to_the_payers_wallet() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new().pubkey();
    batched(app, &merchant, "1000").await;
    let payer = devnet_keypair("payer 2");
    let paying = intent(app, "25.00", &merchant).await;
    let deposit = deposit_wallet(app, devnet, &paying).await;
    pay(devnet, &payer, &deposit, 25_000_000).await;
    app.wait_status(&format!("/v1/payment_intents/{}", id(&paying)), "succeeded")
        .await;
    assert_eq!(usdc(devnet, &merchant).await, 0, "held in the treasury");
    assert_eq!(usdc(devnet, &hot_wallet()).await, 25_000_000);
    let payer_before = usdc(devnet, &payer.pubkey()).await;

    let answer = app
        .post("/v1/refunds", app.sk())
        .header("Idempotency-Key", "solana-refund-1")
        .json(&json!({"payment_intent": id(&paying), "amount": "10.50"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let refund: Value = answer.json().await.unwrap();
    assert_eq!(refund["destination"], payer.pubkey().to_string());
    let done = app
        .wait_status(&format!("/v1/refunds/{}", id(&refund)), "succeeded")
        .await;
    assert!(done["transaction_hash"].is_string(), "{done}");
    assert_eq!(
        usdc(devnet, &payer.pubkey()).await - payer_before,
        10_500_000
    );
    assert_eq!(usdc(devnet, &hot_wallet()).await, 14_500_000);
    let leg = app
        .store
        .get_chain_transfer("refund", id(&refund))
        .await
        .unwrap()
        .expect("a refund leg");
    let fee = leg.fee_units.expect("its fee, read from the chain");
    assert_eq!(
        booked_fee(app, &leg.draft.leg_id).await[0],
        (SOL.to_owned(), Decimal::new(i64::try_from(fee).unwrap(), 9))
    );
    assert_ledger_balanced(app).await;
    reconciles_clean(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solana_merchants_balance_is_paid_out_in_one_batched_transfer() {
    let setup = setup().await;
    let (app, devnet) = (&setup.app, &setup.devnet);
    let merchant = Keypair::new().pubkey();
    batched(app, &merchant, "30").await;
    let payer = devnet_keypair("payer 3");
    for (amount, units) in [("25.00", 25_000_000), ("10.00", 10_000_000)] {
        let paying = intent(app, amount, &merchant).await;
        let deposit = deposit_wallet(app, devnet, &paying).await;
        pay(devnet, &payer, &deposit, units).await;
        app.wait_status(&format!("/v1/payment_intents/{}", id(&paying)), "succeeded")
            .await;
    }
    let list = wait_until(app, "/v1/payouts?limit=10", |l| {
        l["data"][0]["status"] == "paid"
    })
    .await;
    let payouts = list["data"].as_array().unwrap();
    assert_eq!(payouts.len(), 1, "{list}");
    assert_eq!(payouts[0]["amount"], "35");
    assert_eq!(payouts[0]["destination"], merchant.to_string());
    assert_eq!(usdc(devnet, &merchant).await, 35_000_000);
    assert_eq!(usdc(devnet, &hot_wallet()).await, 0);
    let leg = app
        .store
        .get_chain_transfer("payout", id(&payouts[0]))
        .await
        .unwrap()
        .expect("one payout leg");
    assert!(leg.fee_units.is_some_and(|f| f > 0));
    assert_ledger_balanced(app).await;
    reconciles_clean(app).await;
}
