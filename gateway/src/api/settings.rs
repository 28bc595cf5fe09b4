//! `/v1/settings` and `/v1/settings/changes`: the merchant's settlement schedule and payment
//! policy, with maker-checker on what lets money leave (`rialto_engine::settings_changes`):
//! while an approval limit is set, raising or removing it or changing `payout_addresses`
//! answers 202 with a pending change that a key of another custody or an operator approves.

use super::extract::Path;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rialto_core::address::Address;
use rialto_core::id::SettingsChangeId;
use serde_json::json;
use utoipa::openapi::{Ref, RefOr, Schema};

use super::auth::Principal;
use super::body::{parse_json, RawBody};
use super::idempotency::{claim, finish, Guard, WriteError};
use super::{json_response, parse_id, AppState, Caller};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::settings::{self, MerchantSettings};
use crate::store::access::SettingsChange;
use rialto_engine::settings_changes::{self, change_json, Requester, SettingsChangeObject};

/// The merchant's settlement schedule and payment policy in this mode.
#[utoipa::path(
    get, path = "/v1/settings", operation_id = "get_settings", tag = "settings",
    responses((status = 200, body = SettingsObject), (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    // Changes whose delay passed apply on read too, not only on the worker's next pass.
    settings_changes::apply_due(&state, state.clock.now_ms()).await?;
    let settings =
        settings::load(state.store.as_ref(), &caller.merchant_id, caller.livemode).await?;
    Ok(json_response(
        StatusCode::OK,
        settings_json(&settings, None),
    ))
}

/// The answer of `/v1/settings`: the [`MerchantSettings`] the request takes, plus
/// `object: "settings"` and, on a 202, the `pending_change`. Its schema is derived from
/// `MerchantSettings` (which refuses unknown fields, so it cannot describe the answer itself).
pub struct SettingsObject;

impl utoipa::PartialSchema for SettingsObject {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let RefOr::T(Schema::Object(mut object)) =
            <MerchantSettings as utoipa::PartialSchema>::schema()
        else {
            return <MerchantSettings as utoipa::PartialSchema>::schema();
        };
        object.properties.insert(
            "object".into(),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["settings"]))
                .into(),
        );
        object.required.push("object".into());
        object.properties.insert(
            "pending_change".into(),
            Ref::from_schema_name("SettingsChangeObject").into(),
        );
        RefOr::T(Schema::Object(object))
    }
}

impl utoipa::ToSchema for SettingsObject {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <MerchantSettings as utoipa::ToSchema>::schemas(schemas);
        schemas.push((
            "SettingsChangeObject".into(),
            <SettingsChangeObject as utoipa::PartialSchema>::schema(),
        ));
    }
}

fn settings_json(settings: &MerchantSettings, pending: Option<&SettingsChange>) -> String {
    let mut value = serde_json::to_value(settings).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("object".into(), json!("settings"));
        if let Some(change) = pending {
            let change: serde_json::Value =
                serde_json::from_str(&change_json(change)).unwrap_or_default();
            map.insert("pending_change".into(), change);
        }
    }
    value.to_string()
}

async fn check_addresses(
    state: &AppState,
    caller: &Caller,
    settings: &MerchantSettings,
) -> Result<(), ApiError> {
    for (chain, address) in &settings.payout_addresses {
        let param = format!("payout_addresses.{chain}");
        let chain = state.registry.chain(chain).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidChain, format!("Unknown chain {chain:?}."))
                .param(&param)
        })?;
        let address = Address::parse(address, chain.id.namespace()).map_err(|e| {
            ApiError::new(ErrorCode::InvalidAddress, format!("Invalid address: {e}.")).param(&param)
        })?;
        crate::compliance::flow::check_settlement(
            state,
            &caller.merchant_id,
            caller.livemode,
            &address,
            state.clock.now_ms(),
        )
        .await
        .map_err(|e| e.param(&param))?;
    }
    Ok(())
}

/// Replace the settlement schedule and payment policy (fields left out take their defaults).
/// While `payout_approval_above` is set, raising or removing it or changing
/// `payout_addresses` does not apply at once: the answer is 202 with the settings in force
/// and `pending_change`, which a second key or an operator approves.
#[utoipa::path(
    post, path = "/v1/settings", operation_id = "update_settings", tag = "settings",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = MerchantSettings,
    responses((status = 200, body = SettingsObject),
              (status = 202, body = SettingsObject, description = "Applied in part; `pending_change` waits for approval"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let requested: MerchantSettings = parse_json(&body)?;
    requested.validate().map_err(|(param, message)| {
        ApiError::new(ErrorCode::SettingsInvalid, format!("{param} {message}.")).param(param)
    })?;
    check_addresses(&state, &caller, &requested).await?;
    let delay = Some(state.config.approvals.settings_change_delay_secs).filter(|d| *d > 0);
    let requester = Requester {
        key: caller.key,
        custody: caller.custody,
    };
    let (now, pending) = settings_changes::request(
        &state,
        (&caller.merchant_id, caller.livemode),
        &requested,
        requester,
        delay,
        state.clock.now_ms(),
    )
    .await?;
    let status = if pending.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, settings_json(&now, pending.as_ref())))
}

/// The merchant's settings changes in this mode, newest first.
#[utoipa::path(
    get, path = "/v1/settings/changes", operation_id = "list_settings_changes", tag = "settings",
    responses((status = 200, description = "`{object: list, data: [settings_change], has_more}`"),
              (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn list_changes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    settings_changes::apply_due(&state, state.clock.now_ms()).await?;
    let changes = state
        .store
        .list_settings_changes(&caller.merchant_id, caller.livemode, 100)
        .await?;
    let data: Vec<serde_json::Value> = changes
        .iter()
        .filter_map(|c| serde_json::from_str(&change_json(c)).ok())
        .collect();
    let body = json!({"object": "list", "data": data, "has_more": false,
                      "url": "/v1/settings/changes"});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// The change `id`, for an operator (any merchant) or the merchant's own secret key.
async fn load_change(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<SettingsChange, ApiError> {
    let change_id: SettingsChangeId = parse_id(id, "settings_change")?;
    let change = state.store.get_settings_change(&change_id).await?;
    change
        .filter(|c| match principal {
            Principal::Operator(_) => true,
            Principal::Merchant(caller) => {
                c.merchant_id == caller.merchant_id && c.livemode == caller.livemode
            }
        })
        .ok_or_else(|| ApiError::missing("settings_change", id, "id"))
}

/// The idempotency key of a merchant's request; operators' approvals carry none (a repeated
/// approval is refused as not pending).
async fn claim_for(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Option<Guard>, ApiError> {
    match principal {
        Principal::Merchant(caller) => claim(state, caller, headers, uri, &[]).await,
        Principal::Operator(_) => Ok(None),
    }
}

/// Approve a pending settings change: an operator, or a secret key of another custody than
/// the key that asked for it (`approval_requires_second_key` otherwise).
#[utoipa::path(
    post, path = "/v1/settings/changes/{id}/approve", operation_id = "approve_settings_change",
    tag = "settings",
    params(("id" = String, Path, description = "sc_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = SettingsChangeObject), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn approve_change(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let guard = claim_for(&state, &principal, &headers, &uri).await?;
    let result: Result<Response, WriteError> = async {
        let change = load_change(&state, &principal, &id).await?;
        let checker = match &principal {
            Principal::Operator(op) => op.checker(),
            Principal::Merchant(caller) => caller.checker(),
        };
        let now = state.clock.now_ms();
        let applied =
            settings_changes::approve(&state, &change, Some(&checker), guard.as_deref(), now)
                .await?;
        Ok(json_response(StatusCode::OK, change_json(&applied)))
    }
    .await;
    finish(&state, result, guard).await
}

/// Cancel a pending settings change (any secret key of the merchant, or an operator).
#[utoipa::path(
    post, path = "/v1/settings/changes/{id}/cancel", operation_id = "cancel_settings_change",
    tag = "settings",
    params(("id" = String, Path, description = "sc_…"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    responses((status = 200, body = SettingsChangeObject), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn cancel_change(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let guard = claim_for(&state, &principal, &headers, &uri).await?;
    let result: Result<Response, WriteError> = async {
        let change = load_change(&state, &principal, &id).await?;
        let by = match &principal {
            Principal::Operator(op) => op.checker().label(),
            Principal::Merchant(caller) => caller.checker().label(),
        };
        let now = state.clock.now_ms();
        let canceled =
            settings_changes::cancel(&state, &change, &by, guard.as_deref(), now).await?;
        Ok(json_response(StatusCode::OK, change_json(&canceled)))
    }
    .await;
    finish(&state, result, guard).await
}
