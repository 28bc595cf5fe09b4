//! Screening again to resume: funds whose first screening cleared, for an attempt that died
//! before its plan was stored, are screened afresh (recorded and audited like any decision,
//! without moving the intent) so the proof the router needs is never carried over a crash.

use super::*;

/// A fresh screening of `subject` for `intent`, recorded and audited as point `resume`; the
/// intent does not move. The proof when it clears; `None` (and a frozen case for a block, an
/// open one for a review) otherwise.
pub async fn rescreen_funds(
    state: &Engine,
    intent: &PaymentIntent,
    subject: &FundsSubject,
    now_ms: i64,
) -> Result<Option<Cleared<PaymentIntentId>>, EngineError> {
    let subject_json = serde_json::to_string(subject).map_err(|e| EngineError::internal(&e))?;
    let screening = screen_funds(state, intent, subject, now_ms).await?;
    let decision = screening.screened.decision().clone();
    let case = case_record(
        &decision,
        Some(intent.merchant_id),
        intent.livemode,
        Some(intent.id),
        "resume",
        subject_json,
    )?;
    let audit = audit_entry(&decision, "resume", &intent.id.to_string());
    state
        .store
        .record_decision(&case, &audit, None, None)
        .await?;
    metrics::counter!("rialto_compliance_screenings_total", "point" => "resume",
        "outcome" => outcome_str(decision.outcome))
    .increment(1);
    Ok(match screening.screened {
        Screened::Cleared(proof) => Some(proof),
        Screened::InReview { .. } | Screened::Blocked { .. } => None,
    })
}
