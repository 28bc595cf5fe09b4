//! Background jobs that run inside the gateway process. Each step is safe to run on several
//! instances at once: state changes go through compare-and-set, deletes are idempotent.

use std::sync::Arc;
use std::time::Duration;

use rialto_core::intent::PaymentEvent;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::objects::{intent_event, intent_json};
use crate::store::{CasOutcome, Store, StoreError};

/// Idempotency keys are honoured for at least this long.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;
const EXPIRY_BATCH: u32 = 500;

/// Moves intents whose funding window closed to `expired`. Returns how many it moved.
pub async fn expire_due_intents(store: &dyn Store, clock: &dyn Clock) -> Result<u64, StoreError> {
    let now = clock.now_ms();
    let mut expired = 0;
    for intent in store.intents_due_to_expire(now, EXPIRY_BATCH).await? {
        let Ok(next) = intent.transition(PaymentEvent::Expire, now) else {
            continue;
        };
        let event = intent_event(&next, "payment_intent.expired", &intent_json(&next), now);
        if store
            .update_intent(intent.status, &next, Some(&event), None)
            .await?
            == CasOutcome::Updated
        {
            expired += 1;
        }
    }
    Ok(expired)
}

pub async fn prune_idempotency_keys(
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<u64, StoreError> {
    store
        .prune_idempotency(clock.now_ms() - IDEMPOTENCY_TTL_MS)
        .await
}

/// Runs the maintenance jobs every `every` until `shutdown` flips.
pub async fn run_maintenance(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        match expire_due_intents(store.as_ref(), clock.as_ref()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired payment intents"),
            Err(err) => tracing::warn!(error = %err, "expiring intents failed; will retry"),
        }
        if let Err(err) = prune_idempotency_keys(store.as_ref(), clock.as_ref()).await {
            tracing::warn!(error = %err, "pruning idempotency keys failed; will retry");
        }
    }
}
