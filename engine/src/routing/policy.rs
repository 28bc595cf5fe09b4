//! The merchant's payment policy (`crate::settings`) on a wallet payer's funding of a route:
//! the same settings as the direct paths (`crate::chain::policy`), applied where a route can
//! act on them. [`judge`] is pure: from the settings, the quote's payer amount, the amount the
//! merchant is locked to receive and what arrived, it says how the plan starts.
//!
//! - exactly the quoted amount: the plan as quoted;
//! - more, `overpaid: keep`: everything that arrived goes into the route and the merchant
//!   receives what it delivers (at least the locked amount): `overpaid` / `accepted`;
//! - more, `overpaid: refund_surplus`: the quoted amount is routed and the surplus goes back to
//!   the payer once the merchant is paid (a `surplus_return` leg): `overpaid` /
//!   `surplus_refunded`;
//! - less, within `underpaid_tolerance_percent` of the quoted amount: what arrived is routed
//!   and the merchant is guaranteed the locked amount scaled down in proportion (rounded
//!   down): `underpaid` / `accepted`;
//! - less than the tolerance allows: nothing converts, everything goes back (`funding_short`):
//!   `underpaid` / `refunded`.
//!
//! A routed payment's `expected`, `received` and `refund` are in the asset the payer funded the
//! route with (the quote's payer amount, what arrived, what goes back). Funds reported after
//! the quote expired go back (`late` / `refunded`): a locked quote cannot be reopened. Not
//! applied to routes: a top-up window (one transaction funds one execution; a short one goes
//! back at once and the intent can be quoted again).

use rialto_core::intent::{PaymentDetail, PaymentDetailKind as Kind, PaymentResolution};
use rialto_router::Funded;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::settings::{MerchantSettings, OverpaidPolicy};

/// How a wallet-funded route starts, or that it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Screen the payer and start the plan; `funded` when it starts from other than the
    /// quoted amounts, `detail` when the funding differed from the quote.
    Start {
        funded: Option<Funded>,
        detail: Option<PaymentDetail>,
    },
    /// Too little: everything that arrived goes back.
    ReturnAll { detail: PaymentDetail },
}

/// The amounts of one funding, in the payer's asset except `locked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Funding {
    /// The quote's payer amount.
    pub quoted: Decimal,
    /// What arrived at the hot wallet.
    pub arrived: Decimal,
    /// What the merchant is locked to receive, in the settlement asset.
    pub locked: Decimal,
    /// The settlement asset's decimals.
    pub settlement_decimals: u32,
}

fn detail(
    kind: Kind,
    resolution: PaymentResolution,
    f: &Funding,
    refund: Decimal,
) -> PaymentDetail {
    PaymentDetail {
        kind,
        resolution,
        expected: f.quoted.normalize(),
        received: f.arrived.normalize(),
        refund: refund.normalize(),
    }
}

/// The policy's verdict on one funding transfer that arrived while its quote was live.
pub fn judge(settings: &MerchantSettings, f: Funding) -> Verdict {
    use PaymentResolution as R;
    if f.arrived == f.quoted {
        return Verdict::Start {
            funded: None,
            detail: None,
        };
    }
    if f.arrived > f.quoted {
        return match settings.overpaid {
            OverpaidPolicy::Keep => Verdict::Start {
                funded: Some(Funded {
                    input: f.arrived,
                    guaranteed: f.locked,
                }),
                detail: Some(detail(Kind::Overpaid, R::Accepted, &f, Decimal::ZERO)),
            },
            OverpaidPolicy::RefundSurplus => Verdict::Start {
                funded: None,
                detail: Some(detail(
                    Kind::Overpaid,
                    R::SurplusRefunded,
                    &f,
                    f.arrived - f.quoted,
                )),
            },
        };
    }
    if f.quoted > Decimal::ZERO && f.arrived >= settings.minimum_accepted(f.quoted) {
        let guaranteed = (f.locked * f.arrived / f.quoted)
            .round_dp_with_strategy(f.settlement_decimals, RoundingStrategy::ToNegativeInfinity);
        return Verdict::Start {
            funded: Some(Funded {
                input: f.arrived,
                guaranteed,
            }),
            detail: Some(detail(Kind::Underpaid, R::Accepted, &f, Decimal::ZERO)),
        };
    }
    Verdict::ReturnAll {
        detail: detail(Kind::Underpaid, R::Refunded, &f, f.arrived),
    }
}

/// The `late` / `refunded` detail of funds that arrived after the quote expired.
pub fn late(f: &Funding) -> PaymentDetail {
    detail(Kind::Late, PaymentResolution::Refunded, f, f.arrived)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn funding(arrived: &str) -> Funding {
        Funding {
            quoted: d("20.10"),
            arrived: d(arrived),
            locked: d("20"),
            settlement_decimals: 6,
        }
    }

    fn settings(tolerance: &str, overpaid: OverpaidPolicy) -> MerchantSettings {
        MerchantSettings {
            underpaid_tolerance_percent: d(tolerance),
            overpaid,
            ..MerchantSettings::default()
        }
    }

    type Summary = (
        &'static str,
        Option<(Decimal, Decimal)>,
        Option<(Kind, PaymentResolution, Decimal)>,
    );

    fn summary(v: &Verdict) -> Summary {
        let of = |d: &PaymentDetail| (d.kind, d.resolution, d.refund);
        match v {
            Verdict::Start { funded, detail } => (
                "start",
                funded.map(|f| (f.input, f.guaranteed)),
                detail.as_ref().map(of),
            ),
            Verdict::ReturnAll { detail } => ("return_all", None, Some(of(detail))),
        }
    }

    #[test]
    fn a_routed_funding_is_judged_by_the_merchants_tolerance_and_overpayment_policy() {
        use OverpaidPolicy::{Keep, RefundSurplus};
        use PaymentResolution as R;
        let rows = [
            (settings("0", Keep), "20.10", ("start", None, None)),
            (
                settings("0", Keep),
                "21.60",
                (
                    "start",
                    Some((d("21.6"), d("20"))),
                    Some((Kind::Overpaid, R::Accepted, d("0"))),
                ),
            ),
            (
                settings("0", RefundSurplus),
                "21.60",
                (
                    "start",
                    None,
                    Some((Kind::Overpaid, R::SurplusRefunded, d("1.5"))),
                ),
            ),
            // 2 % of 20.10 is 0.402: 19.698 is the least accepted.
            (
                settings("2", Keep),
                "19.70",
                (
                    "start",
                    // 20 × 19.70 / 20.10 = 19.601990…, rounded down to 6 places.
                    Some((d("19.70"), d("19.601990"))),
                    Some((Kind::Underpaid, R::Accepted, d("0"))),
                ),
            ),
            (
                settings("2", Keep),
                "19.69",
                (
                    "return_all",
                    None,
                    Some((Kind::Underpaid, R::Refunded, d("19.69"))),
                ),
            ),
            (
                settings("0", RefundSurplus),
                "20.09",
                (
                    "return_all",
                    None,
                    Some((Kind::Underpaid, R::Refunded, d("20.09"))),
                ),
            ),
        ];
        for (i, (settings, arrived, want)) in rows.into_iter().enumerate() {
            let verdict = judge(&settings, funding(arrived));
            assert_eq!(summary(&verdict), want, "row {i}: {verdict:?}");
        }
        let late = late(&funding("20.10"));
        assert_eq!(
            (late.kind, late.resolution, late.refund, late.expected),
            (Kind::Late, R::Refunded, d("20.1"), d("20.1"))
        );
    }
}
