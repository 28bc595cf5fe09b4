//! Hosted checkout sessions: a page a merchant sends a shopper to, paying one payment intent.
//!
//! The session's page is opened with a random `token` (never the session or intent id), and
//! that token is the shopper's only capability: it reads the one intent and pays it, nothing
//! else. The session's own state is small: it is `open` until the merchant cancels it; whether
//! it is complete or expired is read from its intent, so the two can never disagree.

use async_trait::async_trait;
use rand::distributions::Alphanumeric;
use rand::Rng;
use rialto_core::id::{CheckoutSessionId, MerchantId, PaymentIntentId};

use super::{Event, StoreError};
use rialto_core::intent::PaymentIntent;

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckoutLocale {
    En,
    De,
}

impl CheckoutLocale {
    pub const ALL: [CheckoutLocale; 2] = [CheckoutLocale::En, CheckoutLocale::De];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckoutLocale::En => "en",
            CheckoutLocale::De => "de",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

/// What the session itself stores; `complete` and `expired` come from the intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckoutSessionState {
    Open,
    Canceled,
}

impl CheckoutSessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckoutSessionState::Open => "open",
            CheckoutSessionState::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [CheckoutSessionState::Open, CheckoutSessionState::Canceled]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One line of what the shopper buys, shown on the page only (the intent's amount is what is
/// paid; line items are not summed into it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineItem {
    pub name: String,
    pub quantity: u32,
    /// Decimal string in whole units of the intent's currency.
    pub unit_amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: CheckoutSessionId,
    /// The page's capability: 43 random alphanumerics (about 256 bits).
    pub token: String,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub payment_intent_id: PaymentIntentId,
    pub success_url: String,
    pub cancel_url: String,
    pub locale: CheckoutLocale,
    pub line_items: Vec<LineItem>,
    pub state: CheckoutSessionState,
    pub created_at_ms: i64,
    pub canceled_at_ms: Option<i64>,
}

/// A fresh page token, from the thread-local CSPRNG (as `keys::client_secret`).
pub fn checkout_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect()
}

#[async_trait]
pub trait CheckoutStore: Send + Sync + 'static {
    /// Inserts a new session. Tokens are unique; a collision is a database error.
    async fn create_checkout_session(&self, session: &CheckoutSession) -> Result<(), StoreError>;

    /// Inserts a new intent (with its `payment_intent.created` event) and the session that
    /// pays it in one transaction: if either write fails, neither exists, so a failed create
    /// never leaves a payable intent that no page and no merchant response names.
    async fn create_checkout_session_with_intent(
        &self,
        intent: &PaymentIntent,
        event: &Event,
        session: &CheckoutSession,
    ) -> Result<(), StoreError>;

    /// The session, only if it belongs to this merchant in this mode.
    async fn get_checkout_session(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        id: &CheckoutSessionId,
    ) -> Result<Option<CheckoutSession>, StoreError>;

    /// The session whose page token this is (exact match), for the shopper's page.
    async fn checkout_session_by_token(
        &self,
        token: &str,
    ) -> Result<Option<CheckoutSession>, StoreError>;

    /// Compare-and-set `open` → `canceled`; false if it was not open (already canceled).
    /// Idempotent: canceling a canceled session changes nothing.
    async fn cancel_checkout_session(
        &self,
        id: &CheckoutSessionId,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
}
