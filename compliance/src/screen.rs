//! The screening entry point: addresses, names, rules and the external screener combined into
//! one [`Decision`], and the only place a [`Cleared`] is made.

use crate::address::{AddressKey, CustomList, CustomListKind, SanctionsList};
use crate::decision::{
    AddressRole, Cleared, ComplianceCaseId, Decision, Evidence, Finding, Outcome, PartyRole, Reason,
};
use crate::external::{assessment_finding, ExternalScreener};
use crate::identifiers::PartyIdentifiers;
use crate::names::{MatchStrength, NameIndex, NameThresholds};
use crate::rules::{self, PaymentContext, RulesPolicy};
use crate::ComplianceError;

/// An address to screen and its role in the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenedAddress {
    pub role: AddressRole,
    pub address: AddressKey,
}

/// Everything one screening looks at.
#[derive(Debug, Clone)]
pub struct ScreeningRequest {
    /// Fresh per screening; it becomes the audit record id.
    pub case_id: ComplianceCaseId,
    pub addresses: Vec<ScreenedAddress>,
    /// Names known besides the travel-rule data (which is screened automatically).
    pub names: Vec<(PartyRole, String)>,
    /// What the payer data says besides the name (date of birth, nationality, ID number):
    /// what can confirm a match on one of the `Payer` names above and make it a Block.
    pub payer_identifiers: PartyIdentifiers,
    pub payment: PaymentContext,
}

/// The outcome with the plan handed back: only a Clear outcome yields a [`Cleared`].
#[derive(Debug)]
pub enum Screened<T> {
    Cleared(Cleared<T>),
    InReview { decision: Decision, plan: T },
    Blocked { decision: Decision, plan: T },
}

impl<T> Screened<T> {
    pub fn decision(&self) -> &Decision {
        match self {
            Screened::Cleared(c) => c.decision(),
            Screened::InReview { decision, .. } | Screened::Blocked { decision, .. } => decision,
        }
    }
}

/// Everything screening needs, borrowed: lists are loaded once and shared across requests.
#[derive(Clone, Copy)]
pub struct Screener<'a> {
    pub sanctions: &'a SanctionsList,
    pub names: &'a NameIndex,
    pub name_thresholds: NameThresholds,
    /// The operator's lists and this merchant's.
    pub custom_lists: &'a [CustomList],
    pub rules: &'a RulesPolicy,
    pub external: Option<&'a dyn ExternalScreener>,
}

impl std::fmt::Debug for Screener<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screener")
            .field("sanctions", &self.sanctions.version())
            .field("names", &self.names.version())
            .field("external", &self.external.map(|e| e.provider().to_owned()))
            .finish_non_exhaustive()
    }
}

impl Screener<'_> {
    /// Screens a payment and hands the plan back, wrapped in [`Cleared`] only if nothing was
    /// found. Deterministic for the same inputs except for the external screener's answers.
    pub fn screen<T>(&self, request: &ScreeningRequest, plan: T) -> Screened<T> {
        let mut findings = self.sanctions_findings(request);
        let already_blocked = findings.iter().any(|f| f.outcome == Outcome::Block);
        // A blocked address is not sent to a paid external screener: the answer cannot matter.
        if !already_blocked {
            findings.extend(self.external_findings(request));
        }
        findings.extend(rules::evaluate(&request.payment, self.rules));
        let decision = Decision::from_findings(
            request.case_id,
            findings,
            self.list_versions(),
            request.payment.now_ms,
        );
        match decision.outcome {
            Outcome::Clear => Screened::Cleared(Cleared::new(plan, decision)),
            Outcome::Review => Screened::InReview { decision, plan },
            Outcome::Block => Screened::Blocked { decision, plan },
        }
    }

    /// An analyst cleared a held payment. Addresses and names are screened again against the
    /// current lists (they may have changed since), and a Block anywhere refuses the release;
    /// the Review reasons are what the analyst resolved. Blocked decisions are never released.
    pub fn release_after_review<T>(
        &self,
        held: &Decision,
        request: &ScreeningRequest,
        plan: T,
        reviewer: &str,
        now_ms: u64,
    ) -> Result<Cleared<T>, ComplianceError> {
        if held.outcome != Outcome::Review {
            return Err(ComplianceError::NotReleasable {
                reason: format!("decision {} is not in review", held.case_id),
            });
        }
        let again = self.sanctions_findings(request);
        if again.iter().any(|f| f.outcome == Outcome::Block) {
            return Err(ComplianceError::NotReleasable {
                reason: "a sanctions check now blocks this payment".into(),
            });
        }
        let release = Finding {
            outcome: Outcome::Clear,
            reason: Reason::ReleasedAfterReview {
                reviewer: reviewer.to_owned(),
                prior_case: held.case_id.to_string(),
            },
            evidence: None,
        };
        let decision = Decision::from_findings(
            ComplianceCaseId::generate(),
            vec![release],
            self.list_versions(),
            now_ms,
        );
        Ok(Cleared::new(plan, decision))
    }

    /// Address-only screening (OFAC and block-lists) for settlement targets, payout and refund
    /// destinations and ad-hoc checks: no rules, names or external screener, so the outcome
    /// is Clear or Block.
    pub fn screen_addresses(
        &self,
        case_id: ComplianceCaseId,
        addresses: &[ScreenedAddress],
        now_ms: u64,
    ) -> Decision {
        let findings = addresses
            .iter()
            .flat_map(|a| self.address_findings(a))
            .collect();
        Decision::from_findings(case_id, findings, self.list_versions(), now_ms)
    }

    /// Name-only screening against the SDN index (ad-hoc checks by operators). A name alone
    /// confirms nobody, so the outcome is Clear or Review.
    pub fn screen_name(
        &self,
        case_id: ComplianceCaseId,
        party: PartyRole,
        name: &str,
        now_ms: u64,
    ) -> Decision {
        let findings = self.name_findings(party, name, &PartyIdentifiers::default());
        Decision::from_findings(case_id, findings, self.list_versions(), now_ms)
    }

    fn list_versions(&self) -> Vec<String> {
        let mut versions = vec![
            self.sanctions.version().to_owned(),
            self.names.version().to_owned(),
        ];
        versions.extend(self.custom_lists.iter().map(|l| l.version().to_owned()));
        versions
    }

    /// OFAC addresses, custom block-lists and SDN names.
    fn sanctions_findings(&self, request: &ScreeningRequest) -> Vec<Finding> {
        let mut findings = Vec::new();
        for screened in &request.addresses {
            findings.extend(self.address_findings(screened));
        }
        let none = PartyIdentifiers::default();
        for (party, name) in &request.names {
            let given = match party {
                PartyRole::Payer => &request.payer_identifiers,
                _ => &none,
            };
            findings.extend(self.name_findings(*party, name, given));
        }
        let travel_names = request
            .payment
            .travel
            .as_ref()
            .map(|t| t.identified_names())
            .unwrap_or_default();
        for (party, name, given) in &travel_names {
            findings.extend(self.name_findings(*party, name, given));
        }
        findings
    }

    fn address_findings(&self, screened: &ScreenedAddress) -> Vec<Finding> {
        let mut findings = Vec::new();
        if let Some(hit) = self.sanctions.check(&screened.address) {
            findings.push(Finding {
                outcome: Outcome::Block,
                reason: Reason::SanctionedAddress {
                    role: screened.role,
                    address: hit.address.clone(),
                    asset_lists: hit.asset_lists.to_vec(),
                },
                evidence: Some(Evidence {
                    list: "ofac-addresses".into(),
                    list_version: self.sanctions.version().to_owned(),
                    matched: hit.address.to_string(),
                    score: None,
                }),
            });
        }
        let blocking = self
            .custom_lists
            .iter()
            .filter(|l| l.kind() == CustomListKind::Block && l.contains(&screened.address));
        for list in blocking {
            findings.push(Finding {
                outcome: Outcome::Block,
                reason: Reason::CustomBlockedAddress {
                    role: screened.role,
                    address: screened.address.clone(),
                    owner: list.owner(),
                },
                evidence: Some(Evidence {
                    list: "custom-block".into(),
                    list_version: list.version().to_owned(),
                    matched: screened.address.to_string(),
                    score: None,
                }),
            });
        }
        findings
    }

    /// A name names many people, so a match alone is a Review. It blocks only when strong
    /// (a near-exact match on a distinctive name) and an identifier the party gave (date of
    /// birth, nationality, ID number) agrees with one the SDN entry lists.
    fn name_findings(
        &self,
        party: PartyRole,
        name: &str,
        given: &PartyIdentifiers,
    ) -> Vec<Finding> {
        self.names
            .search(name, &self.name_thresholds)
            .into_iter()
            .map(|m| {
                let confirmed_by = match m.strength {
                    MatchStrength::Strong => self
                        .names
                        .identifiers(m.ent_num)
                        .map(|listed| listed.confirmations(given))
                        .unwrap_or_default(),
                    MatchStrength::Weak => Vec::new(),
                };
                Finding {
                    outcome: if confirmed_by.is_empty() {
                        Outcome::Review
                    } else {
                        Outcome::Block
                    },
                    evidence: Some(Evidence {
                        list: "ofac-sdn".into(),
                        list_version: self.names.version().to_owned(),
                        matched: format!("{} (ent_num {})", m.matched_name, m.ent_num),
                        score: Some(m.score),
                    }),
                    reason: Reason::NameMatch {
                        party,
                        screened_name: name.to_owned(),
                        matched: m,
                        confirmed_by,
                    },
                }
            })
            .collect()
    }

    /// Payer addresses only: settlement addresses are the merchant's own, screened at onboarding.
    fn external_findings(&self, request: &ScreeningRequest) -> Vec<Finding> {
        let Some(external) = self.external else {
            return Vec::new();
        };
        request
            .addresses
            .iter()
            .filter(|a| a.role == AddressRole::Payer)
            .filter_map(|a| {
                let allow_listed = self
                    .custom_lists
                    .iter()
                    .any(|l| l.kind() == CustomListKind::Allow && l.contains(&a.address));
                let answer = external.assess(&a.address);
                assessment_finding(external.provider(), &a.address, answer, allow_listed)
            })
            .collect()
    }
}
