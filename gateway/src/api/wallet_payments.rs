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
use crate::chain::Chain;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::keys::constant_time_eq;
use crate::routing::fx::PayMethod;
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

/// Refuses a payment whose amount in the settlement asset is not known: a conversion intent
/// (e.g. EUR settling in USDC) before its rate is locked ([`super::fx_locks::committed`]
/// locks it on the payer-side steps).
pub(crate) fn payable_directly(intent: &PaymentIntent) -> Result<(), ApiError> {
    if crate::chain::payable(intent) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::PaymentMethodUnavailable,
        format!(
            "This intent is in {} and settles in {}: lock its rate first \
             (POST /v1/payment_intents/{}/fx_lock).",
            intent.amount.currency().code(),
            intent.settlement.asset.code,
            intent.id
        ),
    ))
}

/// Refuses `method` (a deposit address, an EIP-3009 authorization) for an intent settling in a
/// permissioned deposit token: a fresh deposit address is on no allow-list, so the token
/// cannot reach it, and the token takes no authorizations. Its payers send from an
/// allow-listed wallet to the settlement address and report the transaction.
fn refuse_for_deposit_token(intent: &PaymentIntent, method: &str) -> Result<(), ApiError> {
    let asset = &intent.settlement.asset;
    if asset.kind != rialto_core::asset::AssetKind::DepositToken {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::PaymentMethodUnavailable,
        format!(
            "This intent settles in {}, a permissioned deposit token: {method} cannot carry it. \
             Send it from an allow-listed wallet to the settlement address and report the \
             transaction (POST /v1/payment_intents/{{id}}/transactions).",
            asset.symbol
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

/// What the payer owes in base units of the settlement asset (the locked amount of a
/// conversion intent).
fn intent_units(intent: &PaymentIntent) -> Result<u128, ApiError> {
    payable_directly(intent)?;
    crate::chain::due(intent)
        .ok_or_else(|| ApiError::internal(&"no amount due"))?
        .to_base_units()
        .map_err(|e| ApiError::internal(&e))
}

/// Until when an authorization may be valid: the intent's expiry, or the lock's if sooner (a
/// signature must not outlive the rate it was priced at).
fn valid_before(intent: &PaymentIntent) -> u64 {
    let intent_end = u64::try_from(intent.expires_at_ms / 1000).unwrap_or_default();
    intent
        .fx
        .as_ref()
        .map_or(intent_end, |lock| lock.expires_at.min(intent_end))
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
    // Proof of Reserve: no payer is told where to pay a halted asset.
    state
        .reserves
        .check(intent.livemode, &intent.settlement.asset)?;
    refuse_for_deposit_token(&intent, "a deposit address")?;
    let intent = super::fx_locks::committed(&state, &intent, PayMethod::Deposit).await?;
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
    state
        .reserves
        .check(intent.livemode, &intent.settlement.asset)?;
    refuse_for_deposit_token(&intent, "an EIP-3009 authorization")?;
    let intent = super::fx_locks::committed(&state, &intent, PayMethod::Direct).await?;
    let chain = evm_of(&state, chain_of(&state, &intent)?)?;
    let asset = &intent.settlement.asset;
    let provider = rialto_evm::connect(chain.rpc_url())
        .await
        .map_err(unavailable)?;
    let domain = eip3009::read_domain_cached(&provider, chain.rpc_url(), &asset.contract)
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
            "validBefore": valid_before(&intent).to_string(),
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
    /// Defaults to the intent's settlement address; the intent's deposit address (once issued)
    /// is accepted too, and anything else refused.
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

/// A signed EIP-3009 authorization's fields as a request states them (decimal and hex strings).
pub(crate) struct AuthorizationFields<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub value: &'a str,
    pub valid_after: &'a str,
    pub valid_before: &'a str,
    pub nonce: &'a str,
}

/// [`AuthorizationFields`] parsed into a `transferWithAuthorization`; a bad field is named.
pub(crate) fn parse_authorization_fields(
    f: AuthorizationFields<'_>,
) -> Result<Authorization, ApiError> {
    let addr = |p: &str, v: &str| {
        Address::parse(v, ChainNamespace::Eip155).map_err(|_| invalid(p, "an EVM address"))
    };
    Ok(Authorization {
        kind: AuthorizationKind::Transfer,
        from: addr("from", f.from)?,
        to: addr("to", f.to)?,
        value: f
            .value
            .parse::<U256>()
            .map_err(|_| invalid("value", "an integer"))?,
        valid_after: f
            .valid_after
            .parse()
            .map_err(|_| invalid("valid_after", "unix seconds"))?,
        valid_before: f
            .valid_before
            .parse()
            .map_err(|_| invalid("valid_before", "unix seconds"))?,
        nonce: f
            .nonce
            .parse()
            .map_err(|_| invalid("nonce", "0x and 64 hex digits"))?,
    })
}

/// The authorization the payer signed, as the request states it, bounded by the intent's
/// expiry.
fn authorization_of(
    params: &AuthorizationParams,
    intent: &PaymentIntent,
) -> Result<Authorization, ApiError> {
    let settlement = intent.settlement.address.to_string();
    let auth = parse_authorization_fields(AuthorizationFields {
        from: &params.from,
        to: params.to.as_deref().unwrap_or(&settlement),
        value: &params.value,
        valid_after: &params.valid_after,
        valid_before: &params.valid_before,
        nonce: &params.nonce,
    })?;
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
    // Proof of Reserve: Rialto relays no payment into a halted asset.
    state
        .reserves
        .check(intent.livemode, &intent.settlement.asset)?;
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
    // A payer whose wallet may not hold the deposit token hears so first; anyone else hears
    // that the token takes no authorizations. Nothing is relayed either way.
    crate::chain::permissioned::ensure_allow_listed(
        &state,
        intent.livemode,
        &intent.settlement.asset,
        &auth.from,
        crate::chain::permissioned::Holder::Payer,
        "from",
    )
    .await?;
    refuse_for_deposit_token(&intent, "an EIP-3009 authorization")?;
    let reference = intent.id.to_string();
    if let Some(leg) = state
        .store
        .get_chain_transfer(EIP3009_RELAY, &reference)
        .await?
    {
        return relayed_before(&state, &intent, chain, &leg, &signature).await;
    }
    if let Some(row) = state.store.get_relay_item(&intent.id).await? {
        // Relayed in a batch already: the same answers as for a single relay above.
        if row.status == crate::store::relay_queue::RelayItemStatus::Relayed
            && intent.status != PaymentStatus::AwaitingFunds
        {
            return Err(ApiError::new(
                ErrorCode::AuthorizationNonceUsed,
                "An authorization already paid this payment intent.",
            ));
        }
    }
    let intent = super::fx_locks::committed(&state, &intent, PayMethod::Direct).await?;
    let (hot, relayer_address) = relayer(chain)?;
    let evm = evm_of(&state, chain)?;
    let asset = &intent.settlement.asset;
    let (to, min_value) = authorization_terms(&state, &intent, &auth).await?;
    let expected = ExpectedPayment {
        chain_id: evm.chain_id,
        token: asset.contract,
        to,
        min_value,
        nonce: eip3009::intent_nonce(&reference, evm.chain_id, &asset.contract),
        relayer: relayer_address,
    };
    let now_secs = u64::try_from(state.clock.now_ms() / 1000).unwrap_or_default();
    let calldata =
        check_authorization(evm, &expected, &auth, &signature, params.chain_id, now_secs)
            .await
            .map_err(authorization_error)?;
    let units = u128::try_from(auth.value).map_err(|_| invalid("value", "at most 2^128"))?;
    if state
        .batch_relays
        .get(intent.livemode, &chain.caip2)
        .is_some()
    {
        screen_payer(&state, &intent, &auth.from).await?;
    }
    let tx_hash = relay_for_intent(&state, &intent, chain, hot, calldata, units).await?;
    Ok(relayed(&intent, chain, &tx_hash))
}

/// Where an authorization may pay the intent and the least it must move, per the merchant's
/// payment policy (`docs/money.md`): at least the amount less the under-payment tolerance; to
/// the settlement address, or to the intent's deposit address (if one was issued), where the
/// deposit policy judges it. More than the amount to the settlement address while the merchant
/// refunds surpluses is refused (`authorization_amount_too_high`): the surplus would be the
/// merchant's, and Rialto could not give it back.
async fn authorization_terms(
    state: &AppState,
    intent: &PaymentIntent,
    auth: &Authorization,
) -> Result<(Address, U256), ApiError> {
    let settings =
        rialto_engine::settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode)
            .await?;
    let amount = intent_units(intent)?;
    let minimum = Money::parse(
        &settings
            .minimum_accepted(intent.amount.amount())
            .normalize()
            .to_string(),
        intent.settlement.asset.currency(),
    )
    .and_then(|m| m.to_base_units())
    // More decimals than the asset has (an odd tolerance): the exact amount is always enough.
    .unwrap_or(amount);
    let deposit = match state.store.get_deposit_address(&intent.id).await? {
        Some(d) => Address::parse(&d.address, ChainNamespace::Eip155).ok(),
        None => None,
    };
    if deposit.is_some_and(|d| d == auth.to) {
        return Ok((auth.to, U256::from(minimum)));
    }
    let overpays = auth.value > U256::from(amount);
    if overpays
        && auth.to == intent.settlement.address
        && settings.overpaid == rialto_engine::settings::OverpaidPolicy::RefundSurplus
    {
        return Err(ApiError::new(
            ErrorCode::AuthorizationAmountTooHigh,
            "The authorization moves more than the intent amount to the merchant's address, and \
             this merchant refunds surpluses: authorize exactly the amount, or make it out to the \
             intent's deposit address (POST /v1/payment_intents/{id}/deposit_address), from \
             which the surplus is returned.",
        )
        .param("value"));
    }
    Ok((intent.settlement.address, U256::from(minimum)))
}

pub(crate) use super::authorization_relay::{
    check_authorization, relay_for_intent, relayed, relayer, screen_payer,
};
