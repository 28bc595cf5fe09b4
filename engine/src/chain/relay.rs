//! EIP-3009 relays: binding the transaction of a relayed `transferWithAuthorization` to the
//! intent it pays, so the chain worker confirms and screens it like any payment.

use rialto_core::intent::PaymentIntent;
use rialto_core::money::Money;

use crate::chain::Chain;
use crate::error::EngineError;
use crate::services::Engine;
use crate::store::chain::ChainTransfer;
use crate::store::PaymentTransaction;
use crate::store::{PaymentSource, PaymentTxStatus};

/// The payer of a relay's payment transaction until it confirms (not an address).
pub const RELAY_PAYER_PENDING: &str = "eip3009";

/// Binds a stored relay leg's transaction to its intent (idempotent); `transaction_already_used`
/// if another intent holds it. The payer and amount
/// are read again from the chain when it confirms; these are only what the leg says.
/// A relay made out to the intent's deposit address is not bound here: the deposit watcher
/// attributes it like any transfer into that address, and the deposit policy judges it.
pub async fn claim_relay(
    state: &Engine,
    intent: &PaymentIntent,
    chain: &Chain,
    leg: &ChainTransfer,
) -> Result<(), EngineError> {
    if pays_deposit_address(state, intent, leg).await? {
        return Ok(());
    }
    let asset = &intent.settlement.asset;
    let units: u128 = leg
        .draft
        .amount_units
        .as_deref()
        .and_then(|u| u.parse().ok())
        .unwrap_or_default();
    let paid =
        Money::from_base_units(units, asset.currency()).map_err(|e| EngineError::internal(&e))?;
    let claim = PaymentTransaction {
        chain_id: chain.caip2.clone(),
        tx_hash: leg.tx_hash.clone(),
        payment_intent_id: intent.id,
        // Unknown until the chain says who authorized it: the watcher records the sender when
        // the relay confirms (refunds go back to it).
        payer: RELAY_PAYER_PENDING.to_owned(),
        amount: paid.to_amount_string(),
        asset: asset.id.to_string(),
        block_number: 0,
        block_hash: String::new(),
        log_index: 0,
        status: PaymentTxStatus::Pending,
        source: PaymentSource::Authorization,
        created_at_ms: leg.draft.created_at_ms,
    };
    if state.store.claim_transaction(&claim).await? != intent.id {
        // Cannot happen for a relay the gateway built (its hash is its own leg's, and a report
        // of it for another intent is refused); if it ever does, the payer must hear of it.
        tracing::error!(intent = %intent.id, tx = %leg.tx_hash, "a relay's transaction is bound to another intent");
        return Err(super::report::already_used());
    }
    Ok(())
}

/// Whether a relay leg's authorization pays the intent's deposit address: its calldata names
/// that address (ABI-encoded, 20 bytes, lower-case hex in the signed transaction).
pub async fn pays_deposit_address(
    state: &Engine,
    intent: &PaymentIntent,
    leg: &ChainTransfer,
) -> Result<bool, EngineError> {
    let Some(deposit) = state.store.get_deposit_address(&intent.id).await? else {
        return Ok(false);
    };
    let hex = deposit
        .address
        .trim_start_matches("0x")
        .to_ascii_lowercase();
    Ok(hex.len() == 40 && leg.raw_tx.to_ascii_lowercase().contains(&hex))
}
