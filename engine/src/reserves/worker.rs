//! The reserves worker: every `reserves.poll_ms`, each configured feed is read (supply and report over
//! the chain's `ChainNode`), judged, and stored compare-and-set; a change of verdict is
//! announced (`reserves.halted` / `reserves.restored` to every merchant of the mode, and
//! `rialto_reserve_transitions_total`) by the one instance whose write won. Then the board is
//! copied from the store, the gauges set, and funded intents of halted assets go to review.

use std::collections::HashMap;
use std::time::Duration;

use rialto_compliance::{AuditEntry, ComplianceCaseId, Decision, Outcome};
use rialto_connectors::chain::ChainError;
use rialto_core::intent::{PaymentEvent, PaymentIntent, PaymentStatus};
use rialto_core::{Currency, CurrencyKind, Money, PorGuard, ReserveReport};
use tokio::sync::watch;

use super::{ReserveFeed, ReserveState, ReserveStatus};
use crate::objects::{intent_event, intent_json};
use crate::services::Engine;
use crate::store::{
    CasOutcome, CaseFilter, CaseRecord, CaseStatus, Event, IntentChange, StoreError,
};

/// The compliance case point of an intent held for its asset's reserves.
pub const REVIEW_POINT: &str = "reserves_halt";
const REVIEW_BATCH: u32 = 200;

/// Reads `feed`'s token supply and its reserve report over the chain's node.
pub async fn read_feed(
    state: &Engine,
    feed: &ReserveFeed,
) -> Result<(Money, ReserveReport), ChainError> {
    let chain = state
        .chains
        .get(feed.livemode, &feed.chain)
        .ok_or_else(|| ChainError::Invalid(format!("chain {} is not served", feed.chain)))?;
    let units = chain.node.total_supply_units(&feed.token).await?;
    let currency = Currency::new(&feed.asset, feed.decimals, CurrencyKind::Stablecoin);
    let supply = Money::from_base_units(units, currency)
        .map_err(|e| ChainError::Invalid(format!("supply of {}: {e}", feed.asset)))?;
    let report = chain.node.reserve_report(&feed.feed).await?;
    Ok((supply, report))
}

/// One pass (see the module docs). Returns how many verdicts this instance changed.
pub async fn poll_once(state: &Engine) -> Result<usize, StoreError> {
    let now_ms = state.clock.now_ms();
    let now_secs = u64::try_from(now_ms / 1000).unwrap_or(0);
    let stored: HashMap<(bool, String, String), ReserveState> = state
        .store
        .reserve_states()
        .await?
        .into_iter()
        .map(|s| ((s.livemode, s.chain.clone(), s.asset.clone()), s))
        .collect();
    let mut changed = 0;
    for feed in state.reserves.feeds() {
        let (supply, report) = match read_feed(state, feed).await {
            Ok(read) => read,
            Err(err) => {
                // The last stored verdict stands: a node outage is not a reserve event.
                crate::telemetry::worker_failed("reserves");
                tracing::warn!(chain = %feed.chain, asset = %feed.asset, error = %err,
                    "reading the reserve feed failed; will retry");
                continue;
            }
        };
        let guard = PorGuard {
            heartbeat_secs: feed.heartbeat_secs,
        };
        let status = ReserveStatus::of(&guard.check(&report, &supply, now_secs));
        let prev = stored.get(&(feed.livemode, feed.chain.clone(), feed.asset.clone()));
        let next = ReserveState {
            livemode: feed.livemode,
            chain: feed.chain.clone(),
            asset: feed.asset.clone(),
            status,
            reserves: report.reserves,
            supply: supply.amount(),
            report_updated_at: report.updated_at,
            checked_at_ms: now_ms,
            changed_at_ms: match prev {
                Some(p) if p.status == status => p.changed_at_ms,
                _ => now_ms,
            },
        };
        if save(state, prev.map(|p| p.status), &next).await? {
            changed += 1;
        }
    }
    let states = state.store.reserve_states().await?;
    state.reserves.refresh(&states);
    for s in &states {
        metrics::gauge!("rialto_reserve_status", "chain" => s.chain.clone(),
            "asset" => s.asset.clone())
        .set(s.status.gauge());
    }
    for s in states.iter().filter(|s| s.status != ReserveStatus::Ok) {
        if let Err(err) = review_funded(state, s, now_ms).await {
            tracing::warn!(chain = %s.chain, asset = %s.asset, error = %err,
                "moving funded intents of a halted asset to review failed; will retry");
        }
    }
    Ok(changed)
}

/// Stores `next`; `true` when this instance changed the verdict (and announced it).
async fn save(
    state: &Engine,
    prev: Option<ReserveStatus>,
    next: &ReserveState,
) -> Result<bool, StoreError> {
    // A first reading that is fine is no news; any other change is.
    let news = match prev {
        Some(p) => p != next.status,
        None => next.status != ReserveStatus::Ok,
    };
    let events = if news {
        announcement(state, next).await?
    } else {
        Vec::new()
    };
    let outcome = state.store.save_reserve_state(prev, next, &events).await?;
    if !news || outcome != CasOutcome::Updated {
        return Ok(false);
    }
    metrics::counter!("rialto_reserve_transitions_total", "chain" => next.chain.clone(),
        "asset" => next.asset.clone(), "status" => next.status.as_str())
    .increment(1);
    if next.status == ReserveStatus::Ok {
        tracing::info!(chain = %next.chain, asset = %next.asset, "reserves cover the supply again: asset restored");
    } else {
        tracing::warn!(chain = %next.chain, asset = %next.asset, status = next.status.as_str(),
            reserves = %next.reserves, supply = %next.supply, "Proof of Reserve check failed: asset halted");
    }
    Ok(true)
}

/// `reserves.halted` or `reserves.restored`, one per merchant of the mode.
async fn announcement(state: &Engine, next: &ReserveState) -> Result<Vec<Event>, StoreError> {
    let kind = if next.status == ReserveStatus::Ok {
        "reserves.restored"
    } else {
        "reserves.halted"
    };
    let json = next.object_json();
    Ok(state
        .store
        .merchant_ids()
        .await?
        .into_iter()
        .map(|merchant_id| Event {
            id: rialto_core::id::EventId::generate(),
            merchant_id,
            livemode: next.livemode,
            kind: kind.to_owned(),
            object_json: json.clone(),
            created_at_ms: next.checked_at_ms,
        })
        .collect())
}

/// Funded intents (`funds_received`) settling in the halted asset go to `in_review`, each with
/// an open case at point [`REVIEW_POINT`] an operator resolves as any other.
async fn review_funded(
    state: &Engine,
    halted: &ReserveState,
    now_ms: i64,
) -> Result<(), StoreError> {
    let funded = state
        .store
        .chain_funded_intents(
            &halted.chain,
            halted.livemode,
            PaymentStatus::FundsReceived,
            REVIEW_BATCH,
        )
        .await?;
    for intent in funded
        .iter()
        .filter(|i| i.settlement.asset.code.eq_ignore_ascii_case(&halted.asset))
    {
        if review(state, intent, halted, now_ms).await? == CasOutcome::Updated {
            metrics::counter!("rialto_reserve_reviews_total", "chain" => halted.chain.clone(),
                "asset" => halted.asset.clone())
            .increment(1);
            tracing::warn!(intent = %intent.id, asset = %halted.asset, "funded intent held for review: its asset is halted");
        }
    }
    Ok(())
}

async fn review(
    state: &Engine,
    intent: &PaymentIntent,
    halted: &ReserveState,
    now_ms: i64,
) -> Result<CasOutcome, StoreError> {
    let Ok(next) = intent.transition(PaymentEvent::ComplianceReview, now_ms) else {
        return Ok(CasOutcome::Conflict);
    };
    // An approval screens the funds again from the subject of their first screening.
    let screened = state
        .store
        .list_cases(&CaseFilter {
            payment_intent_id: Some(intent.id),
            limit: 20,
            ..CaseFilter::default()
        })
        .await?;
    let subject_json = screened
        .data
        .iter()
        .find(|c| c.point == "funds_received")
        .map_or_else(|| "{}".to_owned(), |c| c.subject_json.clone());
    let decided_at_ms = u64::try_from(now_ms).unwrap_or(0);
    let decision = Decision {
        case_id: ComplianceCaseId::generate(),
        outcome: Outcome::Review,
        findings: Vec::new(),
        list_versions: Vec::new(),
        decided_at_ms,
    };
    let detail = serde_json::json!({
        "reason": halted.status.error_code().map(|c| c.as_str()),
        "chain": halted.chain,
        "asset": halted.asset,
        "reserves": halted.reserves.normalize().to_string(),
        "supply": halted.supply.normalize().to_string(),
    });
    let case = CaseRecord {
        id: decision.case_id,
        merchant_id: Some(intent.merchant_id),
        livemode: intent.livemode,
        payment_intent_id: Some(intent.id),
        point: REVIEW_POINT.to_owned(),
        outcome: "review".to_owned(),
        status: CaseStatus::Open,
        decision_json: serde_json::to_string(&decision)
            .map_err(|e| StoreError::Corrupt(format!("reserve review decision: {e}")))?,
        subject_json,
        created_at_ms: now_ms,
        resolved_at_ms: None,
        resolved_by: None,
        resolution_note: None,
    };
    let audit = AuditEntry {
        id: case.id.to_string(),
        at_ms: decided_at_ms,
        kind: format!("screening:{REVIEW_POINT}"),
        subject: intent.id.to_string(),
        outcome: "review".to_owned(),
        detail: detail.to_string(),
    };
    let change = IntentChange {
        expected: PaymentStatus::FundsReceived,
        events: vec![intent_event(
            &next,
            "payment_intent.in_review",
            &intent_json(&next),
            now_ms,
        )],
        next,
        confirms: None,
    };
    state
        .store
        .record_decision(&case, &audit, Some(&change), None)
        .await
}

/// Runs [`poll_once`] every `every` (`reserves.poll_ms`) until `shutdown` flips; nothing to do
/// without feeds.
pub async fn run_reserves_worker(
    state: Engine,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    if state.reserves.feeds().is_empty() {
        return;
    }
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(err) = poll_once(&state).await {
            crate::telemetry::worker_failed("reserves");
            tracing::warn!(error = %err, "reserves pass failed; will retry");
        }
    }
}
