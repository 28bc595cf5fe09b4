//! Misdirected deposits on the devnet (issue 20, point 4): funds that reach a USDC intent's
//! deposit address but pay nothing of it directly. USDT sent while the intent is open is
//! converted through the router (the devnet's USDC/USDT pool) and pays the merchant exactly;
//! USDT or USDC on the other chain sent to a canceled intent's address, PYUSD (no pool: no
//! route) and native ETH to an open one are detected, never credited, and returned to the sender
//! less the network cost recorded on the row (exactly, on chain); an OFAC-listed sender is
//! neither converted nor returned to and waits for an operator, who resolves it (merchant keys
//! refused). The books balance and reconciliation finds nothing after each.
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address as WireAddress, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use common::devnet::{intent, past_the_deploy, start, start_clocked, status_of, DevnetApp};
use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::ledger::Account;
use rialto_gateway::store::ledger::LedgerStore;
use rialto_gateway::store::money::MoneyStore;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const TORNADO_ROUTER: &str = "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b";

async fn wallet(chain: &ChainManifest) -> DynProvider {
    let key: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse().unwrap();
    ProviderBuilder::new()
        .wallet(key)
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

fn payer_address(chain: &ChainManifest) -> WireAddress {
    let key: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse().unwrap();
    key.address()
}

fn token(chain: &ChainManifest, code: &str) -> WireAddress {
    to_wire(&chain.tokens[code].address).unwrap()
}

async fn balance_of(chain: &ChainManifest, code: &str, owner: WireAddress) -> u128 {
    let node = wallet(chain).await;
    let units: U256 = IERC20::new(token(chain, code), &node)
        .balanceOf(owner)
        .call()
        .await
        .unwrap();
    u128::try_from(units).unwrap()
}

async fn send_token(chain: &ChainManifest, code: &str, to: &str, units: u64) {
    let node = wallet(chain).await;
    let receipt = IERC20::new(token(chain, code), &node)
        .transfer(to.parse().unwrap(), U256::from(units))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
}

async fn deposit_address(app: &TestApp, order: &Value) -> String {
    let id = order["id"].as_str().unwrap();
    let answer: Value = app
        .post(
            &format!("/v1/payment_intents/{id}/deposit_address"),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["address"].as_str().unwrap().to_owned()
}

async fn operator_key(app: &TestApp) -> String {
    rialto_gateway::cli_ops::create_operator(app.store.as_ref(), "ops", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls the operator list until the intent's only misdirected deposit is in `want`; fails
/// after 60 s (a hang, not a timing check).
async fn wait_row(app: &TestApp, operator: &str, order: &Value, want: &str) -> Value {
    let started = Instant::now();
    loop {
        let list: Value = app
            .get("/v1/operator/misdirected_deposits?limit=100", operator)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rows: Vec<&Value> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["payment_intent"] == order["id"])
            .collect();
        if let [row] = rows.as_slice() {
            if row["status"] == want {
                return (*row).clone();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "misdirected deposit of {} not {want}: {list}",
            order["id"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn units(row: &Value, field: &str) -> u128 {
    row[field].as_str().unwrap().parse().unwrap()
}

/// A reconciliation run over everything: its exception kinds.
async fn reconcile(app: &TestApp, operator: &str) -> Vec<String> {
    let run: Value = app
        .post("/v1/reconciliation_runs", operator)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    run["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| format!("{} {}", x["kind"], x["detail"]))
        .collect()
}

/// A devnet whose clock the test holds just past the deploy, so the price feeds the router
/// checks are fresh (the conversion's quote needs them).
async fn start_priced() -> (
    DevnetApp,
    std::sync::Arc<rialto_gateway::clock::ManualClock>,
) {
    use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
    let clock = std::sync::Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup = start_clocked(1, Some(clock.clone() as std::sync::Arc<dyn Clock>)).await;
    past_the_deploy(&setup, &clock).await;
    (setup, clock)
}

async fn cancel(app: &TestApp, order: &Value) {
    let id = order["id"].as_str().unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/cancel"), app.sk())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
}

async fn account(app: &TestApp, account: &Account, asset: &str) -> rust_decimal::Decimal {
    app.store
        .account_balance(account, asset, false)
        .await
        .unwrap()
}

#[tokio::test]
async fn usdt_sent_to_a_canceled_intents_address_is_returned_to_the_sender_less_the_network_cost() {
    let DevnetApp { app, chain, .. } = &start(1).await;
    let operator = operator_key(app).await;
    let order = intent(app, "10.00").await;
    let address = deposit_address(app, &order).await;
    // No longer open: nothing to convert into.
    cancel(app, &order).await;
    let payer = payer_address(chain);
    let before = balance_of(chain, "USDT", payer).await;
    send_token(chain, "USDT", &address, 5_000_000).await;

    let row = wait_row(app, &operator, &order, "returned").await;
    assert_eq!(row["object"], "misdirected_deposit");
    assert_eq!(row["kind"], "other_token", "{row}");
    assert_eq!(row["amount_units"], "5000000");
    assert_eq!(row["amount"], "5");
    assert_eq!(
        row["sender"].as_str().unwrap().to_lowercase(),
        format!("{payer:#x}")
    );
    let cost = units(&row, "network_cost_units");
    assert!(cost > 0 && cost < 5_000_000, "{row}");
    assert_eq!(units(&row, "returned_units"), 5_000_000 - cost);
    // The sender has everything back but the recorded network cost, exactly.
    assert_eq!(balance_of(chain, "USDT", payer).await, before - cost);
    // Never credited.
    assert_eq!(status_of(app, &order).await, "canceled");
    assert_eq!(row["route_execution"], Value::Null);

    let asset = row["asset"].as_str().unwrap();
    assert_eq!(account(app, &Account::Misdirected, asset).await, 0.into());
    let cost_whole: rust_decimal::Decimal = row["network_cost"].as_str().unwrap().parse().unwrap();
    assert_eq!(account(app, &Account::NetworkFees, asset).await, cost_whole);
    assert_eq!(account(app, &Account::Payers, asset).await, -cost_whole);
    assert_ledger_balanced(app).await;
    assert_eq!(reconcile(app, &operator).await, Vec::<String>::new());
}

#[tokio::test]
async fn native_eth_sent_to_a_deposit_address_is_returned_less_the_network_cost() {
    let DevnetApp { app, chain, .. } = &start(1).await;
    let operator = operator_key(app).await;
    let order = intent(app, "10.00").await;
    let address = deposit_address(app, &order).await;
    let node = wallet(chain).await;
    let payer = payer_address(chain);
    let sent = 10u128.pow(16); // 0.01 ETH
    let tx = TransactionRequest::default()
        .with_to(address.parse().unwrap())
        .with_value(U256::from(sent));
    let receipt = node
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    // Read at the send's own block: the gateway may have returned the coins already.
    let after_send = node
        .get_balance(payer)
        .number(receipt.block_number.unwrap())
        .await
        .unwrap();

    let row = wait_row(app, &operator, &order, "returned").await;
    assert_eq!(row["kind"], "native", "{row}");
    assert_eq!(row["token"], Value::Null);
    assert_eq!(units(&row, "amount_units"), sent);
    let cost = units(&row, "network_cost_units");
    assert!(cost > 0 && cost < sent, "{row}");
    assert_eq!(units(&row, "returned_units"), sent - cost);
    assert_eq!(
        node.get_balance(payer).await.unwrap(),
        after_send + U256::from(sent - cost),
        "the sender gets exactly what arrived less the recorded cost"
    );
    assert_eq!(status_of(app, &order).await, "awaiting_funds");
    let asset = row["asset"].as_str().unwrap();
    assert_eq!(account(app, &Account::Misdirected, asset).await, 0.into());
    assert_ledger_balanced(app).await;
    assert_eq!(reconcile(app, &operator).await, Vec::<String>::new());
}

#[tokio::test]
async fn usdc_on_the_other_chain_at_a_canceled_intents_address_is_returned_there() {
    let DevnetApp {
        app,
        chain,
        other_chain,
        ..
    } = &start(1).await;
    let operator = operator_key(app).await;
    let order = intent(app, "10.00").await;
    let address = deposit_address(app, &order).await;
    cancel(app, &order).await;
    let payer = payer_address(other_chain);
    let before = balance_of(other_chain, "USDC", payer).await;
    send_token(other_chain, "USDC", &address, 3_000_000).await;

    let row = wait_row(app, &operator, &order, "returned").await;
    assert_eq!(row["kind"], "wrong_chain", "{row}");
    assert_eq!(row["chain"], other_chain.chain_id.to_string());
    let cost = units(&row, "network_cost_units");
    assert_eq!(balance_of(other_chain, "USDC", payer).await, before - cost);
    // Nothing arrived on the intent's own chain, and nothing was credited.
    assert_eq!(balance_of(chain, "USDC", address.parse().unwrap()).await, 0);
    assert_eq!(status_of(app, &order).await, "canceled");
    assert_ledger_balanced(app).await;
    assert_eq!(reconcile(app, &operator).await, Vec::<String>::new());
}

/// Gives the OFAC-listed address USDT from payer 0 and gas, and a node that sends as it.
async fn listed_sender_with_usdt(chain: &ChainManifest, units: u64) -> DynProvider {
    send_token(chain, "USDT", TORNADO_ROUTER, units).await;
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased();
    let tornado: WireAddress = TORNADO_ROUTER.parse().unwrap();
    node.raw_request::<_, Value>(
        "anvil_setBalance".into(),
        (tornado, U256::from(10u128.pow(18))),
    )
    .await
    .unwrap();
    node.raw_request::<_, Value>("anvil_impersonateAccount".into(), (tornado,))
        .await
        .unwrap();
    node
}

#[tokio::test]
async fn a_listed_sender_is_not_returned_to_and_an_operator_resolves_it() {
    let DevnetApp { app, chain, .. } = &start(1).await;
    let operator = operator_key(app).await;
    let order = intent(app, "10.00").await;
    let address = deposit_address(app, &order).await;
    let node = listed_sender_with_usdt(chain, 2_000_000).await;
    let tornado: WireAddress = TORNADO_ROUTER.parse().unwrap();
    let call = IERC20::transferCall {
        to: address.parse().unwrap(),
        amount: U256::from(2_000_000u64),
    };
    let tx = TransactionRequest::default()
        .with_from(tornado)
        .with_to(token(chain, "USDT"))
        .with_input(call.abi_encode());
    let receipt = node
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());

    let row = wait_row(app, &operator, &order, "needs_operator").await;
    assert_eq!(row["reason"], "destination_refused", "{row}");
    assert_eq!(row["returned_units"], Value::Null);
    assert_eq!(
        balance_of(chain, "USDT", tornado).await,
        0,
        "nothing went back"
    );
    let deposit: WireAddress = address.parse().unwrap();
    assert_eq!(balance_of(chain, "USDT", deposit).await, 2_000_000);
    let id = row["id"].as_str().unwrap();
    let path = format!("/v1/operator/misdirected_deposits/{id}/resolve");

    // Merchants neither list nor resolve.
    let listed = app
        .get("/v1/operator/misdirected_deposits", app.sk())
        .send()
        .await
        .unwrap();
    expect_error(listed, 403, "operator_key_required").await;
    let refused = app
        .post(&path, app.sk())
        .json(&json!({"action": "write_off", "reason": "mine"}))
        .send()
        .await
        .unwrap();
    expect_error(refused, 403, "operator_key_required").await;

    // A return to the listed sender is refused again, and moves nothing.
    let again = app
        .post(&path, &operator)
        .json(&json!({"action": "return"}))
        .send()
        .await
        .unwrap();
    expect_error(again, 409, "misdirected_return_refused").await;
    let bad = app
        .post(&path, &operator)
        .json(&json!({"action": "write_off"}))
        .send()
        .await
        .unwrap();
    expect_error(bad, 400, "parameter_missing").await;
    let unknown = app
        .post(
            "/v1/operator/misdirected_deposits/md_01jd0000000000000000000000/resolve",
            &operator,
        )
        .json(&json!({"action": "write_off", "reason": "x"}))
        .send()
        .await
        .unwrap();
    expect_error(unknown, 404, "resource_missing").await;

    let written: Value = app
        .post(&path, &operator)
        .json(&json!({"action": "write_off", "reason": "sanctioned sender; held for the authorities"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(written["status"], "written_off", "{written}");
    assert_eq!(written["resolved_by"], "operator:ops");
    assert_eq!(
        written["reason"],
        "sanctioned sender; held for the authorities"
    );
    let twice = app
        .post(&path, &operator)
        .json(&json!({"action": "write_off", "reason": "again"}))
        .send()
        .await
        .unwrap();
    expect_error(twice, 409, "misdirected_deposit_not_resolvable").await;

    let asset = row["asset"].as_str().unwrap();
    assert_eq!(account(app, &Account::Misdirected, asset).await, 0.into());
    assert_eq!(
        account(app, &Account::WriteOffs, asset).await,
        "2".parse().unwrap()
    );
    assert_eq!(status_of(app, &order).await, "awaiting_funds");
    let filtered: Value = app
        .get(
            "/v1/operator/misdirected_deposits?status=written_off",
            &operator,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1, "{filtered}");
    let none: Value = app
        .get(
            "/v1/operator/misdirected_deposits?status=returning",
            &operator,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["data"].as_array().unwrap().len(), 0, "{none}");
    assert_ledger_balanced(app).await;
    assert_eq!(reconcile(app, &operator).await, Vec::<String>::new());
}

/// The payer amount of the best quote paying `order` from `asset` on `chain`: what the
/// gateway's own conversion quote asks (same pools, same feeds), in base units (6 decimals).
async fn quoted_units(app: &TestApp, order: &Value, (chain, asset): (&str, &str)) -> u64 {
    let id = order["id"].as_str().unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/quotes"), app.sk())
        .json(&json!({"source": {"type": "wallet", "chain": chain, "asset": asset}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let quotes: Value = answer.json().await.unwrap();
    let amount: rust_decimal::Decimal = quotes["data"][0]["payer_amount"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    u64::try_from(
        (amount * rust_decimal::Decimal::from(1_000_000))
            .normalize()
            .mantissa(),
    )
    .unwrap()
}

/// Polls the route execution until it reaches `want`; fails after 60 s (a hang).
async fn wait_execution(app: &TestApp, id: &str, want: &str) -> Value {
    let started = Instant::now();
    loop {
        let exec: Value = app.get_json(&format!("/v1/route_executions/{id}")).await;
        if exec["status"] == want {
            return exec;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "execution {id} not {want}: {exec}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn usdt_sent_to_an_open_usdc_intent_is_converted_and_pays_the_merchant_exactly() {
    let (setup, _clock) = start_priced().await;
    let DevnetApp { app, chain, .. } = &setup;
    let operator = operator_key(app).await;
    let order = intent(app, "10.00").await;
    let address = deposit_address(app, &order).await;
    let merchant: WireAddress = common::devnet::MERCHANT.parse().unwrap();
    let merchant_before = balance_of(chain, "USDC", merchant).await;
    let payer = payer_address(chain);
    let payer_before = balance_of(chain, "USDT", payer).await;
    let sent = quoted_units(app, &order, ("devnet-base", "usdt")).await;
    assert!(sent > 10_000_000, "the pool's fee is on the payer: {sent}");
    send_token(chain, "USDT", &address, sent).await;

    let row = wait_row(app, &operator, &order, "converted").await;
    assert_eq!(row["kind"], "other_token", "{row}");
    assert_eq!(units(&row, "amount_units"), u128::from(sent));
    assert_eq!(row["returned_units"], Value::Null, "{row}");
    let exec_id = row["route_execution"].as_str().unwrap();
    assert!(exec_id.starts_with("rx_"), "{row}");
    let done = wait_execution(app, exec_id, "succeeded").await;
    assert_eq!(done["payment_intent"], order["id"]);
    assert_eq!(
        done["pay_to"],
        Value::Null,
        "nobody is asked to pay: {done}"
    );
    let legs: Vec<(&str, &str)> = done["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        legs,
        [("dex_swap", "confirmed"), ("settlement", "confirmed")],
        "{done}"
    );
    let started = Instant::now();
    while status_of(app, &order).await != "succeeded" {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "intent not paid"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The merchant holds exactly the intent's amount; the sender's USDT is all gone into it,
    // and nothing is left at the deposit address.
    assert_eq!(
        balance_of(chain, "USDC", merchant).await - merchant_before,
        10_000_000
    );
    assert_eq!(
        balance_of(chain, "USDT", payer).await,
        payer_before - u128::from(sent)
    );
    let deposit: WireAddress = address.parse().unwrap();
    assert_eq!(balance_of(chain, "USDT", deposit).await, 0);

    let asset = row["asset"].as_str().unwrap();
    assert_eq!(account(app, &Account::Misdirected, asset).await, 0.into());
    assert_eq!(account(app, &Account::Payers, asset).await, {
        let whole: rust_decimal::Decimal = row["amount"].as_str().unwrap().parse().unwrap();
        -whole
    });
    let kinds: Vec<String> = app
        .store
        .all_postings()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.kind)
        .collect();
    for kind in [
        "misdirected_received",
        "misdirected_routed",
        "route_conversion",
        "payment",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert!(!kinds.iter().any(|k| k == "route_funding"), "{kinds:?}");
    assert_ledger_balanced(app).await;
    assert_eq!(reconcile(app, &operator).await, Vec::<String>::new());
}

#[tokio::test]
async fn pyusd_sent_to_an_open_usdc_intent_has_no_route_and_is_returned() {
    let (setup, _clock) = start_priced().await;
    let DevnetApp { app, chain, .. } = &setup;
    let operator = operator_key(app).await;
    let order = intent(app, "10.00").await;
    let address = deposit_address(app, &order).await;
    let payer = payer_address(chain);
    let before = balance_of(chain, "PYUSD", payer).await;
    send_token(chain, "PYUSD", &address, 4_000_000).await;

    // The devnet has no PYUSD pool: nothing converts it, it goes back.
    let row = wait_row(app, &operator, &order, "returned").await;
    assert_eq!(row["kind"], "other_token", "{row}");
    assert_eq!(row["route_execution"], Value::Null);
    let cost = units(&row, "network_cost_units");
    assert!(cost > 0 && cost < 4_000_000, "{row}");
    assert_eq!(balance_of(chain, "PYUSD", payer).await, before - cost);
    assert_eq!(status_of(app, &order).await, "awaiting_funds");
    let asset = row["asset"].as_str().unwrap();
    assert_eq!(account(app, &Account::Misdirected, asset).await, 0.into());
    assert_ledger_balanced(app).await;
    assert_eq!(reconcile(app, &operator).await, Vec::<String>::new());
}

#[tokio::test]
async fn usdc_on_the_other_chain_for_an_open_intent_is_bridged_and_pays_the_merchant() {
    let (setup, _clock) = start_priced().await;
    let DevnetApp {
        app,
        chain,
        other_chain,
        ..
    } = &setup;
    let operator = operator_key(app).await;
    let order = intent(app, "10.00").await;
    let address = deposit_address(app, &order).await;
    let merchant: WireAddress = common::devnet::MERCHANT.parse().unwrap();
    let merchant_before = balance_of(chain, "USDC", merchant).await;
    let sent = quoted_units(app, &order, ("devnet-ethereum", "usdc")).await;
    send_token(other_chain, "USDC", &address, sent).await;

    let row = wait_row(app, &operator, &order, "converted").await;
    assert_eq!(row["kind"], "wrong_chain", "{row}");
    assert_eq!(row["chain"], other_chain.chain_id.to_string());
    let exec_id = row["route_execution"].as_str().unwrap();
    let done = wait_execution(app, exec_id, "succeeded").await;
    let legs: Vec<&str> = done["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(legs, ["bridge", "settlement"], "{done}");
    let started = Instant::now();
    while status_of(app, &order).await != "succeeded" {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "intent not paid"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        balance_of(chain, "USDC", merchant).await - merchant_before,
        10_000_000
    );
    let deposit: WireAddress = address.parse().unwrap();
    assert_eq!(balance_of(other_chain, "USDC", deposit).await, 0);
    let asset = row["asset"].as_str().unwrap();
    assert_eq!(account(app, &Account::Misdirected, asset).await, 0.into());
    assert_ledger_balanced(app).await;
    assert_eq!(reconcile(app, &operator).await, Vec::<String>::new());
}
