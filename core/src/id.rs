//! Typed, prefixed, time-ordered identifiers: `pi_01jd…`. The body is a ULID in lower case, so
//! IDs sort by creation time as plain strings (cursor pagination relies on that) and a
//! `PaymentIntentId` can never be passed where a `MerchantId` is expected.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::{Generator, Ulid};

/// What an ID names; the marker types below implement it with their prefix.
pub trait IdKind {
    const PREFIX: &'static str;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected an id starting with `{expected}_`")]
    WrongPrefix { expected: &'static str },
    #[error("malformed id")]
    Malformed,
}

pub struct Id<K: IdKind> {
    body: Ulid,
    kind: PhantomData<fn() -> K>,
}

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

impl<K: IdKind> Id<K> {
    /// A new id, strictly greater than every id this process generated before.
    pub fn generate() -> Self {
        let body = {
            let mut guard = GENERATOR
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let generator = guard.get_or_insert_with(Generator::new);
            // Overflow needs 2^80 ids within one millisecond; fall back to a fresh random body.
            generator.generate().unwrap_or_else(|_| Ulid::new())
        };
        Self::from_ulid(body)
    }

    /// An id whose time part is `at`; used by tests and by imports that keep creation order.
    pub fn at(at: SystemTime) -> Self {
        Self::from_ulid(Ulid::from_datetime(at))
    }

    fn from_ulid(body: Ulid) -> Self {
        Self {
            body,
            kind: PhantomData,
        }
    }

    /// Milliseconds since the Unix epoch at which the id was made.
    pub fn timestamp_ms(&self) -> u64 {
        self.body.timestamp_ms()
    }
}

impl<K: IdKind> FromStr for Id<K> {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s
            .strip_prefix(K::PREFIX)
            .and_then(|rest| rest.strip_prefix('_'))
            .ok_or(IdError::WrongPrefix {
                expected: K::PREFIX,
            })?;
        if body.len() != 26 || body.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(IdError::Malformed);
        }
        let ulid = Ulid::from_string(body).map_err(|_| IdError::Malformed)?;
        Ok(Self::from_ulid(ulid))
    }
}

impl<K: IdKind> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}",
            K::PREFIX,
            self.body.to_string().to_ascii_lowercase()
        )
    }
}

impl<K: IdKind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<K: IdKind> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: IdKind> Copy for Id<K> {}

impl<K: IdKind> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.body == other.body
    }
}

impl<K: IdKind> Eq for Id<K> {}

impl<K: IdKind> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: IdKind> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.body.cmp(&other.body)
    }
}

impl<K: IdKind> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.body.hash(state);
    }
}

impl<K: IdKind> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de, K: IdKind> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Marker for merchant ids (`mer_`).
#[derive(Debug)]
pub enum MerchantKind {}
impl IdKind for MerchantKind {
    const PREFIX: &'static str = "mer";
}

/// Marker for payment intent ids (`pi_`).
#[derive(Debug)]
pub enum PaymentIntentKind {}
impl IdKind for PaymentIntentKind {
    const PREFIX: &'static str = "pi";
}

/// Marker for API key ids (`key_`); the key itself is never stored.
#[derive(Debug)]
pub enum ApiKeyKind {}
impl IdKind for ApiKeyKind {
    const PREFIX: &'static str = "key";
}

/// Marker for event ids (`evt_`).
#[derive(Debug)]
pub enum EventKind {}
impl IdKind for EventKind {
    const PREFIX: &'static str = "evt";
}

/// Marker for webhook endpoint ids (`we_`).
#[derive(Debug)]
pub enum WebhookEndpointKind {}
impl IdKind for WebhookEndpointKind {
    const PREFIX: &'static str = "we";
}

/// Marker for webhook delivery ids (`wd_`): one event to one endpoint.
#[derive(Debug)]
pub enum WebhookDeliveryKind {}
impl IdKind for WebhookDeliveryKind {
    const PREFIX: &'static str = "wd";
}

/// Marker for webhook delivery attempt ids (`wa_`).
#[derive(Debug)]
pub enum WebhookAttemptKind {}
impl IdKind for WebhookAttemptKind {
    const PREFIX: &'static str = "wa";
}

/// Marker for route leg ids (`leg_`): one transaction or venue operation. Chain nonces and
/// exchange client order ids are tied to them, so a retry cannot execute a leg twice.
#[derive(Debug)]
pub enum LegKind {}
impl IdKind for LegKind {
    const PREFIX: &'static str = "leg";
}

/// Marker for misdirected deposit ids (`md_`): funds at a deposit address that pay nothing.
#[derive(Debug)]
pub enum MisdirectedKind {}
impl IdKind for MisdirectedKind {
    const PREFIX: &'static str = "md";
}

/// Marker for refund ids (`re_`).
#[derive(Debug)]
pub enum RefundKind {}
impl IdKind for RefundKind {
    const PREFIX: &'static str = "re";
}

/// Marker for payout ids (`po_`).
#[derive(Debug)]
pub enum PayoutKind {}
impl IdKind for PayoutKind {
    const PREFIX: &'static str = "po";
}

/// Marker for pending settings change ids (`sc_`): a maker-checker request.
#[derive(Debug)]
pub enum SettingsChangeKind {}
impl IdKind for SettingsChangeKind {
    const PREFIX: &'static str = "sc";
}

/// Marker for hosted checkout session ids (`cs_`). The session's page is reached by a separate
/// random token, never by this id.
#[derive(Debug)]
pub enum CheckoutSessionKind {}
impl IdKind for CheckoutSessionKind {
    const PREFIX: &'static str = "cs";
}

pub type CheckoutSessionId = Id<CheckoutSessionKind>;
pub type SettingsChangeId = Id<SettingsChangeKind>;
pub type LegId = Id<LegKind>;
pub type MisdirectedId = Id<MisdirectedKind>;
pub type RefundId = Id<RefundKind>;
pub type PayoutId = Id<PayoutKind>;
pub type MerchantId = Id<MerchantKind>;
pub type WebhookEndpointId = Id<WebhookEndpointKind>;
pub type WebhookDeliveryId = Id<WebhookDeliveryKind>;
pub type WebhookAttemptId = Id<WebhookAttemptKind>;
pub type PaymentIntentId = Id<PaymentIntentKind>;
pub type ApiKeyId = Id<ApiKeyKind>;
pub type EventId = Id<EventKind>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_round_trip() {
        let id = PaymentIntentId::generate();
        let text = id.to_string();
        assert!(text.starts_with("pi_") && text.len() == 29, "{text}");
        assert_eq!(text.parse::<PaymentIntentId>().unwrap(), id);
        assert_eq!(
            text.parse::<MerchantId>(),
            Err(IdError::WrongPrefix { expected: "mer" })
        );
    }

    #[test]
    fn generated_ids_sort_in_creation_order_as_strings() {
        let ids: Vec<String> = (0..1000)
            .map(|_| MerchantId::generate().to_string())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "pi_",
            "pi_123",
            "pi_01JD0000000000000000000000",
            "pi-01jd0000000000000000000000",
            "pi_01jd00000000000000000000u0",
        ] {
            assert!(bad.parse::<PaymentIntentId>().is_err(), "{bad}");
        }
    }
}
