//! Who is calling: `Authorization: Bearer sk_test_…` (or `pk_…`), resolved to a merchant and a
//! mode, rate limited per key.

use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rialto_core::id::MerchantId;

use super::limits::{client_address, Presented};
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::keys::{hash_key, is_operator_key, parse_key};
use crate::store::{ApiKeyRecord, KeyKind, OperatorKey};

/// Keys do not change once issued (revocation will clear this cache), so a short TTL keeps the
/// key lookup off the hot path.
const KEY_CACHE_TTL: Duration = Duration::from_secs(60);
const KEY_CACHE_MAX: usize = 10_000;

#[derive(Debug, Clone)]
pub(super) struct CachedKey {
    record: ApiKeyRecord,
    fetched: Instant,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub kind: KeyKind,
    pub key_id: String,
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

    /// Idempotency keys and other per-merchant namespaces never cross modes, nor key kinds:
    /// a payer's publishable key can never collide with (or replay) the merchant's writes.
    /// Secret keys keep the plain `merchant:mode` scope their records were stored under.
    pub fn scope(&self) -> String {
        let mode = if self.livemode { "live" } else { "test" };
        match self.kind {
            KeyKind::Secret => format!("{}:{mode}", self.merchant_id),
            KeyKind::Publishable => format!("{}:{mode}:publishable", self.merchant_id),
        }
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

async fn lookup(state: &AppState, hash: String) -> Result<Option<ApiKeyRecord>, ApiError> {
    let cached = state
        .key_cache
        .read()
        .ok()
        .and_then(|cache| cache.get(&hash).cloned())
        .filter(|c| c.fetched.elapsed() < KEY_CACHE_TTL);
    if let Some(hit) = cached {
        return Ok(Some(hit.record));
    }
    let Some(record) = state.store.find_api_key(&hash).await? else {
        return Ok(None);
    };
    if let Ok(mut cache) = state.key_cache.write() {
        if cache.len() >= KEY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            hash,
            CachedKey {
                record: record.clone(),
                fetched: Instant::now(),
            },
        );
    }
    Ok(Some(record))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Already authenticated (and counted) by the idempotency layer.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let key = bearer(parts)?;
        let client = client_address(parts);
        state.limits.check_address(client)?;
        let Some((kind, livemode)) = parse_key(key) else {
            state.limits.lookup_failed(client);
            return Err(invalid_key());
        };
        let hash = hash_key(key);
        state
            .limits
            .check(Presented::Api { kind, hash: &hash }, client)?;
        let record = lookup(state, hash)
            .await?
            .filter(|r| r.kind == kind && r.livemode == livemode);
        let Some(record) = record else {
            state.limits.lookup_failed(client);
            return Err(invalid_key());
        };
        if livemode && state.config.live.venues.is_empty() && state.config.live.chains.is_empty() {
            return Err(ApiError::new(
                ErrorCode::LivemodeUnavailable,
                "Live mode is not available: this gateway has no live venues or chains \
                 configured. Use a _test_ key, or configure live.venues.",
            ));
        }
        let key_id = record.id.to_string();
        Ok(Caller {
            merchant_id: record.merchant_id,
            livemode,
            kind,
            key_id,
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

async fn operator_from(state: &AppState, parts: &Parts, key: &str) -> Result<Operator, ApiError> {
    let client = client_address(parts);
    let hash = hash_key(key);
    state
        .limits
        .check(Presented::Operator { hash: &hash }, client)?;
    let Some(record) = state.store.find_operator_key(&hash).await? else {
        state.limits.lookup_failed(client);
        return Err(invalid_key());
    };
    Ok(Operator { key: record })
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(operator) = parts.extensions.get::<Operator>() {
            return Ok(operator.clone());
        }
        let key = bearer(parts)?;
        if !is_operator_key(key) {
            return Err(operator_required());
        }
        operator_from(state, parts, key).await
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
        if let Some(operator) = parts.extensions.get::<Operator>() {
            return Ok(Principal::Operator(operator.clone()));
        }
        let key = bearer(parts)?;
        if is_operator_key(key) {
            return Ok(Principal::Operator(operator_from(state, parts, key).await?));
        }
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_secret()?;
        Ok(Principal::Merchant(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payers_idempotency_keys_never_share_the_merchants_scope() {
        let merchant: MerchantId = MerchantId::generate();
        let caller = |kind| Caller {
            merchant_id: merchant,
            livemode: false,
            kind,
            key_id: "key".into(),
        };
        let secret = caller(KeyKind::Secret).scope();
        let publishable = caller(KeyKind::Publishable).scope();
        assert_ne!(secret, publishable);
        assert_eq!(
            secret,
            format!("{merchant}:test"),
            "stored records keep their scope"
        );
    }
}
