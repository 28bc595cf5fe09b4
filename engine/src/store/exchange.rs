//! Exchange accounts linked to payments (see `gateway/src/exchange`).

use async_trait::async_trait;
use rialto_core::id::{MerchantId, PaymentIntentId};

use super::StoreError;

/// A payer's exchange account linked to one payment intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeAccount {
    /// `xa_…`.
    pub id: String,
    pub payment_intent_id: PaymentIntentId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    /// `binance`, `kraken`, `coinbase`.
    pub venue: String,
    /// Sealed JSON of the credentials; empty once erased.
    pub sealed_credentials: String,
    pub keep_credentials: bool,
    /// Leg ids of the conversion order and the withdrawal, fixed before anything is sent.
    pub order_leg: String,
    pub withdrawal_leg: String,
    pub status: ExchangeAccountStatus,
    pub venue_withdrawal_id: Option<String>,
    pub tx_hash: Option<String>,
    pub failure: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub erased_at_ms: Option<i64>,
    /// What the venue did for the payer, as JSON ([`crate::exchange::Conversion`]): the trade
    /// (filled amounts and fee) and the withdrawal fee, for the ledger's `conversion` and
    /// `fee` postings.
    pub conversion: Option<String>,
    /// The account's deposit address for the settlement coin on the settlement chain, as the
    /// venue answered when the account was linked: where a refund of the payment goes when the
    /// merchant names no destination. An address, not a secret.
    pub deposit_address: Option<String>,
}

/// Where an exchange account paying an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExchangeAccountStatus {
    /// Linked; nothing sent to the venue yet.
    Pending,
    /// The withdrawal is submitted; its transaction is not known yet.
    Submitted,
    /// The venue sent the funds; the transaction is bound to the intent.
    Withdrawn,
    /// Paying through a SmartFunding route (its legs move the money).
    Routed,
    /// Given up: nothing more is sent from it.
    Failed,
}

impl ExchangeAccountStatus {
    const ALL: [ExchangeAccountStatus; 5] = [
        ExchangeAccountStatus::Pending,
        ExchangeAccountStatus::Submitted,
        ExchangeAccountStatus::Withdrawn,
        ExchangeAccountStatus::Routed,
        ExchangeAccountStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeAccountStatus::Pending => "pending",
            ExchangeAccountStatus::Submitted => "submitted",
            ExchangeAccountStatus::Withdrawn => "withdrawn",
            ExchangeAccountStatus::Routed => "routed",
            ExchangeAccountStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for ExchangeAccountStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[async_trait]
pub trait ExchangeStore: Send + Sync + 'static {
    async fn create_exchange_account(&self, account: &ExchangeAccount) -> Result<(), StoreError>;

    async fn get_exchange_account(&self, id: &str) -> Result<Option<ExchangeAccount>, StoreError>;

    /// Accounts linked to an intent, oldest first.
    async fn exchange_accounts_of(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Vec<ExchangeAccount>, StoreError>;

    /// Accounts whose withdrawal is sent but has no transaction hash yet.
    async fn submitted_exchange_withdrawals(&self) -> Result<Vec<ExchangeAccount>, StoreError>;

    /// Records the withdrawal's progress (status, venue id, tx hash, failure).
    async fn update_exchange_account(&self, account: &ExchangeAccount) -> Result<(), StoreError>;

    /// Leases a `pending` account to one caller until `until_ms`, so only one request (of any
    /// gateway instance) talks to the venue for it at a time. True when taken: the account was
    /// pending and no lease was held past `now_ms` (an expired lease, a dead holder's, is taken
    /// over). False when another caller holds it or the account is no longer pending.
    async fn claim_exchange_account(
        &self,
        id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Gives the lease taken with `until_ms` back, if it is still that one.
    async fn release_exchange_account(&self, id: &str, until_ms: i64) -> Result<(), StoreError>;

    /// Erases the credentials of accounts whose payment ended (any terminal status) and that
    /// were not kept; returns how many were erased.
    async fn erase_finished_exchange_credentials(&self, now_ms: i64) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::ExchangeAccountStatus;

    #[test]
    fn account_statuses_round_trip_their_stored_names() {
        for status in ExchangeAccountStatus::ALL {
            assert_eq!(ExchangeAccountStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ExchangeAccountStatus::parse("linked"), None);
    }
}
