//! `Idempotency-Key` handling (DESIGN.md §5). Same key and same request → the stored response,
//! byte for byte; same key and another request → 422; same key while the first is still
//! running → 409.
//!
//! Responses are stored in the same transaction as the change they describe (see the `Store`
//! docs), so there is one commit per request and no read before it: a fresh key costs nothing
//! extra. A key seen before is discovered when its write hits the primary key (or, if the
//! request fails validation first, by one lookup then), and the stored response is replayed.
//! Two instances racing on one key both try to commit; exactly one wins and the loser replays
//! the winner.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{AppState, Caller};
use crate::error::{ApiError, EngineError, ErrorCode};
use crate::store::{IdempotencyRecord, StoreError};
use rialto_engine::idempotency::IdempotencyKey;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;

/// What to do with a request that may carry an idempotency key.
#[derive(Debug)]
pub enum Begin {
    /// No key: run the request normally.
    NoKey,
    /// First time: run it, and store the answer through the guard.
    Fresh(Guard),
}

/// Holds the key "in flight" in this process until dropped. Derefs to the engine's
/// [`IdempotencyKey`], which flows commit with their change.
#[derive(Debug)]
pub struct Guard {
    inflight: Arc<Mutex<HashSet<(String, String)>>>,
    key: IdempotencyKey,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(mut set) = self.inflight.lock() {
            set.remove(&(self.key.scope.clone(), self.key.key.clone()));
        }
    }
}

impl std::ops::Deref for Guard {
    type Target = IdempotencyKey;

    fn deref(&self) -> &IdempotencyKey {
        &self.key
    }
}

impl Guard {
    /// The record to commit with the change.
    pub fn record(&self, status: StatusCode, body: &str, now_ms: i64) -> IdempotencyRecord {
        self.key.record(status.as_u16(), body, now_ms)
    }

    /// The key was committed before (by an earlier request, or by another instance just now):
    /// answer as that request did, or 422 if it was a different request.
    pub async fn lost_race(self, state: &AppState) -> Result<Response, ApiError> {
        let stored = state
            .store
            .get_idempotency(&self.key.scope, &self.key.key)
            .await?;
        match stored {
            Some(record) if record.request_hash != self.key.request_hash => Err(reused()),
            Some(record) if record.is_in_flight() => Err(in_use()),
            Some(record) => Ok(replay(&record)),
            None => Err(ApiError::internal(
                &"idempotency record vanished after a conflict",
            )),
        }
    }

    /// The request failed before writing. If its key was used before, the stored answer (or
    /// the 422) wins over this error: a retry must see what the first attempt saw, even if
    /// the world changed since.
    pub async fn after_error(self, state: &AppState, err: ApiError) -> Result<Response, ApiError> {
        match state
            .store
            .get_idempotency(&self.key.scope, &self.key.key)
            .await?
        {
            Some(record) if record.request_hash != self.key.request_hash => Err(reused()),
            Some(record) if record.is_in_flight() => Err(in_use()),
            Some(record) => Ok(replay(&record)),
            None => Err(err),
        }
    }
}

pub(super) fn in_use() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyKeyInUse,
        "A request with this Idempotency-Key is still being processed. Retry shortly.",
    )
    .param("Idempotency-Key")
}

pub(super) fn reused() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyKeyReused,
        "This Idempotency-Key was already used with a different request. Use a new key for a \
         new request.",
    )
    .param("Idempotency-Key")
}

pub(super) fn replay(record: &IdempotencyRecord) -> Response {
    let status = StatusCode::from_u16(record.response_status).unwrap_or(StatusCode::OK);
    let mut response = (status, record.response_body.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Fingerprint of the request: method, path and exact body bytes.
fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

pub async fn begin(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Begin, ApiError> {
    begin_in(state, caller.scope(), headers, method, path, body)
}

/// [`begin`] within an explicit scope (an operator's, for instance).
pub fn begin_in(
    state: &AppState,
    scope: String,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Begin, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(Begin::NoKey);
    };
    let key = value
        .to_str()
        .ok()
        // Visible ASCII only, no spaces: what the OpenAPI document's pattern states.
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::IdempotencyKeyInvalid,
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters."),
            )
            .param("Idempotency-Key")
        })?
        .to_owned();
    let request_hash = request_hash(method, path, body);
    let claimed = state
        .inflight
        .lock()
        .map(|mut set| set.insert((scope.clone(), key.clone())))
        .unwrap_or(false);
    if !claimed {
        return Err(in_use());
    }
    Ok(Begin::Fresh(Guard {
        inflight: state.inflight.clone(),
        key: IdempotencyKey {
            scope,
            key,
            request_hash,
        },
    }))
}

/// Claims the request's idempotency key, if it has one.
pub async fn claim(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<Option<Guard>, ApiError> {
    Ok(
        match begin(state, caller, headers, "POST", uri.path(), body).await? {
            Begin::NoKey => None,
            Begin::Fresh(guard) => Some(guard),
        },
    )
}

/// A write's failure: an API error, or its idempotency key was committed by someone else.
#[derive(Debug)]
pub enum WriteError {
    Api(ApiError),
    KeyTaken,
}

impl From<ApiError> for WriteError {
    fn from(err: ApiError) -> Self {
        WriteError::Api(err)
    }
}

impl From<EngineError> for WriteError {
    fn from(err: EngineError) -> Self {
        WriteError::Api(err.into())
    }
}

impl From<rialto_engine::idempotency::WriteError> for WriteError {
    fn from(err: rialto_engine::idempotency::WriteError) -> Self {
        match err {
            rialto_engine::idempotency::WriteError::Engine(e) => WriteError::Api(e.into()),
            rialto_engine::idempotency::WriteError::KeyTaken => WriteError::KeyTaken,
        }
    }
}

impl From<StoreError> for WriteError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::IdempotencyKeyTaken => WriteError::KeyTaken,
            other => WriteError::Api(other.into()),
        }
    }
}

/// Answers a write: its response, its error, or (when another request committed the same key
/// first) that request's stored response.
pub async fn finish(
    state: &AppState,
    result: Result<Response, WriteError>,
    guard: Option<Guard>,
) -> Result<Response, ApiError> {
    match (result, guard) {
        (Ok(response), _) => Ok(response),
        (Err(WriteError::Api(err)), Some(guard)) if err.status().is_client_error() => {
            guard.after_error(state, err).await
        }
        (Err(WriteError::Api(err)), _) => Err(err),
        (Err(WriteError::KeyTaken), Some(guard)) => guard.lost_race(state).await,
        (Err(WriteError::KeyTaken), None) => {
            Err(ApiError::internal(&"idempotency conflict without a key"))
        }
    }
}

pub fn record_for(guard: Option<&Guard>, body: &str, now_ms: i64) -> Option<IdempotencyRecord> {
    guard.map(|g| g.record(StatusCode::OK, body, now_ms))
}
