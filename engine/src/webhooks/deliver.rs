//! The outbox workers: fan events out to endpoints, then deliver what is due.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rialto_core::id::{MerchantId, WebhookAttemptId, WebhookDeliveryId};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{check_url, next_retry_delay_ms, sign, wants, Sealer};
use crate::clock::Clock;
use crate::objects::event_object_json;
use crate::store::{
    Attempt, AttemptOutcome, Delivery, DeliveryStatus, Store, StoreError, WebhookEndpoint,
};

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Deliveries taken per round.
    pub batch: u32,
    /// How long a worker holds a claimed delivery before another may take it over.
    pub lease: Duration,
    /// Per-request timeout; a receiver slower than this counts as failed.
    pub timeout: Duration,
    pub poll_every: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            batch: 50,
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            poll_every: Duration::from_secs(1),
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

/// Sends every delivery that is due, concurrently. Returns how many it attempted.
pub async fn deliver_due(
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    config: &DeliveryConfig,
) -> Result<usize, StoreError> {
    let now = clock.now_ms();
    let claimed = store
        .claim_deliveries(now, now + ms(config.lease), config.batch)
        .await?;
    let count = claimed.len();
    let mut tasks = JoinSet::new();
    for delivery in claimed {
        let (store, sealer, clock, client) =
            (store.clone(), sealer.clone(), clock.clone(), client.clone());
        tasks.spawn(async move {
            let outcome =
                attempt(store.as_ref(), &sealer, clock.as_ref(), &client, &delivery).await;
            match outcome {
                Ok(outcome) => store.record_attempt(&outcome).await,
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
    client: &reqwest::Client,
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
            let secret = sealer
                .open(&endpoint.secret_sealed)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            send(
                client,
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

async fn send(
    client: &reqwest::Client,
    url: &str,
    livemode: bool,
    id: &str,
    secret: &str,
    now_ms: i64,
    body: String,
) -> Result<u16, String> {
    // Checked again at send time: a name that resolved to a public address at registration
    // may point inside the network now.
    let url = check_url(url, livemode).await.map_err(|e| e.to_string())?;
    let timestamp = now_ms / 1000;
    let signature = sign(secret, id, timestamp, body.as_bytes()).map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timed out".to_owned()
            } else {
                "could not connect".to_owned()
            }
        })?;
    Ok(response.status().as_u16())
}

/// The HTTP client deliveries use: no redirects (a redirect could lead anywhere), bounded time.
pub fn http_client(config: &DeliveryConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .user_agent("Rialto-Webhooks/0.1")
        .build()
        .unwrap_or_default()
}

/// Dispatches and delivers until `shutdown` flips.
pub async fn run_webhook_worker(
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    config: DeliveryConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = http_client(&config);
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
