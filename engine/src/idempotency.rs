//! Idempotent writes, as the engine sees them. The HTTP layer turns an `Idempotency-Key`
//! header into an [`IdempotencyKey`] (and keeps it in flight); a flow that writes commits the
//! key's [`IdempotencyRecord`] (the response to replay) in the same transaction as its change,
//! so a crash can never leave one without the other. When another request committed the same
//! key first, the store answers `IdempotencyKeyTaken` and the flow returns
//! [`WriteError::KeyTaken`]: the HTTP layer then replays the winner's response.

use crate::error::EngineError;
use crate::store::{IdempotencyRecord, StoreError};

/// A request's idempotency key, within its caller's scope, with the fingerprint of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
}

impl IdempotencyKey {
    /// The record to commit with the change: the response (`status`, `body`) to replay.
    pub fn record(&self, status: u16, body: &str, now_ms: i64) -> IdempotencyRecord {
        IdempotencyRecord {
            scope: self.scope.clone(),
            key: self.key.clone(),
            request_hash: self.request_hash.clone(),
            response_status: status,
            response_body: body.to_owned(),
            created_at_ms: now_ms,
        }
    }
}

/// The record of a `200 OK` answer, when the request has a key.
pub fn record_for(
    key: Option<&IdempotencyKey>,
    body: &str,
    now_ms: i64,
) -> Option<IdempotencyRecord> {
    key.map(|k| k.record(200, body, now_ms))
}

/// A write's failure: an engine error, or its idempotency key was committed by someone else.
#[derive(Debug)]
pub enum WriteError {
    Engine(EngineError),
    KeyTaken,
}

impl From<EngineError> for WriteError {
    fn from(err: EngineError) -> Self {
        WriteError::Engine(err)
    }
}

impl From<StoreError> for WriteError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::IdempotencyKeyTaken => WriteError::KeyTaken,
            other => WriteError::Engine(other.into()),
        }
    }
}
