//! SmartFunding on the hosted checkout page, over HTTP on the devnet: the page's offers are the
//! router's quotes for its own intent, and a page token accepts and funds only its own
//! intent's quotes. Paying through an offer in a real browser is
//! `tools/browser/checkout.test.mjs`.

mod common;
mod routing_support;

use common::devnet::MERCHANT;
use common::{expect_error, TestApp};
use routing_support::{clocked, dec};
use rust_decimal::Decimal;
use serde_json::{json, Value};

async fn page_of(app: &TestApp) -> (Value, String) {
    let response = app
        .post("/v1/checkout_sessions", app.sk())
        .json(&json!({"amount": "25.00", "currency": "usd",
            "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT},
            "success_url": "https://shop.example/thanks",
            "cancel_url": "https://shop.example/cart"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    let url = session["url"].as_str().unwrap();
    let path = url[url.find("/checkout/").unwrap()..].to_owned();
    (session, format!("{}{path}", app.base))
}

async fn offers(app: &TestApp, page: &str) -> Vec<Value> {
    let response = app
        .client
        .post(format!("{page}/funding_quotes"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let list: Value = response.json().await.unwrap();
    list["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_page_offers_its_intents_quotes_and_its_token_accepts_and_funds_only_those() {
    let (setup, _clock) = clocked().await;
    let app = &setup.app;
    let (mine, my_page) = page_of(app).await;
    let (_theirs, their_page) = page_of(app).await;

    let my_offers = offers(app, &my_page).await;
    let sources: Vec<(String, String)> = my_offers
        .iter()
        .map(|q| {
            assert_eq!(q["payment_intent"], mine["payment_intent"], "{q}");
            let asset = q["source"]["asset"].as_str().unwrap().to_owned();
            (asset, q["source_chain"].as_str().unwrap().to_owned())
        })
        .collect();
    assert!(
        sources.contains(&("USDC".into(), "devnet-ethereum".into())),
        "{sources:?}"
    );
    assert!(
        !sources.contains(&("USDC".into(), "devnet-base".into())),
        "the asset the intent settles in is paid directly, never quoted: {sources:?}"
    );
    let fees: Vec<Decimal> = my_offers.iter().map(|q| dec(&q["total_fee_usd"])).collect();
    assert!(
        fees.windows(2).all(|w| w[0] <= w[1]),
        "cheapest first: {fees:?}"
    );

    // Another page's quote is not found through this token.
    let their_quote = offers(app, &their_page).await[0]["id"].clone();
    let their_quote = their_quote.as_str().unwrap();
    let payer = json!({"payer_address": setup.other_chain.payers[0].address.to_string()});
    let response = app
        .client
        .post(format!("{my_page}/quotes/{their_quote}/accept"))
        .json(&payer)
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "resource_missing").await;

    // Its own quote is accepted, with the wallet's terms worked out exactly on the server.
    let quote = my_offers
        .iter()
        .find(|q| q["source"]["asset"] == "USDC" && q["source_chain"] == "devnet-ethereum")
        .unwrap();
    let response = app
        .client
        .post(format!(
            "{my_page}/quotes/{}/accept",
            quote["id"].as_str().unwrap()
        ))
        .json(&payer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let accepted: Value = response.json().await.unwrap();
    let pay_to = &accepted["execution"]["pay_to"];
    let units = dec(&pay_to["amount"]) * Decimal::from(1_000_000u32);
    assert_eq!(
        pay_to["amount_units"],
        units.normalize().to_string(),
        "{pay_to}"
    );
    assert_eq!(
        format!("eip155:{}", pay_to["evm_chain_id"]),
        pay_to["chain"].as_str().unwrap()
    );
    assert!(accepted.get("client_secret").is_none());

    // The other page's token cannot report funding for this execution.
    let exec = accepted["execution"]["id"].as_str().unwrap();
    let response = app
        .client
        .post(format!("{their_page}/route_executions/{exec}/fund"))
        .json(&json!({"tx_hash": format!("0x{}", "ab".repeat(32)), "signature": "0x00"}))
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "resource_missing").await;
}
