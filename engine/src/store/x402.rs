//! The x402 payments settled through Rialto's facilitator: one row per EIP-3009 authorization
//! (network, token, payer, nonce), claimed before it is relayed, so the same payment header
//! can never be settled twice (a replay is refused even while the first relay is unmined).

use async_trait::async_trait;
use rialto_core::id::{MerchantId, PaymentIntentId};

use super::StoreError;

/// One settled (or being settled) x402 payment and the intent that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X402Payment {
    /// CAIP-2.
    pub network: String,
    /// Token contract, lower case.
    pub asset: String,
    /// `authorization.from`, lower case.
    pub payer: String,
    /// `authorization.nonce`, lower case `0x` + 64 hex digits.
    pub nonce: String,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub payment_intent_id: PaymentIntentId,
    pub created_at_ms: i64,
    /// SHA-256 (hex) of the canonical `/settle` request that claimed it: a retry of the very
    /// same request is answered with the first settlement. `None` on rows claimed before it
    /// was recorded, which are never replayed.
    pub request_sha256: Option<String>,
}

#[async_trait]
pub trait X402Store: Send + Sync + 'static {
    /// Claims the authorization for `payment`'s intent. `false` (and nothing stored) when it
    /// was claimed before: a replay.
    async fn claim_x402_payment(&self, payment: &X402Payment) -> Result<bool, StoreError>;

    /// The claim on this authorization, if any.
    async fn get_x402_payment(
        &self,
        network: &str,
        asset: &str,
        payer: &str,
        nonce: &str,
    ) -> Result<Option<X402Payment>, StoreError>;
}
