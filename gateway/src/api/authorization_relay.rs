//! Relaying a checked EIP-3009 authorization for an intent: the chain's relaying wallet, the
//! checks before anything is sent, and the relay itself (one transaction from the hot wallet,
//! or queued for a `BatchRelayer` batch where the chain batches). Shared by the wallet path
//! ([`super::wallet_payments`]) and x402 settlement.

use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::address::Address;
use rialto_core::intent::PaymentIntent;
use rialto_evm::chain::EvmChain;
use rialto_evm::eip3009::{self, Authorization, ExpectedPayment};
use rialto_evm::error::AuthorizationError;
use serde_json::json;

use super::wallet_payments::{claim_relay, EIP3009_RELAY};
use super::{json_response, AppState};
use crate::chain::rail::{FeeLimits, LegAction, LegRequest, StoreJournal};
use crate::chain::Chain;
use crate::error::{ApiError, ErrorCode};

/// The chain's relaying wallet and its address.
pub(crate) fn relayer(
    chain: &Chain,
) -> Result<(&rialto_connectors::rail::SigningKey, Address), ApiError> {
    let hot = chain.hot_wallet.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ChainUnavailable,
            "This chain has no relaying wallet configured.",
        )
    })?;
    let address = chain
        .node
        .address_of(hot)
        .map_err(|e| ApiError::internal(&e))?;
    Ok((hot, address))
}

/// Everything checked before an authorization is relayed: the signature, payee, amount,
/// window, chain and nonce off-chain, then the nonce state and balance on chain, then a
/// simulation from the relayer. Answers the `transferWithAuthorization` calldata.
/// `claimed_chain` is the chain id the wallet says it signed for, so a wrong chain gets its
/// own error rather than a bad signature.
pub(crate) async fn check_authorization(
    evm: &EvmChain,
    expected: &ExpectedPayment,
    auth: &Authorization,
    signature: &[u8],
    claimed_chain: Option<u64>,
    now_secs: u64,
) -> Result<alloy::primitives::Bytes, AuthorizationError> {
    let chain_error = |e: rialto_evm::EvmError| AuthorizationError::Chain(Box::new(e));
    let provider = rialto_evm::connect(evm.rpc_url())
        .await
        .map_err(chain_error)?;
    // The token's domain remembered and the signature well formed: the four reads go to the
    // node in one batch, judged in the same order. Otherwise (a token's first authorization,
    // a domain that changed, a malformed signature) one by one.
    let remembered = eip3009::remembered_domain(evm.rpc_url(), &expected.token);
    if let (Some(domain), Ok(calldata)) = (remembered, eip3009::calldata(auth, signature)) {
        let mut read = eip3009::read_together(
            &provider,
            &expected.token,
            auth,
            &expected.relayer,
            &calldata,
        )
        .await
        .map_err(chain_error)?;
        if let Some(mut domain) = read.domain(domain).map_err(chain_error)? {
            if let Some(claimed) = claimed_chain {
                domain.chain_id = claimed;
            }
            eip3009::verify_offchain(&domain, auth, signature, expected, now_secs)?;
            read.verdict(auth)?;
            return Ok(calldata);
        }
    }
    let mut domain = eip3009::read_domain_cached(&provider, evm.rpc_url(), &expected.token)
        .await
        .map_err(chain_error)?;
    if let Some(claimed) = claimed_chain {
        domain.chain_id = claimed;
    }
    eip3009::verify_offchain(&domain, auth, signature, expected, now_secs)?;
    eip3009::check_onchain(&provider, &expected.token, auth).await?;
    let calldata = eip3009::calldata(auth, signature)
        .map_err(|_| AuthorizationError::BadSignature("the signature is malformed"))?;
    eip3009::simulate(&provider, &expected.relayer, &expected.token, &calldata).await?;
    Ok(calldata)
}

/// Relays checked calldata from the chain's hot wallet as the intent's relay leg (recorded
/// before it is sent, at most once per intent) and binds its transaction to the intent, so
/// the chain worker confirms, screens and books it like any payment. Answers the tx hash.
pub(crate) async fn relay_for_intent(
    state: &AppState,
    intent: &PaymentIntent,
    chain: &Chain,
    hot: &rialto_connectors::rail::SigningKey,
    calldata: alloy::primitives::Bytes,
    units: u128,
) -> Result<String, ApiError> {
    if let Some(lanes) = state.batch_relays.get(intent.livemode, &chain.caip2) {
        return relay_batched(state, intent, lanes, &calldata).await;
    }
    let journal = StoreJournal(state.store.as_ref());
    let rail = chain.rail(&journal);
    let asset = &intent.settlement.asset;
    let reference = intent.id.to_string();
    let request = LegRequest {
        purpose: EIP3009_RELAY,
        reference: reference.clone(),
        payment_intent_id: Some(intent.id),
        from: hot.clone(),
        action: LegAction::Call {
            to: asset.contract,
            value: 0,
            data: calldata.to_vec(),
            moves: Some((asset.contract, units)),
        },
        // The payment transaction bound below is watched by this leg's first hash: a
        // replacement landing under another hash would leave the payment unseen.
        fees: FeeLimits {
            pinned: true,
            ..FeeLimits::default()
        },
    };
    let sent = rail.send(&request, state.clock.now_ms()).await;
    // Stored means it will be sent (the worker re-broadcasts it), even if this call failed
    // after storing: bind it to the intent either way, so the money is never unattributed.
    let stored = state
        .store
        .get_chain_transfer(EIP3009_RELAY, &reference)
        .await?;
    if let Some(leg) = &stored {
        claim_relay(state, intent, chain, leg).await?;
    }
    match (sent, stored) {
        (Ok(leg), _) | (Err(_), Some(leg)) => Ok(leg.tx_hash),
        (Err(e), None) => {
            tracing::warn!(error = %e, intent = %intent.id, "relaying an authorization failed");
            Err(ApiError::new(
                ErrorCode::ChainUnavailable,
                "The authorization could not be relayed; retry shortly.",
            ))
        }
    }
}

/// Relays checked calldata in a batch (the chain has a `BatchRelayer`): queued at most once per
/// intent, then answered with the batch transaction once its outcome is known (or once it is
/// recorded, when the batch takes longer than `answer_within_ms`). A skipped item is refused
/// with the token's reason; the intent still awaits payment.
pub(crate) async fn relay_batched(
    state: &AppState,
    intent: &PaymentIntent,
    lanes: &crate::batch_relay::BatchLanes,
    calldata: &[u8],
) -> Result<String, ApiError> {
    use crate::batch_relay::QueuedOutcome as Q;
    let outcome =
        crate::batch_relay::enqueue_and_wait(state, &state.batch_relays, lanes, intent, calldata)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, intent = %intent.id, "queueing an authorization failed");
                ApiError::new(
                    ErrorCode::ChainUnavailable,
                    "The authorization could not be queued for relaying; retry shortly.",
                )
            })?;
    match outcome {
        Q::Relayed { tx_hash }
        | Q::InFlight {
            tx_hash: Some(tx_hash),
        } => Ok(tx_hash),
        Q::InFlight { tx_hash: None } => Err(ApiError::new(
            ErrorCode::ChainUnavailable,
            "The authorization is queued for relaying; submit it again to follow it.",
        )),
        Q::Skipped { reason } => Err(ApiError::new(
            ErrorCode::AuthorizationWouldRevert,
            format!(
                "The token refused this authorization when it was relayed ({reason}); nothing \
                 moved and the payment intent still awaits payment."
            ),
        )),
        Q::Failed { .. } => Err(ApiError::new(
            ErrorCode::ChainUnavailable,
            "The transaction carrying this authorization failed; nothing moved. Submit it again.",
        )),
        Q::AnotherQueued => Err(ApiError::new(
            ErrorCode::AuthorizationAlreadyRelayed,
            "An authorization for this payment intent was already relayed.",
        )),
    }
}

/// Screens the payer of an authorization before it is queued for a batch (the batch is sent
/// with others' payments, so a refused payer must never get into one).
pub(crate) async fn screen_payer(
    state: &AppState,
    intent: &PaymentIntent,
    payer: &Address,
) -> Result<(), ApiError> {
    use crate::compliance::flow::{screen_outgoing, OutgoingAddress};
    let now = state.clock.now_ms();
    state.compliance.ensure_fresh_for(intent.livemode, now)?;
    let at = OutgoingAddress {
        role: rialto_compliance::decision::AddressRole::Payer,
        point: "authorization_payer",
        intent: Some(intent.id),
    };
    if screen_outgoing(state, &intent.merchant_id, intent.livemode, payer, at, now).await? {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::PayerRefused,
        "This payment cannot be accepted.",
    ))
}

pub(crate) fn relayed(intent: &PaymentIntent, chain: &Chain, tx_hash: &str) -> Response {
    let body = json!({
        "object": "payment_authorization",
        "payment_intent": intent.id.to_string(),
        "chain": chain.caip2,
        "tx_hash": tx_hash,
        "status": "relayed",
    });
    json_response(StatusCode::ACCEPTED, body.to_string())
}
