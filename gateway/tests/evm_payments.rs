//! Paying an intent with a real token transfer on the local devnet (two anvil chains with
//! Circle's FiatToken USDC) and reporting its hash with the sender's proof: the gateway reads
//! the transfer from the chain, checks the signature is a sender's (EIP-191, or EIP-1271 for a
//! contract wallet), binds the hash to one intent, and screens every sender it observed — an
//! OFAC-listed sender (impersonated on anvil) is blocked. Another shopper or another merchant
//! cannot claim someone else's transfer to a shared settlement address.
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use std::path::PathBuf;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address as WireAddress, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use common::devnet::payer_proof;
use common::{expect_error, spawn_app_with, Db, TestApp};
use rialto_evm::contracts::{to_wire, IERC20};
use rialto_evm::manifest::ChainManifest;
use rialto_evm::{locate_anvil, Devnet, DevnetConfig};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const MERCHANT: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const TORNADO_ROUTER: &str = "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b";

async fn devnet() -> Devnet {
    let root = DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let anvil_bin = locate_anvil(&root, explicit).expect("anvil: run tools/devnet/install.sh");
    Devnet::start(DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&root)
    })
    .await
    .expect("devnet starts")
}

struct Setup {
    app: TestApp,
    chain: ChainManifest,
    _devnet: Devnet,
    _manifest: tempfile::TempDir,
}

async fn setup() -> Setup {
    let devnet = devnet().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devnet.json");
    devnet.manifest().write(&path).unwrap();
    let chain = devnet.manifest().chain("devnet-base").unwrap().clone();
    let manifest = path.display().to_string();
    let app = spawn_app_with(Db::Sqlite, |c| c.sandbox.devnet_manifest = manifest).await;
    Setup {
        app,
        chain,
        _devnet: devnet,
        _manifest: dir,
    }
}

fn usdc(chain: &ChainManifest) -> WireAddress {
    to_wire(&chain.tokens["USDC"].address).unwrap()
}

async fn payer(chain: &ChainManifest) -> DynProvider {
    payer_n(chain, 0).await
}

async fn payer_n(chain: &ChainManifest, n: usize) -> DynProvider {
    let signer: PrivateKeySigner = chain.payers[n].private_key.expose_secret().parse().unwrap();
    ProviderBuilder::new()
        .wallet(signer)
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

/// Sends `units` of USDC (6 decimals) to `to` and returns the transaction hash.
async fn pay(provider: &DynProvider, chain: &ChainManifest, to: &str, units: u64) -> String {
    let to: WireAddress = to.parse().unwrap();
    let receipt = IERC20::new(usdc(chain), provider)
        .transfer(to, U256::from(units))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    format!("{:#x}", receipt.transaction_hash)
}

async fn intent(app: &TestApp, amount: &str) -> Value {
    app.create_intent(json!({"amount": amount, "currency": "usd",
        "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}))
        .await
}

/// A report of `hash` for `intent`, signed by payer 0 (who sends every payment here unless
/// a test says otherwise).
async fn signed(chain: &ChainManifest, intent: &Value, hash: &str) -> Value {
    let id = intent["id"].as_str().unwrap();
    json!({"tx_hash": hash, "signature": payer_proof(chain, 0, id, hash).await})
}

async fn submit(app: &TestApp, intent: &Value, body: Value, key: &str) -> reqwest::Response {
    let id = intent["id"].as_str().unwrap();
    app.post(&format!("/v1/payment_intents/{id}/transactions"), key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_transfer_on_chain_pays_exactly_one_intent_and_bad_reports_move_nothing() {
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let wallet = payer(chain).await;
    let first = app
        .create_intent(json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT},
            "metadata": {"order": "A-1"}}))
        .await;
    let hash = pay(&wallet, chain, MERCHANT, 25_000_000).await;

    // A wallet reports it with the publishable key and the client secret.
    let pk = app.merchant.publishable_key.clone();
    let no_secret = submit(app, &first, json!({"tx_hash": hash}), &pk).await;
    expect_error(no_secret, 404, "resource_missing").await;
    let mut body = signed(chain, &first, &hash).await;
    body["client_secret"] = first["client_secret"].clone();
    let paid = submit(app, &first, body, &pk).await;
    assert_eq!(paid.status(), 200);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["status"], "funds_received", "{paid}");
    // The payer's view, as `GET` with the publishable key shows it: no merchant metadata.
    assert!(paid["metadata"].is_null(), "{paid}");
    // Reporting it again answers the same; it can never pay a second intent.
    let again: Value = submit(app, &first, signed(chain, &first, &hash).await, app.sk())
        .await
        .json()
        .await
        .unwrap();
    // The same intent, wherever the worker has taken it since; the merchant sees it all.
    assert_eq!(again["id"], paid["id"], "{again}");
    assert_eq!(again["metadata"]["order"], "A-1", "{again}");
    assert!(
        ["funds_received", "settling", "succeeded"].contains(&again["status"].as_str().unwrap()),
        "{again}"
    );
    let second = intent(app, "25.00").await;
    // Even its own payer, proving it for a second intent, cannot make it pay twice.
    let upper = hash.to_uppercase().replace("0X", "0x");
    let reused = submit(app, &second, signed(chain, &second, &upper).await, app.sk()).await;
    expect_error(reused, 409, "transaction_already_used").await;

    // Too little, the wrong recipient, an unknown hash, a malformed one, the wrong chain.
    let short = pay(&wallet, chain, MERCHANT, 24_999_999).await;
    expect_error(
        submit(app, &second, signed(chain, &second, &short).await, app.sk()).await,
        400,
        "transaction_amount_too_low",
    )
    .await;
    let elsewhere = pay(
        &wallet,
        chain,
        "0x000000000000000000000000000000000000dEaD",
        25_000_000,
    )
    .await;
    expect_error(
        submit(
            app,
            &second,
            signed(chain, &second, &elsewhere).await,
            app.sk(),
        )
        .await,
        400,
        "transaction_mismatch",
    )
    .await;
    let unknown = format!("0x{}", "11".repeat(32));
    expect_error(
        submit(
            app,
            &second,
            signed(chain, &second, &unknown).await,
            app.sk(),
        )
        .await,
        400,
        "transaction_not_found",
    )
    .await;
    expect_error(
        submit(
            app,
            &second,
            signed(chain, &second, "0x1234").await,
            app.sk(),
        )
        .await,
        400,
        "transaction_invalid",
    )
    .await;
    expect_error(
        submit(
            app,
            &second,
            json!({"tx_hash": hash, "chain": "devnet-ethereum",
                "signature": payer_proof(chain, 0, second["id"].as_str().unwrap(), &hash).await}),
            app.sk(),
        )
        .await,
        400,
        "invalid_chain",
    )
    .await;
    let untouched: Value = app
        .get(
            &format!("/v1/payment_intents/{}", second["id"].as_str().unwrap()),
            app.sk(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(untouched["status"], "awaiting_funds");

    // An overpayment counts in full: 5,000 USDC for a 25.00 intent needs travel-rule data.
    let third = intent(app, "25.00").await;
    let big = pay(&wallet, chain, MERCHANT, 5_000_000_000).await;
    let held: Value = submit(app, &third, signed(chain, &third, &big).await, app.sk())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["status"], "in_review", "{held}");
}

#[tokio::test]
async fn funds_from_an_ofac_listed_sender_on_chain_are_frozen() {
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let wallet = payer(chain).await;
    // Give the listed address USDC and gas, then send from it as anvil lets us impersonate it.
    let (tornado, node) = impersonate_listed_sender(&wallet, chain).await;
    let call = IERC20::transferCall {
        to: MERCHANT.parse().unwrap(),
        amount: U256::from(10_000_000u64),
    };
    let tx = TransactionRequest::default()
        .with_from(tornado)
        .with_to(usdc(chain))
        .with_input(call.abi_encode());
    let receipt = node
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let hash = format!("{:#x}", receipt.transaction_hash);
    let frozen = intent(app, "10.00").await;
    // Nobody holds the listed address's key: give it the code of a contract wallet whose owner
    // is payer 0, so it proves its payment with EIP-1271 like any contract wallet.
    let code = node
        .get_code_at(deploy_wallet(&wallet, chain).await)
        .await
        .unwrap();
    node.raw_request::<_, Value>("anvil_setCode".into(), (tornado, code))
        .await
        .unwrap();
    let answer: Value = submit(app, &frozen, signed(chain, &frozen, &hash).await, app.sk())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "blocked", "{answer}");
    // The merchant is told in neutral words only; nothing names the list.
    let text = answer.to_string().to_lowercase();
    assert!(!text.contains("ofac") && !text.contains("sanction") && !text.contains("tornado"));
}

alloy::sol! {
    /// The test contract wallet (contracts/src/ContractWalletLike.sol).
    #[sol(rpc)]
    interface IContractWalletLike {
        function execute(address[] targets, bytes[] data) external;
    }

    interface ITransferFrom {
        function transferFrom(address from, address to, uint256 amount) external returns (bool);
    }
}

/// Deploys a `ContractWalletLike` owned by payer 0 (`owner` sends the deployment).
/// Gives the OFAC-listed `TORNADO_ROUTER` 10 USDC (from `funder`) and gas, and a node that
/// sends as it (anvil impersonation): nobody holds its key.
async fn impersonate_listed_sender(
    funder: &DynProvider,
    chain: &ChainManifest,
) -> (WireAddress, DynProvider) {
    let tornado: WireAddress = TORNADO_ROUTER.parse().unwrap();
    pay(funder, chain, TORNADO_ROUTER, 10_000_000).await;
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased();
    node.raw_request::<_, Value>(
        "anvil_setBalance".into(),
        (tornado, U256::from(10u128.pow(18))),
    )
    .await
    .unwrap();
    node.raw_request::<_, Value>("anvil_impersonateAccount".into(), (tornado,))
        .await
        .unwrap();
    (tornado, node)
}

async fn deploy_wallet(owner: &DynProvider, chain: &ChainManifest) -> WireAddress {
    let path =
        DevnetConfig::default_repo_root().join("contracts/artifacts/ContractWalletLike.json");
    let artifact: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut code = hex::decode(
        artifact["bytecode"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    let signer: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse().unwrap();
    // The constructor's one argument, the owner, ABI-encoded.
    code.extend_from_slice(&[0u8; 12]);
    code.extend_from_slice(signer.address().as_slice());
    let receipt = owner
        .send_transaction(TransactionRequest::default().with_deploy_code(code))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    receipt.contract_address.unwrap()
}

async fn status(app: &TestApp, intent: &Value) -> String {
    let id = intent["id"].as_str().unwrap();
    let now: Value = app
        .get(&format!("/v1/payment_intents/{id}"), app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    now["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn another_shopper_or_merchant_cannot_claim_a_transfer_to_a_shared_settlement_address() {
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let pk = app.merchant.publishable_key.clone();
    // Two shoppers of the same merchant: both intents settle to the merchant's one address.
    let victims = intent(app, "25.00").await;
    let attackers = intent(app, "25.00").await;
    let (victim_id, attacker_id) = (
        victims["id"].as_str().unwrap(),
        attackers["id"].as_str().unwrap(),
    );
    let hash = pay(&payer(chain).await, chain, MERCHANT, 25_000_000).await;

    // The attacker watches the chain and reports the victim's transfer with their own
    // intent's client secret: no proof, their own signature, the victim's proof replayed.
    let as_attacker = |extra: Value| {
        let mut body = json!({"tx_hash": hash, "client_secret": attackers["client_secret"]});
        if let Some(signature) = extra.as_str() {
            body["signature"] = json!(signature);
        }
        body
    };
    expect_error(
        submit(app, &attackers, as_attacker(Value::Null), &pk).await,
        400,
        "payer_proof_required",
    )
    .await;
    let own = payer_proof(chain, 1, attacker_id, &hash).await;
    expect_error(
        submit(app, &attackers, as_attacker(json!(own)), &pk).await,
        400,
        "payer_proof_invalid",
    )
    .await;
    let victims_proof = payer_proof(chain, 0, victim_id, &hash).await;
    expect_error(
        submit(
            app,
            &attackers,
            as_attacker(json!(victims_proof.clone())),
            &pk,
        )
        .await,
        400,
        "payer_proof_invalid",
    )
    .await;
    for junk in ["", "0x", "not hex", "0x1234"] {
        let answer = submit(app, &attackers, as_attacker(json!(junk)), &pk).await;
        let code = if junk.is_empty() {
            "payer_proof_required"
        } else {
            "payer_proof_invalid"
        };
        expect_error(answer, 400, code).await;
    }

    // A second merchant names the same settlement address and reports it with its secret key.
    let other = app.another_merchant().await;
    let theirs: Value = app
        .post("/v1/payment_intents", &other.secret_key)
        .json(&json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let theirs_id = theirs["id"].as_str().unwrap();
    let report = |signature: Option<String>| {
        let mut body = json!({"tx_hash": hash});
        if let Some(signature) = signature {
            body["signature"] = json!(signature);
        }
        app.post(
            &format!("/v1/payment_intents/{theirs_id}/transactions"),
            &other.secret_key,
        )
        .json(&body)
        .send()
    };
    expect_error(report(None).await.unwrap(), 400, "payer_proof_required").await;
    let forged = payer_proof(chain, 2, theirs_id, &hash).await;
    expect_error(
        report(Some(forged)).await.unwrap(),
        400,
        "payer_proof_invalid",
    )
    .await;

    // Nothing was bound: the victim's own report, with their proof, pays their order.
    let mut body = json!({"tx_hash": hash, "signature": victims_proof});
    body["client_secret"] = victims["client_secret"].clone();
    let paid = submit(app, &victims, body, &pk).await;
    assert_eq!(paid.status(), 200);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["status"], "funds_received", "{paid}");
    assert_eq!(status(app, &attackers).await, "awaiting_funds");
    // And now that it is bound, even a proof by its payer for another intent is refused.
    let late = payer_proof(chain, 0, attacker_id, &hash).await;
    expect_error(
        submit(app, &attackers, as_attacker(json!(late)), &pk).await,
        409,
        "transaction_already_used",
    )
    .await;
}

#[tokio::test]
async fn a_contract_wallet_proves_its_payment_with_eip_1271() {
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let owner = payer(chain).await;
    let wallet = deploy_wallet(&owner, chain).await;
    pay(&owner, chain, &wallet.to_string(), 7_000_000).await;
    // The wallet pays the merchant: its owner makes it call the token.
    let call = IERC20::transferCall {
        to: MERCHANT.parse().unwrap(),
        amount: U256::from(7_000_000u64),
    };
    let receipt = IContractWalletLike::new(wallet, &owner)
        .execute(vec![usdc(chain)], vec![call.abi_encode().into()])
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let hash = format!("{:#x}", receipt.transaction_hash);
    let order = intent(app, "7.00").await;
    let id = order["id"].as_str().unwrap();
    // The owner's plain signature recovers to the owner, who sent nothing; only the wallet's
    // EIP-1271 answer makes it the wallet's proof. Someone else's signature it refuses.
    let stranger = payer_proof(chain, 1, id, &hash).await;
    expect_error(
        submit(
            app,
            &order,
            json!({"tx_hash": hash, "signature": stranger}),
            app.sk(),
        )
        .await,
        400,
        "payer_proof_invalid",
    )
    .await;
    let paid = submit(app, &order, signed(chain, &order, &hash).await, app.sk()).await;
    assert_eq!(paid.status(), 200);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["status"], "funds_received", "{paid}");
}

/// One transaction with two transfers of 10.00 USDC to `to`: the first from payer 0 (clean),
/// the second from the OFAC-listed address (impersonated on anvil), both pulled by a contract
/// wallet both approved. Returns its hash.
async fn pay_from_two_senders(chain: &ChainManifest, to: &str) -> String {
    let owner = payer(chain).await;
    let wallet = deploy_wallet(&owner, chain).await;
    let signer: PrivateKeySigner = chain.payers[0].private_key.expose_secret().parse().unwrap();
    // The listed address holds USDC and lets the wallet move it (anvil impersonation).
    let (tornado, node) = impersonate_listed_sender(&owner, chain).await;
    let approve = IERC20::approveCall {
        spender: wallet,
        amount: U256::from(10_000_000u64),
    };
    for from in [tornado, signer.address()] {
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_to(usdc(chain))
            .with_input(approve.abi_encode());
        let sent = if from == tornado {
            node.send_transaction(tx).await
        } else {
            owner.send_transaction(tx).await
        };
        assert!(sent.unwrap().get_receipt().await.unwrap().status());
    }
    // One transaction, two senders: the clean payer first, the listed address second.
    let pull = |from: WireAddress| {
        ITransferFrom::transferFromCall {
            from,
            to: to.parse().unwrap(),
            amount: U256::from(10_000_000u64),
        }
        .abi_encode()
        .into()
    };
    let receipt = IContractWalletLike::new(wallet, &owner)
        .execute(
            vec![usdc(chain), usdc(chain)],
            vec![pull(signer.address()), pull(tornado)],
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let hash = format!("{:#x}", receipt.transaction_hash);
    hash
}

#[tokio::test]
async fn every_sender_of_a_transaction_is_screened_and_only_the_provers_part_counts() {
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let hash = pay_from_two_senders(chain, MERCHANT).await;

    // 20.00 arrived, but the prover (payer 0) sent only 10.00 of it.
    let twenty = intent(app, "20.00").await;
    expect_error(
        submit(app, &twenty, signed(chain, &twenty, &hash).await, app.sk()).await,
        400,
        "transaction_amount_too_low",
    )
    .await;
    // Its own 10.00 pays a 10.00 intent, and the second sender is screened too.
    let ten = intent(app, "10.00").await;
    let answer: Value = submit(app, &ten, signed(chain, &ten, &hash).await, app.sk())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "blocked", "{answer}");
}

#[tokio::test]
async fn a_relay_or_an_exchange_withdrawal_that_loses_its_claim_is_an_error_not_a_success() {
    use rialto_connectors::rail::{ChainTransfer, LegStatus, TransferDraft};
    use rialto_engine::store::exchange::{ExchangeAccount, ExchangeAccountStatus};
    use rialto_engine::store::{
        ComplianceStore, PaymentSource, PaymentTransaction, PaymentTxStatus, Store,
    };
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let first = intent(app, "3.00").await;
    let second = intent(app, "3.00").await;
    let hash = pay(&payer(chain).await, chain, MERCHANT, 3_000_000).await;
    // The first intent holds the transaction (as a report of it with its proof would leave it).
    let first_id = first["id"].as_str().unwrap().parse().unwrap();
    let held = PaymentTransaction {
        chain_id: chain.chain_id.to_string(),
        tx_hash: hash.clone(),
        payment_intent_id: first_id,
        payer: chain.payers[0].address.to_string(),
        amount: "3".into(),
        asset: first["settlement"]["asset_id"].as_str().unwrap().into(),
        block_number: 0,
        block_hash: String::new(),
        log_index: 0,
        status: PaymentTxStatus::Pending,
        source: PaymentSource::Transaction,
        created_at_ms: 0,
    };
    assert_eq!(app.store.claim_transaction(&held).await.unwrap(), first_id);
    let second_id = second["id"].as_str().unwrap().parse().unwrap();
    let other = app
        .store
        .get_intent_unscoped(&second_id)
        .await
        .unwrap()
        .unwrap();
    let engine = &app.state.engine;
    let caip2 = chain.chain_id.to_string();
    let served = engine
        .chains
        .get(false, &caip2)
        .expect("the devnet chain is served");
    let now = other.created_at_ms;
    // A venue that names the first intent's transaction as the second's withdrawal.
    let account = ExchangeAccount {
        id: "xa_test".into(),
        payment_intent_id: other.id,
        merchant_id: other.merchant_id,
        livemode: false,
        venue: "binance".into(),
        sealed_credentials: String::new(),
        keep_credentials: false,
        order_leg: "leg_order".into(),
        withdrawal_leg: "leg_withdrawal".into(),
        status: ExchangeAccountStatus::Submitted,
        venue_withdrawal_id: Some("w-1".into()),
        tx_hash: None,
        failure: None,
        created_at_ms: now,
        updated_at_ms: now,
        erased_at_ms: None,
        conversion: None,
        deposit_address: None,
    };
    let lost = rialto_engine::exchange::claim_withdrawal(engine, &other, &account, &hash)
        .await
        .expect_err("a lost claim is an error");
    assert_eq!(lost.code.as_str(), "transaction_already_used");
    // A relay leg whose transaction some other intent already holds.
    let leg = ChainTransfer {
        draft: TransferDraft {
            leg_id: "leg_relay".into(),
            purpose: rialto_engine::chain::EIP3009_RELAY.into(),
            reference: second["id"].as_str().unwrap().into(),
            payment_intent_id: Some(other.id),
            chain_id: caip2.clone(),
            from: chain.gateway_hot_wallet.address.to_string(),
            to: chain.tokens["USDC"].address.to_string(),
            token: Some(chain.tokens["USDC"].address.to_string()),
            amount_units: Some("3000000".into()),
            created_at_ms: now,
        },
        nonce: 0,
        raw_tx: String::new(),
        tx_hash: hash.clone(),
        status: LegStatus::Submitted,
        block_number: None,
        block_hash: None,
        failure: None,
        updated_at_ms: now,
        fee_units: None,
    };
    let lost = rialto_engine::chain::relay::claim_relay(engine, &other, served, &leg)
        .await
        .expect_err("a lost claim is an error");
    assert_eq!(lost.code.as_str(), "transaction_already_used");
    assert_eq!(status(app, &second).await, "awaiting_funds");
}

#[tokio::test]
async fn every_sender_of_a_deposit_is_screened_not_only_the_first() {
    // Keep the whole setup alive: dropping it stops the chains.
    let setup = setup().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let order = intent(app, "20.00").await;
    let id = order["id"].as_str().unwrap();
    let deposit: Value = app
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
    let address = deposit["address"].as_str().unwrap().to_owned();
    // The clean payer's 10.00 comes first; the listed sender's 10.00 completes the amount.
    pay_from_two_senders(chain, &address).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut now = status(app, &order).await;
    while now == "awaiting_funds" && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        now = status(app, &order).await;
    }
    assert_eq!(now, "blocked");
}
