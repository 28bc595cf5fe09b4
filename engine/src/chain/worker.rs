//! The chain worker: every poll, per chain, drive the gateway's own legs, scan for deposits,
//! follow payment transactions to their confirmations and settle what is funded. Every step
//! is compare-and-set or idempotent by leg, so several gateway instances may run it at once.

use std::time::Duration;

use futures::FutureExt;
use tokio::sync::watch;

use super::rail::{FlowError, StoreJournal};
use super::{settle, watcher, Chain};
use crate::chain::relay::claim_relay;
use crate::chain::EIP3009_RELAY;
use crate::services::Engine;

/// One pass over one chain. Returns how many things changed.
pub async fn tick(state: &Engine, chain: &Chain) -> Result<usize, FlowError> {
    let now = state.clock.now_ms();
    let journal = StoreJournal(state.store.as_ref());
    let rail = chain.rail(&journal);
    let mut phases = Phases::start();
    let mut changed = rail.drive(now).await?;
    bind_stored_relays(state, chain).await;
    phases.mark("legs");
    // A busy chain: keep scanning while whole chunks come back, so the cursor catches up.
    loop {
        let report = watcher::scan_deposits(state, chain, now).await?;
        changed += report.claimed;
        if report.blocks < watcher::SCAN_CHUNK {
            break;
        }
    }
    changed += super::reference::scan_references(state, chain, now).await?;
    phases.mark("scan");
    changed += watcher::track_payments(state, chain, now).await?;
    phases.mark("track");
    changed += settle::settle_funded(state, chain, now).await?;
    phases.mark("settle");
    changed += super::misdirected::drive(state, chain, now).await?;
    // Legs the settlement just sent are driven in the same pass.
    changed += rail.drive(now).await?;
    phases.mark("drive");
    phases.log(&chain.caip2, changed);
    Ok(changed)
}

/// How long a pass's phases took, logged at debug level for a pass of 50 ms or more (where a
/// busy chain's time goes: `[log] level = "info,rialto_engine::chain::worker=debug"`).
struct Phases {
    started: std::time::Instant,
    last: std::time::Instant,
    took: Vec<(&'static str, u128)>,
}

impl Phases {
    fn start() -> Self {
        let now = std::time::Instant::now();
        Self {
            started: now,
            last: now,
            took: Vec::new(),
        }
    }

    fn mark(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.took
            .push((phase, now.duration_since(self.last).as_millis()));
        self.last = now;
    }

    fn log(&self, chain: &str, changed: usize) {
        let total = self.started.elapsed().as_millis();
        if total >= 50 {
            let phases: Vec<String> = self
                .took
                .iter()
                .map(|(p, ms)| format!("{p}={ms}"))
                .collect();
            tracing::debug!(%chain, changed, total_ms = total, phases = %phases.join(" "), "chain worker pass");
        }
    }
}

/// A relay stored just before a crash is sent by `drive` regardless; make sure its transaction
/// is bound to its intent (idempotent), so the money is always attributed.
async fn bind_stored_relays(state: &Engine, chain: &Chain) {
    let Ok(legs) = state.store.open_chain_transfers(&chain.caip2, 200).await else {
        return;
    };
    crate::telemetry::chain_open_legs(&chain.caip2, &legs);
    for leg in legs.iter().filter(|l| l.draft.purpose == EIP3009_RELAY) {
        let Some(id) = leg.draft.payment_intent_id else {
            continue;
        };
        if let Ok(Some(intent)) = state.store.get_intent_unscoped(&id).await {
            if chain.serves(&intent) {
                if let Err(e) = claim_relay(state, &intent, chain, leg).await {
                    tracing::warn!(leg = %leg.draft.leg_id, error = ?e, "binding a relay failed; will retry");
                }
            }
        }
    }
}

/// Refunds and payouts: schedule what is due, send what is recorded, settle what finished.
/// Their legs are driven by the chains' [`tick`]s.
pub async fn money_pass(state: &Engine) {
    let now = state.clock.now_ms();
    // Delayed settings changes first: a payout scheduled now goes where the settings say now.
    if let Err(err) = crate::settings_changes::apply_due(state, now).await {
        crate::telemetry::worker_failed("settings_changes");
        tracing::warn!(error = %err.message, "delayed settings changes not applied; will retry");
    }
    if let Err(err) = crate::payouts::schedule(state, now).await {
        crate::telemetry::worker_failed("payouts");
        tracing::warn!(error = %err.message, "payout schedule failed; will retry");
    }
    if let Err(err) = crate::payouts::drive(state, now).await {
        crate::telemetry::worker_failed("payouts");
        tracing::warn!(error = %err, "payouts not advanced; will retry");
    }
    if let Err(err) = crate::refunds::drive(state, now).await {
        crate::telemetry::worker_failed("refunds");
        tracing::warn!(error = %err, "refunds not advanced; will retry");
    }
}

/// Runs [`tick`] for every chain every `poll_ms`, and the exchange withdrawals and
/// [`money_pass`] beside them, until `shutdown` flips; returns once every chain's loop has
/// ended.
///
/// Each chain has its own loop: a slow pass on one chain (a long deposit scan on a busy
/// chain, a node that answers slowly) never holds up another chain's payments, nor the money
/// pass. Every step is compare-and-set or idempotent by leg, as for several instances.
pub async fn run_chain_worker(state: Engine, mut shutdown: watch::Receiver<bool>) {
    if state.chains.is_empty() && state.venues.is_empty() {
        return;
    }
    tokio::spawn(crate::routing::execute::run_routing_worker(
        state.clone(),
        shutdown.clone(),
    ));
    let mut chains = tokio::task::JoinSet::new();
    for chain in state.chains.iter() {
        chains.spawn(run_chain(state.clone(), chain.clone(), shutdown.clone()));
    }
    let mut ticker = poll_ticker(&state);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => break,
        }
        if let Err(err) = crate::exchange::worker::poll_exchange_withdrawals(&state).await {
            crate::telemetry::worker_failed("exchange_withdrawals");
            tracing::warn!(error = %err, "following exchange withdrawals failed; will retry");
        }
        money_pass(&state).await;
    }
    while chains.join_next().await.is_some() {}
}

/// Every `poll_ms`; a pass longer than that delays the next tick rather than bunching them.
fn poll_ticker(state: &Engine) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(Duration::from_millis(state.chains.poll_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// One chain's loop: [`tick`] every `poll_ms`, or when woken ([`super::Chains::wake`]), until
/// `shutdown` flips. A pass that panics is logged and the loop goes on (it used to end the
/// whole worker).
async fn run_chain(state: Engine, chain: Chain, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = poll_ticker(&state);
    let wake = state.chains.waker(chain.livemode, &chain.caip2);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        let pass = std::panic::AssertUnwindSafe(tick(&state, &chain))
            .catch_unwind()
            .await;
        match pass {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::debug!(chain = %chain.caip2, changed = n, "chain worker pass"),
            Ok(Err(err)) => {
                crate::telemetry::worker_failed("chain");
                tracing::warn!(chain = %chain.caip2, error = %err, "chain worker pass failed; will retry")
            }
            Err(_) => {
                crate::telemetry::worker_failed("chain");
                tracing::error!(chain = %chain.caip2, "chain worker pass panicked; will retry");
            }
        }
    }
}
