//! Gasless payments relayed in `BatchRelayer` batches through the gateway, on the local devnet
//! (real anvil chains, Circle's FiatToken USDC): concurrent authorizations land in one batch
//! and each intent is paid exactly; a refused authorization fails alone; batches go out from
//! two nonce lanes at once; a batch is no larger than its chain's block holds; a batch recorded but never sent before a crash (the real `rialto`
//! binary, SIGKILLed) is sent once after the restart and pays each intent once.
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use common::devnet::{
    intent, pay_usdc, start_configured, status_of, usdc_balance, wait_for, DevnetApp, MERCHANT,
};
use common::eip3009::{authorization_for, authorization_from_request, body_of};
use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_evm::eip3009;
use rialto_evm::manifest::ChainManifest;
use rialto_gateway::store::chain::ChainStore;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// A devnet gateway relaying in batches of `max_batch` (never a smaller one on a timer), each
/// request answering within `answer_ms` at the latest.
async fn batched(max_batch: usize, answer_ms: u64) -> DevnetApp {
    start_configured(1, None, None, None, move |c| {
        c.sandbox.batch_relay.enabled = true;
        c.sandbox.batch_relay.max_batch = max_batch;
        c.sandbox.batch_relay.max_wait_ms = 600_000;
        c.sandbox.batch_relay.answer_within_ms = answer_ms;
    })
    .await
}

fn payer_key(chain: &ChainManifest, payer: usize) -> PrivateKeySigner {
    chain.payers[payer]
        .private_key
        .expose_secret()
        .parse()
        .unwrap()
}

async fn node(chain: &ChainManifest) -> DynProvider {
    ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

async fn rpc(chain: &ChainManifest, method: &'static str, params: Value) {
    let _: Value = node(chain)
        .await
        .raw_request(method.into(), params)
        .await
        .unwrap();
}

/// An intent of `amount` and `key`'s signed authorization paying it.
async fn signed(app: &TestApp, amount: &str, key: &PrivateKeySigner) -> (Value, Value) {
    let paying = intent(app, amount).await;
    let (domain, auth) = authorization_for(app, &paying, key).await;
    let signature = eip3009::sign(key, &domain, &auth).unwrap();
    (paying, body_of(&auth, &signature))
}

async fn submit(app: &TestApp, intent: &Value, body: &Value) -> reqwest::Response {
    let id = intent["id"].as_str().unwrap();
    app.post(
        &format!("/v1/payment_intents/{id}/authorizations"),
        app.sk(),
    )
    .json(body)
    .send()
    .await
    .unwrap()
}

/// All submitted at once.
async fn submit_all(app: &TestApp, payments: &[(Value, Value)]) -> Vec<reqwest::Response> {
    futures::future::join_all(payments.iter().map(|(i, b)| submit(app, i, b))).await
}

/// All submitted at once; each must answer `202 relayed`. Their transactions, in order.
async fn relayed_hashes(app: &TestApp, payments: &[(Value, Value)]) -> Vec<String> {
    let mut hashes = Vec::new();
    for answer in submit_all(app, payments).await {
        assert_eq!(answer.status(), 202);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["status"], "relayed", "{body}");
        hashes.push(body["tx_hash"].as_str().unwrap().to_owned());
    }
    hashes
}

fn units(amount: &str) -> U256 {
    let whole: rust_decimal::Decimal = amount.parse().unwrap();
    U256::from(u64::try_from((whole * rust_decimal::Decimal::from(1_000_000)).trunc()).unwrap())
}

/// The mined batch transaction: who sent it, to what, in which block.
async fn mined(
    chain: &ChainManifest,
    tx: &str,
) -> (rialto_core::Address, rialto_core::Address, u64) {
    let receipt = node(chain)
        .await
        .get_transaction_receipt(tx.parse().unwrap())
        .await
        .unwrap()
        .expect("batch mined");
    assert!(receipt.status());
    (
        rialto_evm::contracts::from_wire(receipt.from),
        rialto_evm::contracts::from_wire(receipt.to.unwrap()),
        receipt.block_number.unwrap(),
    )
}

#[tokio::test]
async fn concurrent_gasless_payments_land_in_one_batch_and_each_intent_is_paid_exactly() {
    let setup = batched(4, 30_000).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let amounts = ["10.00", "11.50", "12.25", "13.01"];
    let mut payments = Vec::new();
    for (i, amount) in amounts.iter().enumerate() {
        payments.push(signed(app, amount, &payer_key(chain, i % 3)).await);
    }
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let mut payers_before = Vec::new();
    for p in &chain.payers {
        payers_before.push(usdc_balance(chain, &p.address.to_string()).await);
    }

    let hashes = relayed_hashes(app, &payments).await;
    assert!(
        hashes.windows(2).all(|w| w[0] == w[1]),
        "one batch: {hashes:?}"
    );
    for (paying, _) in &payments {
        wait_for(app, paying, "succeeded").await;
    }

    let total: U256 = amounts.iter().map(|a| units(a)).sum();
    assert_eq!(usdc_balance(chain, MERCHANT).await - merchant_before, total);
    for (p, payer) in chain.payers.iter().enumerate() {
        let paid: U256 = amounts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 == p)
            .map(|(_, a)| units(a))
            .sum();
        let now = usdc_balance(chain, &payer.address.to_string()).await;
        assert_eq!(payers_before[p] - now, paid, "payer {p} debited exactly");
    }
    let (from, to, _) = mined(chain, &hashes[0]).await;
    assert_eq!(Some(to), chain.batch_relayer, "sent to the BatchRelayer");
    assert!(
        chain.relay_lanes.iter().any(|l| l.address == from),
        "sent from a relay lane, not the hot wallet"
    );
    // Each intent's payment transaction is the batch, with its own payer and amount.
    for ((paying, body), amount) in payments.iter().zip(amounts) {
        let id: rialto_core::id::PaymentIntentId = paying["id"].as_str().unwrap().parse().unwrap();
        let txs = app.store.payment_transactions_of(&id).await.unwrap();
        assert_eq!(txs.len(), 1);
        assert_eq!(txs[0].tx_hash, hashes[0]);
        assert_eq!(
            txs[0].payer,
            body["from"].as_str().unwrap().to_ascii_lowercase()
        );
        assert_eq!(units(&txs[0].amount), units(amount));
    }
    // The same authorization again moves nothing.
    expect_error(
        submit(app, &payments[0].0, &payments[0].1).await,
        409,
        "authorization_nonce_used",
    )
    .await;
    assert_eq!(usdc_balance(chain, MERCHANT).await - merchant_before, total);
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn one_refused_authorization_in_a_batch_fails_alone_and_its_intent_still_awaits_payment() {
    let setup = batched(3, 30_000).await;
    let (app, chain) = (&setup.app, &setup.chain);
    // A payer holding 15 USDC signs two payments of 10: each passes every check alone (its
    // balance covers it), but in one batch the token refuses whichever comes second.
    let short: PrivateKeySigner =
        "0x1111111111111111111111111111111111111111111111111111111111111111"
            .parse()
            .unwrap();
    let short_address = short.address().to_string();
    pay_usdc(chain, 2, &short_address, U256::from(15_000_000u64)).await;
    let payments = vec![
        signed(app, "10.00", &payer_key(chain, 0)).await,
        signed(app, "10.00", &short).await,
        signed(app, "10.00", &short).await,
    ];
    let merchant_before = usdc_balance(chain, MERCHANT).await;

    let answers = submit_all(app, &payments).await;
    let mut relayed = Vec::new();
    let mut refused = Vec::new();
    for (i, answer) in answers.into_iter().enumerate() {
        if answer.status() == 202 {
            let body: Value = answer.json().await.unwrap();
            relayed.push((i, body["tx_hash"].as_str().unwrap().to_owned()));
        } else {
            let body = expect_error(answer, 400, "authorization_would_revert").await;
            assert!(
                body["message"].as_str().unwrap().contains("nothing moved"),
                "{body}"
            );
            refused.push(i);
        }
    }
    assert_eq!(refused.len(), 1, "exactly one refused: {refused:?}");
    assert!(refused[0] >= 1, "the refused one is the short payer's");
    assert_eq!(relayed.len(), 2);
    assert_eq!(relayed[0].1, relayed[1].1, "the others went in one batch");
    for (i, _) in &relayed {
        wait_for(app, &payments[*i].0, "succeeded").await;
    }
    assert_eq!(
        status_of(app, &payments[refused[0]].0).await,
        "awaiting_funds"
    );
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        U256::from(20_000_000u64)
    );
    assert_eq!(
        usdc_balance(chain, &short_address).await,
        U256::from(5_000_000u64),
        "the short payer paid once"
    );
    let id: rialto_core::id::PaymentIntentId = payments[refused[0]].0["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(app
        .store
        .payment_transactions_of(&id)
        .await
        .unwrap()
        .is_empty());
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn batches_go_out_from_two_nonce_lanes_at_once() {
    // Answers come once the batches are recorded: mining is paused until both are in flight.
    let setup = batched(2, 1_500).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let mut payments = Vec::new();
    for i in 0..4 {
        payments.push(signed(app, "5.00", &payer_key(chain, i % 3)).await);
    }
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    rpc(chain, "evm_setAutomine", json!([false])).await;
    let mut hashes = std::collections::BTreeSet::new();
    for answer in submit_all(app, &payments).await {
        assert_eq!(answer.status(), 202);
        let body: Value = answer.json().await.unwrap();
        hashes.insert(body["tx_hash"].as_str().unwrap().to_owned());
    }
    assert_eq!(hashes.len(), 2, "two batches of two: {hashes:?}");
    // Both in flight at once, each at its own lane's nonce: one block takes both.
    rpc(chain, "evm_mine", json!([])).await;
    rpc(chain, "evm_setAutomine", json!([true])).await;
    let mut senders = std::collections::BTreeSet::new();
    let mut blocks = std::collections::BTreeSet::new();
    for tx in &hashes {
        let (from, _, block) = mined(chain, tx).await;
        assert!(chain.relay_lanes.iter().any(|l| l.address == from));
        senders.insert(from.to_string());
        blocks.insert(block);
    }
    assert_eq!(senders.len(), 2, "two lanes");
    assert_eq!(blocks.len(), 1, "mined together");
    for (paying, _) in &payments {
        wait_for(app, paying, "succeeded").await;
    }
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        U256::from(20_000_000u64)
    );
}

/// A batch never asks for more gas than its chain's block holds: a node refuses such a
/// transaction at every broadcast, and its payments would wait for ever. With blocks of
/// 400,000 gas (the computed limit of two items fits, of three does not), four payments
/// queued for batches of four go out as two batches of two, and each lands.
#[tokio::test]
async fn a_batch_is_no_larger_than_the_chains_block_holds_and_every_payment_lands() {
    use alloy::consensus::Transaction as _;
    let setup = batched(4, 30_000).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let block_gas = 400_000u64;
    rpc(
        chain,
        "evm_setBlockGasLimit",
        json!([format!("{block_gas:#x}")]),
    )
    .await;
    // The next block carries the new limit, and the node checks transactions against it.
    rpc(chain, "evm_mine", json!([])).await;
    let mut payments = Vec::new();
    for i in 0..4 {
        payments.push(signed(app, "1.00", &payer_key(chain, i % 3)).await);
    }
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let hashes = relayed_hashes(app, &payments).await;
    let batches: std::collections::BTreeSet<_> = hashes.iter().collect();
    assert_eq!(batches.len(), 2, "two batches of two: {hashes:?}");
    for tx in batches {
        assert_eq!(hashes.iter().filter(|h| *h == tx).count(), 2, "{hashes:?}");
        let sent = node(chain)
            .await
            .get_transaction_by_hash(tx.parse().unwrap())
            .await
            .unwrap()
            .expect("batch known");
        assert!(sent.gas_limit() <= block_gas, "{}", sent.gas_limit());
        mined(chain, tx).await;
    }
    for (paying, _) in &payments {
        wait_for(app, paying, "succeeded").await;
    }
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        U256::from(4_000_000u64)
    );
}

/// Polls until every intent succeeded (through restarts).
async fn wait_all_succeeded(api: &common::chaos::Api, ids: &[String]) {
    let started = Instant::now();
    for id in ids {
        loop {
            let intent = api.get(&format!("/v1/payment_intents/{id}")).await;
            if intent["status"] == "succeeded" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{id} stuck in {}",
                intent["status"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_batch_recorded_but_never_sent_before_a_crash_is_sent_once_after_the_restart() {
    let mut chaos = common::chaos::start("Batch crash shop", None).await;
    chaos.gateway.env = [
        ("RIALTO__SANDBOX__BATCH_RELAY__ENABLED", "true"),
        ("RIALTO__SANDBOX__BATCH_RELAY__MAX_BATCH", "3"),
        ("RIALTO__SANDBOX__BATCH_RELAY__MAX_WAIT_MS", "600000"),
        ("RIALTO__SANDBOX__BATCH_RELAY__ANSWER_WITHIN_MS", "1000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    chaos.gateway.start();
    let chain = chaos
        .devnet
        .manifest()
        .chain("devnet-base")
        .unwrap()
        .clone();
    let api = chaos.api.clone();
    let mut payments = Vec::new();
    for i in 0..3 {
        let (_, created) = api
            .post_settled(
                "/v1/payment_intents",
                &json!({"amount": "7.00", "currency": "usd",
                        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}),
                &format!("batch-crash-{i}"),
            )
            .await;
        let id = created["id"].as_str().expect("intent created").to_owned();
        let request = api
            .get(&format!("/v1/payment_intents/{id}/authorization_request"))
            .await;
        let key = payer_key(&chain, i);
        let (domain, auth) = authorization_from_request(&request, &key);
        let body = body_of(&auth, &eip3009::sign(&key, &domain, &auth).unwrap());
        payments.push((id, body));
    }
    let merchant_before = usdc_balance(&chain, MERCHANT).await;
    // Mining paused: the batch is recorded and handed to the node, but never mined…
    rpc(&chain, "evm_setAutomine", json!([false])).await;
    let paths: Vec<String> = payments
        .iter()
        .map(|(id, _)| format!("/v1/payment_intents/{id}/authorizations"))
        .collect();
    let answers = futures::future::join_all(
        paths
            .iter()
            .zip(&payments)
            .map(|(path, (_, body))| api.call(path, Some(body), None)),
    )
    .await;
    let recorded: Vec<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 202, "{body}");
            body["tx_hash"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(recorded.windows(2).all(|w| w[0] == w[1]), "{recorded:?}");
    // …then the gateway dies and the node forgets the transaction: as if the crash came
    // between recording the batch and sending it.
    chaos.gateway.kill();
    rpc(&chain, "anvil_dropAllTransactions", json!([])).await;
    rpc(&chain, "evm_setAutomine", json!([true])).await;
    chaos.gateway.start();
    let ids: Vec<String> = payments.iter().map(|(id, _)| id.clone()).collect();
    wait_all_succeeded(&api, &ids).await;
    // The recorded batch itself was sent, once; each intent paid once.
    let (_, to, _) = mined(&chain, &recorded[0]).await;
    assert_eq!(Some(to), chain.batch_relayer);
    assert_eq!(
        usdc_balance(&chain, MERCHANT).await - merchant_before,
        U256::from(21_000_000u64)
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&chaos.url).await.unwrap();
    let (batches,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM chain_transfers WHERE purpose = 'eip3009_batch'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(batches, 1, "one batch transaction recorded");
    // A payer retrying after the restart is told it already paid; nothing moves.
    let (status, body) = api
        .call(
            &format!("/v1/payment_intents/{}/authorizations", payments[0].0),
            Some(&payments[0].1),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("authorization_nonce_used"))
    );
    assert_eq!(
        usdc_balance(&chain, MERCHANT).await - merchant_before,
        U256::from(21_000_000u64)
    );
}
