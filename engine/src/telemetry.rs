//! The workers' Prometheus series, named in one place (`docs/METRICS.md` lists them with their
//! labels). Recorded through the `metrics` facade: the gateway installs the exporter behind
//! `/metrics`; without it every call here is a no-op. Gauges are set from what a worker pass
//! just read, so they show the state as of the last pass of any gateway instance.

use rialto_connectors::exchange::ExchangeError;
use rialto_connectors::rail::{ChainTransfer, LegStatus};

use crate::store::quote::{ExecutionStatus, RouteExecution};
use crate::store::reconcile::{ExceptionRecord, ReconciliationRun};

/// Blocks between the chain's head and the last block the deposit watcher has scanned.
pub fn chain_head_lag(chain: &str, lag_blocks: u64) {
    metrics::gauge!("rialto_chain_head_lag_blocks", "chain" => chain.to_owned())
        .set(lag_blocks as f64);
}

/// Misdirected deposits detected (another token, the native coin, another chain, after the
/// sweep), by chain and kind.
pub fn misdirected_detected(chain: &str, kind: &'static str) {
    metrics::counter!("rialto_misdirected_deposits_total", "chain" => chain.to_owned(), "kind" => kind)
        .increment(1);
}

/// Payment transactions seen on the chain and waiting for their confirmations.
pub fn chain_confirmations_pending(chain: &str, pending: usize) {
    metrics::gauge!("rialto_chain_confirmations_pending", "chain" => chain.to_owned())
        .set(pending as f64);
}

/// The gateway's own open chain legs (sweeps, relays, settlements, payouts) by state.
pub fn chain_open_legs(chain: &str, open: &[ChainTransfer]) {
    for status in [LegStatus::Pending, LegStatus::Submitted] {
        let count = open.iter().filter(|l| l.status == status).count();
        metrics::gauge!("rialto_chain_legs", "chain" => chain.to_owned(),
            "state" => status.as_str())
        .set(count as f64);
    }
}

/// Route executions the routing worker found due, by state.
pub fn route_executions_due(due: &[RouteExecution]) {
    for status in [
        ExecutionStatus::Starting,
        ExecutionStatus::AwaitingFunds,
        ExecutionStatus::Running,
        ExecutionStatus::AwaitingReconciliation,
        ExecutionStatus::Held,
    ] {
        let count = due.iter().filter(|e| e.status == status).count();
        metrics::gauge!("rialto_route_executions_due", "state" => status.as_str())
            .set(count as f64);
    }
}

/// Webhook deliveries claimed by the last delivery pass (the due part of the queue, capped at
/// the batch size).
pub fn webhook_deliveries_claimed(claimed: usize) {
    metrics::gauge!("rialto_webhook_deliveries_claimed").set(claimed as f64);
}

/// The whole webhook queue: deliveries waiting to be sent, due now or at a later retry.
pub fn webhook_queue_depth(pending: u64) {
    metrics::gauge!("rialto_webhook_queue_depth").set(pending as f64);
}

/// A route execution whose stored step just made it final: counted once, by the state it
/// ended in and its failure code (`none` when it succeeded). Steps are compare-and-set on
/// executions the worker found not yet final, so one execution ends once.
pub fn route_execution_saved(exec: &RouteExecution) {
    let ended = match exec.status {
        ExecutionStatus::Succeeded
        | ExecutionStatus::Failed
        | ExecutionStatus::ReturnFailed
        | ExecutionStatus::Frozen => true,
        ExecutionStatus::Starting
        | ExecutionStatus::AwaitingFunds
        | ExecutionStatus::Running
        | ExecutionStatus::AwaitingReconciliation
        | ExecutionStatus::Held => false,
    };
    if ended {
        let reason = exec.failure_code.clone().unwrap_or_else(|| "none".into());
        metrics::counter!("rialto_route_executions_ended_total",
            "state" => exec.status.as_str(), "reason" => reason)
        .increment(1);
    }
}

/// A reconciliation run: counted by status, its exceptions by kind, and the last run's
/// exception count as a gauge (what an alert watches).
pub fn reconciliation_run(run: &ReconciliationRun, exceptions: &[ExceptionRecord]) {
    metrics::counter!("rialto_reconciliation_runs_total", "status" => run.status.clone())
        .increment(1);
    let mut kinds: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for x in exceptions {
        *kinds.entry(x.kind.as_str()).or_default() += 1;
    }
    for (kind, count) in kinds {
        metrics::counter!("rialto_reconciliation_exceptions_total", "kind" => kind.to_owned())
            .increment(count);
    }
    metrics::gauge!("rialto_reconciliation_last_run_exceptions").set(exceptions.len() as f64);
}

/// A venue request that failed, by venue and kind of failure, wherever the engine handles it
/// (route legs, exchange-account payments and links).
pub fn venue_error(err: &ExchangeError) {
    use ExchangeError as E;
    let kind = match err {
        E::RateLimited { .. } => "rate_limited",
        E::Unavailable { .. } => "unavailable",
        E::Unknown { .. } => "unknown_outcome",
        E::InsufficientFunds { .. } => "insufficient_funds",
        E::BelowMinimum { .. } => "below_minimum",
        E::AddressNotWhitelisted { .. } => "address_not_whitelisted",
        E::InvalidSymbol { .. } => "invalid_symbol",
        E::InsufficientLiquidity { .. } => "insufficient_liquidity",
        E::Auth { .. } => "auth",
        E::Rejected { .. } => "rejected",
        E::Unsupported { .. } => "unsupported",
        E::Decode { .. } => "decode",
        E::Config { .. } => "config",
    };
    metrics::counter!("rialto_venue_errors_total",
        "venue" => err.venue().to_string(), "kind" => kind)
    .increment(1);
}

/// A worker pass that failed (it is retried on the next tick); `worker` names which.
pub fn worker_failed(worker: &'static str) {
    metrics::counter!("rialto_worker_failures_total", "worker" => worker).increment(1);
}
