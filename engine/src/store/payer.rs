//! Payer details: what a payer says about themselves before paying (name, country,
//! identifiers, IVMS101 travel-rule data), stored sealed, one row per intent, so screening
//! can use it when the funds arrive.

use async_trait::async_trait;
use rialto_core::id::{MerchantId, PaymentIntentId};

use super::StoreError;

/// One intent's payer details. `sealed` is the JSON sealed for the row
/// (`Sealer::row("payer_details", <intent id>)`): the store never sees the plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerDetailsRecord {
    pub payment_intent_id: PaymentIntentId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub sealed: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

#[async_trait]
pub trait PayerDetailsStore: Send + Sync + 'static {
    /// Stores the details, replacing earlier ones for the same intent (a payer may correct a
    /// typo until the funds arrive; the caller checks the intent's state).
    async fn put_payer_details(&self, record: &PayerDetailsRecord) -> Result<(), StoreError>;

    async fn get_payer_details(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Option<PayerDetailsRecord>, StoreError>;
}
