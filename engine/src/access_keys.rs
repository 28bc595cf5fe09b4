//! Several named keys per merchant and mode: create, roll (the old key keeps working for a
//! grace period), revoke (at once, on every instance: keys are looked up in the database on
//! every request). Operator keys roll and revoke the same way.
//!
//! Through the API a key acts on its own merchant and mode, and what it makes joins its
//! custody (see [`crate::approvals`]): a key rolls only keys of its own custody, since the new
//! secret goes to the caller. The `rialto` CLI acts as the administrator: its keys start a
//! custody of their own and it may roll or revoke any key.

use rialto_core::id::{ApiKeyId, MerchantId};

use crate::error::{EngineError, ErrorCode};
use crate::idempotency::{IdempotencyKey, WriteError};
use crate::keys::{generate_named_key, generate_operator_key};
use crate::store::{ApiKeyRecord, CasOutcome, KeyKind, OperatorKey, Store};

/// The longest grace period a rolled key may keep working: 7 days.
pub const MAX_GRACE_SECS: u64 = 7 * 24 * 3600;
const MAX_NAME_CHARS: usize = 100;

/// Who manages keys: a merchant's secret key (through the API), or the administrator (CLI).
#[derive(Debug, Clone, Copy)]
pub enum KeyActor {
    Key {
        merchant: MerchantId,
        livemode: bool,
        custody: ApiKeyId,
    },
    Admin,
}

fn check_name(name: &str) -> Result<String, EngineError> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(EngineError::new(
            ErrorCode::ParameterInvalid,
            format!("name must be at most {MAX_NAME_CHARS} printable characters."),
        )
        .param("name"));
    }
    Ok(name.to_owned())
}

/// A grace period in seconds, bounded.
pub fn check_grace(secs: u64) -> Result<i64, EngineError> {
    if secs > MAX_GRACE_SECS {
        return Err(EngineError::new(
            ErrorCode::ParameterInvalid,
            format!("expires_in_seconds must be from 0 to {MAX_GRACE_SECS} (7 days)."),
        )
        .param("expires_in_seconds"));
    }
    Ok(i64::try_from(secs).unwrap_or(i64::MAX) * 1000)
}

/// Creates a key; the secret is in the answer and nowhere else.
pub async fn create(
    store: &dyn Store,
    actor: KeyActor,
    (merchant, livemode): (MerchantId, bool),
    (name, kind): (&str, KeyKind),
    guard: Option<&IdempotencyKey>,
    render: impl Fn(&ApiKeyRecord) -> String,
    now_ms: i64,
) -> Result<(String, ApiKeyRecord), WriteError> {
    let name = check_name(name)?;
    let custody = match actor {
        KeyActor::Key { custody, .. } => Some(custody),
        KeyActor::Admin => None,
    };
    let (secret, record) = generate_named_key(merchant, (kind, livemode), &name, custody, now_ms);
    // The replayable answer never holds the secret: it is stored hashed, only.
    let replay = guard.map(|g| g.record(200, &render(&record), now_ms));
    store.insert_api_key(&record, replay.as_ref()).await?;
    Ok((secret, record))
}

/// The key `id` if `actor` may see it: its own merchant and mode.
pub async fn find(
    store: &dyn Store,
    actor: KeyActor,
    id: &ApiKeyId,
) -> Result<ApiKeyRecord, EngineError> {
    let key = store.get_api_key(id).await?.filter(|k| match actor {
        KeyActor::Key {
            merchant, livemode, ..
        } => k.merchant_id == merchant && k.livemode == livemode,
        KeyActor::Admin => true,
    });
    key.ok_or_else(|| EngineError::missing("api_key", &id.to_string(), "id"))
}

fn not_active(id: &impl std::fmt::Display) -> EngineError {
    EngineError::new(
        ErrorCode::ApiKeyNotActive,
        format!("The key {id} was revoked or rolled already."),
    )
}

/// Rolls key `id`: a new key with its name, kind, mode and custody; the old one works for
/// `grace_secs` more (0: revoked at once).
pub async fn roll(
    store: &dyn Store,
    actor: KeyActor,
    id: &ApiKeyId,
    grace_secs: u64,
    guard: Option<&IdempotencyKey>,
    render: impl Fn(&ApiKeyRecord) -> String,
    now_ms: i64,
) -> Result<(String, ApiKeyRecord), WriteError> {
    let grace_ms = check_grace(grace_secs)?;
    let old = find(store, actor, id).await?;
    if let KeyActor::Key { custody, .. } = actor {
        if custody != old.custody {
            return Err(EngineError::new(
                ErrorCode::ApiKeyOtherCustody,
                "A key may roll only itself and the keys made or rolled from it; roll this one \
                 with a key of its own custody, or with `rialto keys roll`.",
            )
            .param("id")
            .into());
        }
    }
    if !old.is_active(now_ms) {
        return Err(not_active(id).into());
    }
    let (secret, new) = generate_named_key(
        old.merchant_id,
        (old.kind, old.livemode),
        &old.name,
        Some(old.custody),
        now_ms,
    );
    let replay = guard.map(|g| g.record(200, &render(&new), now_ms));
    match store
        .roll_api_key(id, now_ms + grace_ms, &new, replay.as_ref())
        .await?
    {
        CasOutcome::Updated => Ok((secret, new)),
        CasOutcome::Conflict => Err(not_active(id).into()),
    }
}

/// Revokes key `id` at once.
pub async fn revoke(
    store: &dyn Store,
    actor: KeyActor,
    id: &ApiKeyId,
    guard: Option<&IdempotencyKey>,
    render: impl Fn(&ApiKeyRecord) -> String,
    now_ms: i64,
) -> Result<ApiKeyRecord, WriteError> {
    let mut key = find(store, actor, id).await?;
    if key.revoked_at_ms.is_some() {
        return Err(not_active(id).into());
    }
    key.revoked_at_ms = Some(now_ms);
    let replay = guard.map(|g| g.record(200, &render(&key), now_ms));
    match store.revoke_api_key(id, now_ms, replay.as_ref()).await? {
        CasOutcome::Updated => Ok(key),
        CasOutcome::Conflict => Err(not_active(id).into()),
    }
}

/// Rolls an operator key: a new key with its name; the old one works `grace_secs` more.
pub async fn roll_operator(
    store: &dyn Store,
    id: &str,
    grace_secs: u64,
    now_ms: i64,
) -> Result<(String, OperatorKey), EngineError> {
    let grace_ms = check_grace(grace_secs)?;
    let old = store
        .get_operator_key(id)
        .await?
        .ok_or_else(|| EngineError::missing("operator key", id, "id"))?;
    if !old.is_active(now_ms) {
        return Err(not_active(&id));
    }
    let (secret, new) = generate_operator_key(&old.name, now_ms);
    match store.roll_operator_key(id, now_ms + grace_ms, &new).await? {
        CasOutcome::Updated => Ok((secret, new)),
        CasOutcome::Conflict => Err(not_active(&id)),
    }
}

/// Revokes an operator key at once.
pub async fn revoke_operator(store: &dyn Store, id: &str, now_ms: i64) -> Result<(), EngineError> {
    store
        .get_operator_key(id)
        .await?
        .ok_or_else(|| EngineError::missing("operator key", id, "id"))?;
    match store.revoke_operator_key(id, now_ms).await? {
        CasOutcome::Updated => Ok(()),
        CasOutcome::Conflict => Err(not_active(&id)),
    }
}
