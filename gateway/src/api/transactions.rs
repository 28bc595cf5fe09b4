//! `POST /v1/payment_intents/{id}/transactions`: the payer (or the SDK) reports the
//! transaction that paid an intent. The gateway reads it from the chain itself — token,
//! recipient, amount, success, confirmations — binds it to this one intent (a transaction can
//! never pay two), and hands the observed payer to the funds screening.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::intent::PaymentStatus;
use rialto_core::money::Money;
use rialto_evm::transfers::observe_transfer;
use rialto_evm::EvmError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::payment_intents::PaymentIntentObject;
use super::wallet_payments::load_intent;
use super::{intent_json, json_response, AppState, Caller};
use crate::chain::covers;
use crate::compliance::flow::{screen_received_funds, FundsSubject};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::chain::{TX_CONFIRMED, TX_PENDING};
use crate::store::PaymentTransaction;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitTransactionParams {
    /// `0x` and 64 hex digits.
    pub tx_hash: String,
    /// Defaults to the intent's settlement chain, the only one accepted for now.
    pub chain: Option<String>,
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

fn chain_error(err: EvmError) -> ApiError {
    match err {
        EvmError::TxHash(_) => ApiError::new(
            ErrorCode::TransactionInvalid,
            "tx_hash must be 0x followed by 64 hex digits.",
        )
        .param("tx_hash"),
        EvmError::TxNotFound(_) => ApiError::new(
            ErrorCode::TransactionNotFound,
            "That transaction is not mined on this chain (yet). Retry once it is.",
        )
        .param("tx_hash"),
        EvmError::TxFailed(_) => ApiError::new(
            ErrorCode::TransactionFailed,
            "That transaction failed on chain; it moved no funds.",
        )
        .param("tx_hash"),
        EvmError::NoMatchingTransfer { .. } => ApiError::new(
            ErrorCode::TransactionMismatch,
            "That transaction does not pay this intent's settlement asset to its settlement \
             address.",
        )
        .param("tx_hash"),
        other => {
            tracing::warn!(error = %other, "chain unavailable while verifying a payment");
            ApiError::new(
                ErrorCode::ChainUnavailable,
                "The chain could not be reached to verify the transaction; retry shortly.",
            )
        }
    }
}

/// Report the transaction that paid an intent (payers use the publishable key and the
/// intent's client secret). It is verified on chain before anything changes.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/transactions", operation_id = "submit_payment_transaction",
    tag = "payment_intents", params(("id" = String, Path)), request_body = SubmitTransactionParams,
    responses((status = 200, body = PaymentIntentObject), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: SubmitTransactionParams = parse_json(&body)?;
    let intent = load_intent(&state, &caller, &id, params.client_secret.as_deref()).await?;
    let asset = &intent.settlement.asset;
    let chain_id = asset.id.chain().to_string();
    if let Some(chain) = &params.chain {
        let named = state.registry.chain(chain).map(|c| c.id.to_string());
        if named.as_deref() != Some(chain_id.as_str()) {
            return Err(ApiError::new(
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
                ApiError::new(
            ErrorCode::ChainUnavailable,
            format!("This gateway watches no RPC for {chain_id}; start it with --devnet-manifest."),
        )
            })?;
    let observed = observe_transfer(
        chain.rpc_url(),
        &params.tx_hash,
        &asset.contract,
        &intent.settlement.address,
    )
    .await
    .map_err(chain_error)?;
    let paid = Money::from_base_units(observed.amount_units, asset.currency())
        .map_err(|e| ApiError::internal(&e))?;
    if !covers(&intent, &paid) {
        return Err(ApiError::new(
            ErrorCode::TransactionAmountTooLow,
            format!(
                "The transaction paid {} {}; this intent needs {} {}.",
                paid.to_amount_string(),
                asset.code,
                intent.amount.to_amount_string(),
                intent.amount.currency().code()
            ),
        )
        .param("tx_hash"));
    }
    let now = state.clock.now_ms();
    let already_ours = state
        .store
        .payment_transactions_of(&intent.id)
        .await?
        .iter()
        .any(|p| p.chain_id == chain_id && p.tx_hash == observed.tx_hash);
    if already_ours || intent.status != PaymentStatus::AwaitingFunds {
        if already_ours {
            // A retry of a report that already went through: answer as it stands.
            return Ok(json_response(StatusCode::OK, intent_json(&intent)));
        }
        return Err(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            format!(
                "This payment intent is {}; it takes no new payment.",
                intent.status
            ),
        ));
    }
    if now > intent.expires_at_ms {
        return Err(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            "This payment intent's funding window has closed.",
        ));
    }
    // The gateway's own transfers (sweeps, payouts, relays of other intents) and anything
    // mined before the intent existed can never pay it: they are someone else's money.
    if let Some(leg) = state
        .store
        .chain_transfer_by_hash(&chain_id, &observed.tx_hash)
        .await?
    {
        let own_relay = leg.draft.purpose == crate::api::wallet_payments::EIP3009_RELAY
            && leg.draft.payment_intent_id == Some(intent.id);
        if !own_relay {
            return Err(ApiError::new(
                ErrorCode::TransactionAlreadyUsed,
                "That transaction already paid another payment intent.",
            )
            .param("tx_hash"));
        }
    }
    let mined_ms = i64::try_from(observed.block_timestamp)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    // A minute of slack for the chain's clock against ours.
    if mined_ms < intent.created_at_ms - 60_000 {
        return Err(ApiError::new(
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
        payer: observed.from.to_string(),
        amount: paid.to_amount_string(),
        asset: asset.id.to_string(),
        block_number: i64::try_from(observed.block_number).unwrap_or(i64::MAX),
        block_hash: observed.block_hash.clone(),
        log_index: i64::try_from(observed.log_index).unwrap_or(i64::MAX),
        status: if confirmed { TX_CONFIRMED } else { TX_PENDING }.to_owned(),
        source: "transaction".to_owned(),
        created_at_ms: now,
    };
    if state.store.claim_transaction(&claim).await? != intent.id {
        return Err(ApiError::new(
            ErrorCode::TransactionAlreadyUsed,
            "That transaction already paid another payment intent.",
        )
        .param("tx_hash"));
    }
    if !confirmed {
        return Ok(json_response(StatusCode::ACCEPTED, intent_json(&intent)));
    }
    let subject = FundsSubject {
        chain: chain_id,
        payer_addresses: vec![observed.from.to_string()],
        asset: Some(asset.code.clone()),
        amount: Some(paid.to_amount_string()),
        tx_hash: Some(observed.tx_hash),
        payer_name: None,
        payer_country: None,
        account_holder: None,
        travel_rule: None,
    };
    let outcome = screen_received_funds(&state, &intent, subject, now).await?;
    Ok(json_response(StatusCode::OK, intent_json(outcome.intent())))
}
