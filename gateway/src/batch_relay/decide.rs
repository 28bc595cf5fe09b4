//! Deciding a mined batch: each item from the receipt of whichever transaction of the batch's
//! leg was mined (the leg's final hash), never from the payer's word or the batch's intent.

use std::collections::HashMap;

use rialto_connectors::rail::{ChainTransfer, LegStatus};
use rialto_core::address::Address;
use rialto_core::id::PaymentIntentId;
use rialto_core::intent::PaymentIntent;
use rialto_engine::chain::rail::FlowError;
use rialto_engine::chain::Chain;
use rialto_engine::services::Engine;
use rialto_engine::store::relay_queue::{ItemDecision, RelayItem, RelayItemStatus};
use rialto_engine::store::{PaymentSource, PaymentTransaction, PaymentTxStatus};
use rialto_evm::batch_relay::{self, ItemOutcome};

use super::{amount_text, batch_items, invalid, BatchLanes, Decided, QueuedOutcome};

/// Decides the batch's undecided items once its leg is confirmed (each relayed or skipped by
/// the receipt) or failed (all failed). Returns the items decided, with their outcomes.
pub(super) async fn decide_batch(
    state: &Engine,
    chain: &Chain,
    lanes: &BatchLanes,
    items: &[RelayItem],
    leg: &ChainTransfer,
) -> Result<Vec<Decided>, FlowError> {
    if !items.iter().any(|i| i.status == RelayItemStatus::Batched) {
        return Ok(Vec::new());
    }
    match leg.status {
        LegStatus::Pending | LegStatus::Submitted => Ok(Vec::new()),
        LegStatus::Failed => {
            let why = leg
                .failure
                .clone()
                .unwrap_or_else(|| "the batch transaction failed".into());
            fail_all(state, items, &leg.tx_hash, &why).await
        }
        LegStatus::Confirmed => {
            let receipt = batch_relay::receipt_logs(&lanes.rpc_url, &leg.tx_hash)
                .await
                .map_err(|e| invalid(e.to_string()))?;
            let Some((success, logs)) = receipt else {
                return Ok(Vec::new()); // confirmed by the rail, not visible on this endpoint yet
            };
            if !success {
                return fail_all(state, items, &leg.tx_hash, "the batch transaction reverted")
                    .await;
            }
            let token = Address::parse(&items[0].token, rialto_core::ChainNamespace::Eip155)
                .map_err(|e| invalid(e.to_string()))?;
            let outcomes = match batch_relay::outcomes(
                &logs,
                &lanes.relayer,
                &token,
                &batch_items(items)?,
            ) {
                Ok(outcomes) => outcomes,
                Err(err) => {
                    // A receipt naming other authorizations decides nothing: an operator
                    // looks at it; the items stay in flight.
                    tracing::error!(tx = %leg.tx_hash, error = %err, "a batch receipt does not match its batch");
                    return Ok(Vec::new());
                }
            };
            let undecided: Vec<_> = items
                .iter()
                .zip(outcomes)
                .filter(|(item, _)| item.status == RelayItemStatus::Batched)
                .collect();
            let nonces: Vec<String> = undecided.iter().map(|(i, _)| i.nonce.clone()).collect();
            // The relayed items' intents in one read; the decisions written in one transaction.
            let ids: Vec<_> = undecided
                .iter()
                .filter(|(_, outcome)| matches!(outcome, ItemOutcome::Relayed))
                .map(|(item, _)| item.payment_intent_id)
                .collect();
            let intents = state.store.get_intents_unscoped(&ids).await?;
            let decisions: Vec<ItemDecision> = undecided
                .into_iter()
                .map(|(item, outcome)| decision(state, chain, item, outcome, leg, &intents))
                .collect::<Result<_, _>>()?;
            let decided = state
                .store
                .decide_relay_items(&leg.tx_hash, &decisions, state.clock.now_ms())
                .await?;
            Ok(decisions
                .into_iter()
                .zip(nonces)
                .zip(decided)
                .filter_map(|((d, nonce), status)| {
                    let outcome = outcome(status?, &d, &leg.tx_hash);
                    Some((d.payment_intent_id, nonce, outcome))
                })
                .collect())
        }
    }
}

/// What a decided item's waiting request is answered: `status` as the store decided it (a
/// relayed item whose transaction another payment holds is failed there).
fn outcome(status: RelayItemStatus, decision: &ItemDecision, tx_hash: &str) -> QueuedOutcome {
    let reason = || decision.reason.clone().unwrap_or_default();
    match status {
        RelayItemStatus::Relayed => QueuedOutcome::Relayed {
            tx_hash: tx_hash.to_owned(),
        },
        RelayItemStatus::Skipped => QueuedOutcome::Skipped { reason: reason() },
        RelayItemStatus::Failed if decision.status != RelayItemStatus::Failed => {
            QueuedOutcome::Failed {
                reason: crate::store::relay_queue::BOUND_ELSEWHERE.to_owned(),
            }
        }
        RelayItemStatus::Failed => QueuedOutcome::Failed { reason: reason() },
        RelayItemStatus::Queued | RelayItemStatus::Batched => QueuedOutcome::InFlight {
            tx_hash: Some(tx_hash.to_owned()),
        },
    }
}

async fn fail_all(
    state: &Engine,
    items: &[RelayItem],
    tx_hash: &str,
    why: &str,
) -> Result<Vec<Decided>, FlowError> {
    let now = state.clock.now_ms();
    let mut decided = Vec::new();
    for item in items
        .iter()
        .filter(|i| i.status == RelayItemStatus::Batched)
    {
        tracing::warn!(intent = %item.payment_intent_id, tx = tx_hash, why, "batch relay failed; nothing moved");
        state
            .store
            .finish_relay_item(
                &item.payment_intent_id,
                RelayItemStatus::Failed,
                tx_hash,
                Some(why),
                now,
            )
            .await?;
        let outcome = QueuedOutcome::Failed {
            reason: why.to_owned(),
        };
        decided.push((item.payment_intent_id, item.nonce.clone(), outcome));
    }
    Ok(decided)
}

/// A relayed item's decision carries its payment transaction (the batch transaction, this
/// payer, this authorization's value), which the store binds to its intent BEFORE the item is
/// marked relayed; a skipped item only says why.
fn decision(
    state: &Engine,
    chain: &Chain,
    item: &RelayItem,
    outcome: ItemOutcome,
    leg: &ChainTransfer,
    intents: &HashMap<PaymentIntentId, PaymentIntent>,
) -> Result<ItemDecision, FlowError> {
    let decided = |status, reason: Option<String>, claim| ItemDecision {
        payment_intent_id: item.payment_intent_id,
        status,
        reason,
        claim,
    };
    let intent = match outcome {
        ItemOutcome::Skipped { reason } => {
            return Ok(decided(RelayItemStatus::Skipped, Some(reason), None))
        }
        ItemOutcome::Relayed => intents.get(&item.payment_intent_id),
    };
    let Some(intent) = intent else {
        return Ok(decided(
            RelayItemStatus::Failed,
            Some("no such payment intent".into()),
            None,
        ));
    };
    let units: u128 = item.amount_units.parse().unwrap_or_default();
    let claim = PaymentTransaction {
        chain_id: chain.caip2.clone(),
        tx_hash: leg.tx_hash.clone(),
        payment_intent_id: intent.id,
        payer: item.payer.clone(),
        amount: amount_text(intent, units)?,
        asset: intent.settlement.asset.id.to_string(),
        block_number: leg.block_number.unwrap_or_default(),
        block_hash: leg.block_hash.clone().unwrap_or_default(),
        log_index: 0,
        status: PaymentTxStatus::Pending,
        source: PaymentSource::BatchAuthorization,
        created_at_ms: state.clock.now_ms(),
    };
    Ok(decided(RelayItemStatus::Relayed, None, Some(claim)))
}
