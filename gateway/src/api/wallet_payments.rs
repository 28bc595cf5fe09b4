//! The two wallet payment paths besides reporting a transaction:
//!
//! - `POST /v1/payment_intents/{id}/deposit_address`: a per-intent address (BIP-44 derived on
//!   EVM chains, a Solana wallet of `rialto_solana::deposit` on Solana) with a payment URI for
//!   wallets that can only scan a QR code (EIP-681; a Solana Pay transfer request). The chain
//!   watcher sees the transfer, waits for its confirmations, screens it and sweeps it to the
//!   merchant (on Solana the gateway's hot wallet pays the sweep's fee).
//! - `GET /v1/payment_intents/{id}/authorization_request` and
//!   `POST /v1/payment_intents/{id}/authorizations`: gasless USDC/EURC (EIP-3009). The payer
//!   signs `transferWithAuthorization` to the settlement address with a nonce bound to the
//!   intent; the gateway checks the signature, amount, window, chain and nonce off-chain, the
//!   nonce state and balance on chain, simulates, then relays it from its hot wallet (recorded
//!   before it is sent, at most once per intent) and follows it like any payment.

use super::extract::{Path, Query};
use alloy::primitives::U256;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::address::Address;
use rialto_core::id::PaymentIntentId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rialto_core::money::Money;
use rialto_core::ChainNamespace;
use rialto_evm::chain::EvmChain;
use rialto_evm::eip3009::{self, Authorization, AuthorizationKind, ExpectedPayment};
use rialto_evm::error::AuthorizationError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::body::{parse_json, RawBody};
use super::{json_response, parse_id, AppState, Caller};
use crate::chain::rail::{FeeLimits, LegAction, LegRequest, StoreJournal};
use crate::chain::Chain;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::keys::constant_time_eq;
use crate::store::KeyKind;

pub use rialto_engine::chain::relay::claim_relay;
pub use rialto_engine::chain::EIP3009_RELAY;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientSecretParams {
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

/// A per-intent deposit address.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepositAddressObject {
    /// `deposit_address`.
    pub object: String,
    pub payment_intent: String,
    /// CAIP-2.
    pub chain: String,
    pub chain_alias: String,
    /// The asset to send (the intent's settlement asset).
    pub asset: String,
    /// The token contract (EVM) or mint (Solana).
    pub token_contract: String,
    /// The deposit address: EIP-55 hex on EVM chains, base58 on Solana.
    pub address: String,
    /// Whole units of `asset`, e.g. `"25.000000"`.
    pub amount: String,
    /// Base units of `asset`.
    pub amount_units: String,
    /// A payment request a wallet can scan: on EVM chains EIP-681,
    /// `ethereum:<token>@<chain>/transfer?address=…&uint256=…`; on Solana a Solana Pay transfer
    /// request, `solana:<deposit address>?amount=…&spl-token=<mint>`.
    pub uri: String,
}

/// Loads an intent for its merchant, or for a payer holding its client secret (anything else
/// is "no such intent", so a publishable key cannot probe ids).
pub(crate) async fn load_intent(
    state: &AppState,
    caller: &Caller,
    id: &str,
    client_secret: Option<&str>,
) -> Result<PaymentIntent, ApiError> {
    let intent_id: PaymentIntentId = parse_id(id, "payment_intent")?;
    let not_found = || ApiError::missing("payment_intent", id, "id");
    let intent = state
        .store
        .get_intent(&caller.merchant_id, caller.livemode, &intent_id)
        .await?
        .ok_or_else(not_found)?;
    if caller.kind == KeyKind::Publishable {
        let given = client_secret.unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), intent.client_secret.as_bytes()) {
            return Err(not_found());
        }
    }
    Ok(intent)
}

/// Refuses a payment that would need a conversion quote (e.g. a EUR intent settling in USDC):
/// these paths move the settlement asset one for one.
pub(crate) fn payable_directly(intent: &PaymentIntent) -> Result<(), ApiError> {
    if crate::chain::one_for_one(intent) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::PaymentMethodUnavailable,
        format!(
            "This intent is in {} and settles in {}: it needs a conversion quote, which this \
             payment method cannot give.",
            intent.amount.currency().code(),
            intent.settlement.asset.code
        ),
    ))
}

pub(crate) fn awaiting(intent: &PaymentIntent) -> Result<(), ApiError> {
    payable_directly(intent)?;
    if intent.status != PaymentStatus::AwaitingFunds {
        return Err(ApiError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            format!(
                "This payment intent is {}; only an intent awaiting funds can be paid.",
                intent.status
            ),
        ));
    }
    Ok(())
}

fn chain_of<'a>(state: &'a AppState, intent: &PaymentIntent) -> Result<&'a Chain, ApiError> {
    let chain_id = intent.settlement.asset.id.chain().to_string();
    state.chains.get(intent.livemode, &chain_id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ChainUnavailable,
            format!("This gateway watches no RPC for {chain_id}; start it with --devnet-manifest."),
        )
    })
}

/// The EVM chain itself, for EIP-3009 (only EVM chains take authorizations).
pub(crate) fn evm_of<'a>(state: &'a AppState, chain: &Chain) -> Result<&'a EvmChain, ApiError> {
    state
        .evm_chains
        .get(chain.livemode, &chain.caip2)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ChainUnavailable,
                format!("{} takes no EIP-3009 authorizations.", chain.caip2),
            )
        })
}

/// The intent amount in base units of its settlement asset.
fn intent_units(intent: &PaymentIntent) -> Result<u128, ApiError> {
    Money::parse(
        &intent.amount.to_amount_string(),
        intent.settlement.asset.currency(),
    )
    .and_then(|m| m.to_base_units())
    .map_err(|e| ApiError::internal(&e))
}

/// Get (or create on first call) the intent's deposit address.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/deposit_address", operation_id = "create_deposit_address",
    tag = "payment_intents", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = ClientSecretParams,
    responses((status = 200, body = DepositAddressObject), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn deposit_address(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: ClientSecretParams = if body.is_empty() {
        ClientSecretParams::default()
    } else {
        parse_json(&body)?
    };
    let intent = load_intent(&state, &caller, &id, params.client_secret.as_deref()).await?;
    awaiting(&intent)?;
    let chain = chain_of(&state, &intent)?;
    let family = intent.settlement.address.namespace();
    let keys = state
        .chains
        .deposit_keys(intent.livemode, family)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::DepositAddressesUnavailable,
                "This gateway has no deposit seed configured (sandbox.deposit_mnemonic).",
            )
        })?;
    let derive = |index: u32| keys.address(index);
    let deposit = state
        .store
        .deposit_address(&intent.id, &chain.caip2, &derive, state.clock.now_ms())
        .await?;
    let address = Address::parse(&deposit.address, family).map_err(|e| ApiError::internal(&e))?;
    let asset = &intent.settlement.asset;
    let units = intent_units(&intent)?;
    let object = DepositAddressObject {
        object: "deposit_address".into(),
        payment_intent: intent.id.to_string(),
        chain: chain.caip2.clone(),
        chain_alias: asset.chain_alias.clone(),
        asset: asset.code.clone(),
        token_contract: asset.contract.to_string(),
        address: address.to_string(),
        amount: Money::from_base_units(units, asset.currency())
            .map_err(|e| ApiError::internal(&e))?
            .to_amount_string(),
        amount_units: units.to_string(),
        uri: chain.node.payment_uri(&asset.contract, &address, units),
    };
    let body = serde_json::to_string(&object).map_err(|e| ApiError::internal(&e))?;
    Ok(json_response(StatusCode::OK, body))
}

/// The EIP-712 typed data a payer signs (with `eth_signTypedData_v4`, adding `from`) to pay the
/// intent gaslessly.
#[utoipa::path(
    get, path = "/v1/payment_intents/{id}/authorization_request", operation_id = "get_authorization_request",
    tag = "payment_intents", params(("id" = String, Path), ("client_secret" = Option<String>, Query)),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn authorization_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ClientSecretParams>,
) -> Result<Response, ApiError> {
    let intent = load_intent(&state, &caller, &id, query.client_secret.as_deref()).await?;
    awaiting(&intent)?;
    let chain = evm_of(&state, chain_of(&state, &intent)?)?;
    let asset = &intent.settlement.asset;
    let provider = rialto_evm::connect(chain.rpc_url())
        .await
        .map_err(unavailable)?;
    let domain = eip3009::read_domain(&provider, &asset.contract)
        .await
        .map_err(unavailable)?;
    let nonce = eip3009::intent_nonce(&intent.id.to_string(), chain.chain_id, &asset.contract);
    let body = json!({
        "object": "authorization_request",
        "payment_intent": intent.id.to_string(),
        "primary_type": "TransferWithAuthorization",
        "domain": {
            "name": domain.name, "version": domain.version,
            "chainId": chain.chain_id, "verifyingContract": asset.contract.to_string(),
        },
        "types": {
            "TransferWithAuthorization": [
                {"name": "from", "type": "address"}, {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"}, {"name": "validAfter", "type": "uint256"},
                {"name": "validBefore", "type": "uint256"}, {"name": "nonce", "type": "bytes32"},
            ],
        },
        "message": {
            "to": intent.settlement.address.to_string(),
            "value": intent_units(&intent)?.to_string(),
            "validAfter": "0",
            "validBefore": (intent.expires_at_ms / 1000).to_string(),
            "nonce": format!("{nonce:#x}"),
        },
    });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationParams {
    /// The payer's address (the authorization's `from`); mixed case must be EIP-55.
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub from: String,
    /// Defaults to the intent's settlement address; anything else is refused.
    #[schema(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub to: Option<String>,
    /// Base units, as a decimal string.
    #[schema(pattern = "^[0-9]{1,78}$")]
    pub value: String,
    /// Unix seconds, as decimal strings.
    #[schema(pattern = "^[0-9]{1,20}$")]
    pub valid_after: String,
    #[schema(pattern = "^[0-9]{1,20}$")]
    pub valid_before: String,
    /// `0x` + 64 hex digits: the `nonce` of the authorization request.
    #[schema(pattern = "^0x[0-9a-fA-F]{64}$")]
    pub nonce: String,
    /// `0x` + 130 hex digits (r ‖ s ‖ v).
    pub signature: String,
    /// The EIP-155 chain id the payer signed for, if the wallet says; one other than the
    /// intent's chain is refused with `authorization_wrong_chain`.
    pub chain_id: Option<u64>,
    /// Required with a publishable key.
    pub client_secret: Option<String>,
}

pub(crate) fn unavailable(err: rialto_evm::EvmError) -> ApiError {
    tracing::warn!(error = %err, "chain unavailable");
    ApiError::new(
        ErrorCode::ChainUnavailable,
        "The chain could not be reached; retry shortly.",
    )
}

pub(crate) fn invalid(param: &str, what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ParameterInvalid,
        format!("{param} must be {what}."),
    )
    .param(param)
}

pub(crate) fn authorization_error(err: AuthorizationError) -> ApiError {
    use AuthorizationError as A;
    let (code, message) = match &err {
        A::BadSignature(_) => (
            ErrorCode::AuthorizationInvalidSignature,
            "The signature is malformed.",
        ),
        A::SignerMismatch { .. } => (
            ErrorCode::AuthorizationSignerMismatch,
            "The signature was not made by `from`.",
        ),
        A::WrongRecipient { .. } => (
            ErrorCode::AuthorizationWrongRecipient,
            "The authorization must pay the intent's settlement address.",
        ),
        A::WrongAmount { .. } => (
            ErrorCode::AuthorizationAmountTooLow,
            "The authorization's value is below the intent amount.",
        ),
        A::NotYetValid { .. } => (
            ErrorCode::AuthorizationNotYetValid,
            "The authorization is not valid yet (valid_after).",
        ),
        A::Expired { .. } => (
            ErrorCode::AuthorizationExpired,
            "The authorization has expired (valid_before).",
        ),
        A::WrongChain { .. } | A::WrongToken { .. } => (
            ErrorCode::AuthorizationWrongChain,
            "The authorization was signed for another chain or token.",
        ),
        A::WrongNonce { .. } => (
            ErrorCode::AuthorizationNonceMismatch,
            "Use the nonce of this intent's authorization request.",
        ),
        A::ReceiveNeedsPayee { .. } => (
            ErrorCode::AuthorizationInvalidSignature,
            "Only transferWithAuthorization can be relayed.",
        ),
        A::NonceUsed { .. } => (
            ErrorCode::AuthorizationNonceUsed,
            "This authorization was already used on chain.",
        ),
        A::InsufficientBalance { .. } => (
            ErrorCode::AuthorizationInsufficientBalance,
            "`from` holds less than the authorization's value.",
        ),
        A::WouldRevert(_) => (
            ErrorCode::AuthorizationWouldRevert,
            "The token would refuse this authorization.",
        ),
        A::Chain(inner) => {
            tracing::warn!(error = %inner, "chain unavailable while checking an authorization");
            (
                ErrorCode::ChainUnavailable,
                "The chain could not be reached; retry shortly.",
            )
        }
    };
    ApiError::new(code, message)
}

/// The authorization the payer signed, as the request states it, bounded by the intent's
/// expiry.
fn authorization_of(
    params: &AuthorizationParams,
    intent: &PaymentIntent,
) -> Result<Authorization, ApiError> {
    let parse_addr = |p: &str, v: &str| {
        Address::parse(v, ChainNamespace::Eip155).map_err(|_| invalid(p, "an EVM address"))
    };
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: parse_addr("from", &params.from)?,
        to: match &params.to {
            Some(to) => parse_addr("to", to)?,
            None => intent.settlement.address,
        },
        value: params
            .value
            .parse::<U256>()
            .map_err(|_| invalid("value", "an integer"))?,
        valid_after: params
            .valid_after
            .parse()
            .map_err(|_| invalid("valid_after", "unix seconds"))?,
        valid_before: params
            .valid_before
            .parse()
            .map_err(|_| invalid("valid_before", "unix seconds"))?,
        nonce: params
            .nonce
            .parse()
            .map_err(|_| invalid("nonce", "0x and 64 hex digits"))?,
    };
    // An authorization that outlives the intent could still move money after it expired.
    if auth.valid_before > u64::try_from(intent.expires_at_ms / 1000).unwrap_or(0) + 60 {
        return Err(invalid(
            "valid_before",
            "at most the intent's expiry (the authorization request's validBefore)",
        ));
    }
    Ok(auth)
}

/// An intent whose relay leg is stored already: the same authorization again is answered as
/// it stands (and bound, if a failure came between storing and binding); another cannot pay
/// twice.
async fn relayed_before(
    state: &AppState,
    intent: &PaymentIntent,
    chain: &Chain,
    leg: &crate::store::chain::ChainTransfer,
    signature: &[u8],
) -> Result<Response, ApiError> {
    // The same authorization again is answered as it stands; another one cannot pay twice.
    let same = signature.len() == 65 && leg.raw_tx.contains(&alloy::hex::encode(&signature[..32]));
    if same && intent.status == PaymentStatus::AwaitingFunds {
        // A retry after a failure between storing the relay and binding it: bind it now.
        claim_relay(state, intent, chain, leg).await?;
        return Ok(relayed(intent, chain, &leg.tx_hash));
    }
    if same {
        return Err(ApiError::new(
            ErrorCode::AuthorizationNonceUsed,
            "This authorization was already used; it paid this payment intent.",
        ));
    }
    Err(ApiError::new(
        ErrorCode::AuthorizationAlreadyRelayed,
        "An authorization for this payment intent was already relayed.",
    ))
}

/// Relay a signed EIP-3009 `transferWithAuthorization` that pays the intent. Answers `202` with
/// the relayed transaction; the intent moves on once it has its confirmations.
#[utoipa::path(
    post, path = "/v1/payment_intents/{id}/authorizations", operation_id = "submit_authorization",
    tag = "payment_intents", params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry"), ("id" = String, Path)), request_body = AuthorizationParams,
    responses((status = 202, body = Object), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn submit_authorization(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let params: AuthorizationParams = parse_json(&body)?;
    let intent = load_intent(&state, &caller, &id, params.client_secret.as_deref()).await?;
    // Every field is checked before the chain is asked for: malformed input is a 400 even when
    // the chain is unreachable (503).
    let auth = authorization_of(&params, &intent)?;
    let signature = alloy::hex::decode(params.signature.trim_start_matches("0x"))
        .ok()
        .filter(|bytes| bytes.len() == 65)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::AuthorizationInvalidSignature,
                "signature must be 0x and 130 hex digits (r, s, v).",
            )
            .param("signature")
        })?;
    let chain = chain_of(&state, &intent)?;
    let reference = intent.id.to_string();
    if let Some(leg) = state
        .store
        .get_chain_transfer(EIP3009_RELAY, &reference)
        .await?
    {
        return relayed_before(&state, &intent, chain, &leg, &signature).await;
    }
    awaiting(&intent)?;
    let (hot, relayer_address) = relayer(chain)?;
    let evm = evm_of(&state, chain)?;
    let asset = &intent.settlement.asset;
    let expected = ExpectedPayment {
        chain_id: evm.chain_id,
        token: asset.contract,
        to: intent.settlement.address,
        min_value: U256::from(intent_units(&intent)?),
        nonce: eip3009::intent_nonce(&reference, evm.chain_id, &asset.contract),
        relayer: relayer_address,
    };
    let now_secs = u64::try_from(state.clock.now_ms() / 1000).unwrap_or_default();
    let calldata =
        check_authorization(evm, &expected, &auth, &signature, params.chain_id, now_secs)
            .await
            .map_err(authorization_error)?;
    let units = u128::try_from(auth.value).map_err(|_| invalid("value", "at most 2^128"))?;
    let tx_hash = relay_for_intent(&state, &intent, chain, hot, calldata, units).await?;
    Ok(relayed(&intent, chain, &tx_hash))
}

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
    let mut domain = eip3009::read_domain(&provider, &expected.token)
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

fn relayed(intent: &PaymentIntent, chain: &Chain, tx_hash: &str) -> Response {
    let body = json!({
        "object": "payment_authorization",
        "payment_intent": intent.id.to_string(),
        "chain": chain.caip2,
        "tx_hash": tx_hash,
        "status": "relayed",
    });
    json_response(StatusCode::ACCEPTED, body.to_string())
}
