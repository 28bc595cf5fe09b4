//! Compliance: every transfer is screened before money moves.
//!
//! A pure library: the gateway reads `data/ofac/` and per-merchant settings, hands the text and
//! values in here, and gets back a [`Decision`] (`Clear | Review | Block`, with internal
//! evidence and neutral merchant wording) plus, only when clear, a [`Cleared<T>`] proof that
//! the router's `execute` requires. No IO, no clock, no async runtime: time and history are
//! passed in, and the external screener is a trait the gateway implements.
//!
//! Typical use (gateway start-up, then per payment):
//! 1. `OfacManifest::parse(SOURCE)`, then `SanctionsList::from_lists(…)` and
//!    `NameIndex::build(&SdnList::parse(…)?)`, once per list refresh;
//! 2. `Screener { … }.screen(&request, plan)` → `Screened::{Cleared, InReview, Blocked}`;
//! 3. `AuditChain::append(AuditEntry::from_decision(&decision, pi_id))`, stored in order.
//!
//! # Layout
//! - [`address`]: `AddressKey` normalisation, OFAC per-asset `SanctionsList`, custom
//!   block/allow `CustomList`s.
//! - [`ofac`]: the `data/ofac/SOURCE` manifest and OFAC's legacy SDN CSV (entries, aliases).
//! - [`names`]: name normalisation, the SDN `NameIndex`, word-level fuzzy scoring
//!   (`names::similarity`), thresholds.
//! - [`rules`]: payment limits, daily volume, velocity, blocked jurisdictions, as pure functions.
//! - [`travel`]: travel-rule thresholds and the names screening takes from the payer data.
//! - [`ivms101`]: the IVMS101 payload and its validation (constraints C1–C12, code lists, text
//!   lengths), each problem naming the rule it breaks.
//! - [`country`]: ISO 3166-1 alpha-2 `CountryCode` and the EU/EEA perimeter.
//! - [`external`]: the `ExternalScreener` trait and how its answers (or outages) map to findings.
//! - [`identifiers`]: dates of birth, nationalities and ID numbers, listed (SDN Remarks) and
//!   given (payer data); a name match blocks only when one of them confirms it.
//! - [`decision`]: `Outcome`, `Reason`, `Evidence`, `Decision`, and the `Cleared<T>` proof.
//! - [`screen`]: the `Screener` entry point that combines all of the above.
//! - [`audit`]: the hash-chained audit trail and `verify_chain`.
//! - [`error`]: `ComplianceError`, the crate's one error type.

pub mod address;
pub mod audit;
pub mod country;
pub mod decision;
pub mod error;
pub mod external;
pub mod identifiers;
pub mod ivms101;
pub mod names;
pub mod ofac;
pub mod rules;
pub mod screen;
pub mod travel;

pub use address::{
    AddressKey, AssetListText, CustomList, CustomListKind, ListOwner, SanctionsList,
};
pub use audit::{
    verify_chain, verify_chain_with_head, AuditChain, AuditEntry, AuditRecord, BrokenAt, ChainHead,
};
pub use country::CountryCode;
pub use decision::{
    AddressRole, Cleared, ComplianceCaseId, Decision, Evidence, Finding, Outcome, PartyRole, Reason,
};
pub use error::ComplianceError;
pub use external::{assessment_finding, ExternalScreener, RiskAssessment, RiskLevel};
pub use identifiers::{BirthDate, Confirmation, ListedIdentifiers, PartyIdentifiers};
pub use names::{MatchStrength, NameIndex, NameMatch, NameThresholds, Score};
pub use ofac::{OfacManifest, SdnInput, SdnList};
pub use rules::{Limit, PastPayment, PaymentContext, RulesPolicy, VelocityLimit};
pub use screen::{Screened, ScreenedAddress, Screener, ScreeningRequest};
pub use travel::{TravelRuleData, TravelRulePolicy};
