//! Routes between Solana and EVM on the devnet (two anvil chains and the Solana simnet, one
//! manifest): a Solana payer's USDC settles to a merchant on `devnet-base`, and an EVM payer's
//! USDC to a merchant on `devnet-solana`, through the devnet relay stand-in (venue
//! `devnet-relay`: locked with the relayer on Solana, burned or minted by the FiatToken's minter
//! on EVM), each at its locked quote and with the merchant paid exactly. The books balance,
//! the relay's fee is booked, and reconciliation explains every transfer.
//!
//! Needs anvil (`ANVIL_BIN`) and the simnet (`SOLANA_SIMNET_BIN`, set by tools/test.sh).

mod common;
mod routing_support;

use std::str::FromStr;
use std::sync::Arc;

use common::devnet::{intent, past_the_deploy, start_full, usdc_balance, DevnetApp, MERCHANT};
use common::{assert_ledger_balanced, TestApp};
use rialto_connectors::bridge::relay::{DEVNET_RELAY_FEE, DEVNET_RELAY_VENUE};
use rialto_gateway::clock::{Clock, ManualClock, SystemClock};
use rialto_gateway::ledger::Account;
use rialto_gateway::store::ledger::LedgerStore;
use rialto_solana::devnet::manifest::devnet_keypair;
use rialto_solana::devnet::{sign_message_hex, simnet, SolanaDevnet, RELAY_RESERVE_UNITS};
use rialto_solana::sdk::{Keypair, Pubkey, Signer};
use routing_support::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

struct Setup {
    devnet: DevnetApp,
    solana: SolanaDevnet,
    _clock: Arc<ManualClock>,
}

/// The Solana simnet with its mints and payers, the anvil chains, and a gateway in sandbox mode
/// on all three (one confirmation; a clock moved past the deploy, as the oracle needs).
async fn setup() -> Setup {
    let bin = simnet::locate_for_tests().unwrap_or_else(|e| panic!("{e}"));
    let solana = SolanaDevnet::start(&bin, 200)
        .await
        .expect("the simnet starts");
    let section = solana.provision().await.expect("the devnet is funded");
    let clock = Arc::new(ManualClock::new(SystemClock.now_ms()));
    let devnet = start_full(1, Some(clock.clone() as Arc<dyn Clock>), Some(&section)).await;
    past_the_deploy(&devnet, &clock).await;
    Setup {
        devnet,
        solana,
        _clock: clock,
    }
}

/// The quote's legs as `(kind, venue)`.
fn legs(quote: &Value) -> Vec<(String, String)> {
    quote["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["venue"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn relay_only() -> Vec<(String, String)> {
    vec![("bridge".into(), DEVNET_RELAY_VENUE.into())]
}

/// Reconciliation over the EVM chains and the Solana simnet (by signature and slot) explains
/// every transfer it observed (`observed` of them) but the devnet's own funding of the relay
/// stand-in's reserve, when the relayer signed a leg on Solana: the simnet minted that reserve
/// to the relayer before the gateway existed, so no record books it, and reconciliation says
/// exactly that (one `unexpected_inflow` of the whole reserve, minted from the zero key).
async fn assert_explained(app: &TestApp, observed: u64, relayer_released: bool) {
    let run = reconcile(app).await;
    let exceptions = run["exceptions"].as_array().unwrap();
    let reserve = Decimal::from(RELAY_RESERVE_UNITS) / Decimal::from(1_000_000u32);
    let unexplained: Vec<&Value> = exceptions
        .iter()
        .filter(|x| {
            !(relayer_released
                && x["kind"] == "unexpected_inflow"
                && x["chain"] == "solana:rialto-devnet-simnet"
                && x["detail"]
                    .as_str()
                    .unwrap()
                    .contains("from 11111111111111111111111111111111")
                && dec(&x["observed_amount"]) == reserve)
        })
        .collect();
    assert_eq!(
        unexplained,
        Vec::<&Value>::new(),
        "no other exception: {run:#}"
    );
    assert_eq!(exceptions.len(), usize::from(relayer_released), "{run:#}");
    assert_eq!(
        run["counts"]["observed"],
        observed + u64::from(relayer_released),
        "{run:#}"
    );
    assert_eq!(run["counts"]["matched"], observed, "{run:#}");
    assert_eq!(run["counts"]["expected"], observed, "{run:#}");
}

/// Rialto holds nothing of the payer's afterwards, and the relay's fee went to its venue.
async fn assert_books(app: &TestApp) {
    assert_ledger_balanced(app).await;
    let (held, kinds) = routing_books(app).await;
    assert!(held.values().all(|v| v.is_zero()), "{held:?}");
    for kind in ["route_funding", "route_conversion", "payment", "settlement"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    // In on one chain's USDC, out on the other's: what stays with the relay is its fee.
    let mut venue = Decimal::ZERO;
    for posting in app.store.all_postings().await.unwrap() {
        for e in posting.entries {
            if e.account == Account::RouteVenue(DEVNET_RELAY_VENUE.into()) {
                venue += e.amount;
            }
        }
    }
    assert_eq!(venue, DEVNET_RELAY_FEE, "the relay keeps exactly its fee");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solana_payers_usdc_settles_to_an_evm_merchant_through_the_devnet_relay_exactly() {
    let setup = setup().await;
    let (app, base, solana) = (&setup.devnet.app, &setup.devnet.chain, &setup.solana);
    let merchant_before = usdc_balance(base, MERCHANT).await;
    let payer = devnet_keypair("payer 1");
    let payer_before = solana.token_balance(&payer.pubkey(), &solana.usdc).await;
    let paying = intent(app, "30.00").await;
    let source = json!({"type": "wallet", "chain": "devnet-solana", "asset": "usdc"});
    let quote = best_quote(app, &paying, source).await;
    assert_eq!(legs(&quote), relay_only(), "{quote}");
    let quoted = dec(&quote["payer_amount"]);
    assert_eq!(quoted, Decimal::new(3000, 2) + DEVNET_RELAY_FEE, "{quote}");
    let accepted: Value = accept(
        app,
        &quote,
        json!({ "payer_address": payer.pubkey().to_string() }),
    )
    .await
    .json()
    .await
    .unwrap();
    let exec = accepted["execution"].clone();
    let id = exec["id"].as_str().unwrap();
    let hot = Pubkey::from_str(exec["pay_to"]["address"].as_str().unwrap()).unwrap();
    assert_eq!(hot, devnet_keypair("gateway hot wallet").pubkey(), "{exec}");
    let paid_units = units(quoted).to::<u64>();
    let signature = solana
        .pay(&payer, &hot, &solana.usdc, paid_units)
        .await
        .unwrap();
    // A proof by anyone but the payer is refused and binds nothing.
    let message = rialto_gateway::api::executions::funding_message(id, &signature);
    let stranger = sign_message_hex(&Keypair::new(), &message);
    let refused = fund(app, id, &signature, &stranger).await;
    assert_eq!(refused.status(), 400, "{}", refused.text().await.unwrap());
    let funded = fund(app, id, &signature, &sign_message_hex(&payer, &message)).await;
    let status = funded.status();
    assert_eq!(status, 200, "{}", funded.text().await.unwrap());
    let done = wait_execution(app, id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("bridge".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    wait_intent(app, &paying, "succeeded").await;
    // The merchant is paid exactly the intent's amount; the payer is out exactly the quote.
    assert_eq!(dec(&done["legs"][1]["received"]), Decimal::new(3000, 2));
    assert_eq!(
        usdc_balance(base, MERCHANT).await - merchant_before,
        units(Decimal::new(3000, 2))
    );
    assert_eq!(
        payer_before.unwrap()
            - solana
                .token_balance(&payer.pubkey(), &solana.usdc)
                .await
                .unwrap(),
        paid_units
    );
    assert_eq!(done["legs"][1]["input"], done["legs"][0]["received"]);
    assert_books(app).await;
    // The mint and the settlement on EVM, the funding and the lock on Solana.
    assert_explained(app, 4, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evm_payers_usdc_settles_to_a_solana_merchant_through_the_devnet_relay_exactly() {
    let setup = setup().await;
    let (app, base, solana) = (&setup.devnet.app, &setup.devnet.chain, &setup.solana);
    let merchant = Keypair::new();
    let paying = app
        .create_intent(json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-solana",
                "address": merchant.pubkey().to_string()}}))
        .await;
    let payer = base.payers[0].address.to_string();
    let payer_before = usdc_balance(base, &payer).await;
    let (quote, exec) = accept_base_usdc(app, &payer, &paying).await;
    assert_eq!(legs(&quote), relay_only(), "{quote}");
    let quoted = dec(&quote["payer_amount"]);
    assert_eq!(quoted, Decimal::new(2500, 2) + DEVNET_RELAY_FEE, "{quote}");
    let id = exec["id"].as_str().unwrap();
    let hash = pay_usdc_hash(
        base,
        0,
        exec["pay_to"]["address"].as_str().unwrap(),
        units(quoted),
    )
    .await;
    let answer = report_funding(app, base, 0, id, &hash).await;
    let status = answer.status();
    assert_eq!(status, 200, "{}", answer.text().await.unwrap());
    let done = wait_execution(app, id, "succeeded").await;
    assert_eq!(
        kinds(&done),
        vec![
            ("bridge".into(), "confirmed".into()),
            ("settlement".into(), "confirmed".into()),
        ],
        "{done}"
    );
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(
        solana
            .token_balance(&merchant.pubkey(), &solana.usdc)
            .await
            .unwrap(),
        25_000_000,
        "the merchant's token account holds exactly the intent's amount"
    );
    assert_eq!(
        payer_before - usdc_balance(base, &payer).await,
        units(quoted)
    );
    assert_books(app).await;
    // The funding, the delivery to the minter and its burn on EVM; the release and the
    // settlement on Solana.
    assert_explained(app, 5, true).await;
}

async fn fund(app: &TestApp, exec: &str, tx: &str, signature: &str) -> reqwest::Response {
    app.post(&format!("/v1/route_executions/{exec}/fund"), app.sk())
        .json(&json!({ "tx_hash": tx, "signature": signature }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_exchange_withdrawal_to_solana_is_a_real_spl_transfer_that_settles_the_intent() {
    let setup = setup().await;
    let (app, solana) = (&setup.devnet.app, &setup.solana);
    let sandbox = app
        .sandbox_exchange
        .clone()
        .expect("the sandbox exchange runs with a devnet");
    let merchant = Keypair::new();
    let paying = app
        .create_intent(json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-solana",
                "address": merchant.pubkey().to_string()}}))
        .await;
    let id = paying["id"].as_str().unwrap();
    // The account holds 10 USDC and USD: it buys the rest, then withdraws to Solana.
    let answer = app
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
    let status = answer.status();
    assert_eq!(status, 202, "{}", answer.text().await.unwrap());
    assert_eq!(sandbox.executed_withdrawals(), 1);
    wait_intent(app, &paying, "succeeded").await;
    assert_eq!(
        solana
            .token_balance(&merchant.pubkey(), &solana.usdc)
            .await
            .unwrap(),
        25_000_000,
        "the withdrawal landed as an SPL transfer of exactly the amount"
    );
    assert_ledger_balanced(app).await;
}
