//! Refunds through the router, end to end on the local devnet: a USDC payment refunded in
//! USDT through the devnet's Uniswap V2 pool at a locked quote, and a payment from a sandbox
//! exchange account refunded, with no destination named, to the account's deposit address
//! the venue gave when it was linked. After each, the ledger balances and reconciliation
//! reports no exception. anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned
//! npm package.

mod common;
mod routing_support;

use alloy::primitives::U256;
use common::devnet::{
    deposit_address, intent, pay_usdc, settings, start, usdc_balance, wait_for, MERCHANT,
};
use common::{assert_ledger_balanced, TestApp};
use rialto_connectors::exchange::AssetCode;
use rialto_core::id::PaymentIntentId;
use rialto_gateway::exchange::{Credentials, SettlementTarget};
use rialto_gateway::store::exchange::ExchangeStore;
use rialto_gateway::store::ledger::LedgerStore;
use routing_support::{dec, reconcile, token_balance, units};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const SECRET: &str = "c2VjcmV0LW9mLXRoZS1wYXllcg==";

/// The merchant keeps its payments at Rialto (batched, a threshold no test reaches), so a
/// refund is paid from its held balance.
async fn holds(app: &TestApp) {
    settings(
        app,
        json!({"settlement_schedule": "batched", "payout_threshold": "100000",
               "payout_addresses": {"devnet-base": MERCHANT}}),
    )
    .await;
}

/// The merchant's available balance (USDC is the only asset these tests hold).
async fn available(app: &TestApp) -> Decimal {
    let balance: Value = app.get_json("/v1/balance").await;
    balance["available"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| dec(&b["amount"]))
        .sum()
}

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    let answer = app
        .post("/v1/refunds", app.sk())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap())
}

/// Exactly the locked amount, from the pool's constant product with its 0.3% fee, in base
/// units rounded down: what Uniswap V2's `getAmountOut` gives for `input` against reserves
/// `(r_in, r_out)`.
fn amount_out(input: u128, r_in: u128, r_out: u128) -> u128 {
    input * 997 * r_out / (r_in * 1000 + input * 997)
}

#[tokio::test]
async fn a_usdc_payment_is_refunded_in_usdt_at_the_locked_quote() {
    // Past the devnet's deploy, so its feeds' rounds are not ahead of the clock.
    let (setup, _clock) = routing_support::clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    holds(app).await;
    let paying = intent(app, "30").await;
    let to = deposit_address(app, &paying).await;
    pay_usdc(chain, 0, &to, U256::from(30_000_000u64)).await;
    wait_for(app, &paying, "succeeded").await;
    let payer = chain.payers[0].address.to_string();
    let held_before = available(app).await;
    assert_eq!(held_before, Decimal::from(30));
    let usdt_before = token_balance(chain, "USDT", &payer).await;
    let usdc_before = usdc_balance(chain, &payer).await;

    let (status, refund) = post(
        app,
        json!({"payment_intent": paying["id"], "amount": "10", "asset": "usdt"}),
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["status"], "pending", "{refund}");
    // The merchant's side is unchanged: 10 USDC debited.
    assert_eq!(
        (refund["amount"].as_str(), refund["asset"].as_str()),
        (Some("10"), Some("usdc"))
    );
    assert_eq!(available(app).await, held_before - Decimal::from(10));
    let conversion = &refund["conversion"];
    assert_eq!(conversion["asset"], "usdt", "{refund}");
    assert_eq!(conversion["chain_id"], refund["chain_id"]);
    assert!(conversion["quote_id"].as_str().unwrap().starts_with("qt_"));
    assert_eq!(
        conversion["expires_at"].as_u64().unwrap() - conversion["locked_at"].as_u64().unwrap(),
        600
    );
    let route: Vec<&str> = conversion["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(route, ["dex_swap"], "{refund}");
    let pairs: Vec<&str> = conversion["price_sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pair"].as_str().unwrap())
        .collect();
    assert!(
        pairs.contains(&"USDC/USD") && pairs.contains(&"USDT/USD"),
        "{refund}"
    );
    // The devnet's pool holds 1,000,000 of each: the quote is its exact output for 10 USDC.
    let locked = dec(&conversion["amount_out"]);
    let expected = amount_out(10_000_000, 1_000_000_000_000, 1_000_000_000_000);
    assert_eq!(units(locked), U256::from(expected), "{refund}");

    let id = refund["id"].as_str().unwrap();
    let done = app
        .wait_status(&format!("/v1/refunds/{id}"), "succeeded")
        .await;
    assert_eq!(
        done["conversion"]["route"][0]["status"], "confirmed",
        "{done}"
    );
    // The payer receives exactly the locked amount in USDT, and no USDC.
    let usdt_after = token_balance(chain, "USDT", &payer).await;
    assert_eq!(usdt_after - usdt_before, units(locked));
    assert_eq!(usdc_balance(chain, &payer).await, usdc_before);
    assert_eq!(available(app).await, held_before - Decimal::from(10));
    let kinds: Vec<String> = app
        .store
        .all_postings()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.kind)
        .collect();
    for kind in ["refund", "refund_conversion", "refund_sent"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_ledger_balanced(app).await;
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
}

#[tokio::test]
async fn an_asset_no_route_reaches_is_refused_and_nothing_is_debited() {
    let (setup, _clock) = routing_support::clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    holds(app).await;
    let paying = intent(app, "20").await;
    let to = deposit_address(app, &paying).await;
    pay_usdc(chain, 0, &to, U256::from(20_000_000u64)).await;
    wait_for(app, &paying, "succeeded").await;
    // PYUSD has no pool on the devnet.
    let (status, refused) = post(
        app,
        json!({"payment_intent": paying["id"], "amount": "5", "asset": "pyusd"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "refund_asset_unsupported");
    assert_eq!(refused["error"]["param"], "asset");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No route reaches pyusd"),
        "{refused}"
    );
    assert_eq!(available(app).await, Decimal::from(20));
    let listed = app.get_json("/v1/refunds").await;
    assert_eq!(listed["data"], json!([]));
}

#[tokio::test]
async fn an_exchange_payment_is_refunded_to_the_deposit_address_the_venue_gave() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    holds(app).await;
    // An exchange withdrawal pays the merchant's address directly: a payment into a deposit
    // address, held, is what the refund is paid from.
    let held = intent(app, "10").await;
    let to = deposit_address(app, &held).await;
    pay_usdc(chain, 1, &to, U256::from(10_000_000u64)).await;
    wait_for(app, &held, "succeeded").await;
    let paying = intent(app, "25.00").await;
    let id = paying["id"].as_str().unwrap();
    let linked = app
        .post(
            &format!("/v1/payment_intents/{id}/exchange_accounts"),
            &app.merchant.publishable_key,
        )
        .json(
            &json!({"venue": "binance", "api_key": "payer-key", "api_secret": SECRET,
                      "client_secret": paying["client_secret"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 202);
    wait_for(app, &paying, "succeeded").await;

    // What the (sandbox) venue answers as the account's USDC deposit address on the chain.
    let intent_id: PaymentIntentId = id.parse().unwrap();
    let account = app
        .store
        .exchange_accounts_of(&intent_id)
        .await
        .unwrap()
        .remove(0);
    let coin = AssetCode::new("USDC").unwrap();
    let chain_id: rialto_core::ChainId = chain.chain_id.to_string().parse().unwrap();
    let credentials = Credentials {
        api_key: "payer-key".into(),
        api_secret: SECRET.into(),
        withdraw_key: None,
    };
    let target = SettlementTarget {
        asset: &coin,
        chain: &chain_id,
        address: MERCHANT,
    };
    let client = app.state.engine.venues[&false]
        .client("binance", &credentials, target)
        .unwrap();
    let venue_address = client
        .deposit_address(&coin, &chain_id)
        .await
        .unwrap()
        .address;
    assert_eq!(
        account.deposit_address.as_deref(),
        Some(venue_address.as_str())
    );
    let before = usdc_balance(chain, &venue_address).await;
    let held_before = available(app).await;

    let (status, refund) = post(app, json!({"payment_intent": paying["id"], "amount": "5"})).await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(
        refund["destination"].as_str().unwrap().to_lowercase(),
        venue_address.to_lowercase(),
        "{refund}"
    );
    let rid = refund["id"].as_str().unwrap();
    app.wait_status(&format!("/v1/refunds/{rid}"), "succeeded")
        .await;
    assert_eq!(
        usdc_balance(chain, &venue_address).await - before,
        U256::from(5_000_000u64)
    );
    assert_eq!(available(app).await, held_before - Decimal::from(5));
    assert_ledger_balanced(app).await;
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
}

#[tokio::test]
async fn a_conversion_not_started_before_its_lock_expires_fails_and_restores_the_balance() {
    let (setup, clock) = routing_support::clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    settings(
        app,
        json!({"settlement_schedule": "batched", "payout_threshold": "100000",
               "payout_addresses": {"devnet-base": MERCHANT}, "payout_approval_above": "5"}),
    )
    .await;
    let paying = intent(app, "30").await;
    let to = deposit_address(app, &paying).await;
    pay_usdc(chain, 0, &to, U256::from(30_000_000u64)).await;
    wait_for(app, &paying, "succeeded").await;
    // To another address, above the approval limit: it waits for a second key.
    let elsewhere = chain.payers[1].address.to_string();
    let usdt_before = token_balance(chain, "USDT", &elsewhere).await;
    let (status, refund) = post(
        app,
        json!({"payment_intent": paying["id"], "amount": "10", "asset": "usdt",
               "destination": elsewhere}),
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["status"], "pending_approval", "{refund}");
    assert_eq!(available(app).await, Decimal::from(20));
    // Approved after the lock's ten minutes: not converted at a stale price.
    clock.advance_ms(601_000);
    let made = rialto_gateway::cli_ops::create_key(
        app.store.as_ref(),
        &app.merchant.id,
        ("checker", false, false),
        0,
    )
    .await
    .unwrap();
    let path = format!("/v1/refunds/{}", refund["id"].as_str().unwrap());
    let approved = app
        .post(&format!("{path}/approve"), made["secret"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    let failed = app.wait_status(&path, "failed").await;
    assert_eq!(failed["failure_code"], "quote_expired", "{failed}");
    assert_eq!(
        failed["conversion"]["route"][0]["status"], "pending",
        "{failed}"
    );
    // Nothing was swapped or sent; the merchant's balance has the 10 USDC back.
    assert_eq!(available(app).await, Decimal::from(30));
    assert_eq!(token_balance(chain, "USDT", &elsewhere).await, usdt_before);
    let intent_now = app
        .get_json(&format!(
            "/v1/payment_intents/{}",
            paying["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(intent_now["amount_refunded"], "0", "{intent_now}");
    assert_ledger_balanced(app).await;
    let run = reconcile(app).await;
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
}
