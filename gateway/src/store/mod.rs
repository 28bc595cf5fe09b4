//! Persistence. One [`Store`] trait, implemented by [`SqlStore`] for both SQLite (the embedded
//! default) and PostgreSQL; the conformance suite in `tests/store_conformance.rs` runs against
//! both.
//!
//! Writes that answer an API request carry the request's idempotency record, and the store
//! commits both in one transaction: a crash can never leave a created object without its
//! replayable response, or the reverse.

mod sql;

use async_trait::async_trait;
use rialto_core::id::{ApiKeyId, MerchantId, PaymentIntentId};
use rialto_core::intent::{PaymentIntent, PaymentStatus};

pub use sql::{Backend, SqlStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another request already stored a response under this idempotency key.
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    /// A row could not be turned back into a domain object (unknown asset, bad amount, …).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    /// Default settlement: CAIP-19 asset id and address, both validated on the way in.
    pub settlement_asset: Option<String>,
    pub settlement_address: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Secret,
    Publishable,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Secret => "secret",
            KeyKind::Publishable => "publishable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub merchant_id: MerchantId,
    pub kind: KeyKind,
    pub livemode: bool,
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// The first characters of the key, for people to recognise it (`sk_test_4eC3…`).
    pub key_hint: String,
    pub created_at_ms: i64,
}

/// A response stored under an idempotency key, replayed byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// `merchant id:mode`, so test and live keys never share a namespace.
    pub scope: String,
    pub key: String,
    /// Hex SHA-256 over method, path and body of the first request.
    pub request_hash: String,
    pub response_status: u16,
    pub response_body: String,
    pub created_at_ms: i64,
}

/// Which page of a list to read. IDs are time-ordered, so the id is the cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntentFilter {
    pub status: Option<PaymentStatus>,
    pub created_gte_ms: Option<i64>,
    pub created_lte_ms: Option<i64>,
    pub starting_after: Option<PaymentIntentId>,
    pub ending_before: Option<PaymentIntentId>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Newest first.
    pub data: Vec<T>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    Updated,
    /// The row was not in the expected status (someone else moved it): reload, never overwrite.
    Conflict,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies this backend's migrations. Idempotent.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Cheap round trip to the database, for `/ready`.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn create_merchant(
        &self,
        merchant: &Merchant,
        keys: &[ApiKeyRecord],
    ) -> Result<(), StoreError>;

    async fn get_merchant(&self, id: &MerchantId) -> Result<Option<Merchant>, StoreError>;

    /// The live (not revoked) key with this hash.
    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Inserts the intent and, when given, the idempotency record in one transaction. Fails
    /// with `IdempotencyKeyTaken` (and stores nothing) if the key was taken meanwhile.
    async fn create_intent(
        &self,
        intent: &PaymentIntent,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// The intent, only if it belongs to this merchant in this mode.
    async fn get_intent(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        id: &PaymentIntentId,
    ) -> Result<Option<PaymentIntent>, StoreError>;

    /// The intent regardless of owner, for payer-side reads authorised by its client secret.
    async fn get_intent_unscoped(
        &self,
        id: &PaymentIntentId,
    ) -> Result<Option<PaymentIntent>, StoreError>;

    async fn list_intents(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        filter: &IntentFilter,
    ) -> Result<Page<PaymentIntent>, StoreError>;

    /// Compare-and-set: writes `next` only if the stored row still has status `expected` and
    /// version `next.version - 1`; the idempotency record commits with it.
    async fn update_intent(
        &self,
        expected: PaymentStatus,
        next: &PaymentIntent,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<CasOutcome, StoreError>;

    /// Intents still awaiting funds whose window closed before `now_ms`, oldest first.
    async fn intents_due_to_expire(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<PaymentIntent>, StoreError>;

    async fn get_idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Deletes idempotency records created before `before_ms`; returns how many.
    async fn prune_idempotency(&self, before_ms: i64) -> Result<u64, StoreError>;
}
