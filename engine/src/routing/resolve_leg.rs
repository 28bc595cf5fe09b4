//! Operators resolve a route leg whose outcome is `unknown` (issue 20, point 4; docs/router.md,
//! "Unknown legs"): the venue, chain, bridge or issuer could not say what happened, the plan
//! waits for reconciliation and the worker only ever asks again. An operator who found out
//! (the destination chain's transaction, the venue's support) says so here:
//!
//! - `delivered` with what arrived: the leg is confirmed with `received` and the plan goes on
//!   exactly as if the venue had answered ([`super::execute::advance`] with
//!   `LegOutcome::Confirmed`: the same postings, the next leg stored for the next pass).
//! - `failed`: the leg did not happen (the money is still where it was sent from); the plan
//!   takes its fallback (another route, or giving up and returning what Rialto holds).
//!
//! Compare-and-set on the execution's version, like every step; only a leg in `unknown` that
//! is the plan's leg in flight can be resolved. Who resolved it and why goes on the audit chain
//! (`route_leg:delivered` / `route_leg:failed`, the operator key's name in the detail), after the
//! step is stored.

use rialto_compliance::AuditEntry;
use rialto_router::{LegFailure, LegOutcome};
use rust_decimal::Decimal;

use super::execute::{advance, ExecError};
use crate::error::{EngineError, ErrorCode};
use crate::services::Engine;
use crate::store::quote::{ExecutionStatus, RouteExecution, RouteLegStatus};

/// What an operator found out about an unknown leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegResolution {
    /// It happened: `received` arrived at the leg's destination; `evidence` is the transaction
    /// that delivered it (`0x…` hash: kept as the leg's `tx_hash`, so reconciliation expects
    /// it) or a text reference.
    Delivered {
        received: Decimal,
        evidence: String,
        note: Option<String>,
    },
    /// It did not happen.
    Failed { note: String },
}

impl LegResolution {
    fn outcome(&self) -> &'static str {
        match self {
            LegResolution::Delivered { .. } => "delivered",
            LegResolution::Failed { .. } => "failed",
        }
    }
}

/// Executions that wait for an operator: `awaiting_reconciliation` and `return_failed`.
pub const OPERATOR_STATUSES: [ExecutionStatus; 2] = [
    ExecutionStatus::AwaitingReconciliation,
    ExecutionStatus::ReturnFailed,
];

fn not_resolvable(why: &str) -> EngineError {
    EngineError::new(ErrorCode::RouteLegNotResolvable, why.to_owned())
}

fn is_tx_hash(text: &str) -> bool {
    text.len() == 66 && text.starts_with("0x") && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Resolves the unknown leg `leg_id` of execution `exec_id` as `resolution`, by `by` (the
/// operator); the execution as stored afterwards.
pub async fn resolve_unknown_leg(
    state: &Engine,
    exec_id: &str,
    leg_id: &str,
    resolution: LegResolution,
    by: &str,
    now_ms: i64,
) -> Result<RouteExecution, EngineError> {
    let missing = || EngineError::missing("route_execution", exec_id, "id");
    if !exec_id.starts_with("rx_") {
        return Err(missing());
    }
    let mut exec = state
        .store
        .get_execution(exec_id)
        .await?
        .ok_or_else(missing)?;
    let legs = state.store.route_legs(exec_id).await?;
    let Some(mut leg) = legs.into_iter().find(|l| l.id == leg_id) else {
        return Err(EngineError::missing("route leg", leg_id, "leg"));
    };
    if leg.status != RouteLegStatus::Unknown {
        return Err(not_resolvable(&format!(
            "Leg {leg_id} is {}: only a leg whose outcome is unknown can be resolved.",
            leg.status.as_str()
        )));
    }
    if exec.status != ExecutionStatus::AwaitingReconciliation {
        return Err(not_resolvable(&format!(
            "Execution {exec_id} is {}, not awaiting reconciliation.",
            exec.status.as_str()
        )));
    }
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    let outcome = match &resolution {
        LegResolution::Delivered {
            received, evidence, ..
        } => {
            leg.received = Some(received.to_string());
            if is_tx_hash(evidence) {
                leg.tx_hash = Some(evidence.to_ascii_lowercase());
            }
            leg.failure = None;
            LegOutcome::Confirmed {
                received: *received,
            }
        }
        LegResolution::Failed { note } => {
            leg.failure = Some(format!("resolved as failed by {by}: {note}"));
            LegOutcome::Failed {
                reason: LegFailure::Rejected,
            }
        }
    };
    let stored = advance(state, exec, expected, leg, outcome, now_ms)
        .await
        .map_err(|e| match e {
            ExecError::Engine(e) => e,
            other => EngineError::internal(&other),
        })?;
    if !stored {
        return Err(not_resolvable(
            "The execution changed while it was being resolved; read it again.",
        ));
    }
    audit(state, exec_id, leg_id, &resolution, by, now_ms).await;
    state
        .store
        .get_execution(exec_id)
        .await?
        .ok_or_else(|| EngineError::internal(&format!("execution {exec_id} vanished")))
}

/// Appends who resolved the leg, how and why to the audit chain. The step is stored already:
/// a failure here is logged, not undone.
async fn audit(
    state: &Engine,
    exec_id: &str,
    leg_id: &str,
    resolution: &LegResolution,
    by: &str,
    now_ms: i64,
) {
    let detail = match resolution {
        LegResolution::Delivered {
            received,
            evidence,
            note,
        } => serde_json::json!({
            "by": by, "execution": exec_id, "received": received.to_string(),
            "evidence": evidence, "note": note,
        }),
        LegResolution::Failed { note } => {
            serde_json::json!({ "by": by, "execution": exec_id, "note": note })
        }
    };
    let entry = AuditEntry {
        id: leg_id.to_owned(),
        at_ms: u64::try_from(now_ms).unwrap_or(0),
        kind: format!("route_leg:{}", resolution.outcome()),
        subject: exec_id.to_owned(),
        outcome: resolution.outcome().to_owned(),
        detail: detail.to_string(),
    };
    if let Err(e) = state.store.append_audit(&entry).await {
        tracing::error!(leg = %leg_id, error = %e, "route leg resolution not audited");
    }
}
