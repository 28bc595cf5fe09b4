//! Executing accepted quotes end to end in sandbox mode: real anvil chains, the sandbox
//! exchange behind the Binance client, the gateway's worker driving every leg. Each leg is
//! stored before it is sent; a failed leg falls back (here: the same way again after the
//! plan's backoff, as a new leg); funds that cannot be converted go back to the payer.

mod common;
mod routing_support;

use common::devnet::{intent, status_of, usdc_balance, MERCHANT};
use common::expect_error;
use rialto_connectors::exchange::sandbox::{Fault, Operation};
use rialto_gateway::cli_ops::create_operator;
use routing_support::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Past a wallet quote's 60 s life and the 5 min grace after it: its top-up window is over.
const QUOTE_WINDOW_MS: i64 = 61_000 + 5 * 60_000;

#[tokio::test]
async fn an_accepted_exchange_quote_is_executed_leg_by_leg_and_the_merchant_gets_the_locked_amount()
{
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    let (paying, quote) = binance_quote(app, "25.00").await;
    let merchant_amount = dec(&quote["merchant_amount"]);
    assert!(merchant_amount >= Decimal::new(2500, 2));

    // The quote's source is an exchange account: accepting needs the payer's credentials.
    expect_error(
        accept(app, &quote, json!({})).await,
        400,
        "parameter_missing",
    )
    .await;
    let answer = accept(
        app,
        &quote,
        json!({"exchange_credentials": {"api_key": "payer-key", "api_secret": SECRET}}),
    )
    .await;
    let status = answer.status();
    let accepted: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{accepted}");
    assert!(!accepted.to_string().contains(SECRET));
    let exec_id = accepted["execution"]["id"].as_str().unwrap().to_owned();
    assert!(exec_id.starts_with("rx_"));
    assert_eq!(accepted["execution"]["status"], "running");
    // The first leg is stored before anything reaches the venue.
    assert_eq!(accepted["execution"]["legs"][0]["kind"], "trade");
    assert_eq!(accepted["execution"]["legs"][0]["status"], "created");

    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("trade".into(), "confirmed".into()),
            ("withdrawal".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    wait_intent(app, &paying, "succeeded").await;
    let settled = dec(&done["legs"][2]["received"]);
    assert!(settled >= Decimal::new(2500, 2), "{done}");
    // The receipt carries the oracle rounds the conversion was checked against.
    let usdc = done["price_sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pair"] == "USDC/USD")
        .unwrap_or_else(|| panic!("USDC/USD stamped on {done}"));
    assert!(usdc["round_id"].as_str().unwrap().parse::<u128>().unwrap() >= 1);
    assert!(usdc["updated_at"].as_u64().unwrap() > 0);
    let after = usdc_balance(chain, MERCHANT).await;
    assert_eq!(
        after - before,
        units(settled),
        "the merchant got exactly the settlement leg"
    );
    assert_eq!(sandbox.executed_orders(), 1);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    // The venue's withdrawal into the hot wallet and the transfer on to the merchant, each with
    // its transaction on the receipt.
    for leg in done["legs"].as_array().unwrap() {
        let on_chain = leg["kind"] != "trade";
        assert_eq!(leg["tx_hash"].is_string(), on_chain, "{leg}");
    }
    assert_reconciled(app, 2).await;

    // Every leg's outcome fed venue health.
    let created = create_operator(app.store.as_ref(), "ops", 0).await.unwrap();
    let key = created["operator_key"].as_str().unwrap();
    let health: Value = app
        .get("/v1/routing/health", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let binance = &health["venues"]["binance"];
    assert_eq!(binance["samples"], 2, "{health}");
    assert_eq!(binance["successes"], 2, "{health}");
}

#[tokio::test]
async fn a_venue_outage_fails_the_leg_and_the_plan_sends_a_new_one_after_its_backoff() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    let (paying, quote) = binance_quote(app, "20.00").await;
    // The venue is down for the client's three sends of the first withdrawal.
    for _ in 0..3 {
        sandbox.inject(Operation::Withdraw, Fault::Outage);
    }
    let exec_id = accept_exchange(app, &quote).await;
    // The withdrawal fails; with the venue down there is no other way out of the account,
    // so the plan waits its backoff and stores a new withdrawal leg for later.
    let started = Instant::now();
    let waiting = loop {
        let exec = execution(app, &exec_id).await;
        let k = kinds(&exec);
        if k.len() >= 3 && k[1] == ("withdrawal".into(), "failed".into()) {
            break exec;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{exec}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(waiting["legs"][2]["kind"], "withdrawal", "{waiting}");
    assert_eq!(waiting["legs"][2]["status"], "created", "{waiting}");
    assert_ne!(waiting["legs"][1]["id"], waiting["legs"][2]["id"]);
    assert_eq!(
        sandbox.executed_withdrawals(),
        0,
        "nothing left the account"
    );
    // Nothing is sent before the backoff has passed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        execution(app, &exec_id).await["legs"][2]["status"],
        "created"
    );
    clock.advance_ms(61_000);
    let done = wait_execution(app, &exec_id, "succeeded").await;
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(
        sandbox.executed_withdrawals(),
        1,
        "exactly one withdrawal left the account"
    );
    assert_eq!(sandbox.executed_orders(), 1, "the trade was never repeated");
    assert_eq!(
        kinds(&done).last().unwrap(),
        &("settlement".to_owned(), "confirmed".to_owned())
    );
    let last = done["legs"].as_array().unwrap().last().unwrap().clone();
    let after = usdc_balance(chain, MERCHANT).await;
    assert_eq!(after - before, units(dec(&last["received"])));
    assert!(dec(&last["received"]) >= Decimal::new(2000, 2));
}

#[tokio::test]
async fn when_the_venue_stays_down_the_payment_fails_with_a_reason_and_the_funds_never_left() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    let (paying, quote) = binance_quote(app, "20.00").await;
    for _ in 0..200 {
        sandbox.inject(Operation::Withdraw, Fault::Outage);
    }
    let exec_id = accept_exchange(app, &quote).await;
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
    assert_eq!(failed["failure_code"], "venue_unavailable", "{failed}");
    // Fallback was tried: the other network, and the same way again after backoffs.
    let withdrawals: Vec<&Value> = failed["legs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "withdrawal")
        .collect();
    assert!(withdrawals.len() >= 3, "{failed}");
    assert!(withdrawals.iter().all(|l| l["status"] == "failed"));
    assert_eq!(sandbox.executed_withdrawals(), 0);
    // The bought USDC never left the payer's account: that is where the funds are.
    assert_eq!(failed["returned"]["from"], "USDC@venue:binance", "{failed}");
    wait_intent(app, &paying, "failed").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await,
        before,
        "the merchant got nothing"
    );
}

#[tokio::test]
async fn a_wallet_quote_is_funded_by_a_reported_transfer_and_a_short_one_goes_back() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer = chain.payers[0].address.to_string();
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "15.00").await;
    let source = json!({"type": "wallet", "chain": "devnet-base", "asset": "usdc"});
    let quote = best_quote(app, &paying, source.clone()).await;
    expect_error(
        accept(app, &quote, json!({})).await,
        400,
        "parameter_missing",
    )
    .await;
    let accepted: Value = accept(app, &quote, json!({ "payer_address": payer }))
        .await
        .json()
        .await
        .unwrap();
    let exec = &accepted["execution"];
    assert_eq!(exec["status"], "awaiting_funds", "{accepted}");
    let pay_to = exec["pay_to"]["address"].as_str().unwrap().to_owned();
    let amount = dec(&exec["pay_to"]["amount"]);
    assert_eq!(amount, dec(&quote["payer_amount"]));
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let hash = pay_usdc_hash(chain, 0, &pay_to, units(amount)).await;
    // Only the payer can claim the transfer: another key's signature is refused.
    let forged = sign_funding(chain, 1, &exec_id, &hash).await;
    let refused = app
        .post(&format!("/v1/route_executions/{exec_id}/fund"), app.sk())
        .json(&json!({ "tx_hash": hash, "signature": forged }))
        .send()
        .await
        .unwrap();
    expect_error(refused, 400, "authorization_invalid_signature").await;
    let answer = report_funding(app, chain, 0, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200);
    // Reporting it again answers where it stands.
    let again = report_funding(app, chain, 0, &exec_id, &hash).await;
    assert_eq!(again.status(), 200, "{}", again.text().await.unwrap());
    let done = wait_execution(app, &exec_id, "succeeded").await;
    wait_intent(app, &paying, "succeeded").await;
    let settled = dec(&done["legs"].as_array().unwrap().last().unwrap()["received"]);
    assert!(settled >= Decimal::new(1500, 2));
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
    // The same transaction cannot fund another execution.
    let again = intent(app, "15.00").await;
    let other = best_quote(app, &again, source.clone()).await;
    let other: Value = accept(app, &other, json!({ "payer_address": payer }))
        .await
        .json()
        .await
        .unwrap();
    let other_id = other["execution"]["id"].as_str().unwrap().to_owned();
    let reused = report_funding(app, chain, 0, &other_id, &hash).await;
    expect_error(reused, 409, "transaction_already_used").await;

    // Too little arrives: it waits for a top-up while the quote is live; none comes, so
    // nothing converts, and exactly what arrived goes back when the quote's lock ends.
    let short = amount - Decimal::ONE;
    let payer_before = usdc_balance(chain, &payer).await;
    let hash = pay_usdc_hash(chain, 0, &pay_to, units(short)).await;
    let answer = report_funding(app, chain, 0, &other_id, &hash).await;
    assert_eq!(answer.status(), 200);
    let waiting: Value = answer.json().await.unwrap();
    assert_eq!(waiting["status"], "awaiting_funds", "{waiting}");
    assert_eq!(dec(&waiting["received"]), short, "{waiting}");
    clock.advance_ms(QUOTE_WINDOW_MS);
    let failed = wait_execution(app, &other_id, "failed").await;
    assert_eq!(failed["failure_code"], "funding_short", "{failed}");
    assert_eq!(kinds(&failed), vec![("return".into(), "confirmed".into())]);
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before,
        "the payer is whole"
    );
    assert_eq!(status_of(app, &again).await, "awaiting_funds");
    // Nothing was converted: the intent can be quoted and paid again.
    let retry = best_quote(app, &again, source.clone()).await;
    let retried = accept(app, &retry, json!({ "payer_address": payer })).await;
    assert_eq!(retried.status(), 200);
}

#[tokio::test]
async fn a_withdrawal_stuck_at_the_venue_waits_for_reconciliation_and_is_never_sent_again() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().expect("sandbox exchange");
    let before = usdc_balance(chain, MERCHANT).await;
    sandbox.set_stuck_withdrawals(true);
    let (paying, quote) = binance_quote(app, "18.00").await;
    let exec_id = accept_exchange(app, &quote).await;
    let started = Instant::now();
    while kinds(&execution(app, &exec_id).await).get(1)
        != Some(&("withdrawal".to_owned(), "submitted".to_owned()))
    {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ten minutes without the venue sending it: the leg is unknown, and the plan waits.
    clock.advance_ms(11 * 60_000);
    let waiting = wait_execution(app, &exec_id, "awaiting_reconciliation").await;
    assert_eq!(
        kinds(&waiting),
        vec![
            ("trade".into(), "confirmed".into()),
            ("withdrawal".into(), "unknown".into())
        ]
    );
    assert_eq!(status_of(app, &paying).await, "converting");
    // Passes keep asking; nothing is sent again.
    for _ in 0..5 {
        clock.advance_ms(11_000);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(kinds(&execution(app, &exec_id).await).len(), 2);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    // The venue's queue moves: reconciliation finds the withdrawal landed and the plan goes on.
    assert_eq!(sandbox.release_stuck_withdrawals().await, 1);
    sandbox.set_stuck_withdrawals(false);
    clock.advance_ms(11_000);
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("trade".into(), "confirmed".into()),
            ("withdrawal".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ]
    );
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(sandbox.executed_withdrawals(), 1, "sent once");
    let settled = dec(&done["legs"][2]["received"]);
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
}

#[tokio::test]
async fn a_coinbase_account_pays_through_the_router_with_the_venues_own_withdrawal_terms() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "22.00").await;
    let quote = best_quote(
        app,
        &paying,
        json!({"type": "exchange", "venue": "coinbase", "asset": "usd"}),
    )
    .await;
    assert_eq!(quote["legs"][0]["venue"], "coinbase", "{quote}");
    assert_eq!(quote["legs"][1]["kind"], "withdrawal", "{quote}");
    let pem = rialto_connectors::exchange::coinbase::CdpKey::sandbox_pem(9).unwrap();
    let answer = accept(
        app,
        &quote,
        json!({"exchange_credentials": {"api_key": "organizations/o/apiKeys/payer", "api_secret": pem}}),
    )
    .await;
    let status = answer.status();
    let accepted: Value = answer.json().await.unwrap();
    assert_eq!(status, 200, "{accepted}");
    let exec_id = accepted["execution"]["id"].as_str().unwrap().to_owned();
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("trade".into(), "confirmed".into()),
            ("withdrawal".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    // The withdrawal's 0.10 USDC fee was priced in: what arrived is what the route expected.
    assert_eq!(done["legs"][1]["received"], done["legs"][2]["input"]);
    let settled = dec(&done["legs"][2]["received"]);
    assert!(settled >= Decimal::new(2200, 2));
    assert_eq!(usdc_balance(chain, MERCHANT).await - before, units(settled));
    wait_intent(app, &paying, "succeeded").await;
}

/// Payer 0 funds a fresh `amount` USD intent's devnet-base USDC quote with what `pay` makes of
/// the quoted amount; answers the intent, the execution id, the quoted and the paid amounts.
async fn fund_route_with(
    app: &common::TestApp,
    chain: &rialto_evm::manifest::ChainManifest,
    amount: &str,
    pay: impl Fn(Decimal) -> Decimal,
) -> (Value, String, Decimal, Decimal) {
    let payer = chain.payers[0].address.to_string();
    let paying = intent(app, amount).await;
    let (_quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    let quoted = dec(&exec["pay_to"]["amount"]);
    let paid = pay(quoted).round_dp(6);
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let pay_to = exec["pay_to"]["address"].as_str().unwrap();
    let hash = pay_usdc_hash(chain, 0, pay_to, units(paid)).await;
    let answer = report_funding(app, chain, 0, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    (paying, exec_id, quoted, paid)
}

/// The intent's `payment_detail`: type, resolution, expected, received, refund.
async fn routed_detail(
    app: &common::TestApp,
    paying: &Value,
) -> (String, String, Decimal, Decimal, Decimal) {
    let id = paying["id"].as_str().unwrap();
    let d = app.get_json(&format!("/v1/payment_intents/{id}")).await["payment_detail"].clone();
    let text = |k: &str| {
        d[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {d}"))
            .to_owned()
    };
    (
        text("type"),
        text("resolution"),
        dec(&d["expected"]),
        dec(&d["received"]),
        dec(&d["refund"]),
    )
}

#[tokio::test]
async fn a_routed_funding_follows_the_merchants_policy_kept_overpayment_tolerated_underpayment_and_a_short_one_returned(
) {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    common::devnet::settings(
        app,
        json!({"overpaid": "keep", "underpaid_tolerance_percent": "2"}),
    )
    .await;
    let payer = chain.payers[0].address.to_string();
    let last_received =
        |exec: &Value| dec(&exec["legs"].as_array().unwrap().last().unwrap()["received"]);

    // 1.5 over with `keep`: all of it is routed to the merchant, nothing goes back.
    let (merchant_before, payer_before) = (
        usdc_balance(chain, MERCHANT).await,
        usdc_balance(chain, &payer).await,
    );
    let (over, exec_id, quoted, paid) =
        fund_route_with(app, chain, "20.00", |q| q + Decimal::new(15, 1)).await;
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![("settlement".into(), "confirmed".into())],
        "{done}"
    );
    wait_intent(app, &over, "succeeded").await;
    assert_eq!(last_received(&done), paid, "{done}");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units(paid)
    );
    assert_eq!(
        payer_before - usdc_balance(chain, &payer).await,
        units(paid)
    );
    assert_eq!(
        routed_detail(app, &over).await,
        (
            "overpaid".into(),
            "accepted".into(),
            quoted,
            paid,
            Decimal::ZERO
        )
    );

    // 1 % short, within the 2 % tolerance: what arrived is routed and the intent succeeds.
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let (under, exec_id, quoted, paid) =
        fund_route_with(app, chain, "20.00", |q| q * Decimal::new(99, 2)).await;
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![("settlement".into(), "confirmed".into())],
        "{done}"
    );
    wait_intent(app, &under, "succeeded").await;
    assert_eq!(last_received(&done), paid, "{done}");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        units(paid)
    );
    assert_eq!(
        routed_detail(app, &under).await,
        (
            "underpaid".into(),
            "accepted".into(),
            quoted,
            paid,
            Decimal::ZERO
        )
    );

    // 3 % short: it waits for a top-up until the quote's lock ends; none comes, so nothing
    // converts, exactly what arrived goes back, the intent stays open.
    let payer_before = usdc_balance(chain, &payer).await;
    let (short, exec_id, quoted, paid) =
        fund_route_with(app, chain, "20.00", |q| q * Decimal::new(97, 2)).await;
    assert_eq!(
        routed_detail(app, &short).await,
        (
            "underpaid".into(),
            "awaiting_top_up".into(),
            quoted,
            paid,
            Decimal::ZERO
        )
    );
    clock.advance_ms(QUOTE_WINDOW_MS);
    let failed = wait_execution(app, &exec_id, "failed").await;
    assert_eq!(failed["failure_code"], "funding_short", "{failed}");
    assert_eq!(kinds(&failed), vec![("return".into(), "confirmed".into())]);
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before,
        "the payer is whole"
    );
    assert_eq!(status_of(app, &short).await, "awaiting_funds");
    assert_eq!(
        routed_detail(app, &short).await,
        ("underpaid".into(), "refunded".into(), quoted, paid, paid)
    );

    let (held, _kinds) = routing_books(app).await;
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    common::assert_ledger_balanced(app).await;
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
}

#[tokio::test]
async fn a_routed_funding_reported_after_its_quote_expired_goes_back_and_is_recorded_late() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let payer = chain.payers[0].address.to_string();
    let paying = intent(app, "20.00").await;
    let (quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    let quoted = dec(&exec["pay_to"]["amount"]);
    // Just past the quote's life; the intent itself is still open.
    let life = quote["expires_at"].as_u64().unwrap() - quote["created_at"].as_u64().unwrap();
    clock.advance_ms((life as i64 + 1) * 1000);
    let payer_before = usdc_balance(chain, &payer).await;
    let exec_id = exec["id"].as_str().unwrap();
    let pay_to = exec["pay_to"]["address"].as_str().unwrap();
    let hash = pay_usdc_hash(chain, 0, pay_to, units(quoted)).await;
    let answer = report_funding(app, chain, 0, exec_id, &hash).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let failed = wait_execution(app, exec_id, "failed").await;
    assert_eq!(failed["failure_code"], "quote_expired", "{failed}");
    assert_eq!(kinds(&failed), vec![("return".into(), "confirmed".into())]);
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before,
        "the payer is whole"
    );
    assert_eq!(status_of(app, &paying).await, "awaiting_funds");
    assert_eq!(
        routed_detail(app, &paying).await,
        ("late".into(), "refunded".into(), quoted, quoted, quoted)
    );
    common::assert_ledger_balanced(app).await;
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
}
