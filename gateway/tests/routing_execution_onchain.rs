//! Executing accepted quotes whose legs run on chain: USDT on one chain becoming the merchant's
//! USDC on another through a swap and the devnet bridge, an over-paid route whose merchant
//! gives the surplus back, a swap that keeps reverting, racing workers, and a payment held
//! for review.

mod common;
mod routing_support;

use alloy::primitives::U256;
use common::devnet::{intent, status_of, usdc_balance, MERCHANT};
use rialto_gateway::cli_ops::create_operator;
use routing_support::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn usdt_on_one_chain_becomes_the_merchants_usdc_on_another_through_a_swap_and_the_bridge() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "30.00").await;
    let (exec, quote) = accept_usdt(&setup, &paying).await;
    let exec_id = fund_usdt(&setup, &exec).await;
    let legs: Vec<&str> = quote["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(legs, ["dex_swap", "bridge"], "{quote}");
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("dex_swap".into(), "confirmed".into()),
            ("bridge".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    wait_intent(app, &paying, "succeeded").await;
    let settled = dec(&done["legs"][2]["received"]);
    assert!(settled >= Decimal::new(3000, 2), "{done}");
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
    // Each leg passed on exactly what the chain says arrived.
    assert_eq!(
        done["legs"][1]["input"], done["legs"][0]["received"],
        "{done}"
    );
    assert_eq!(
        done["legs"][2]["input"], done["legs"][1]["received"],
        "{done}"
    );
    // The books: funding in, a swap and a bridge through, the merchant paid out of it; Rialto
    // holds nothing of the payer's afterwards, in any asset.
    let (held, kinds) = routing_books(app).await;
    for kind in ["route_funding", "route_conversion", "payment", "settlement"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| *k == "route_conversion").count(), 2);
    assert_eq!(held.len(), 3, "USDT, USDC on two chains: {held:?}");
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    // The gas of the transactions the route sent (approve, swap, burn, mint, the merchant's
    // transfer, ...), each posted once.
    assert!(
        kinds.iter().filter(|k| *k == "network_fee").count() >= 5,
        "{kinds:?}"
    );
    // The payer's funding, the swap (out and in), the bridge (deliver, burn, mint) and the
    // merchant's transfer.
    assert!(done["legs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["tx_hash"].as_str().is_some_and(|h| h.starts_with("0x"))));
    assert_reconciled(app, 7).await;
    // A payment to `pay_to` nobody reported is money nothing explains.
    let stray = pay_usdt_hash(
        &setup.other_chain,
        exec["pay_to"]["address"].as_str().unwrap(),
        Decimal::ONE,
    )
    .await;
    let run = reconcile(app).await;
    let found = run["exceptions"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{run:#}");
    assert_eq!(found[0]["kind"], "unexpected_inflow", "{run:#}");
    assert_eq!(found[0]["tx_hash"], stray, "{run:#}");
    // A swap booked against a transaction that is not on chain is money the books claim and
    // the chain never delivered; the real swap's output is then unexplained.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let bogus = format!("0x{}", "ab".repeat(32));
    sqlx::query("UPDATE route_legs SET tx_hash = $1 WHERE kind = 'dex_swap'")
        .bind(bogus.clone())
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let run = reconcile(app).await;
    let mut found: Vec<(String, String)> = run["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let purpose = x["purpose"].as_str().unwrap_or_default().to_owned();
            (x["kind"].as_str().unwrap().to_owned(), purpose)
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("missing".to_owned(), "route_dex_swap".to_owned()),
            ("unexpected_inflow".to_owned(), String::new()),
            ("unexpected_inflow".to_owned(), String::new()),
        ],
        "{run:#}"
    );
}

#[tokio::test]
async fn an_overpaid_route_pays_the_merchant_the_locked_amount_and_sends_the_surplus_back() {
    let (setup, _clock) = clocked().await;
    let (app, chain, other) = (&setup.app, &setup.chain, &setup.other_chain);
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let payer = other.payers[0].address.to_string();
    // The merchant's policy gives an over-payment's surplus back (`keep` routes all of it).
    common::devnet::settings(app, json!({"overpaid": "refund_surplus"})).await;
    let paying = intent(app, "20.00").await;
    let (exec, _quote) = accept_usdt(&setup, &paying).await;
    let quoted = dec(&exec["pay_to"]["amount"]);
    let surplus = Decimal::new(15, 1);
    let usdt_before = token_balance(other, "USDT", &payer).await;
    let id = exec["id"].as_str().unwrap();
    let hash = pay_usdt_hash(
        other,
        exec["pay_to"]["address"].as_str().unwrap(),
        quoted + surplus,
    )
    .await;
    let answer = report_funding(app, other, 0, id, &hash).await;
    assert_eq!(answer.status(), 200);
    let done = wait_execution(app, id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("dex_swap".into(), "confirmed".into()),
            ("bridge".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
            ("surplus_return".into(), "confirmed".into()),
        ],
        "{done}"
    );
    assert_eq!(dec(&done["legs"][3]["received"]), surplus, "{done}");
    assert_eq!(done["returned"]["reason"], "overpayment", "{done}");
    // The payer is out exactly the quoted amount; the merchant got the settlement leg.
    assert_eq!(
        token_balance(other, "USDT", &payer).await,
        usdt_before - units(quoted)
    );
    wait_intent(app, &paying, "succeeded").await;
    let id = paying["id"].as_str().unwrap();
    let d = app.get_json(&format!("/v1/payment_intents/{id}")).await["payment_detail"].clone();
    assert_eq!(
        (&d["type"], &d["resolution"], dec(&d["refund"])),
        (&json!("overpaid"), &json!("surplus_refunded"), surplus),
        "{d}"
    );
    let settled = dec(&done["legs"][2]["received"]);
    assert!(settled >= Decimal::new(2000, 2), "{done}");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units(settled)
    );
    let (held, kinds) = routing_books(app).await;
    assert!(kinds.iter().any(|k| k == "route_return"), "{kinds:?}");
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    // The seven transfers of the route, and the surplus going back.
    assert_reconciled(app, 8).await;
}

#[tokio::test]
async fn a_swap_that_keeps_reverting_ends_failed_and_the_payers_usdt_goes_back() {
    let (setup, clock) = clocked().await;
    let (app, other) = (&setup.app, &setup.other_chain);
    let merchant_before = usdc_balance(&setup.chain, MERCHANT).await;
    let payer = other.payers[0].address.to_string();
    // The surplus stays out of the route (with `keep` it would be swapped too).
    common::devnet::settings(app, json!({"overpaid": "refund_surplus"})).await;
    let paying = intent(app, "30.00").await;
    let (exec, _quote) = accept_usdt(&setup, &paying).await;
    // After the lock, someone drains the pool's USDC side: the locked route's swap can no
    // longer meet its minimum, and there is no other way from USDT on this chain.
    {
        use rialto_evm::contracts::{to_wire, ITetherLike, IUniswapV2Router02};
        let wallet = common::devnet::payer_wallet(other, 1).await;
        let usdt = to_wire(&other.tokens["USDT"].address).unwrap();
        let usdc = to_wire(&other.tokens["USDC"].address).unwrap();
        let router = to_wire(&other.dex.router).unwrap();
        let big = U256::from(9_000u64) * U256::from(1_000_000u64);
        let approved = ITetherLike::new(usdt, &wallet)
            .approve(router, big)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(approved.status(), "{approved:?}");
        let to = other.payers[1].address.to_string().parse().unwrap();
        // An explicit limit: the pool's first swap costs 44k gas more when it lands in a later
        // second than its estimate (rialto_gateway::chain::rail::SWAP_GAS_HEADROOM).
        let swapped = IUniswapV2Router02::new(router, &wallet)
            .swapExactTokensForTokens(big, U256::ZERO, vec![usdt, usdc], to, U256::MAX)
            .gas(300_000)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(swapped.status(), "{swapped:?}");
    }
    let usdt_before = token_balance(other, "USDT", &payer).await;
    // One USDT more than quoted: it goes back with the rest.
    let sent = dec(&exec["pay_to"]["amount"]) + Decimal::ONE;
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let hash = pay_usdt_hash(other, exec["pay_to"]["address"].as_str().unwrap(), sent).await;
    assert_eq!(
        report_funding(app, other, 0, &exec_id, &hash)
            .await
            .status(),
        200
    );
    assert_eq!(
        token_balance(other, "USDT", &payer).await,
        usdt_before - units(sent)
    );
    let started = Instant::now();
    let failed = loop {
        let exec = execution(app, &exec_id).await;
        if exec["status"] == "failed" {
            break exec;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "{exec}");
        // Backoffs pass (60 s doubling, five of them), while 90 s of wall time at this step
        // stays under the feeds' 24 h heartbeat: the prices never go stale.
        clock.advance_ms(120_000);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["failure_code"], "execution_reverted", "{failed}");
    let legs = failed["legs"].as_array().unwrap();
    let swaps = legs.iter().filter(|l| l["kind"] == "dex_swap").count();
    assert!(swaps >= 2, "retried after backoff: {failed}");
    assert!(legs
        .iter()
        .filter(|l| l["kind"] == "dex_swap")
        .all(|l| l["status"] == "failed"));
    let back = legs.last().unwrap();
    assert_eq!(back["kind"], "return", "{failed}");
    assert_eq!(back["status"], "confirmed", "{failed}");
    assert_eq!(
        dec(&back["received"]),
        sent,
        "the quoted amount and the surplus: {failed}"
    );
    // The payer has every unit of USDT back; the merchant got nothing.
    assert_eq!(token_balance(other, "USDT", &payer).await, usdt_before);
    let (held, kinds) = routing_books(app).await;
    assert!(kinds.iter().any(|k| k == "route_return"), "{kinds:?}");
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    assert_eq!(usdc_balance(&setup.chain, MERCHANT).await, merchant_before);
    wait_intent(app, &paying, "failed").await;
}

#[tokio::test]
async fn racing_workers_send_every_leg_of_an_execution_once() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    let (paying, quote) = binance_quote(app, "12.00").await;
    // Four more passes over the same database race the gateway's own worker throughout.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let (state, stop) = (app.state.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    rialto_gateway::routing::execute::tick(&state).await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    let exec_id = accept_exchange(app, &quote).await;
    let done = wait_execution(app, &exec_id, "succeeded").await;
    wait_intent(app, &paying, "succeeded").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in racers {
        r.await.unwrap();
    }
    assert_eq!(kinds(&done).len(), 3, "{done}");
    assert_eq!(sandbox.executed_orders(), 1);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    assert_eq!(sandbox.duplicate_submissions(), 0);
    let settled = dec(&done["legs"][2]["received"]);
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
}

#[tokio::test]
async fn a_wallet_payment_held_for_review_is_returned_once_released_and_never_converted() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer = chain.payers[0].address.to_string();
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    // Over the travel-rule threshold with no originator data: screening holds it for review.
    let paying = intent(app, "5000.00").await;
    let (_, exec) = accept_base_usdc(app, &payer, &paying).await;
    let exec = &exec;
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let payer_before = usdc_balance(chain, &payer).await;
    let hash = pay_usdc_hash(
        chain,
        0,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(dec(&exec["pay_to"]["amount"])),
    )
    .await;
    let answer = report_funding(app, chain, 0, &exec_id, &hash).await;
    let held: Value = answer.json().await.unwrap();
    assert_eq!(held["status"], "held", "{held}");
    assert!(
        held["legs"].as_array().unwrap().is_empty(),
        "nothing moves in review"
    );
    assert_eq!(status_of(app, &paying).await, "in_review");
    // An operator releases it; the quote is long expired, so the funds go back whole.
    let created = create_operator(app.store.as_ref(), "ops", 0).await.unwrap();
    let op = created["operator_key"].as_str().unwrap();
    let cases: Value = app
        .get("/v1/compliance/cases?status=open", op)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case = cases["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["payment_intent"] == paying["id"])
        .unwrap_or_else(|| panic!("a case for the intent: {cases}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approved = app
        .post(&format!("/v1/compliance/cases/{case}/approve"), op)
        .json(&json!({"note": "originator verified"}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    // Held executions are looked at every 10 s.
    clock.advance_ms(11_000);
    let done = wait_execution(app, &exec_id, "failed").await;
    assert_eq!(done["failure_code"], "review_completed", "{done}");
    assert_eq!(kinds(&done), vec![("return".into(), "confirmed".into())]);
    assert_eq!(usdc_balance(chain, &payer).await, payer_before);
    assert_eq!(usdc_balance(chain, MERCHANT).await, merchant_before);
    wait_intent(app, &paying, "failed").await;
}

/// A start that died after the funds screening had moved the intent on (to `converting`), and
/// before its plan was stored, resumes when the funding is reported: the funds are screened
/// afresh and the payment completes. Nothing goes back, and the intent is not failed.
#[tokio::test]
async fn a_start_interrupted_after_the_screening_resumes_instead_of_sending_the_funds_back() {
    use rialto_core::intent::PaymentEvent;
    use rialto_gateway::compliance::flow::{screen_received_funds, FundsSubject};
    use rialto_gateway::routing::execute::move_intent;
    use rialto_gateway::store::Store;

    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer = chain.payers[0].address.to_string();
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "20.00").await;
    let (quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    let exec = &exec;
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let payer_before = usdc_balance(chain, &payer).await;
    let sent = units(dec(&exec["pay_to"]["amount"]));
    let hash = pay_usdc_hash(chain, 0, exec["pay_to"]["address"].as_str().unwrap(), sent).await;
    // What the attempt that died left behind: the payer screened clear, the intent converting.
    let id = paying["id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.get_intent_unscoped(&id).await.unwrap().unwrap();
    let subject = FundsSubject {
        chain: chain.chain_id.to_string(),
        payer_addresses: vec![payer.clone()],
        asset: Some(stored.settlement.asset.code.clone()),
        amount: Some(stored.amount.to_amount_string()),
        tx_hash: Some(hash.clone()),
        payer_name: None,
        payer_country: None,
        payer_identifiers: Default::default(),
        account_holder: None,
        travel_rule: None,
    };
    let now = app.state.clock.now_ms();
    let screened = screen_received_funds(&app.state, &stored, subject, now)
        .await
        .unwrap();
    move_intent(
        &app.state,
        screened.intent(),
        PaymentEvent::ConversionStarted,
        now,
    )
    .await
    .unwrap();
    assert_eq!(status_of(app, &paying).await, "converting");
    let answer = report_funding(app, chain, 0, &exec_id, &hash).await;
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["failure_code"].is_null(),
        "resumed, not refused: {body}"
    );
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert!(done["returned"].is_null(), "nothing went back: {done}");
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before - sent,
        "the payer paid once"
    );
    let paid = usdc_balance(chain, MERCHANT).await - merchant_before;
    assert_eq!(paid, units(dec(&quote["merchant_amount"])), "{quote}");
}
