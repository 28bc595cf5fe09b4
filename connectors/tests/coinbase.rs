//! The Coinbase client against a local HTTP server answering with recorded Coinbase JSON.

mod conformance;
mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rialto_connectors::exchange::coinbase::{CdpKey, Coinbase, CoinbaseConfig, CoinbaseNetwork};
use rialto_connectors::exchange::{
    client_order_id, place_order_once, withdraw_once, withdrawal_reference, Exchange,
    ExchangeError, Side, Venue,
};
use secrecy::SecretString;
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "8bfc20d7-f7c6-4422-bf07-8243ca4169fe";
const TX: &str = "3c04e35e-8e5a-5ff1-9155-00675db4ac02";
const KEY_NAME: &str = "organizations/org-1/apiKeys/key-1";

/// A fixed test key: it guards nothing.
fn secret() -> p256::SecretKey {
    p256::SecretKey::from_slice(&[42u8; 32]).expect("valid scalar")
}

fn public_key() -> VerifyingKey {
    *SigningKey::from(secret()).verifying_key()
}

fn cdp_key() -> CdpKey {
    let pem = secret()
        .to_sec1_pem(p256::pkcs8::LineEnding::LF)
        .expect("pem");
    CdpKey::from_pem(KEY_NAME, &SecretString::from(pem.to_string())).expect("key")
}

fn body(name: &str) -> String {
    fixture(
        "coinbase",
        name,
        &client_order_id(Venue::Coinbase, &known_leg()),
        &withdrawal_reference(Venue::Coinbase, &known_leg()),
    )
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string(body(name))
}

fn config(base_url: &str) -> CoinbaseConfig {
    let mut config = CoinbaseConfig::new(base_url, cdp_key());
    config.timeout = Duration::from_secs(1);
    config.networks = vec![CoinbaseNetwork {
        asset: asset("USDC"),
        network: base_chain(),
        coinbase_network: "base".into(),
        withdrawal_fee: d("0.5"),
        withdrawal_minimum: d("1"),
    }];
    config
}

fn client(base_url: &str) -> Coinbase {
    Coinbase::new(config(base_url)).expect("client")
}

async fn mount(server: &MockServer, verb: &str, route: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn happy_path(server: &MockServer) {
    mount(
        server,
        "GET",
        "/api/v3/brokerage/accounts",
        ok("accounts.json"),
    )
    .await;
    mount(
        server,
        "GET",
        "/api/v3/brokerage/product_book",
        ok("product_book.json"),
    )
    .await;
    mount(
        server,
        "POST",
        "/api/v3/brokerage/orders",
        ok("create_order.json"),
    )
    .await;
    mount(
        server,
        "GET",
        "/api/v3/brokerage/orders/historical/11111-00000-000000",
        ok("get_order.json"),
    )
    .await;
    mount(
        server,
        "GET",
        "/api/v3/brokerage/orders/historical/batch",
        ok("list_orders.json"),
    )
    .await;
    mount(
        server,
        "POST",
        &format!("/v2/accounts/{ACCOUNT}/transactions"),
        ok("send.json"),
    )
    .await;
    mount(
        server,
        "GET",
        &format!("/v2/accounts/{ACCOUNT}/transactions/{TX}"),
        ok("transaction.json"),
    )
    .await;
    mount(
        server,
        "GET",
        &format!("/v2/accounts/{ACCOUNT}/transactions"),
        ok("transactions.json"),
    )
    .await;
    mount(
        server,
        "GET",
        &format!("/v2/accounts/{ACCOUNT}/addresses"),
        ok("addresses.json"),
    )
    .await;
}

/// Verifies a bearer JWT with the key's public half and returns its header and claims.
fn verified_jwt(request: &wiremock::Request) -> (serde_json::Value, serde_json::Value) {
    let auth = request
        .headers
        .get("authorization")
        .expect("authorization")
        .to_str()
        .expect("ascii");
    let token = auth.strip_prefix("Bearer ").expect("bearer");
    let parts: Vec<&str> = token.split('.').collect();
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).expect("b64")).expect("r||s");
    public_key()
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .expect("ES256 verifies");
    let json =
        |p: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("b64")).expect("json");
    (json(parts[0]), json(parts[1]))
}

#[tokio::test]
async fn coinbase_passes_the_conformance_suite() {
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
        unknown_withdrawal: usdc_withdrawal(other_leg(), "100"),
    };
    conformance::run(&client(&server.uri()), &scenario).await;
}

#[tokio::test]
async fn every_request_carries_a_fresh_jwt_for_its_own_method_and_path_from_the_injected_clock() {
    let server = MockServer::start().await;
    happy_path(&server).await;
    let clock = Arc::new(ManualClock::at(1_800_000_000_000));
    let mut config = config(&server.uri());
    config.clock = clock.clone();
    let coinbase = Coinbase::new(config).expect("client");
    coinbase.balances().await.expect("balances");
    clock.advance(Duration::from_secs(130));
    coinbase
        .place_order(&market_buy(known_leg(), pair("BTC", "USD")))
        .await
        .expect("order");

    let requests = server.received_requests().await.expect("recorded");
    let host = server.uri().trim_start_matches("http://").to_owned();
    let (h1, c1) = verified_jwt(&requests[0]);
    let (h2, c2) = verified_jwt(&requests[1]);
    assert_eq!(
        (h1["alg"].as_str(), h1["kid"].as_str()),
        (Some("ES256"), Some(KEY_NAME))
    );
    assert_ne!(h1["nonce"], h2["nonce"], "a fresh nonce per request");
    assert_eq!(
        (c1["sub"].as_str(), c1["iss"].as_str()),
        (Some(KEY_NAME), Some("cdp"))
    );
    assert_eq!(
        c1["uri"].as_str(),
        Some(format!("GET {host}/api/v3/brokerage/accounts").as_str()),
        "no query in uri"
    );
    assert_eq!(
        c2["uri"].as_str(),
        Some(format!("POST {host}/api/v3/brokerage/orders").as_str())
    );
    assert_eq!(
        (c1["nbf"].as_u64(), c1["exp"].as_u64()),
        (Some(1_800_000_000), Some(1_800_000_120))
    );
    // The second request came after the first JWT expired: it got its own, valid one.
    let second_sent_at = 1_800_000_130;
    assert!(c1["exp"].as_u64().expect("exp") < second_sent_at);
    assert_eq!(
        (c2["nbf"].as_u64(), c2["exp"].as_u64()),
        (Some(second_sent_at), Some(second_sent_at + 120))
    );
}

#[tokio::test]
async fn orders_carry_the_leg_id_and_withdrawals_its_uuid_as_idem() {
    let server = MockServer::start().await;
    happy_path(&server).await;
    let coinbase = client(&server.uri());
    coinbase
        .place_order(&market_buy(known_leg(), pair("BTC", "USD")))
        .await
        .expect("order");
    coinbase
        .withdraw(&usdc_withdrawal(known_leg(), "100"))
        .await
        .expect("send");
    let requests = server.received_requests().await.expect("recorded");
    let posts: Vec<serde_json::Value> = requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| r.body_json().expect("json"))
        .collect();
    assert_eq!(
        posts[0]["client_order_id"],
        client_order_id(Venue::Coinbase, &known_leg())
    );
    assert_eq!(
        posts[0]["order_configuration"]["market_market_ioc"]["base_size"],
        "0.25"
    );
    assert_eq!(
        posts[1]["idem"],
        withdrawal_reference(Venue::Coinbase, &known_leg())
    );
    assert_eq!(
        (posts[1]["type"].as_str(), posts[1]["network"].as_str()),
        (Some("send"), Some("base"))
    );
}

#[tokio::test]
async fn coinbase_rejections_reach_the_caller_typed_with_coinbases_message() {
    let cases: [(&str, ErrorCheck); 3] = [
        (
            "create_order_insufficient.json",
            |e| matches!(e, ExchangeError::InsufficientFunds { message, .. } if message.contains("Insufficient balance")),
        ),
        ("create_order_too_small.json", |e| {
            matches!(e, ExchangeError::BelowMinimum { .. })
        }),
        ("create_order_invalid_product.json", |e| {
            matches!(e, ExchangeError::InvalidSymbol { .. })
        }),
    ];
    for (file, expected) in cases {
        let server = MockServer::start().await;
        mount(&server, "POST", "/api/v3/brokerage/orders", ok(file)).await;
        let err = client(&server.uri())
            .place_order(&market_buy(known_leg(), pair("BTC", "USD")))
            .await
            .expect_err(file);
        assert!(expected(&err) && !err.is_retryable(), "{file}: {err:?}");
    }
    for (file, expected) in [
        (
            "send_insufficient.json",
            (|e| matches!(e, ExchangeError::InsufficientFunds { .. })) as ErrorCheck,
        ),
        ("send_not_allowlisted.json", |e| {
            matches!(e, ExchangeError::AddressNotWhitelisted { .. })
        }),
    ] {
        let server = MockServer::start().await;
        mount(
            &server,
            "GET",
            "/api/v3/brokerage/accounts",
            ok("accounts.json"),
        )
        .await;
        mount(
            &server,
            "POST",
            &format!("/v2/accounts/{ACCOUNT}/transactions"),
            ResponseTemplate::new(400).set_body_string(body(file)),
        )
        .await;
        let err = client(&server.uri())
            .withdraw(&usdc_withdrawal(known_leg(), "100"))
            .await
            .expect_err(file);
        assert!(expected(&err), "{file}: {err:?}");
    }
}

#[tokio::test]
async fn an_unknown_product_is_an_invalid_symbol_and_a_thin_withdrawal_never_leaves() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/api/v3/brokerage/product_book",
        ResponseTemplate::new(404).set_body_string(body("product_not_found.json")),
    )
    .await;
    let coinbase = client(&server.uri());
    let err = coinbase
        .quote(&pair("DOGE", "XYZ"), Side::Buy, d("1"))
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, ExchangeError::InvalidSymbol { .. }),
        "{err:?}"
    );
    let small = coinbase
        .withdraw(&usdc_withdrawal(known_leg(), "0.5"))
        .await
        .expect_err("below minimum");
    assert!(
        matches!(small, ExchangeError::BelowMinimum { .. }),
        "{small:?}"
    );
    assert_eq!(
        requests_to(&server, &format!("/v2/accounts/{ACCOUNT}/transactions")).await,
        0
    );
}

#[tokio::test]
async fn failures_are_typed_and_bodies_never_panic() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/api/v3/brokerage/accounts",
        ResponseTemplate::new(429).insert_header("Retry-After", "3"),
    )
    .await;
    mount(
        &server,
        "GET",
        "/api/v3/brokerage/product_book",
        ok("product_book_truncated.json"),
    )
    .await;
    mount(
        &server,
        "POST",
        "/api/v3/brokerage/orders",
        ok("create_order_truncated.json"),
    )
    .await;
    mount(
        &server,
        "GET",
        "/api/v3/brokerage/orders/historical/x",
        ResponseTemplate::new(504),
    )
    .await;
    let coinbase = client(&server.uri());
    assert_eq!(
        coinbase.balances().await.expect_err("429").retry_after(),
        Some(Duration::from_secs(3))
    );
    assert!(matches!(
        coinbase
            .quote(&pair("BTC", "USD"), Side::Buy, d("0.1"))
            .await,
        Err(ExchangeError::Decode { .. })
    ));
    let order = coinbase
        .place_order(&market_buy(known_leg(), pair("BTC", "USD")))
        .await
        .expect_err("truncated");
    assert!(order.is_unknown_outcome(), "{order:?}");
    let status = coinbase
        .order_status(&pair("BTC", "USD"), "x")
        .await
        .expect_err("504");
    assert!(
        matches!(status, ExchangeError::Unavailable { .. }),
        "{status:?}"
    );
}

#[tokio::test]
async fn an_order_that_timed_out_is_found_in_the_order_list_and_not_resent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/brokerage/orders"))
        .respond_with(ok("create_order.json").set_delay(Duration::from_secs(2)))
        .expect(1)
        .mount(&server)
        .await;
    happy_path(&server).await;
    let placed = place_order_once(
        &client(&server.uri()),
        &market_buy(known_leg(), pair("BTC", "USD")),
        &fast_policy(),
    )
    .await
    .expect("found");
    assert_eq!(placed.venue_order_id, "11111-00000-000000");
    assert_eq!(requests_to(&server, "/api/v3/brokerage/orders").await, 1);
    server.verify().await;
}

#[tokio::test]
async fn a_send_that_timed_out_is_found_by_its_idem_and_not_resent() {
    let server = MockServer::start().await;
    let sends = format!("/v2/accounts/{ACCOUNT}/transactions");
    Mock::given(method("POST"))
        .and(path(sends.as_str()))
        .respond_with(ok("send.json").set_delay(Duration::from_secs(2)))
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
    assert_eq!(sent.venue_withdrawal_id, TX);
    assert_eq!(sent.tx_hash.as_deref(), Some(TX_HASH));
    let posts = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1);
    server.verify().await;
}

/// The App API's "Show current user" as Coinbase documents it (`GET /v2/user`).
const USER: &str = r#"{"data": {"id": "9da7a204-544e-5fd1-9a12-61176c5d4cd8", "name": "User One",
  "username": "user1", "profile_location": null, "profile_bio": null,
  "profile_url": "https://coinbase.com/user1", "avatar_url": "https://images.coinbase.com/avatar?s=128",
  "resource": "user", "resource_path": "/v2/user"}}"#;

#[tokio::test]
async fn the_account_holders_name_is_read_from_the_current_user_with_a_signed_request() {
    let server = MockServer::start().await;
    let user = ResponseTemplate::new(200).set_body_string(USER);
    mount(&server, "GET", "/v2/user", user).await;
    let holder = client(&server.uri()).account_holder().await.unwrap();
    assert_eq!(holder.as_deref(), Some("User One"));
    let requests = server.received_requests().await.unwrap();
    let (_, claims) = verified_jwt(&requests[0]);
    assert!(
        claims["uri"].as_str().unwrap().ends_with("/v2/user"),
        "{claims}"
    );
    // A blank or missing name is no name: nothing to screen, never an empty string.
    let blank = MockServer::start().await;
    let nameless = ResponseTemplate::new(200)
        .set_body_string(r#"{"data": {"id": "u", "name": "  ", "resource": "user"}}"#);
    mount(&blank, "GET", "/v2/user", nameless).await;
    assert_eq!(client(&blank.uri()).account_holder().await.unwrap(), None);
}
