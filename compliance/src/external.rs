//! External address screeners (Chainalysis, TRM, Elliptic…): the trait the gateway implements
//! over HTTP, and the one mapping from their answers — or their silence — to findings.

use serde::{Deserialize, Serialize};

use crate::address::AddressKey;
use crate::decision::{Evidence, Finding, Outcome, Reason};
use crate::ComplianceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    /// The provider ties the address to sanctions or equivalent: Block.
    Severe,
}

/// A provider's answer about one address, mapped into our terms by the implementation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    /// The provider's categories (`sanctions`, `mixer`, `darknet_market`…), for analysts.
    pub categories: Vec<String>,
    /// The provider's reference for this assessment, kept as evidence.
    pub reference: Option<String>,
}

/// An external screener. Implementations live in the gateway (HTTP); this trait is sync so
/// compliance stays free of async runtimes: the gateway calls it from a blocking task.
///
/// Guarantees an implementation must give: `assess` is read-only and safe to retry; it returns
/// within its own deadline, reporting [`ComplianceError::ScreenerTimeout`] rather than hanging;
/// any failure is an `Err` (never a made-up `Low`), because [`assessment_finding`] turns every
/// `Err` into Review.
pub trait ExternalScreener {
    /// The provider's name, recorded as the evidence list name.
    fn provider(&self) -> &str;

    fn assess(&self, address: &AddressKey) -> Result<RiskAssessment, ComplianceError>;
}

/// Maps an external answer to a finding (`None` = nothing to record).
///
/// - Low → nothing; Medium/High → Review, unless the address is on an allow-list;
/// - Severe → Block, allow-list or not;
/// - any error (timeout, outage, garbage) → Review, never Clear: an outage must not become a
///   hole in screening.
pub fn assessment_finding(
    provider: &str,
    address: &AddressKey,
    answer: Result<RiskAssessment, ComplianceError>,
    allow_listed: bool,
) -> Option<Finding> {
    let assessment = match answer {
        Ok(assessment) => assessment,
        Err(error) => {
            return Some(Finding {
                outcome: Outcome::Review,
                reason: Reason::ExternalUnavailable {
                    provider: provider.to_owned(),
                    address: address.clone(),
                    error: error.to_string(),
                },
                evidence: None,
            })
        }
    };
    let outcome = match (assessment.level, allow_listed) {
        (RiskLevel::Low, _) => return None,
        (RiskLevel::Medium | RiskLevel::High, true) => return None,
        (RiskLevel::Medium | RiskLevel::High, false) => Outcome::Review,
        (RiskLevel::Severe, _) => Outcome::Block,
    };
    Some(Finding {
        outcome,
        evidence: Some(Evidence {
            list: provider.to_owned(),
            list_version: assessment.reference.clone().unwrap_or_default(),
            matched: address.to_string(),
            score: None,
        }),
        reason: Reason::ExternalRisk {
            provider: provider.to_owned(),
            address: address.clone(),
            level: assessment.level,
            categories: assessment.categories,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assessed(level: RiskLevel) -> Result<RiskAssessment, ComplianceError> {
        Ok(RiskAssessment {
            level,
            categories: vec!["mixer".into()],
            reference: Some("ref-1".into()),
        })
    }

    #[test]
    fn external_answers_map_to_outcomes_and_outages_never_clear() {
        let addr = AddressKey::parse("0x8589427373d6d84e98730d7795d8f6f8731fda16").unwrap();
        let timeout = || {
            Err(ComplianceError::ScreenerTimeout {
                provider: "p".into(),
            })
        };
        let down = || {
            Err(ComplianceError::ScreenerUnavailable {
                provider: "p".into(),
                reason: "503".into(),
            })
        };
        let garbage = || {
            Err(ComplianceError::ScreenerInvalidResponse {
                provider: "p".into(),
                reason: "json".into(),
            })
        };
        let cases: Vec<(
            Result<RiskAssessment, ComplianceError>,
            bool,
            Option<Outcome>,
        )> = vec![
            (assessed(RiskLevel::Low), false, None),
            (assessed(RiskLevel::Medium), false, Some(Outcome::Review)),
            (assessed(RiskLevel::High), false, Some(Outcome::Review)),
            (assessed(RiskLevel::High), true, None),
            (assessed(RiskLevel::Severe), false, Some(Outcome::Block)),
            (assessed(RiskLevel::Severe), true, Some(Outcome::Block)),
            (timeout(), false, Some(Outcome::Review)),
            (timeout(), true, Some(Outcome::Review)),
            (down(), false, Some(Outcome::Review)),
            (garbage(), true, Some(Outcome::Review)),
        ];
        for (i, (answer, allowed, want)) in cases.into_iter().enumerate() {
            let got = assessment_finding("p", &addr, answer, allowed).map(|f| f.outcome);
            assert_eq!(got, want, "case {i}");
        }
    }
}
