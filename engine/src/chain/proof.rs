//! The payer's proof that a reported transfer is theirs.
//!
//! A transfer to a merchant's settlement address says nothing about which order it pays: the
//! address is shared by every intent of the merchant (and anyone may name it as the settlement
//! address of their own intent). So a report binds a transfer only with proof from a sender of
//! it: a signature over `Rialto: fund <intent id> with <tx hash, lower case>` — the same text
//! a wallet signs to fund a route execution ([`funding_message`]) — made by that sender:
//! EIP-191 `personal_sign` for an ordinary account, or accepted by the account itself
//! (EIP-1271 `isValidSignature`) when the sender is a contract wallet. The signature names the
//! intent, so a payment proven for one order cannot be replayed for another.
//!
//! Transfers that carry the intent's identity by construction need no signature: a deposit
//! into the intent's own deposit address (the watcher binds it) and a relayed EIP-3009
//! authorization (its nonce is derived from the intent id).

use rialto_connectors::chain::{ChainNode, ObservedTransfer};
use rialto_core::address::Address;

use crate::error::{EngineError, ErrorCode};
pub use crate::routing::start::funding_message;

/// How many senders of one transaction are asked whether they accept the signature as a
/// contract wallet: a transaction crafted with many senders costs no more than this.
const MAX_CONTRACT_CHECKS: usize = 8;

/// The text a payer signs to prove that transaction `tx_hash` pays intent `intent_id`.
pub fn payment_message(intent_id: &str, tx_hash: &str) -> String {
    funding_message(intent_id, tx_hash)
}

/// The signature's bytes, or `payer_proof_required` when there is none: checked before the
/// chain is even read.
pub fn signature_bytes(signature: Option<&str>) -> Result<Vec<u8>, EngineError> {
    let text = signature
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            EngineError::new(
                ErrorCode::PayerProofRequired,
                "signature is required: the sending wallet's signature (EIP-191 personal_sign, or \
             EIP-1271 for a contract wallet) of `Rialto: fund <payment intent id> with <tx_hash \
             in lower case>`.",
            )
            .param("signature")
        })?;
    hex::decode(text.trim_start_matches("0x")).map_err(|_| invalid())
}

fn invalid() -> EngineError {
    EngineError::new(
        ErrorCode::PayerProofInvalid,
        "signature is not a signature of `Rialto: fund <payment intent id> with <tx_hash in \
         lower case>` by a sender of that transaction.",
    )
    .param("signature")
}

/// The sender of `observed` that signed [`payment_message`] for `intent_id`: an account whose
/// signature recovers to one of the senders, else a sender that is a contract wallet and
/// accepts the signature. `payer_proof_invalid` otherwise.
pub async fn proven_sender(
    node: &dyn ChainNode,
    observed: &ObservedTransfer,
    intent_id: &str,
    signature: &[u8],
) -> Result<Address, EngineError> {
    let message = payment_message(intent_id, &observed.tx_hash);
    if let Ok(signer) = node.recover_signer(&message, signature) {
        if observed.senders.iter().any(|p| p.from == signer) {
            return Ok(signer);
        }
    }
    for part in observed.senders.iter().take(MAX_CONTRACT_CHECKS) {
        let accepted = node
            .contract_accepts_signature(&part.from, &message, signature)
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "chain unavailable while checking a wallet's signature");
                EngineError::new(
                    ErrorCode::ChainUnavailable,
                    "The chain could not be reached to check the signature; retry shortly.",
                )
            })?;
        if accepted {
            return Ok(part.from);
        }
    }
    Err(invalid())
}
