//! Transaction rules as pure functions over a [`PaymentContext`]: each returns the finding it
//! raises, or `None`. Time and history come from the caller, so every rule is table-testable.

use std::collections::BTreeSet;

use rialto_core::id::MerchantId;
use rialto_core::Money;

use crate::country::CountryCode;
use crate::decision::{Evidence, Finding, Outcome, PartyRole, Reason};
use crate::ivms101;
use crate::travel::{TravelRuleData, TravelRulePolicy};

/// A payment the same payer made before (the caller chooses the scope: per merchant or global).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastPayment {
    pub at_ms: u64,
    /// Valued in the same currency as [`PaymentContext::amount`].
    pub amount: Money,
}

/// What the rules look at. Amounts are fiat valuations in the merchant's reporting currency
/// (the gateway converts stablecoin amounts before calling).
#[derive(Debug, Clone)]
pub struct PaymentContext {
    pub merchant: MerchantId,
    pub merchant_country: CountryCode,
    /// From KYC or geolocation, when known.
    pub payer_country: Option<CountryCode>,
    pub amount: Money,
    pub now_ms: u64,
    /// The payer's earlier payments, any order; older ones are ignored by each window.
    pub history: Vec<PastPayment>,
    pub travel: Option<TravelRuleData>,
}

/// An amount limit and what breaching it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub max: Money,
    pub on_breach: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VelocityLimit {
    /// Payments allowed in the window, this one included.
    pub max_count: u32,
    pub window_ms: u64,
    pub on_breach: Outcome,
}

/// The rules a merchant is screened with.
#[derive(Debug, Clone)]
pub struct RulesPolicy {
    pub single_payment: Option<Limit>,
    /// Over a sliding 24 h window, this payment included.
    pub daily_volume: Option<Limit>,
    pub velocity: Option<VelocityLimit>,
    pub blocked_countries: BTreeSet<CountryCode>,
    pub travel: TravelRulePolicy,
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

impl RulesPolicy {
    /// Comprehensively sanctioned jurisdictions (OFAC country programs): Cuba, Iran, North
    /// Korea, Syria. Regions (Crimea, DNR, LNR) have no ISO code and need address-level data.
    pub fn with_default_blocked_countries(travel: TravelRulePolicy) -> Self {
        let blocked = ["CU", "IR", "KP", "SY"]
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        Self {
            single_payment: None,
            daily_volume: None,
            velocity: None,
            blocked_countries: blocked,
            travel,
        }
    }
}

fn rule_evidence(rule: &str) -> Option<Evidence> {
    Some(Evidence {
        list: format!("rule:{rule}"),
        list_version: String::new(),
        matched: String::new(),
        score: None,
    })
}

/// Amounts in different currencies cannot be compared; that is a configuration problem, and
/// failing to Review keeps it from silently passing.
fn not_evaluable(rule: &str, detail: String) -> Finding {
    Finding {
        outcome: Outcome::Review,
        reason: Reason::RuleNotEvaluable {
            rule: rule.to_owned(),
            detail,
        },
        evidence: rule_evidence(rule),
    }
}

pub fn single_payment_limit(ctx: &PaymentContext, limit: &Limit) -> Option<Finding> {
    if ctx.amount.currency() != limit.max.currency() {
        return Some(not_evaluable(
            "single_payment",
            format!(
                "amount in {}, limit in {}",
                ctx.amount.currency().code(),
                limit.max.currency().code()
            ),
        ));
    }
    (ctx.amount.amount() > limit.max.amount()).then(|| Finding {
        outcome: limit.on_breach,
        reason: Reason::SinglePaymentLimit {
            amount: ctx.amount.clone(),
            limit: limit.max.clone(),
        },
        evidence: rule_evidence("single_payment"),
    })
}

/// The payments inside `(now - window, now]`.
fn in_window(ctx: &PaymentContext, window_ms: u64) -> impl Iterator<Item = &PastPayment> {
    let start = ctx.now_ms.saturating_sub(window_ms);
    ctx.history
        .iter()
        .filter(move |p| p.at_ms > start && p.at_ms <= ctx.now_ms)
}

pub fn daily_volume(ctx: &PaymentContext, limit: &Limit) -> Option<Finding> {
    let mut total = ctx.amount.clone();
    for past in in_window(ctx, DAY_MS) {
        total = match total.checked_add(&past.amount) {
            Ok(sum) => sum,
            Err(e) => return Some(not_evaluable("daily_volume", e.to_string())),
        };
    }
    if total.currency() != limit.max.currency() {
        return Some(not_evaluable(
            "daily_volume",
            "volume and limit currencies differ".into(),
        ));
    }
    (total.amount() > limit.max.amount()).then(|| Finding {
        outcome: limit.on_breach,
        reason: Reason::DailyVolume {
            total,
            limit: limit.max.clone(),
        },
        evidence: rule_evidence("daily_volume"),
    })
}

pub fn velocity(ctx: &PaymentContext, limit: &VelocityLimit) -> Option<Finding> {
    let count = u32::try_from(in_window(ctx, limit.window_ms).count())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    (count > limit.max_count).then(|| Finding {
        outcome: limit.on_breach,
        reason: Reason::Velocity {
            count,
            max: limit.max_count,
            window_secs: limit.window_ms / 1000,
        },
        evidence: rule_evidence("velocity"),
    })
}

/// Blocks a payer or merchant in a blocked jurisdiction. An unknown payer country passes: many
/// payers are anonymous wallets, and address screening still applies to them.
pub fn blocked_jurisdictions(
    ctx: &PaymentContext,
    blocked: &BTreeSet<CountryCode>,
) -> Vec<Finding> {
    let parties = [
        (PartyRole::Payer, ctx.payer_country),
        (PartyRole::Merchant, Some(ctx.merchant_country)),
    ];
    parties
        .into_iter()
        .filter_map(|(party, country)| country.filter(|c| blocked.contains(c)).map(|c| (party, c)))
        .map(|(party, country)| Finding {
            outcome: Outcome::Block,
            reason: Reason::BlockedJurisdiction { party, country },
            evidence: rule_evidence("blocked_jurisdiction"),
        })
        .collect()
}

/// The travel rule: above the merchant jurisdiction's threshold, IVMS101 originator and
/// beneficiary data must be present and valid; otherwise Review (the payment waits for data).
pub fn travel_rule(ctx: &PaymentContext, policy: &TravelRulePolicy) -> Option<Finding> {
    let threshold = policy.threshold_for(ctx.merchant_country);
    // A zero threshold (the EU's) applies to every amount in any currency: no conversion is
    // needed to know that an amount is at least zero.
    if ctx.amount.currency() != threshold.currency() && !threshold.is_zero() {
        return Some(not_evaluable(
            "travel_rule",
            format!(
                "amount in {}, threshold in {}",
                ctx.amount.currency().code(),
                threshold.currency().code()
            ),
        ));
    }
    if ctx.amount.amount() < threshold.amount() {
        return None;
    }
    let Some(data) = &ctx.travel else {
        return Some(Finding {
            outcome: Outcome::Review,
            reason: Reason::TravelRuleMissing {
                threshold: threshold.clone(),
            },
            evidence: rule_evidence("travel_rule"),
        });
    };
    let problems: Vec<String> = ivms101::validate(data, ctx.now_ms)
        .iter()
        .map(ToString::to_string)
        .collect();
    (!problems.is_empty()).then(|| Finding {
        outcome: Outcome::Review,
        reason: Reason::TravelRuleInvalid { problems },
        evidence: rule_evidence("travel_rule"),
    })
}

/// Every rule of the policy.
pub fn evaluate(ctx: &PaymentContext, policy: &RulesPolicy) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(
        policy
            .single_payment
            .as_ref()
            .and_then(|l| single_payment_limit(ctx, l)),
    );
    findings.extend(
        policy
            .daily_volume
            .as_ref()
            .and_then(|l| daily_volume(ctx, l)),
    );
    findings.extend(policy.velocity.as_ref().and_then(|l| velocity(ctx, l)));
    findings.extend(blocked_jurisdictions(ctx, &policy.blocked_countries));
    findings.extend(travel_rule(ctx, &policy.travel));
    findings
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rialto_core::Currency;

    pub(crate) fn usd(s: &str) -> Money {
        Money::parse(s, Currency::usd()).unwrap()
    }

    pub(crate) fn ctx(amount: Money) -> PaymentContext {
        PaymentContext {
            merchant: MerchantId::generate(),
            merchant_country: "US".parse().unwrap(),
            payer_country: None,
            amount,
            now_ms: 10 * DAY_MS,
            history: vec![],
            travel: None,
        }
    }

    fn past(ago_ms: u64, amount: &str) -> PastPayment {
        PastPayment {
            at_ms: 10 * DAY_MS - ago_ms,
            amount: usd(amount),
        }
    }

    #[test]
    fn single_payment_limit_allows_up_to_and_including_the_limit() {
        let limit = Limit {
            max: usd("1000"),
            on_breach: Outcome::Review,
        };
        let eur_limit = Limit {
            max: Money::parse("1000", Currency::eur()).unwrap(),
            on_breach: Outcome::Block,
        };
        let table = [
            ("999.99", &limit, None),
            ("1000", &limit, None),
            ("1000.01", &limit, Some(Outcome::Review)),
            ("5", &eur_limit, Some(Outcome::Review)),
        ];
        for (amount, limit, want) in table {
            let got = single_payment_limit(&ctx(usd(amount)), limit).map(|f| f.outcome);
            assert_eq!(got, want, "{amount} against {}", limit.max);
        }
    }

    #[test]
    fn daily_volume_sums_the_last_24_hours_including_this_payment() {
        let limit = Limit {
            max: usd("1000"),
            on_breach: Outcome::Review,
        };
        let table: [(&str, Vec<PastPayment>, Option<Outcome>); 5] = [
            ("100", vec![], None),
            ("100", vec![past(1_000, "900")], None),
            ("100", vec![past(1_000, "900.01")], Some(Outcome::Review)),
            (
                "100",
                vec![past(DAY_MS, "5000"), past(DAY_MS + 1, "5000")],
                None,
            ),
            (
                "100",
                vec![past(DAY_MS - 1, "500"), past(60_000, "400.01")],
                Some(Outcome::Review),
            ),
        ];
        for (i, (amount, history, want)) in table.into_iter().enumerate() {
            let mut c = ctx(usd(amount));
            c.history = history;
            assert_eq!(daily_volume(&c, &limit).map(|f| f.outcome), want, "row {i}");
        }
    }

    #[test]
    fn velocity_counts_payments_in_the_sliding_window_plus_this_one() {
        let limit = VelocityLimit {
            max_count: 3,
            window_ms: 3_600_000,
            on_breach: Outcome::Review,
        };
        let table: [(Vec<u64>, Option<Outcome>); 5] = [
            (vec![], None),
            (vec![1, 2], None),
            (vec![1, 2, 3], Some(Outcome::Review)),
            (vec![3_600_000, 3_600_001, 1], None),
            (vec![3_599_999, 10, 20], Some(Outcome::Review)),
        ];
        for (i, (agos, want)) in table.into_iter().enumerate() {
            let mut c = ctx(usd("1"));
            c.history = agos.into_iter().map(|a| past(a, "1")).collect();
            assert_eq!(velocity(&c, &limit).map(|f| f.outcome), want, "row {i}");
        }
    }

    #[test]
    fn blocked_jurisdictions_block_payer_or_merchant_and_unknown_passes() {
        let policy = RulesPolicy::with_default_blocked_countries(TravelRulePolicy::standard());
        let table = [
            (None, "US", 0),
            (Some("DE"), "US", 0),
            (Some("IR"), "US", 1),
            (Some("KP"), "CU", 2),
            (None, "SY", 1),
        ];
        for (payer, merchant, want) in table {
            let mut c = ctx(usd("1"));
            c.payer_country = payer.map(|p| p.parse().unwrap());
            c.merchant_country = merchant.parse().unwrap();
            let found = blocked_jurisdictions(&c, &policy.blocked_countries);
            assert_eq!(found.len(), want, "{payer:?} / {merchant}");
            assert!(found.iter().all(|f| f.outcome == Outcome::Block));
        }
    }
}
