//! The Kraken client against a local HTTP server answering with recorded Kraken JSON.

mod conformance;
mod support;

use std::time::Duration;

use rialto_connectors::exchange::kraken::{
    Kraken, KrakenConfig, KrakenNetwork, KrakenTier, KrakenWithdrawKey,
};
use rialto_connectors::exchange::{
    client_order_id, place_order_once, withdraw_once, Exchange, ExchangeError, Side, Venue,
};
use secrecy::SecretString;
use support::*;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";

fn cl_ord_id() -> String {
    client_order_id(Venue::Kraken, &known_leg())
}

fn body(name: &str) -> String {
    fixture("kraken", name, &cl_ord_id(), "")
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string(body(name))
}

fn client(base_url: &str) -> Kraken {
    let mut config = KrakenConfig::new(
        base_url,
        SecretString::from("test-key".to_owned()),
        SecretString::from(SECRET.to_owned()),
    );
    config.tier = KrakenTier::Pro;
    config.timeout = Duration::from_secs(1);
    config.networks = vec![KrakenNetwork {
        asset: asset("USDC"),
        network: base_chain(),
        withdraw_network: "Base".into(),
        deposit_method: "USDC - Base".into(),
    }];
    config.withdraw_keys = vec![KrakenWithdrawKey {
        asset: asset("USDC"),
        network: base_chain(),
        address: MERCHANT.into(),
        key: "merchant-base".into(),
    }];
    Kraken::new(config).expect("client")
}

async fn private(server: &MockServer, name: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(format!("/0/private/{name}")))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn happy_path(server: &MockServer) {
    private(server, "Balance", ok("balance.json")).await;
    Mock::given(method("GET"))
        .and(path("/0/public/Depth"))
        .respond_with(ok("depth.json"))
        .mount(server)
        .await;
    private(server, "AddOrder", ok("add_order.json")).await;
    private(server, "QueryOrders", ok("query_orders.json")).await;
    private(server, "OpenOrders", ok("open_orders_empty.json")).await;
    Mock::given(method("POST"))
        .and(path("/0/private/ClosedOrders"))
        .and(body_string_contains(format!("cl_ord_id={}", cl_ord_id())))
        .respond_with(ok("closed_orders.json"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/0/private/ClosedOrders"))
        .respond_with(ok("closed_orders_empty.json"))
        .with_priority(10)
        .mount(server)
        .await;
    private(server, "WithdrawMethods", ok("withdraw_methods.json")).await;
    private(server, "WithdrawInfo", ok("withdraw_info.json")).await;
    private(server, "Withdraw", ok("withdraw.json")).await;
    private(server, "WithdrawStatus", ok("withdraw_status.json")).await;
    private(server, "DepositAddresses", ok("deposit_addresses.json")).await;
}

#[tokio::test]
async fn kraken_passes_the_conformance_suite() {
    let server = MockServer::start().await;
    happy_path(&server).await;
    let scenario = conformance::Scenario {
        pair: pair("BTC", "USD"),
        size: d("0.25"),
        too_large: d("100"),
        funded_asset: asset("USDC"),
        order: market_buy(known_leg(), pair("BTC", "USD")),
        unknown_order: market_buy(other_leg(), pair("BTC", "USD")),
        withdrawal: usdc_withdrawal(known_leg(), "100"),
        unknown_withdrawal: usdc_withdrawal(other_leg(), "42"),
    };
    conformance::run(&client(&server.uri()), &scenario).await;
}

#[tokio::test]
async fn private_requests_are_signed_with_api_key_and_api_sign_over_the_exact_body() {
    let server = MockServer::start().await;
    private(&server, "Balance", ok("balance.json")).await;
    client(&server.uri()).balances().await.expect("balances");
    let requests = server.received_requests().await.expect("recorded");
    let request = &requests[0];
    let body = String::from_utf8(request.body.clone()).expect("utf8");
    let nonce: u64 = body
        .strip_prefix("nonce=")
        .expect("nonce first")
        .parse()
        .expect("numeric nonce");
    let expected =
        rialto_connectors::exchange::kraken::api_sign(SECRET, "/0/private/Balance", nonce, &body)
            .expect("sign");
    assert_eq!(request.headers.get("API-Key").expect("key"), "test-key");
    assert_eq!(
        request
            .headers
            .get("API-Sign")
            .expect("sign")
            .to_str()
            .expect("ascii"),
        expected
    );
}

#[tokio::test]
async fn staked_and_empty_balances_are_left_out() {
    let server = MockServer::start().await;
    private(&server, "Balance", ok("balance.json")).await;
    let balances = client(&server.uri()).balances().await.expect("balances");
    let names: Vec<&str> = balances.iter().map(|b| b.asset.as_str()).collect();
    assert_eq!(names, ["USDC", "BTC", "USD"]);
}

#[tokio::test]
async fn kraken_rejections_reach_the_caller_typed_with_krakens_message() {
    let cases: [(&str, &str, ErrorCheck); 4] = [
        (
            "AddOrder",
            "insufficient_funds.json",
            |e| matches!(e, ExchangeError::InsufficientFunds { message, .. } if message.contains("EOrder:Insufficient funds")),
        ),
        ("AddOrder", "order_minimum.json", |e| {
            matches!(e, ExchangeError::BelowMinimum { .. })
        }),
        ("AddOrder", "unknown_pair.json", |e| {
            matches!(e, ExchangeError::InvalidSymbol { .. })
        }),
        ("AddOrder", "rate_limit.json", |e| {
            matches!(e, ExchangeError::RateLimited { .. })
        }),
    ];
    for (endpoint, file, expected) in cases {
        let server = MockServer::start().await;
        private(&server, endpoint, ok(file)).await;
        let err = client(&server.uri())
            .place_order(&market_buy(known_leg(), pair("BTC", "USD")))
            .await
            .expect_err(file);
        assert!(expected(&err), "{file}: {err:?}");
        assert!(
            !err.is_unknown_outcome(),
            "{file}: a refusal is a definite outcome"
        );
    }
}

#[tokio::test]
async fn an_unknown_withdraw_key_is_address_not_whitelisted() {
    let server = MockServer::start().await;
    private(&server, "Withdraw", ok("unknown_withdraw_key.json")).await;
    let err = client(&server.uri())
        .withdraw(&usdc_withdrawal(known_leg(), "100"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, ExchangeError::AddressNotWhitelisted { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_address_without_a_kraken_key_is_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    private(&server, "Withdraw", ok("withdraw.json")).await;
    let mut request = usdc_withdrawal(known_leg(), "100");
    request.address = DEPOSIT.to_owned();
    let err = client(&server.uri())
        .withdraw(&request)
        .await
        .expect_err("refused");
    assert!(
        matches!(err, ExchangeError::AddressNotWhitelisted { .. }),
        "{err:?}"
    );
    assert!(server
        .received_requests()
        .await
        .expect("recorded")
        .is_empty());
}

#[tokio::test]
async fn http_failures_are_typed_by_what_they_mean_for_the_request() {
    let server = MockServer::start().await;
    private(
        &server,
        "Balance",
        ResponseTemplate::new(503).set_body_string("busy"),
    )
    .await;
    private(
        &server,
        "AddOrder",
        ResponseTemplate::new(502).set_body_string("bad gateway"),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/0/public/Depth"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .mount(&server)
        .await;
    let kraken = client(&server.uri());
    let read = kraken.balances().await.expect_err("503");
    assert!(
        matches!(read, ExchangeError::Unavailable { .. }) && read.is_retryable(),
        "{read:?}"
    );
    let order = kraken
        .place_order(&market_buy(known_leg(), pair("BTC", "USD")))
        .await
        .expect_err("502");
    assert!(order.is_unknown_outcome(), "{order:?}");
    let limited = kraken
        .quote(&pair("BTC", "USD"), Side::Buy, d("0.1"))
        .await
        .expect_err("429");
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn malformed_and_truncated_bodies_are_typed_errors_not_panics() {
    let server = MockServer::start().await;
    private(&server, "Balance", ok("malformed.html")).await;
    private(&server, "AddOrder", ok("add_order_truncated.json")).await;
    let kraken = client(&server.uri());
    let read = kraken.balances().await.expect_err("html");
    assert!(matches!(read, ExchangeError::Decode { .. }), "{read:?}");
    let order = kraken
        .place_order(&market_buy(known_leg(), pair("BTC", "USD")))
        .await
        .expect_err("truncated");
    assert!(
        order.is_unknown_outcome(),
        "an unreadable order answer may hide an executed order: {order:?}"
    );
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_told_apart() {
    let server = MockServer::start().await;
    let slow = || ok("balance.json").set_delay(Duration::from_secs(2));
    private(&server, "Balance", slow()).await;
    private(&server, "Withdraw", slow()).await;
    let kraken = client(&server.uri());
    assert!(matches!(
        kraken.balances().await,
        Err(ExchangeError::Unavailable { .. })
    ));
    let w = kraken
        .withdraw(&usdc_withdrawal(known_leg(), "100"))
        .await
        .expect_err("timeout");
    assert!(w.is_unknown_outcome(), "{w:?}");
    let refused = client(&closed_port_url())
        .place_order(&market_buy(known_leg(), pair("BTC", "USD")))
        .await
        .expect_err("refused");
    assert!(
        matches!(refused, ExchangeError::Unavailable { .. }),
        "never sent, so safe to retry: {refused:?}"
    );
}

#[tokio::test]
async fn an_order_that_timed_out_is_found_by_its_client_id_and_never_sent_twice() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/0/private/AddOrder"))
        .respond_with(ok("add_order.json").set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    happy_path(&server).await;
    let order = market_buy(known_leg(), pair("BTC", "USD"));
    let placed = place_order_once(&client(&server.uri()), &order, &fast_policy())
        .await
        .expect("resolved by lookup");
    assert_eq!(placed.venue_order_id, "OUF4EM-FRGI2-MQMWZD");
    assert_eq!(placed.client_order_id, cl_ord_id());
    assert_eq!(
        requests_to(&server, "/0/private/AddOrder").await,
        1,
        "sent exactly once"
    );
    server.verify().await;
}

#[tokio::test]
async fn a_withdrawal_that_timed_out_is_found_and_never_sent_twice() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/0/private/Withdraw"))
        .respond_with(ok("withdraw.json").set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    private(&server, "WithdrawStatus", ok("withdraw_status.json")).await;
    let sent = withdraw_once(
        &client(&server.uri()),
        &usdc_withdrawal(known_leg(), "100"),
        &fast_policy(),
    )
    .await
    .expect("resolved by lookup");
    assert_eq!(sent.venue_withdrawal_id, "FTQcuak-V6Za8qrWnhzTx67yYHz8Tg");
    assert_eq!(sent.tx_hash.as_deref(), Some(TX_HASH));
    server.verify().await;
}

#[tokio::test]
async fn a_secret_that_is_not_base64_is_refused_as_bad_credentials_before_anything_is_sent() {
    let server = MockServer::start().await;
    let mut config = KrakenConfig::new(
        &server.uri(),
        SecretString::from("test-key".to_owned()),
        SecretString::from("not base64!!".to_owned()),
    );
    config.timeout = Duration::from_secs(1);
    let kraken = Kraken::new(config).expect("client");
    let err = kraken.balances().await.expect_err("an unsignable secret");
    assert!(matches!(err, ExchangeError::Auth { .. }), "{err:?}");
    assert!(server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
}
