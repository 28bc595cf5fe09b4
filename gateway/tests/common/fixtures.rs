//! Store fixtures: a merchant with one intent, written straight into a store, for the suites
//! that test the store itself.

use rialto_compliance::{AuditEntry, ComplianceCaseId};
use rialto_core::id::{EventId, MerchantId, PaymentIntentId};
use rialto_core::intent::{PaymentIntent, PaymentStatus, SettlementTarget};
use rialto_core::money::{Currency, Money};
use rialto_gateway::keys::generate_key;
use rialto_gateway::store::{CaseRecord, CaseStatus, Event, KeyKind, Merchant, Store};

/// A new merchant (with a test secret key) and its intent of `amount` USD, settling in USDC on
/// Base at `address`, in `status`, created at `at_ms` with its `payment_intent.created` event.
pub async fn stored_intent(
    store: &dyn Store,
    amount: &str,
    status: PaymentStatus,
    address: &str,
    at_ms: i64,
) -> PaymentIntent {
    let merchant = MerchantId::generate();
    let m = Merchant {
        id: merchant,
        name: "Shop".into(),
        settlement_asset: None,
        settlement_address: None,
        created_at_ms: at_ms,
        country: None,
    };
    let (_, sk) = generate_key(merchant, KeyKind::Secret, false, at_ms);
    store.create_merchant(&m, &[sk]).await.unwrap();
    let id = PaymentIntentId::generate();
    let intent = PaymentIntent {
        id,
        merchant_id: merchant,
        livemode: false,
        amount: Money::parse(amount, Currency::usd()).unwrap(),
        settlement: SettlementTarget::resolve(&super::registry(), "usdc", "base", address).unwrap(),
        status,
        description: None,
        metadata: Default::default(),
        client_secret: format!("{id}_secret_x"),
        created_at_ms: at_ms,
        expires_at_ms: at_ms + 60_000,
        updated_at_ms: at_ms,
        canceled_at_ms: None,
        cancellation_reason: None,
        version: 1,
        amount_refunded: rust_decimal::Decimal::ZERO,
        payment_detail: None,
        payment_reference: None,
        fx: None,
    };
    let event = Event {
        id: EventId::generate(),
        merchant_id: merchant,
        livemode: false,
        kind: "payment_intent.created".into(),
        object_json: "{}".into(),
        created_at_ms: at_ms,
    };
    store.create_intent(&intent, &event, None).await.unwrap();
    intent
}

/// A `[[live.venues]]` entry that makes a gateway count as live (Kraken on Base). Its
/// credentials name variables no test sets: nothing ever reaches a venue through it.
pub fn live_venue() -> rialto_gateway::config::VenueConfig {
    use rialto_gateway::config::{SecretRef, VenueConfig, VenueKind};
    let env = |name: &str| SecretRef {
        env: name.into(),
        file: String::new(),
    };
    VenueConfig {
        kind: VenueKind::Kraken,
        base_url: "https://api.kraken.com".into(),
        networks: [("base".to_owned(), "USDC - Base".to_owned())].into(),
        market_api_key: env("RIALTO_TEST_UNSET_KRAKEN_KEY"),
        market_api_secret: env("RIALTO_TEST_UNSET_KRAKEN_SECRET"),
        withdrawals: vec![],
    }
}

/// An open-or-resolved compliance case of `pi` at the funds screening.
pub fn case(id: ComplianceCaseId, pi: &PaymentIntent, status: CaseStatus) -> CaseRecord {
    CaseRecord {
        id,
        merchant_id: Some(pi.merchant_id),
        livemode: false,
        payment_intent_id: Some(pi.id),
        point: "funds_received".into(),
        outcome: "review".into(),
        status,
        decision_json: "{}".into(),
        subject_json: "{}".into(),
        created_at_ms: 1_800_000_000_000,
        resolved_at_ms: None,
        resolved_by: None,
        resolution_note: None,
    }
}

/// An audit entry for the case `id`.
pub fn entry(id: &ComplianceCaseId, kind: &str) -> AuditEntry {
    AuditEntry {
        id: id.to_string(),
        at_ms: 1,
        kind: kind.into(),
        subject: "pi".into(),
        outcome: "review".into(),
        detail: "{}".into(),
    }
}
