//! The objects as the API shows them, where the engine needs their JSON: events carry the
//! object exactly as the API showed it when they happened, and webhooks deliver those bytes.

use std::collections::BTreeMap;

use rialto_core::id::EventId;
use rialto_core::intent::PaymentIntent;
use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::store::Event;

#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementObject {
    #[schema(example = "usdc")]
    pub asset: String,
    #[schema(example = "eip155:8453/erc20:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")]
    pub asset_id: String,
    #[schema(example = "base")]
    pub chain: String,
    #[schema(example = "eip155:8453")]
    pub chain_id: String,
    pub address: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentIntentObject {
    pub id: String,
    /// Always `payment_intent`.
    pub object: &'static str,
    pub livemode: bool,
    #[schema(example = "25.00")]
    pub amount: String,
    #[schema(example = "usd")]
    pub currency: String,
    /// Refunded so far (pending refunds included), in the settlement asset.
    #[schema(example = "0")]
    pub amount_refunded: String,
    #[schema(example = "awaiting_funds")]
    pub status: String,
    /// `underpaid`, `overpaid` or `late` with amounts, once funds arrive.
    pub payment_detail: Option<serde_json::Value>,
    pub settlement: SettlementObject,
    pub description: Option<String>,
    /// Omitted for publishable-key reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    pub client_secret: String,
    /// Unix seconds.
    pub created: i64,
    pub expires_at: i64,
    pub canceled_at: Option<i64>,
    pub cancellation_reason: Option<String>,
    /// The fresh key (base58) this intent's Solana Pay requests carry: the gateway finds the
    /// payment on chain by it, with no report needed. Only on intents settling on Solana.
    pub payment_reference: Option<String>,
    /// Solana Pay transfer request (`solana:<recipient>?amount=…&spl-token=…&reference=…`)
    /// paying exactly this intent; a wallet that opens it pays with the reference.
    pub solana_pay_url: Option<String>,
    /// Solana Pay transaction request (`solana:https://…`): the wallet fetches the transaction
    /// to sign from the gateway. Only when `server.public_url` is an `https` URL; shown by
    /// create, retrieve and list (later events' objects carry only the two fields above).
    pub solana_pay_transaction_url: Option<String>,
    /// The locked rate of an intent priced in another unit than its settlement asset, once
    /// the payer committed to pay (absent for one-for-one intents and before any commitment).
    pub fx: Option<crate::routing::fx::FxLockObject>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentIntentList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<PaymentIntentObject>,
    pub has_more: bool,
    pub url: &'static str,
}

impl PaymentIntentObject {
    pub fn new(intent: &PaymentIntent, with_metadata: bool) -> Self {
        let asset = &intent.settlement.asset;
        Self {
            id: intent.id.to_string(),
            object: "payment_intent",
            livemode: intent.livemode,
            amount: intent.amount.to_amount_string(),
            currency: intent.amount.currency().code().to_owned(),
            amount_refunded: intent.amount_refunded.normalize().to_string(),
            status: intent.status.as_str().to_owned(),
            payment_detail: intent
                .payment_detail
                .as_ref()
                .and_then(|d| serde_json::to_value(d).ok()),
            settlement: SettlementObject {
                asset: asset.code.clone(),
                asset_id: asset.id.to_string(),
                chain: asset.chain_alias.clone(),
                chain_id: asset.id.chain().to_string(),
                address: intent.settlement.address.to_string(),
            },
            description: intent.description.clone(),
            metadata: with_metadata.then(|| intent.metadata.clone()),
            client_secret: intent.client_secret.clone(),
            created: intent.created_at_ms / 1000,
            expires_at: intent.expires_at_ms / 1000,
            canceled_at: intent.canceled_at_ms.map(|ms| ms / 1000),
            cancellation_reason: intent.cancellation_reason.map(|r| r.as_str().to_owned()),
            payment_reference: intent.payment_reference.map(|r| r.to_string()),
            solana_pay_url: solana_pay_url(intent),
            solana_pay_transaction_url: None,
            fx: intent
                .fx
                .as_ref()
                .map(crate::routing::fx::FxLockObject::new),
        }
    }

    /// Adds the Solana Pay transaction-request link, served at `{public_url}/solana_pay/{id}`
    /// (none unless `public_url` is `https`: wallets fetch nothing else).
    pub fn with_transaction_request(mut self, intent: &PaymentIntent, public_url: &str) -> Self {
        if intent.payment_reference.is_some() {
            let request = rialto_core::payment_uri::solana_pay::TransactionRequest {
                link: format!(
                    "{}/solana_pay/{}",
                    public_url.trim_end_matches('/'),
                    intent.id
                ),
                label: None,
                message: None,
            };
            self.solana_pay_transaction_url = request.to_url().ok();
        }
        self
    }
}

/// The Solana Pay transfer request paying exactly `intent`, with its reference; none for an
/// intent without one, or one with no amount due in its settlement asset yet (a conversion
/// intent before its rate is locked).
pub fn solana_pay_url(intent: &PaymentIntent) -> Option<String> {
    let reference = intent.payment_reference?;
    let amount = crate::chain::due(intent)?;
    let mut request =
        rialto_core::payment_uri::solana_pay::TransferRequest::new(intent.settlement.address);
    request.amount = Some(amount.amount().normalize());
    request.spl_token = Some(intent.settlement.asset.contract);
    request.references = vec![reference];
    request.to_url().ok()
}

/// The event recording a change to `intent`, carrying the object as the API shows it.
pub fn intent_event(intent: &PaymentIntent, kind: &str, json: &str, now_ms: i64) -> Event {
    Event {
        id: EventId::generate(),
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        kind: kind.to_owned(),
        object_json: json.to_owned(),
        created_at_ms: now_ms,
    }
}

/// The intent as the API shows it to its merchant.
pub fn intent_json(intent: &PaymentIntent) -> String {
    serde_json::to_string(&PaymentIntentObject::new(intent, true)).unwrap_or_default()
}

/// An event as the API and webhooks show it (Stripe's shape). `data.object` is the object
/// exactly as the API showed it when the event happened.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventObject<'a> {
    pub id: String,
    /// Always `event`.
    pub object: &'static str,
    #[serde(rename = "type")]
    #[schema(example = "payment_intent.created")]
    pub kind: &'a str,
    pub livemode: bool,
    /// Unix seconds.
    pub created: i64,
    pub data: EventData<'a>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventData<'a> {
    #[schema(value_type = Object)]
    pub object: &'a RawValue,
}

/// The event's JSON, the same bytes for the API and for every webhook delivery attempt.
pub fn event_object_json(event: &Event) -> String {
    let fallback = RawValue::from_string("null".to_owned()).ok();
    let parsed: Option<Box<RawValue>> = serde_json::from_str(&event.object_json).ok();
    let Some(object) = parsed.or(fallback) else {
        return String::new();
    };
    let view = EventObject {
        id: event.id.to_string(),
        object: "event",
        kind: &event.kind,
        livemode: event.livemode,
        created: event.created_at_ms / 1000,
        data: EventData { object: &object },
    };
    serde_json::to_string(&view).unwrap_or_default()
}
