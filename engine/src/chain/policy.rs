//! The merchant's payment policy applied to deposit-address payments, where Rialto holds the
//! funds until it sweeps them and so can accept, wait or give back (`crate::settings`).
//!
//! [`decide`] is pure: from the intent, the settings, everything confirmed into the deposit
//! address and the time, it says what happens:
//! - received ≥ amount × (1 − tolerance) while the intent waits → fund it (an under-payment
//!   within tolerance is `underpaid/accepted`; more than the amount is `overpaid`, kept or
//!   with the surplus refunded per `overpaid`);
//! - less, before expiry → `underpaid/awaiting_top_up` (more transfers may follow);
//! - the intent expired with funds that never covered it → everything is refunded
//!   (`underpaid/refunded`);
//! - funds arriving after expiry: within `late_payment_window_secs`, and covering a fresh quote
//!   (one for one for the stablecoin-denominated intents that can be paid without a quote), the
//!   intent is reopened (`late/accepted`); else everything is refunded (`late/refunded`).
//!
//! Refunds the policy decides are ordinary refunds (`re_…`, reason `underpaid`, `overpaid` or
//! `late`): the deposit is swept to the treasury, the ledger posts the payment to the merchant's
//! balance, and the refund moves it back to the payer.

use rialto_core::intent::PaymentEvent;
use rialto_core::intent::{
    PaymentDetail, PaymentDetailKind as Kind, PaymentIntent, PaymentResolution as Resolution,
    PaymentStatus,
};
use rust_decimal::Decimal;

use super::rail::FlowError;
use super::Chain;
use crate::compliance::flow::{
    screen_outgoing, screen_received_funds, FundsSubject, OutgoingAddress,
};
use crate::objects::{intent_event, intent_json};
use crate::refunds::RefundSpec;
use crate::services::Engine;
use crate::settings::{self, MerchantSettings, OverpaidPolicy};
use crate::store::{CasOutcome, PaymentTransaction};
use crate::store::{PaymentSource, PaymentTxStatus};

/// What the policy does with the funds confirmed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Screen the funds and move the intent on; `detail` says how they differed, if they did.
    Fund { detail: Option<PaymentDetail> },
    /// Late funds accepted: reopen the expired intent, then fund it.
    Reopen { detail: PaymentDetail },
    /// Not enough yet: record it and wait for more until expiry.
    AwaitTopUp { detail: PaymentDetail },
    /// Give everything received back to the payer.
    RefundAll { detail: PaymentDetail },
    /// Nothing to do (no funds, or the intent is past the point the policy applies).
    Nothing,
}

fn detail(
    kind: Kind,
    resolution: Resolution,
    expected: Decimal,
    received: Decimal,
) -> PaymentDetail {
    let refund = match resolution {
        Resolution::Refunded => received,
        Resolution::SurplusRefunded => received - expected,
        // Only the direct-payment policy (`super::direct`) owes; it sets its own refund.
        Resolution::OwedByMerchant => received,
        Resolution::Accepted | Resolution::AwaitingTopUp => Decimal::ZERO,
    };
    PaymentDetail {
        kind,
        resolution,
        expected: expected.normalize(),
        received: received.normalize(),
        refund: refund.normalize(),
    }
}

/// How an accepted payment of `received` differs from `expected`.
fn accepted(
    settings: &MerchantSettings,
    expected: Decimal,
    received: Decimal,
) -> Option<PaymentDetail> {
    if received < expected {
        return Some(detail(
            Kind::Underpaid,
            Resolution::Accepted,
            expected,
            received,
        ));
    }
    if received > expected {
        let resolution = match settings.overpaid {
            OverpaidPolicy::Keep => Resolution::Accepted,
            OverpaidPolicy::RefundSurplus => Resolution::SurplusRefunded,
        };
        return Some(detail(Kind::Overpaid, resolution, expected, received));
    }
    None
}

/// The policy's decision; `received` is the sum of confirmed deposits, in the settlement
/// asset's whole units, and `requote_covers` whether a fresh quote still covers the amount.
pub fn decide(
    intent: &PaymentIntent,
    settings: &MerchantSettings,
    received: Decimal,
    requote_covers: bool,
    now_ms: i64,
) -> Decision {
    if received <= Decimal::ZERO {
        return Decision::Nothing;
    }
    // What the payer owes in the settlement asset (a conversion intent's locked amount).
    let expected = super::due(intent).map_or_else(|| intent.amount.amount(), |d| d.amount());
    let enough = received >= settings.minimum_accepted(expected);
    match intent.status {
        PaymentStatus::AwaitingFunds if enough => Decision::Fund {
            detail: accepted(settings, expected, received),
        },
        PaymentStatus::AwaitingFunds if now_ms <= intent.expires_at_ms => Decision::AwaitTopUp {
            detail: detail(
                Kind::Underpaid,
                Resolution::AwaitingTopUp,
                expected,
                received,
            ),
        },
        // The intent's time ran out while it waited (the expiry worker has not run yet).
        PaymentStatus::AwaitingFunds => Decision::Nothing,
        PaymentStatus::Expired => {
            let underpaid_before = intent
                .payment_detail
                .as_ref()
                .is_some_and(|d| d.kind == Kind::Underpaid);
            if underpaid_before && !enough {
                return Decision::RefundAll {
                    detail: detail(Kind::Underpaid, Resolution::Refunded, expected, received),
                };
            }
            let window_ms = i64::try_from(settings.late_payment_window_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX);
            let in_window = now_ms <= intent.expires_at_ms.saturating_add(window_ms);
            if enough && in_window && requote_covers {
                Decision::Reopen {
                    detail: detail(Kind::Late, Resolution::Accepted, expected, received),
                }
            } else {
                Decision::RefundAll {
                    detail: detail(Kind::Late, Resolution::Refunded, expected, received),
                }
            }
        }
        _ => Decision::Nothing,
    }
}

/// Applies the policy to one intent with deposits on `chain`: idempotent, so the watcher runs
/// it every pass for every intent with confirmed deposits that it may still concern.
pub async fn apply(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let deposits: Vec<PaymentTransaction> = state
        .store
        .payment_transactions_of(&intent.id)
        .await?
        .into_iter()
        .filter(|p| p.source == PaymentSource::Deposit && p.status == PaymentTxStatus::Confirmed)
        .collect();
    let Some(first) = deposits.first() else {
        return Ok(false);
    };
    let received = super::settle::deposited(state, intent).await?;
    // Once a deposit address has been swept, what it received is settled for good: funds
    // arriving after that are not claimed (the watcher leaves them to reconciliation, which
    // reports them as unexpected inflows), and an intent whose funds went back is never reopened.
    let swept = super::settle::sweep_recorded(state, intent).await?;
    if intent.status == PaymentStatus::Expired && swept && intent.amount_refunded >= received {
        return Ok(false); // already given back
    }
    let settings =
        settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode).await?;
    // Intents paid without a quote are one for one: a fresh quote is the same quote.
    let requote_covers = super::one_for_one(intent);
    match decide(intent, &settings, received, requote_covers, now_ms) {
        Decision::Nothing => Ok(false),
        Decision::Fund { detail } => {
            let mut funded = intent.clone();
            let late = funded
                .payment_detail
                .as_ref()
                .is_some_and(|d| d.kind == Kind::Late);
            if !late {
                funded.payment_detail = detail;
            }
            let subject = FundsSubject {
                chain: chain.caip2.clone(),
                payer_addresses: super::watcher::deposit_senders(state, chain, intent, &deposits)
                    .await?,
                asset: Some(intent.settlement.asset.code.clone()),
                amount: Some(received.normalize().to_string()),
                tx_hash: Some(first.tx_hash.clone()),
                payer_name: None,
                payer_country: None,
                payer_identifiers: Default::default(),
                account_holder: None,
                travel_rule: None,
            };
            screen_received_funds(state, &funded, subject, now_ms)
                .await
                .map_err(FlowError::Screening)?;
            Ok(true)
        }
        Decision::AwaitTopUp { detail } => note(state, intent, None, detail, now_ms).await,
        Decision::Reopen { .. } if swept || intent.amount_refunded > Decimal::ZERO => Ok(false),
        Decision::Reopen { detail } => {
            let Ok(mut next) = intent.transition(PaymentEvent::LateFundsAccepted, now_ms) else {
                return Ok(false);
            };
            // A short window to screen and settle the late funds in.
            next.expires_at_ms = now_ms + REOPEN_MS;
            note(state, intent, Some(next), detail, now_ms).await
        }
        Decision::RefundAll { detail } => {
            let noted = if intent.payment_detail.as_ref() != Some(&detail) {
                note(state, intent, None, detail.clone(), now_ms).await?
            } else {
                false
            };
            // Funds go back only to payers that screen clear; anything else stays frozen where
            // it is (the screening recorded a case for an operator).
            for sender in &deposits {
                let clear = match rialto_core::address::Address::parse(
                    &sender.payer,
                    intent.settlement.address.namespace(),
                ) {
                    Ok(address) => screen_outgoing(
                        state,
                        &intent.merchant_id,
                        intent.livemode,
                        &address,
                        OutgoingAddress {
                            role: rialto_compliance::AddressRole::Payer,
                            point: "policy_refund",
                            intent: Some(intent.id),
                        },
                        now_ms,
                    )
                    .await
                    .map_err(FlowError::Screening)?,
                    Err(_) => false,
                };
                if !clear {
                    tracing::warn!(intent = %intent.id, "policy refund held: the payer did not screen clear");
                    return Ok(noted);
                }
            }
            let Some(swept) = super::settle::sweep_legs(state, chain, intent, true, now_ms).await?
            else {
                return Ok(noted);
            };
            refund_all(state, intent, &detail, swept.amount, now_ms).await;
            Ok(true)
        }
    }
}

/// How long a reopened intent has to be screened and settled.
const REOPEN_MS: i64 = 15 * 60 * 1000;

/// Records the policy's decision on the intent (with its own event) when it is news.
pub(crate) async fn note(
    state: &Engine,
    intent: &PaymentIntent,
    next: Option<PaymentIntent>,
    detail: PaymentDetail,
    now_ms: i64,
) -> Result<bool, FlowError> {
    if next.is_none() && intent.payment_detail.as_ref() == Some(&detail) {
        return Ok(false);
    }
    let mut next = next.unwrap_or_else(|| {
        let mut n = intent.clone();
        n.version += 1;
        n.updated_at_ms = now_ms;
        n
    });
    let kind = detail.event_type();
    next.payment_detail = Some(detail);
    let event = intent_event(&next, kind, &intent_json(&next), now_ms);
    let outcome = state
        .store
        .update_intent(intent.status, &next, Some(&event), None)
        .await?;
    Ok(outcome == CasOutcome::Updated)
}

/// Books the swept funds to the merchant and refunds all of them, in one transaction.
async fn refund_all(
    state: &Engine,
    intent: &PaymentIntent,
    detail: &PaymentDetail,
    amount: Decimal,
    now_ms: i64,
) {
    let reason = match detail.kind {
        Kind::Late => "late",
        Kind::Underpaid => "underpaid",
        Kind::Overpaid => "overpaid",
    };
    let mut credit = match crate::ledger::paid_and_held(intent, amount, now_ms) {
        Ok(postings) => postings,
        Err(err) => {
            tracing::error!(intent = %intent.id, error = %err, "policy refund posting");
            return;
        }
    };
    match super::settle::intent_fee_postings(state, intent, now_ms).await {
        Ok(fees) => credit.extend(fees),
        Err(err) => {
            tracing::warn!(intent = %intent.id, error = %err, "sweep fees unreadable; will retry");
            return;
        }
    }
    let spec = RefundSpec {
        amount: Some(amount),
        destination: None,
        reason: reason.to_owned(),
        created_by: POLICY.to_owned(),
        metadata: Default::default(),
        allowed: &[PaymentStatus::Expired],
        credit,
        convert_to: None,
    };
    policy_refund(state, intent, &spec, now_ms).await;
}

/// Before an over-paid intent succeeds, its funds held in the treasury: refund the surplus of
/// what was swept (booking the payment in the same transaction) and, for a merchant on
/// immediate settlement, record the payout of the amount to the intent's settlement address.
/// Each step is idempotent; `true` once both are recorded.
pub async fn settle_surplus(
    state: &Engine,
    intent: &PaymentIntent,
    swept: Decimal,
    batched: bool,
    now_ms: i64,
) -> Result<bool, FlowError> {
    // What the payer owes in the settlement asset (a conversion intent's locked amount).
    let expected = super::due(intent).map_or_else(|| intent.amount.amount(), |d| d.amount());
    let surplus = swept - expected;
    if surplus > Decimal::ZERO {
        let mut credit = crate::ledger::paid_and_held(intent, swept, now_ms)
            .map_err(|e| FlowError::Ledger(e.to_string()))?;
        credit.extend(super::settle::intent_fee_postings(state, intent, now_ms).await?);
        let spec = RefundSpec {
            amount: Some(surplus),
            destination: None,
            reason: "overpaid".to_owned(),
            created_by: POLICY.to_owned(),
            metadata: Default::default(),
            allowed: &[PaymentStatus::Settling],
            credit,
            convert_to: None,
        };
        if !policy_refund(state, intent, &spec, now_ms).await {
            return Ok(false);
        }
    }
    if batched {
        return Ok(true);
    }
    let maker = format!("{POLICY}:{}", intent.id);
    let made = state
        .store
        .list_payouts(&intent.merchant_id, intent.livemode, None, 100)
        .await?
        .data
        .iter()
        .any(|p| p.created_by == maker);
    if made {
        return Ok(true);
    }
    let paid_out = crate::payouts::create(
        state,
        (&intent.merchant_id, intent.livemode),
        &intent.settlement.asset,
        Some(expected),
        (&maker, Some(intent.settlement.address)),
        None,
        now_ms,
    )
    .await;
    match paid_out {
        Ok(_) => Ok(true),
        Err(err) => {
            tracing::warn!(intent = %intent.id, error = ?err, "paying out an over-paid intent failed; will retry");
            Ok(false)
        }
    }
}

/// `created_by` of refunds and payouts the policy made.
pub const POLICY: &str = "policy";

/// Creates the policy's refund unless one (not failed) exists; `true` when one exists now.
async fn policy_refund(
    state: &Engine,
    intent: &PaymentIntent,
    spec: &RefundSpec,
    now_ms: i64,
) -> bool {
    let existing = state
        .store
        .list_refunds(
            &intent.merchant_id,
            intent.livemode,
            Some(&intent.id),
            None,
            100,
        )
        .await;
    // A failed policy refund (its reversal put the funds back in the balance) is tried again.
    if existing.is_ok_and(|page| {
        page.data.iter().any(|r| {
            r.created_by == POLICY && r.status != crate::store::money::RefundStatus::Failed
        })
    }) {
        return true;
    }
    // Booked already by an earlier attempt: refund without booking again.
    let booked = state
        .store
        .paid_into(
            &intent.id,
            &crate::ledger::merchant_balance(&intent.merchant_id),
        )
        .await
        .is_ok_and(|paid| paid > Decimal::ZERO);
    let mut spec = spec.clone();
    if booked {
        spec.credit.clear();
    }
    match crate::refunds::create(
        state,
        &intent.id,
        (&intent.merchant_id, intent.livemode),
        &spec,
        None,
        now_ms,
    )
    .await
    {
        Ok(_) => true,
        Err(err) => {
            tracing::warn!(intent = %intent.id, error = ?err, "policy refund not created; will retry");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rialto_core::asset::AssetRegistry;
    use rialto_core::intent::SettlementTarget;
    use rialto_core::money::{Currency, Money};

    const T0: i64 = 1_000_000;

    fn intent(status: PaymentStatus, detail: Option<PaymentDetail>) -> PaymentIntent {
        let registry: AssetRegistry = crate::registry::builtin().unwrap();
        let id = rialto_core::id::PaymentIntentId::generate();
        PaymentIntent {
            id,
            merchant_id: rialto_core::id::MerchantId::generate(),
            livemode: false,
            amount: Money::parse("100.00", Currency::usd()).unwrap(),
            settlement: SettlementTarget::resolve(
                &registry,
                "usdc",
                "base",
                "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            )
            .unwrap(),
            status,
            description: None,
            metadata: Default::default(),
            client_secret: String::new(),
            created_at_ms: T0,
            expires_at_ms: T0 + 60_000,
            updated_at_ms: T0,
            canceled_at_ms: None,
            cancellation_reason: None,
            version: 1,
            amount_refunded: Decimal::ZERO,
            payment_detail: detail,
            payment_reference: None,
            fx: None,
        }
    }

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn settings(tolerance: &str, overpaid: OverpaidPolicy, late_secs: u64) -> MerchantSettings {
        MerchantSettings {
            underpaid_tolerance_percent: d(tolerance),
            overpaid,
            late_payment_window_secs: late_secs,
            ..MerchantSettings::default()
        }
    }

    fn resolution(decision: &Decision) -> Option<(Kind, Resolution, Decimal)> {
        let detail = match decision {
            Decision::Fund { detail } => detail.as_ref()?,
            Decision::Reopen { detail }
            | Decision::AwaitTopUp { detail }
            | Decision::RefundAll { detail } => detail,
            Decision::Nothing => return None,
        };
        Some((detail.kind, detail.resolution, detail.refund))
    }

    #[test]
    fn every_branch_of_the_policy_matches_the_table() {
        use OverpaidPolicy::{Keep, RefundSurplus};
        use PaymentStatus::{AwaitingFunds as W, Expired as X};
        let underpaid_waiting = Some(detail(
            Kind::Underpaid,
            Resolution::AwaitingTopUp,
            d("100"),
            d("50"),
        ));
        // (status, prior detail, tolerance, overpaid, late window s, received, requote ok, now,
        //  expected decision discriminant, expected (kind, resolution, refund))
        type Row = (
            PaymentStatus,
            Option<PaymentDetail>,
            &'static str,
            OverpaidPolicy,
            u64,
            &'static str,
            bool,
            i64,
            &'static str,
            Option<(Kind, Resolution, &'static str)>,
        );
        let rows: Vec<Row> = vec![
            (W, None, "0", Keep, 0, "100.00", true, T0, "fund", None),
            (
                W,
                None,
                "2",
                Keep,
                0,
                "98.50",
                true,
                T0,
                "fund",
                Some((Kind::Underpaid, Resolution::Accepted, "0")),
            ),
            (
                W,
                None,
                "1",
                Keep,
                0,
                "98.50",
                true,
                T0,
                "top_up",
                Some((Kind::Underpaid, Resolution::AwaitingTopUp, "0")),
            ),
            (
                W,
                None,
                "0",
                Keep,
                0,
                "120.00",
                true,
                T0,
                "fund",
                Some((Kind::Overpaid, Resolution::Accepted, "0")),
            ),
            (
                W,
                None,
                "0",
                RefundSurplus,
                0,
                "120.00",
                true,
                T0,
                "fund",
                Some((Kind::Overpaid, Resolution::SurplusRefunded, "20.00")),
            ),
            (W, None, "0", Keep, 0, "0", true, T0, "nothing", None),
            (
                X,
                underpaid_waiting.clone(),
                "0",
                Keep,
                3600,
                "50.00",
                true,
                T0 + 61_000,
                "refund",
                Some((Kind::Underpaid, Resolution::Refunded, "50.00")),
            ),
            (
                X,
                None,
                "0",
                Keep,
                3600,
                "100.00",
                true,
                T0 + 120_000,
                "reopen",
                Some((Kind::Late, Resolution::Accepted, "0")),
            ),
            (
                X,
                None,
                "0",
                Keep,
                3600,
                "100.00",
                false,
                T0 + 120_000,
                "refund",
                Some((Kind::Late, Resolution::Refunded, "100.00")),
            ),
            (
                X,
                None,
                "0",
                Keep,
                30,
                "100.00",
                true,
                T0 + 120_000,
                "refund",
                Some((Kind::Late, Resolution::Refunded, "100.00")),
            ),
            (
                X,
                None,
                "0",
                Keep,
                3600,
                "40.00",
                true,
                T0 + 120_000,
                "refund",
                Some((Kind::Late, Resolution::Refunded, "40.00")),
            ),
            (
                PaymentStatus::Succeeded,
                None,
                "0",
                Keep,
                0,
                "100.00",
                true,
                T0,
                "nothing",
                None,
            ),
        ];
        for (i, (status, prior, tol, over, late, received, requote, now, want, want_detail)) in
            rows.into_iter().enumerate()
        {
            let decision = decide(
                &intent(status, prior),
                &settings(tol, over, late),
                d(received),
                requote,
                now,
            );
            let got = match &decision {
                Decision::Fund { .. } => "fund",
                Decision::Reopen { .. } => "reopen",
                Decision::AwaitTopUp { .. } => "top_up",
                Decision::RefundAll { .. } => "refund",
                Decision::Nothing => "nothing",
            };
            assert_eq!(got, want, "row {i}: {decision:?}");
            let want_detail = want_detail.map(|(k, r, refund)| (k, r, d(refund)));
            assert_eq!(resolution(&decision), want_detail, "row {i}");
        }
    }

    #[test]
    fn each_decision_announces_its_own_event() {
        let kinds = [
            (
                Kind::Underpaid,
                Resolution::Accepted,
                "payment_intent.underpaid_accepted",
            ),
            (
                Kind::Underpaid,
                Resolution::AwaitingTopUp,
                "payment_intent.underpaid_awaiting_top_up",
            ),
            (
                Kind::Underpaid,
                Resolution::Refunded,
                "payment_intent.underpaid_refunded",
            ),
            (
                Kind::Overpaid,
                Resolution::Accepted,
                "payment_intent.overpaid_kept",
            ),
            (
                Kind::Overpaid,
                Resolution::SurplusRefunded,
                "payment_intent.overpaid_surplus_refunded",
            ),
            (
                Kind::Late,
                Resolution::Accepted,
                "payment_intent.late_accepted",
            ),
            (
                Kind::Late,
                Resolution::Refunded,
                "payment_intent.late_refunded",
            ),
        ];
        for (kind, resolution, event) in kinds {
            let detail = detail(kind, resolution, d("1"), d("1"));
            assert_eq!(detail.event_type(), event);
            assert!(
                crate::webhooks::EVENT_TYPES.contains(&event),
                "{event} is subscribable"
            );
        }
    }
}
