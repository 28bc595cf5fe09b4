//! Gasless payments relayed in batches (issue 21, point 7; docs/evm.md, "Batched relays").
//!
//! On a chain with a `BatchRelayer` configured ([`BatchRelays`]), an accepted and screened
//! EIP-3009 authorization is not sent on its own: [`enqueue_and_wait`] stores it in the relay
//! queue (`store::relay_queue`, at most once per intent) and waits for its outcome. The worker
//! ([`run_batch_relay_worker`]) drains the queue per chain:
//! 1. queued authorizations of one token are bound to a batch id (at most `max_batch`, or
//!    fewer once the oldest waited `max_wait_ms`) BEFORE anything is recorded;
//! 2. the batch is one rail leg (`eip3009_batch`, reference = batch id) to the relayer, sent
//!    from the next nonce lane: recorded signed before it is sent, re-broadcast after a crash,
//!    replaced at its nonce when stuck (the stuck-transaction ladder). A batch bound but not
//!    recorded (a crash in between) is recorded with the same items on the next pass;
//! 3. once the leg is confirmed, each item is decided from the mined transaction's receipt
//!    (`rialto_evm::batch_relay::outcomes`: the relayer's `ItemRelayed` AND the token's
//!    `AuthorizationUsed`): a relayed item's payment transaction (source
//!    `batch_authorization`, pointing at the batch transaction) is bound to its intent, which
//!    the chain watcher then confirms, screens and settles like any payment; a skipped item
//!    fails that intent's relay alone (the intent stays awaiting funds; the payer is told the
//!    token's reason).
//!
//! EIP-3009 nonces are single-use on the token itself, so even a batch sent twice could not
//! move money twice; the queue makes sure it is never built twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rialto_connectors::rail::SigningKey;
use rialto_core::address::Address;
use rialto_core::id::{LegId, PaymentIntentId};
use rialto_core::intent::PaymentIntent;
use rialto_core::money::Money;
use rialto_engine::chain::rail::{FeeLimits, FlowError, LegAction, LegRequest, StoreJournal};
use rialto_engine::chain::{Chain, EIP3009_BATCH};
use rialto_engine::services::Engine;
use rialto_engine::store::relay_queue::{RelayItem, RelayItemStatus};
use rialto_engine::store::StoreError;
use rialto_evm::batch_relay::{self, BatchItem, NonceLanes, GAS_PER_ITEM};
use tokio::sync::{watch, Notify};

mod block_gas;
mod decide;

pub use block_gas::BlockGas;

/// One chain's batch relaying: the relayer contract, the nonce lanes and the batch limits.
#[derive(Debug)]
pub struct BatchLanes {
    pub relayer: Address,
    pub lanes: NonceLanes<SigningKey>,
    pub max_batch: usize,
    pub max_wait_ms: i64,
    pub answer_within: Duration,
    /// Where the receipts of mined batches are read.
    pub rpc_url: String,
    /// The chain's block gas limit, which caps a batch below `max_batch` if need be.
    pub block_gas: BlockGas,
}

/// The chains that relay in batches, by mode and CAIP-2, and the two signals between the
/// payers' requests and the worker.
#[derive(Debug, Default)]
pub struct BatchRelays {
    by_chain: BTreeMap<(bool, String), Arc<BatchLanes>>,
    /// Something was queued: the worker looks now rather than at its next poll.
    wake: Notify,
    /// The requests waiting for their items, by intent: the worker hands each its own item's
    /// outcome when it decides it (after the decision is committed), so a waiting request
    /// reads nothing more (a hundred items decided at once used to wake all thousand waiters,
    /// then each read its row). A decision by another instance is read at the waiter's poll.
    waiters: std::sync::Mutex<HashMap<PaymentIntentId, Arc<Waiter>>>,
}

/// What the requests waiting for one intent's item share: the worker's signal and the outcome
/// it decided, by the authorization's nonce (a skipped authorization's intent may queue
/// another while a request for the first still waits).
#[derive(Debug, Default)]
struct Waiter {
    signal: Notify,
    outcome: std::sync::Mutex<Option<(String, QueuedOutcome)>>,
}

impl Waiter {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(String, QueuedOutcome)>> {
        self.outcome.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn outcome(&self, nonce: &str) -> Option<QueuedOutcome> {
        let decided = self.slot();
        decided
            .as_ref()
            .filter(|(of, _)| of == nonce)
            .map(|(_, outcome)| outcome.clone())
    }
}

/// An item's outcome as its worker decided it: the intent, the authorization's nonce, what
/// became of it.
pub(crate) type Decided = (PaymentIntentId, String, QueuedOutcome);

impl BatchRelays {
    pub fn insert(&mut self, livemode: bool, caip2: &str, lanes: BatchLanes) {
        self.by_chain
            .insert((livemode, caip2.to_owned()), Arc::new(lanes));
    }

    pub fn get(&self, livemode: bool, caip2: &str) -> Option<&Arc<BatchLanes>> {
        self.by_chain.get(&(livemode, caip2.to_owned()))
    }

    pub fn is_empty(&self) -> bool {
        self.by_chain.is_empty()
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<PaymentIntentId, Arc<Waiter>>> {
        // A panic while holding this lock left the map whole (inserts and removes only).
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The waiter for `intent`'s item, shared by every request waiting for it.
    fn waiter(&self, intent: &PaymentIntentId) -> Arc<Waiter> {
        self.waiters().entry(*intent).or_default().clone()
    }

    /// Drops `intent`'s waiter once no other request waits for it.
    fn forget(&self, intent: &PaymentIntentId, waiter: Arc<Waiter>) {
        let mut waiters = self.waiters();
        // Ours and the map's: nobody else holds it.
        if Arc::strong_count(&waiter) <= 2 {
            waiters.remove(intent);
        }
    }

    /// Hands the requests waiting for these items their outcomes (committed).
    fn wake_decided(&self, decided: Vec<Decided>) {
        let waiters = self.waiters();
        for (intent, nonce, outcome) in decided {
            if let Some(waiter) = waiters.get(&intent) {
                *waiter.slot() = Some((nonce, outcome));
                waiter.signal.notify_waiters();
            }
        }
    }
}

/// What became of a queued authorization by the time [`enqueue_and_wait`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuedOutcome {
    /// Mined in a batch and spent by the token: the intent's payment transaction is bound.
    Relayed { tx_hash: String },
    /// Still queued or in flight when the wait ended; `tx_hash` once its batch is recorded.
    InFlight { tx_hash: Option<String> },
    /// The token refused it in its batch; nothing moved.
    Skipped { reason: String },
    /// Its whole batch transaction failed; nothing moved.
    Failed { reason: String },
    /// The intent's row holds another authorization that is queued, in flight or relayed.
    AnotherQueued,
}

fn outcome_of(item: &RelayItem) -> Option<QueuedOutcome> {
    let reason = || item.reason.clone().unwrap_or_default();
    match item.status {
        RelayItemStatus::Queued | RelayItemStatus::Batched => None,
        RelayItemStatus::Relayed => Some(QueuedOutcome::Relayed {
            tx_hash: item.tx_hash.clone().unwrap_or_default(),
        }),
        RelayItemStatus::Skipped => Some(QueuedOutcome::Skipped { reason: reason() }),
        RelayItemStatus::Failed => Some(QueuedOutcome::Failed { reason: reason() }),
    }
}

/// Queues checked `transferWithAuthorization` calldata for `intent` (at most once per intent:
/// the same authorization again waits for the first; another one is `AnotherQueued` unless
/// the first ended without paying) and waits up to `answer_within` for its batch's outcome.
pub async fn enqueue_and_wait(
    state: &Engine,
    relays: &BatchRelays,
    lanes: &BatchLanes,
    intent: &PaymentIntent,
    calldata: &[u8],
) -> Result<QueuedOutcome, FlowError> {
    let item = batch_relay::item_from_calldata(calldata).map_err(|e| {
        FlowError::Chain(rialto_connectors::chain::ChainError::Invalid(e.to_string()))
    })?;
    let now = state.clock.now_ms();
    let row = RelayItem {
        payment_intent_id: intent.id,
        chain_id: intent.settlement.asset.id.chain().to_string(),
        livemode: intent.livemode,
        token: intent
            .settlement
            .asset
            .contract
            .to_string()
            .to_ascii_lowercase(),
        payer: item.auth.from.to_string().to_ascii_lowercase(),
        nonce: format!("{:#x}", item.auth.nonce),
        amount_units: item.auth.value.to_string(),
        calldata: format!("0x{}", alloy::hex::encode(calldata)),
        status: RelayItemStatus::Queued,
        batch_id: None,
        batch_index: None,
        tx_hash: None,
        reason: None,
        created_at_ms: now,
        updated_at_ms: now,
    };
    let Some(stored) = state.store.enqueue_relay(&row).await? else {
        return Ok(QueuedOutcome::AnotherQueued);
    };
    if stored.payer != row.payer || stored.nonce != row.nonce {
        return Ok(QueuedOutcome::AnotherQueued);
    }
    if let Some(done) = outcome_of(&stored) {
        return Ok(done); // the same authorization again, already decided
    }
    let waiter = relays.waiter(&intent.id);
    // Whatever outcome the waiter holds was decided before this item was (re)queued: a failed
    // item of this same authorization, queued again, is a new item. A request still waiting
    // for the earlier one reads its row at its next poll instead.
    *waiter.slot() = None;
    relays.wake.notify_one();
    let answer = wait_for_item(state, &waiter, lanes, intent, &row.nonce).await;
    relays.forget(&intent.id, waiter);
    answer
}

/// Waits for `intent`'s item (the authorization with EIP-3009 nonce `nonce`) until it is
/// decided or `answer_within` has passed: handed its outcome by this instance's worker, or
/// reading its row every 500 ms (another instance may have decided it) and at the end.
async fn wait_for_item(
    state: &Engine,
    waiter: &Waiter,
    lanes: &BatchLanes,
    intent: &PaymentIntent,
    nonce: &str,
) -> Result<QueuedOutcome, FlowError> {
    let deadline = tokio::time::Instant::now() + lanes.answer_within;
    // Just stored as queued: nothing to read before the first poll.
    let mut poll = false;
    loop {
        // Registered before the outcome is looked at, so a decision in between is not missed.
        let decided = waiter.signal.notified();
        tokio::pin!(decided);
        decided.as_mut().enable();
        if let Some(done) = waiter.outcome(nonce) {
            return Ok(done);
        }
        let past = tokio::time::Instant::now() >= deadline;
        if poll || past {
            let Some(current) = state.store.get_relay_item(&intent.id).await? else {
                return Ok(QueuedOutcome::InFlight { tx_hash: None });
            };
            if let Some(done) = outcome_of(&current) {
                return Ok(done);
            }
            if past {
                return Ok(QueuedOutcome::InFlight {
                    tx_hash: current.tx_hash,
                });
            }
        }
        poll = tokio::select! {
            _ = decided => false,
            _ = tokio::time::sleep_until(deadline) => false,
            _ = tokio::time::sleep(Duration::from_millis(500)) => true,
        };
    }
}

/// Drains the relay queues of every batch-relaying chain until `shutdown` flips: it wakes when
/// something is queued, and otherwise every `poll_ms` to decide batches in flight; after a
/// pass that moved something it goes again at once.
pub async fn run_batch_relay_worker(
    state: Engine,
    relays: Arc<BatchRelays>,
    mut shutdown: watch::Receiver<bool>,
) {
    if relays.is_empty() {
        return;
    }
    let poll = Duration::from_millis(state.chains.poll_ms.clamp(10, 100));
    loop {
        let mut moved = false;
        for ((livemode, caip2), lanes) in &relays.by_chain {
            let Some(chain) = state.chains.get(*livemode, caip2) else {
                continue;
            };
            match pass(&state, chain, lanes).await {
                Ok(passed) => {
                    moved |= passed.changed > 0;
                    if !passed.decided.is_empty() {
                        // Relayed payments to confirm and settle: the chain worker goes now.
                        state.chains.wake(*livemode, caip2);
                    }
                    relays.wake_decided(passed.decided);
                }
                Err(err) => {
                    rialto_engine::telemetry::worker_failed("batch_relay");
                    tracing::warn!(chain = %caip2, error = %err, "batch relay pass failed; will retry");
                }
            }
        }
        if moved && !*shutdown.borrow() {
            continue;
        }
        tokio::select! {
            _ = relays.wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// What one pass over a chain did.
#[derive(Debug, Default)]
struct Passed {
    /// Items decided and batches sent.
    changed: usize,
    /// The items decided, with their outcomes.
    decided: Vec<Decided>,
}

/// One pass over one chain: finish the batches already bound (record the ones a crash left
/// unrecorded, decide the mined ones), then bind and send at most one new one per nonce lane,
/// so that while payments keep arriving each mined batch is decided (and its payments move
/// on) before the next ones are sent, rather than all of them once the queue runs dry.
async fn pass(state: &Engine, chain: &Chain, lanes: &BatchLanes) -> Result<Passed, FlowError> {
    let mut changed = 0;
    let mut decided = Vec::new();
    for batch_id in state.store.open_relay_batches(&chain.caip2).await? {
        let driven = drive_batch(state, chain, lanes, &batch_id).await?;
        changed += usize::from(driven.sent) + driven.decided.len();
        decided.extend(driven.decided);
    }
    // Up to one new batch per nonce lane: the lanes' transactions are mined side by side.
    for _ in 0..lanes.lanes.len() {
        let sent = form_batches(state, chain, lanes).await?;
        if sent == 0 {
            break;
        }
        changed += sent;
    }
    if changed > 0 {
        // Legs just sent or mined: advance them now rather than at the chain worker's next
        // poll (idempotent per leg, as when two gateways run it).
        let journal = StoreJournal(state.store.as_ref());
        chain.rail(&journal).drive(state.clock.now_ms()).await?;
    }
    Ok(Passed { changed, decided })
}

/// What driving one bound batch did.
#[derive(Debug, Default)]
struct Driven {
    /// Its leg was recorded and sent.
    sent: bool,
    /// The items decided, with their outcomes.
    decided: Vec<Decided>,
}

/// Binds queued authorizations into one batch and sends it, when a full batch is waiting or
/// the oldest waited `max_wait_ms` (the worker's next pass takes the next one).
async fn form_batches(
    state: &Engine,
    chain: &Chain,
    lanes: &BatchLanes,
) -> Result<usize, FlowError> {
    let limit = u32::try_from(lanes.max_batch.max(1)).unwrap_or(u32::MAX);
    let queued = state.store.queued_relays(&chain.caip2, limit).await?;
    let Some(first) = queued.first() else {
        return Ok(0);
    };
    let now = state.clock.now_ms();
    // No more than the chain's block holds (read only when something is queued).
    let max_batch = lanes
        .block_gas
        .cap(&lanes.rpc_url, lanes.max_batch.max(1), now)
        .await?;
    // One batch carries one token: `relay(token, …)`.
    let ids: Vec<_> = queued
        .iter()
        .filter(|i| i.token == first.token)
        .map(|i| i.payment_intent_id)
        .take(max_batch)
        .collect();
    if ids.len() < max_batch && now - first.created_at_ms < lanes.max_wait_ms {
        return Ok(0);
    }
    let batch_id = format!("rb_{}", &LegId::generate().to_string()["leg_".len()..]);
    let items = state.store.assign_relay_batch(&batch_id, &ids, now).await?;
    if items.is_empty() {
        return Ok(0); // another instance bound them first
    }
    send_batch(state, chain, lanes, &batch_id, &items).await?;
    Ok(1)
}

/// A bound batch: record and send it if no leg is recorded for it yet; decide its items once
/// its leg is confirmed or failed.
async fn drive_batch(
    state: &Engine,
    chain: &Chain,
    lanes: &BatchLanes,
    batch_id: &str,
) -> Result<Driven, FlowError> {
    let items = state.store.relay_batch(batch_id).await?;
    match state
        .store
        .get_chain_transfer(EIP3009_BATCH, batch_id)
        .await?
    {
        None => {
            // Bound before a crash, never recorded: the same items, the same batch id.
            send_batch(state, chain, lanes, batch_id, &items).await?;
            Ok(Driven {
                sent: true,
                ..Driven::default()
            })
        }
        Some(leg) => Ok(Driven {
            sent: false,
            decided: decide::decide_batch(state, chain, lanes, &items, &leg).await?,
        }),
    }
}

/// The batch items of queued rows, in order.
fn batch_items(items: &[RelayItem]) -> Result<Vec<BatchItem>, FlowError> {
    items
        .iter()
        .map(|i| {
            let data = alloy::hex::decode(i.calldata.trim_start_matches("0x"))
                .map_err(|e| invalid(e.to_string()))?;
            batch_relay::item_from_calldata(&data).map_err(|e| invalid(e.to_string()))
        })
        .collect()
}

fn invalid(what: String) -> FlowError {
    FlowError::Chain(rialto_connectors::chain::ChainError::Invalid(what))
}

/// Records (signed) and sends the batch of `items` as one leg from the next lane, and notes
/// its transaction on the items. Idempotent per batch id: a recorded batch is sent again as
/// it is, never rebuilt.
async fn send_batch(
    state: &Engine,
    chain: &Chain,
    lanes: &BatchLanes,
    batch_id: &str,
    items: &[RelayItem],
) -> Result<(), FlowError> {
    let Some(first) = items.first() else {
        return Ok(());
    };
    let token = Address::parse(&first.token, rialto_core::ChainNamespace::Eip155)
        .map_err(|e| invalid(e.to_string()))?;
    let data = batch_relay::calldata(&token, GAS_PER_ITEM, &batch_items(items)?)
        .map_err(|e| invalid(e.to_string()))?;
    let total: u128 = items
        .iter()
        .filter_map(|i| i.amount_units.parse::<u128>().ok())
        .sum();
    let request = LegRequest {
        purpose: EIP3009_BATCH,
        reference: batch_id.to_owned(),
        payment_intent_id: None,
        from: lanes.lanes.next().clone(),
        action: LegAction::Call {
            to: lanes.relayer,
            value: 0,
            data: data.to_vec(),
            moves: Some((token, total)),
        },
        // Not pinned: the items are decided from whichever transaction of the leg was mined,
        // so the stuck-transaction ladder may replace it at its nonce. The gas limit is
        // computed, not estimated: the relayer skips a refused item rather than revert.
        fees: FeeLimits {
            fixed_units: Some(batch_relay::gas_limit(
                GAS_PER_ITEM,
                items.len(),
                data.len(),
            )),
            ..FeeLimits::default()
        },
    };
    let journal = StoreJournal(state.store.as_ref());
    let now = state.clock.now_ms();
    let sent = chain.rail(&journal).send(&request, now).await;
    // Stored means it will be sent (the chain worker re-broadcasts it) even if this call
    // failed after storing.
    if let Some(leg) = state
        .store
        .get_chain_transfer(EIP3009_BATCH, batch_id)
        .await?
    {
        state
            .store
            .set_relay_batch_tx(batch_id, &leg.tx_hash, now)
            .await?;
        tracing::info!(batch = batch_id, items = items.len(), tx = %leg.tx_hash, "batch relay recorded");
        return Ok(());
    }
    sent.map(|_| ()).map_err(FlowError::from)
}

/// The whole units of `units` base units of the intent's settlement asset.
pub(crate) fn amount_text(intent: &PaymentIntent, units: u128) -> Result<String, StoreError> {
    Money::from_base_units(units, intent.settlement.asset.currency())
        .map(|m| m.to_amount_string())
        .map_err(|e| StoreError::Corrupt(format!("relay amount: {e}")))
}
