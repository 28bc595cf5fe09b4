//! `/v1/events`: what happened to a merchant's objects, and how each event's webhook deliveries
//! went (with every attempt), plus manual redelivery.

use super::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rialto_core::id::{EventId, WebhookEndpointId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::{parse_json, parse_query, RawBody};
use super::idempotency::{claim, finish, record_for, WriteError};
use super::{json_response, parse_id, parse_limit, serialize, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::{Attempt, Delivery, DeliveryPage, Event, EventFilter};

pub use rialto_engine::objects::event_object_json;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsParams {
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    #[param(pattern = "^(evt_[0-7][0-9a-hjkmnp-tv-z]{25})?$")]
    starting_after: Option<String>,
    #[param(pattern = "^(evt_[0-7][0-9a-hjkmnp-tv-z]{25})?$")]
    ending_before: Option<String>,
    /// Only events of this type, e.g. `payment_intent.created`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
}

/// List events, newest first.
#[utoipa::path(
    get, path = "/v1/events", operation_id = "list_events", tag = "events",
    params(ListEventsParams),
    responses((status = 200, description = "`{object: list, data: [event], has_more}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let params: ListEventsParams = parse_query(uri.query())?;
    if params.starting_after.is_some() && params.ending_before.is_some() {
        return Err(ApiError::new(
            ErrorCode::ParameterInvalid,
            "Use starting_after or ending_before, not both.",
        )
        .param("ending_before"));
    }
    let cursor = |value: Option<String>, param: &str| -> Result<Option<EventId>, ApiError> {
        value
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::new(
                        ErrorCode::InvalidCursor,
                        format!("{param} must be an event id."),
                    )
                    .param(param)
                })
            })
            .transpose()
    };
    let filter = EventFilter {
        kind: params.kind,
        starting_after: cursor(params.starting_after, "starting_after")?,
        ending_before: cursor(params.ending_before, "ending_before")?,
        limit: parse_limit(params.limit)?,
    };
    let page = state
        .store
        .list_events(&caller.merchant_id, caller.livemode, &filter)
        .await?;
    let data: Vec<String> = page.data.iter().map(event_object_json).collect();
    let body = format!(
        "{{\"object\":\"list\",\"data\":[{}],\"has_more\":{},\"url\":\"/v1/events\"}}",
        data.join(","),
        page.has_more
    );
    Ok(json_response(StatusCode::OK, body))
}

async fn load_event(state: &AppState, caller: &Caller, id: &str) -> Result<Event, ApiError> {
    let event_id: EventId = parse_id(id, "event")?;
    state
        .store
        .get_event(&caller.merchant_id, caller.livemode, &event_id)
        .await?
        .ok_or_else(|| ApiError::missing("event", id, "id"))
}

/// Retrieve an event.
#[utoipa::path(
    get, path = "/v1/events/{id}", operation_id = "retrieve_event", tag = "events",
    params(("id" = String, Path, description = "evt_…")),
    responses((status = 200, description = "The event"), (status = 401, body = ErrorBody),
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
    let event = load_event(&state, &caller, &id).await?;
    Ok(json_response(StatusCode::OK, event_object_json(&event)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptObject {
    pub id: String,
    /// Unix milliseconds.
    pub attempted_at_ms: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryObject {
    pub id: String,
    /// Always `webhook_delivery`.
    pub object: &'static str,
    pub event: String,
    pub webhook_endpoint: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: &'static str,
    /// Unix milliseconds of the next try while pending.
    pub next_attempt_at_ms: Option<i64>,
    pub attempts: Vec<AttemptObject>,
}

impl DeliveryObject {
    fn new(delivery: &Delivery, attempts: &[Attempt]) -> Self {
        Self {
            id: delivery.id.to_string(),
            object: "webhook_delivery",
            event: delivery.event_id.to_string(),
            webhook_endpoint: delivery.endpoint_id.to_string(),
            status: delivery.status.as_str(),
            next_attempt_at_ms: (delivery.status == crate::store::DeliveryStatus::Pending)
                .then_some(delivery.next_attempt_at_ms),
            attempts: attempts
                .iter()
                .map(|a| AttemptObject {
                    id: a.id.to_string(),
                    attempted_at_ms: a.attempted_at_ms,
                    status_code: a.status_code,
                    error: a.error.clone(),
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub object: &'static str,
    pub data: Vec<DeliveryObject>,
    pub has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesParams {
    /// 1 to 100, default 10.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// A delivery id: the page after it.
    starting_after: Option<String>,
}

/// An event's webhook deliveries, one per endpoint, with every attempt; oldest first, a page
/// at a time.
#[utoipa::path(
    get, path = "/v1/events/{id}/deliveries", operation_id = "list_event_deliveries", tag = "events",
    params(("id" = String, Path, description = "evt_…"), ListDeliveriesParams),
    responses((status = 200, body = DeliveryList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let params: ListDeliveriesParams = parse_query(uri.query())?;
    let limit = parse_limit(params.limit)?;
    let event = load_event(&state, &caller, &id).await?;
    let page = DeliveryPage {
        endpoint: None,
        starting_after: params.starting_after,
        limit,
    };
    let page = state.store.deliveries_for_event(&event.id, &page).await?;
    let list = DeliveryList {
        object: "list",
        data: page
            .data
            .iter()
            .map(|(d, attempts)| DeliveryObject::new(d, attempts))
            .collect(),
        has_more: page.has_more,
    };
    Ok(json_response(StatusCode::OK, serialize(&list)?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeliverParams {
    /// The endpoint to send the event to again (`we_…`).
    pub webhook_endpoint: String,
}

/// Queue an event for delivery to an endpoint again, now, with the same `webhook-id`.
#[utoipa::path(
    post, path = "/v1/events/{id}/redeliver", operation_id = "redeliver_event", tag = "events",
    params(("id" = String, Path, description = "evt_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = RedeliverParams,
    responses((status = 200, body = DeliveryList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn redeliver(
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
        let params: RedeliverParams = parse_json(&body)?;
        let event = load_event(&state, &caller, &id).await?;
        let endpoint: WebhookEndpointId = parse_id(&params.webhook_endpoint, "webhook_endpoint")
            .map_err(|e| e.param("webhook_endpoint"))?;
        let now = state.clock.now_ms();
        if !state.store.redeliver(&event.id, &endpoint, now).await? {
            return Err(WriteError::Api(
                ApiError::new(
                    ErrorCode::ResourceMissing,
                    "This event was never sent to that endpoint.",
                )
                .param("webhook_endpoint"),
            ));
        }
        let one = DeliveryPage {
            endpoint: Some(endpoint),
            starting_after: None,
            limit: 1,
        };
        let data = state
            .store
            .deliveries_for_event(&event.id, &one)
            .await?
            .data
            .iter()
            .map(|(d, attempts)| DeliveryObject::new(d, attempts))
            .collect();
        let json = serialize(&DeliveryList {
            object: "list",
            data,
            has_more: false,
        })?;
        // Redelivery is naturally idempotent (it only re-queues); the record makes a retried
        // request answer exactly as the first did.
        if let Some(record) = record_for(guard.as_ref(), &json, now) {
            state.store.save_idempotency(&record).await?;
        }
        Ok(json_response(StatusCode::OK, json))
    }
    .await;
    finish(&state, result, guard).await
}
