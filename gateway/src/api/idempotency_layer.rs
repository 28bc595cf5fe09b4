//! `Idempotency-Key` for every other write: one layer around the `/v1` routes gives each
//! `POST` and `DELETE` the semantics of `idempotency.rs` (same key and request → the stored
//! response, replayed byte for byte; another request → 422; still running → 409).
//!
//! The writes listed in [`COMMITS_WITH_CHANGE`] commit their response in the same transaction
//! as their change and handle a merchant's key themselves; this layer passes those through.
//! Every other write (and an operator's call of those) is wrapped here, and the handler then
//! sees no `Idempotency-Key` header, so a key is never claimed twice:
//!
//! 1. the caller is authenticated once (the handler's extractor reuses the result), so the
//!    key is scoped to the caller before anything is read;
//! 2. the key is *reserved* in the database (a record without a response), which makes a
//!    second request with the same key answer 409 on every instance; a key already complete
//!    is replayed (or 422) without running the handler again;
//! 3. the handler runs in its own task, so a client that hangs up cannot cancel a write
//!    halfway: it finishes, and its response is stored for the retry;
//! 4. a successful (2xx) response completes the record; any other answer releases it, so the
//!    request may be retried with the same key once the cause is fixed.
//!
//! A reservation left by an instance that died mid-request is taken over after
//! [`STALE_AFTER_MS`]; until then a retry answers 409. These writes are naturally idempotent
//! or deduplicated by their own reference (a write-off's reference, a claimed transaction
//! hash), so running one again after such a crash repeats nothing.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header::AUTHORIZATION, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{Caller, Operator};
use super::idempotency::{begin_in, in_use, replay, reused, Begin, Guard, HEADER};
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::keys::is_operator_key;
use crate::store::idempotency::KeyClaim;
use crate::store::StoreError;
use axum::extract::FromRequestParts;

/// Routes whose handlers commit a merchant key's idempotency record with their change
/// (`idempotency.rs`).
pub const COMMITS_WITH_CHANGE: &[&str] = &[
    "/v1/payment_intents",
    "/v1/payment_intents/{id}/cancel",
    "/v1/refunds",
    "/v1/refunds/{id}/approve",
    "/v1/payouts",
    "/v1/quotes/{id}/accept",
    "/v1/webhook_endpoints",
    "/v1/webhook_endpoints/{id}",
    "/v1/webhook_endpoints/{id}/rotate_secret",
    "/v1/events/{id}/redeliver",
    "/v1/api_keys",
    "/v1/api_keys/{id}/roll",
    "/v1/api_keys/{id}/revoke",
    "/v1/settings/changes/{id}/approve",
    "/v1/settings/changes/{id}/cancel",
];

/// How long a reservation may stay without a response before another request may take it
/// over. A reservation outlives its request only when its instance died (the write runs to
/// its end even when the client hangs up), and requests run for seconds (outbound calls time
/// out sooner than this).
pub const STALE_AFTER_MS: i64 = 30_000;

/// Responses of writes are small objects; a larger one is passed through unstored.
const MAX_STORED_RESPONSE: usize = 16 * 1024 * 1024;

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let handled_by_route = !presents_operator_key(req.headers())
        && req
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|p| COMMITS_WITH_CHANGE.contains(&p.as_str()));
    let wrapped = matches!(*req.method(), Method::POST | Method::DELETE)
        && req.headers().contains_key(HEADER)
        && !handled_by_route;
    if !wrapped {
        return next.run(req).await;
    }
    guarded(state, req, next)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn guarded(state: AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    let (mut parts, body) = req.into_parts();
    let scope = authenticate(&state, &mut parts).await?;
    let limit = state.config.server.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            ErrorCode::RequestTooLarge,
            format!("Request bodies are limited to {limit} bytes."),
        )
    })?;
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let Begin::Fresh(guard) = begin_in(&state, scope, &parts.headers, &method, &path, &bytes)?
    else {
        // `layer` only wraps requests that carry a key.
        return Ok(next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await);
    };
    if let Some(answer) = reserve(&state, &guard).await? {
        return Ok(answer);
    }
    // The key is this layer's: a handler that also knows keys must not claim it again.
    parts.headers.remove(HEADER);
    let req = Request::from_parts(parts, Body::from(bytes));
    // Run to the end even if the client hangs up, so the response is stored for its retry.
    let task = tokio::spawn(async move {
        let response = next.run(req).await;
        settle(&state, guard, response).await
    });
    task.await
        .map_err(|e| ApiError::internal(&format!("idempotent write task failed: {e}")))
}

/// Authenticates the caller once, leaving it in the request for the handler's extractor, and
/// answers the scope its keys live in.
fn presents_operator_key(headers: &HeaderMap) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|k| is_operator_key(k.trim()))
}

async fn authenticate(state: &AppState, parts: &mut Parts) -> Result<String, ApiError> {
    if presents_operator_key(&parts.headers) {
        let operator = Operator::from_request_parts(parts, state).await?;
        let scope = format!("operator:{}", operator.key.id);
        parts.extensions.insert(operator);
        return Ok(scope);
    }
    let caller = Caller::from_request_parts(parts, state).await?;
    let scope = caller.scope();
    parts.extensions.insert(caller);
    Ok(scope)
}

/// Reserves the key; `Some(answer)` when the request must not run (replay, 409 or 422).
async fn reserve(state: &AppState, guard: &Guard) -> Result<Option<Response>, ApiError> {
    let claim = KeyClaim {
        scope: &guard.scope,
        key: &guard.key,
        request_hash: &guard.request_hash,
    };
    let now = state.clock.now_ms();
    match state.store.reserve_idempotency(claim, now).await {
        Ok(()) => return Ok(None),
        Err(StoreError::IdempotencyKeyTaken) => {}
        Err(other) => return Err(other.into()),
    }
    let Some(record) = state.store.get_idempotency(claim.scope, claim.key).await? else {
        // Released between our insert and our read: the other request failed; so may we.
        return Err(in_use());
    };
    if record.request_hash != guard.request_hash {
        return Err(reused());
    }
    if !record.is_in_flight() {
        return Ok(Some(replay(&record)));
    }
    let stale_before = now - STALE_AFTER_MS;
    if state
        .store
        .take_over_idempotency(claim, stale_before, now)
        .await?
    {
        return Ok(None);
    }
    Err(in_use())
}

/// Stores a successful response for replay, or releases the key.
async fn settle(state: &AppState, guard: Guard, response: Response) -> Response {
    let (scope, key) = (guard.scope.clone(), guard.key.clone());
    if !response.status().is_success() {
        if let Err(e) = state.store.release_idempotency(&scope, &key).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = state.store.release_idempotency(&scope, &key).await;
            return ApiError::internal(&format!("response too large to store: {e}"))
                .into_response();
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let status = parts.status.as_u16();
    if let Err(e) = state
        .store
        .complete_idempotency(&scope, &key, status, &text)
        .await
    {
        // The change is made; the retry will find the reservation stale and run again, which
        // these writes tolerate (see the module docs).
        tracing::warn!(error = %e, "could not store an idempotent response");
    }
    drop(guard);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::COMMITS_WITH_CHANGE;

    fn operations() -> serde_json::Value {
        serde_json::from_str(&crate::api::openapi::document()).expect("OpenAPI JSON")
    }

    #[test]
    fn every_route_said_to_commit_its_key_with_its_change_is_a_write_that_exists() {
        let doc = operations();
        for path in COMMITS_WITH_CHANGE {
            assert!(
                doc["paths"][path]["post"].is_object(),
                "{path} is not a POST route: the layer would wrap it twice or not at all"
            );
        }
    }

    #[test]
    fn every_write_declares_an_idempotency_key() {
        let doc = operations();
        let paths = doc["paths"].as_object().expect("paths");
        // The layer wraps `/v1`. The public Solana Pay transaction request
        // (`POST /solana_pay/{id}`) is outside it: it stores nothing, so a repeat is harmless.
        for (path, ops) in paths.iter().filter(|(path, _)| path.starts_with("/v1/")) {
            for method in ["post", "delete"] {
                let Some(op) = ops.get(method) else { continue };
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header")
                });
                assert!(declared, "{method} {path} does not declare Idempotency-Key");
            }
        }
    }
}
