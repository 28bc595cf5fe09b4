//! Sandbox intents paid end to end on the local devnet (real anvil chains, Circle's FiatToken
//! USDC) in all three wallet ways — a reported transfer, a relayed EIP-3009 authorization and a
//! per-intent deposit address swept to the merchant — each reaching `succeeded` with the
//! merchant's on-chain balance up by exactly the intent amount. Bad authorizations are refused
//! and move nothing; a reorg that removes a payment never settles it.
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address as WireAddress, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use common::eip3009::{authorization_for, body_of, submit_auth};
use common::{assert_ledger_balanced, expect_error};
use rialto_core::address::Address;
use rialto_core::ChainNamespace;
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::eip3009::{self, Authorization, TokenDomain};
use rialto_evm::manifest::ChainManifest;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use common::devnet::{
    intent, payer_proof, start as setup, status_of, usdc_balance, wait_for, MERCHANT,
};

fn usdc(chain: &ChainManifest) -> WireAddress {
    to_wire(&chain.tokens["USDC"].address).unwrap()
}

fn payer_key(chain: &ChainManifest) -> PrivateKeySigner {
    chain.payers[0].private_key.expose_secret().parse().unwrap()
}

async fn wallet(chain: &ChainManifest) -> DynProvider {
    ProviderBuilder::new()
        .wallet(payer_key(chain))
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

async fn node(chain: &ChainManifest) -> DynProvider {
    ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

async fn pay(wallet: &DynProvider, chain: &ChainManifest, to: &str, units: u64) -> String {
    let receipt = IERC20::new(usdc(chain), wallet)
        .transfer(to.parse().unwrap(), U256::from(units))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    format!("{:#x}", receipt.transaction_hash)
}

#[tokio::test]
async fn a_reported_transfer_succeeds_and_the_merchant_holds_exactly_the_amount() {
    let setup = setup(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "25.00").await;
    let hash = pay(&wallet(chain).await, chain, MERCHANT, 25_000_000).await;
    let id = paying["id"].as_str().unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/transactions"), app.sk())
        .json(&json!({"tx_hash": hash, "signature": payer_proof(chain, 0, id, &hash).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    wait_for(app, &paying, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(25_000_000u64)
    );
    let events: Value = app.get_json("/v1/events?limit=100").await;
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == paying["id"])
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for kind in [
        "payment_intent.funds_received",
        "payment_intent.settling",
        "payment_intent.succeeded",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    // The ledger: paid in, then settled to the merchant's address; nothing left held.
    let balance: Value = app.get_json("/v1/balance").await;
    assert_eq!(balance["available"], json!([]), "{balance}");
    assert_eq!(balance["settled"][0]["amount"], "25", "{balance}");
    let txs: Value = app.get_json("/v1/balance_transactions").await;
    let types: Vec<&str> = txs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["settlement", "payment"], "newest first: {txs}");
    assert_eq!(txs["data"][1]["source"], paying["id"]);
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn a_gasless_authorization_is_relayed_once_and_bad_ones_move_nothing() {
    let setup = setup(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let key = payer_key(chain);
    let payer = chain.payers[0].address.to_string();
    let merchant_before = usdc_balance(chain, MERCHANT).await;
    let payer_before = usdc_balance(chain, &payer).await;

    let paying = intent(app, "25.00").await;
    let (domain, auth) = authorization_for(app, &paying, &key).await;
    assert_eq!(auth.value, U256::from(25_000_000u64));
    let sign = |d: &TokenDomain, a: &Authorization| eip3009::sign(&key, d, a).unwrap();

    // Each bad variant is refused before anything is sent.
    let mut expired = auth.clone();
    expired.valid_before = 1;
    let mut short = auth.clone();
    short.value = U256::from(24_999_999u64);
    let mut elsewhere = auth.clone();
    elsewhere.to = Address::parse(
        "0x000000000000000000000000000000000000dEaD",
        ChainNamespace::Eip155,
    )
    .unwrap();
    let mut other_nonce = auth.clone();
    other_nonce.nonce = eip3009::intent_nonce(
        "pi_someone_else",
        domain.chain_id,
        &domain.verifying_contract,
    );
    let cases = [
        (
            body_of(&expired, &sign(&domain, &expired)),
            "authorization_expired",
        ),
        (
            body_of(&short, &sign(&domain, &short)),
            "authorization_amount_too_low",
        ),
        (
            body_of(&elsewhere, &sign(&domain, &elsewhere)),
            "authorization_wrong_recipient",
        ),
        (
            body_of(&other_nonce, &sign(&domain, &other_nonce)),
            "authorization_nonce_mismatch",
        ),
    ];
    for (body, code) in cases {
        expect_error(submit_auth(app, &paying, &body).await, 400, code).await;
    }
    // Signed for the other devnet chain: the chain id it names is refused…
    let other_chain_id: u64 = setup.other_chain.chain_id.to_string()[7..].parse().unwrap();
    let foreign = TokenDomain {
        chain_id: other_chain_id,
        ..domain.clone()
    };
    let mut wrong_chain = body_of(&auth, &sign(&foreign, &auth));
    wrong_chain["chain_id"] = json!(other_chain_id);
    expect_error(
        submit_auth(app, &paying, &wrong_chain).await,
        400,
        "authorization_wrong_chain",
    )
    .await;
    // …and without saying so, its signature does not recover to the payer here.
    wrong_chain.as_object_mut().unwrap().remove("chain_id");
    expect_error(
        submit_auth(app, &paying, &wrong_chain).await,
        400,
        "authorization_signer_mismatch",
    )
    .await;
    // Another key signing for the payer.
    let stranger: PrivateKeySigner = chain.payers[1].private_key.expose_secret().parse().unwrap();
    let forged = eip3009::sign(&stranger, &domain, &auth).unwrap();
    expect_error(
        submit_auth(app, &paying, &body_of(&auth, &forged)).await,
        400,
        "authorization_signer_mismatch",
    )
    .await;
    assert_eq!(
        usdc_balance(chain, &payer).await,
        payer_before,
        "nothing moved yet"
    );
    assert_eq!(status_of(app, &paying).await, "awaiting_funds");

    // The good one is relayed from the gateway's hot wallet and the intent succeeds.
    let good = body_of(&auth, &sign(&domain, &auth));
    let relayed = submit_auth(app, &paying, &good).await;
    assert_eq!(relayed.status(), 202);
    let relayed: Value = relayed.json().await.unwrap();
    wait_for(app, &paying, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        U256::from(25_000_000u64)
    );
    assert_eq!(
        payer_before - usdc_balance(chain, &payer).await,
        U256::from(25_000_000u64)
    );
    let receipt = node(chain)
        .await
        .get_transaction_receipt(relayed["tx_hash"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .expect("relay mined");
    assert_eq!(
        rialto_evm::contracts::from_wire(receipt.from),
        chain.gateway_hot_wallet.address,
        "the gateway paid the gas"
    );

    // Replayed on the same intent (now paid) or on another: refused, nothing moves.
    expect_error(
        submit_auth(app, &paying, &good).await,
        409,
        "authorization_nonce_used",
    )
    .await;
    let second = intent(app, "25.00").await;
    expect_error(
        submit_auth(app, &second, &good).await,
        400,
        "authorization_nonce_mismatch",
    )
    .await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        U256::from(25_000_000u64)
    );
}

#[tokio::test]
async fn a_deposit_address_payment_is_swept_to_the_merchant() {
    let setup = setup(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "25.00").await;
    let id = paying["id"].as_str().unwrap();
    let deposit = app
        .post(
            &format!("/v1/payment_intents/{id}/deposit_address"),
            app.sk(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deposit.status(), 200);
    let deposit: Value = deposit.json().await.unwrap();
    let address = deposit["address"].as_str().unwrap().to_owned();
    assert_eq!(deposit["amount_units"], "25000000");
    let chain_number = &chain.chain_id.to_string()[7..];
    assert_eq!(
        deposit["uri"],
        format!(
            "ethereum:{}@{chain_number}/transfer?address={address}&uint256=25000000",
            chain.tokens["USDC"].address
        )
    );
    // Asking again gives the same address; another intent gets another.
    let again: Value = app
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
    assert_eq!(again["address"], address.as_str());
    let other = intent(app, "10.00").await;
    let other_id = other["id"].as_str().unwrap();
    let other_deposit: Value = app
        .post(
            &format!("/v1/payment_intents/{other_id}/deposit_address"),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(other_deposit["address"], address.as_str());

    pay(&wallet(chain).await, chain, &address, 25_000_000).await;
    wait_for(app, &paying, "succeeded").await;
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - before,
        U256::from(25_000_000u64)
    );
    assert_eq!(usdc_balance(chain, &address).await, U256::ZERO, "swept");
    assert_eq!(status_of(app, &other).await, "awaiting_funds");

    // The sweep is the gateway's own transfer to the merchant: it can never pay another intent.
    use rialto_gateway::store::chain::ChainStore;
    let sweep = app
        .store
        .get_chain_transfer("sweep", id)
        .await
        .unwrap()
        .expect("sweep leg");
    let third = intent(app, "25.00").await;
    let third_id = third["id"].as_str().unwrap();
    let reused = app
        .post(
            &format!("/v1/payment_intents/{third_id}/transactions"),
            app.sk(),
        )
        .json(&json!({"tx_hash": sweep.tx_hash,
            "signature": payer_proof(chain, 0, third_id, &sweep.tx_hash).await}))
        .send()
        .await
        .unwrap();
    // Its only sender is the deposit address, which no payer can sign for.
    expect_error(reused, 400, "payer_proof_invalid").await;

    // An intent that needs a conversion (EUR settling in USDC) takes no reported transfer before
    // its rate is locked: no amount was ever asked of the payer.
    let euros = app
        .create_intent(json!({"amount": "5.00", "currency": "eur",
            "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}))
        .await;
    let euros_id = euros["id"].as_str().unwrap();
    let refused = app
        .post(
            &format!("/v1/payment_intents/{euros_id}/transactions"),
            app.sk(),
        )
        .json(&json!({"tx_hash": sweep.tx_hash,
            "signature": payer_proof(chain, 0, euros_id, &sweep.tx_hash).await}))
        .send()
        .await
        .unwrap();
    expect_error(refused, 400, "payment_method_unavailable").await;
    assert_ledger_balanced(app).await;
}

#[tokio::test]
async fn a_payment_removed_by_a_reorg_is_never_settled() {
    // Three confirmations: the payment is seen at one, then the chain drops it.
    let setup = setup(3).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let node = node(chain).await;
    let before = usdc_balance(chain, MERCHANT).await;
    let paying = intent(app, "25.00").await;
    let snapshot: U256 = node.raw_request("evm_snapshot".into(), ()).await.unwrap();
    let hash = pay(&wallet(chain).await, chain, MERCHANT, 25_000_000).await;
    let id = paying["id"].as_str().unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/transactions"), app.sk())
        .json(&json!({"tx_hash": hash, "signature": payer_proof(chain, 0, id, &hash).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202, "seen, not yet confirmed");
    let reverted: bool = node
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .unwrap();
    assert!(reverted);
    // The chain moves on past the confirmations without the payment.
    let _: Value = node
        .raw_request("anvil_mine".into(), (U256::from(5u64),))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status_of(app, &paying).await, "awaiting_funds");
    assert_eq!(
        usdc_balance(chain, MERCHANT).await,
        before,
        "the reorg took the payment away"
    );
    // The same payment made again, for real, then succeeds.
    let again = pay(&wallet(chain).await, chain, MERCHANT, 25_000_000).await;
    let _: Value = node
        .raw_request("anvil_mine".into(), (U256::from(3u64),))
        .await
        .unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/transactions"), app.sk())
        .json(&json!({"tx_hash": again, "signature": payer_proof(chain, 0, id, &again).await}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    wait_for(app, &paying, "succeeded").await;
    let balance: Value = app.get_json("/v1/balance").await;
    assert_eq!(
        balance["settled"][0]["amount"], "25",
        "the reorged payment is not in the ledger: {balance}"
    );
    assert_ledger_balanced(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hot_wallet_legs_each_land_once_with_their_own_nonce() {
    use rialto_gateway::chain::rail::{FeeLimits, LegAction, LegRequest, SigningKey, StoreJournal};
    use rialto_gateway::store::chain::{ChainStore, LegStatus};
    use rialto_gateway::store::Store;

    let setup = setup(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let sandbox = rialto_gateway::config::SandboxConfig {
        devnet_manifest: setup.manifest_path.display().to_string(),
        ..Default::default()
    };
    let clock: Arc<dyn rialto_gateway::clock::Clock> = Arc::new(rialto_gateway::clock::SystemClock);
    let chains = Arc::new(
        rialto_gateway::chains::from_sandbox(&sandbox, &common::registry(), clock)
            .unwrap()
            .engine,
    );
    let caip2 = chain.chain_id.to_string();
    let hot: PrivateKeySigner = chain
        .gateway_hot_wallet
        .private_key
        .expose_secret()
        .parse()
        .unwrap();
    let node = node(chain).await;
    let start_nonce = node.get_transaction_count(hot.address()).await.unwrap();
    let recipient = |i: u8| {
        Address::Evm(
            [0x11; 19]
                .into_iter()
                .chain([i])
                .collect::<Vec<_>>()
                .try_into()
                .unwrap(),
        )
    };
    let mut tasks = Vec::new();
    for i in 0..10u8 {
        let store: Arc<dyn Store> = app.store.clone();
        let chains = chains.clone();
        let caip2 = caip2.clone();
        let key = SigningKey(chain.gateway_hot_wallet.private_key.clone());
        tasks.push(tokio::spawn(async move {
            let chain = chains.get(false, &caip2).unwrap();
            let journal = StoreJournal(store.as_ref());
            let rail = chain.rail(&journal);
            let request = LegRequest {
                purpose: "payout",
                reference: format!("po_test_{i}"),
                payment_intent_id: None,
                from: key,
                action: LegAction::Transfer {
                    asset: None,
                    to: recipient(i),
                    amount: 1_000 + u128::from(i),
                },
                fees: FeeLimits::default(),
            };
            let leg = rail.send(&request, 0).await.unwrap();
            // Asked again (a retry after a timeout): the same leg, nothing new sent.
            let again = rail.send(&request, 0).await.unwrap();
            assert_eq!(again.tx_hash, leg.tx_hash);
            leg
        }));
    }
    let mut nonces = BTreeSet::new();
    for task in tasks {
        let leg = task.await.unwrap();
        assert!(nonces.insert(leg.nonce));
    }
    assert_eq!(
        nonces,
        (start_nonce..start_nonce + 10).collect::<BTreeSet<u64>>()
    );
    // Every one lands exactly once: each recipient holds exactly its value.
    let started = Instant::now();
    loop {
        let mut all = true;
        for i in 0..10u8 {
            let leg = app
                .store
                .get_chain_transfer("payout", &format!("po_test_{i}"))
                .await
                .unwrap()
                .unwrap();
            all &= leg.status == LegStatus::Confirmed;
        }
        if all {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "legs not confirmed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..10u8 {
        let to = rialto_evm::contracts::to_wire(&recipient(i)).unwrap();
        assert_eq!(
            node.get_balance(to).await.unwrap(),
            U256::from(1_000 + u64::from(i))
        );
    }
    assert_eq!(
        node.get_transaction_count(hot.address()).await.unwrap(),
        start_nonce + 10
    );
}

#[tokio::test]
async fn an_rpc_endpoint_of_another_chain_is_refused_at_start() {
    use rialto_evm::chain::EvmChain;
    let setup = setup(1).await;
    let url = setup.chain.rpc_url.clone();
    let wrong = EvmChain::new(
        "eip155:8453".into(),
        8453,
        "base".into(),
        true,
        vec![url.clone()],
        1,
    );
    let err = wrong.verify_endpoints().await.unwrap_err().to_string();
    assert!(err.contains("answers as chain 31338"), "{err}");
    let right = EvmChain::new(
        "eip155:31338".into(),
        31338,
        "devnet-base".into(),
        false,
        vec!["http://127.0.0.1:9".into(), url],
        1,
    );
    right
        .verify_endpoints()
        .await
        .expect("an unreachable endpoint only warns");
}
