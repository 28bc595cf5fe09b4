//! A merchant settling in the devnet's deposit token (`JPMD-DEV`, docs/deposit-tokens.md) paid
//! through SmartFunding, on two real anvil chains: by a USDC payer on devnet-base (the sandbox
//! bank mints the token from Rialto's USD float to the treasury's allow-listed wallet, the
//! route's settlement transfer pays the merchant), by a USDC payer on devnet-ethereum (CCIP
//! carries the USDC to devnet-base first; a message not delivered in time is `unknown`, never
//! sent again) and by a payer's exchange account (USD bought into USDC and withdrawn to the
//! treasury). The bank's and CCIP's fees are booked, the books balance and reconciliation
//! explains every transfer (the mint is a `Transfer` from the zero address, the CCIP delivery
//! the off-ramp's). A float too small refuses the quote.

mod common;
mod deposit_token_support;
mod routing_support;

use std::sync::Arc;

use alloy::primitives::U256;
use common::devnet;
use common::{assert_ledger_balanced, expect_error};
use deposit_token_support::*;
use rialto_connectors::issuer::RequestStatus;
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::ledger::Account;
use rialto_gateway::store::reconcile::ReconcileStore;
use routing_support::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_usdc_payer_pays_a_jpmd_dev_merchant_through_the_issuers_mint_from_rialtos_float() {
    let setup = with_bank(1_000_000).await;
    let (app, base) = (&setup.app, &setup.chain);
    let merchant = onboarded_merchant(&setup).await;
    let paying = jpmd_intent(&setup, &merchant).await;
    assert_eq!(paying["status"], "awaiting_funds", "{paying}");
    let payer = base.payers[0].address.to_string();
    let (quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    let legs = quote["legs"].as_array().unwrap();
    let kinds_quoted: Vec<&str> = legs.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds_quoted, ["issuer_mint"], "{quote}");
    assert_eq!(legs[0]["venue"], BANK, "{quote}");
    // 25.00 and the bank's 0.05 % (0.0125, rounded up to the cent).
    assert_eq!(dec(&quote["payer_amount"]), d("25.02"), "{quote}");
    assert_eq!(dec(&quote["merchant_amount"]), d("25.00"), "{quote}");
    assert_eq!(exec["pay_to"]["asset"], "USDC", "{exec}");
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let paid = dec(&exec["pay_to"]["amount"]);
    assert_eq!(paid, d("25.02"));
    let hash = pay_usdc_hash(
        base,
        0,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(paid),
    )
    .await;
    let answer = report_funding(app, base, 0, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("issuer_mint".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    wait_intent(app, &paying, "succeeded").await;
    // The mint's leg: the bank's transaction, exactly the amount, to the treasury.
    let mint = &done["legs"][0];
    assert_eq!(dec(&mint["received"]), d("25.00"), "{done}");
    assert!(
        mint["tx_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("0x")),
        "{done}"
    );
    // The merchant holds exactly the amount on chain; the treasury passed on all it minted.
    assert_eq!(
        token_units(base, &merchant).await,
        U256::from(25_000_000u64)
    );
    let hot = base.gateway_hot_wallet.address.to_string();
    assert_eq!(token_units(base, &hot).await, U256::ZERO);
    // The bank debited the float exactly the amount and its fee.
    let desk = app.state.engine.issuers[&false].clone();
    let float = desk.issuer.balance().await.unwrap().available;
    assert_eq!(float, d("1000000") - d("25.02"));
    let request = desk
        .issuer
        .request(mint["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (request.status, request.fee),
        (RequestStatus::Completed, d("0.02"))
    );
    // The books: the fee booked, the float's USD out, the payer's USDC now the treasury's,
    // nothing left on the route.
    let (sums, kinds) = books(&setup).await;
    for kind in [
        "route_funding",
        "issuer_mint",
        "issuer_fee",
        "payment",
        "settlement",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let sum = |account: &Account, asset: &str| {
        sums.get(&(account.to_string(), asset.to_owned()))
            .copied()
            .unwrap_or_default()
    };
    assert_eq!(sum(&Account::IssuerFees(BANK.into()), "usd"), d("0.02"));
    assert_eq!(sum(&Account::IssuerFloat(BANK.into()), "usd"), d("-25.02"));
    let treasury: Vec<_> = sums
        .iter()
        .filter(|((account, _), _)| account == "rialto:treasury")
        .collect();
    assert_eq!(treasury.len(), 1, "{treasury:?}");
    assert!(
        treasury[0].0 .1.contains("erc20"),
        "USDC on devnet-base: {treasury:?}"
    );
    assert_eq!(*treasury[0].1, d("25.02"));
    let routing: Vec<_> = sums
        .iter()
        .filter(|((account, _), _)| account == "rialto:routing")
        .collect();
    assert!(routing.iter().all(|(_, v)| v.is_zero()), "{routing:?}");
    assert_ledger_balanced(app).await;
    // Reconciliation: the payer's USDC in, the mint (from the zero address) and the merchant's
    // transfer, each explained; the mint by its `issuer_mint` posting.
    assert_reconciled(app, 3).await;
    // The fees report lists the bank's fee under the leg (the bank's request reference).
    let report: Value = app.get_json("/v1/reports/fees").await;
    let rows = report["data"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["type"] == "issuer_fee" && r["reference"] == mint["id"]),
        "{report:#}"
    );
}

#[tokio::test]
async fn a_float_too_small_for_the_mint_refuses_the_quote_and_mints_nothing() {
    let setup = with_bank(10).await;
    let app = &setup.app;
    let merchant = onboarded_merchant(&setup).await;
    let paying = jpmd_intent(&setup, &merchant).await;
    let id = paying["id"].as_str().unwrap();
    let answer = app
        .post(&format!("/v1/payment_intents/{id}/quotes"), app.sk())
        .json(&json!({"source": {"type": "wallet", "chain": "devnet-base", "asset": "usdc"}}))
        .send()
        .await
        .unwrap();
    let body = expect_error(answer, 400, "issuer_float_insufficient").await;
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("10"), "{body}");
    let desk = app.state.engine.issuers[&false].clone();
    assert_eq!(desk.issuer.balance().await.unwrap().available, d("10"));
    assert_eq!(token_units(&setup.chain, &merchant).await, U256::ZERO);
    assert_eq!(devnet::status_of(app, &paying).await, "awaiting_funds");
}

#[tokio::test]
async fn a_usdc_payer_on_another_chain_pays_a_jpmd_dev_merchant_through_ccip_and_the_issuers_mint()
{
    // Without the devnet burn/mint stand-in, CCIP is the only USDC lane between the chains.
    let setup = with_bank_and(1_000_000, false).await;
    let _don = don(&setup).await;
    let (app, base, other) = (&setup.app, &setup.chain, &setup.other_chain);
    let merchant = onboarded_merchant(&setup).await;
    let paying = jpmd_intent(&setup, &merchant).await;
    let hot_base = base.gateway_hot_wallet.address.to_string();
    let hot_other = other.gateway_hot_wallet.address.to_string();
    let usdc_base = token_balance(base, "USDC", &hot_base).await;
    let usdc_other = token_balance(other, "USDC", &hot_other).await;
    let (done, quote) = pay_across_with_ccip(&setup, &paying, 0).await;
    let route: Vec<(&str, &str)> = quote["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["venue"].as_str().unwrap()))
        .collect();
    assert_eq!(
        route,
        [("ccip", "ccip"), ("issuer_mint", BANK)],
        "{quote:#}"
    );
    // CCIP keeps nothing of the amount: the payer pays the amount and the bank's fee.
    assert_eq!(dec(&quote["payer_amount"]), d("25.02"), "{quote}");
    assert_eq!(
        kinds(&done),
        vec![
            ("ccip".into(), "confirmed".into()),
            ("issuer_mint".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done:#}"
    );
    let (ccip, mint) = (&done["legs"][0], &done["legs"][1]);
    assert_eq!(dec(&ccip["received"]), d("25.02"), "{done:#}");
    let message = ccip["external_reference"].as_str().unwrap();
    assert!(message.starts_with("0x") && message.len() == 66, "{done:#}");
    // The bank's request is the mint leg's reference.
    assert_eq!(mint["external_reference"], mint["id"], "{done:#}");
    wait_intent(app, &paying, "succeeded").await;
    // On chain: the merchant holds exactly the amount; the USDC crossed whole and stays in the
    // treasury on devnet-base (the float paid for the mint); the treasury passed on all it
    // minted.
    assert_eq!(
        token_units(base, &merchant).await,
        U256::from(25_000_000u64)
    );
    assert_eq!(token_units(base, &hot_base).await, U256::ZERO);
    assert_eq!(
        token_balance(base, "USDC", &hot_base).await - usdc_base,
        U256::from(25_020_000u64)
    );
    assert_eq!(token_balance(other, "USDC", &hot_other).await, usdc_other);
    let desk = app.state.engine.issuers[&false].clone();
    assert_eq!(
        desk.issuer.balance().await.unwrap().available,
        d("1000000") - d("25.02")
    );
    // The books: the router's fee (0.001 ETH on devnet-ethereum) a network fee under the CCIP
    // leg, the bank's fee, the float out; balanced.
    let (sums, kinds) = books(&setup).await;
    for kind in [
        "route_funding",
        "route_conversion",
        "issuer_mint",
        "issuer_fee",
        "network_fee",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let sum = |account: &Account, asset: &str| {
        sums.get(&(account.to_string(), asset.to_owned()))
            .copied()
            .unwrap_or_default()
    };
    assert_eq!(sum(&Account::IssuerFees(BANK.into()), "usd"), d("0.02"));
    assert_eq!(sum(&Account::IssuerFloat(BANK.into()), "usd"), d("-25.02"));
    assert_ledger_balanced(app).await;
    // Reconciliation: the payer's USDC in, the ccipSend's lock into the on-ramp, the message's
    // delivery by the off-ramp, the mint from zero and the merchant's transfer, all matched.
    assert_reconciled(app, 5).await;
    // The fees report: the CCIP fee tied to the ccipSend on devnet-ethereum, the bank's fee
    // under its request reference.
    let report: Value = app.get_json("/v1/reports/fees").await;
    let rows = report["data"].as_array().unwrap();
    let ccip_fee = rows
        .iter()
        .find(|r| {
            r["type"] == "network_fee" && r["reference"] == ccip["id"] && r["amount"] == "0.001"
        })
        .unwrap_or_else(|| panic!("the CCIP fee: {report:#}"));
    assert_eq!(ccip_fee["chain"], other.chain_id.as_str(), "{ccip_fee}");
    assert_eq!(ccip_fee["leg_purpose"], "route_burn", "{ccip_fee}");
    assert!(
        ccip_fee["tx_hash"]
            .as_str()
            .is_some_and(|h| h != ccip["tx_hash"]),
        "the send, not the delivery: {ccip_fee}"
    );
    assert!(
        rows.iter().any(|r| r["type"] == "issuer_fee"
            && r["reference"] == mint["id"]
            && r["amount"] == "0.02"),
        "{report:#}"
    );
}

#[tokio::test]
async fn a_ccip_message_not_delivered_in_time_leaves_its_leg_unknown_and_is_never_sent_again() {
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let setup =
        devnet::start_configured(1, Some(clock.clone() as Arc<dyn Clock>), None, None, |c| {
            c.sandbox.bank = true;
            c.sandbox.burn_mint_bridge = false;
            c.sandbox.ccip_delivery_secs = 60;
        })
        .await;
    devnet::past_the_deploy(&setup, &clock).await;
    // No DON stand-in: the message is sent and never executed.
    let (app, other) = (&setup.app, &setup.other_chain);
    let merchant = onboarded_merchant(&setup).await;
    let paying = jpmd_intent(&setup, &merchant).await;
    let source = json!({"type": "wallet", "chain": "devnet-ethereum", "asset": "usdc"});
    let quote = quote_through(app, &paying, source, "ccip").await;
    let who = other.payers[0].address.to_string();
    let accepted: Value = accept(app, &quote, json!({ "payer_address": who }))
        .await
        .json()
        .await
        .unwrap();
    let exec = &accepted["execution"];
    let exec_id = exec["id"].as_str().unwrap().to_owned();
    let hot_other = other.gateway_hot_wallet.address.to_string();
    let before = token_balance(other, "USDC", &hot_other).await;
    let hash = pay_usdc_hash(
        other,
        0,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(dec(&exec["pay_to"]["amount"])),
    )
    .await;
    let answer = report_funding(app, other, 0, &exec_id, &hash).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    // The payer's USDC reaches the treasury on devnet-ethereum and leaves it in the ccipSend.
    let send_ref = |exec: &Value| format!("{}:ccip_send", exec["legs"][0]["id"].as_str().unwrap());
    loop {
        let now = execution(app, &exec_id).await;
        let sent = match now["legs"][0]["kind"].as_str() {
            Some("ccip") => app
                .store
                .legs_for_references(&[send_ref(&now)])
                .await
                .unwrap(),
            _ => Vec::new(),
        };
        if sent.iter().any(|l| l.block_number.is_some())
            && token_balance(other, "USDC", &hot_other).await == before
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    clock.advance_ms(61_000);
    let held = loop {
        let now = execution(app, &exec_id).await;
        if now["legs"][0]["status"] == "unknown" {
            break now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // Sent and not delivered: for reconciliation, not for a retry or a return.
    assert_eq!(held["status"], "awaiting_reconciliation", "{held:#}");
    assert_eq!(held["legs"].as_array().unwrap().len(), 1, "{held:#}");
    // Time passes, passes run: nothing is sent again.
    clock.advance_ms(600_000);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(token_balance(other, "USDC", &hot_other).await, before);
    assert_eq!(token_units(&setup.chain, &merchant).await, U256::ZERO);
    assert_eq!(
        execution(app, &exec_id).await["status"],
        "awaiting_reconciliation"
    );
    let sends = app
        .store
        .legs_for_references(&[format!(
            "{}:ccip_send",
            held["legs"][0]["id"].as_str().unwrap()
        )])
        .await
        .unwrap();
    assert_eq!(sends.len(), 1, "{sends:?}");
}

#[tokio::test]
async fn a_payer_with_an_exchange_account_pays_a_jpmd_dev_merchant_through_usdc_and_the_issuers_mint(
) {
    let setup = with_bank(1_000_000).await;
    let (app, base) = (&setup.app, &setup.chain);
    let merchant = onboarded_merchant(&setup).await;
    let paying = jpmd_intent(&setup, &merchant).await;
    let source = json!({"type": "exchange", "venue": "binance", "asset": "usd"});
    let quote = best_quote(app, &paying, source).await;
    let route: Vec<(&str, &str)> = quote["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["kind"].as_str().unwrap(), l["venue"].as_str().unwrap()))
        .collect();
    assert_eq!(
        route,
        [
            ("trade", "binance"),
            ("withdrawal", "binance"),
            ("issuer_mint", BANK)
        ],
        "{quote:#}"
    );
    let exec_id = accept_exchange(app, &quote).await;
    let done = wait_execution(app, &exec_id, "succeeded").await;
    assert!(
        kinds(&done).iter().all(|(_, status)| status == "confirmed"),
        "{done:#}"
    );
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(
        token_units(base, &merchant).await,
        U256::from(25_000_000u64)
    );
    let hot = base.gateway_hot_wallet.address.to_string();
    assert_eq!(token_units(base, &hot).await, U256::ZERO);
    let desk = app.state.engine.issuers[&false].clone();
    assert_eq!(
        desk.issuer.balance().await.unwrap().available,
        d("1000000") - d("25.02")
    );
    assert_ledger_balanced(app).await;
    // The venue's withdrawal into the treasury, the mint, the merchant's transfer.
    assert_reconciled(app, 3).await;
}

/// The token's total supply on `chain`.
async fn supply_units(chain: &rialto_evm::manifest::ChainManifest) -> U256 {
    let rails = chain.institutional.as_ref().expect("institutional rails");
    let token = rialto_evm::contracts::to_wire(&rails.deposit_tokens[TOKEN].address).unwrap();
    let node = alloy::providers::ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap();
    rialto_evm::contracts::IERC20::new(token, &node)
        .totalSupply()
        .call()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_operator_redeems_the_treasurys_jpmd_dev_at_the_bank_and_the_float_is_credited_once() {
    let setup = with_bank(1_000_000).await;
    let (app, base) = (&setup.app, &setup.chain);
    let desk = app.state.engine.issuers[&false].clone();
    let hot = base.gateway_hot_wallet.address.to_string();
    let caip2 = base.chain_id.to_string();
    // The treasury holds 40 JPMD-DEV, minted to it by the bank from the float.
    let minted = desk
        .issuer
        .mint(
            &rialto_connectors::issuer::MintRequest {
                reference: "treasury-stock-1".into(),
                chain: caip2.parse().unwrap(),
                wallet: hot.clone(),
                amount: d("40.00"),
            },
            &rialto_connectors::issuer::UncheckedMintGuard,
        )
        .await
        .unwrap();
    assert_eq!(minted.status, RequestStatus::Completed, "{minted:?}");
    assert_eq!(token_units(base, &hot).await, U256::from(40_000_000u64));
    let supply = supply_units(base).await;
    let float = desk.issuer.balance().await.unwrap().available;
    let operator = rialto_gateway::cli_ops::create_operator(app.store.as_ref(), "treasury", 0)
        .await
        .unwrap()["operator_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = "/v1/operator/issuer/redemptions";
    let body = |amount: &str| json!({"asset": TOKEN, "chain": caip2, "amount": amount});
    // A merchant's key is refused; more than the treasury holds or an asset the bank does not
    // issue is refused; nothing moves.
    let refused = app.post(path, app.sk()).json(&body("25.00")).send().await;
    expect_error(refused.unwrap(), 403, "operator_key_required").await;
    let above = app.post(path, &operator).json(&body("40.01")).send().await;
    expect_error(above.unwrap(), 400, "issuer_redemption_exceeds_balance").await;
    let other = json!({"asset": "USDC", "chain": caip2, "amount": "1.00"});
    let unknown = app.post(path, &operator).json(&other).send().await;
    expect_error(unknown.unwrap(), 400, "issuer_redemption_asset_unknown").await;
    assert_eq!(token_units(base, &hot).await, U256::from(40_000_000u64));
    assert_eq!(supply_units(base).await, supply);
    assert_eq!(desk.issuer.balance().await.unwrap().available, float);
    // Redeem 25: the bank burns exactly 25 from the treasury and credits 25 − its fee.
    let send = || {
        app.post(path, &operator)
            .header("Idempotency-Key", "redeem-25")
            .json(&body("25.00"))
    };
    let answer = send().send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let redemption: Value = answer.json().await.unwrap();
    assert_eq!(redemption["status"], "completed", "{redemption:#}");
    assert_eq!(redemption["amount"], "25.00", "{redemption:#}");
    // 0.05 % of 25.00 (0.0125), rounded up to the cent, as the bank's mints are.
    assert_eq!(redemption["fee"], "0.02", "{redemption:#}");
    assert_eq!(redemption["usd_credited"], "24.98", "{redemption:#}");
    let id = redemption["id"].as_str().unwrap().to_owned();
    assert_eq!(token_units(base, &hot).await, U256::from(15_000_000u64));
    assert_eq!(supply_units(base).await, supply - U256::from(25_000_000u64));
    let request = desk.issuer.request(&id).await.unwrap();
    assert_eq!(request.status, RequestStatus::Completed, "{request:?}");
    assert_eq!(request.tx_hash.as_deref(), redemption["tx_hash"].as_str());
    let credited = desk.issuer.balance().await.unwrap().available;
    assert_eq!(credited, float + d("24.98"));
    // The same key again: the same redemption, nothing moves.
    let again: Value = send().send().await.unwrap().json().await.unwrap();
    assert_eq!(again, redemption);
    assert_eq!(token_units(base, &hot).await, U256::from(15_000_000u64));
    assert_eq!(desk.issuer.balance().await.unwrap().available, credited);
    let listed: Value = app
        .get(path, &operator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed:#}");
    assert_eq!(listed["data"][0]["id"], id.as_str());
    let read = app.get(&format!("{path}/{id}"), &operator).send().await;
    assert_eq!(read.unwrap().json::<Value>().await.unwrap(), redemption);
    // The books: the treasury's tokens out, the float in, the bank's fee booked.
    let (sums, kinds) = books(&setup).await;
    assert!(kinds.iter().any(|k| k == "issuer_redemption"), "{kinds:?}");
    let sum = |account: &Account, asset: &str| {
        sums.get(&(account.to_string(), asset.to_owned()))
            .copied()
            .unwrap_or_default()
    };
    assert_eq!(sum(&Account::IssuerFloat(BANK.into()), "usd"), d("24.98"));
    assert_eq!(sum(&Account::IssuerFees(BANK.into()), "usd"), d("0.02"));
    let asset_id = redemption["asset_id"].as_str().unwrap();
    assert_eq!(sum(&Account::Treasury, asset_id), d("-25.00"));
    assert_ledger_balanced(app).await;
    // The operator's fees report (every owner, as `rialto reports fees` exports it) lists
    // the bank's redemption fee under the redemption, the bank's request reference.
    let scope = rialto_gateway::store::reconcile::ReportScope {
        merchant: None,
        from_ms: None,
        to_ms: None,
        limit: 100,
    };
    use rialto_gateway::reconcile::reports::{build, ReportKind};
    let fees = build(app.store.as_ref(), ReportKind::Fees, &scope)
        .await
        .unwrap();
    let row = fees
        .rows
        .iter()
        .find(|r| r["type"] == "issuer_fee" && r["reference"] == id.as_str());
    assert!(row.is_some(), "{:?}", fees.rows);
    // Reconciliation: the burn (the treasury's `Transfer` to zero) is the redemption's, with
    // its `issuer_redemption` posting: matched. The one exception is this test's own stocking
    // mint, which no Rialto record explains (a route's mint is explained by its leg).
    let run = reconcile(app).await;
    assert_eq!(run["counts"]["expected"], 1, "{run:#}");
    assert_eq!(run["counts"]["matched"], 1, "{run:#}");
    let exceptions = run["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 1, "{run:#}");
    assert_eq!(exceptions[0]["kind"], "unexpected_inflow", "{run:#}");
    assert_eq!(
        exceptions[0]["tx_hash"].as_str(),
        minted.tx_hash.as_deref(),
        "{run:#}"
    );
}
