//! Who may act, and the maker-checker requests waiting for a second party: merchants' API keys
//! (named, rolled with a grace period, revoked at once), operator keys, and pending settings
//! changes. Every read here goes to the database: no instance keeps a copy a revoke could miss.

use async_trait::async_trait;
use rialto_core::id::{ApiKeyId, MerchantId, SettingsChangeId};

use super::{ApiKeyRecord, CasOutcome, Event, IdempotencyRecord, OperatorKey, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsChangeStatus {
    /// Waiting for a second key or an operator (or for its delay to pass).
    Pending,
    Applied,
    /// Withdrawn, or replaced by a newer request before it applied.
    Canceled,
}

impl SettingsChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Applied => "applied",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Applied, Self::Canceled]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A change to the money-moving settings, waiting for a second party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChange {
    pub id: SettingsChangeId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub status: SettingsChangeStatus,
    /// The fields to apply (`settings_changes::GuardedFields` as JSON).
    pub change_json: String,
    /// `key:key_…`.
    pub requested_by: String,
    /// The custody of the requesting key: approvals must come from another one.
    pub requested_custody: ApiKeyId,
    pub approved_by: Option<String>,
    pub effective_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The merchant's settings JSON replaced only if it still reads `expected` (`None`: no row yet),
/// so a concurrent writer's change is never overwritten by a stale read.
#[derive(Debug, Clone, Copy)]
pub struct SettingsSwap<'a> {
    pub expected: Option<&'a str>,
    pub next: &'a str,
}

#[async_trait]
pub trait AccessStore: Send + Sync + 'static {
    /// The key with this id, revoked or not.
    async fn get_api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// The merchant's keys in one mode, newest first, revoked ones included.
    async fn list_api_keys(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Stores a new key (and the idempotency record) in one transaction.
    async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// Rolls `old` into `new`: `old` keeps working until `old_expires_at_ms` (revoked now when
    /// that is not in the future), `new` is stored; one transaction. `Conflict` when `old` is
    /// revoked or was rolled already (a key is rolled once).
    async fn roll_api_key(
        &self,
        old: &ApiKeyId,
        old_expires_at_ms: i64,
        new: &ApiKeyRecord,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<CasOutcome, StoreError>;

    /// Revokes the key now; `Conflict` when it was revoked already.
    async fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        at_ms: i64,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<CasOutcome, StoreError>;

    async fn get_operator_key(&self, id: &str) -> Result<Option<OperatorKey>, StoreError>;

    /// Every operator key, newest first, revoked ones included.
    async fn list_operator_keys(&self) -> Result<Vec<OperatorKey>, StoreError>;

    /// As [`AccessStore::roll_api_key`], for operator keys.
    async fn roll_operator_key(
        &self,
        old: &str,
        old_expires_at_ms: i64,
        new: &OperatorKey,
    ) -> Result<CasOutcome, StoreError>;

    async fn revoke_operator_key(&self, id: &str, at_ms: i64) -> Result<CasOutcome, StoreError>;

    /// Replaces the settings (compare-and-set, see [`SettingsSwap`]) and, when given, records
    /// a pending change, cancelling the merchant's earlier pending ones in this mode; events
    /// and the idempotency record commit with it.
    async fn save_settings(
        &self,
        merchant: (&MerchantId, bool),
        swap: SettingsSwap<'_>,
        change: Option<&SettingsChange>,
        events: &[Event],
        at_ms: i64,
    ) -> Result<CasOutcome, StoreError>;

    async fn get_settings_change(
        &self,
        id: &SettingsChangeId,
    ) -> Result<Option<SettingsChange>, StoreError>;

    /// The merchant's changes in one mode, newest first.
    async fn list_settings_changes(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        limit: u32,
    ) -> Result<Vec<SettingsChange>, StoreError>;

    /// Pending changes whose delay has passed, oldest first.
    async fn due_settings_changes(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<SettingsChange>, StoreError>;

    /// Moves a pending change to `next.status` (compare-and-set on `pending`) and, when
    /// applying, swaps the settings in the same transaction; `Conflict` if either moved.
    async fn finish_settings_change(
        &self,
        next: &SettingsChange,
        swap: Option<SettingsSwap<'_>>,
        events: &[Event],
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<CasOutcome, StoreError>;
}
