//! Intents priced in a fiat currency other than their settlement asset's (EUR, GBP, JPY settling
//! in USDC), paid end to end on the devnet (two anvil chains, Chainlink `MockV3Aggregator` feeds
//! at EUR/USD 1.08, GBP/USD 1.27, JPY/USD 0.0067, USDC/USD 1.00): the rate is locked when the
//! payer commits (a rate lock for a reported transfer, an EIP-3009 authorization request, a
//! deposit address), shown on the intent and its events with the feed rounds, and the merchant
//! receives exactly the locked amount. docs/money.md, "Fiat pricing and FX locks".
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use std::sync::Arc;

use alloy::primitives::{aliases::U80, I256, U256};
use alloy::providers::ProviderBuilder;
use common::devnet::{
    deposit_address, past_the_deploy, pay_usdc, payer_proof, settings, start_clocked, usdc_balance,
    wait_for, DevnetApp, MERCHANT,
};
use common::eip3009::{authorization_for, body_of, submit_auth};
use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_evm::contracts::{to_wire, IMockV3Aggregator};
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::ledger::Account;
use rialto_gateway::store::chain::ChainStore;
use rialto_gateway::store::money::MoneyStore;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// A devnet whose gateway runs on a clock the test moves, set just past the deploy's blocks
/// (the sequencer mocks are "up since deployment").
async fn clocked() -> (DevnetApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup = start_clocked(1, Some(clock.clone() as Arc<dyn Clock>)).await;
    past_the_deploy(&setup, &clock).await;
    (setup, clock)
}

/// An intent for `amount` `currency` settling in USDC on `devnet-base` to [`MERCHANT`].
async fn priced(app: &TestApp, amount: &str, currency: &str) -> Value {
    app.create_intent(
        json!({"amount": amount, "currency": currency, "expires_in": 3600,
        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}),
    )
    .await
}

fn id(intent: &Value) -> &str {
    intent["id"].as_str().unwrap()
}

async fn lock_rate(app: &TestApp, intent: &Value) -> reqwest::Response {
    app.post(
        &format!("/v1/payment_intents/{}/fx_lock", id(intent)),
        app.sk(),
    )
    .send()
    .await
    .unwrap()
}

async fn locked(app: &TestApp, intent: &Value) -> Value {
    let answer = lock_rate(app, intent).await;
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

async fn retrieve(app: &TestApp, intent: &Value) -> Value {
    app.get_json(&format!("/v1/payment_intents/{}", id(intent)))
        .await
}

fn units(amount: &str) -> U256 {
    let whole: Decimal = amount.parse().unwrap();
    U256::from(u64::try_from((whole * Decimal::from(1_000_000)).normalize().mantissa()).unwrap())
}

/// The pairs of a lock's feed rounds, each with a round id (a decimal string) and a time.
fn rounds(fx: &Value) -> Vec<String> {
    let rounds = fx["feed_rounds"].as_array().unwrap();
    for round in rounds {
        let round_id = round["round_id"].as_str().unwrap();
        assert!(round_id.parse::<u128>().unwrap() > 0, "{round}");
        assert!(
            round["updated_at"].as_u64().unwrap() > 1_700_000_000,
            "{round}"
        );
    }
    rounds
        .iter()
        .map(|r| r["pair"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs a reconciliation with an operator key and returns its exceptions.
async fn reconciliation_exceptions(app: &TestApp) -> Value {
    let operator = rialto_gateway::cli_ops::create_operator(app.store.as_ref(), "ops", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = app
        .post("/v1/reconciliation_runs", &operator)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let run: Value = answer.json().await.unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    run["exceptions"].clone()
}

/// Posts a round to `pair`'s mock feed on `chain` whose `updatedAt` is `age_secs` old.
async fn age_feed(chain: &ChainManifest, pair: &str, answer: i64, age_secs: u64, now: u64) {
    let signer: alloy::signers::local::PrivateKeySigner =
        chain.payers[0].private_key.expose_secret().parse().unwrap();
    let node = ProviderBuilder::new()
        .wallet(signer)
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    let mock = IMockV3Aggregator::new(to_wire(&chain.feeds[pair].address).unwrap(), &node);
    let old = U256::from(now - age_secs);
    mock.updateRoundData(U80::from(77), I256::try_from(answer).unwrap(), old, old)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_eur_intent_paid_in_usdc_settles_the_locked_amount_exactly_and_shows_the_chainlink_rounds(
) {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let start = usdc_balance(chain, MERCHANT).await;

    // A reported transfer: the payer locks the rate, sends what it says, reports it.
    let reported = priced(app, "12.34", "eur").await;
    assert!(
        retrieve(app, &reported).await["fx"].is_null(),
        "no lock before the payer commits"
    );
    let fx = locked(app, &reported).await;
    // 12.34 × 1.08 / 1.00 = 13.3272, exact at USDC's 6 decimals; no spread on a direct payment.
    assert_eq!(fx["pair"], "EUR/USDC");
    assert_eq!(fx["payer_amount"], "13.3272");
    assert_eq!(fx["settlement_amount"], "13.3272");
    assert_eq!(
        (fx["spread_bps"].as_u64(), &fx["spread_amount"]),
        (Some(0), &json!("0"))
    );
    assert_eq!(fx["mid_rate"], "1.08");
    assert_eq!(rounds(&fx), ["EUR/USD", "USDC/USD"]);
    // Asking again while the lock lives answers the same lock.
    assert_eq!(locked(app, &reported).await, fx);
    let wallet = common::devnet::payer_wallet(chain, 0).await;
    let hash = {
        let token = rialto_evm::contracts::IERC20::new(
            to_wire(&chain.tokens["USDC"].address).unwrap(),
            &wallet,
        );
        let receipt = token
            .transfer(MERCHANT.parse().unwrap(), units("13.3272"))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        format!("{:#x}", receipt.transaction_hash)
    };
    let answer = app
        .post(
            &format!("/v1/payment_intents/{}/transactions", id(&reported)),
            app.sk(),
        )
        .json(&json!({"tx_hash": hash,
            "signature": payer_proof(chain, 0, id(&reported), &hash).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    wait_for(app, &reported, "succeeded").await;
    let paid = retrieve(app, &reported).await;
    assert_eq!(
        (&paid["amount"], &paid["currency"]),
        (&json!("12.34"), &json!("eur"))
    );
    assert_eq!(paid["fx"], fx, "the intent keeps the lock it was paid at");

    // An EIP-3009 authorization: the typed data asks for the locked amount, valid only as long
    // as the lock.
    let authorized = priced(app, "7.77", "eur").await;
    let key: alloy::signers::local::PrivateKeySigner =
        chain.payers[0].private_key.expose_secret().parse().unwrap();
    let (domain, auth) = authorization_for(app, &authorized, &key).await;
    let fx_auth = retrieve(app, &authorized).await["fx"].clone();
    assert_eq!(fx_auth["payer_amount"], "8.3916");
    assert_eq!(auth.value, units("8.3916"));
    assert!(auth.valid_before <= fx_auth["expires_at"].as_u64().unwrap());
    let signature = rialto_evm::eip3009::sign(&key, &domain, &auth).unwrap();
    let answer = submit_auth(app, &authorized, &body_of(&auth, &signature)).await;
    assert_eq!(
        answer.status(),
        202,
        "relayed: {}",
        answer.text().await.unwrap()
    );
    wait_for(app, &authorized, "succeeded").await;

    // A deposit address asks for the locked amount; the sweep pays it to the merchant.
    let deposited = priced(app, "20.01", "eur").await;
    let deposit = deposit_address(app, &deposited).await;
    let fx_deposit = retrieve(app, &deposited).await["fx"].clone();
    assert_eq!(fx_deposit["payer_amount"], "21.6108");
    pay_usdc(chain, 0, &deposit, units("21.6108")).await;
    wait_for(app, &deposited, "succeeded").await;

    // The merchant received exactly the three locked amounts.
    let received = usdc_balance(chain, MERCHANT).await - start;
    assert_eq!(
        received,
        units("13.3272") + units("8.3916") + units("21.6108")
    );

    // The webhook event (the receipt a merchant's system gets) carries the lock and its rounds.
    let events = app
        .get_json("/v1/events?type=payment_intent.succeeded&limit=100")
        .await;
    let event = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["object"]["id"] == reported["id"])
        .expect("the succeeded event")
        .clone();
    assert_eq!(event["data"]["object"]["fx"], fx);
    assert_ledger_balanced(app).await;
    assert_eq!(reconciliation_exceptions(app).await, json!([]));
}

#[tokio::test]
async fn gbp_and_jpy_intents_lock_at_the_feed_rates_and_a_stale_feed_locks_nothing() {
    let (setup, clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);

    // 10.01 × 1.27 = 12.7127; 1500 JPY × 0.0067 = 10.05 (the yen has no minor unit).
    let pounds = priced(app, "10.01", "gbp").await;
    let fx = locked(app, &pounds).await;
    assert_eq!(
        (&fx["pair"], &fx["payer_amount"]),
        (&json!("GBP/USDC"), &json!("12.7127"))
    );
    assert_eq!(rounds(&fx), ["GBP/USD", "USDC/USD"]);
    let yen = priced(app, "1500", "jpy").await;
    let fx_yen = locked(app, &yen).await;
    assert_eq!(
        (&fx_yen["pair"], &fx_yen["payer_amount"]),
        (&json!("JPY/USDC"), &json!("10.05"))
    );
    assert_eq!(rounds(&fx_yen), ["JPY/USD", "USDC/USD"]);
    assert_eq!(retrieve(app, &yen).await["fx"], fx_yen);

    // A deposit address for the yen intent, a first part paid, then the lock expires: funds
    // were seen, so the lock is final and the rest is owed at the same rate.
    let deposit = deposit_address(app, &yen).await;
    pay_usdc(chain, 0, &deposit, units("4")).await;
    let started = std::time::Instant::now();
    while app
        .store
        .payment_transactions_of(&id(&yen).parse().unwrap())
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "deposit never seen"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Past the lock of the pound intent too, with nothing paid: a fresh lock replaces it.
    clock.advance_ms(601_000);
    deposit_address(app, &yen).await;
    assert_eq!(
        retrieve(app, &yen).await["fx"],
        fx_yen,
        "final once funds were seen"
    );
    let relocked = locked(app, &pounds).await;
    assert!(
        relocked["locked_at"].as_u64() > fx["locked_at"].as_u64(),
        "{relocked}"
    );
    assert_eq!(relocked["payer_amount"], "12.7127");
    pay_usdc(chain, 0, &deposit, units("6.05")).await;
    wait_for(app, &yen, "succeeded").await;

    // EUR/USD three days old on both chains: no lock, a stable code, nothing stored.
    let now = u64::try_from(clock.now_ms() / 1000).unwrap();
    for chain in [&setup.chain, &setup.other_chain] {
        age_feed(chain, "EUR/USD", 108_000_000, 3 * 86_400, now).await;
    }
    let euros = priced(app, "5.00", "eur").await;
    let refused = expect_error(lock_rate(app, &euros).await, 503, "oracle_unavailable").await;
    assert!(
        refused["message"].as_str().unwrap().contains("EUR/USD"),
        "{refused}"
    );
    assert!(retrieve(app, &euros).await["fx"].is_null());
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn a_batched_merchant_keeps_its_locked_amount_and_the_spread_is_booked_as_fx_revenue() {
    let (setup, _clock) = clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    settings(
        app,
        json!({"settlement_schedule": "batched", "payout_interval_secs": 86_400,
            "fx_spread_bps": 50}),
    )
    .await;
    let intent = priced(app, "100.00", "eur").await;
    // A reported transfer goes straight to the merchant: no spread there, whatever the setting.
    assert_eq!(locked(app, &intent).await["spread_bps"], 0);
    // A deposit address (swept to Rialto's treasury for this merchant) carries it:
    // mid 108, payer 108 × 1.005 = 108.54, spread 0.54.
    let deposit = deposit_address(app, &intent).await;
    let fx = retrieve(app, &intent).await["fx"].clone();
    assert_eq!(fx["spread_bps"], 50);
    assert_eq!(
        (
            &fx["settlement_amount"],
            &fx["spread_amount"],
            &fx["payer_amount"]
        ),
        (&json!("108"), &json!("0.54"), &json!("108.54"))
    );
    pay_usdc(chain, 0, &deposit, units("108.54")).await;
    wait_for(app, &intent, "succeeded").await;

    let balance = app.get_json("/v1/balance").await;
    assert_eq!(balance["available"][0]["amount"], "108", "{balance}");
    let asset = intent["settlement"]["asset_id"].as_str().unwrap();
    let revenue = app
        .store
        .account_balance(&Account::FxRevenue, asset, false)
        .await
        .unwrap();
    assert_eq!(revenue, "0.54".parse::<Decimal>().unwrap());
    assert_ledger_balanced(app).await;
    assert_eq!(reconciliation_exceptions(app).await, json!([]));
}
