//! The workers' Prometheus series, named in one place (`docs/METRICS.md` lists them with their
//! labels). Recorded through the `metrics` facade: the gateway installs the exporter behind
//! `/metrics`; without it every call here is a no-op. Gauges are set from what a worker pass
//! just read, so they show the state as of the last pass of any gateway instance.

use rialto_connectors::rail::{ChainTransfer, LegStatus};

use crate::store::quote::{ExecutionStatus, RouteExecution};

/// Blocks between the chain's head and the last block the deposit watcher has scanned.
pub fn chain_head_lag(chain: &str, lag_blocks: u64) {
    metrics::gauge!("rialto_chain_head_lag_blocks", "chain" => chain.to_owned())
        .set(lag_blocks as f64);
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

/// A worker pass that failed (it is retried on the next tick); `worker` names which.
pub fn worker_failed(worker: &'static str) {
    metrics::counter!("rialto_worker_failures_total", "worker" => worker).increment(1);
}
