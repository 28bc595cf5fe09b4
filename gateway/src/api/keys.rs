//! `/v1/api_keys`: a merchant's keys in the caller's mode. Create (named, secret or
//! publishable), list (the prefix only), roll (the old key keeps working for
//! `expires_in_seconds`, at most 7 days) and revoke (at once, on every instance). Secrets
//! appear once, in the answer to create or roll; the replayable answer stored under an
//! `Idempotency-Key` leaves them out, since only the hash of a key is ever stored.

use super::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rialto_core::id::ApiKeyId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::idempotency::{claim, finish, WriteError};
use super::{json_response, parse_id, serialize, AppState, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::store::{ApiKeyRecord, KeyKind};
use rialto_engine::access_keys::{self, KeyActor};

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    #[default]
    Secret,
    Publishable,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyParams {
    /// What you call it (at most 100 characters, no control characters).
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub name: String,
    /// `secret` (default) or `publishable`.
    #[serde(default, rename = "type")]
    pub kind: KeyType,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollKeyParams {
    /// How long the old key keeps working, 0 (revoked at once, the default) to 604800.
    #[serde(default)]
    #[schema(maximum = 604_800)]
    pub expires_in_seconds: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyObject {
    pub id: String,
    /// Always `api_key`.
    pub object: &'static str,
    pub livemode: bool,
    pub name: String,
    /// `secret` or `publishable`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The first characters of the key, to recognise it (`sk_test_4eC3…`).
    pub prefix: String,
    /// The key this one descends from: approvals need a key of another custody.
    pub custody: String,
    /// The key itself: only in the answer to the create or roll that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created: i64,
    /// A rolled key stops working then (Unix seconds).
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub object: &'static str,
    pub data: Vec<ApiKeyObject>,
    pub has_more: bool,
}

impl ApiKeyObject {
    pub fn new(key: &ApiKeyRecord, secret: Option<String>) -> Self {
        Self {
            id: key.id.to_string(),
            object: "api_key",
            livemode: key.livemode,
            name: key.name.clone(),
            kind: key.kind.as_str(),
            prefix: key.key_hint.clone(),
            custody: key.custody.to_string(),
            secret,
            created: key.created_at_ms / 1000,
            expires_at: key.expires_at_ms.map(|t| t / 1000),
            revoked_at: key.revoked_at_ms.map(|t| t / 1000),
        }
    }
}

fn render(key: &ApiKeyRecord) -> String {
    serde_json::to_string(&ApiKeyObject::new(key, None)).unwrap_or_default()
}

fn actor(caller: &Caller) -> KeyActor {
    KeyActor::Key {
        merchant: caller.merchant_id,
        livemode: caller.livemode,
        custody: caller.custody,
    }
}

fn answer(key: &ApiKeyRecord, secret: Option<String>) -> Result<Response, WriteError> {
    Ok(json_response(
        StatusCode::OK,
        serialize(&ApiKeyObject::new(key, secret))?,
    ))
}

/// Create a key in this mode; it joins the calling key's custody.
#[utoipa::path(
    post, path = "/v1/api_keys", operation_id = "create_api_key", tag = "api_keys",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = CreateKeyParams,
    responses((status = 200, body = ApiKeyObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let guard = claim(&state, &caller, &headers, &uri, &body).await?;
    let result: Result<Response, WriteError> = async {
        let params: CreateKeyParams = parse_json(&body)?;
        let kind = match params.kind {
            KeyType::Secret => KeyKind::Secret,
            KeyType::Publishable => KeyKind::Publishable,
        };
        let (secret, key) = access_keys::create(
            state.store.as_ref(),
            actor(&caller),
            (caller.merchant_id, caller.livemode),
            (&params.name, kind),
            guard.as_deref(),
            render,
            state.clock.now_ms(),
        )
        .await?;
        answer(&key, Some(secret))
    }
    .await;
    finish(&state, result, guard).await
}

/// The merchant's keys in this mode, newest first (revoked ones included).
#[utoipa::path(
    get, path = "/v1/api_keys", operation_id = "list_api_keys", tag = "api_keys",
    responses((status = 200, body = ApiKeyList), (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let keys = state
        .store
        .list_api_keys(&caller.merchant_id, caller.livemode)
        .await?;
    let list = ApiKeyList {
        object: "list",
        data: keys.iter().map(|k| ApiKeyObject::new(k, None)).collect(),
        has_more: false,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

/// Roll a key of the caller's custody: a new key replaces it; the old one keeps working for
/// `expires_in_seconds`.
#[utoipa::path(
    post, path = "/v1/api_keys/{id}/roll", operation_id = "roll_api_key", tag = "api_keys",
    params(("id" = String, Path, description = "key_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = RollKeyParams,
    responses((status = 200, body = ApiKeyObject), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn roll(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let guard = claim(&state, &caller, &headers, &uri, &body).await?;
    let result: Result<Response, WriteError> = async {
        let key_id: ApiKeyId = parse_id(&id, "api_key")?;
        let params: RollKeyParams = if body.is_empty() {
            RollKeyParams::default()
        } else {
            parse_json(&body)?
        };
        let (secret, key) = access_keys::roll(
            state.store.as_ref(),
            actor(&caller),
            &key_id,
            params.expires_in_seconds,
            guard.as_deref(),
            render,
            state.clock.now_ms(),
        )
        .await?;
        answer(&key, Some(secret))
    }
    .await;
    finish(&state, result, guard).await
}

/// Revoke a key of this merchant and mode: it stops working at once.
#[utoipa::path(
    post, path = "/v1/api_keys/{id}/revoke", operation_id = "revoke_api_key", tag = "api_keys",
    params(("id" = String, Path, description = "key_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = ApiKeyObject), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let guard = claim(&state, &caller, &headers, &uri, &body).await?;
    let result: Result<Response, WriteError> = async {
        let key_id: ApiKeyId = parse_id(&id, "api_key")?;
        let key = access_keys::revoke(
            state.store.as_ref(),
            actor(&caller),
            &key_id,
            guard.as_deref(),
            render,
            state.clock.now_ms(),
        )
        .await?;
        answer(&key, None)
    }
    .await;
    finish(&state, result, guard).await
}
