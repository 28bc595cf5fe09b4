//! Refunds for every payment, end to end on the local devnet: a merchant on immediate
//! settlement (it holds nothing at Rialto) refunds half a payment with an EIP-3009
//! authorization signed by its settlement address and half from its prepaid refund reserve; a
//! routed payment is refunded to the wallet that funded the route; a funding transfer funds
//! one refund only. After each, the ledger balances and reconciliation reports no exception.
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;
mod routing_support;

use alloy::primitives::U256;
use alloy::signers::{local::PrivateKeySigner, Signer};
use common::devnet::{deposit_address, pay_usdc, start, usdc_balance, wait_for, DevnetApp};
use common::{assert_ledger_balanced, expect_error, TestApp};
use rialto_core::address::Address;
use rialto_core::ChainNamespace;
use rialto_evm::eip3009::{self, Authorization, AuthorizationKind, TokenDomain};
use rialto_evm::manifest::ChainManifest;
use routing_support::{accept_usdt, fund_usdt, pay_usdc_hash, reconcile, wait_execution};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

fn units(whole: u64) -> U256 {
    U256::from(whole * 1_000_000)
}

fn key_of(chain: &ChainManifest, payer: usize) -> PrivateKeySigner {
    chain.payers[payer]
        .private_key
        .expose_secret()
        .parse()
        .unwrap()
}

/// An intent for `amount` USD in USDC on devnet-base settling to payer `to`'s address, paid
/// by payer 0 through its deposit address (immediate settlement: Rialto keeps nothing).
async fn paid_to(setup: &DevnetApp, amount: &str, to: usize) -> Value {
    let (app, chain) = (&setup.app, &setup.chain);
    let paying = app
        .create_intent(json!({"amount": amount, "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-base",
                           "address": chain.payers[to].address.to_string()}}))
        .await;
    let deposit = deposit_address(app, &paying).await;
    pay_usdc(chain, 0, &deposit, units(amount.parse::<u64>().unwrap())).await;
    wait_for(app, &paying, "succeeded").await;
    paying
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.post(path, app.sk()).json(&body).send().await.unwrap()
}

async fn ok(response: reqwest::Response, want: u16) -> Value {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, want, "{body}");
    body
}

async fn refund(app: &TestApp, intent: &Value, amount: &str) -> Value {
    let body = json!({"payment_intent": intent["id"], "amount": amount});
    ok(post(app, "/v1/refunds", body).await, 200).await
}

/// Payer `payer`'s EIP-191 signature of `Rialto: fund <what> with <tx_hash>`.
async fn proof(chain: &ChainManifest, payer: usize, what: &str, tx_hash: &str) -> String {
    let text = format!("Rialto: fund {what} with {tx_hash}");
    let signature = key_of(chain, payer)
        .sign_message(text.as_bytes())
        .await
        .unwrap();
    format!("0x{}", alloy::hex::encode(signature.as_bytes()))
}

/// The refund's authorization request, signed by payer `payer`, as the funding body.
async fn signed_authorization(
    app: &TestApp,
    chain: &ChainManifest,
    payer: usize,
    id: &str,
) -> Value {
    let request = app
        .get_json(&format!("/v1/refunds/{id}/authorization_request"))
        .await;
    let (d, m) = (&request["domain"], &request["message"]);
    let evm = |v: &Value| Address::parse(v.as_str().unwrap(), ChainNamespace::Eip155).unwrap();
    let domain = TokenDomain {
        name: d["name"].as_str().unwrap().to_owned(),
        version: d["version"].as_str().unwrap().to_owned(),
        chain_id: d["chainId"].as_u64().unwrap(),
        verifying_contract: evm(&d["verifyingContract"]),
    };
    let key = key_of(chain, payer);
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: rialto_evm::contracts::from_wire(key.address()),
        to: evm(&m["to"]),
        value: m["value"].as_str().unwrap().parse().unwrap(),
        valid_after: m["validAfter"].as_str().unwrap().parse().unwrap(),
        valid_before: m["validBefore"].as_str().unwrap().parse().unwrap(),
        nonce: m["nonce"].as_str().unwrap().parse().unwrap(),
    };
    let signature = eip3009::sign(&key, &domain, &auth).unwrap();
    json!({"authorization": {
        "from": auth.from.to_string(), "to": auth.to.to_string(),
        "value": auth.value.to_string(), "valid_after": auth.valid_after.to_string(),
        "valid_before": auth.valid_before.to_string(), "nonce": format!("{:#x}", auth.nonce),
        "signature": format!("0x{}", alloy::hex::encode(signature)),
    }})
}

/// Payer `payer` sends `whole` USDC to the treasury and tops up the merchant's reserve.
async fn top_up(setup: &DevnetApp, payer: usize, whole: u64) -> Value {
    let (app, chain) = (&setup.app, &setup.chain);
    let reserves = app.get_json("/v1/refund_reserves").await;
    let usdc = reserves["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["asset"] == "usdc" && r["chain_id"] == chain.chain_id.to_string().as_str())
        .unwrap_or_else(|| panic!("a USDC reserve on devnet-base: {reserves}"))
        .clone();
    let treasury = usdc["pay_to"].as_str().unwrap();
    let tx = pay_usdc_hash(chain, payer, treasury, units(whole)).await;
    let what = format!("merchant:{}:refund_reserve", app.merchant.id);
    let signature = proof(chain, payer, &what, &tx).await;
    let body = json!({"asset": usdc["asset_id"], "transaction_hash": tx, "signature": signature});
    ok(post(app, "/v1/refund_reserves/top_ups", body).await, 200).await
}

/// No exception, and the ledger balances. `since`: the first block of devnet-base to
/// reconcile (after the devnet minted the payers' USDC: a payer used as a settlement address
/// would otherwise show that mint as an inflow no record explains); `None`: every chain.
async fn books_hold(app: &TestApp, since: Option<u64>) {
    assert_ledger_balanced(app).await;
    let run = match since {
        None => reconcile(app).await,
        Some(from) => {
            let name = format!("recon-{}", rialto_core::id::LegId::generate());
            let created = rialto_gateway::cli_ops::create_operator(app.store.as_ref(), &name, 0)
                .await
                .unwrap();
            let op = created["operator_key"].as_str().unwrap();
            let body = json!({"chains": ["devnet-base"], "from_block": from});
            let answer = app
                .post("/v1/reconciliation_runs", op)
                .json(&body)
                .send()
                .await
                .unwrap();
            ok(answer, 200).await
        }
    };
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["exceptions"], json!([]), "no exceptions: {run:#}");
}

async fn head(chain: &ChainManifest) -> u64 {
    use alloy::providers::{Provider, ProviderBuilder};
    let node = ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    node.get_block_number().await.unwrap() + 1
}

#[tokio::test]
async fn an_immediate_settlement_merchant_refunds_half_by_its_own_authorization_and_half_from_its_reserve(
) {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let since = Some(head(chain).await);
    let paying = paid_to(&setup, "20", 1).await;
    let payer = chain.payers[0].address.to_string();
    let before = usdc_balance(chain, &payer).await;
    books_hold(app, since).await;

    // Half: the balance holds nothing, the reserve is empty, so the refund waits for funds.
    let first = refund(app, &paying, "10").await;
    assert_eq!(first["status"], "requires_funding", "{first}");
    assert_eq!(first["funding"]["amount"], "10", "{first}");
    let id = first["id"].as_str().unwrap();
    // Signed by anyone but the settlement address, the authorization is refused.
    let stranger = signed_authorization(app, chain, 2, id).await;
    let path = format!("/v1/refunds/{id}/funding");
    expect_error(
        post(app, &path, stranger).await,
        400,
        "funding_sender_mismatch",
    )
    .await;
    let body = signed_authorization(app, chain, 1, id).await;
    let relayed = ok(post(app, &path, body).await, 202).await;
    assert_eq!(relayed["status"], "requires_funding", "{relayed}");
    app.wait_status(&format!("/v1/refunds/{id}"), "succeeded")
        .await;
    assert_eq!(usdc_balance(chain, &payer).await - before, units(10));
    books_hold(app, since).await;

    // The other half: from the reserve the merchant topped up, drawn when it is created.
    let reserve = top_up(&setup, 1, 10).await;
    assert_eq!(reserve["available"], "10", "{reserve}");
    let second = refund(app, &paying, "10").await;
    assert_eq!(second["status"], "pending", "{second}");
    let second_id = second["id"].as_str().unwrap();
    app.wait_status(&format!("/v1/refunds/{second_id}"), "succeeded")
        .await;
    assert_eq!(usdc_balance(chain, &payer).await - before, units(20));
    let reserves = app.get_json("/v1/refund_reserves").await;
    let left: Vec<&Value> = reserves["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["available"] != "0")
        .collect();
    assert!(left.is_empty(), "the reserve is spent: {reserves}");
    let intent = app
        .get_json(&format!(
            "/v1/payment_intents/{}",
            paying["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(intent["amount_refunded"], "20", "{intent}");
    books_hold(app, since).await;
}

#[tokio::test]
async fn a_funding_transfer_funds_one_refund_and_is_refused_for_a_second() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let since = Some(head(chain).await);
    let paying = paid_to(&setup, "20", 1).await;
    let a = refund(app, &paying, "5").await;
    let b = refund(app, &paying, "5").await;
    assert_eq!(b["status"], "requires_funding", "{b}");
    let treasury = a["funding"]["pay_to"].as_str().unwrap();
    let tx = pay_usdc_hash(chain, 1, treasury, units(5)).await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let first = json!({"transaction_hash": tx, "signature": proof(chain, 1, a_id, &tx).await});
    let funded = ok(
        post(app, &format!("/v1/refunds/{a_id}/funding"), first).await,
        200,
    )
    .await;
    assert_eq!(funded["status"], "pending", "{funded}");
    let again = json!({"transaction_hash": tx, "signature": proof(chain, 1, b_id, &tx).await});
    let refused = post(app, &format!("/v1/refunds/{b_id}/funding"), again).await;
    expect_error(refused, 409, "transaction_already_used").await;
    // Nor can the same transfer top up the reserve.
    let what = format!("merchant:{}:refund_reserve", app.merchant.id);
    let body = json!({"asset": "usdc", "chain": "devnet-base", "transaction_hash": tx,
                      "signature": proof(chain, 1, &what, &tx).await});
    let refused = post(app, "/v1/refund_reserves/top_ups", body).await;
    expect_error(refused, 409, "transaction_already_used").await;
    app.wait_status(&format!("/v1/refunds/{a_id}"), "succeeded")
        .await;
    assert_eq!(
        app.get_json(&format!("/v1/refunds/{b_id}")).await["status"],
        "requires_funding"
    );
    books_hold(app, since).await;
}

#[tokio::test]
async fn a_routed_payment_is_refunded_to_the_wallet_that_funded_the_route() {
    let (setup, _clock) = routing_support::clocked().await;
    let (app, chain) = (&setup.app, &setup.chain);
    let paying = common::devnet::intent(app, "30.00").await;
    let (exec, _quote) = accept_usdt(&setup, &paying).await;
    let exec_id = fund_usdt(&setup, &exec).await;
    wait_execution(app, &exec_id, "succeeded").await;
    routing_support::wait_intent(app, &paying, "succeeded").await;
    // The wallet that paid USDT on the other chain; the refund is in the USDC received.
    let payer = setup.other_chain.payers[0].address.to_string();
    let before = usdc_balance(chain, &payer).await;
    // An asset no route reaches (the devnet has no PYUSD pool) is refused.
    let other_asset = json!({"payment_intent": paying["id"], "amount": "10", "asset": "pyusd"});
    let refused = post(app, "/v1/refunds", other_asset).await;
    expect_error(refused, 400, "refund_asset_unsupported").await;
    let waiting = refund(app, &paying, "10").await;
    assert_eq!(waiting["status"], "requires_funding", "{waiting}");
    assert_eq!(
        waiting["destination"].as_str().unwrap().to_lowercase(),
        payer.to_lowercase(),
        "{waiting}"
    );
    // The reserve, topped up afterwards, funds the waiting refund on the worker's next pass.
    top_up(&setup, 1, 10).await;
    let id = waiting["id"].as_str().unwrap();
    app.wait_status(&format!("/v1/refunds/{id}"), "succeeded")
        .await;
    assert_eq!(usdc_balance(chain, &payer).await - before, units(10));
    books_hold(app, None).await;
}
