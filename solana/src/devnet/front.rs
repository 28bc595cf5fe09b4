//! [`PausableFront`]: a JSON-RPC front on 127.0.0.1 before a simnet that can hold sent
//! transactions back, as a leader's queue does, for the rail conformance suite.
//!
//! The simnet executes a transaction the moment `sendTransaction` reaches it, so "blocks are
//! paused", "the node dropped the transaction" and "produce a block" cannot be asked of it
//! directly. The front gives the suite those powers without touching the rail: while paused it
//! answers `sendTransaction` with the transaction's signature (as a node accepting it does) and
//! keeps the request; [`PausableFront::drop_held`] forgets one (evicted from the queue);
//! [`PausableFront::flush`] forwards what it holds. Everything else goes straight through, so a
//! held transaction is unknown to `getSignatureStatuses`, exactly like a pending one. Test
//! support only.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

#[derive(Debug, Default)]
struct Held {
    paused: bool,
    /// Held `sendTransaction` requests with their signatures, in arrival order.
    queue: Vec<(String, Bytes)>,
}

/// The front; its task stops when it is dropped.
#[derive(Debug)]
pub struct PausableFront {
    url: String,
    upstream: String,
    client: reqwest::Client,
    held: Arc<Mutex<Held>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PausableFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The first signature of a `sendTransaction` request's transaction, base58.
fn sent_signature(request: &Value) -> Option<String> {
    let params = request.get("params")?.as_array()?;
    let text = params.first()?.as_str()?;
    let base58 = params
        .get(1)
        .and_then(|c| c.get("encoding"))
        .and_then(Value::as_str)
        == Some("base58");
    let bytes = if base58 {
        bs58::decode(text).into_vec().ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    // Wire format: a short-vec count of signatures (one byte below 128), then 64-byte each.
    let signature = bytes.get(1..65)?;
    Some(bs58::encode(signature).into_string())
}

impl PausableFront {
    /// A front before `upstream`, on a free loopback port.
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let held: Arc<Mutex<Held>> = Arc::default();
        let client = reqwest::Client::new();
        let (state, to, http) = (held.clone(), upstream.to_owned(), client.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, to, http) = (state.clone(), to.clone(), http.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(req, state.clone(), to.clone(), http.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            url,
            upstream: upstream.to_owned(),
            client,
            held,
            task,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Holds (`true`) or passes (`false`) transactions from now on.
    pub fn set_paused(&self, paused: bool) {
        self.lock().paused = paused;
    }

    /// Forgets the held transaction `signature`.
    pub fn drop_held(&self, signature: &str) {
        self.lock().queue.retain(|(s, _)| s != signature);
    }

    /// Forwards every held transaction to the simnet, oldest first.
    pub async fn flush(&self) {
        let queue = std::mem::take(&mut self.lock().queue);
        for (_, body) in queue {
            let _ = forward(&self.client, &self.upstream, body).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    body: Bytes,
) -> Result<Bytes, reqwest::Error> {
    client
        .post(upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?
        .bytes()
        .await
}

fn json_response(body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(
    req: Request<Incoming>,
    held: Arc<Mutex<Held>>,
    upstream: String,
    client: reqwest::Client,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(json_response(Bytes::new())),
    };
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(request) =
        parsed.filter(|r| r.get("method").and_then(Value::as_str) == Some("sendTransaction"))
    {
        let mut state = held.lock().unwrap_or_else(|p| p.into_inner());
        if state.paused {
            if let Some(signature) = sent_signature(&request) {
                if !state.queue.iter().any(|(s, _)| *s == signature) {
                    state.queue.push((signature.clone(), body.clone()));
                }
                let answer = serde_json::json!({
                    "jsonrpc": "2.0", "result": signature, "id": request.get("id").cloned().unwrap_or(Value::Null)
                });
                return Ok(json_response(Bytes::from(answer.to_string())));
            }
        }
    }
    match forward(&client, &upstream, body).await {
        Ok(answer) => Ok(json_response(answer)),
        Err(err) => {
            let mut response = json_response(Bytes::from(err.to_string()));
            *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            Ok(response)
        }
    }
}
