//! Paying from an exchange account, end to end in sandbox mode: the payer links a (sandbox)
//! Binance or Kraken account to an intent, the real venue client buys the shortfall of USDC
//! and withdraws it through the sandbox exchange, whose withdrawal is a real ERC-20 transfer
//! on the devnet to the merchant; the intent succeeds with the merchant holding exactly the
//! amount, and the credentials, sealed at rest, are erased once the payment ends.

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use common::{assert_ledger_balanced, expect_error, spawn_app_with, Db, TestApp};
use rialto_connectors::exchange::sandbox::{Fault, Operation};
use rialto_connectors::exchange::{
    AssetCode, Exchange, OrderKind, OrderRequest, Pair, Side, WithdrawalRequest,
};
use rialto_core::id::PaymentIntentId;
use rialto_gateway::exchange::SettlementTarget;
use rialto_gateway::ledger::Account;
use rialto_gateway::store::exchange::ExchangeStore;
use serde_json::{json, Value};
use sqlx::Row;

use common::devnet::{intent, start, status_of, usdc_balance, wait_for, MERCHANT};

const SECRET: &str = "c2VjcmV0LW9mLXRoZS1wYXllcg==";

async fn link(app: &TestApp, intent: &Value, body: Value) -> reqwest::Response {
    let id = intent["id"].as_str().unwrap();
    let mut body = body;
    body["client_secret"] = intent["client_secret"].clone();
    app.post(
        &format!("/v1/payment_intents/{id}/exchange_accounts"),
        &app.merchant.publishable_key,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_payment_from_a_sandbox_exchange_account_lands_on_chain_exactly() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app
        .sandbox_exchange
        .clone()
        .expect("sandbox exchange runs with a devnet");
    let before = usdc_balance(chain, MERCHANT).await;

    // The account holds 10 USDC and USD: it must buy the rest before withdrawing 25.10.
    let paying = intent(app, "25.00").await;
    let answer = link(
        app,
        &paying,
        json!({"venue": "binance", "api_key": "payer-key", "api_secret": SECRET}),
    )
    .await;
    assert_eq!(answer.status(), 202);
    let account: Value = answer.json().await.unwrap();
    assert_eq!(account["object"], "exchange_account");
    assert!(
        !account.to_string().contains(SECRET),
        "credentials are never returned"
    );
    assert_eq!(sandbox.executed_orders(), 1, "the shortfall was bought");
    assert_eq!(sandbox.executed_withdrawals(), 1);
    // Linking again (a retry, a second tab) resumes the same attempt: nothing is sent twice.
    let again = link(
        app,
        &paying,
        json!({"venue": "binance", "api_key": "payer-key", "api_secret": SECRET}),
    )
    .await;
    let status = again.status().as_u16();
    let again: Value = again.json().await.unwrap();
    if status == 202 {
        assert_eq!(again["id"], account["id"], "{again}");
    } else {
        assert_eq!(
            again["error"]["code"], "payment_intent_unexpected_state",
            "{again}"
        );
    }
    assert_eq!(sandbox.executed_orders(), 1);
    assert_eq!(sandbox.executed_withdrawals(), 1);
    wait_for(app, &paying, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(25_000_000u64)
    );

    // Sealed at rest, then erased once the payment ended.
    let intent_id = paying["id"].as_str().unwrap().parse().unwrap();
    let row = sqlx::query("SELECT sealed_credentials FROM exchange_accounts")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let stored: String = row.try_get("sealed_credentials").unwrap();
    assert!(!stored.contains(SECRET) && !stored.contains("payer-key"));
    let started = Instant::now();
    loop {
        let accounts = app.store.exchange_accounts_of(&intent_id).await.unwrap();
        if accounts[0].sealed_credentials.is_empty() {
            assert!(accounts[0].erased_at_ms.is_some());
            assert_eq!(accounts[0].status.as_str(), "withdrawn");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "credentials not erased"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A paid intent cannot be paid again.
    expect_error(
        link(
            app,
            &paying,
            json!({"venue": "binance", "api_key": "k", "api_secret": SECRET}),
        )
        .await,
        400,
        "payment_intent_unexpected_state",
    )
    .await;

    // Kraken's client, unchanged but for the base URL, pays another intent; the payer keeps
    // the credentials this time.
    let second = intent(app, "12.50").await;
    let kraken_secret =
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";
    let answer = link(
        app,
        &second,
        json!({"venue": "kraken", "api_key": "k", "api_secret": kraken_secret,
               "withdraw_key": "merchant-devnet-base", "keep_credentials": true}),
    )
    .await;
    assert_eq!(answer.status(), 202, "{}", answer.text().await.unwrap());
    wait_for(app, &second, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(37_500_000u64)
    );
    let kept = app
        .store
        .exchange_accounts_of(&second["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    assert!(!kept[0].sealed_credentials.is_empty(), "kept on request");

    // More than the account can buy: refused with its own code, nothing withdrawn.
    let too_big = intent(app, "500000.00").await;
    expect_error(
        link(
            app,
            &too_big,
            json!({"venue": "binance", "api_key": "k", "api_secret": SECRET}),
        )
        .await,
        400,
        "exchange_insufficient_funds",
    )
    .await;
    assert_eq!(sandbox.executed_withdrawals(), 2);
    assert_eq!(sandbox.duplicate_submissions(), 0);
    assert_eq!(status_of(app, &too_big).await, "awaiting_funds");
    // The venues' trades and fees for the payer are in the ledger: a conversion per trade
    // (USD spent, USDC bought), a fee per trade and per withdrawal (0.10 USDC each).
    let postings = {
        use rialto_gateway::store::ledger::LedgerStore;
        app.store.all_postings().await.unwrap()
    };
    let withdrawal_fees: Vec<_> = postings
        .iter()
        .filter(|p| p.kind == "fee")
        .flat_map(|p| &p.entries)
        .filter(|e| matches!(e.account, Account::VenueFees(_)) && e.asset.ends_with("/usdc"))
        .map(|e| e.amount.to_string())
        .collect();
    assert_eq!(withdrawal_fees, ["0.1", "0.1"], "{postings:?}");
    let conversions = postings.iter().filter(|p| p.kind == "conversion").count();
    assert!(
        conversions >= 1,
        "at least one account bought its USDC: {postings:?}"
    );
    for c in postings.iter().filter(|p| p.kind == "conversion") {
        let spent_usd = c.entries.iter().any(|e| {
            e.account == Account::Payers && e.asset.ends_with("/usd") && e.amount.is_sign_negative()
        });
        assert!(spent_usd, "{c:?}");
    }
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn an_unknown_venue_or_mode_without_venues_is_refused() {
    let app = spawn_app_with(Db::Sqlite, |_| {}).await;
    let paying = app
        .create_intent(json!({"amount": "5.00", "currency": "usd"}))
        .await;
    expect_error(
        link(
            &app,
            &paying,
            json!({"venue": "mtgox", "api_key": "k", "api_secret": "s"}),
        )
        .await,
        400,
        "parameter_invalid",
    )
    .await;
    expect_error(
        link(
            &app,
            &paying,
            json!({"venue": "binance", "api_key": "k", "api_secret": "s"}),
        )
        .await,
        503,
        "exchange_unavailable",
    )
    .await;
}

const KRAKEN_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";

/// The payer's account as the gateway's venue client for `venue` sees it (what a gateway
/// instance that died mid-payment had sent with), and the account's stored legs.
async fn venue_as_the_gateway_sees_it(
    app: &TestApp,
    paying: &Value,
    venue: &str,
    credentials: rialto_gateway::exchange::Credentials,
) -> (
    Box<dyn Exchange>,
    rialto_gateway::store::exchange::ExchangeAccount,
    Pair,
) {
    use rialto_gateway::store::Store;
    let id: PaymentIntentId = paying["id"].as_str().unwrap().parse().unwrap();
    let intent = app.store.get_intent_unscoped(&id).await.unwrap().unwrap();
    let coin = AssetCode::new(&intent.settlement.asset.symbol).unwrap();
    let chain = intent.settlement.asset.id.chain().clone();
    let address = intent.settlement.address.to_string();
    let target = SettlementTarget {
        asset: &coin,
        chain: &chain,
        address: &address,
    };
    let client = app.state.engine.venues[&false]
        .client(venue, &credentials, target)
        .unwrap();
    let account = app.store.exchange_accounts_of(&id).await.unwrap().remove(0);
    (
        client,
        account,
        Pair::new(coin, AssetCode::new("USD").unwrap()),
    )
}

#[tokio::test]
async fn concurrent_resumes_of_one_linked_account_buy_and_withdraw_once() {
    let setup = start(1).await;
    let app = &setup.app;
    let sandbox = app.sandbox_exchange.clone().unwrap();
    let paying = intent(app, "25.00").await;
    let body = json!({"venue": "binance", "api_key": "payer-key", "api_secret": SECRET});
    // Four tabs (or instances) link at once: the account holds 10 USDC, so each one that got
    // through would buy the shortfall; the venue accepts the filled order's id again.
    let (a, b, c, d) = tokio::join!(
        link(app, &paying, body.clone()),
        link(app, &paying, body.clone()),
        link(app, &paying, body.clone()),
        link(app, &paying, body.clone())
    );
    let mut paid = 0;
    for answer in [a, b, c, d] {
        let status = answer.status().as_u16();
        let answer: Value = answer.json().await.unwrap();
        match status {
            202 => paid += 1,
            409 => assert_eq!(answer["error"]["code"], "exchange_payment_in_progress"),
            other => panic!("{other}: {answer}"),
        }
    }
    assert!(paid >= 1);
    assert_eq!(sandbox.executed_orders(), 1, "bought once");
    assert_eq!(sandbox.executed_withdrawals(), 1, "withdrew once");
    assert_eq!(sandbox.duplicate_submissions(), 0);
    wait_for(app, &paying, "succeeded").await;
}

#[tokio::test]
async fn a_resume_after_a_crash_between_sending_and_recording_adopts_what_the_venue_did() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = app.sandbox_exchange.clone().unwrap();
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "25.00").await;
    let body = json!({"venue": "kraken", "api_key": "k", "api_secret": KRAKEN_SECRET,
                      "withdraw_key": "merchant-devnet-base"});
    // The first request stores the account and its legs, then the venue is down: nothing sent.
    sandbox.inject(Operation::Read, Fault::Outage);
    expect_error(
        link(app, &paying, body.clone()).await,
        503,
        "exchange_unavailable",
    )
    .await;
    assert_eq!(sandbox.executed_orders(), 0);
    // Another instance resumed it, bought the shortfall and withdrew with the stored legs, and
    // died before recording either (Kraken takes no client reference for the withdrawal).
    let credentials = rialto_gateway::exchange::Credentials {
        api_key: "k".into(),
        api_secret: KRAKEN_SECRET.into(),
        withdraw_key: Some("merchant-devnet-base".into()),
    };
    let (venue, account, pair) =
        venue_as_the_gateway_sees_it(app, &paying, "kraken", credentials).await;
    let d = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
    let order = OrderRequest {
        leg: account.order_leg.parse().unwrap(),
        pair,
        side: Side::Buy,
        base_size: d("15.14"),
        kind: OrderKind::Market,
    };
    venue.place_order(&order).await.unwrap();
    let withdrawal = WithdrawalRequest {
        leg: account.withdrawal_leg.parse().unwrap(),
        asset: order.pair.base.clone(),
        network: account_chain(app, &paying).await,
        address: MERCHANT.to_owned(),
        amount: d("25.10"),
    };
    venue.withdraw(&withdrawal).await.unwrap();
    assert_eq!(account.status.as_str(), "pending", "nothing was recorded");

    // The payer retries: the venue is asked first, and what it did is adopted.
    let answer = link(app, &paying, body).await;
    assert_eq!(answer.status(), 202, "{}", answer.text().await.unwrap());
    assert_eq!(sandbox.executed_orders(), 1, "not bought again");
    assert_eq!(sandbox.executed_withdrawals(), 1, "not withdrawn again");
    assert_eq!(sandbox.duplicate_submissions(), 0);
    wait_for(app, &paying, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(25_000_000u64)
    );
    let id = paying["id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.exchange_accounts_of(&id).await.unwrap().remove(0);
    let conversion: Value = serde_json::from_str(stored.conversion.as_deref().unwrap()).unwrap();
    assert_eq!(conversion["trade"]["filled_base"], "15.14", "{conversion}");
}

#[tokio::test]
async fn a_resume_after_a_crash_after_the_fill_records_the_trade_and_never_buys_again() {
    let setup = start(1).await;
    let app = &setup.app;
    let sandbox = app.sandbox_exchange.clone().unwrap();
    let paying = intent(app, "25.00").await;
    let body = json!({"venue": "binance", "api_key": "payer-key", "api_secret": SECRET});
    sandbox.inject(Operation::Read, Fault::Outage);
    expect_error(
        link(app, &paying, body.clone()).await,
        503,
        "exchange_unavailable",
    )
    .await;
    let credentials = rialto_gateway::exchange::Credentials {
        api_key: "payer-key".into(),
        api_secret: SECRET.into(),
        withdraw_key: None,
    };
    let (venue, account, pair) =
        venue_as_the_gateway_sees_it(app, &paying, "binance", credentials).await;
    let order = OrderRequest {
        leg: account.order_leg.parse().unwrap(),
        pair,
        side: Side::Buy,
        base_size: "15.14".parse().unwrap(),
        kind: OrderKind::Market,
    };
    venue.place_order(&order).await.unwrap();

    let answer = link(app, &paying, body).await;
    assert_eq!(answer.status(), 202, "{}", answer.text().await.unwrap());
    assert_eq!(sandbox.executed_orders(), 1, "the filled order is adopted");
    assert_eq!(sandbox.executed_withdrawals(), 1);
    let id = paying["id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.exchange_accounts_of(&id).await.unwrap().remove(0);
    let conversion: Value = serde_json::from_str(stored.conversion.as_deref().unwrap()).unwrap();
    assert_eq!(
        conversion["trade"]["filled_base"], "15.14",
        "the ledger learns of the trade: {conversion}"
    );
    wait_for(app, &paying, "succeeded").await;
}

async fn account_chain(app: &TestApp, paying: &Value) -> rialto_core::ChainId {
    use rialto_gateway::store::Store;
    let id: PaymentIntentId = paying["id"].as_str().unwrap().parse().unwrap();
    let intent = app.store.get_intent_unscoped(&id).await.unwrap().unwrap();
    intent.settlement.asset.id.chain().clone()
}
