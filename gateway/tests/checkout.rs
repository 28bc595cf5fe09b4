//! Hosted checkout sessions over HTTP: the merchant's `/v1/checkout_sessions` and the page a
//! shopper opens with the session's token and no API key. The page in a real browser, paying
//! on the devnet, is `tools/browser/checkout.test.mjs`.

mod common;

use common::{expect_error, spawn_app, Db, TestApp, ADDRESS};
use serde_json::{json, Value};

fn session_body() -> Value {
    json!({
        "amount": "25.00",
        "currency": "usd",
        "settlement": {"asset": "usdc", "chain": "base", "address": ADDRESS},
        "success_url": "https://shop.example/thanks?order=7",
        "cancel_url": "http://localhost:3000/cart",
        "line_items": [{"name": "Coffee beans, 1 kg", "quantity": 2, "unit_amount": "12.5"}],
        "locale": "de"
    })
}

async fn create_session(app: &TestApp, body: Value) -> Value {
    let response = app
        .post("/v1/checkout_sessions", app.sk())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "create failed");
    response.json().await.unwrap()
}

/// The page's path (`/checkout/<token>`) from a session's URL.
fn page_path(session: &Value) -> String {
    let url = session["url"].as_str().unwrap();
    let at = url.find("/checkout/").unwrap();
    url[at..].to_owned()
}

#[tokio::test]
async fn a_session_creates_its_intent_and_its_page_opens_with_no_key() {
    let app = spawn_app(Db::Sqlite).await;
    let session = create_session(&app, session_body()).await;
    assert_eq!(session["object"], "checkout_session");
    assert_eq!(session["status"], "open");
    assert_eq!(session["locale"], "de");
    assert_eq!(session["line_items"][0]["unit_amount"], "12.50");
    let id = session["id"].as_str().unwrap();
    let intent_id = session["payment_intent"].as_str().unwrap();
    assert!(id.starts_with("cs_"));
    let path = page_path(&session);
    let token = path.trim_start_matches("/checkout/");
    assert_eq!(token.len(), 43);
    assert!(!path.contains(id) && !path.contains(intent_id));
    let intent = app
        .get_json(&format!("/v1/payment_intents/{intent_id}"))
        .await;
    assert_eq!(intent["amount"], "25.00");
    assert_eq!(session["expires_at"], intent["expires_at"]);
    assert_eq!(
        app.get_json(&format!("/v1/checkout_sessions/{id}")).await,
        session
    );

    let page = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("/checkout-assets/checkout.js"));

    let view: Value = app
        .client
        .get(format!("{}{path}/session", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "open");
    assert_eq!(view["merchant_name"], "Test Shop");
    assert_eq!(view["amount"], "25.00");
    assert_eq!(view["pay_amount_units"], "25000000");
    let text = view.to_string();
    let secret = intent["client_secret"].as_str().unwrap();
    assert!(!text.contains(secret) && !text.contains("sk_test") && !text.contains(id));
}

#[tokio::test]
async fn redirect_urls_must_be_https_or_localhost_in_test_mode() {
    let app = spawn_app(Db::Sqlite).await;
    for bad in [
        "http://shop.example/thanks",
        "javascript:alert(1)",
        "https://user:pw@shop.example/",
        "/relative",
        "ftp://shop.example/",
    ] {
        let mut body = session_body();
        body["success_url"] = json!(bad);
        let response = app
            .post("/v1/checkout_sessions", app.sk())
            .json(&body)
            .send()
            .await
            .unwrap();
        let err = expect_error(response, 400, "parameter_invalid").await;
        assert_eq!(err["param"], "success_url", "{bad}");
    }
    let response = app
        .post("/v1/checkout_sessions", &app.merchant.publishable_key)
        .json(&session_body())
        .send()
        .await
        .unwrap();
    expect_error(response, 403, "secret_key_required").await;
    let mut both = session_body();
    both["payment_intent"] = json!("pi_01JA0000000000000000000000");
    let response = app
        .post("/v1/checkout_sessions", app.sk())
        .json(&both)
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "parameter_invalid").await;
}

#[tokio::test]
async fn a_token_reaches_only_its_own_intent() {
    let app = spawn_app(Db::Sqlite).await;
    let mine = create_session(&app, session_body()).await;
    let other = app
        .create_intent(json!({"amount": "9.00", "currency": "usd"}))
        .await;
    let path = page_path(&mine);
    // Naming another intent's client secret is refused before anything is read.
    let response = app
        .client
        .post(format!("{}{path}/authorizations", app.base))
        .json(&json!({"client_secret": other["client_secret"], "from": ADDRESS}))
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "parameter_unknown").await;
    // Unknown and malformed tokens are simply not found.
    let mut wrong = path.clone();
    wrong.pop();
    wrong.push(if path.ends_with('a') { 'b' } else { 'a' });
    for probe in [wrong.as_str(), "/checkout/short", "/checkout/../v1/balance"] {
        let response = app
            .client
            .get(format!("{}{probe}/session", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{probe}");
    }
    // A merchant's session cannot name another merchant's intent.
    let stranger = app.another_merchant().await;
    let theirs = app
        .post("/v1/payment_intents", &stranger.secret_key)
        .json(&json!({"amount": "3.00", "currency": "usd"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let mut body = session_body();
    for k in ["amount", "currency", "settlement"] {
        body.as_object_mut().unwrap().remove(k);
    }
    body["payment_intent"] = theirs["id"].clone();
    let response = app
        .post("/v1/checkout_sessions", app.sk())
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "resource_missing").await;
    body["payment_intent"] = other["id"].clone();
    let session = create_session(&app, body).await;
    assert_eq!(session["payment_intent"], other["id"]);
    assert_eq!(session["amount"], "9.00");
}

#[tokio::test]
async fn a_canceled_session_takes_no_payment_and_cannot_be_canceled_again() {
    let app = spawn_app(Db::Sqlite).await;
    let session = create_session(&app, session_body()).await;
    let id = session["id"].as_str().unwrap();
    let cancel = format!("/v1/checkout_sessions/{id}/cancel");
    let canceled: Value = app
        .post(&cancel, app.sk())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(canceled["status"], "canceled");
    let again = app.post(&cancel, app.sk()).send().await.unwrap();
    expect_error(again, 400, "checkout_session_unexpected_state").await;
    let path = page_path(&session);
    let view: Value = app
        .client
        .get(format!("{}{path}/session", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "canceled");
    let pay = app
        .client
        .post(format!("{}{path}/deposit_address", app.base))
        .send()
        .await
        .unwrap();
    expect_error(pay, 400, "checkout_session_unexpected_state").await;
}

#[tokio::test]
async fn a_retried_create_with_its_idempotency_key_makes_one_session() {
    let app = spawn_app(Db::Sqlite).await;
    let send = || {
        app.post("/v1/checkout_sessions", app.sk())
            .header("Idempotency-Key", "checkout-1")
            .json(&session_body())
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let second: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.intent_count().await, 1);
}

/// Makes the database refuse every new checkout session, as a full disk or a lost connection
/// between the two writes would.
async fn refuse_sessions(app: &TestApp, db: Db) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let statements: &[&str] = match db {
        Db::Sqlite => &[
            "CREATE TRIGGER refuse_sessions BEFORE INSERT ON checkout_sessions \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ],
        Db::Postgres => &[
            "CREATE FUNCTION refuse_sessions() RETURNS trigger AS $$ BEGIN \
             RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_sessions BEFORE INSERT ON checkout_sessions \
             FOR EACH ROW EXECUTE FUNCTION refuse_sessions()",
        ],
    };
    for sql in statements {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

async fn a_failed_session_write_leaves_no_intent(db: Db) {
    let app = spawn_app(db).await;
    refuse_sessions(&app, db).await;
    let response = app
        .post("/v1/checkout_sessions", app.sk())
        .json(&session_body())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_ne!(status, 200, "{body}");
    assert_eq!(body["error"]["type"], "api_error", "{body}");
    assert_eq!(
        app.intent_count().await,
        0,
        "the intent was written without its session"
    );
}

#[tokio::test]
async fn on_postgres_a_session_is_written_with_its_intent_and_every_create_parameter() {
    // The session's intent goes through the single-create statement, which takes 28
    // parameters; PostgreSQL refuses a statement given fewer.
    let app = spawn_app(Db::Postgres).await;
    let session = create_session(&app, session_body()).await;
    assert_eq!(session["status"], "open");
    let intent_id = session["payment_intent"].as_str().unwrap();
    let intent = app
        .get_json(&format!("/v1/payment_intents/{intent_id}"))
        .await;
    assert_eq!(intent["id"], intent_id);
    assert_eq!(app.intent_count().await, 1);
}

#[tokio::test]
async fn a_session_that_cannot_be_written_leaves_no_intent_behind_on_sqlite() {
    a_failed_session_write_leaves_no_intent(Db::Sqlite).await;
}

#[tokio::test]
async fn a_session_that_cannot_be_written_leaves_no_intent_behind_on_postgres() {
    a_failed_session_write_leaves_no_intent(Db::Postgres).await;
}

const SOLANA_MERCHANT: &str = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM";
const DEVNET_SOLANA_USDC: &str = "EJmoxGPnKiawaonenHtcpGqEEUHq9Bpsqpq5etrQw4bi";

#[tokio::test]
async fn a_solana_session_shows_the_servers_solana_pay_url_and_draws_its_qr() {
    use rialto_core::payment_uri::{PaymentUri, SolanaPayRequest};
    let app = spawn_app(Db::Sqlite).await;
    let mut body = session_body();
    body["settlement"] =
        json!({"asset": "usdc", "chain": "devnet-solana", "address": SOLANA_MERCHANT});
    body["description"] = json!("Order 7");
    let session = create_session(&app, body).await;
    let path = page_path(&session);
    let view: Value = app
        .client
        .get(format!("{}{path}/session", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = view["solana_pay_url"].as_str().expect("a Solana Pay URL");
    let Ok(PaymentUri::SolanaPay(SolanaPayRequest::Transfer(request))) = PaymentUri::parse(url)
    else {
        panic!("not a Solana Pay transfer request: {url}");
    };
    assert_eq!(request.recipient.to_string(), SOLANA_MERCHANT);
    assert_eq!(
        request.spl_token.map(|m| m.to_string()).as_deref(),
        Some(DEVNET_SOLANA_USDC)
    );
    assert_eq!(request.amount, Some("25".parse().unwrap()));
    assert_eq!(request.message.as_deref(), Some("Order 7"));
    assert!(view["evm_chain_id"].is_null());
    let qr = app
        .client
        .get(format!("{}{path}/solana_pay_qr.svg", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));

    // An EVM intent offers no Solana Pay, and its page draws no such QR.
    let evm = create_session(&app, session_body()).await;
    let evm_path = page_path(&evm);
    let view: Value = app
        .client
        .get(format!("{}{evm_path}/session", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(view["solana_pay_url"].is_null(), "{view}");
    let qr = app
        .client
        .get(format!("{}{evm_path}/solana_pay_qr.svg", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), 404);
}
