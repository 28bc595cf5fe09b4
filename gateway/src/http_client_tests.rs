//! The port's contract, held by the reqwest client against local servers: redirects come
//! back unfollowed, bodies are capped and read only as asked, the deadline holds, and failures
//! are the port's fixed reasons.

use std::time::{Duration, Instant};

use rialto_engine::outbound::{HttpClient, HttpError, HttpRequest, ReadBody, Url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{body_bytes, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::ReqwestHttpClient;

fn client() -> ReqwestHttpClient {
    ReqwestHttpClient::new(Duration::from_secs(2)).unwrap()
}

fn post(url: &str, read_body: ReadBody) -> HttpRequest {
    HttpRequest::post(
        Url::parse(url).unwrap(),
        b"{\"a\":1}".to_vec(),
        Duration::from_secs(2),
    )
    .read_body(read_body)
}

const UP_TO_5: ReadBody = ReadBody::OnSuccess { max_bytes: 5 };

#[tokio::test]
async fn headers_and_body_arrive_as_given_and_a_2xx_body_comes_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("webhook-id", "evt_1"))
        .and(header("authorization", "Basic a2V5OmtleQ=="))
        .and(header("user-agent", "Rialto-Test/0.1"))
        .and(body_bytes(b"{\"a\":1}".to_vec()))
        .respond_with(ResponseTemplate::new(201).set_body_string("hello"))
        .expect(1)
        .mount(&server)
        .await;
    let request = post(&format!("{}/hook", server.uri()), UP_TO_5)
        .header("webhook-id", "evt_1")
        .header("authorization", "Basic a2V5OmtleQ==")
        .header("user-agent", "Rialto-Test/0.1");
    let response = client().post(request).await.unwrap();
    assert_eq!((response.status, response.body), (201, b"hello".to_vec()));
}

#[tokio::test]
async fn a_redirect_comes_back_as_the_answer_and_is_not_followed() {
    let server = MockServer::start().await;
    let target = format!("{}/elsewhere", server.uri());
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    for status in [301, 302, 307, 308] {
        let from = format!("/moved/{status}");
        Mock::given(path(from.as_str()))
            .respond_with(ResponseTemplate::new(status).insert_header("location", target.as_str()))
            .mount(&server)
            .await;
        let response = client()
            .post(post(&format!("{}{from}", server.uri()), UP_TO_5))
            .await
            .unwrap();
        assert_eq!(response.status, status);
        assert!(response.body.is_empty());
    }
}

#[tokio::test]
async fn bodies_are_capped_and_read_only_when_asked() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_string("123456"))
        .mount(&server)
        .await;
    Mock::given(path("/exact"))
        .respond_with(ResponseTemplate::new(200).set_body_string("12345"))
        .mount(&server)
        .await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(503).set_body_string("x".repeat(1000)))
        .mount(&server)
        .await;
    let url = |p: &str| format!("{}{p}", server.uri());
    let client = client();

    let big = client.post(post(&url("/big"), UP_TO_5)).await;
    assert_eq!(big, Err(HttpError::TooLarge { max_bytes: 5 }));
    let exact = client.post(post(&url("/exact"), UP_TO_5)).await.unwrap();
    assert_eq!(exact.body, b"12345");
    // A non-2xx answer's body is not read, however long.
    let down = client.post(post(&url("/down"), UP_TO_5)).await.unwrap();
    assert_eq!((down.status, down.body.len()), (503, 0));
    // Never: only the status.
    let status_only = client
        .post(post(&url("/big"), ReadBody::Never))
        .await
        .unwrap();
    assert_eq!((status_only.status, status_only.body.len()), (200, 0));
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_within_the_request_deadline() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let mut request = post(&format!("{}/slow", server.uri()), UP_TO_5);
    request.timeout = Duration::from_millis(200);
    let started = Instant::now();
    assert_eq!(client().post(request).await, Err(HttpError::Timeout));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let answer = client().post(post(&url, UP_TO_5)).await;
    assert_eq!(answer, Err(HttpError::Connect));
}

#[tokio::test]
async fn a_connection_dropped_mid_body_is_a_cut_off_body() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
            .await
            .unwrap();
        // Dropping the socket closes the connection 91 bytes short.
    });
    let answer = client()
        .post(post(&url, ReadBody::OnSuccess { max_bytes: 1000 }))
        .await;
    assert_eq!(answer, Err(HttpError::BodyCutOff));
}

#[tokio::test]
async fn an_unusable_header_is_refused_without_sending() {
    let server = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let request = post(&format!("{}/hook", server.uri()), UP_TO_5).header("bad name", "x");
    assert_eq!(
        client().post(request).await,
        Err(HttpError::Other("invalid header"))
    );
}

#[tokio::test]
async fn the_fallback_client_fails_every_request_with_a_fixed_reason() {
    let answer = super::Unavailable
        .post(post("http://127.0.0.1:9/hook", UP_TO_5))
        .await;
    assert_eq!(answer, Err(HttpError::Other("HTTP client unavailable")));
}
