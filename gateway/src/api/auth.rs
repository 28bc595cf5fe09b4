//! Who is calling: `Authorization: Bearer sk_test_…` (or `pk_…`), resolved to a merchant and a
//! mode, rate limited per key.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use governor::clock::{Clock as _, DefaultClock};
use rialto_core::id::{ApiKeyId, MerchantId};

use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::keys::{hash_key, is_operator_key, parse_key};
use crate::store::{ApiKeyRecord, KeyKind, OperatorKey};
use rialto_engine::approvals::Checker;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub kind: KeyKind,
    pub key_id: String,
    /// The key itself and its custody, for maker-checker (`rialto_engine::approvals`).
    pub key: ApiKeyId,
    pub custody: ApiKeyId,
}

impl Caller {
    /// Refuses publishable keys where only the merchant's server may act.
    pub fn require_secret(&self) -> Result<(), ApiError> {
        match self.kind {
            KeyKind::Secret => Ok(()),
            KeyKind::Publishable => Err(ApiError::new(
                ErrorCode::SecretKeyRequired,
                "This request needs a secret key (sk_…); publishable keys can only read a \
                 payment intent with its client_secret.",
            )),
        }
    }

    /// Idempotency keys and other per-merchant namespaces never cross modes.
    pub fn scope(&self) -> String {
        format!(
            "{}:{}",
            self.merchant_id,
            if self.livemode { "live" } else { "test" }
        )
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ApiKeyMissing,
            "No API key provided. Send `Authorization: Bearer sk_test_…`.",
        )
    })?;
    header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ApiKeyInvalid,
                "The Authorization header must be `Bearer <api key>`.",
            )
        })
}

fn invalid_key() -> ApiError {
    ApiError::new(ErrorCode::ApiKeyInvalid, "Invalid API key provided.")
}

/// The key's record, read from the database on every request: no instance keeps a copy, so a
/// revoke (or the end of a rolled key's grace period) takes effect at once on all of them.
async fn lookup(state: &AppState, key: &str) -> Result<ApiKeyRecord, ApiError> {
    state
        .store
        .find_api_key(&hash_key(key))
        .await?
        .filter(|record| record.is_active(state.clock.now_ms()))
        .ok_or_else(invalid_key)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        let (kind, livemode) = parse_key(key).ok_or_else(invalid_key)?;
        let record = lookup(state, key).await?;
        if record.kind != kind || record.livemode != livemode {
            return Err(invalid_key());
        }
        if livemode && state.config.live.venues.is_empty() && state.config.live.chains.is_empty() {
            return Err(ApiError::new(
                ErrorCode::LivemodeUnavailable,
                "Live mode is not available: this gateway has no live venues or chains \
                 configured. Use a _test_ key, or configure live.venues.",
            ));
        }
        let key_id = record.id.to_string();
        if let Err(not_until) = state.limiter.check_key(&key_id) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut err = ApiError::new(
                ErrorCode::RateLimited,
                "Too many requests with this API key. Retry after the number of seconds in \
                 the Retry-After header.",
            );
            err.retry_after = Some(wait.as_secs().max(1));
            return Err(err);
        }
        Ok(Caller {
            merchant_id: record.merchant_id,
            livemode,
            kind,
            key_id,
            key: record.id,
            custody: record.custody,
        })
    }
}

/// A compliance operator, authenticated by an `op_…` key (`rialto operators create`).
#[derive(Debug, Clone)]
pub struct Operator {
    pub key: OperatorKey,
}

fn operator_required() -> ApiError {
    ApiError::new(
        ErrorCode::OperatorKeyRequired,
        "This request needs an operator key (op_…); create one with `rialto operators create`.",
    )
}

async fn operator_from(state: &AppState, key: &str) -> Result<Operator, ApiError> {
    let record = state
        .store
        .find_operator_key(&hash_key(key))
        .await?
        .filter(|record| record.is_active(state.clock.now_ms()))
        .ok_or_else(invalid_key)?;
    if let Err(not_until) = state.limiter.check_key(&record.id) {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut err = ApiError::new(ErrorCode::RateLimited, "Too many requests with this key.");
        err.retry_after = Some(wait.as_secs().max(1));
        return Err(err);
    }
    Ok(Operator { key: record })
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        if !is_operator_key(key) {
            return Err(operator_required());
        }
        operator_from(state, key).await
    }
}

impl Caller {
    /// This key as an approver.
    pub fn checker(&self) -> Checker {
        Checker::Key {
            id: self.key,
            custody: self.custody,
        }
    }
}

impl Operator {
    pub fn checker(&self) -> Checker {
        Checker::Operator {
            name: self.key.name.clone(),
        }
    }
}

/// Either an operator or a merchant's secret key, for endpoints both may call.
#[derive(Debug, Clone)]
pub enum Principal {
    Operator(Operator),
    Merchant(Caller),
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(parts)?;
        if is_operator_key(key) {
            return Ok(Principal::Operator(operator_from(state, key).await?));
        }
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_secret()?;
        Ok(Principal::Merchant(caller))
    }
}
