//! Decisions, their reasons and evidence, and the `Cleared<T>` proof.
//!
//! Two audiences: the internal [`Finding`]s keep every detail (which list, which entry, which
//! score) for analysts and the audit trail; merchants only ever see
//! [`Decision::merchant_code`] and [`Decision::merchant_message`], which are the same for every
//! reason of one outcome, so a refusal never reveals which list or rule matched (tipping-off).

use rialto_core::id::{Id, IdKind};
use rialto_core::Money;
use serde::{Serialize, Serializer};

use crate::address::{AddressKey, ListOwner};
use crate::country::CountryCode;
use crate::external::RiskLevel;
use crate::identifiers::Confirmation;
use crate::names::{NameMatch, Score};

/// Marker for compliance case ids (`cc_`): one per screening decision.
#[derive(Debug)]
pub enum ComplianceCaseKind {}

impl IdKind for ComplianceCaseKind {
    const PREFIX: &'static str = "cc";
}

pub type ComplianceCaseId = Id<ComplianceCaseKind>;

/// Ordered by severity, so the decision is the `max` of its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Clear,
    Review,
    Block,
}

/// Which address of the payment an address finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressRole {
    Payer,
    Settlement,
    RouteHop,
}

/// Which party a jurisdiction or name finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    Payer,
    Merchant,
    Originator,
    Beneficiary,
}

/// Why a finding was raised. Internal: never shown to merchants.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    SanctionedAddress {
        role: AddressRole,
        address: AddressKey,
        asset_lists: Vec<String>,
    },
    CustomBlockedAddress {
        role: AddressRole,
        address: AddressKey,
        owner: ListOwner,
    },
    NameMatch {
        party: PartyRole,
        screened_name: String,
        matched: NameMatch,
        /// The party's identifiers that agree with the entry's; empty for a name-only match
        /// (which is then a Review, never a Block).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        confirmed_by: Vec<Confirmation>,
    },
    SinglePaymentLimit {
        #[serde(serialize_with = "money")]
        amount: Money,
        #[serde(serialize_with = "money")]
        limit: Money,
    },
    DailyVolume {
        #[serde(serialize_with = "money")]
        total: Money,
        #[serde(serialize_with = "money")]
        limit: Money,
    },
    Velocity {
        count: u32,
        max: u32,
        window_secs: u64,
    },
    BlockedJurisdiction {
        party: PartyRole,
        country: CountryCode,
    },
    TravelRuleMissing {
        #[serde(serialize_with = "money")]
        threshold: Money,
    },
    TravelRuleInvalid {
        problems: Vec<String>,
    },
    ExternalRisk {
        provider: String,
        address: AddressKey,
        level: RiskLevel,
        categories: Vec<String>,
    },
    ExternalUnavailable {
        provider: String,
        address: AddressKey,
        error: String,
    },
    /// A rule could not be evaluated (e.g. amounts in different currencies): fail to Review.
    RuleNotEvaluable {
        rule: String,
        detail: String,
    },
    ReleasedAfterReview {
        reviewer: String,
        prior_case: String,
    },
}

fn money<S: Serializer>(value: &Money, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// What a finding was checked against: enough to reproduce it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `ofac-addresses`, `ofac-sdn`, `custom-block`, an external provider's name, a rule name.
    pub list: String,
    /// The list's version at decision time (e.g. `ofac-addr:3f2a…@f2aee22…`).
    pub list_version: String,
    /// The list entry that matched (address, SDN name and ent_num), empty for rules.
    pub matched: String,
    pub score: Option<Score>,
}

/// One thing a screening found. Clear findings are not recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub outcome: Outcome,
    pub reason: Reason,
    pub evidence: Option<Evidence>,
}

/// The result of one screening: outcome, every finding, and the versions of every list used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub case_id: ComplianceCaseId,
    pub outcome: Outcome,
    pub findings: Vec<Finding>,
    pub list_versions: Vec<String>,
    pub decided_at_ms: u64,
}

impl Decision {
    pub(crate) fn from_findings(
        case_id: ComplianceCaseId,
        findings: Vec<Finding>,
        list_versions: Vec<String>,
        decided_at_ms: u64,
    ) -> Self {
        let outcome = findings
            .iter()
            .map(|f| f.outcome)
            .max()
            .unwrap_or(Outcome::Clear);
        Self {
            case_id,
            outcome,
            findings,
            list_versions,
            decided_at_ms,
        }
    }

    /// Stable code for the API and webhooks. Depends on the outcome only.
    pub fn merchant_code(&self) -> &'static str {
        match self.outcome {
            Outcome::Clear => "compliance_cleared",
            Outcome::Review => "compliance_review",
            Outcome::Block => "compliance_blocked",
        }
    }

    /// Neutral wording for merchants and payers. Depends on the outcome only, never on which
    /// list, entry or rule matched.
    pub fn merchant_message(&self) -> &'static str {
        match self.outcome {
            Outcome::Clear => "The payment passed compliance checks.",
            Outcome::Review => {
                "The payment is held for a routine compliance review. No action is needed yet."
            }
            Outcome::Block => {
                "The payment cannot be processed. The funds are held pending compliance procedures."
            }
        }
    }
}

/// Proof that a plan passed screening. Only this crate can make one (the fields are private
/// and there is no public constructor, `Default`, `Clone` or `Deserialize`), and the router's
/// `execute` takes only `Cleared<Plan>`: an unscreened plan cannot move money. There is
/// deliberately no `map`: turning a cleared $10 plan into an uncleared $10,000 one must not
/// be possible.
///
/// ```
/// // What a consumer such as the router can do (this compiles, so the two blocks below fail
/// // for the privacy errors E0451 and E0624, not for a wrong path):
/// fn execute(cleared: rialto_compliance::Cleared<u32>) -> u32 {
///     let (plan, decision) = cleared.into_parts();
///     assert_eq!(decision.outcome, rialto_compliance::Outcome::Clear);
///     plan
/// }
/// ```
/// ```compile_fail
/// // Outside the crate a Cleared cannot be built from its fields…
/// fn forge(decision: rialto_compliance::Decision) -> rialto_compliance::Cleared<u32> {
///     rialto_compliance::Cleared { plan: 1, decision }
/// }
/// ```
/// ```compile_fail
/// // …nor with the crate-private constructor.
/// fn forge(decision: rialto_compliance::Decision) -> rialto_compliance::Cleared<u32> {
///     rialto_compliance::Cleared::new(1, decision)
/// }
/// ```
#[derive(Debug)]
pub struct Cleared<T> {
    plan: T,
    decision: Decision,
}

impl<T> Cleared<T> {
    /// Only screening (and release after review) call this, with a Clear decision.
    pub(crate) fn new(plan: T, decision: Decision) -> Self {
        Self { plan, decision }
    }

    pub fn plan(&self) -> &T {
        &self.plan
    }

    /// The Clear decision (case id, list versions) to record next to the execution.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// Carries the proof over to the plan made from what was screened (the gateway screens a
    /// payment's funds, then executes the intent's locked quote under the same decision).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Cleared<U> {
        Cleared {
            plan: f(self.plan),
            decision: self.decision,
        }
    }

    /// Consumes the proof: what comes out can never be cleared again without re-screening.
    pub fn into_parts(self) -> (T, Decision) {
        (self.plan, self.decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::MatchStrength;
    use crate::ofac::{NameSource, SdnType};
    use rialto_core::Currency;

    fn every_reason() -> Vec<Reason> {
        let addr = AddressKey::parse("0x8589427373d6d84e98730d7795d8f6f8731fda16").unwrap();
        let usd = |s: &str| Money::parse(s, Currency::usd()).unwrap();
        vec![
            Reason::SanctionedAddress {
                role: AddressRole::Payer,
                address: addr.clone(),
                asset_lists: vec!["ETH".into()],
            },
            Reason::CustomBlockedAddress {
                role: AddressRole::Payer,
                address: addr.clone(),
                owner: ListOwner::Operator,
            },
            Reason::NameMatch {
                party: PartyRole::Originator,
                screened_name: "Tornado Cash".into(),
                matched: NameMatch {
                    ent_num: 39796,
                    matched_name: "TORNADO CASH".into(),
                    primary_name: "TORNADO CASH".into(),
                    source: NameSource::Primary,
                    sdn_type: SdnType::Entity,
                    programs: vec!["CYBER2".into()],
                    score: Score::MAX,
                    strength: MatchStrength::Strong,
                },
                confirmed_by: vec![],
            },
            Reason::SinglePaymentLimit {
                amount: usd("10"),
                limit: usd("5"),
            },
            Reason::BlockedJurisdiction {
                party: PartyRole::Payer,
                country: "KP".parse().unwrap(),
            },
            Reason::ExternalUnavailable {
                provider: "chainalysis".into(),
                address: addr,
                error: "timeout".into(),
            },
        ]
    }

    #[test]
    fn merchant_wording_never_reveals_which_list_or_entry_matched() {
        for reason in every_reason() {
            for outcome in [Outcome::Review, Outcome::Block] {
                let decision = Decision::from_findings(
                    ComplianceCaseId::generate(),
                    vec![Finding {
                        outcome,
                        reason: reason.clone(),
                        evidence: None,
                    }],
                    vec!["ofac-addr:abc".into()],
                    0,
                );
                let shown = format!(
                    "{} {}",
                    decision.merchant_code(),
                    decision.merchant_message()
                )
                .to_lowercase();
                for secret in [
                    "ofac",
                    "sdn",
                    "sanction",
                    "tornado",
                    "list",
                    "chainalysis",
                    "kp",
                    "limit",
                ] {
                    assert!(!shown.contains(secret), "{shown:?} leaks {secret:?}");
                }
            }
        }
    }

    #[test]
    fn the_decision_is_the_most_severe_finding_and_clear_when_there_are_none() {
        let f = |outcome| Finding {
            outcome,
            reason: Reason::Velocity {
                count: 1,
                max: 1,
                window_secs: 1,
            },
            evidence: None,
        };
        let id = ComplianceCaseId::generate();
        let d = |fs| Decision::from_findings(id, fs, vec![], 0).outcome;
        assert_eq!(d(vec![]), Outcome::Clear);
        assert_eq!(d(vec![f(Outcome::Review)]), Outcome::Review);
        assert_eq!(
            d(vec![
                f(Outcome::Review),
                f(Outcome::Block),
                f(Outcome::Clear)
            ]),
            Outcome::Block
        );
    }

    #[test]
    fn internal_evidence_keeps_the_detail_merchant_text_drops() {
        let reason = every_reason().remove(2);
        let json = serde_json::to_string(&reason).unwrap();
        assert!(
            json.contains("TORNADO CASH") && json.contains("39796"),
            "{json}"
        );
    }
}
