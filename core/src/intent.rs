//! The payment intent and its state machine (DESIGN.md §4).
//!
//! ```text
//! awaiting_funds → funds_received → converting → settling → succeeded
//!                      │  ▲  │                       ▲
//!                      │  └──┼── in_review ──► blocked
//!                      │     └───────────────────────┘ (no conversion needed)
//! exits: expired, canceled (from awaiting_funds), failed (from converting/settling)
//! ```
//! Transitions are pure: [`PaymentStatus::apply`] answers the next status or why not. The store
//! applies the answer with compare-and-set on the previous status.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::address::{Address, AddressError};
use crate::asset::{Asset, AssetKind, AssetRegistry, RegistryError};
use crate::id::{MerchantId, PaymentIntentId};
use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    AwaitingFunds,
    FundsReceived,
    InReview,
    Converting,
    Settling,
    Succeeded,
    Blocked,
    Expired,
    Canceled,
    Failed,
}

/// Something that happened to a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentEvent {
    /// Funds for the intent were seen with the required confirmations.
    FundsDetected,
    /// The funding transaction dropped out of the chain (reorg) before anything moved on.
    FundsReverted,
    /// Compliance wants a human to look.
    ComplianceReview,
    /// An operator approved a payment under review; it rejoins the flow.
    ComplianceApproved,
    /// Compliance blocked the payment: funds are frozen.
    ComplianceBlocked,
    /// The first conversion leg started.
    ConversionStarted,
    /// The settlement transfer to the merchant started.
    SettlementStarted,
    /// The merchant received the settlement.
    Settled,
    /// No route could complete; funds go back to the payer.
    RouteFailed,
    /// The intent's funding window closed with no funds.
    Expire,
    /// The merchant canceled the intent.
    Cancel,
    /// Funds arrived after the intent expired, within the merchant's late-payment window, and
    /// a fresh quote still covers the amount: the intent reopens, and its funds are then
    /// screened like any others.
    LateFundsAccepted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a payment intent in status {from} cannot take event {event:?}")]
pub struct TransitionError {
    pub from: PaymentStatus,
    pub event: PaymentEvent,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 10] = [
        PaymentStatus::AwaitingFunds,
        PaymentStatus::FundsReceived,
        PaymentStatus::InReview,
        PaymentStatus::Converting,
        PaymentStatus::Settling,
        PaymentStatus::Succeeded,
        PaymentStatus::Blocked,
        PaymentStatus::Expired,
        PaymentStatus::Canceled,
        PaymentStatus::Failed,
    ];

    /// The status after `event`, or the reason it cannot happen now.
    pub fn apply(self, event: PaymentEvent) -> Result<PaymentStatus, TransitionError> {
        use PaymentEvent as E;
        use PaymentStatus as S;
        let next = match (self, event) {
            (S::AwaitingFunds, E::FundsDetected) => S::FundsReceived,
            (S::AwaitingFunds, E::Expire) => S::Expired,
            (S::AwaitingFunds, E::Cancel) => S::Canceled,
            (S::Expired, E::LateFundsAccepted) => S::AwaitingFunds,
            (S::FundsReceived, E::FundsReverted) => S::AwaitingFunds,
            (S::FundsReceived, E::ComplianceReview) => S::InReview,
            (S::FundsReceived | S::InReview, E::ComplianceBlocked) => S::Blocked,
            (S::InReview, E::ComplianceApproved) => S::FundsReceived,
            (S::FundsReceived, E::ConversionStarted) => S::Converting,
            (S::FundsReceived | S::Converting, E::SettlementStarted) => S::Settling,
            (S::Settling, E::Settled) => S::Succeeded,
            (S::Converting | S::Settling, E::RouteFailed) => S::Failed,
            (from, event) => return Err(TransitionError { from, event }),
        };
        Ok(next)
    }

    /// No event can move a terminal intent (except late funds into an expired one, which the
    /// merchant's late-payment policy may accept: see [`PaymentEvent::LateFundsAccepted`]).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PaymentStatus::Succeeded
                | PaymentStatus::Blocked
                | PaymentStatus::Expired
                | PaymentStatus::Canceled
                | PaymentStatus::Failed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::AwaitingFunds => "awaiting_funds",
            PaymentStatus::FundsReceived => "funds_received",
            PaymentStatus::InReview => "in_review",
            PaymentStatus::Converting => "converting",
            PaymentStatus::Settling => "settling",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Blocked => "blocked",
            PaymentStatus::Expired => "expired",
            PaymentStatus::Canceled => "canceled",
            PaymentStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payment status")]
pub struct UnknownStatus;

impl FromStr for PaymentStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// Where and in what the merchant is paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementTarget {
    pub asset: Asset,
    pub address: Address,
}

/// Why a settlement target was refused; each maps to its own API error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    /// Unknown chain or asset, or an asset not on that chain.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(
        "`{0}` cannot be a settlement asset: merchants settle in stablecoins or deposit tokens"
    )]
    NotSettleable(String),
    #[error(transparent)]
    Address(#[from] AddressError),
}

impl SettlementTarget {
    /// Resolves what a merchant typed (`usdc`, `base`, `0x…`; or CAIP ids) into a target,
    /// checking that the asset exists on that chain and the address is valid there.
    pub fn resolve(
        registry: &AssetRegistry,
        asset: &str,
        chain: &str,
        address: &str,
    ) -> Result<Self, SettlementError> {
        let chain = registry
            .chain(chain)
            .ok_or_else(|| RegistryError::UnknownChain(chain.to_owned()))?;
        let asset = registry.asset_on(asset, chain)?;
        if asset.kind == AssetKind::Native {
            return Err(SettlementError::NotSettleable(asset.code.clone()));
        }
        let address = Address::parse(address, chain.id.namespace())?;
        Ok(Self {
            asset: asset.clone(),
            address,
        })
    }
}

/// Why the merchant canceled, Stripe's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancellationReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
    Abandoned,
}

impl CancellationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancellationReason::Duplicate => "duplicate",
            CancellationReason::Fraudulent => "fraudulent",
            CancellationReason::RequestedByCustomer => "requested_by_customer",
            CancellationReason::Abandoned => "abandoned",
        }
    }
}

impl FromStr for CancellationReason {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            CancellationReason::Duplicate,
            CancellationReason::Fraudulent,
            CancellationReason::RequestedByCustomer,
            CancellationReason::Abandoned,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or(UnknownStatus)
    }
}

/// How the funds that arrived differ from what the intent asked (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentDetailKind {
    Underpaid,
    Overpaid,
    Late,
}

/// What the merchant's payment policy did about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentResolution {
    /// Accepted as payment in full (under-payment within tolerance, a late payment re-quoted,
    /// an over-payment the merchant keeps).
    Accepted,
    /// Part of the amount arrived; waiting for the rest until the intent expires.
    AwaitingTopUp,
    /// Everything received goes back to the payer.
    Refunded,
    /// The payment is accepted and the surplus goes back to the payer.
    SurplusRefunded,
    /// The funds the policy would give back (an over-payment's surplus, a payment too late to
    /// accept) went straight to the merchant's own address, where Rialto cannot move them: the
    /// merchant owes `refund` to the payer and returns it itself (`docs/money.md`).
    OwedByMerchant,
}

/// `payment_detail` of an intent: amounts are in the settlement asset's whole units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentDetail {
    #[serde(rename = "type")]
    pub kind: PaymentDetailKind,
    pub resolution: PaymentResolution,
    #[serde(with = "rust_decimal::serde::str")]
    pub expected: rust_decimal::Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub received: rust_decimal::Decimal,
    /// What goes back to the payer because of the policy (zero when nothing does).
    #[serde(with = "rust_decimal::serde::str")]
    pub refund: rust_decimal::Decimal,
}

impl PaymentDetail {
    /// The event type the policy's decision is announced with.
    pub fn event_type(&self) -> &'static str {
        use PaymentDetailKind as K;
        use PaymentResolution as R;
        match (self.kind, self.resolution) {
            (K::Underpaid, R::Accepted) => "payment_intent.underpaid_accepted",
            (K::Underpaid, R::AwaitingTopUp) => "payment_intent.underpaid_awaiting_top_up",
            (K::Underpaid, R::Refunded | R::SurplusRefunded | R::OwedByMerchant) => {
                "payment_intent.underpaid_refunded"
            }
            (K::Overpaid, R::Accepted | R::AwaitingTopUp) => "payment_intent.overpaid_kept",
            (K::Overpaid, R::Refunded | R::SurplusRefunded) => {
                "payment_intent.overpaid_surplus_refunded"
            }
            (K::Overpaid, R::OwedByMerchant) => "payment_intent.overpaid_surplus_owed",
            (K::Late, R::Accepted | R::AwaitingTopUp | R::SurplusRefunded) => {
                "payment_intent.late_accepted"
            }
            (K::Late, R::Refunded) => "payment_intent.late_refunded",
            (K::Late, R::OwedByMerchant) => "payment_intent.late_refund_owed",
        }
    }
}

/// A merchant's request to be paid an amount, settled to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    pub id: PaymentIntentId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub amount: Money,
    pub settlement: SettlementTarget,
    pub status: PaymentStatus,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub client_secret: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub updated_at_ms: i64,
    pub canceled_at_ms: Option<i64>,
    pub cancellation_reason: Option<CancellationReason>,
    /// Bumped on every change; lets readers detect concurrent updates.
    pub version: i64,
    /// Refunded so far (pending refunds included), in the settlement asset's whole units.
    pub amount_refunded: rust_decimal::Decimal,
    /// Set when the funds that arrived differ from the amount (under, over, late).
    pub payment_detail: Option<PaymentDetail>,
    /// A fresh key only this intent's payment request carries (Solana Pay's `reference`): the
    /// payment is found on chain by it, with no report from the payer. `None` on chains that
    /// find payments otherwise (EVM: deposit addresses, reports).
    pub payment_reference: Option<crate::address::Address>,
    /// The locked rate of an intent priced in another unit than its settlement asset (a EUR
    /// intent settling in USDC): set when the payer commits to pay, final once funds are seen.
    pub fx: Option<crate::fx::FxLock>,
}

impl PaymentIntent {
    /// Applies `event` and returns the updated intent; `self` is left untouched so the caller
    /// can compare-and-set against the old status.
    pub fn transition(&self, event: PaymentEvent, now_ms: i64) -> Result<Self, TransitionError> {
        let status = self.status.apply(event)?;
        let mut next = self.clone();
        next.status = status;
        next.version += 1;
        next.updated_at_ms = now_ms;
        if status == PaymentStatus::Canceled {
            next.canceled_at_ms = Some(now_ms);
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentEvent as E;
    use PaymentStatus as S;

    const EVENTS: [PaymentEvent; 12] = [
        E::FundsDetected,
        E::FundsReverted,
        E::ComplianceReview,
        E::ComplianceApproved,
        E::ComplianceBlocked,
        E::ConversionStarted,
        E::SettlementStarted,
        E::Settled,
        E::RouteFailed,
        E::Expire,
        E::Cancel,
        E::LateFundsAccepted,
    ];

    /// Every allowed transition. Any (status, event) pair not listed must be refused.
    const ALLOWED: [(PaymentStatus, PaymentEvent, PaymentStatus); 15] = [
        (S::AwaitingFunds, E::FundsDetected, S::FundsReceived),
        (S::Expired, E::LateFundsAccepted, S::AwaitingFunds),
        (S::AwaitingFunds, E::Expire, S::Expired),
        (S::AwaitingFunds, E::Cancel, S::Canceled),
        (S::FundsReceived, E::FundsReverted, S::AwaitingFunds),
        (S::FundsReceived, E::ComplianceReview, S::InReview),
        (S::FundsReceived, E::ComplianceBlocked, S::Blocked),
        (S::InReview, E::ComplianceBlocked, S::Blocked),
        (S::InReview, E::ComplianceApproved, S::FundsReceived),
        (S::FundsReceived, E::ConversionStarted, S::Converting),
        (S::FundsReceived, E::SettlementStarted, S::Settling),
        (S::Converting, E::SettlementStarted, S::Settling),
        (S::Settling, E::Settled, S::Succeeded),
        (S::Converting, E::RouteFailed, S::Failed),
        (S::Settling, E::RouteFailed, S::Failed),
    ];

    #[test]
    fn every_status_and_event_pair_matches_the_table() {
        let mut checked = 0;
        for from in PaymentStatus::ALL {
            for event in EVENTS {
                let expected = ALLOWED
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match (from.apply(event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from} + {event:?}"),
                    (Err(err), None) => assert_eq!(err, TransitionError { from, event }),
                    (got, want) => panic!("{from} + {event:?}: got {got:?}, table says {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 120);
    }

    #[test]
    fn terminal_statuses_accept_no_event_but_late_funds_into_an_expired_intent() {
        for from in PaymentStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            let movable = EVENTS
                .iter()
                .filter(|e| from.apply(**e).is_ok())
                .collect::<Vec<_>>();
            let expected: &[&PaymentEvent] = if from == S::Expired {
                &[&E::LateFundsAccepted]
            } else {
                &[]
            };
            assert_eq!(movable, expected, "{from}");
        }
    }

    #[test]
    fn blocked_funds_can_never_reach_conversion_or_settlement() {
        for event in EVENTS {
            let next = S::Blocked.apply(event);
            assert!(next.is_err(), "blocked + {event:?} -> {next:?}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in PaymentStatus::ALL {
            assert_eq!(status.as_str().parse::<PaymentStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }
}
