//! The travel rule: per-jurisdiction thresholds and the IVMS101 originator/beneficiary data
//! that must accompany a transfer above them, with the validation IVMS101 and FATF R.16 ask.
//!
//! The types follow IVMS101's JSON names (`naturalPerson`, `nameIdentifierType`…) so payloads
//! from TRP/TRISA/Notabene-style messages deserialize directly. Code lists are kept as strings
//! and checked by [`validate`], so a bad value yields a precise problem instead of a serde error.

use std::collections::HashMap;

use rialto_core::{Currency, Money};
use serde::{Deserialize, Serialize};

use crate::country::CountryCode;
use crate::decision::PartyRole;
use crate::identifiers::PartyIdentifiers;

/// Travel-rule thresholds by merchant jurisdiction.
#[derive(Debug, Clone)]
pub struct TravelRulePolicy {
    pub default_threshold: Money,
    pub by_country: HashMap<CountryCode, Money>,
    /// Applies to EU/EEA merchants unless `by_country` says otherwise.
    pub eu_threshold: Option<Money>,
}

impl TravelRulePolicy {
    /// USD 3,000 by default (the US Funds Transfer/Travel Rule, 31 CFR 1010.410(f)); EUR 0 for
    /// EU/EEA merchants (Transfer of Funds Regulation 2023/1113: every crypto transfer).
    pub fn standard() -> Self {
        Self {
            default_threshold: Money::from_decimal(3000.into(), Currency::usd())
                .unwrap_or_else(|_| Money::zero(Currency::usd())),
            by_country: HashMap::new(),
            eu_threshold: Some(Money::zero(Currency::eur())),
        }
    }

    pub fn threshold_for(&self, merchant_country: CountryCode) -> &Money {
        if let Some(threshold) = self.by_country.get(&merchant_country) {
            return threshold;
        }
        match &self.eu_threshold {
            Some(eu) if merchant_country.is_eu_eea() => eu,
            _ => &self.default_threshold,
        }
    }
}

/// IVMS101 identity payload, the parts Rialto needs: originator and beneficiary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TravelRuleData {
    pub originator: Party,
    pub beneficiary: Party,
}

/// `Originator` / `Beneficiary`: the persons and their account numbers (wallet addresses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    #[serde(alias = "originatorPersons", alias = "beneficiaryPersons")]
    pub persons: Vec<Person>,
    #[serde(default)]
    pub account_number: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Person {
    NaturalPerson(NaturalPerson),
    LegalPerson(LegalPerson),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[serde(rename_all = "camelCase")]
pub struct NaturalPersonName {
    pub name_identifier: Vec<NaturalPersonNameId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NaturalPersonNameId {
    /// Family name (or the full name when there is no split).
    pub primary_identifier: String,
    pub secondary_identifier: Option<String>,
    /// ALIA, BIRT, MAID, LEGL or MISC.
    pub name_identifier_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalPerson {
    pub name: LegalPersonName,
    #[serde(default)]
    pub geographic_address: Vec<GeographicAddress>,
    pub customer_number: Option<String>,
    pub national_identification: Option<NationalIdentification>,
    pub country_of_registration: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalPersonName {
    pub name_identifier: Vec<LegalPersonNameId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalPersonNameId {
    pub legal_person_name: String,
    /// LEGL, SHRT or TRAD.
    pub legal_person_name_identifier_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeographicAddress {
    /// HOME, BIZZ or GEOG.
    pub address_type: String,
    pub street_name: Option<String>,
    pub building_number: Option<String>,
    pub building_name: Option<String>,
    pub post_code: Option<String>,
    pub town_name: Option<String>,
    #[serde(default)]
    pub address_line: Vec<String>,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NationalIdentification {
    pub national_identifier: String,
    /// ARNU, CCPT, RAID, DRLC, FIIN, TXID, SOCS, IDCD, LEIX or MISC.
    pub national_identifier_type: String,
    pub country_of_issue: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateAndPlaceOfBirth {
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub place_of_birth: String,
}

const NATURAL_NAME_TYPES: [&str; 5] = ["ALIA", "BIRT", "MAID", "LEGL", "MISC"];
const LEGAL_NAME_TYPES: [&str; 3] = ["LEGL", "SHRT", "TRAD"];
const ADDRESS_TYPES: [&str; 3] = ["HOME", "BIZZ", "GEOG"];
const NATIONAL_ID_TYPES: [&str; 10] = [
    "ARNU", "CCPT", "RAID", "DRLC", "FIIN", "TXID", "SOCS", "IDCD", "LEIX", "MISC",
];
/// IVMS101 C9: a legal person's national identifier can only be one of these.
const LEGAL_NATIONAL_ID_TYPES: [&str; 4] = ["RAID", "MISC", "LEIX", "TXID"];

impl TravelRuleData {
    /// The names to screen, with the party they belong to (legal names only: aliases and
    /// maiden names are screened too since they are what a listed person might use).
    pub fn names(&self) -> Vec<(PartyRole, String)> {
        self.identified_names()
            .into_iter()
            .map(|(role, name, _)| (role, name))
            .collect()
    }

    /// [`TravelRuleData::names`] with what each person's record says besides the name (date
    /// of birth, national identifier, a legal person's country of registration), which is what
    /// can confirm a name match. Values that are not well formed are left out: validation
    /// reports them, and a missing identifier only keeps a match in review.
    pub fn identified_names(&self) -> Vec<(PartyRole, String, PartyIdentifiers)> {
        let mut out = Vec::new();
        for (role, party) in [
            (PartyRole::Originator, &self.originator),
            (PartyRole::Beneficiary, &self.beneficiary),
        ] {
            for person in &party.persons {
                match person {
                    Person::NaturalPerson(p) => {
                        let ids = PartyIdentifiers {
                            date_of_birth: p
                                .date_and_place_of_birth
                                .as_ref()
                                .and_then(|d| d.date_of_birth.parse().ok()),
                            nationality: None,
                            id_number: given_id_number(&p.national_identification),
                        };
                        out.extend(p.name.name_identifier.iter().map(|n| {
                            let given = n.secondary_identifier.as_deref().unwrap_or("");
                            let name = format!("{given} {}", n.primary_identifier);
                            (role, name.trim().to_owned(), ids.clone())
                        }))
                    }
                    Person::LegalPerson(p) => {
                        let ids = PartyIdentifiers {
                            date_of_birth: None,
                            nationality: p
                                .country_of_registration
                                .as_deref()
                                .and_then(|c| c.parse().ok()),
                            id_number: given_id_number(&p.national_identification),
                        };
                        out.extend(
                            p.name
                                .name_identifier
                                .iter()
                                .map(|n| (role, n.legal_person_name.clone(), ids.clone())),
                        )
                    }
                }
            }
        }
        out
    }
}

fn given_id_number(id: &Option<NationalIdentification>) -> Option<String> {
    id.as_ref()
        .map(|n| n.national_identifier.trim().to_owned())
        .filter(|n| !n.is_empty())
}

/// Every problem with the payload, as `path: what is wrong`; empty means valid.
pub fn validate(data: &TravelRuleData) -> Vec<String> {
    let mut problems = Vec::new();
    validate_party("originator", &data.originator, true, &mut problems);
    validate_party("beneficiary", &data.beneficiary, false, &mut problems);
    problems
}

fn validate_party(path: &str, party: &Party, originator: bool, problems: &mut Vec<String>) {
    if party.persons.is_empty() {
        problems.push(format!("{path}.persons: at least one person is required"));
    }
    if !party.account_number.iter().any(|a| !a.trim().is_empty()) {
        problems.push(format!(
            "{path}.accountNumber: the wallet address is required"
        ));
    }
    for (i, person) in party.persons.iter().enumerate() {
        let path = format!("{path}.persons[{i}]");
        match person {
            Person::NaturalPerson(p) => validate_natural(&path, p, originator, problems),
            Person::LegalPerson(p) => validate_legal(&path, p, originator, problems),
        }
    }
}

fn validate_natural(path: &str, p: &NaturalPerson, originator: bool, problems: &mut Vec<String>) {
    let path = format!("{path}.naturalPerson");
    let names = &p.name.name_identifier;
    // IVMS101 C6: at least one legal name.
    if !names.iter().any(|n| n.name_identifier_type == "LEGL") {
        problems.push(format!(
            "{path}.name: a nameIdentifier of type LEGL is required"
        ));
    }
    for (j, n) in names.iter().enumerate() {
        let at = format!("{path}.name.nameIdentifier[{j}]");
        if n.primary_identifier.trim().is_empty() {
            problems.push(format!("{at}.primaryIdentifier: required"));
        }
        code(
            &at,
            "nameIdentifierType",
            &n.name_identifier_type,
            &NATURAL_NAME_TYPES,
            problems,
        );
    }
    addresses(&path, &p.geographic_address, problems);
    if let Some(id) = &p.national_identification {
        national_id(&path, id, &NATIONAL_ID_TYPES, problems);
    }
    if let Some(country) = &p.country_of_residence {
        country_code(&format!("{path}.countryOfResidence"), country, problems);
    }
    if let Some(birth) = &p.date_and_place_of_birth {
        if !is_iso_date(&birth.date_of_birth) {
            problems.push(format!(
                "{path}.dateAndPlaceOfBirth.dateOfBirth: expected YYYY-MM-DD"
            ));
        }
        if birth.place_of_birth.trim().is_empty() {
            problems.push(format!("{path}.dateAndPlaceOfBirth.placeOfBirth: required"));
        }
    }
    // IVMS101 C1 / FATF R.16: an originator needs one of address, national id, customer id,
    // or date and place of birth besides the name.
    let identified = !p.geographic_address.is_empty()
        || p.national_identification.is_some()
        || p.customer_identification
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
        || p.date_and_place_of_birth.is_some();
    if originator && !identified {
        problems.push(format!(
            "{path}: an originator needs a geographicAddress, nationalIdentification, \
             customerIdentification or dateAndPlaceOfBirth"
        ));
    }
}

fn validate_legal(path: &str, p: &LegalPerson, originator: bool, problems: &mut Vec<String>) {
    let path = format!("{path}.legalPerson");
    let names = &p.name.name_identifier;
    // IVMS101 C5: at least one legal name.
    if !names
        .iter()
        .any(|n| n.legal_person_name_identifier_type == "LEGL")
    {
        problems.push(format!(
            "{path}.name: a nameIdentifier of type LEGL is required"
        ));
    }
    for (j, n) in names.iter().enumerate() {
        let at = format!("{path}.name.nameIdentifier[{j}]");
        if n.legal_person_name.trim().is_empty() {
            problems.push(format!("{at}.legalPersonName: required"));
        }
        code(
            &at,
            "legalPersonNameIdentifierType",
            &n.legal_person_name_identifier_type,
            &LEGAL_NAME_TYPES,
            problems,
        );
    }
    addresses(&path, &p.geographic_address, problems);
    if let Some(id) = &p.national_identification {
        national_id(&path, id, &LEGAL_NATIONAL_ID_TYPES, problems);
    }
    if let Some(country) = &p.country_of_registration {
        country_code(&format!("{path}.countryOfRegistration"), country, problems);
    }
    // IVMS101 C4: an originating legal person needs an address, customer number or national id.
    let identified = !p.geographic_address.is_empty()
        || p.customer_number
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
        || p.national_identification.is_some();
    if originator && !identified {
        problems.push(format!(
            "{path}: an originator needs a geographicAddress, customerNumber or nationalIdentification"
        ));
    }
}

fn addresses(path: &str, list: &[GeographicAddress], problems: &mut Vec<String>) {
    for (k, a) in list.iter().enumerate() {
        let at = format!("{path}.geographicAddress[{k}]");
        code(
            &at,
            "addressType",
            &a.address_type,
            &ADDRESS_TYPES,
            problems,
        );
        country_code(&format!("{at}.country"), &a.country, problems);
        // IVMS101 C8: either free-form lines, or a street with a building number or name.
        let structured =
            a.street_name.is_some() && (a.building_number.is_some() || a.building_name.is_some());
        if a.address_line.iter().all(|l| l.trim().is_empty()) && !structured {
            problems.push(format!(
                "{at}: addressLine or streetName with buildingNumber/buildingName is required"
            ));
        }
        if a.town_name.as_deref().is_none_or(|t| t.trim().is_empty()) && a.address_line.is_empty() {
            problems.push(format!("{at}.townName: required for a structured address"));
        }
    }
}

fn national_id(
    path: &str,
    id: &NationalIdentification,
    allowed: &[&str],
    problems: &mut Vec<String>,
) {
    let at = format!("{path}.nationalIdentification");
    if id.national_identifier.trim().is_empty() {
        problems.push(format!("{at}.nationalIdentifier: required"));
    }
    code(
        &at,
        "nationalIdentifierType",
        &id.national_identifier_type,
        allowed,
        problems,
    );
    if let Some(country) = &id.country_of_issue {
        country_code(&format!("{at}.countryOfIssue"), country, problems);
    }
    // IVMS101 C11: an LEI is 20 characters with ISO 17442 (mod 97) check digits.
    if id.national_identifier_type == "LEIX" && !is_valid_lei(&id.national_identifier) {
        problems.push(format!("{at}.nationalIdentifier: not a valid LEI"));
    }
}

fn code(path: &str, field: &str, value: &str, allowed: &[&str], problems: &mut Vec<String>) {
    if !allowed.contains(&value) {
        problems.push(format!(
            "{path}.{field}: {value:?} is not one of {}",
            allowed.join(", ")
        ));
    }
}

fn country_code(path: &str, value: &str, problems: &mut Vec<String>) {
    if value.parse::<CountryCode>().is_err() {
        problems.push(format!(
            "{path}: {value:?} is not an ISO 3166-1 alpha-2 code"
        ));
    }
}

fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    matches!(
        (num(y, 4), num(m, 2), num(d, 2)),
        (Some(1900..=2100), Some(1..=12), Some(1..=31))
    )
}

fn is_valid_lei(lei: &str) -> bool {
    if lei.len() != 20
        || !lei
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    // ISO 7064 mod 97-10 over the digits, letters expanded to 10..35.
    let mut remainder: u32 = 0;
    for b in lei.bytes() {
        let value = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Outcome;
    use crate::rules::tests::{ctx, usd};
    use crate::rules::travel_rule;

    pub(crate) fn valid_payload() -> TravelRuleData {
        serde_json::from_value(serde_json::json!({
            "originator": {
                "originatorPersons": [{ "naturalPerson": {
                    "name": { "nameIdentifier": [
                        { "primaryIdentifier": "Müller", "secondaryIdentifier": "Anna", "nameIdentifierType": "LEGL" }
                    ]},
                    "geographicAddress": [{ "addressType": "HOME", "streetName": "Hauptstraße",
                        "buildingNumber": "1", "townName": "Berlin", "postCode": "10115", "country": "DE" }],
                    "countryOfResidence": "DE"
                }}],
                "accountNumber": ["0x8589427373d6d84e98730d7795d8f6f8731fda16"]
            },
            "beneficiary": {
                "beneficiaryPersons": [{ "legalPerson": {
                    "name": { "nameIdentifier": [
                        { "legalPersonName": "Acme Coffee GmbH", "legalPersonNameIdentifierType": "LEGL" }
                    ]},
                    "nationalIdentification": { "nationalIdentifier": "5493001KJTIIGC8Y1R12",
                        "nationalIdentifierType": "LEIX" },
                    "countryOfRegistration": "DE"
                }}],
                "accountNumber": ["0x1111111111111111111111111111111111111111"]
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_complete_ivms101_payload_validates() {
        assert_eq!(validate(&valid_payload()), Vec::<String>::new());
        let names = valid_payload().names();
        assert_eq!(names[0], (PartyRole::Originator, "Anna Müller".to_owned()));
        assert_eq!(
            names[1],
            (PartyRole::Beneficiary, "Acme Coffee GmbH".to_owned())
        );
    }

    #[test]
    fn ivms101_problems_are_each_reported_with_their_path() {
        type Edit = fn(&mut TravelRuleData);
        let edits: [(Edit, &str); 8] = [
            (
                |d| d.originator.account_number.clear(),
                "originator.accountNumber",
            ),
            (|d| d.beneficiary.persons.clear(), "beneficiary.persons"),
            (
                |d| natural(d).name.name_identifier[0].name_identifier_type = "ALIA".into(),
                "type LEGL is required",
            ),
            (
                |d| natural(d).name.name_identifier[0].name_identifier_type = "NICK".into(),
                "\"NICK\" is not one of",
            ),
            (
                |d| natural(d).geographic_address[0].country = "Germany".into(),
                "geographicAddress[0].country",
            ),
            (
                |d| natural(d).country_of_residence = Some("de".into()),
                "countryOfResidence",
            ),
            (
                |d| natural(d).geographic_address.clear(),
                "an originator needs",
            ),
            (
                |d| {
                    legal(d)
                        .national_identification
                        .as_mut()
                        .unwrap()
                        .national_identifier = "5493001KJTIIGC8Y1R13".into()
                },
                "not a valid LEI",
            ),
        ];
        for (edit, expected) in edits {
            let mut d = valid_payload();
            edit(&mut d);
            let problems = validate(&d);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected:?} not in {problems:?}"
            );
        }
    }

    fn natural(d: &mut TravelRuleData) -> &mut NaturalPerson {
        match &mut d.originator.persons[0] {
            Person::NaturalPerson(p) => p,
            Person::LegalPerson(_) => panic!("fixture has a natural originator"),
        }
    }

    fn legal(d: &mut TravelRuleData) -> &mut LegalPerson {
        match &mut d.beneficiary.persons[0] {
            Person::LegalPerson(p) => p,
            Person::NaturalPerson(_) => panic!("fixture has a legal beneficiary"),
        }
    }

    #[test]
    fn travel_rule_applies_from_usd_3000_in_the_us_and_from_zero_in_the_eu() {
        let policy = TravelRulePolicy::standard();
        let eur = |s: &str| Money::parse(s, Currency::eur()).unwrap();
        let table = [
            ("US", usd("2999.99"), false, None),
            ("US", usd("3000"), false, Some(Outcome::Review)),
            ("US", usd("3000"), true, None),
            ("DE", eur("0.01"), false, Some(Outcome::Review)),
            ("DE", eur("0.01"), true, None),
            ("NO", eur("1"), false, Some(Outcome::Review)),
            // The EU's zero threshold applies in any currency: a USD-valued payment to an EU
            // merchant needs the data too, and passes with it.
            ("FR", usd("1"), false, Some(Outcome::Review)),
            ("FR", usd("1"), true, None),
        ];
        for (country, amount, with_data, want) in table {
            let mut c = ctx(amount.clone());
            c.merchant_country = country.parse().unwrap();
            c.travel = with_data.then(valid_payload);
            assert_eq!(
                travel_rule(&c, &policy).map(|f| f.outcome),
                want,
                "{country} {amount}"
            );
        }
    }

    #[test]
    fn invalid_travel_data_above_the_threshold_goes_to_review() {
        let mut c = ctx(usd("5000"));
        let mut data = valid_payload();
        data.originator.account_number.clear();
        c.travel = Some(data);
        let finding = travel_rule(&c, &TravelRulePolicy::standard()).unwrap();
        assert_eq!(finding.outcome, Outcome::Review);
    }

    #[test]
    fn dates_and_leis_are_checked_strictly() {
        assert!(
            is_iso_date("1980-02-29") && !is_iso_date("1980-2-29") && !is_iso_date("29/02/1980")
        );
        assert!(is_valid_lei("5493001KJTIIGC8Y1R12"));
        assert!(!is_valid_lei("5493001KJTIIGC8Y1R1"));
    }
}
