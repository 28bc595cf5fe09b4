//! How a step ends: saving it, advancing the plan on a leg's outcome, reviews, returns and surplus returns.

use super::*;
use crate::store::exchange::ExchangeAccountStatus;

/// The payment intent an execution pays.
pub(super) async fn intent_of(
    state: &Engine,
    exec: &RouteExecution,
) -> Result<PaymentIntent, ExecError> {
    state
        .store
        .get_intent_unscoped(&exec.payment_intent_id)
        .await?
        .ok_or_else(|| ExecError::Invalid(format!("execution {} lost its intent", exec.id)))
}

/// An execution held for compliance review, once the review ends. Approved: the lock is long
/// gone and the approval's proof is not the execution's, so nothing is converted; what Rialto
/// holds goes back to the payer (screened again) and the intent ends `failed`. Blocked: the
/// funds stay frozen with the case. Still in review: asked again later.
pub(super) async fn after_review(
    state: &Engine,
    mut exec: RouteExecution,
    now_ms: i64,
) -> Result<bool, ExecError> {
    let intent = intent_of(state, &exec).await?;
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    match intent.status {
        PaymentStatus::InReview => {
            exec.next_at_ms = now_ms + 10_000;
            save(state, &exec, expected, &[]).await
        }
        PaymentStatus::Blocked => {
            exec.status = ExecutionStatus::Frozen;
            exec.failure_code = Some("compliance_blocked".into());
            exec.failure_message = Some("This payment cannot be processed.".into());
            save(state, &exec, expected, &[]).await
        }
        PaymentStatus::FundsReceived | PaymentStatus::Converting => {
            move_intent(state, &intent, PaymentEvent::ConversionStarted, now_ms).await?;
            exec.failure_code = Some("review_completed".into());
            exec.failure_message = Some(
                "The payment was released after review, after its quote expired; the funds go back."
                    .into(),
            );
            let mut legs = Vec::new();
            match exec.funding.clone() {
                Funding::Wallet {
                    chain,
                    asset,
                    payer,
                    amount: Some(amount),
                    ..
                } if amount > Decimal::ZERO => {
                    if return_cleared(state, &exec, &chain, &payer, now_ms).await? {
                        legs.push(return_record(
                            &exec, 1, &chain, &asset, &payer, amount, now_ms,
                        )?);
                        exec.status = ExecutionStatus::Running;
                    } else {
                        exec.status = ExecutionStatus::Frozen;
                        exec.failure_code = Some("compliance_blocked".into());
                    }
                }
                // Nothing left the payer's exchange account.
                _ => {
                    move_intent(state, &intent, PaymentEvent::RouteFailed, now_ms).await?;
                    exec.status = ExecutionStatus::Failed;
                }
            }
            save(state, &exec, expected, &legs).await
        }
        _ => {
            exec.status = ExecutionStatus::Failed;
            exec.failure_code = Some("intent_not_open".into());
            save(state, &exec, expected, &[]).await
        }
    }
}

/// What a wallet payer sent beyond the quote's payer amount stays with Rialto (the plan spends
/// exactly the quoted amount): once the merchant is paid it goes back to the payer, screened
/// again, from the hot wallet it arrived at. A payer who no longer screens clear leaves it
/// booked in `rialto:routing` for an operator, as `returned.held`.
pub(super) async fn surplus_return(
    state: &Engine,
    exec: &mut RouteExecution,
    quoted: Decimal,
    seq: i64,
    now_ms: i64,
) -> Result<Option<RouteLegRecord>, ExecError> {
    let Funding::Wallet {
        chain,
        asset,
        payer,
        amount: Some(arrived),
        ..
    } = exec.funding.clone()
    else {
        return Ok(None);
    };
    let surplus = arrived - quoted;
    if surplus <= Decimal::ZERO {
        return Ok(None);
    }
    let cleared = return_cleared(state, exec, &chain, &payer, now_ms).await?;
    exec.returned = Some(
        serde_json::json!({
            "from": format!("{asset}@{chain}"),
            "amount": surplus.to_string(),
            "treasury_share": "0",
            "reason": "overpayment",
            "held": !cleared,
        })
        .to_string(),
    );
    if !cleared {
        tracing::error!(execution = %exec.id, %surplus, "an over-payment's surplus cannot go back to a payer who no longer screens clear; held for an operator");
        return Ok(None);
    }
    let mut back = return_record(exec, seq, &chain, &asset, &payer, surplus, now_ms)?;
    back.kind = RouteLegKind::SurplusReturn;
    Ok(Some(back))
}

/// A `return` leg: `amount` of `asset` from the hot wallet on `chain` back to `to`.
#[allow(clippy::too_many_arguments)]
pub fn return_record(
    exec: &RouteExecution,
    seq: i64,
    chain: &str,
    asset: &str,
    to: &str,
    amount: Decimal,
    now_ms: i64,
) -> Result<RouteLegRecord, ExecError> {
    let spec = LegSpec::Chain {
        leg: ChainLeg::Transfer {
            chain: chain.to_owned(),
            asset: asset.to_owned(),
            to: to.to_owned(),
            amount,
        },
    };
    Ok(RouteLegRecord {
        id: LegId::generate().to_string(),
        execution_id: exec.id.clone(),
        seq,
        kind: RouteLegKind::Return,
        venue: "rialto".into(),
        from_node: format!("{asset}@{chain}"),
        to_node: format!("payer:{to}"),
        input: amount.to_string(),
        topup: "0".into(),
        min_output: amount.to_string(),
        spec,
        status: RouteLegStatus::Created,
        received: None,
        failure: None,
        external_ref: None,
        not_before_ms: now_ms,
        created_at_ms: now_ms,
        submitted_at_ms: None,
        finished_at_ms: None,
        tx_hash: None,
        block_number: None,
    })
}

/// Closes the exchange account an execution was started with, when it ends before anything
/// moved: its credentials go, and the intent can link another.
pub(super) async fn close_account(state: &Engine, exec: &RouteExecution, now_ms: i64) {
    let Funding::Exchange { account, .. } = exec.funding.clone() else {
        return;
    };
    let Ok(accounts) = state
        .store
        .exchange_accounts_of(&exec.payment_intent_id)
        .await
    else {
        return;
    };
    for mut a in accounts
        .into_iter()
        .filter(|a| a.id == account && a.status == ExchangeAccountStatus::Routed)
    {
        a.status = ExchangeAccountStatus::Failed;
        a.failure = Some("the payment ended before anything moved".into());
        a.updated_at_ms = now_ms;
        if let Err(err) = state.store.update_exchange_account(&a).await {
            tracing::warn!(account = %a.id, error = %err, "exchange account not closed");
        }
    }
}

/// An execution that never started moving money and is now due: an exchange start whose
/// request died before the payer was screened and the first leg stored, or a wallet payer who
/// did not pay before the quote expired. It ends, and the quote is given up so the intent can
/// be quoted again (if it is still open). Funds reported later still go back (see `fund`).
pub(super) async fn end_unstarted(
    state: &Engine,
    mut exec: RouteExecution,
    now_ms: i64,
) -> Result<bool, ExecError> {
    let expected = exec.version;
    exec.version += 1;
    exec.updated_at_ms = now_ms;
    let (code, message) = if exec.status == ExecutionStatus::Starting {
        (
            "interrupted",
            "The payment was interrupted before anything moved; ask for new quotes.",
        )
    } else {
        (
            "quote_expired",
            "No funds arrived before the quote expired.",
        )
    };
    let intent = intent_of(state, &exec).await?;
    match intent.status {
        PaymentStatus::FundsReceived | PaymentStatus::Converting => {
            // Screened, then interrupted: the payer's funds never left their account.
            move_intent(state, &intent, PaymentEvent::ConversionStarted, now_ms).await?;
            move_intent(state, &intent, PaymentEvent::RouteFailed, now_ms).await?;
        }
        PaymentStatus::InReview => {
            // Interrupted after screening held it: the review decides (see `after_review`).
            exec.status = ExecutionStatus::Held;
            exec.next_at_ms = now_ms + 10_000;
            return save(state, &exec, expected, &[]).await;
        }
        _ => {}
    }
    close_account(state, &exec, now_ms).await;
    exec.status = ExecutionStatus::Failed;
    exec.failure_code = Some(code.into());
    exec.failure_message = Some(message.into());
    let saved = save(state, &exec, expected, &[]).await?;
    if saved {
        state
            .store
            .release_quote(&exec.quote_id)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(saved)
}

pub(super) async fn save(
    state: &Engine,
    exec: &RouteExecution,
    expected: i64,
    legs: &[RouteLegRecord],
) -> Result<bool, ExecError> {
    save_with(state, exec, expected, legs, &[]).await
}

/// [`save`] with the step's ledger postings, in the same transaction.
pub(super) async fn save_with(
    state: &Engine,
    exec: &RouteExecution,
    expected: i64,
    legs: &[RouteLegRecord],
    postings: &[crate::ledger::Posting],
) -> Result<bool, ExecError> {
    match state
        .store
        .save_execution_step(exec, expected, legs, None, postings)
        .await
        .map_err(|e| e.to_string())?
    {
        CasOutcome::Updated => {
            crate::telemetry::route_execution_saved(exec);
            Ok(true)
        }
        CasOutcome::Conflict => Ok(false),
    }
}

/// Reports `outcome` of `leg` to the plan and stores what comes next.
pub(crate) async fn advance(
    state: &Engine,
    mut exec: RouteExecution,
    expected: i64,
    mut leg: RouteLegRecord,
    outcome: LegOutcome,
    now_ms: i64,
) -> Result<bool, ExecError> {
    leg.status = match outcome {
        LegOutcome::Confirmed { .. } => RouteLegStatus::Confirmed,
        LegOutcome::Failed { .. } => RouteLegStatus::Failed,
        LegOutcome::Unknown => RouteLegStatus::Unknown,
    };
    if !matches!(outcome, LegOutcome::Unknown) {
        leg.finished_at_ms = Some(now_ms);
    }
    let intent = intent_of(state, &exec).await?;
    // A return leg (funds going back after a give-up, or an over-payment's surplus after the
    // merchant was paid) is not the plan's: it ends the run.
    if leg.kind.is_return() {
        return finish_return(state, exec, expected, leg, &intent, now_ms).await;
    }
    let stored = serde_json::from_str::<crate::routing::StoredRoute>(&exec.graph)
        .map_err(|e| format!("stored route: {e}"))?;
    let graph = stored.graph;
    let mut plan: FundingPlan = exec
        .plan
        .clone()
        .ok_or_else(|| format!("execution {} has no plan", exec.id))?;
    // What the plan spends of the payer's funds: the quoted amount, or what the merchant's
    // policy put in (all of an over-payment it keeps, an under-payment within its tolerance).
    let quoted_payer_amount = plan.funded_input().unwrap_or(stored.quote.payer_amount);
    let leg_id: LegId = leg.id.parse().map_err(|_| format!("leg id {}", leg.id))?;
    let now = u64::try_from(now_ms).unwrap_or(0);
    // Health: a finished leg counts (an unknown one only once reconciled).
    let edge = plan
        .in_flight()
        .filter(|o| o.leg == leg_id)
        .and_then(|o| o.edge);
    if let (Some(edge), false) = (edge, matches!(outcome, LegOutcome::Unknown)) {
        let sent = leg.submitted_at_ms.unwrap_or(leg.created_at_ms);
        let latency = u64::try_from(now_ms - sent).unwrap_or(0);
        let ok = matches!(outcome, LegOutcome::Confirmed { .. });
        state.routing.record(&graph, edge, ok, latency, now);
    }
    let prices = fresh_prices(state, &exec, &intent, &graph, now / 1000).await;
    let health = state.routing.health_for(&graph);
    let ctx = RouteContext {
        graph: &graph,
        prices: &prices,
        health: &health,
        now_ms: now,
        score: ScorePolicy::default(),
        max_legs: crate::routing::MAX_LEGS,
        labels_per_node: crate::routing::LABELS_PER_NODE,
    };
    let Some(in_flight) = plan.in_flight().filter(|o| o.leg == leg_id).cloned() else {
        // The stored leg is not the plan's in-flight one: never build on that.
        return Err(ExecError::Invalid(format!(
            "leg {} is not the plan's leg in flight",
            leg.id
        )));
    };
    let in_flight = Some(in_flight);
    let next = plan.on_outcome(leg_id, outcome, &ctx);
    let postings = match (outcome, in_flight) {
        (LegOutcome::Confirmed { received }, Some(order)) => {
            let mut postings =
                leg_postings(state, &exec, &graph, (&order, &leg.spec), received, now_ms);
            postings.extend(gas_postings(state, &exec, &order.leg, now_ms).await);
            postings.extend(bridge_fee_postings(state, &exec, &leg.spec, &order.leg, now_ms).await);
            postings
        }
        _ => Vec::new(),
    };
    exec.plan = Some(plan.clone());
    exec.next_at_ms = now_ms + POLL_MS;
    let mut legs = vec![leg.clone()];
    match next {
        Next::Execute(order) => {
            let spec = spec_for(state, &exec, &intent, &graph, &order)?;
            let new = leg_record(&exec, &graph, &order, leg.seq + 1, &spec, now_ms)?;
            exec.next_at_ms = new.not_before_ms;
            if order.edge.is_none() {
                move_intent(state, &intent, PaymentEvent::SettlementStarted, now_ms).await?;
            }
            legs.push(new);
            exec.status = ExecutionStatus::Running;
        }
        Next::WaitForReconciliation { .. } => {
            exec.status = ExecutionStatus::AwaitingReconciliation;
            exec.next_at_ms = now_ms + 10_000;
        }
        Next::Done { merchant_amount } => {
            bind_payment(state, &exec, &intent, &leg, merchant_amount, now_ms).await?;
            exec.status = ExecutionStatus::Succeeded;
            if let Some(back) =
                surplus_return(state, &mut exec, quoted_payer_amount, leg.seq + 1, now_ms).await?
            {
                legs.push(back);
                exec.status = ExecutionStatus::Running;
            }
        }
        Next::GiveUp {
            reason,
            return_funds,
        } => {
            let ended = GiveUp {
                leg: &leg,
                intent: &intent,
                quoted_payer_amount,
                postings: &postings,
                reason,
                return_funds,
            };
            return give_up(state, exec, expected, legs, ended, now_ms).await;
        }
    }
    save_with(state, &exec, expected, &legs, &postings).await
}

/// What the step knew when the plan gave up.
struct GiveUp<'a> {
    leg: &'a RouteLegRecord,
    intent: &'a PaymentIntent,
    quoted_payer_amount: Decimal,
    postings: &'a [crate::ledger::Posting],
    reason: GiveUpReason,
    return_funds: rialto_router::ReturnFunds,
}

/// The plan gave up: record why, and send back what Rialto holds of the payer's (to a screened
/// address), or hold it for an operator when there is nowhere safe to send it.
async fn give_up(
    state: &Engine,
    mut exec: RouteExecution,
    expected: i64,
    mut legs: Vec<RouteLegRecord>,
    ended: GiveUp<'_>,
    now_ms: i64,
) -> Result<bool, ExecError> {
    let GiveUp {
        leg,
        intent,
        quoted_payer_amount,
        postings,
        reason,
        return_funds,
    } = ended;
    exec.failure_code = Some(reason_code(reason).to_owned());
    exec.failure_message = Some(reason_message(reason).to_owned());
    let mut payer_share = return_funds.amount - return_funds.treasury_share;
    // A wallet payer's over-payment never entered the plan: it goes back with the rest
    // when the return leaves from where it arrived (otherwise it stays booked in
    // `rialto:routing` for an operator: docs/router.md).
    if let Funding::Wallet {
        chain,
        asset,
        amount: Some(arrived),
        ..
    } = exec.funding.clone()
    {
        let surplus = arrived - quoted_payer_amount;
        if surplus > Decimal::ZERO
            && chain_node(&chain, &asset).ok() == Some(return_funds.at.clone())
        {
            payer_share += surplus;
        }
    }
    let returned = serde_json::json!({
        "from": return_funds.at.to_string(),
        "amount": payer_share.to_string(),
        "treasury_share": return_funds.treasury_share.to_string(),
    });
    exec.returned = Some(returned.to_string());
    match &return_funds.at.location {
        Location::Chain(chain) if payer_share > Decimal::ZERO => {
            let to = match refund_address(state, &exec, chain, &return_funds.at.asset).await {
                Ok(to) => to,
                Err(why) => {
                    // Held by Rialto (booked in `rialto:routing`) until an operator
                    // sends it: never lost, never blindly guessed.
                    tracing::error!(execution = %exec.id, error = %why, "no address to return the payer's funds to");
                    exec.status = ExecutionStatus::ReturnFailed;
                    move_intent(state, intent, PaymentEvent::RouteFailed, now_ms).await?;
                    return save_with(state, &exec, expected, &legs, postings).await;
                }
            };
            if !return_cleared(state, &exec, &chain.to_string(), &to, now_ms).await? {
                // Frozen in the treasury with the screening's case open.
                exec.status = ExecutionStatus::Frozen;
                exec.failure_code = Some("compliance_blocked".into());
                move_intent(state, intent, PaymentEvent::RouteFailed, now_ms).await?;
                return save_with(state, &exec, expected, &legs, postings).await;
            }
            let back = return_record(
                &exec,
                leg.seq + 1,
                &chain.to_string(),
                return_funds.at.asset.as_str(),
                &to,
                payer_share,
                now_ms,
            )?;
            legs.push(back);
            exec.status = ExecutionStatus::Running;
        }
        _ => {
            // Still on the payer's exchange account (or nothing of the payer's left):
            // nothing to send back.
            move_intent(state, intent, PaymentEvent::RouteFailed, now_ms).await?;
            exec.status = ExecutionStatus::Failed;
        }
    }
    save_with(state, &exec, expected, &legs, postings).await
}

pub(super) async fn finish_return(
    state: &Engine,
    mut exec: RouteExecution,
    expected: i64,
    leg: RouteLegRecord,
    intent: &PaymentIntent,
    now_ms: i64,
) -> Result<bool, ExecError> {
    if leg.status == RouteLegStatus::Unknown {
        exec.status = ExecutionStatus::AwaitingReconciliation;
    } else if leg.kind == RouteLegKind::SurplusReturn {
        // The merchant was paid; only the payer's surplus was outstanding.
        exec.status = if leg.status == RouteLegStatus::Failed {
            tracing::error!(execution = %exec.id, leg = %leg.id, "returning an over-payment's surplus failed; an operator must send it");
            ExecutionStatus::ReturnFailed
        } else {
            ExecutionStatus::Succeeded
        };
    } else {
        if leg.status == RouteLegStatus::Failed {
            tracing::error!(execution = %exec.id, leg = %leg.id, "returning the payer's funds failed; an operator must send them");
            exec.status = ExecutionStatus::ReturnFailed;
        } else {
            exec.status = ExecutionStatus::Failed;
        }
        match intent.status {
            PaymentStatus::Converting | PaymentStatus::Settling => {
                move_intent(state, intent, PaymentEvent::RouteFailed, now_ms).await?;
            }
            // Nothing was converted (short or late funding): the intent can be quoted again.
            PaymentStatus::AwaitingFunds => state
                .store
                .release_quote(&exec.quote_id)
                .await
                .map_err(|e| e.to_string())?,
            _ => {}
        }
    }
    let mut postings = Vec::new();
    if leg.status == RouteLegStatus::Confirmed {
        if let LegSpec::Chain {
            leg:
                ChainLeg::Transfer {
                    chain,
                    asset,
                    amount,
                    ..
                },
        } = leg.spec.clone()
        {
            let node = chain_node(&chain, &asset)?;
            let asset = crate::routing::booking::asset_id(state, &node);
            postings = crate::routing::booking::returned(&exec, &asset, amount, &leg.id, now_ms);
            if let Ok(id) = leg.id.parse::<LegId>() {
                postings.extend(gas_postings(state, &exec, &id, now_ms).await);
            }
        }
    }
    save_with(state, &exec, expected, &[leg], &postings).await
}
