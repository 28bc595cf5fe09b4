//! x402 (protocol version 2) facilitator logic: Rialto verifies and settles the `exact` scheme
//! on EVM chains (an EIP-3009 `transferWithAuthorization` the payer signed, relayed from the
//! chain's hot wallet) for a resource server that is a Rialto merchant.
//!
//! What is Rialto's and not the protocol's: the resource server authenticates with its
//! merchant's secret key, `payTo` must be that merchant's settlement address and `asset` its
//! settlement token on `network`; every settled payment becomes a payment intent of that
//! merchant, so the chain worker confirms, screens, books, reconciles and reports it like any
//! other, and it can be refunded. A payment header is spent once: its (network, token, payer,
//! nonce) is claimed in the store before anything is relayed, so a replay is refused even
//! before the first relay is mined.
//!
//! This module is the protocol's shape and its pure checks; the HTTP layer
//! (`gateway/src/api/x402.rs`) reads the chain and relays.

use rialto_core::address::Address;
use rialto_core::ChainNamespace;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only protocol version served.
pub const X402_VERSION: u64 = 2;
/// The only scheme served.
pub const SCHEME_EXACT: &str = "exact";

/// What a payment must be, as the resource server states it (`PaymentRequirements`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequirements {
    pub scheme: String,
    /// CAIP-2, e.g. `eip155:8453`.
    pub network: String,
    /// Atomic units of `asset`, as a decimal string.
    pub amount: String,
    /// The token contract.
    pub asset: String,
    pub pay_to: String,
    pub max_timeout_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// The EIP-3009 authorization of the `exact` EVM scheme, all numbers as decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExactAuthorization {
    pub from: String,
    pub to: String,
    pub value: String,
    pub valid_after: String,
    pub valid_before: String,
    /// `0x` + 64 hex digits, chosen by the payer.
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ExactEvmPayload {
    /// `0x` + 130 hex digits (r ‖ s ‖ v).
    pub signature: String,
    pub authorization: ExactAuthorization,
}

/// What the client sent in its `PAYMENT-SIGNATURE` header.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPayload {
    pub x402_version: u64,
    #[serde(default)]
    pub resource: Option<Value>,
    pub accepted: PaymentRequirements,
    pub payload: ExactEvmPayload,
    #[serde(default)]
    pub extensions: Option<Value>,
}

/// The body of `POST /verify` and `POST /settle`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacilitatorRequest {
    #[serde(default)]
    pub x402_version: Option<u64>,
    pub payment_payload: PaymentPayload,
    pub payment_requirements: PaymentRequirements,
}

/// Why a payment is refused, as the specification's error codes name it (section 9), plus
/// Rialto's own where the specification has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidReason {
    InvalidX402Version,
    UnsupportedScheme,
    InvalidNetwork,
    InvalidPayload,
    InvalidPaymentRequirements,
    /// `payTo` or `asset` is not the authenticated merchant's settlement address or token.
    PayToNotMerchant,
    RecipientMismatch,
    AuthorizationValue,
    ValidAfter,
    ValidBefore,
    Signature,
    InsufficientFunds,
    /// This authorization (its nonce) was already settled or used on chain.
    NonceAlreadyUsed,
    /// Screening refused the payer.
    PayerRefused,
    InvalidTransactionState,
    UnexpectedVerifyError,
    UnexpectedSettleError,
}

impl InvalidReason {
    pub fn as_str(self) -> &'static str {
        use InvalidReason as R;
        match self {
            R::InvalidX402Version => "invalid_x402_version",
            R::UnsupportedScheme => "unsupported_scheme",
            R::InvalidNetwork => "invalid_network",
            R::InvalidPayload => "invalid_payload",
            R::InvalidPaymentRequirements => "invalid_payment_requirements",
            R::PayToNotMerchant => "invalid_payment_requirements_pay_to",
            R::RecipientMismatch => "invalid_exact_evm_payload_recipient_mismatch",
            R::AuthorizationValue => "invalid_exact_evm_payload_authorization_value",
            R::ValidAfter => "invalid_exact_evm_payload_authorization_valid_after",
            R::ValidBefore => "invalid_exact_evm_payload_authorization_valid_before",
            R::Signature => "invalid_exact_evm_payload_signature",
            R::InsufficientFunds => "insufficient_funds",
            R::NonceAlreadyUsed => "invalid_exact_evm_payload_authorization_nonce_used",
            R::PayerRefused => "payer_refused",
            R::InvalidTransactionState => "invalid_transaction_state",
            R::UnexpectedVerifyError => "unexpected_verify_error",
            R::UnexpectedSettleError => "unexpected_settle_error",
        }
    }
}

/// A request whose shape, scheme, network and amounts are checked: what is left is the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPayment {
    /// CAIP-2 of the network.
    pub network: String,
    pub chain_id: u64,
    pub token: Address,
    pub pay_to: Address,
    /// What the resource costs, in atomic units.
    pub amount: u128,
    pub payer: Address,
    /// What the authorization moves (at least `amount`).
    pub value: u128,
    pub valid_after: u64,
    pub valid_before: u64,
    /// Lower-case `0x` + 64 hex digits.
    pub nonce: String,
    pub signature: Vec<u8>,
}

fn evm_address(text: &str) -> Option<Address> {
    Address::parse(text, ChainNamespace::Eip155).ok()
}

/// The EVM chain id of a CAIP-2 `eip155:<id>` network.
pub fn eip155_chain_id(network: &str) -> Option<u64> {
    let id = network.strip_prefix("eip155:")?;
    if id.is_empty() || id.starts_with('0') || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

fn same_requirements(a: &PaymentRequirements, b: &PaymentRequirements) -> bool {
    let same_address = |x: &str, y: &str| x.eq_ignore_ascii_case(y);
    a.scheme == b.scheme
        && a.network == b.network
        && a.amount == b.amount
        && same_address(&a.asset, &b.asset)
        && same_address(&a.pay_to, &b.pay_to)
}

/// The checks that need neither the chain nor the store: version, scheme, network form, that
/// the client accepted what the resource server requires, the authorization pays `payTo` at
/// least `amount`, and every field parses.
pub fn check_request(request: &FacilitatorRequest) -> Result<CheckedPayment, InvalidReason> {
    let payload = &request.payment_payload;
    let required = &request.payment_requirements;
    if payload.x402_version != X402_VERSION
        || request.x402_version.is_some_and(|v| v != X402_VERSION)
    {
        return Err(InvalidReason::InvalidX402Version);
    }
    if required.scheme != SCHEME_EXACT {
        return Err(InvalidReason::UnsupportedScheme);
    }
    let chain_id = eip155_chain_id(&required.network).ok_or(InvalidReason::InvalidNetwork)?;
    if !same_requirements(&payload.accepted, required) {
        return Err(InvalidReason::InvalidPaymentRequirements);
    }
    let token = evm_address(&required.asset).ok_or(InvalidReason::InvalidPaymentRequirements)?;
    let pay_to = evm_address(&required.pay_to).ok_or(InvalidReason::InvalidPaymentRequirements)?;
    let amount = parse_units(&required.amount).ok_or(InvalidReason::InvalidPaymentRequirements)?;
    if amount == 0 {
        return Err(InvalidReason::InvalidPaymentRequirements);
    }
    let auth = &payload.payload.authorization;
    let payer = evm_address(&auth.from).ok_or(InvalidReason::InvalidPayload)?;
    let to = evm_address(&auth.to).ok_or(InvalidReason::InvalidPayload)?;
    if to != pay_to {
        return Err(InvalidReason::RecipientMismatch);
    }
    let value = parse_units(&auth.value).ok_or(InvalidReason::InvalidPayload)?;
    if value < amount {
        return Err(InvalidReason::AuthorizationValue);
    }
    let nonce = auth.nonce.to_ascii_lowercase();
    let nonce_ok = nonce.len() == 66
        && nonce.starts_with("0x")
        && nonce[2..].bytes().all(|b| b.is_ascii_hexdigit());
    let signature = hex::decode(payload.payload.signature.trim_start_matches("0x"))
        .ok()
        .filter(|s| s.len() == 65)
        .ok_or(InvalidReason::Signature)?;
    Ok(CheckedPayment {
        network: required.network.clone(),
        chain_id,
        token,
        pay_to,
        amount,
        payer,
        value,
        valid_after: auth
            .valid_after
            .parse()
            .map_err(|_| InvalidReason::InvalidPayload)?,
        valid_before: auth
            .valid_before
            .parse()
            .map_err(|_| InvalidReason::InvalidPayload)?,
        nonce: if nonce_ok {
            nonce
        } else {
            return Err(InvalidReason::InvalidPayload);
        },
        signature,
    })
}

/// A decimal string of atomic units: digits only, no sign, no leading `+`.
fn parse_units(text: &str) -> Option<u128> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `POST /verify`'s answer.
pub fn verify_response(result: Result<&Address, (InvalidReason, Option<&Address>)>) -> Value {
    match result {
        Ok(payer) => serde_json::json!({"isValid": true, "payer": payer.to_string()}),
        Err((reason, payer)) => {
            let mut body = serde_json::json!({"isValid": false, "invalidReason": reason.as_str()});
            if let Some(payer) = payer {
                body["payer"] = Value::String(payer.to_string());
            }
            body
        }
    }
}

/// `POST /settle`'s answer when nothing was settled.
pub fn settle_failure(reason: InvalidReason, network: &str, payer: Option<&Address>) -> Value {
    let mut body = serde_json::json!({
        "success": false, "errorReason": reason.as_str(), "transaction": "", "network": network,
    });
    if let Some(payer) = payer {
        body["payer"] = Value::String(payer.to_string());
    }
    body
}

#[cfg(test)]
mod tests;
