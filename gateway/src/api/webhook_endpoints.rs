//! `/v1/webhook_endpoints`: where a merchant wants events sent, with a signing secret per
//! endpoint (shown on creation and rotation only; stored sealed).

use super::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rialto_core::id::WebhookEndpointId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::idempotency::{claim, finish, record_for, WriteError};
use super::{json_response, parse_id, serialize, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::WebhookEndpoint;
use crate::webhooks::{check_url, generate_secret, UrlError, EVENT_TYPES};

/// Stripe's limit; enough for any real integration, small enough to fan out cheaply.
const MAX_ENDPOINTS: usize = 16;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpointParams {
    /// Where to POST events. Live mode: https and a public address only.
    #[schema(pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$")]
    pub url: String,
    /// Event types to send, or `["*"]` for all.
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpointParams {
    #[schema(pattern = "^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!-~]*)?$")]
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    pub description: Option<String>,
    /// `true` stops deliveries to this endpoint; `false` resumes them.
    pub disabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointObject {
    pub id: String,
    /// Always `webhook_endpoint`.
    pub object: &'static str,
    pub livemode: bool,
    pub url: String,
    pub description: Option<String>,
    pub enabled_events: Vec<String>,
    /// `enabled` or `disabled`.
    pub status: &'static str,
    /// The signing secret (`whsec_…`): present only in the answers to create and rotate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub object: &'static str,
    pub data: Vec<EndpointObject>,
    pub has_more: bool,
}

impl EndpointObject {
    fn new(e: &WebhookEndpoint, secret: Option<String>) -> Self {
        Self {
            id: e.id.to_string(),
            object: "webhook_endpoint",
            livemode: e.livemode,
            url: e.url.clone(),
            description: e.description.clone(),
            enabled_events: e.enabled_events.clone(),
            status: if e.enabled { "enabled" } else { "disabled" },
            secret,
            created: e.created_at_ms / 1000,
        }
    }
}

/// Test-mode URLs are checked like live ones; only the development setting
/// `webhooks.allow_private_targets` lets loopback and private receivers in.
async fn valid_url(state: &AppState, url: &str, livemode: bool) -> Result<String, ApiError> {
    check_url(url, livemode, state.config.webhooks.allow_private_targets)
        .await
        .map(|u| u.to_string())
        .map_err(|e| {
            let hint = match e {
                UrlError::NotPublic => " Webhooks cannot target private or loopback addresses.",
                _ => "",
            };
            ApiError::new(ErrorCode::InvalidUrl, format!("Invalid url: {e}.{hint}")).param("url")
        })
}

fn valid_events(events: Vec<String>) -> Result<Vec<String>, ApiError> {
    let known = |e: &String| e == "*" || EVENT_TYPES.contains(&e.as_str());
    if events.is_empty() || !events.iter().all(known) {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            format!(
                "enabled_events must list one or more of: *, {}.",
                EVENT_TYPES.join(", ")
            ),
        )
        .param("enabled_events"));
    }
    let mut events = events;
    events.sort();
    events.dedup();
    Ok(events)
}

/// Create a webhook endpoint. The answer carries its signing secret, once.
#[utoipa::path(
    post, path = "/v1/webhook_endpoints", operation_id = "create_webhook_endpoint", tag = "webhooks",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = CreateEndpointParams,
    responses((status = 200, body = EndpointObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)),
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
        let params: CreateEndpointParams = parse_json(&body)?;
        let url = valid_url(&state, &params.url, caller.livemode).await?;
        let enabled_events = valid_events(params.enabled_events)?;
        let existing = state
            .store
            .list_webhook_endpoints(&caller.merchant_id, caller.livemode)
            .await?;
        if existing.len() >= MAX_ENDPOINTS {
            return Err(WriteError::Api(ApiError::new(
                ErrorCode::ParameterInvalid,
                format!("A merchant can have at most {MAX_ENDPOINTS} webhook endpoints per mode."),
            )));
        }
        let now = state.clock.now_ms();
        let secret = generate_secret();
        let id = WebhookEndpointId::generate();
        let row = crate::webhooks::Sealer::row("webhook_endpoints", &id.to_string());
        let endpoint = WebhookEndpoint {
            id,
            merchant_id: caller.merchant_id,
            livemode: caller.livemode,
            url,
            description: params.description,
            enabled_events,
            enabled: true,
            secret_sealed: state.sealer.seal_for(&row, &secret),
            created_at_ms: now,
            updated_at_ms: now,
        };
        let json = serialize(&EndpointObject::new(&endpoint, Some(secret)))?;
        let record = record_for(guard.as_ref(), &json, now);
        state
            .store
            .create_webhook_endpoint(&endpoint, record.as_ref())
            .await?;
        Ok(json_response(StatusCode::OK, json))
    }
    .await;
    finish(&state, result, guard).await
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<WebhookEndpoint, ApiError> {
    let endpoint_id: WebhookEndpointId = parse_id(id, "webhook_endpoint")?;
    state
        .store
        .get_webhook_endpoint(&caller.merchant_id, caller.livemode, &endpoint_id)
        .await?
        .ok_or_else(|| ApiError::missing("webhook_endpoint", id, "id"))
}

/// List webhook endpoints.
#[utoipa::path(
    get, path = "/v1/webhook_endpoints", operation_id = "list_webhook_endpoints", tag = "webhooks",
    responses((status = 200, body = EndpointList), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let endpoints = state
        .store
        .list_webhook_endpoints(&caller.merchant_id, caller.livemode)
        .await?;
    let list = EndpointList {
        object: "list",
        data: endpoints
            .iter()
            .map(|e| EndpointObject::new(e, None))
            .collect(),
        has_more: false,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

/// Retrieve a webhook endpoint (without its secret).
#[utoipa::path(
    get, path = "/v1/webhook_endpoints/{id}", operation_id = "retrieve_webhook_endpoint", tag = "webhooks",
    params(("id" = String, Path, description = "we_…")),
    responses((status = 200, body = EndpointObject), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 429, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let endpoint = load(&state, &caller, &id).await?;
    Ok(json_response(
        StatusCode::OK,
        serialize(&EndpointObject::new(&endpoint, None))?,
    ))
}

/// Update a webhook endpoint's url, events, description, or disable it.
#[utoipa::path(
    post, path = "/v1/webhook_endpoints/{id}", operation_id = "update_webhook_endpoint", tag = "webhooks",
    params(("id" = String, Path, description = "we_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = UpdateEndpointParams,
    responses((status = 200, body = EndpointObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn update(
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
        let params: UpdateEndpointParams = parse_json(&body)?;
        let mut endpoint = load(&state, &caller, &id).await?;
        if let Some(url) = params.url {
            endpoint.url = valid_url(&state, &url, caller.livemode).await?;
        }
        if let Some(events) = params.enabled_events {
            endpoint.enabled_events = valid_events(events)?;
        }
        if params.description.is_some() {
            endpoint.description = params.description;
        }
        if let Some(disabled) = params.disabled {
            endpoint.enabled = !disabled;
        }
        save(&state, &mut endpoint, None, guard.as_ref()).await
    }
    .await;
    finish(&state, result, guard).await
}

async fn save(
    state: &AppState,
    endpoint: &mut WebhookEndpoint,
    new_secret: Option<String>,
    guard: Option<&super::idempotency::Guard>,
) -> Result<Response, WriteError> {
    let now = state.clock.now_ms();
    endpoint.updated_at_ms = now;
    let json = serialize(&EndpointObject::new(endpoint, new_secret))?;
    let record = record_for(guard, &json, now);
    state
        .store
        .update_webhook_endpoint(endpoint, record.as_ref())
        .await?;
    Ok(json_response(StatusCode::OK, json))
}

/// Replace the endpoint's signing secret; the answer carries the new one, once.
#[utoipa::path(
    post, path = "/v1/webhook_endpoints/{id}/rotate_secret", operation_id = "rotate_webhook_secret", tag = "webhooks",
    params(("id" = String, Path, description = "we_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = EndpointObject), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn rotate_secret(
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
        let mut endpoint = load(&state, &caller, &id).await?;
        let secret = generate_secret();
        let row = crate::webhooks::Sealer::row("webhook_endpoints", &endpoint.id.to_string());
        endpoint.secret_sealed = state.sealer.seal_for(&row, &secret);
        save(&state, &mut endpoint, Some(secret), guard.as_ref()).await
    }
    .await;
    finish(&state, result, guard).await
}
