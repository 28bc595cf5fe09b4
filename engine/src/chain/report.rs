//! A payer's report of the transaction that paid an intent. The engine reads it from the
//! chain itself (token, recipient, amount, success, confirmations), checks the payer's proof
//! that the transfer is theirs ([`super::proof`]: a signature over the intent id and the hash
//! by a sender of it), binds it to this one intent (a transaction can never pay two) and hands
//! every sender it observed to the funds screening once it has its confirmations. Only the
//! proven sender's own part of the transaction counts toward the intent.

use rialto_connectors::chain::{ChainError, ObservedTransfer};
use rialto_core::address::Address;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rialto_core::money::Money;

use super::direct::{self, Judged};
use super::{Chain, EIP3009_RELAY};
use crate::compliance::flow::FundsSubject;
use crate::error::{EngineError, ErrorCode};
use crate::services::Engine;
use crate::store::PaymentTransaction;
use crate::store::{PaymentSource, PaymentTxStatus};

/// Where a reported transaction left the intent.
#[derive(Debug)]
pub enum Reported {
    /// Bound to the intent, waiting for its confirmations (the chain watcher screens it).
    Pending(PaymentIntent),
    /// Confirmed and screened (or a repeated report): the intent as it now stands.
    Screened(PaymentIntent),
}

/// The transaction is bound to another intent (or is one of the gateway's own transfers).
pub(crate) fn already_used() -> EngineError {
    EngineError::new(
        ErrorCode::TransactionAlreadyUsed,
        "That transaction already paid another payment intent.",
    )
    .param("tx_hash")
}

pub(crate) fn chain_error(err: ChainError) -> EngineError {
    match err {
        ChainError::TxRef(_) => EngineError::new(
            ErrorCode::TransactionInvalid,
            "tx_hash must be 0x followed by 64 hex digits.",
        )
        .param("tx_hash"),
        ChainError::TxNotFound(_) => EngineError::new(
            ErrorCode::TransactionNotFound,
            "That transaction is not mined on this chain (yet). Retry once it is.",
        )
        .param("tx_hash"),
        ChainError::TxFailed(_) => EngineError::new(
            ErrorCode::TransactionFailed,
            "That transaction failed on chain; it moved no funds.",
        )
        .param("tx_hash"),
        ChainError::NoMatchingTransfer { .. } => EngineError::new(
            ErrorCode::TransactionMismatch,
            "That transaction does not pay this intent's settlement asset to its settlement \
             address.",
        )
        .param("tx_hash"),
        other => {
            tracing::warn!(error = %other, "chain unavailable while verifying a payment");
            EngineError::new(
                ErrorCode::ChainUnavailable,
                "The chain could not be reached to verify the transaction; retry shortly.",
            )
        }
    }
}

/// A transfer read from the chain, with the sender that proved it theirs and that sender's
/// part of it.
struct Proven<'a> {
    chain: &'a Chain,
    observed: ObservedTransfer,
    payer: Address,
    paid: Money,
    /// The merchant's payment policy on it (`super::direct`).
    judged: Judged,
}

/// Verifies the reported transaction on the intent's settlement chain and the payer's proof
/// (`signature`, see [`super::proof`]), binds it to the intent and, once it has its
/// confirmations, screens the funds. A missing proof is refused before the chain is read, a
/// wrong one before anything is bound.
pub async fn report_transaction(
    state: &Engine,
    intent: &PaymentIntent,
    tx_hash: &str,
    chain: Option<&str>,
    signature: Option<&str>,
) -> Result<Reported, EngineError> {
    let signature = super::proof::signature_bytes(signature)?;
    if !super::payable(intent) {
        // A conversion intent's amount is known only once its rate is locked; a transfer
        // sent before that cannot have been for the right amount.
        return Err(EngineError::new(
            ErrorCode::PaymentMethodUnavailable,
            format!(
                "This intent is in {} and settles in {}: lock its rate first \
                 (POST /v1/payment_intents/{}/fx_lock) and send the amount it gives.",
                intent.amount.currency().code(),
                intent.settlement.asset.code,
                intent.id
            ),
        ));
    }
    let proven = verify(state, intent, tx_hash, chain, &signature).await?;
    bind(state, intent, proven).await
}

/// The transfer the transaction made to the intent's settlement address, if a sender of it
/// proved it and that sender's part covers the intent.
async fn verify<'a>(
    state: &'a Engine,
    intent: &PaymentIntent,
    tx_hash: &str,
    chain: Option<&str>,
    signature: &[u8],
) -> Result<Proven<'a>, EngineError> {
    let asset = &intent.settlement.asset;
    let chain_id = asset.id.chain().to_string();
    if let Some(chain) = &chain {
        let named = state.registry.chain(chain).map(|c| c.id.to_string());
        if named.as_deref() != Some(chain_id.as_str()) {
            return Err(EngineError::new(
                ErrorCode::InvalidChain,
                format!(
                    "Pay this intent on its settlement chain, {}.",
                    asset.chain_alias
                ),
            )
            .param("chain"));
        }
    }
    let chain =
        state
            .chains
            .get(intent.livemode, &chain_id)
            .ok_or_else(|| {
                EngineError::new(
            ErrorCode::ChainUnavailable,
            format!("This gateway watches no RPC for {chain_id}; start it with --devnet-manifest."),
        )
            })?;
    let observed = chain
        .node
        .observe_transfer(tx_hash, &asset.contract, &intent.settlement.address)
        .await
        .map_err(chain_error)?;
    let payer = super::proof::proven_sender(
        chain.node.as_ref(),
        &observed,
        &intent.id.to_string(),
        signature,
    )
    .await?;
    // Only the prover's own transfers count: another sender's funds in the same transaction
    // (a batch, someone's relayed authorization) are not theirs to claim.
    let paid = Money::from_base_units(observed.units_from(&payer), asset.currency())
        .map_err(|e| EngineError::internal(&e))?;
    let settings =
        crate::settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode).await?;
    let judged = direct::judge(intent, &settings, paid.amount(), mined_ms(&observed));
    match &judged {
        Judged::TooLow { minimum } => return Err(direct::too_low(intent, paid.amount(), *minimum)),
        // A conversion intent not locked yet: nothing it could be judged against.
        Judged::Refused if super::due(intent).is_none() => {
            return Err(EngineError::new(
                ErrorCode::TransactionAmountTooLow,
                format!(
                    "The transaction paid {} {}; this intent needs {}.",
                    paid.to_amount_string(),
                    asset.code,
                    needed(intent)
                ),
            )
            .param("tx_hash"))
        }
        _ => {}
    }
    Ok(Proven {
        chain,
        observed,
        payer,
        paid,
        judged,
    })
}

/// When the transfer's block was mined: when the funds reached the merchant.
fn mined_ms(observed: &ObservedTransfer) -> i64 {
    i64::try_from(observed.block_timestamp)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
}

/// Binds the observed transfer to the intent (once, against every other intent) and screens
/// it when it has its confirmations.
/// What the intent needs, in words: `108.000001 usdc`, with the fiat price when locked.
fn needed(intent: &PaymentIntent) -> String {
    let asset = &intent.settlement.asset.code;
    match super::due(intent) {
        Some(due) if intent.fx.is_some() => format!(
            "{} {asset} ({} {} at the locked rate)",
            due.to_amount_string(),
            intent.amount.to_amount_string(),
            intent.amount.currency().code()
        ),
        Some(due) => format!("{} {asset}", due.to_amount_string()),
        None => format!(
            "{} {}",
            intent.amount.to_amount_string(),
            intent.amount.currency().code()
        ),
    }
}

async fn bind(
    state: &Engine,
    intent: &PaymentIntent,
    proven: Proven<'_>,
) -> Result<Reported, EngineError> {
    let Proven {
        chain,
        observed,
        payer,
        paid,
        judged,
    } = proven;
    let asset = &intent.settlement.asset;
    let chain_id = asset.id.chain().to_string();
    let now = state.clock.now_ms();
    let already_ours = state
        .store
        .payment_transactions_of(&intent.id)
        .await?
        .iter()
        .any(|p| p.chain_id == chain_id && p.tx_hash == observed.tx_hash);
    if already_ours {
        // A retry of a report that already went through: answer as it stands.
        return Ok(Reported::Screened(intent.clone()));
    }
    // An expired intent still hears of a payment: the late-payment policy reopens it or
    // records what the merchant owes the payer (`super::direct`).
    if judged == Judged::Refused
        || !matches!(
            intent.status,
            PaymentStatus::AwaitingFunds | PaymentStatus::Expired
        )
    {
        return Err(EngineError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            format!(
                "This payment intent is {}; it takes no new payment.",
                intent.status
            ),
        ));
    }
    // The gateway's own transfers (sweeps, payouts, relays of other intents) and anything
    // mined before the intent existed can never pay it: they are someone else's money.
    if let Some(leg) = state
        .store
        .chain_transfer_by_hash(&chain_id, &observed.tx_hash)
        .await?
    {
        let own_relay =
            leg.draft.purpose == EIP3009_RELAY && leg.draft.payment_intent_id == Some(intent.id);
        if !own_relay {
            return Err(already_used());
        }
    }
    // A minute of slack for the chain's clock against ours.
    if mined_ms(&observed) < intent.created_at_ms - 60_000 {
        return Err(EngineError::new(
            ErrorCode::TransactionPredatesIntent,
            "That transaction was mined before this payment intent was created.",
        )
        .param("tx_hash"));
    }
    // Not deep enough yet: bind it now (so no other intent can take it) and let the chain
    // watcher screen it once it has the confirmations.
    let confirmed = observed.confirmations >= chain.confirmations;
    let claim = PaymentTransaction {
        chain_id: chain_id.clone(),
        tx_hash: observed.tx_hash.clone(),
        payment_intent_id: intent.id,
        payer: payer.to_string(),
        amount: paid.to_amount_string(),
        asset: asset.id.to_string(),
        block_number: i64::try_from(observed.block_number).unwrap_or(i64::MAX),
        block_hash: observed.block_hash.clone(),
        log_index: i64::try_from(observed.log_index).unwrap_or(i64::MAX),
        status: if confirmed {
            PaymentTxStatus::Confirmed
        } else {
            PaymentTxStatus::Pending
        }
        .to_owned(),
        source: PaymentSource::Transaction,
        created_at_ms: now,
    };
    if state.store.claim_transaction(&claim).await? != intent.id {
        return Err(already_used());
    }
    if !confirmed {
        return Ok(Reported::Pending(intent.clone()));
    }
    let subject = FundsSubject {
        chain: chain_id,
        payer_addresses: observed.sender_texts(),
        asset: Some(asset.code.clone()),
        amount: Some(paid.to_amount_string()),
        tx_hash: Some(observed.tx_hash),
        payer_name: None,
        payer_country: None,
        payer_identifiers: Default::default(),
        account_holder: None,
        travel_rule: None,
    };
    direct::apply(state, intent, judged, subject, now).await?;
    let current = state
        .store
        .get_intent_unscoped(&intent.id)
        .await?
        .unwrap_or_else(|| intent.clone());
    Ok(Reported::Screened(current))
}
