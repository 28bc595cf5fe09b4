//! Compliance cases: opening them, and an operator's approval (with a fresh screening) or rejection.

use super::*;

pub(super) fn not_open(case: &CaseRecord) -> EngineError {
    EngineError::new(
        ErrorCode::ComplianceCaseNotOpen,
        format!("Case {} is {}, not open.", case.id, case.status.as_str()),
    )
}

/// The open case and its intent, in review.
pub(super) async fn open_case(
    state: &Engine,
    id: &ComplianceCaseId,
) -> Result<(CaseRecord, PaymentIntent), EngineError> {
    let case = state
        .store
        .get_case(id)
        .await?
        .ok_or_else(|| EngineError::missing("compliance case", &id.to_string(), "id"))?;
    if case.status != CaseStatus::Open {
        return Err(not_open(&case));
    }
    let intent_id = case.payment_intent_id.ok_or_else(|| not_open(&case))?;
    let intent = state
        .store
        .get_intent_unscoped(&intent_id)
        .await?
        .ok_or_else(|| EngineError::internal(&format!("case {} lost its intent", case.id)))?;
    Ok((case, intent))
}

pub(super) fn case_action(
    case: &CaseRecord,
    action: &str,
    by: &str,
    note: &str,
    now_ms: i64,
) -> AuditEntry {
    AuditEntry {
        id: case.id.to_string(),
        at_ms: now_u64(now_ms),
        kind: format!("case:{action}"),
        subject: case
            .payment_intent_id
            .map(|p| p.to_string())
            .unwrap_or_default(),
        outcome: action.to_owned(),
        detail: serde_json::json!({ "by": by, "note": note }).to_string(),
    }
}

/// An operator approves a held payment. It is screened again in full against the current
/// lists, rules and external screener: a Block there blocks the intent instead (recorded,
/// audited, and refused with `compliance_case_not_releasable`); otherwise the Review reasons are
/// what the operator resolved, and the intent rejoins the flow at `funds_received`.
pub async fn approve_case(
    state: &Engine,
    id: &ComplianceCaseId,
    by: &str,
    note: &str,
    now_ms: i64,
) -> Result<(CaseRecord, Cleared<PaymentIntentId>), EngineError> {
    let (case, intent) = open_case(state, id).await?;
    let subject: FundsSubject =
        serde_json::from_str(&case.subject_json).map_err(|e| EngineError::internal(&e))?;
    let again = screen_funds(state, &intent, &subject, now_ms).await?;
    if again.screened.decision().outcome == Outcome::Block {
        return block_on_rescreen(
            state,
            &case,
            &intent,
            again.screened.decision(),
            by,
            note,
            now_ms,
        )
        .await;
    }
    let FundsScreening {
        request,
        lists,
        custom,
        rules,
        ..
    } = again;
    // Only the outcome and id of the held decision matter to the release.
    let held = Decision {
        case_id: case.id,
        outcome: Outcome::Review,
        findings: Vec::new(),
        list_versions: Vec::new(),
        decided_at_ms: 0,
    };
    let released = {
        let screener = state.compliance.screener(&lists, &custom, &rules, None);
        screener.release_after_review(&held, &request, intent.id, by, now_u64(now_ms))
    };
    let proof = released
        .map_err(|e| EngineError::new(ErrorCode::ComplianceCaseNotReleasable, format!("{e}.")))?;
    let next = intent
        .transition(PaymentEvent::ComplianceApproved, now_ms)
        .map_err(|e| EngineError::new(ErrorCode::PaymentIntentUnexpectedState, format!("{e}.")))?;
    let release = case_record(
        proof.decision(),
        Some(intent.merchant_id),
        intent.livemode,
        Some(intent.id),
        "review_release",
        case.subject_json.clone(),
    )?;
    let audit = [
        case_action(&case, "approved", by, note, now_ms),
        audit_entry(proof.decision(), "review_release", &intent.id.to_string()),
    ];
    let change = IntentChange {
        expected: PaymentStatus::InReview,
        events: vec![intent_event(
            &next,
            "payment_intent.review_approved",
            &intent_json(&next),
            now_ms,
        )],
        next,
        confirms: None,
    };
    let resolution = CaseResolution {
        case_id: case.id,
        to: CaseStatus::Approved,
        by: by.to_owned(),
        note: note.to_owned(),
        at_ms: now_ms,
    };
    if state
        .store
        .resolve_case(&resolution, &audit, Some(&release), Some(&change))
        .await?
        == CasOutcome::Conflict
    {
        return Err(not_open(&case));
    }
    let resolved = state.store.get_case(id).await?.unwrap_or(case);
    Ok((resolved, proof))
}

/// The approval's re-screening blocked the payment: the held case is frozen, the new decision
/// stored, the intent blocked, all audited in one transaction; the approval is refused.
pub(super) async fn block_on_rescreen<T>(
    state: &Engine,
    case: &CaseRecord,
    intent: &PaymentIntent,
    decision: &Decision,
    by: &str,
    note: &str,
    now_ms: i64,
) -> Result<T, EngineError> {
    let next = intent
        .transition(PaymentEvent::ComplianceBlocked, now_ms)
        .map_err(|e| EngineError::new(ErrorCode::PaymentIntentUnexpectedState, format!("{e}.")))?;
    let block = case_record(
        decision,
        Some(intent.merchant_id),
        intent.livemode,
        Some(intent.id),
        "review_release",
        case.subject_json.clone(),
    )?;
    let audit = [
        case_action(case, "blocked_on_rescreen", by, note, now_ms),
        audit_entry(decision, "review_release", &intent.id.to_string()),
    ];
    let change = IntentChange {
        expected: PaymentStatus::InReview,
        events: vec![intent_event(
            &next,
            "payment_intent.blocked",
            &intent_json(&next),
            now_ms,
        )],
        next,
        confirms: None,
    };
    let resolution = CaseResolution {
        case_id: case.id,
        to: CaseStatus::Frozen,
        by: by.to_owned(),
        note: note.to_owned(),
        at_ms: now_ms,
    };
    if state
        .store
        .resolve_case(&resolution, &audit, Some(&block), Some(&change))
        .await?
        == CasOutcome::Conflict
    {
        return Err(not_open(case));
    }
    Err(EngineError::new(
        ErrorCode::ComplianceCaseNotReleasable,
        "Screening the payment again blocked it; the intent is now blocked and its funds frozen.",
    ))
}

/// An operator rejects a held payment: the intent is blocked and its funds stay frozen.
pub async fn reject_case(
    state: &Engine,
    id: &ComplianceCaseId,
    by: &str,
    note: &str,
    now_ms: i64,
) -> Result<CaseRecord, EngineError> {
    let (case, intent) = open_case(state, id).await?;
    let next = intent
        .transition(PaymentEvent::ComplianceBlocked, now_ms)
        .map_err(|e| EngineError::new(ErrorCode::PaymentIntentUnexpectedState, format!("{e}.")))?;
    let change = IntentChange {
        expected: PaymentStatus::InReview,
        events: vec![intent_event(
            &next,
            "payment_intent.blocked",
            &intent_json(&next),
            now_ms,
        )],
        next,
        confirms: None,
    };
    let resolution = CaseResolution {
        case_id: case.id,
        to: CaseStatus::Rejected,
        by: by.to_owned(),
        note: note.to_owned(),
        at_ms: now_ms,
    };
    let audit = [case_action(&case, "rejected", by, note, now_ms)];
    if state
        .store
        .resolve_case(&resolution, &audit, None, Some(&change))
        .await?
        == CasOutcome::Conflict
    {
        return Err(not_open(&case));
    }
    Ok(state.store.get_case(id).await?.unwrap_or(case))
}
