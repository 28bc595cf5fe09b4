//! Solana Pay by reference: an intent settling on Solana carries a fresh reference key in its
//! payment request, the payer's wallet adds it to the transfer instruction as a read-only
//! account, and this watcher finds the payment by that key alone, with no report from the
//! payer. A transaction naming the key is bound to the intent only if the chain shows it paying
//! the intent's settlement address exactly the amount in the intent's mint; anything else
//! naming the key (another mint, another recipient, another amount, one of the gateway's own
//! legs) is left unbound. Bound, it is an ordinary pending payment transaction: the tracker
//! waits for its confirmations, reads it again, screens it and the intent moves on.

use rialto_connectors::chain::ChainError;
use rialto_core::address::Address;
use rialto_core::intent::PaymentIntent;
use rialto_core::money::Money;

use super::rail::FlowError;
use super::{block_i64, Chain};
use crate::services::Engine;
use crate::store::{PaymentSource, PaymentTransaction, PaymentTxStatus};

/// Intents looked at per pass, oldest first.
const PAGE: u32 = 500;

/// Looks for the payment of every open intent on `chain` that carries a reference. Returns
/// how many payment transactions it bound.
pub async fn scan_references(
    state: &Engine,
    chain: &Chain,
    now_ms: i64,
) -> Result<usize, FlowError> {
    let mut bound = 0;
    let intents = state
        .store
        .reference_intents(&chain.caip2, chain.livemode, PAGE)
        .await?;
    for intent in intents {
        let Some(reference) = intent.payment_reference else {
            continue;
        };
        if !chain.serves(&intent) || !super::one_for_one(&intent) {
            continue;
        }
        match bind_by_reference(state, chain, &intent, &reference, now_ms).await {
            Ok(true) => bound += 1,
            Ok(false) => {}
            // One intent whose lookup fails must not hold up the others.
            Err(err) => {
                tracing::warn!(intent = %intent.id, error = %err, "reference lookup failed; will retry")
            }
        }
    }
    Ok(bound)
}

/// The intent's amount in its settlement asset's base units: what its request asks for.
fn requested_units(intent: &PaymentIntent) -> Result<u128, FlowError> {
    Money::parse(
        &intent.amount.to_amount_string(),
        intent.settlement.asset.currency(),
    )
    .and_then(|m| m.to_base_units())
    .map_err(|e| FlowError::Chain(ChainError::Invalid(e.to_string())))
}

/// Binds the first transaction naming `reference` that pays the intent's request exactly.
async fn bind_by_reference(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    reference: &Address,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let asset = &intent.settlement.asset;
    let units = requested_units(intent)?;
    for tx in chain.node.transactions_naming(reference).await? {
        // The gateway's own legs never pay an intent, whatever keys they name.
        if store
            .chain_transfer_by_hash(&chain.caip2, &tx)
            .await?
            .is_some()
        {
            continue;
        }
        let observed = match chain
            .node
            .observe_transfer(&tx, &asset.contract, &intent.settlement.address)
            .await
        {
            Ok(observed) => observed,
            Err(
                ChainError::NoMatchingTransfer { .. }
                | ChainError::TxFailed(_)
                | ChainError::TxNotFound(_),
            ) => {
                tracing::warn!(intent = %intent.id, %tx, "names the intent's reference but pays another mint or recipient; not bound");
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        if observed.amount_units != units {
            tracing::warn!(intent = %intent.id, %tx, paid = observed.amount_units, asked = units, "names the intent's reference but pays another amount; not bound");
            continue;
        }
        let paid = Money::from_base_units(units, asset.currency())
            .map_err(|e| FlowError::Chain(ChainError::Invalid(e.to_string())))?;
        let claim = PaymentTransaction {
            chain_id: chain.caip2.clone(),
            tx_hash: observed.tx_hash.clone(),
            payment_intent_id: intent.id,
            payer: observed.from.to_string(),
            amount: paid.to_amount_string(),
            asset: asset.id.to_string(),
            block_number: block_i64(observed.block_number),
            block_hash: observed.block_hash.clone(),
            log_index: block_i64(observed.log_index),
            status: PaymentTxStatus::Pending,
            source: PaymentSource::Reference,
            created_at_ms: now_ms,
        };
        // The claim is unique per transaction: one bound elsewhere is not this intent's.
        if store.claim_transaction(&claim).await? == intent.id {
            return Ok(true);
        }
    }
    Ok(false)
}
