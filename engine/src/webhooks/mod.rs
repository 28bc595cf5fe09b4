//! Webhooks: Standard Webhooks signatures, the retry schedule, which URLs may receive events,
//! and the delivery worker that drains the outbox.
//!
//! Events are written in the same transaction as the change they describe; a dispatcher turns
//! each event into one delivery per matching endpoint (unique per event and endpoint, so two
//! gateway instances dispatching at once create it once); the deliverer claims due deliveries
//! with a lease, sends them, and records every attempt. A receiver that was down gets each
//! event once per endpoint after it recovers; a retry carries the same `webhook-id`.
//!
//! Deliveries are sent through the outbound-HTTP port ([`crate::outbound::HttpClient`]); the
//! gateway supplies the implementation (reqwest, redirects off, no proxy, and a resolver that
//! refuses non-public addresses and connects to exactly the addresses it checked).
//!
//! # Layout
//! - `deliver`: the dispatcher and the deliverer ([`dispatch_events`], [`deliver_due`],
//!   [`run_webhook_worker`]).
//! - `signing`: Standard Webhooks signatures and secrets.
//! - `sealing`: endpoint secrets sealed at rest ([`Sealer`]).
//! - `urls`: which URLs may receive webhooks ([`check_url`]).

mod deliver;
mod sealing;
mod signing;
mod urls;

pub use deliver::{deliver_due, dispatch_events, run_webhook_worker, DeliveryConfig};
pub use sealing::{Sealer, SealingError};
pub use signing::{generate_secret, sign, SigningError};
pub use urls::{check_target, check_url, is_public, UrlError};

/// Delay before retry `n` (1 = after the first failure). Totals a little over three days,
/// after which the delivery is marked failed (and can still be redelivered by hand).
pub const RETRY_SCHEDULE_SECS: [i64; 13] = [
    5,
    60,
    5 * 60,
    30 * 60,
    3600,
    2 * 3600,
    4 * 3600,
    8 * 3600,
    12 * 3600,
    12 * 3600,
    12 * 3600,
    12 * 3600,
    12 * 3600,
];

/// When to try again after `failures` failed attempts, or `None` when it is time to give up.
pub fn next_retry_delay_ms(failures: i64) -> Option<i64> {
    let index = usize::try_from(failures.checked_sub(1)?).ok()?;
    RETRY_SCHEDULE_SECS.get(index).map(|s| s * 1000)
}

/// Event types a merchant can subscribe to; `*` means all.
pub const EVENT_TYPES: [&str; 38] = [
    "payment_intent.created",
    "payment_intent.converting",
    "payment_intent.failed",
    "payment_intent.canceled",
    "payment_intent.expired",
    "payment_intent.funds_received",
    "payment_intent.funds_reverted",
    "payment_intent.in_review",
    "payment_intent.review_approved",
    "payment_intent.blocked",
    "payment_intent.settling",
    "payment_intent.succeeded",
    "payment_intent.underpaid_accepted",
    "payment_intent.underpaid_awaiting_top_up",
    "payment_intent.underpaid_refunded",
    "payment_intent.overpaid_kept",
    "payment_intent.overpaid_surplus_refunded",
    "payment_intent.late_accepted",
    "payment_intent.late_refunded",
    "payment_intent.overpaid_surplus_owed",
    "payment_intent.late_refund_owed",
    "refund.created",
    "refund.succeeded",
    "refund.failed",
    "refund.approved",
    "refund.requires_funding",
    "refund.funded",
    "settings.change_requested",
    "settings.change_applied",
    "settings.change_canceled",
    "payout.created",
    "payout.pending_approval",
    "payout.approved",
    "payout.in_transit",
    "payout.paid",
    "payout.failed",
    "payout.blocked",
    "balance.written_off",
];

/// Whether an endpoint subscribed to `enabled` wants events of type `kind`.
pub fn wants(enabled: &[String], kind: &str) -> bool {
    enabled.iter().any(|e| e == "*" || e == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_continue_for_at_least_three_days_then_stop() {
        let total: i64 = (1..).map_while(next_retry_delay_ms).sum();
        assert!(total >= 3 * 24 * 3600 * 1000, "{total}");
        assert!(total <= 4 * 24 * 3600 * 1000, "{total}");
        assert_eq!(next_retry_delay_ms(1), Some(5000));
        assert_eq!(next_retry_delay_ms(0), None);
        assert_eq!(next_retry_delay_ms(14), None);
    }

    #[test]
    fn endpoints_receive_only_the_types_they_subscribed_to() {
        let some = vec!["payment_intent.created".to_owned()];
        assert!(wants(&some, "payment_intent.created"));
        assert!(!wants(&some, "payment_intent.canceled"));
        assert!(wants(&["*".to_owned()], "payment_intent.expired"));
    }
}
