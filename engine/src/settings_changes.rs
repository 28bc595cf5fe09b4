//! Maker-checker on the settings that let money leave without a second key.
//!
//! While `payout_approval_above` is set, `POST /v1/settings` applies at once only what makes
//! the merchant's position no weaker: lowering the limit, and every other field. Raising or
//! removing the limit, or changing `payout_addresses`, becomes a pending change (`sc_…`, event
//! `settings.change_requested` at once, so the merchant's webhooks see it) that applies when a
//! key of another custody or an operator approves it, or, where the gateway is configured with
//! a delay, once that delay has passed. Without a limit there is no approval to protect and
//! everything applies at once (setting a first limit is itself a tightening).
//!
//! Settings are swapped with compare-and-set on their stored JSON, so a request that read
//! stale settings retries instead of writing back fields an approval just changed.

use std::collections::BTreeMap;

use rialto_core::id::{ApiKeyId, EventId, MerchantId, SettingsChangeId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::approvals::{require_second, Checker};
use crate::error::{EngineError, ErrorCode};
use crate::idempotency::{IdempotencyKey, WriteError};
use crate::services::Engine;
use crate::settings::MerchantSettings;
use crate::store::access::{SettingsChange, SettingsChangeStatus, SettingsSwap};
use crate::store::{CasOutcome, Event};

const CAS_RETRIES: usize = 3;
/// Who applied a change whose delay passed.
pub const BY_DELAY: &str = "delay";

/// The fields a pending change carries (all of them: applying it sets both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GuardedFields {
    #[schema(value_type = Option<String>, example = "10000.00")]
    pub payout_approval_above: Option<Decimal>,
    pub payout_addresses: BTreeMap<String, String>,
}

impl GuardedFields {
    fn of(settings: &MerchantSettings) -> Self {
        Self {
            payout_approval_above: settings.payout_approval_above,
            payout_addresses: settings.payout_addresses.clone(),
        }
    }

    fn apply_to(&self, settings: &mut MerchantSettings) {
        settings.payout_approval_above = self.payout_approval_above;
        settings.payout_addresses = self.payout_addresses.clone();
    }
}

/// What of `requested` applies now, and what waits for approval (if anything).
pub fn split(
    current: &MerchantSettings,
    requested: &MerchantSettings,
) -> (MerchantSettings, Option<GuardedFields>) {
    let Some(limit) = current.payout_approval_above else {
        return (requested.clone(), None);
    };
    let loosened = requested.payout_approval_above.is_none_or(|l| l > limit);
    let moved = requested.payout_addresses != current.payout_addresses;
    if !loosened && !moved {
        return (requested.clone(), None);
    }
    let mut now = requested.clone();
    if loosened {
        now.payout_approval_above = Some(limit);
    }
    now.payout_addresses = current.payout_addresses.clone();
    (now, Some(GuardedFields::of(requested)))
}

/// A settings change as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsChangeObject {
    pub id: String,
    /// Always `settings_change`.
    pub object: &'static str,
    pub livemode: bool,
    /// `pending`, `applied` or `canceled`.
    pub status: String,
    /// The values applied when it is approved.
    pub change: GuardedFields,
    pub requested_by: String,
    pub approved_by: Option<String>,
    /// When it applies by itself (Unix seconds), if the gateway has a delay configured.
    pub effective_at: Option<i64>,
    pub created: i64,
}

pub fn change_json(change: &SettingsChange) -> String {
    let fields = serde_json::from_str(&change.change_json).unwrap_or(GuardedFields {
        payout_approval_above: None,
        payout_addresses: BTreeMap::new(),
    });
    serde_json::to_string(&SettingsChangeObject {
        id: change.id.to_string(),
        object: "settings_change",
        livemode: change.livemode,
        status: change.status.as_str().to_owned(),
        change: fields,
        requested_by: change.requested_by.clone(),
        approved_by: change.approved_by.clone(),
        effective_at: change.effective_at_ms.map(|t| t / 1000),
        created: change.created_at_ms / 1000,
    })
    .unwrap_or_default()
}

fn change_event(change: &SettingsChange, kind: &str, now_ms: i64) -> Event {
    Event {
        id: EventId::generate(),
        merchant_id: change.merchant_id,
        livemode: change.livemode,
        kind: kind.to_owned(),
        object_json: change_json(change),
        created_at_ms: now_ms,
    }
}

fn parse(json: Option<&str>, merchant: &MerchantId) -> Result<MerchantSettings, EngineError> {
    json.map(serde_json::from_str)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| EngineError::internal(&format!("settings of {merchant}: {e}")))
}

fn to_json(settings: &MerchantSettings) -> Result<String, EngineError> {
    serde_json::to_string(settings).map_err(|e| EngineError::internal(&e))
}

fn moved_meanwhile() -> EngineError {
    EngineError::new(
        ErrorCode::BalanceChanged,
        "The settings changed while this request was being handled. Retry.",
    )
}

/// Who asks for a settings change: the key and its custody.
#[derive(Debug, Clone, Copy)]
pub struct Requester {
    pub key: ApiKeyId,
    pub custody: ApiKeyId,
}

/// Applies `requested` as far as it may apply at once; the rest becomes a pending change
/// (applying by itself after `delay_secs` when given). Answers the settings now in force.
pub async fn request(
    state: &Engine,
    (merchant, livemode): (&MerchantId, bool),
    requested: &MerchantSettings,
    requester: Requester,
    delay_secs: Option<u64>,
    now_ms: i64,
) -> Result<(MerchantSettings, Option<SettingsChange>), EngineError> {
    for _ in 0..CAS_RETRIES {
        let stored = state.store.merchant_settings(merchant, livemode).await?;
        let current = parse(stored.as_deref(), merchant)?;
        let (now, guarded) = split(&current, requested);
        let change = guarded
            .map(|fields| -> Result<SettingsChange, EngineError> {
                Ok(SettingsChange {
                    id: SettingsChangeId::generate(),
                    merchant_id: *merchant,
                    livemode,
                    status: SettingsChangeStatus::Pending,
                    change_json: serde_json::to_string(&fields)
                        .map_err(|e| EngineError::internal(&e))?,
                    requested_by: format!("key:{}", requester.key),
                    requested_custody: requester.custody,
                    approved_by: None,
                    effective_at_ms: delay_secs.map(|d| {
                        now_ms.saturating_add(i64::try_from(d).unwrap_or(i64::MAX / 2) * 1000)
                    }),
                    created_at_ms: now_ms,
                    updated_at_ms: now_ms,
                })
            })
            .transpose()?;
        let events: Vec<Event> = change
            .iter()
            .map(|c| change_event(c, "settings.change_requested", now_ms))
            .collect();
        let next = to_json(&now)?;
        let swap = SettingsSwap {
            expected: stored.as_deref(),
            next: &next,
        };
        match state
            .store
            .save_settings((merchant, livemode), swap, change.as_ref(), &events, now_ms)
            .await?
        {
            CasOutcome::Updated => return Ok((now, change)),
            CasOutcome::Conflict => continue,
        }
    }
    Err(moved_meanwhile())
}

fn not_pending(change: &SettingsChange) -> EngineError {
    EngineError::new(
        ErrorCode::SettingsChangeNotPending,
        format!(
            "This settings change is {}, not pending.",
            change.status.as_str()
        ),
    )
}

/// Applies a pending change: approved by `checker` (`None`: its delay passed).
pub async fn approve(
    state: &Engine,
    change: &SettingsChange,
    checker: Option<&Checker>,
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<SettingsChange, WriteError> {
    if let Some(checker) = checker {
        require_second(Some(change.requested_custody), checker, "A settings change")?;
    }
    let fields: GuardedFields = serde_json::from_str(&change.change_json)
        .map_err(|e| EngineError::internal(&format!("settings change {}: {e}", change.id)))?;
    let mut next = change.clone();
    next.status = SettingsChangeStatus::Applied;
    next.approved_by = Some(checker.map_or_else(|| BY_DELAY.to_owned(), Checker::label));
    next.updated_at_ms = now_ms;
    let (merchant, livemode) = (&change.merchant_id, change.livemode);
    for _ in 0..CAS_RETRIES {
        if change.status != SettingsChangeStatus::Pending {
            return Err(not_pending(change).into());
        }
        let stored = state.store.merchant_settings(merchant, livemode).await?;
        let mut settings = parse(stored.as_deref(), merchant)?;
        fields.apply_to(&mut settings);
        let text = to_json(&settings)?;
        let swap = SettingsSwap {
            expected: stored.as_deref(),
            next: &text,
        };
        let events = [change_event(&next, "settings.change_applied", now_ms)];
        let record = guard.map(|g| g.record(200, &change_json(&next), now_ms));
        match state
            .store
            .finish_settings_change(&next, Some(swap), &events, record.as_ref())
            .await?
        {
            CasOutcome::Updated => return Ok(next),
            CasOutcome::Conflict => {
                let reloaded = state.store.get_settings_change(&change.id).await?;
                if reloaded.as_ref().map(|c| c.status) != Some(SettingsChangeStatus::Pending) {
                    return Err(not_pending(reloaded.as_ref().unwrap_or(change)).into());
                }
            }
        }
    }
    Err(moved_meanwhile().into())
}

/// Withdraws a pending change (any secret key of the merchant, or an operator, may).
pub async fn cancel(
    state: &Engine,
    change: &SettingsChange,
    by: &str,
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<SettingsChange, WriteError> {
    if change.status != SettingsChangeStatus::Pending {
        return Err(not_pending(change).into());
    }
    let mut next = change.clone();
    next.status = SettingsChangeStatus::Canceled;
    next.approved_by = Some(by.to_owned());
    next.updated_at_ms = now_ms;
    let events = [change_event(&next, "settings.change_canceled", now_ms)];
    let record = guard.map(|g| g.record(200, &change_json(&next), now_ms));
    match state
        .store
        .finish_settings_change(&next, None, &events, record.as_ref())
        .await?
    {
        CasOutcome::Updated => Ok(next),
        CasOutcome::Conflict => Err(not_pending(&next).into()),
    }
}

/// Applies the pending changes whose delay has passed. Returns how many applied.
pub async fn apply_due(state: &Engine, now_ms: i64) -> Result<usize, EngineError> {
    let mut applied = 0;
    for change in state.store.due_settings_changes(now_ms, 100).await? {
        match approve(state, &change, None, None, now_ms).await {
            Ok(_) => applied += 1,
            // Another instance applied it, or a newer request replaced it: nothing to do.
            Err(WriteError::Engine(e)) if e.code == ErrorCode::SettingsChangeNotPending => {}
            Err(WriteError::Engine(e)) => return Err(e),
            Err(WriteError::KeyTaken) => {}
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> MerchantSettings {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn loosening_the_limit_or_moving_addresses_waits_and_tightening_applies_at_once() {
        let current =
            settings(r#"{"payout_approval_above":"100","payout_addresses":{"base":"0xaaa"}}"#);
        let raised =
            settings(r#"{"payout_approval_above":"1000","payout_addresses":{"base":"0xaaa"}}"#);
        let (now, pending) = split(&current, &raised);
        assert_eq!(now.payout_approval_above, current.payout_approval_above);
        assert_eq!(
            pending.unwrap().payout_approval_above,
            raised.payout_approval_above
        );
        let removed = settings(r#"{"payout_addresses":{"base":"0xaaa"}}"#);
        assert!(split(&current, &removed).1.is_some());
        let moved =
            settings(r#"{"payout_approval_above":"50","payout_addresses":{"base":"0xbbb"}}"#);
        let (now, pending) = split(&current, &moved);
        assert_eq!(now.payout_approval_above, moved.payout_approval_above);
        assert_eq!(now.payout_addresses, current.payout_addresses);
        assert_eq!(pending.unwrap().payout_addresses, moved.payout_addresses);
        let lowered = settings(
            r#"{"payout_approval_above":"10","payout_addresses":{"base":"0xaaa"},"overpaid":"refund_surplus"}"#,
        );
        assert_eq!(split(&current, &lowered), (lowered.clone(), None));
        // No limit yet: nothing to protect, everything applies.
        assert_eq!(
            split(&MerchantSettings::default(), &moved),
            (moved.clone(), None)
        );
    }
}
