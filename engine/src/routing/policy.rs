//! The merchant's payment policy (`crate::settings`) on a wallet payer's funding of a route:
//! the same settings as the direct paths (`crate::chain::policy`), applied where a route can
//! act on them. [`judge`] and [`judge_late`] are pure: from the settings, the quote's payer
//! amount, the amount the merchant is locked to receive and what arrived, they say how the
//! plan starts. The side effects are in `routing::start::funding` and `routing::start::topup`.
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
//! - less than the tolerance allows, while the quote is live: the execution waits for a top-up
//!   (`underpaid` / `awaiting_top_up` on the intent, `received` on the execution). More
//!   transfers from the same payer to the same `pay_to`, each reported the same signed way
//!   (`POST /v1/route_executions/{id}/fund`), add up; each transaction funds one execution
//!   only and a transaction reported twice counts once. Once the total covers the quote (or
//!   falls within the tolerance) the plan starts from the total, judged as above;
//! - the top-up window ends with the quote: there is no separate setting, because the merchant
//!   is guaranteed the locked amount only while the quote's lock holds (`expires_at`). When
//!   the worker finds it still short after that, nothing converts and everything that arrived
//!   goes back, Rialto paying the gas (`funding_short`): `underpaid` / `refunded`. A top-up
//!   reported after the quote expired completes the funding late: the total is judged as a
//!   late payment (below).
//!
//! Late payments ([`judge_late`]): funds reported after the quote expired (the execution
//! ended `quote_expired` unfunded, or waited for a top-up past its quote), within
//! `late_payment_window_secs` of the quote's expiry, on an intent still open: Rialto asks the
//! router for a fresh quote at current prices (the same oracle and price checks as
//! `POST /v1/payment_intents/{id}/quotes`) from the payer's asset and chain. If what arrived
//! covers the fresh quote's payer amount (or falls within the tolerance of it), the fresh plan
//! starts from what arrived, and the merchant is guaranteed the intent's amount (scaled down
//! within the tolerance): `late` / `accepted`. Otherwise (no fresh route, the prices moved
//! against the payer, the window passed, the intent no longer open) everything goes back:
//! `late` / `refunded`.
//!
//! A routed payment's `expected`, `received` and `refund` are in the asset the payer funded the
//! route with (the quote's payer amount, what arrived, what goes back).
//!
//! Exchange-funded routes: the policy has nothing to judge there, because nothing the payer
//! sends can differ from the quote. Rialto itself places the order and the withdrawal from
//! the payer's account (`routing::execute::legs`): the trade leg's size is the plan's, and the
//! withdrawal leg asks for the plan's amount with the venue's fee priced into the route.
//! Where a venue delivers other than the plan (a fill at another price, a withdrawal fee that
//! changed), that is a leg outcome, not a payment, and the payer has nothing to top up or get
//! back: the plan (`rialto_router::execute`, `on_confirmed`) goes on from what the leg actually
//! `received` (it becomes the next leg's input, so more is carried on to the merchant); less
//! than the leg's `min_output` makes the plan look for another route from where the money now
//! is, with Rialto's top-up allowance on chains (never on the payer's venue account:
//! `PlanPolicy::topup_on_venues` is off), and gives up (`slippage`, the payer's funds sent back
//! or left in their account) when none keeps the locked amount. The locked amount is Rialto's
//! promise, not the payer's, so the merchant's tolerance never lowers it there.

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
    /// Too little while the quote is live: wait for more transfers until it expires.
    AwaitTopUp { detail: PaymentDetail },
    /// Too little (or too late): everything that arrived goes back.
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
    /// Whether the top-up window (the quote's lock) is still open.
    pub top_up_open: bool,
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

/// The policy's verdict on what the funding transfers delivered so far, all together.
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
    if f.top_up_open {
        return Verdict::AwaitTopUp {
            detail: detail(Kind::Underpaid, R::AwaitingTopUp, &f, Decimal::ZERO),
        };
    }
    Verdict::ReturnAll {
        detail: detail(Kind::Underpaid, R::Refunded, &f, f.arrived),
    }
}

/// A late funding: what arrived, against a fresh quote made when it was reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateFunding {
    /// What arrived (all the transfers bound to the execution), in the payer's asset.
    pub arrived: Decimal,
    /// The expired quote's payer amount: `expected` when it goes back.
    pub quoted: Decimal,
    /// Whether it was reported within `late_payment_window_secs` of the quote's expiry, on an
    /// intent still open.
    pub in_window: bool,
    /// The fresh quote's payer amount and the intent's amount it delivers, if the router
    /// found a route at current prices.
    pub fresh: Option<(Decimal, Decimal)>,
    /// The settlement asset's decimals.
    pub settlement_decimals: u32,
}

/// The policy's verdict on funds reported after the quote expired: within the late window
/// and covering a fresh quote (or within the tolerance of it), the fresh plan starts from what
/// arrived (`late` / `accepted`); otherwise everything goes back (`late` / `refunded`).
pub fn judge_late(settings: &MerchantSettings, f: LateFunding) -> Verdict {
    let late = |resolution, expected: Decimal, refund| PaymentDetail {
        kind: Kind::Late,
        resolution,
        expected: expected.normalize(),
        received: f.arrived.normalize(),
        refund: Decimal::normalize(&refund),
    };
    let Some((quoted, locked)) = f.fresh.filter(|_| f.in_window) else {
        return Verdict::ReturnAll {
            detail: late(PaymentResolution::Refunded, f.quoted, f.arrived),
        };
    };
    // Judged like a timely funding of the fresh quote (its over- and under-payment rules),
    // and recorded as late.
    let fresh = Funding {
        quoted,
        arrived: f.arrived,
        locked,
        settlement_decimals: f.settlement_decimals,
        top_up_open: false,
    };
    match judge(settings, fresh) {
        Verdict::Start { funded, detail } => {
            let refund = detail.map_or(Decimal::ZERO, |d| d.refund);
            Verdict::Start {
                funded,
                detail: Some(late(PaymentResolution::Accepted, quoted, refund)),
            }
        }
        _ => Verdict::ReturnAll {
            detail: late(PaymentResolution::Refunded, f.quoted, f.arrived),
        },
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
            top_up_open: false,
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
            Verdict::AwaitTopUp { detail } => ("await_top_up", None, Some(of(detail))),
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

    #[test]
    fn a_short_funding_waits_for_a_top_up_while_the_quote_is_live_and_goes_back_after() {
        use PaymentResolution as R;
        let open = |arrived| Funding {
            top_up_open: true,
            ..funding(arrived)
        };
        let s = settings("2", OverpaidPolicy::Keep);
        assert_eq!(
            summary(&judge(&s, open("10"))),
            (
                "await_top_up",
                None,
                Some((Kind::Underpaid, R::AwaitingTopUp, d("0")))
            )
        );
        // Topped up to the quote, or into the tolerance: the plan starts from the total.
        assert_eq!(summary(&judge(&s, open("20.10"))), ("start", None, None));
        assert_eq!(
            summary(&judge(&s, open("19.70"))),
            (
                "start",
                Some((d("19.70"), d("19.601990"))),
                Some((Kind::Underpaid, R::Accepted, d("0")))
            )
        );
        // The window closed still short: all of it goes back.
        assert_eq!(
            summary(&judge(&s, funding("10"))),
            (
                "return_all",
                None,
                Some((Kind::Underpaid, R::Refunded, d("10")))
            )
        );
    }

    #[test]
    fn a_late_funding_starts_a_fresh_plan_only_within_the_window_when_it_covers_the_fresh_quote() {
        use PaymentResolution as R;
        let late = |arrived: &str, in_window, fresh: Option<(&str, &str)>| LateFunding {
            arrived: d(arrived),
            quoted: d("20.10"),
            in_window,
            fresh: fresh.map(|(q, l)| (d(q), d(l))),
            settlement_decimals: 6,
        };
        let keep = settings("2", OverpaidPolicy::Keep);
        let rows = [
            // Prices moved for the payer: the fresh quote asks less, everything is routed.
            (
                &keep,
                late("20.10", true, Some(("20.05", "20"))),
                (
                    "start",
                    Some((d("20.10"), d("20"))),
                    Some((Kind::Late, R::Accepted, d("0"))),
                ),
            ),
            // Exactly the fresh quote.
            (
                &keep,
                late("20.10", true, Some(("20.10", "20"))),
                ("start", None, Some((Kind::Late, R::Accepted, d("0")))),
            ),
            // Within the tolerance of the fresh quote: the guarantee scales down.
            (
                &keep,
                late("20.10", true, Some(("20.30", "20"))),
                (
                    "start",
                    // 20 × 20.10 / 20.30 = 19.802955…
                    Some((d("20.10"), d("19.802955"))),
                    Some((Kind::Late, R::Accepted, d("0"))),
                ),
            ),
            // Prices moved against the payer beyond the tolerance.
            (
                &keep,
                late("20.10", true, Some(("20.60", "20"))),
                (
                    "return_all",
                    None,
                    Some((Kind::Late, R::Refunded, d("20.10"))),
                ),
            ),
            // No fresh route, or after the window.
            (
                &keep,
                late("20.10", true, None),
                (
                    "return_all",
                    None,
                    Some((Kind::Late, R::Refunded, d("20.10"))),
                ),
            ),
            (
                &keep,
                late("20.10", false, Some(("20.05", "20"))),
                (
                    "return_all",
                    None,
                    Some((Kind::Late, R::Refunded, d("20.10"))),
                ),
            ),
        ];
        for (i, (settings, f, want)) in rows.into_iter().enumerate() {
            let verdict = judge_late(settings, f);
            assert_eq!(summary(&verdict), want, "row {i}: {verdict:?}");
        }
        // Refund of the surplus applies to the fresh quote.
        let surplus = settings("0", OverpaidPolicy::RefundSurplus);
        assert_eq!(
            summary(&judge_late(
                &surplus,
                late("20.10", true, Some(("20.05", "20")))
            )),
            ("start", None, Some((Kind::Late, R::Accepted, d("0.05"))))
        );
    }
}
