//! The store ports: what the engine needs persisted, split by area (one trait per module
//! below, plus [`WebhookStore`] and [`ComplianceStore`] here) and gathered in [`Store`]. The
//! gateway's `SqlStore` implements them for SQLite (the embedded default) and PostgreSQL; the
//! shared store suites (`gateway/tests/store_*.rs`) run against both.
//!
//! Writes that answer an API request carry the request's idempotency record, and the store
//! commits both in one transaction: a crash can never leave a created object without its
//! replayable response, or the reverse.

pub mod access;
pub mod chain;
pub mod checkout;
pub mod exchange;
pub mod idempotency;
pub mod issuer_redemption;
pub mod ledger;
pub mod misdirected;
pub mod money;
pub mod payer;
mod payment_source;
pub mod quote;
pub mod reconcile;
pub mod relay_queue;
pub mod reserves;
pub mod x402;

use async_trait::async_trait;
use rialto_compliance::{AuditEntry, AuditRecord, ComplianceCaseId};
use rialto_core::id::{
    ApiKeyId, EventId, MerchantId, PaymentIntentId, WebhookAttemptId, WebhookDeliveryId,
    WebhookEndpointId,
};
use rialto_core::intent::{PaymentIntent, PaymentStatus};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another request already stored a response under this idempotency key.
    #[error("idempotency key already used")]
    IdempotencyKeyTaken,
    /// A row could not be turned back into a domain object (unknown asset, bad amount, …).
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    /// The database failed (connection, constraint, I/O); its error is the logs' source.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    #[error("migration failed: {0}")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    /// Default settlement: CAIP-19 asset id and address, both validated on the way in.
    pub settlement_asset: Option<String>,
    pub settlement_address: Option<String>,
    pub created_at_ms: i64,
    /// ISO 3166-1 alpha-2 (upper case) of the merchant's jurisdiction, for compliance rules.
    pub country: Option<String>,
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
    /// What the merchant calls it (`""` for keys from before keys had names).
    pub name: String,
    /// The key this one descends from (itself for keys issued by `rialto`): keys made or
    /// rolled through the API share their maker's custody, and maker-checker wants two.
    pub custody: ApiKeyId,
    /// A rolled key works until then (Unix ms).
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

impl ApiKeyRecord {
    /// Usable at `now_ms`: not revoked, not past its grace period.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms.is_none_or(|at| now_ms < at)
    }
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

impl IdempotencyRecord {
    /// A reservation of a request still in flight: it has no response to replay yet.
    pub fn is_in_flight(&self) -> bool {
        self.response_status == 0
    }
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

/// Which deliveries of an event to read (see `WebhookStore::deliveries_for_event`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPage {
    pub endpoint: Option<WebhookEndpointId>,
    pub starting_after: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// Newest first.
    pub data: Vec<T>,
    pub has_more: bool,
}

/// Something that happened to a merchant's object, as the API showed the object then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: EventId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    /// `payment_intent.created`, …
    pub kind: String,
    /// The object's JSON at the time of the event.
    pub object_json: String,
    pub created_at_ms: i64,
}

/// An event waiting in the outbox to be fanned out to webhook endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub id: EventId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub kind: Option<String>,
    pub starting_after: Option<EventId>,
    pub ending_before: Option<EventId>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub url: String,
    pub description: Option<String>,
    /// Event types, or `["*"]`.
    pub enabled_events: Vec<String>,
    pub enabled: bool,
    /// The signing secret sealed with the master key.
    pub secret_sealed: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub event_id: EventId,
    pub endpoint_id: WebhookEndpointId,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: WebhookAttemptId,
    pub delivery_id: WebhookDeliveryId,
    pub attempted_at_ms: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What a finished attempt changes on its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub attempt: Attempt,
    pub status: DeliveryStatus,
    pub next_attempt_at_ms: i64,
}

impl<T> Page<T> {
    /// A page from rows read with `LIMIT limit + 1`: the extra row only says there is more.
    /// Rows read backwards (for `ending_before`) are put back newest first.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, backwards: bool) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        if backwards {
            rows.reverse();
        }
        Page {
            data: rows,
            has_more,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasOutcome {
    Updated,
    /// The row was not in the expected status (someone else moved it): reload, never overwrite.
    Conflict,
}

/// Events and the webhook outbox.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    async fn list_events(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        filter: &EventFilter,
    ) -> Result<Page<Event>, StoreError>;

    async fn get_event(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError>;

    /// Inserts the endpoint and, when given, the request's idempotency record atomically.
    async fn create_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// Replaces the endpoint's mutable fields (url, description, events, status, secret), with
    /// the idempotency record in the same transaction.
    async fn update_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    async fn get_webhook_endpoint(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        id: &WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;

    async fn list_webhook_endpoints(
        &self,
        merchant: &MerchantId,
        livemode: bool,
    ) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// Events not yet fanned out to endpoints, oldest first.
    async fn undispatched_events(&self, limit: u32) -> Result<Vec<PendingEvent>, StoreError>;

    /// Creates the deliveries (skipping any that exist) and takes the events out of the
    /// outbox, in one transaction.
    async fn dispatch_events(
        &self,
        events: &[EventId],
        deliveries: &[Delivery],
    ) -> Result<(), StoreError>;

    /// Takes up to `limit` pending deliveries due by `now_ms` that no live lease holds, and
    /// leases them until `lease_until_ms`. Safe with several workers: each delivery goes to one.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Deliveries still to be sent, due now or at a later retry: the webhook queue's depth.
    async fn pending_deliveries(&self) -> Result<u64, StoreError>;

    /// Records an attempt and its effect on the delivery, releasing the lease.
    async fn record_attempt(&self, outcome: &AttemptOutcome) -> Result<(), StoreError>;

    async fn get_endpoint_by_id(
        &self,
        id: &WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;

    async fn get_event_by_id(&self, id: &EventId) -> Result<Option<Event>, StoreError>;

    /// A page of an event's deliveries with their attempts, oldest first: those after the
    /// cursor, to one endpoint when `endpoint` is given.
    async fn deliveries_for_event(
        &self,
        event: &EventId,
        page: &DeliveryPage,
    ) -> Result<Page<(Delivery, Vec<Attempt>)>, StoreError>;

    /// Puts a delivery back in the queue now (manual redelivery); `false` if there is none.
    async fn redeliver(
        &self,
        event: &EventId,
        endpoint: &WebhookEndpointId,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}

/// Where a compliance case stands. Review decisions open a case an operator resolves; block
/// decisions freeze the funds; clear decisions are closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStatus {
    Closed,
    Open,
    Approved,
    Rejected,
    Frozen,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Closed => "closed",
            CaseStatus::Open => "open",
            CaseStatus::Approved => "approved",
            CaseStatus::Rejected => "rejected",
            CaseStatus::Frozen => "frozen",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            CaseStatus::Closed,
            CaseStatus::Open,
            CaseStatus::Approved,
            CaseStatus::Rejected,
            CaseStatus::Frozen,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One screening decision and, for review and block, the case around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub id: ComplianceCaseId,
    pub merchant_id: Option<MerchantId>,
    pub livemode: bool,
    pub payment_intent_id: Option<PaymentIntentId>,
    /// Where in the flow: `funds_received`, `intent_created`, `screening`, `review_release`.
    pub point: String,
    /// `clear`, `review` or `block`.
    pub outcome: String,
    pub status: CaseStatus,
    /// The full decision (findings, evidence, list versions): internal only.
    pub decision_json: String,
    /// What was screened, so it can be screened again when a case is approved.
    pub subject_json: String,
    pub created_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub payment_intent_id: Option<PaymentIntentId>,
    pub starting_after: Option<ComplianceCaseId>,
    pub limit: u32,
}

/// An intent change committed together with a compliance record.
#[derive(Debug, Clone)]
pub struct IntentChange {
    pub expected: PaymentStatus,
    pub next: PaymentIntent,
    pub events: Vec<Event>,
    /// The payment transaction whose confirmation the change records, written as given
    /// compare-and-set from `pending` in the same transaction (`ComplianceStore::record_decision`
    /// only): the watcher's confirmed payment and the intent it funds land together. `Conflict`
    /// when it is no longer pending.
    pub confirms: Option<PaymentTransaction>,
}

/// How an operator resolves an open case.
#[derive(Debug, Clone)]
pub struct CaseResolution {
    pub case_id: ComplianceCaseId,
    pub to: CaseStatus,
    pub by: String,
    pub note: String,
    pub at_ms: i64,
}

/// An entry of an operator's (`owner = "operator"`) or a merchant's custom list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub id: String,
    pub owner: String,
    /// `block` or `allow`.
    pub kind: String,
    /// Normalised as the screener compares it.
    pub address: String,
    pub note: Option<String>,
    pub created_at_ms: i64,
}

/// A screened payment valued in fiat: the history velocity and volume rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenedPayment {
    pub payment_intent_id: PaymentIntentId,
    pub merchant_id: MerchantId,
    pub payer: String,
    pub amount: String,
    pub currency: String,
    pub at_ms: i64,
    /// The history the rules saw: `(since_ms, payments)`. The store re-counts it inside the
    /// decision's transaction and answers `Conflict` if it grew, so two payments screened at
    /// once cannot both slip under a velocity or volume limit.
    pub history_seen: Option<(i64, usize)>,
}

/// Where a payment transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentTxStatus {
    /// Bound to its intent, waiting for the chain's confirmations.
    Pending,
    /// Deep enough to count.
    Confirmed,
    /// A reorg dropped it (or it failed): it pays nothing.
    Reverted,
}

impl PaymentTxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentTxStatus::Pending => "pending",
            PaymentTxStatus::Confirmed => "confirmed",
            PaymentTxStatus::Reverted => "reverted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            PaymentTxStatus::Pending,
            PaymentTxStatus::Confirmed,
            PaymentTxStatus::Reverted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

pub use payment_source::PaymentSource;

/// An on-chain transfer bound to the intent it pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentTransaction {
    /// CAIP-2.
    pub chain_id: String,
    pub tx_hash: String,
    pub payment_intent_id: PaymentIntentId,
    pub payer: String,
    /// Decimal string in whole units of `asset`.
    pub amount: String,
    /// CAIP-19.
    pub asset: String,
    pub block_number: i64,
    pub block_hash: String,
    pub log_index: i64,
    /// `pending` until it has the required confirmations, then `confirmed`; `reverted` when a
    /// reorg dropped it (see [`chain`]).
    pub status: PaymentTxStatus,
    /// `transaction` (reported by the payer), `authorization` (EIP-3009, relayed by us) or
    /// `deposit` (seen arriving at the intent's deposit address).
    pub source: PaymentSource,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorKey {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    pub key_hint: String,
    pub created_at_ms: i64,
    /// A rolled key works until then (Unix ms).
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

impl OperatorKey {
    /// Usable at `now_ms`: not revoked, not past its grace period.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms.is_none_or(|at| now_ms < at)
    }
}

/// Compliance decisions, cases, the audit chain, custom lists and operator keys.
#[async_trait]
pub trait ComplianceStore: Send + Sync + 'static {
    /// Stores a decision, appends its audit record to the chain and, when given, applies the
    /// intent change (compare-and-set) and records the payment for the rules, all in one
    /// transaction. `Conflict` (and nothing stored) when the intent moved meanwhile or the
    /// payer's history changed since the rules read it.
    async fn record_decision(
        &self,
        case: &CaseRecord,
        audit: &AuditEntry,
        intent: Option<&IntentChange>,
        payment: Option<&ScreenedPayment>,
    ) -> Result<CasOutcome, StoreError>;

    /// Moves an open case to its resolution, appends the audit record, stores the release
    /// decision (if any) and applies the intent change, in one transaction. `Conflict` when
    /// the case is no longer open or the intent moved.
    async fn resolve_case(
        &self,
        resolution: &CaseResolution,
        audit: &[AuditEntry],
        release: Option<&CaseRecord>,
        intent: Option<&IntentChange>,
    ) -> Result<CasOutcome, StoreError>;

    /// Appends one record to the audit chain on its own (list reloads, ad-hoc screenings).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<AuditRecord, StoreError>;

    /// Audit records with `seq >= from_seq`, in order, at most `limit`.
    async fn audit_records(
        &self,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    async fn get_case(&self, id: &ComplianceCaseId) -> Result<Option<CaseRecord>, StoreError>;

    /// Newest first.
    async fn list_cases(&self, filter: &CaseFilter) -> Result<Page<CaseRecord>, StoreError>;

    /// `false` when the same owner already lists that address with that kind. The audit record
    /// commits with the entry.
    async fn create_list_entry(
        &self,
        entry: &ListEntry,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    /// `false` when the owner has no such entry. The audit record commits with the delete.
    async fn delete_list_entry(
        &self,
        owner: &str,
        id: &str,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError>;

    /// Every entry of these owners, oldest first.
    async fn list_entries(&self, owners: &[&str]) -> Result<Vec<ListEntry>, StoreError>;

    /// A page of one owner's entries, oldest first, after the `starting_after` cursor.
    async fn list_entries_page(
        &self,
        owner: &str,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ListEntry>, StoreError>;

    /// The entries of these owners that list one of `addresses`.
    async fn find_list_entries(
        &self,
        owners: &[&str],
        addresses: &[String],
    ) -> Result<Vec<ListEntry>, StoreError>;

    /// This payer's screened payments to this merchant since `since_ms`.
    async fn payer_history(
        &self,
        merchant: &MerchantId,
        payer: &str,
        since_ms: i64,
    ) -> Result<Vec<ScreenedPayment>, StoreError>;

    /// Binds a transaction to an intent, once: answers the intent the transaction pays, which
    /// is `tx.payment_intent_id` unless an earlier claim bound it to another intent.
    async fn claim_transaction(
        &self,
        tx: &PaymentTransaction,
    ) -> Result<PaymentIntentId, StoreError>;

    async fn create_operator_key(&self, key: &OperatorKey) -> Result<(), StoreError>;

    /// The operator key with this hash, unless revoked.
    async fn find_operator_key(&self, key_hash: &str) -> Result<Option<OperatorKey>, StoreError>;

    /// The merchant's compliance policy overrides (JSON), if any.
    async fn get_policy(&self, merchant: &MerchantId) -> Result<Option<String>, StoreError>;

    /// Replaces the merchant's policy; the audit record commits with it.
    async fn set_policy(
        &self,
        merchant: &MerchantId,
        policy_json: &str,
        at_ms: i64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait Store:
    WebhookStore
    + ComplianceStore
    + chain::ChainStore
    + checkout::CheckoutStore
    + exchange::ExchangeStore
    + idempotency::IdempotencyStore
    + ledger::LedgerStore
    + money::MoneyStore
    + quote::QuoteStore
    + reconcile::ReconcileStore
    + access::AccessStore
    + x402::X402Store
    + relay_queue::RelayQueueStore
    + misdirected::MisdirectedStore
    + issuer_redemption::IssuerRedemptionStore
    + payer::PayerDetailsStore
    + reserves::ReserveStore
    + Send
    + Sync
    + 'static
{
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

    /// The key with this hash unless revoked; its grace period is the caller's to check.
    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Inserts the intent, its event and, when given, the idempotency record atomically.
    /// Fails with `IdempotencyKeyTaken` (and stores nothing) if the key was taken meanwhile.
    async fn create_intent(
        &self,
        intent: &PaymentIntent,
        event: &Event,
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

    /// [`Self::get_intent_unscoped`] for each of `ids`, in one read where the store can: the
    /// intents found, by id (an id with no intent is absent).
    async fn get_intents_unscoped(
        &self,
        ids: &[PaymentIntentId],
    ) -> Result<std::collections::HashMap<PaymentIntentId, PaymentIntent>, StoreError> {
        let mut found = std::collections::HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(intent) = self.get_intent_unscoped(id).await? {
                found.insert(*id, intent);
            }
        }
        Ok(found)
    }

    async fn list_intents(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        filter: &IntentFilter,
    ) -> Result<Page<PaymentIntent>, StoreError>;

    /// Compare-and-set: writes `next` only if the stored row still has status `expected` and
    /// version `next.version - 1`; the event and idempotency record commit with it.
    async fn update_intent(
        &self,
        expected: PaymentStatus,
        next: &PaymentIntent,
        event: Option<&Event>,
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

    /// Stores a response for a request whose change needs no transaction of its own (it is
    /// naturally idempotent). `IdempotencyKeyTaken` if another request stored one first.
    async fn save_idempotency(&self, record: &IdempotencyRecord) -> Result<(), StoreError>;

    /// Deletes idempotency records created before `before_ms`; returns how many.
    async fn prune_idempotency(&self, before_ms: i64) -> Result<u64, StoreError>;
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}
