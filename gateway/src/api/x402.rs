//! `/v1/x402/*`: Rialto as an x402 (v2) facilitator for resource servers that are Rialto
//! merchants. `@x402/core`'s `HTTPFacilitatorClient` calls `{url}/verify`, `{url}/settle` and
//! `{url}/supported`, so its `url` is `https://<gateway>/v1/x402`, and its `createAuthHeaders`
//! sends the merchant's secret key (`Authorization: Bearer sk_…`).
//!
//! `exact` on EVM only: the payer's EIP-3009 authorization is checked like a wallet's
//! (`wallet_payments::check_authorization`: signature, payee, amount, window, nonce state,
//! balance, simulation), the payer is screened, and on settle it becomes a payment intent of
//! the merchant, relayed through the intent relay (`wallet_payments::relay_for_intent`), so
//! the chain worker confirms, screens, books, reconciles and sends webhooks for it as for any
//! payment, and it can be refunded. The protocol's shape and pure checks are the engine's
//! (`rialto_engine::x402`); the replay guard is the `x402_payments` table.
//!
//! A verdict about the payment is `200` with `isValid: false` / `success: false` and the
//! specification's reason; what is not about the payment (no key, a chain that cannot be
//! reached) is a Rialto error.

use alloy::primitives::{B256, U256};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rialto_core::address::Address;
use rialto_core::intent::PaymentIntent;
use rialto_core::intent::PaymentStatus;
use rialto_core::money::Money;
use rialto_engine::x402::{
    check_request, settle_failure, verify_response, CheckedPayment, FacilitatorRequest,
    InvalidReason, SCHEME_EXACT, X402_VERSION,
};
use rialto_evm::eip3009::{Authorization, AuthorizationKind, ExpectedPayment};
use rialto_evm::error::AuthorizationError;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::body::{parse_json, RawBody};
use super::payment_intents::{self, CreatePaymentIntentParams};
use super::wallet_payments::{
    check_authorization, claim_relay, relay_for_intent, relayer, EIP3009_RELAY,
};
use super::{json_response, AppState, Caller};
use crate::chain::Chain;
use crate::compliance::flow::{screen_outgoing, OutgoingAddress};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::store::x402::X402Payment;

/// A payment that passed every check, with what settling it needs.
struct Verified<'a> {
    payment: CheckedPayment,
    chain: &'a Chain,
    calldata: alloy::primitives::Bytes,
    /// This very request claimed the authorization before, and it was not relayed then (a
    /// failure between the claim and the relay): settling it again resumes that claim.
    claimed: Option<X402Payment>,
}

type Verdict<T> = Result<Result<T, (InvalidReason, Option<Address>)>, ApiError>;

fn reason_of(err: &AuthorizationError) -> Option<InvalidReason> {
    use AuthorizationError as A;
    use InvalidReason as R;
    Some(match err {
        A::BadSignature(_) | A::SignerMismatch { .. } | A::ReceiveNeedsPayee { .. } => R::Signature,
        A::WrongRecipient { .. } => R::RecipientMismatch,
        A::WrongAmount { .. } => R::AuthorizationValue,
        A::NotYetValid { .. } => R::ValidAfter,
        A::Expired { .. } => R::ValidBefore,
        A::WrongChain { .. } | A::WrongToken { .. } => R::InvalidNetwork,
        A::WrongNonce { .. } | A::NonceUsed { .. } => R::NonceAlreadyUsed,
        A::InsufficientBalance { .. } => R::InsufficientFunds,
        A::WouldRevert(_) => R::InvalidTransactionState,
        A::Chain(_) => return None,
    })
}

fn lower(address: &Address) -> String {
    address.to_string().to_ascii_lowercase()
}

/// Every check of a payment, in order: the request itself, that it pays this merchant's
/// settlement address in its settlement token on a chain this gateway relays on, that the
/// header was never settled, the payer's screening, then the authorization on chain.
///
/// `retry_of`: the SHA-256 of a `/settle` request; a claim made by that very request (same
/// merchant, mode and hash) does not refuse it. `/verify` passes `None`: a claimed header is spent.
async fn verify_payment<'a>(
    state: &'a AppState,
    caller: &Caller,
    request: &FacilitatorRequest,
    retry_of: Option<&str>,
) -> Verdict<Verified<'a>> {
    let payment = match check_request(request) {
        Ok(p) => p,
        Err(reason) => return Ok(Err((reason, None))),
    };
    let payer = Some(payment.payer);
    let refuse = |reason| Ok(Err((reason, payer)));
    // A merchant without a default settlement target has no `payTo` a payment could match.
    let target = match payment_intents::merchant_default_settlement(state, caller).await {
        Ok(target) => target,
        Err(e) if e.code == ErrorCode::ParameterMissing => {
            return refuse(InvalidReason::PayToNotMerchant)
        }
        Err(e) => return Err(e),
    };
    let settles_here = target.asset.id.chain().to_string() == payment.network
        && target.asset.contract == payment.token
        && target.address == payment.pay_to;
    if !settles_here {
        return refuse(InvalidReason::PayToNotMerchant);
    }
    let (Some(chain), Some(evm)) = (
        state.chains.get(caller.livemode, &payment.network),
        state.evm_chains.get(caller.livemode, &payment.network),
    ) else {
        return refuse(InvalidReason::InvalidNetwork);
    };
    let claim = state
        .store
        .get_x402_payment(
            &payment.network,
            &lower(&payment.token),
            &lower(&payment.payer),
            &payment.nonce,
        )
        .await?;
    let claimed = match claim {
        None => None,
        Some(claim) if retry_of.is_some_and(|sha| same_request(&claim, caller, sha)) => Some(claim),
        Some(_) => return refuse(InvalidReason::NonceAlreadyUsed),
    };
    let now = state.clock.now_ms();
    state.compliance.ensure_fresh_for(caller.livemode, now)?;
    let at = OutgoingAddress {
        role: rialto_compliance::decision::AddressRole::Payer,
        point: "x402_payer",
        intent: None,
    };
    if !screen_outgoing(
        state,
        &caller.merchant_id,
        caller.livemode,
        &payment.payer,
        at,
        now,
    )
    .await?
    {
        return refuse(InvalidReason::PayerRefused);
    }
    let (_, relayer_address) = relayer(chain)?;
    let nonce: B256 = payment
        .nonce
        .parse()
        .map_err(|_| ApiError::internal(&"a checked nonce did not parse"))?;
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: payment.payer,
        to: payment.pay_to,
        value: U256::from(payment.value),
        valid_after: payment.valid_after,
        valid_before: payment.valid_before,
        nonce,
    };
    let expected = ExpectedPayment {
        chain_id: payment.chain_id,
        token: payment.token,
        to: payment.pay_to,
        min_value: U256::from(payment.amount),
        nonce,
        relayer: relayer_address,
    };
    let now_secs = u64::try_from(now / 1000).unwrap_or_default();
    match check_authorization(evm, &expected, &auth, &payment.signature, None, now_secs).await {
        Ok(calldata) => Ok(Ok(Verified {
            payment,
            chain,
            calldata,
            claimed,
        })),
        Err(err) => match reason_of(&err) {
            Some(reason) => refuse(reason),
            None => {
                tracing::warn!(error = %err, "chain unavailable while verifying an x402 payment");
                Err(ApiError::new(
                    ErrorCode::ChainUnavailable,
                    "The chain could not be reached; retry shortly.",
                ))
            }
        },
    }
}

/// The request body of `/verify` and `/settle` as the x402 v2 specification names it; its two
/// objects are the specification's `PaymentPayload` and `PaymentRequirements` (documented there,
/// checked by the engine's `x402` module).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = X402FacilitatorRequest)]
#[allow(dead_code)] // Documentation only: the body is read into `FacilitatorRequest`.
struct FacilitatorRequestDoc {
    #[schema(example = 2)]
    x402_version: Option<u64>,
    payment_payload: serde_json::Map<String, serde_json::Value>,
    payment_requirements: serde_json::Map<String, serde_json::Value>,
}

fn parse_request(body: &[u8]) -> Result<FacilitatorRequest, ApiError> {
    parse_json(body)
}

/// Checks an x402 payment without moving anything.
#[utoipa::path(
    post, path = "/v1/x402/verify", operation_id = "x402_verify", tag = "x402",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = FacilitatorRequestDoc,
    responses((status = 200, description = "`{isValid, invalidReason?, payer?}` (x402 v2 VerifyResponse)"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let request = parse_request(&body)?;
    let body = match verify_payment(&state, &caller, &request, None).await? {
        Ok(verified) => verify_response(Ok(&verified.payment.payer)),
        Err((reason, payer)) => verify_response(Err((reason, payer.as_ref()))),
    };
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// The payment intent that records a settled x402 payment: the resource's price in the
/// merchant's settlement asset, paid to its default settlement target.
async fn intent_for(
    state: &AppState,
    caller: &Caller,
    request: &FacilitatorRequest,
    payment: &CheckedPayment,
) -> Result<PaymentIntent, ApiError> {
    let target = payment_intents::merchant_default_settlement(state, caller).await?;
    let asset = &target.asset;
    let price = Money::from_base_units(payment.amount, asset.currency()).map_err(|_| {
        ApiError::new(
            ErrorCode::AmountTooLarge,
            "paymentRequirements.amount is more than a payment intent can hold.",
        )
        .param("paymentRequirements.amount")
    })?;
    let mut metadata = std::collections::BTreeMap::new();
    metadata.insert("x402_payer".to_owned(), payment.payer.to_string());
    let resource = request.payment_payload.resource.as_ref();
    if let Some(url) = resource.and_then(|r| r["url"].as_str()) {
        metadata.insert("x402_resource".to_owned(), url.chars().take(500).collect());
    }
    let params = CreatePaymentIntentParams {
        amount: price.to_amount_string(),
        currency: asset.currency().code().to_ascii_lowercase(),
        settlement: None,
        description: Some("x402 payment".to_owned()),
        metadata: Some(metadata),
        expires_in: None,
    };
    payment_intents::build_intent(state, caller, params, state.clock.now_ms()).await
}

/// Settles a verified x402 payment: claims its header, records it as a payment intent of the
/// merchant and relays the authorization.
#[utoipa::path(
    post, path = "/v1/x402/settle", operation_id = "x402_settle", tag = "x402",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = FacilitatorRequestDoc,
    responses((status = 200, description = "`{success, errorReason?, payer?, transaction, network, extra: {payment_intent}}` (x402 v2 SettleResponse)"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 503, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn settle(
    State(state): State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    caller.require_secret()?;
    let request = parse_request(&body)?;
    let sha = request_sha256(&body)?;
    let network = request.payment_requirements.network.clone();
    // The x402 clients send no Idempotency-Key: the very same request again, after it was
    // relayed, gets the first answer (same transaction) instead of a refusal.
    if let Some(answer) = settled_before(&state, &caller, &request, &sha).await? {
        return Ok(json_response(StatusCode::OK, answer.to_string()));
    }
    let verified = match verify_payment(&state, &caller, &request, Some(&sha)).await? {
        Ok(v) => v,
        Err((reason, payer)) => {
            let body = settle_failure(reason, &network, payer.as_ref());
            return Ok(json_response(StatusCode::OK, body.to_string()));
        }
    };
    let payment = &verified.payment;
    let intent = match &verified.claimed {
        Some(claim) => resumed_intent(&state, &caller, &request, payment, claim).await?,
        None => {
            let intent = intent_for(&state, &caller, &request, payment).await?;
            let now = state.clock.now_ms();
            let claim = X402Payment {
                network: payment.network.clone(),
                asset: lower(&payment.token),
                payer: lower(&payment.payer),
                nonce: payment.nonce.clone(),
                merchant_id: caller.merchant_id,
                livemode: caller.livemode,
                payment_intent_id: intent.id,
                created_at_ms: now,
                request_sha256: Some(sha),
            };
            // Claimed before anything is stored or sent: of two settles of one header, one
            // relays.
            if !state.store.claim_x402_payment(&claim).await? {
                let body = settle_failure(
                    InvalidReason::NonceAlreadyUsed,
                    &network,
                    Some(&payment.payer),
                );
                return Ok(json_response(StatusCode::OK, body.to_string()));
            }
            payment_intents::store_new_intent(&state, &intent, now).await?;
            intent
        }
    };
    let (hot, _) = relayer(verified.chain)?;
    let tx_hash = relay_for_intent(
        &state,
        &intent,
        verified.chain,
        hot,
        verified.calldata,
        payment.value,
    )
    .await?;
    let body = settled(payment, &tx_hash, &network, &intent.id.to_string());
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// `POST /settle`'s answer when the payment was relayed.
fn settled(payment: &CheckedPayment, tx_hash: &str, network: &str, intent: &str) -> Value {
    json!({
        "success": true,
        "payer": payment.payer.to_string(),
        "transaction": tx_hash,
        "network": network,
        "amount": payment.value.to_string(),
        "extra": {"payment_intent": intent},
    })
}

/// SHA-256 (hex) of the request's JSON with every object's keys sorted and no whitespace, so
/// the same request re-serialised by another client library hashes alike.
fn request_sha256(body: &[u8]) -> Result<String, ApiError> {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let value: Value = parse_json(body)?;
    let mut text = String::new();
    canonical(&value, &mut text);
    Ok(hex::encode(Sha256::digest(text.as_bytes())))
}

/// Whether `claim` was made by this very request: same merchant, mode and request hash.
fn same_request(claim: &X402Payment, caller: &Caller, sha: &str) -> bool {
    claim.merchant_id == caller.merchant_id
        && claim.livemode == caller.livemode
        && claim.request_sha256.as_deref() == Some(sha)
}

/// The first answer to this very request, when it claimed the authorization and its relay is
/// stored (bound to the intent again if a failure came between storing and binding it).
/// `None` when it is not a retry of a relayed settle: the ordinary checks decide.
async fn settled_before(
    state: &AppState,
    caller: &Caller,
    request: &FacilitatorRequest,
    sha: &str,
) -> Result<Option<Value>, ApiError> {
    let Ok(payment) = check_request(request) else {
        return Ok(None);
    };
    let claim = state
        .store
        .get_x402_payment(
            &payment.network,
            &lower(&payment.token),
            &lower(&payment.payer),
            &payment.nonce,
        )
        .await?;
    let Some(claim) = claim.filter(|c| same_request(c, caller, sha)) else {
        return Ok(None);
    };
    let intent_id = claim.payment_intent_id.to_string();
    let Some(leg) = state
        .store
        .get_chain_transfer(EIP3009_RELAY, &intent_id)
        .await?
    else {
        return Ok(None);
    };
    let intent = state
        .store
        .get_intent(
            &caller.merchant_id,
            caller.livemode,
            &claim.payment_intent_id,
        )
        .await?;
    let chain = state.chains.get(caller.livemode, &payment.network);
    if let (Some(intent), Some(chain)) = (intent, chain) {
        if intent.status == PaymentStatus::AwaitingFunds {
            claim_relay(state, &intent, chain, &leg).await?;
        }
    }
    Ok(Some(settled(
        &payment,
        &leg.tx_hash,
        &payment.network,
        &intent_id,
    )))
}

/// The intent of a claim this very request made before its relay was stored: read back, or
/// written now under the claimed id if the failure came before it was stored.
async fn resumed_intent(
    state: &AppState,
    caller: &Caller,
    request: &FacilitatorRequest,
    payment: &CheckedPayment,
    claim: &X402Payment,
) -> Result<PaymentIntent, ApiError> {
    let id = &claim.payment_intent_id;
    let stored = state
        .store
        .get_intent(&caller.merchant_id, caller.livemode, id)
        .await?;
    if let Some(intent) = stored {
        return Ok(intent);
    }
    let mut intent = intent_for(state, caller, request, payment).await?;
    intent.id = *id;
    let written = payment_intents::store_new_intent(state, &intent, state.clock.now_ms()).await;
    // Two retries at once: the one that lost the write reads the winner's intent.
    match state
        .store
        .get_intent(&caller.merchant_id, caller.livemode, id)
        .await?
    {
        Some(intent) => Ok(intent),
        None => written.map(|()| intent),
    }
}

/// The kinds this gateway settles in the caller's mode: `exact` on every EVM chain it can
/// relay on, and the relaying wallets as signers.
#[utoipa::path(
    get, path = "/v1/x402/supported", operation_id = "x402_supported", tag = "x402",
    responses((status = 200, description = "`{kinds, extensions, signers}` (x402 v2 SupportedResponse)"),
              (status = 401, body = ErrorBody)),
    security(("api_key" = []))
)]
pub async fn supported(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let mut kinds = Vec::new();
    let mut signers = Vec::new();
    for chain in state
        .chains
        .iter()
        .filter(|c| c.livemode == caller.livemode)
    {
        if state.evm_chains.get(chain.livemode, &chain.caip2).is_none() {
            continue;
        }
        let Ok((_, address)) = relayer(chain) else {
            continue;
        };
        kinds.push(
            json!({"x402Version": X402_VERSION, "scheme": SCHEME_EXACT, "network": chain.caip2}),
        );
        signers.push(address.to_string());
    }
    signers.sort();
    signers.dedup();
    let body = json!({"kinds": kinds, "extensions": [], "signers": {"eip155:*": signers}});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::request_sha256;

    #[test]
    fn the_request_hash_ignores_key_order_and_whitespace_but_not_any_value() {
        let a = br#"{"x402Version":2,"paymentPayload":{"a":1,"b":[{"y":"2","x":true}]},"paymentRequirements":{"amount":"10000"}}"#;
        let b = br#"{ "paymentRequirements": {"amount": "10000"},
                      "paymentPayload": {"b": [{"x": true, "y": "2"}], "a": 1}, "x402Version": 2 }"#;
        let c = br#"{"x402Version":2,"paymentPayload":{"a":1,"b":[{"y":"2","x":true}]},"paymentRequirements":{"amount":"10001"}}"#;
        let hash = |body: &[u8]| request_sha256(body).unwrap();
        assert_eq!(hash(a), hash(b));
        assert_ne!(hash(a), hash(c));
        assert_eq!(hash(a).len(), 64);
        assert!(request_sha256(b"{not json").is_err());
    }
}
