//! The merchant's payment policy on payments that reach the merchant's own settlement address:
//! a reported transfer, a relayed EIP-3009 authorization made out to it, an exchange
//! withdrawal. The decision is [`super::policy::decide`]'s, over the one payment, judged at
//! the time its block was mined (when the funds reached the merchant, not when the gateway
//! saw them). What differs from a deposit address is what Rialto can do about it: the funds
//! are already the merchant's, so nothing can be waited for or given back by Rialto.
//!
//! - within tolerance, exact, or more with `keep`: funded, as `decide` says;
//! - more with `refund_surplus`: funded, recorded `overpaid` / `owed_by_merchant` with the
//!   surplus as `refund` (the merchant returns it; `docs/money.md`);
//! - less than the tolerance allows: not a payment of the intent (a report is refused with
//!   `transaction_amount_too_low`; a confirmation changes nothing);
//! - late within `late_payment_window_secs`: the expired intent reopens and is funded;
//! - late after the window: recorded on the expired intent as `late` / `owed_by_merchant`
//!   with everything received as `refund` (the merchant owes it back to the payer).

use rialto_core::intent::{
    PaymentDetail, PaymentDetailKind as Kind, PaymentEvent, PaymentIntent,
    PaymentResolution as Resolution, PaymentStatus,
};
use rust_decimal::Decimal;

use super::policy::{decide, Decision};
use crate::compliance::flow::{screen_received_funds_confirming, FundsSubject};
use crate::error::{EngineError, ErrorCode};
use crate::services::Engine;
use crate::settings::MerchantSettings;
use crate::store::PaymentTransaction;

/// What the policy makes of one payment to the merchant's own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// Fund the intent (reopening it first if it expired); `detail` says how the payment
    /// differed, if it did.
    Fund { detail: Option<PaymentDetail> },
    /// Less than the merchant accepts: not a payment of this intent.
    TooLow { minimum: Decimal },
    /// Too late to accept: recorded on the expired intent; the merchant owes it back.
    Owed { detail: PaymentDetail },
    /// The intent takes no payment (canceled, already paid, needs a quote).
    Refused,
}

/// The policy's verdict on `received` (the settlement asset's whole units) reaching the
/// merchant's address in a block mined at `mined_ms`.
pub fn judge(
    intent: &PaymentIntent,
    settings: &MerchantSettings,
    received: Decimal,
    mined_ms: i64,
) -> Judged {
    // What the payer owes in the settlement asset: one for one, or the locked FX amount. A
    // conversion intent with no lock is the router's (or needs a lock first).
    let Some(expected) = super::due(intent).map(|d| d.amount()) else {
        return Judged::Refused;
    };
    let mut seen = intent.clone();
    // Funds mined before the intent expired were on time, whether or not the expiry worker
    // has run since; funds mined after it are late, whether or not it has.
    seen.status = match intent.status {
        PaymentStatus::AwaitingFunds | PaymentStatus::Expired
            if mined_ms <= intent.expires_at_ms =>
        {
            PaymentStatus::AwaitingFunds
        }
        PaymentStatus::AwaitingFunds | PaymentStatus::Expired => PaymentStatus::Expired,
        _ => return Judged::Refused,
    };
    let minimum = settings.minimum_accepted(expected);
    if received < minimum {
        // Short (and late or not): not a payment of this intent at all.
        return Judged::TooLow {
            minimum: minimum.normalize(),
        };
    }
    // An expired intent that already gave funds back (a deposit refunded by the policy) is
    // never reopened: what arrives late is the merchant's to return.
    let reopenable = intent.amount_refunded <= Decimal::ZERO;
    match decide(&seen, settings, received, true, mined_ms) {
        Decision::Fund { .. } | Decision::Reopen { .. }
            if intent.status == PaymentStatus::Expired && !reopenable =>
        {
            Judged::Owed {
                detail: PaymentDetail {
                    kind: Kind::Late,
                    resolution: Resolution::OwedByMerchant,
                    expected: expected.normalize(),
                    received: received.normalize(),
                    refund: received.normalize(),
                },
            }
        }
        Decision::Fund { detail } => Judged::Fund {
            detail: detail.map(|d| owed_if_refunded(d, expected)),
        },
        Decision::Reopen { detail } => Judged::Fund {
            detail: Some(detail),
        },
        Decision::RefundAll { detail } => Judged::Owed {
            detail: PaymentDetail {
                resolution: Resolution::OwedByMerchant,
                refund: detail.received,
                ..detail
            },
        },
        Decision::AwaitTopUp { .. } => Judged::TooLow {
            minimum: minimum.normalize(),
        },
        Decision::Nothing => Judged::Refused,
    }
}

/// A surplus the policy would refund went to the merchant: owed by the merchant instead.
fn owed_if_refunded(detail: PaymentDetail, expected: Decimal) -> PaymentDetail {
    if detail.resolution != Resolution::SurplusRefunded {
        return detail;
    }
    PaymentDetail {
        resolution: Resolution::OwedByMerchant,
        refund: (detail.received - expected).normalize(),
        ..detail
    }
}

/// The refusal of a payment below what the merchant accepts.
pub fn too_low(intent: &PaymentIntent, paid: Decimal, minimum: Decimal) -> EngineError {
    let asset = &intent.settlement.asset;
    EngineError::new(
        ErrorCode::TransactionAmountTooLow,
        format!(
            "The transaction paid {} {}; this intent needs {} {} (at least {} {} under the \
             merchant's tolerance).",
            paid.normalize(),
            asset.code,
            super::due(intent).map_or_else(
                || intent.amount.to_amount_string(),
                |d| d.to_amount_string()
            ),
            super::due(intent).map_or_else(
                || intent.amount.currency().code().to_owned(),
                |_| asset.code.clone()
            ),
            minimum.normalize(),
            asset.code,
        ),
    )
    .param("tx_hash")
}

/// Carries out a verdict on a confirmed payment to the merchant's address: funds the intent
/// (reopening an expired one first) with the verdict's detail, or records what the merchant
/// owes. `true` when the intent changed.
pub async fn apply(
    state: &Engine,
    intent: &PaymentIntent,
    judged: Judged,
    subject: FundsSubject,
    now_ms: i64,
) -> Result<bool, EngineError> {
    apply_confirming(state, intent, judged, subject, None, now_ms)
        .await
        .map(|applied| applied.changed)
}

/// What [`apply_confirming`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The intent changed.
    pub changed: bool,
    /// The payment transaction given was written (confirmed) with the intent's funding.
    pub confirmed: bool,
}

/// [`apply`], writing `confirms` (the payment transaction, as confirmed) with the funding's
/// screening when the verdict funds the intent; the caller writes it otherwise.
pub async fn apply_confirming(
    state: &Engine,
    intent: &PaymentIntent,
    judged: Judged,
    subject: FundsSubject,
    confirms: Option<PaymentTransaction>,
    now_ms: i64,
) -> Result<Applied, EngineError> {
    let unconfirmed = |changed| Applied {
        changed,
        confirmed: false,
    };
    match judged {
        Judged::Fund { detail } => {
            let mut open = intent.clone();
            if intent.status == PaymentStatus::Expired {
                let Ok(next) = intent.transition(PaymentEvent::LateFundsAccepted, now_ms) else {
                    return Ok(unconfirmed(false));
                };
                let late = detail
                    .clone()
                    .unwrap_or_else(|| late_accepted(intent, &subject));
                if !super::policy::note(state, intent, Some(next.clone()), late.clone(), now_ms)
                    .await
                    .map_err(|e| EngineError::internal(&e))?
                {
                    return Ok(unconfirmed(false)); // someone else moved it first
                }
                // As stored by `note`: reopened, with the late detail.
                open = next;
                open.payment_detail = Some(late);
            }
            if let Some(detail) = detail.filter(|d| d.kind != Kind::Late) {
                open.payment_detail = Some(detail);
            }
            let confirmed = confirms.is_some();
            screen_received_funds_confirming(state, &open, subject, confirms, now_ms).await?;
            Ok(Applied {
                changed: true,
                confirmed,
            })
        }
        Judged::Owed { detail } => super::policy::note(state, intent, None, detail, now_ms)
            .await
            .map(unconfirmed)
            .map_err(|e| EngineError::internal(&e)),
        Judged::TooLow { .. } | Judged::Refused => Ok(unconfirmed(false)),
    }
}

/// The `late` / `accepted` detail of funds mined on time but seen after the intent expired.
fn late_accepted(intent: &PaymentIntent, subject: &FundsSubject) -> PaymentDetail {
    let received = subject
        .amount
        .as_deref()
        .and_then(|a| a.parse::<Decimal>().ok())
        .unwrap_or_default();
    PaymentDetail {
        kind: Kind::Late,
        resolution: Resolution::Accepted,
        expected: super::due(intent)
            .map_or_else(|| intent.amount.amount(), |d| d.amount())
            .normalize(),
        received: received.normalize(),
        refund: Decimal::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::OverpaidPolicy;
    use rialto_core::asset::AssetRegistry;
    use rialto_core::intent::SettlementTarget;
    use rialto_core::money::{Currency, Money};

    const T0: i64 = 1_000_000;
    const EXPIRES: i64 = T0 + 60_000;

    fn intent(status: PaymentStatus) -> PaymentIntent {
        let registry: AssetRegistry = crate::registry::builtin().unwrap();
        PaymentIntent {
            id: rialto_core::id::PaymentIntentId::generate(),
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
            expires_at_ms: EXPIRES,
            updated_at_ms: T0,
            canceled_at_ms: None,
            cancellation_reason: None,
            version: 1,
            amount_refunded: Decimal::ZERO,
            payment_detail: None,
            payment_reference: None,
            fx: None,
        }
    }

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn summary(judged: &Judged) -> (&'static str, Option<(Kind, Resolution, Decimal)>) {
        let of = |d: &PaymentDetail| Some((d.kind, d.resolution, d.refund));
        match judged {
            Judged::Fund { detail } => ("fund", detail.as_ref().and_then(of)),
            Judged::Owed { detail } => ("owed", of(detail)),
            Judged::TooLow { .. } => ("too_low", None),
            Judged::Refused => ("refused", None),
        }
    }

    #[test]
    fn a_direct_payment_is_judged_by_the_deposit_policy_with_what_rialto_cannot_return_owed() {
        use PaymentStatus::{AwaitingFunds as W, Expired as X, Succeeded as S};
        let settings = MerchantSettings {
            underpaid_tolerance_percent: d("2"),
            overpaid: OverpaidPolicy::RefundSurplus,
            late_payment_window_secs: 3600,
            ..MerchantSettings::default()
        };
        let keep = MerchantSettings {
            overpaid: OverpaidPolicy::Keep,
            ..settings.clone()
        };
        let rows = [
            (W, &settings, "100", T0, ("fund", None)),
            (
                W,
                &settings,
                "98.5",
                T0,
                (
                    "fund",
                    Some((Kind::Underpaid, Resolution::Accepted, d("0"))),
                ),
            ),
            (W, &settings, "97.99", T0, ("too_low", None)),
            (
                W,
                &settings,
                "120",
                T0,
                (
                    "fund",
                    Some((Kind::Overpaid, Resolution::OwedByMerchant, d("20"))),
                ),
            ),
            (
                W,
                &keep,
                "120",
                T0,
                ("fund", Some((Kind::Overpaid, Resolution::Accepted, d("0")))),
            ),
            // Mined before expiry, seen after the expiry worker ran: on time.
            (X, &settings, "100", EXPIRES, ("fund", None)),
            // Mined after expiry, before the worker ran: late.
            (
                W,
                &settings,
                "100",
                EXPIRES + 1,
                ("fund", Some((Kind::Late, Resolution::Accepted, d("0")))),
            ),
            (
                X,
                &settings,
                "100",
                EXPIRES + 3_600_001,
                (
                    "owed",
                    Some((Kind::Late, Resolution::OwedByMerchant, d("100"))),
                ),
            ),
            (X, &settings, "50", EXPIRES + 10, ("too_low", None)),
            (S, &settings, "100", T0, ("refused", None)),
        ];
        let mut refunded = intent(X);
        refunded.amount_refunded = d("10");
        assert_eq!(
            summary(&judge(&refunded, &settings, d("100"), EXPIRES + 10)),
            (
                "owed",
                Some((Kind::Late, Resolution::OwedByMerchant, d("100")))
            ),
            "an intent that gave funds back is never reopened"
        );
        for (i, (status, settings, received, mined, want)) in rows.into_iter().enumerate() {
            let judged = judge(&intent(status), settings, d(received), mined);
            let (got, detail) = summary(&judged);
            assert_eq!((got, detail), (want.0, want.1), "row {i}: {judged:?}");
        }
    }
}
