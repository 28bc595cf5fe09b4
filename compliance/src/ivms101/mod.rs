//! IVMS101 (the interVASP Messaging Standard, 2020 edition), the identity payload the travel
//! rule exchanges: originator, beneficiary, the two VASPs, the transfer path and the payload
//! metadata, with the validation the standard defines ([`validate`]).
//!
//! The types follow IVMS101's JSON names (`naturalPerson`, `nameIdentifierType`…) so payloads
//! from TRP/TRISA/Notabene-style messages deserialize directly; the few names the 2023 edition
//! changed (`originatorPerson`, `naturalPersonNameIdentifierType`, a legal person's
//! `customerIdentification`) are accepted as aliases. Unknown fields are refused, so a
//! misspelt field is an error instead of data silently dropped. Code lists are kept as strings
//! and checked by [`validate`], so a bad value yields a problem naming the list instead of a
//! serde error.

mod validate;

use serde::{Deserialize, Serialize};

pub use validate::{validate, Problem, Rule};

/// The IVMS101 payload. Only `originator` and `beneficiary` are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TravelRuleData {
    pub originator: Party,
    pub beneficiary: Party,
    #[serde(
        default,
        rename = "originatingVASP",
        skip_serializing_if = "Option::is_none"
    )]
    pub originating_vasp: Option<Vasp>,
    #[serde(
        default,
        rename = "beneficiaryVASP",
        skip_serializing_if = "Option::is_none"
    )]
    pub beneficiary_vasp: Option<Vasp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_path: Option<TransferPath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_metadata: Option<PayloadMetadata>,
}

/// `Originator` / `Beneficiary`: the persons and their account numbers (wallet addresses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Party {
    #[serde(
        alias = "originatorPersons",
        alias = "beneficiaryPersons",
        alias = "originatorPerson",
        alias = "beneficiaryPerson"
    )]
    pub persons: Vec<Person>,
    #[serde(default)]
    pub account_number: Vec<String>,
}

/// A VASP as IVMS101 writes it: `{"originatingVASP": {"originatingVASP": <Person>}}` in the
/// 2020 JSON, or the person directly as several implementations send it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Vasp {
    Wrapped(WrappedVasp),
    Direct(Person),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedVasp {
    #[serde(alias = "originatingVASP", alias = "beneficiaryVASP")]
    pub vasp: Person,
}

impl Vasp {
    pub fn person(&self) -> &Person {
        match self {
            Vasp::Wrapped(w) => &w.vasp,
            Vasp::Direct(p) => p,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransferPath {
    pub transfer_path: Vec<IntermediaryVasp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntermediaryVasp {
    #[serde(rename = "intermediaryVASP")]
    pub intermediary_vasp: Person,
    /// Position in the path; IVMS101 C12 wants 0, 1, 2… with no gap or repeat.
    pub sequence: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayloadMetadata {
    /// TransliterationMethodCode values.
    #[serde(default)]
    pub transliteration_method: Vec<String>,
    /// The 2023 edition's `payloadVersion`, accepted and not interpreted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Person {
    NaturalPerson(NaturalPerson),
    LegalPerson(LegalPerson),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NaturalPerson {
    pub name: NaturalPersonName,
    #[serde(default)]
    pub geographic_address: Vec<GeographicAddress>,
    pub national_identification: Option<NationalIdentification>,
    pub customer_identification: Option<String>,
    pub date_and_place_of_birth: Option<DateAndPlaceOfBirth>,
    pub country_of_residence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NaturalPersonName {
    pub name_identifier: Vec<NaturalPersonNameId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_name_identifier: Vec<NaturalPersonNameId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phonetic_name_identifier: Vec<NaturalPersonNameId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NaturalPersonNameId {
    /// Family name (or the full name when there is no split).
    pub primary_identifier: String,
    pub secondary_identifier: Option<String>,
    /// ALIA, BIRT, MAID, LEGL or MISC.
    #[serde(alias = "naturalPersonNameIdentifierType")]
    pub name_identifier_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalPerson {
    pub name: LegalPersonName,
    #[serde(default)]
    pub geographic_address: Vec<GeographicAddress>,
    #[serde(alias = "customerIdentification")]
    pub customer_number: Option<String>,
    pub national_identification: Option<NationalIdentification>,
    pub country_of_registration: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalPersonName {
    pub name_identifier: Vec<LegalPersonNameId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_name_identifier: Vec<LegalPersonNameId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phonetic_name_identifier: Vec<LegalPersonNameId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalPersonNameId {
    pub legal_person_name: String,
    /// LEGL, SHRT or TRAD.
    pub legal_person_name_identifier_type: String,
}

/// IVMS101 `Address`. `townName` is mandatory in the standard; it is an `Option` here so its
/// absence is reported as a problem rather than a parse error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeographicAddress {
    /// HOME, BIZZ or GEOG.
    pub address_type: String,
    pub department: Option<String>,
    pub sub_department: Option<String>,
    pub street_name: Option<String>,
    pub building_number: Option<String>,
    pub building_name: Option<String>,
    pub floor: Option<String>,
    pub post_box: Option<String>,
    pub room: Option<String>,
    pub post_code: Option<String>,
    pub town_name: Option<String>,
    pub town_location_name: Option<String>,
    pub district_name: Option<String>,
    pub country_sub_division: Option<String>,
    #[serde(default)]
    pub address_line: Vec<String>,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NationalIdentification {
    pub national_identifier: String,
    /// ARNU, CCPT, RAID, DRLC, FIIN, TXID, SOCS, IDCD, LEIX or MISC.
    pub national_identifier_type: String,
    pub country_of_issue: Option<String>,
    /// A GLEIF registration authority code, `RA` and six digits.
    pub registration_authority: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DateAndPlaceOfBirth {
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub place_of_birth: String,
}
