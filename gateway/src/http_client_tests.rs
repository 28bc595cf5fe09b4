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

mod checked_resolution {
    //! The webhook client resolves each host once, checks every answer, and connects to exactly
    //! what it checked.

    use std::net::IpAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use async_trait::async_trait;
    use rialto_engine::outbound::{HttpClient, HttpError, HttpRequest, ReadBody, Url};
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::super::{CheckedResolver, Lookup, ReqwestHttpClient, SystemLookup};

    /// A rebinding name server: its first answer is `first`, every later one `then`.
    #[derive(Debug)]
    struct Rebinding {
        first: Vec<IpAddr>,
        then: Vec<IpAddr>,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Lookup for Rebinding {
        async fn lookup(&self, _host: &str) -> std::io::Result<Vec<IpAddr>> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(if call == 0 {
                self.first.clone()
            } else {
                self.then.clone()
            })
        }
    }

    fn webhook_client(lookup: Arc<dyn Lookup>, allow_private: bool) -> ReqwestHttpClient {
        let resolver = CheckedResolver::new(lookup, allow_private);
        ReqwestHttpClient::for_webhooks(
            Duration::from_millis(500),
            resolver,
            &rialto_evm::provider::default_tls(),
        )
        .unwrap()
    }

    fn post(url: &str) -> HttpRequest {
        HttpRequest::post(
            Url::parse(url).unwrap(),
            b"{}".to_vec(),
            Duration::from_secs(2),
        )
        .read_body(ReadBody::Never)
    }

    /// A receiver on loopback, counting what reaches it.
    async fn inside() -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        server
    }

    async fn requests(server: &MockServer) -> usize {
        server.received_requests().await.unwrap_or_default().len()
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_at_connect_time() {
        let server = inside().await;
        let port = server.address().port();
        let client = webhook_client(Arc::new(SystemLookup), false);
        let answer = client
            .post(post(&format!("http://localhost:{port}/h")))
            .await;
        assert_eq!(answer, Err(HttpError::Connect));
        assert_eq!(requests(&server).await, 0, "nothing reached the inside");
        // With the development setting the same name is delivered to.
        let dev = webhook_client(Arc::new(SystemLookup), true);
        let answer = dev.post(post(&format!("http://localhost:{port}/h"))).await;
        assert_eq!(answer.map(|r| r.status), Ok(200));
    }

    #[tokio::test]
    async fn a_rebinding_name_is_resolved_once_and_its_checked_answer_is_what_is_connected_to() {
        let server = inside().await;
        let port = server.address().port();
        // Public first (what a check-then-connect client would have checked), loopback after
        // (what its own second lookup would have connected to).
        let lookup = Arc::new(Rebinding {
            first: vec!["8.8.8.8".parse().unwrap()],
            then: vec!["127.0.0.1".parse().unwrap()],
            calls: AtomicUsize::new(0),
        });
        let client = webhook_client(lookup.clone(), false);
        let mut request = post(&format!("http://rebind.test:{port}/h"));
        request.timeout = Duration::from_millis(700);
        let answer = client.post(request).await;
        assert!(
            answer.is_err(),
            "8.8.8.8 does not serve this port: {answer:?}"
        );
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 1, "resolved once");
        assert_eq!(
            requests(&server).await,
            0,
            "the loopback answer was never used"
        );
    }

    #[tokio::test]
    async fn an_answer_mixing_public_and_loopback_addresses_is_refused_whole() {
        let server = inside().await;
        let port = server.address().port();
        let mixed = vec!["8.8.8.8".parse().unwrap(), "127.0.0.1".parse().unwrap()];
        let lookup = Arc::new(Rebinding {
            first: mixed.clone(),
            then: mixed,
            calls: AtomicUsize::new(0),
        });
        let client = webhook_client(lookup, false);
        let answer = client
            .post(post(&format!("http://mixed.test:{port}/h")))
            .await;
        assert_eq!(answer, Err(HttpError::Connect));
        assert_eq!(requests(&server).await, 0);
    }
}
