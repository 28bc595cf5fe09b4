//! The outbox workers: fan events out to endpoints, then deliver what is due.
//!
//! Deliveries go out through the engine's outbound-HTTP port ([`HttpClient`]), whose contract
//! (no redirects, one deadline per request) is what a delivery needs; only the receiver's
//! status is looked at, its body is never read.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rialto_core::id::{MerchantId, WebhookAttemptId, WebhookDeliveryId};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{check_target, next_retry_delay_ms, sign, wants, Sealer};
use crate::clock::Clock;
use crate::objects::event_object_json;
use crate::outbound::{HttpClient, HttpError, HttpRequest, ReadBody};
use crate::store::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, Store, StoreError, WebhookEndpoint,
};

/// Sent as `user-agent` with every delivery.
const USER_AGENT: &str = "Rialto-Webhooks/0.1";

/// How the deliverer works: batch size, lease, per-request deadline, polling.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Deliveries taken per round.
    pub batch: u32,
    /// How long a worker holds a claimed delivery before another may take it over.
    pub lease: Duration,
    /// Per-request timeout; a receiver slower than this counts as failed.
    pub timeout: Duration,
    /// How often the worker looks for events and due deliveries.
    pub poll_every: Duration,
    /// Loopback and private targets are delivered to (development only; the gateway's
    /// `webhooks.allow_private_targets`). The client must be built with the same setting.
    pub allow_private_targets: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            batch: 50,
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            poll_every: Duration::from_secs(1),
            allow_private_targets: false,
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Creates one delivery per matching enabled endpoint for each new event, a batch at a time:
/// one read of each merchant's endpoints and one transaction per batch, so a burst of events
/// for merchants without endpoints costs almost nothing. Returns how many events it handled.
pub async fn dispatch_events(store: &dyn Store, clock: &dyn Clock) -> Result<u64, StoreError> {
    let events = store.undispatched_events(500).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let now = clock.now_ms();
    let mut endpoints: HashMap<(MerchantId, bool), Vec<WebhookEndpoint>> = HashMap::new();
    let mut deliveries = Vec::new();
    for event in &events {
        let key = (event.merchant_id, event.livemode);
        let known = match endpoints.entry(key) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(store.list_webhook_endpoints(&key.0, key.1).await?),
        };
        let matching = known
            .iter()
            .filter(|e| e.enabled && wants(&e.enabled_events, &event.kind));
        deliveries.extend(matching.map(|endpoint| Delivery {
            id: WebhookDeliveryId::generate(),
            event_id: event.id,
            endpoint_id: endpoint.id,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at_ms: now,
            created_at_ms: now,
            updated_at_ms: now,
        }));
    }
    let ids: Vec<_> = events.iter().map(|e| e.id).collect();
    store.dispatch_events(&ids, &deliveries).await?;
    Ok(ids.len() as u64)
}

/// Sends every delivery that is due, concurrently, through `client` (each request bounded by
/// `config.timeout`). Returns how many it attempted.
pub async fn deliver_due(
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    client: Arc<dyn HttpClient>,
    config: &DeliveryConfig,
) -> Result<usize, StoreError> {
    let now = clock.now_ms();
    let claimed = store
        .claim_deliveries(now, now + ms(config.lease), config.batch)
        .await?;
    let count = claimed.len();
    crate::telemetry::webhook_deliveries_claimed(count);
    // The whole queue, not just this pass's batch: what grows when endpoints are down.
    crate::telemetry::webhook_queue_depth(store.pending_deliveries().await?);
    let (timeout, allow_private) = (config.timeout, config.allow_private_targets);
    let mut tasks = JoinSet::new();
    for delivery in claimed {
        let (store, sealer, clock, client) =
            (store.clone(), sealer.clone(), clock.clone(), client.clone());
        tasks.spawn(async move {
            let sender = Sender {
                client: client.as_ref(),
                timeout,
                allow_private,
            };
            let outcome = attempt(store.as_ref(), &sealer, clock.as_ref(), sender, &delivery).await;
            match outcome {
                Ok(outcome) => {
                    // `pending`: failed, a retry is scheduled; `failed`: given up.
                    metrics::counter!("rialto_webhook_attempts_total",
                        "result" => outcome.status.as_str())
                    .increment(1);
                    store.record_attempt(&outcome).await
                }
                Err(err) => Err(err),
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Err(err)) = joined {
            tracing::warn!(error = %err, "recording a webhook attempt failed; the lease will expire and it is retried");
        }
    }
    Ok(count)
}

/// One HTTP attempt. Never fails for reasons on the receiver's side: those become the
/// attempt's error and schedule a retry.
async fn attempt(
    store: &dyn Store,
    sealer: &Sealer,
    clock: &dyn Clock,
    sender: Sender<'_>,
    delivery: &Delivery,
) -> Result<AttemptOutcome, StoreError> {
    let started = Instant::now();
    let now = clock.now_ms();
    let event = store
        .get_event_by_id(&delivery.event_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt("delivery without its event".into()))?;
    let endpoint = store.get_endpoint_by_id(&delivery.endpoint_id).await?;
    let result = match endpoint {
        None => Err("endpoint deleted".to_owned()),
        Some(e) if !e.enabled => Err("endpoint disabled".to_owned()),
        Some(endpoint) => {
            let body = event_object_json(&event);
            let row = Sealer::row("webhook_endpoints", &endpoint.id.to_string());
            let secret = sealer
                .open_for(&row, &endpoint.secret_sealed)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sender
                .send(
                    &endpoint.url,
                    endpoint.livemode,
                    &event.id.to_string(),
                    &secret,
                    now,
                    body,
                )
                .await
        }
    };
    let failures = delivery.attempts + 1;
    let (status_code, error, status, next) = match result {
        Ok(code) if (200..300).contains(&code) => {
            (Some(code), None, DeliveryStatus::Succeeded, now)
        }
        Ok(code) => retry_or_fail(
            Some(code),
            format!("receiver answered {code}"),
            failures,
            now,
        ),
        Err(message) => retry_or_fail(None, message, failures, now),
    };
    Ok(AttemptOutcome {
        attempt: Attempt {
            id: WebhookAttemptId::generate(),
            delivery_id: delivery.id,
            attempted_at_ms: now,
            status_code,
            error,
            duration_ms: ms(started.elapsed()),
        },
        status,
        next_attempt_at_ms: next,
    })
}

fn retry_or_fail(
    code: Option<u16>,
    message: String,
    failures: i64,
    now: i64,
) -> (Option<u16>, Option<String>, DeliveryStatus, i64) {
    match next_retry_delay_ms(failures) {
        Some(delay) => (code, Some(message), DeliveryStatus::Pending, now + delay),
        None => (code, Some(message), DeliveryStatus::Failed, now),
    }
}

/// The port deliveries go through, and the deadline of each request.
#[derive(Debug, Clone, Copy)]
struct Sender<'a> {
    client: &'a dyn HttpClient,
    timeout: Duration,
    allow_private: bool,
}

impl Sender<'_> {
    /// Signs and posts one event; answers the receiver's status, or a short reason.
    async fn send(
        self,
        url: &str,
        livemode: bool,
        id: &str,
        secret: &str,
        now_ms: i64,
        body: String,
    ) -> Result<u16, String> {
        // Checked again at send time, without a lookup of our own: the client resolves the name
        // once, refuses any non-public answer, and connects to exactly what it checked (a name
        // that was public at registration may point inside the network now).
        let url = check_target(url, livemode, self.allow_private).map_err(|e| e.to_string())?;
        let timestamp = now_ms / 1000;
        let signature = sign(secret, id, timestamp, body.as_bytes()).map_err(|e| e.to_string())?;
        let request = HttpRequest::post(url, body.into_bytes(), self.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header("user-agent", USER_AGENT)
            // Only the status counts; a receiver's body is never read.
            .read_body(ReadBody::Never);
        let response = self.client.post(request).await.map_err(|e| match e {
            HttpError::Timeout => "timed out".to_owned(),
            // Said plainly so the merchant sees why in the endpoint's attempts.
            HttpError::Certificate => "TLS certificate refused".to_owned(),
            HttpError::Connect
            | HttpError::TooLarge { .. }
            | HttpError::BodyCutOff
            | HttpError::Other(_) => "could not connect".to_owned(),
        })?;
        Ok(response.status)
    }
}

/// Dispatches and delivers (through `client`) until `shutdown` flips.
pub async fn run_webhook_worker(
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    client: Arc<dyn HttpClient>,
    config: DeliveryConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(config.poll_every);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(err) = dispatch_events(store.as_ref(), clock.as_ref()).await {
            tracing::warn!(error = %err, "dispatching events failed; will retry");
        }
        let delivered = deliver_due(
            store.clone(),
            sealer.clone(),
            clock.clone(),
            client.clone(),
            &config,
        )
        .await;
        if let Err(err) = delivered {
            tracing::warn!(error = %err, "delivering webhooks failed; will retry");
        }
    }
}
