//! The Binance client against a local HTTP server answering with recorded Binance JSON.

mod conformance;
mod support;

use std::sync::Arc;
use std::time::Duration;

use rialto_connectors::exchange::binance::{signature, Binance, BinanceConfig, BinanceNetwork};
use rialto_connectors::exchange::{
    client_order_id, place_order_once, withdraw_once, withdrawal_reference, Exchange,
    ExchangeError, Venue,
};
use secrecy::SecretString;
use support::*;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

fn body(name: &str) -> String {
    fixture(
        "binance",
        name,
        &client_order_id(Venue::Binance, &known_leg()),
        &withdrawal_reference(Venue::Binance, &known_leg()),
    )
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_string(body(name))
        .insert_header("X-MBX-USED-WEIGHT-1M", "25")
}

fn status(code: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_string(body(name))
}

fn config(base_url: &str) -> BinanceConfig {
    let mut config = BinanceConfig::new(
        base_url,
        SecretString::from(KEY.to_owned()),
        SecretString::from(SECRET.to_owned()),
    );
    config.timeout = Duration::from_secs(1);
    config.networks = vec![BinanceNetwork {
        asset: asset("USDC"),
        network: base_chain(),
        binance_network: "BASE".into(),
    }];
    config
}

fn client(base_url: &str) -> Binance {
    Binance::new(config(base_url)).expect("client")
}

async fn mount(server: &MockServer, verb: &str, route: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn happy_path(server: &MockServer) {
    let known = client_order_id(Venue::Binance, &known_leg());
    let reference = withdrawal_reference(Venue::Binance, &known_leg());
    Mock::given(method("GET"))
        .and(path("/api/v3/account"))
        .and(header("X-MBX-APIKEY", KEY))
        .respond_with(ok("account.json"))
        .mount(server)
        .await;
    mount(server, "GET", "/api/v3/depth", ok("depth.json")).await;
    mount(server, "POST", "/api/v3/order", ok("order_full.json")).await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order"))
        .and(query_param("orderId", "28"))
        .respond_with(ok("order_query.json"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order"))
        .and(query_param("origClientOrderId", known))
        .respond_with(ok("order_query.json"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order"))
        .respond_with(status(400, "no_such_order.json"))
        .with_priority(10)
        .mount(server)
        .await;
    mount(
        server,
        "GET",
        "/sapi/v1/capital/config/getall",
        ok("capital_config.json"),
    )
    .await;
    mount(
        server,
        "POST",
        "/sapi/v1/capital/withdraw/apply",
        ok("withdraw_apply.json"),
    )
    .await;
    let history = "/sapi/v1/capital/withdraw/history";
    Mock::given(method("GET"))
        .and(path(history))
        .and(query_param("idList", "7213fea8e94b4a5593d507237e5a555b"))
        .respond_with(ok("withdraw_history.json"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(history))
        .and(query_param("withdrawOrderId", reference))
        .respond_with(ok("withdraw_history.json"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(history))
        .respond_with(ok("withdraw_history_empty.json"))
        .with_priority(10)
        .mount(server)
        .await;
    mount(
        server,
        "GET",
        "/sapi/v1/capital/deposit/address",
        ok("deposit_address.json"),
    )
    .await;
}

#[tokio::test]
async fn binance_passes_the_conformance_suite() {
    let server = MockServer::start().await;
    happy_path(&server).await;
    let scenario = conformance::Scenario {
        pair: pair("BTC", "USDC"),
        size: d("0.25"),
        too_large: d("100"),
        funded_asset: asset("USDC"),
        order: market_buy(known_leg(), pair("BTC", "USDC")),
        unknown_order: market_buy(other_leg(), pair("BTC", "USDC")),
        withdrawal: usdc_withdrawal(known_leg(), "100"),
        unknown_withdrawal: usdc_withdrawal(other_leg(), "100"),
    };
    conformance::run(&client(&server.uri()), &scenario).await;
}

#[tokio::test]
async fn signed_requests_carry_timestamp_recv_window_and_a_signature_over_the_exact_bytes() {
    let server = MockServer::start().await;
    happy_path(&server).await;
    let binance = client(&server.uri());
    binance.balances().await.expect("balances");
    binance
        .place_order(&market_buy(known_leg(), pair("BTC", "USDC")))
        .await
        .expect("order");
    for request in server.received_requests().await.expect("recorded") {
        let (signed, sig) = if request.method.as_str() == "GET" {
            let query = request.url.query().expect("query").to_owned();
            let (signed, sig) = query.rsplit_once("&signature=").expect("signature last");
            (signature(SECRET, signed, ""), sig.to_owned())
        } else {
            let body = String::from_utf8(request.body.clone()).expect("utf8");
            let (signed, sig) = body.rsplit_once("&signature=").expect("signature last");
            assert!(signed.contains("newClientOrderId=leg_"), "{signed}");
            (signature(SECRET, "", signed), sig.to_owned())
        };
        assert_eq!(signed, sig);
        let text = format!(
            "{}{}",
            request.url.query().unwrap_or(""),
            String::from_utf8_lossy(&request.body)
        );
        assert!(
            text.contains("recvWindow=5000") && text.contains("timestamp="),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_request_that_would_cross_the_reported_weight_is_refused_before_it_is_sent() {
    let server = MockServer::start().await;
    let heavy = ResponseTemplate::new(200)
        .set_body_string(body("account.json"))
        .insert_header("X-MBX-USED-WEIGHT-1M", "5990");
    mount(&server, "GET", "/api/v3/account", heavy).await;
    let binance = client(&server.uri());
    binance.balances().await.expect("first call");
    let err = binance
        .balances()
        .await
        .expect_err("account costs 20: 5990 + 20 > 6000");
    let wait = err.retry_after().expect("waits for the next minute");
    assert!(wait <= Duration::from_secs(60), "{wait:?}");
    assert_eq!(
        requests_to(&server, "/api/v3/account").await,
        1,
        "the second call never left"
    );
}

#[tokio::test]
async fn binance_rejections_reach_the_caller_typed_with_binances_message() {
    let cases: [(&str, ErrorCheck); 3] = [
        (
            "insufficient_balance.json",
            |e| matches!(e, ExchangeError::InsufficientFunds { message, .. } if message.contains("-2010")),
        ),
        ("filter_notional.json", |e| {
            matches!(e, ExchangeError::BelowMinimum { .. })
        }),
        ("invalid_symbol.json", |e| {
            matches!(e, ExchangeError::InvalidSymbol { .. })
        }),
    ];
    for (file, expected) in cases {
        let server = MockServer::start().await;
        mount(&server, "POST", "/api/v3/order", status(400, file)).await;
        let err = client(&server.uri())
            .place_order(&market_buy(known_leg(), pair("BTC", "USDC")))
            .await
            .expect_err(file);
        assert!(expected(&err) && !err.is_retryable(), "{file}: {err:?}");
    }
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/sapi/v1/capital/withdraw/apply",
        status(400, "not_whitelisted.json"),
    )
    .await;
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
async fn rate_limits_and_ip_bans_carry_retry_after() {
    for code in [429u16, 418] {
        let server = MockServer::start().await;
        let limited = status(code, "too_much_weight.json").insert_header("Retry-After", "42");
        mount(&server, "GET", "/api/v3/depth", limited).await;
        let err = client(&server.uri())
            .quote(
                &pair("BTC", "USDC"),
                rialto_connectors::exchange::Side::Buy,
                d("0.1"),
            )
            .await
            .expect_err("limited");
        assert!(
            matches!(err, ExchangeError::RateLimited { .. }),
            "{code}: {err:?}"
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(42)));
    }
}

#[tokio::test]
async fn server_errors_are_retryable_for_reads_and_unknown_for_orders() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/api/v3/account",
        ResponseTemplate::new(500),
    )
    .await;
    mount(&server, "POST", "/api/v3/order", ResponseTemplate::new(503)).await;
    let binance = client(&server.uri());
    let read = binance.balances().await.expect_err("500");
    assert!(read.is_retryable(), "{read:?}");
    let order = binance
        .place_order(&market_buy(known_leg(), pair("BTC", "USDC")))
        .await
        .expect_err("503");
    assert!(
        order.is_unknown_outcome(),
        "Binance: a 5xx order 'could have been a success': {order:?}"
    );
}

#[tokio::test]
async fn truncated_bodies_are_typed_errors_not_panics() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/api/v3/depth", ok("depth_truncated.json")).await;
    mount(&server, "POST", "/api/v3/order", ok("order_truncated.json")).await;
    let binance = client(&server.uri());
    let read = binance
        .quote(
            &pair("BTC", "USDC"),
            rialto_connectors::exchange::Side::Sell,
            d("0.1"),
        )
        .await
        .expect_err("truncated");
    assert!(matches!(read, ExchangeError::Decode { .. }), "{read:?}");
    let order = binance
        .place_order(&market_buy(known_leg(), pair("BTC", "USDC")))
        .await
        .expect_err("truncated");
    assert!(order.is_unknown_outcome(), "{order:?}");
}

#[tokio::test]
async fn an_order_that_timed_out_is_looked_up_by_client_id_and_not_resent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/order"))
        .respond_with(ok("order_full.json").set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    happy_path(&server).await;
    let order = market_buy(known_leg(), pair("BTC", "USDC"));
    let placed = place_order_once(&client(&server.uri()), &order, &fast_policy())
        .await
        .expect("found");
    assert_eq!(placed.venue_order_id, "28");
    assert_eq!(
        requests_to(&server, "/api/v3/order").await,
        2,
        "one POST, one lookup GET"
    );
    server.verify().await;
}

#[tokio::test]
async fn an_order_the_venue_never_received_is_sent_again_with_the_same_client_id() {
    let server = MockServer::start().await;
    // The first POST dies with a 500 (outcome unknown); the lookup says -2013; the resend fills.
    Mock::given(method("POST"))
        .and(path("/api/v3/order"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/order"))
        .respond_with(ok("order_full.json"))
        .with_priority(10)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/order"))
        .respond_with(status(400, "no_such_order.json"))
        .mount(&server)
        .await;
    let order = market_buy(known_leg(), pair("BTC", "USDC"));
    let placed = place_order_once(&client(&server.uri()), &order, &fast_policy())
        .await
        .expect("resent");
    assert_eq!(
        placed.client_order_id,
        client_order_id(Venue::Binance, &known_leg())
    );
    let posts: Vec<String> = server
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(posts.len(), 2);
    let id = format!(
        "newClientOrderId={}",
        client_order_id(Venue::Binance, &known_leg())
    );
    assert!(
        posts.iter().all(|p| p.contains(&id)),
        "both sends carry the same client id"
    );
}

#[tokio::test]
async fn a_withdrawal_that_timed_out_is_found_by_its_reference_and_not_resent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sapi/v1/capital/withdraw/apply"))
        .respond_with(ok("withdraw_apply.json").set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    happy_path(&server).await;
    let sent = withdraw_once(
        &client(&server.uri()),
        &usdc_withdrawal(known_leg(), "100"),
        &fast_policy(),
    )
    .await
    .expect("found");
    assert_eq!(sent.venue_withdrawal_id, "7213fea8e94b4a5593d507237e5a555b");
    assert_eq!(
        requests_to(&server, "/sapi/v1/capital/withdraw/apply").await,
        1
    );
    server.verify().await;
}

#[tokio::test]
async fn timestamps_come_from_the_injected_clock() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/api/v3/account", ok("account.json")).await;
    let mut config = config(&server.uri());
    config.clock = Arc::new(ManualClock::at(1_499_827_319_559));
    Binance::new(config)
        .expect("client")
        .balances()
        .await
        .expect("balances");
    let requests = server.received_requests().await.expect("recorded");
    assert!(requests[0]
        .url
        .query()
        .expect("query")
        .contains("timestamp=1499827319559"));
}
