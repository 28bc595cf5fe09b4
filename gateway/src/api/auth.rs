//! Who is calling: `Authorization: Bearer sk_test_…` (or `pk_…`), resolved to a merchant and a
//! mode, rate limited per key.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rialto_core::id::{ApiKeyId, MerchantId};

use super::limits::{client_address, Presented};
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

/// The key's record by its hash. On PostgreSQL the store may answer from its key cache, which
/// a revoke or roll flushes at once on this instance and, through `NOTIFY`, on the others
/// (`store::key_cache`); a rolled key's grace period is checked here against the record on
/// every request.
async fn lookup(state: &AppState, hash: &str) -> Result<Option<ApiKeyRecord>, ApiError> {
    Ok(state
        .store
        .find_api_key(hash)
        .await?
        .filter(|record| record.is_active(state.clock.now_ms())))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Already authenticated (and counted) by the idempotency layer.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let key = bearer(parts)?;
        if is_operator_key(key) {
            // A well-formed operator key on a merchant endpoint is a mistake, not a guess: it
            // is refused plainly and does not count against the caller's address.
            return Err(ApiError::new(
                ErrorCode::ApiKeyInvalid,
                "Operator keys (op_…) work only on operator endpoints; this one needs a \
                 merchant key (sk_… or pk_…).",
            ));
        }
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
        let record = lookup(state, &hash)
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

async fn operator_from(state: &AppState, parts: &Parts, key: &str) -> Result<Operator, ApiError> {
    let client = client_address(parts);
    let hash = hash_key(key);
    state
        .limits
        .check(Presented::Operator { hash: &hash }, client)?;
    let record = state.store.find_operator_key(&hash).await?;
    let Some(record) = record.filter(|r| r.is_active(state.clock.now_ms())) else {
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
            key: ApiKeyId::generate(),
            custody: ApiKeyId::generate(),
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
