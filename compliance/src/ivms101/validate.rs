//! IVMS101 validation: the standard's constraints C1–C12, its code lists, its text lengths
//! (`Max16Text` … `Max100Text`) and multiplicities, for natural and legal persons alike. Each
//! [`Problem`] names the [`Rule`] it breaks and where, so a refusal can tell the sender exactly
//! what to fix.

use std::fmt;

use super::{
    GeographicAddress, LegalPerson, LegalPersonNameId, NationalIdentification, NaturalPerson,
    NaturalPersonNameId, Party, Person, TravelRuleData,
};
use crate::country::CountryCode;
use crate::identifiers::BirthDate;

/// What a [`Problem`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// C1: an originating natural person needs an address, a national identifier, a customer
    /// identification or a date and place of birth besides the name.
    OriginatorInformationNaturalPerson,
    /// C2: a date of birth lies before today.
    DateInPast,
    /// C3: a country is an ISO 3166-1 alpha-2 code, or `XX`.
    ValidCountryCode,
    /// C4: an originating legal person needs an address of type GEOG, a national identifier
    /// or a customer number.
    OriginatorInformationLegalPerson,
    /// C5: a legal person has a name of type LEGL.
    LegalNamePresentLegalPerson,
    /// C6: a natural person has a name of type LEGL.
    LegalNamePresentNaturalPerson,
    /// C7: a legal person's national identifier is of type RAID, MISC, LEIX or TXID.
    ValidNationalIdentifierLegalPerson,
    /// C8: an address has an address line, or a street name with a building name or number.
    ValidAddress,
    /// C9: a legal person's national identification has no country of issue, and names its
    /// registration authority unless it is an LEI.
    CompleteNationalIdentifierLegalPerson,
    /// C10: a registration authority is a GLEIF RA code (`RA` and six digits).
    RegistrationAuthority,
    /// C11: an LEI is 20 characters with valid ISO 17442 (ISO 7064 mod 97-10) check digits.
    ValidLei,
    /// C12: the transfer path's sequence numbers run 0, 1, 2… without gap or repeat.
    SequentialIntegrity,
    /// A mandatory element ([1..1] or [1..n]) is missing or blank.
    Mandatory,
    /// `Max{n}Text`: at most n characters.
    MaxText(usize),
    /// At most n occurrences of the element.
    MaxOccurs(usize),
    /// A value that is not on the named IVMS101 code list.
    CodeList(&'static str),
    /// `ISODate`: `YYYY-MM-DD`, a real calendar day.
    IsoDate,
    /// Rialto's own rule, stricter than IVMS101 (which allows none): each party names at
    /// least one account number, the wallet address screening checks the names against.
    AccountNumberRequired,
}

impl Rule {
    /// The rule as the error names it: `C8 ValidAddress`, `Max35Text`, `AddressTypeCode`…
    pub fn name(&self) -> String {
        let numbered = |n: u8, name: &str| format!("C{n} {name}");
        match self {
            Rule::OriginatorInformationNaturalPerson => {
                numbered(1, "OriginatorInformationNaturalPerson")
            }
            Rule::DateInPast => numbered(2, "DateInPast"),
            Rule::ValidCountryCode => numbered(3, "ValidCountryCode"),
            Rule::OriginatorInformationLegalPerson => {
                numbered(4, "OriginatorInformationLegalPerson")
            }
            Rule::LegalNamePresentLegalPerson => numbered(5, "LegalNamePresentLegalPerson"),
            Rule::LegalNamePresentNaturalPerson => numbered(6, "LegalNamePresentNaturalPerson"),
            Rule::ValidNationalIdentifierLegalPerson => {
                numbered(7, "ValidNationalIdentifierLegalPerson")
            }
            Rule::ValidAddress => numbered(8, "ValidAddress"),
            Rule::CompleteNationalIdentifierLegalPerson => {
                numbered(9, "CompleteNationalIdentifierLegalPerson")
            }
            Rule::RegistrationAuthority => numbered(10, "RegistrationAuthority"),
            Rule::ValidLei => numbered(11, "ValidLEI"),
            Rule::SequentialIntegrity => numbered(12, "sequentialIntegrity"),
            Rule::Mandatory => "mandatory element".to_owned(),
            Rule::MaxText(n) => format!("Max{n}Text"),
            Rule::MaxOccurs(n) => format!("at most {n} occurrences"),
            Rule::CodeList(list) => (*list).to_owned(),
            Rule::IsoDate => "ISODate".to_owned(),
            Rule::AccountNumberRequired => "accountNumber required".to_owned(),
        }
    }

    /// Whether the rule is IVMS101's (otherwise it is Rialto's own, stricter one).
    pub fn is_ivms101(&self) -> bool {
        !matches!(self, Rule::AccountNumberRequired)
    }
}

/// One thing wrong with a payload: where (`originator.persons[0].naturalPerson.name`), which
/// rule, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = if self.rule.is_ivms101() {
            "IVMS101"
        } else {
            "Rialto"
        };
        write!(
            f,
            "{}: {} ({source} {})",
            self.path,
            self.message,
            self.rule.name()
        )
    }
}

const NATURAL_NAME_TYPES: [&str; 5] = ["ALIA", "BIRT", "MAID", "LEGL", "MISC"];
const LEGAL_NAME_TYPES: [&str; 3] = ["LEGL", "SHRT", "TRAD"];
const ADDRESS_TYPES: [&str; 3] = ["HOME", "BIZZ", "GEOG"];
const NATIONAL_ID_TYPES: [&str; 10] = [
    "ARNU", "CCPT", "RAID", "DRLC", "FIIN", "TXID", "SOCS", "IDCD", "LEIX", "MISC",
];
const LEGAL_NATIONAL_ID_TYPES: [&str; 4] = ["RAID", "MISC", "LEIX", "TXID"];
const TRANSLITERATION_METHODS: [&str; 13] = [
    "arab", "aran", "armn", "cyrl", "deva", "geor", "grek", "hani", "hebr", "kana", "kore", "thai",
    "othr",
];
/// IVMS101 `Address.addressLine` is [0..7].
const MAX_ADDRESS_LINES: usize = 7;

/// Every problem with the payload; empty means valid. `now_ms` is the time the payload is
/// checked at (C2 compares dates of birth with its UTC day).
pub fn validate(data: &TravelRuleData, now_ms: u64) -> Vec<Problem> {
    let mut check = Check {
        today: civil_day(now_ms),
        problems: Vec::new(),
    };
    check.party("originator", &data.originator, true);
    check.party("beneficiary", &data.beneficiary, false);
    for (path, vasp) in [
        ("originatingVASP", &data.originating_vasp),
        ("beneficiaryVASP", &data.beneficiary_vasp),
    ] {
        if let Some(vasp) = vasp {
            check.person(path, vasp.person(), false);
        }
    }
    if let Some(transfer) = &data.transfer_path {
        let mut sequences = Vec::new();
        for (i, hop) in transfer.transfer_path.iter().enumerate() {
            let path = format!("transferPath.transferPath[{i}]");
            check.person(
                &format!("{path}.intermediaryVASP"),
                &hop.intermediary_vasp,
                false,
            );
            sequences.push(hop.sequence);
        }
        sequences.sort_unstable();
        if sequences.iter().zip(0u32..).any(|(seq, want)| *seq != want) {
            check.push(
                "transferPath.transferPath",
                Rule::SequentialIntegrity,
                "sequence numbers must run 0, 1, 2… without gap or repeat",
            );
        }
    }
    if let Some(meta) = &data.payload_metadata {
        for (i, method) in meta.transliteration_method.iter().enumerate() {
            let at = format!("payloadMetadata.transliterationMethod[{i}]");
            check.code(
                &at,
                method,
                "TransliterationMethodCode",
                &TRANSLITERATION_METHODS,
            );
        }
    }
    check.problems
}

struct Check {
    today: BirthDate,
    problems: Vec<Problem>,
}

impl Check {
    fn push(&mut self, path: &str, rule: Rule, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            rule,
            message: message.into(),
        });
    }

    /// A text element: `required` when mandatory, never longer than `max` characters.
    fn text(&mut self, path: &str, value: Option<&str>, max: usize, required: bool) {
        let given = value.filter(|v| !v.trim().is_empty());
        match given {
            Some(v) if v.chars().count() > max => self.push(
                path,
                Rule::MaxText(max),
                format!("at most {max} characters"),
            ),
            None if required => self.push(path, Rule::Mandatory, "required"),
            _ => {}
        }
    }

    fn code(&mut self, path: &str, value: &str, list: &'static str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.push(
                path,
                Rule::CodeList(list),
                format!("{value:?} is not one of {}", allowed.join(", ")),
            );
        }
    }

    fn country(&mut self, path: &str, value: &str) {
        if value != "XX" && value.parse::<CountryCode>().is_err() {
            self.push(
                path,
                Rule::ValidCountryCode,
                format!("{value:?} is not an ISO 3166-1 alpha-2 code (or XX)"),
            );
        }
    }

    fn party(&mut self, path: &str, party: &Party, originator: bool) {
        if party.persons.is_empty() {
            self.push(
                &format!("{path}.persons"),
                Rule::Mandatory,
                "at least one person is required",
            );
        }
        if !party.account_number.iter().any(|a| !a.trim().is_empty()) {
            self.push(
                &format!("{path}.accountNumber"),
                Rule::AccountNumberRequired,
                "the wallet address is required",
            );
        }
        for (i, account) in party.account_number.iter().enumerate() {
            self.text(
                &format!("{path}.accountNumber[{i}]"),
                Some(account),
                100,
                false,
            );
        }
        for (i, person) in party.persons.iter().enumerate() {
            self.person(&format!("{path}.persons[{i}]"), person, originator);
        }
    }

    fn person(&mut self, path: &str, person: &Person, originator: bool) {
        match person {
            Person::NaturalPerson(p) => {
                self.natural(&format!("{path}.naturalPerson"), p, originator)
            }
            Person::LegalPerson(p) => self.legal(&format!("{path}.legalPerson"), p, originator),
        }
    }

    /// A person's three name lists (legal-script, local and phonetic), each name checked by
    /// `each`, and the rule that one name of the first list is of type LEGL (C5 or C6).
    fn names<T>(
        &mut self,
        path: &str,
        lists: [&[T]; 3],
        is_legal: impl Fn(&T) -> bool,
        rule: Rule,
        each: impl Fn(&mut Self, &str, &T),
    ) {
        if !lists[0].iter().any(is_legal) {
            self.push(
                &format!("{path}.name"),
                rule,
                "a nameIdentifier of type LEGL is required",
            );
        }
        let kinds = [
            "nameIdentifier",
            "localNameIdentifier",
            "phoneticNameIdentifier",
        ];
        for (kind, names) in kinds.into_iter().zip(lists) {
            for (j, n) in names.iter().enumerate() {
                each(self, &format!("{path}.name.{kind}[{j}]"), n);
            }
        }
    }

    fn natural(&mut self, path: &str, p: &NaturalPerson, originator: bool) {
        let name = &p.name;
        self.names(
            path,
            [
                &name.name_identifier,
                &name.local_name_identifier,
                &name.phonetic_name_identifier,
            ],
            |n| n.name_identifier_type == "LEGL",
            Rule::LegalNamePresentNaturalPerson,
            Self::natural_name,
        );
        self.addresses(path, &p.geographic_address);
        if let Some(id) = &p.national_identification {
            self.national_id(path, id, false);
        }
        self.text(
            &format!("{path}.customerIdentification"),
            p.customer_identification.as_deref(),
            50,
            false,
        );
        if let Some(birth) = &p.date_and_place_of_birth {
            let at = format!("{path}.dateAndPlaceOfBirth");
            match birth.date_of_birth.parse::<BirthDate>() {
                Err(_) => self.push(
                    &format!("{at}.dateOfBirth"),
                    Rule::IsoDate,
                    "expected YYYY-MM-DD, a real calendar day",
                ),
                Ok(date) if date >= self.today => self.push(
                    &format!("{at}.dateOfBirth"),
                    Rule::DateInPast,
                    format!("{date} is not before today ({})", self.today),
                ),
                Ok(_) => {}
            }
            self.text(
                &format!("{at}.placeOfBirth"),
                Some(&birth.place_of_birth),
                70,
                true,
            );
        }
        if let Some(country) = &p.country_of_residence {
            self.country(&format!("{path}.countryOfResidence"), country);
        }
        let identified = !p.geographic_address.is_empty()
            || p.national_identification.is_some()
            || p.customer_identification
                .as_deref()
                .is_some_and(|c| !c.trim().is_empty())
            || p.date_and_place_of_birth.is_some();
        if originator && !identified {
            self.push(
                path,
                Rule::OriginatorInformationNaturalPerson,
                "an originator needs a geographicAddress, nationalIdentification, \
                 customerIdentification or dateAndPlaceOfBirth",
            );
        }
    }

    fn natural_name(&mut self, at: &str, n: &NaturalPersonNameId) {
        self.text(
            &format!("{at}.primaryIdentifier"),
            Some(&n.primary_identifier),
            100,
            true,
        );
        self.text(
            &format!("{at}.secondaryIdentifier"),
            n.secondary_identifier.as_deref(),
            100,
            false,
        );
        self.code(
            &format!("{at}.nameIdentifierType"),
            &n.name_identifier_type,
            "NaturalPersonNameTypeCode",
            &NATURAL_NAME_TYPES,
        );
    }

    fn legal_name(&mut self, at: &str, n: &LegalPersonNameId) {
        self.text(
            &format!("{at}.legalPersonName"),
            Some(&n.legal_person_name),
            100,
            true,
        );
        self.code(
            &format!("{at}.legalPersonNameIdentifierType"),
            &n.legal_person_name_identifier_type,
            "LegalPersonNameTypeCode",
            &LEGAL_NAME_TYPES,
        );
    }

    fn legal(&mut self, path: &str, p: &LegalPerson, originator: bool) {
        let name = &p.name;
        self.names(
            path,
            [
                &name.name_identifier,
                &name.local_name_identifier,
                &name.phonetic_name_identifier,
            ],
            |n| n.legal_person_name_identifier_type == "LEGL",
            Rule::LegalNamePresentLegalPerson,
            Self::legal_name,
        );
        self.addresses(path, &p.geographic_address);
        self.text(
            &format!("{path}.customerNumber"),
            p.customer_number.as_deref(),
            50,
            false,
        );
        if let Some(id) = &p.national_identification {
            self.national_id(path, id, true);
        }
        if let Some(country) = &p.country_of_registration {
            self.country(&format!("{path}.countryOfRegistration"), country);
        }
        let identified = p
            .geographic_address
            .iter()
            .any(|a| a.address_type == "GEOG")
            || p.customer_number
                .as_deref()
                .is_some_and(|c| !c.trim().is_empty())
            || p.national_identification.is_some();
        if originator && !identified {
            self.push(
                path,
                Rule::OriginatorInformationLegalPerson,
                "an originator needs a geographicAddress of type GEOG, customerNumber or \
                 nationalIdentification",
            );
        }
    }

    fn national_id(&mut self, path: &str, id: &NationalIdentification, legal: bool) {
        let at = format!("{path}.nationalIdentification");
        self.text(
            &format!("{at}.nationalIdentifier"),
            Some(&id.national_identifier),
            35,
            true,
        );
        let kind = id.national_identifier_type.as_str();
        let type_path = format!("{at}.nationalIdentifierType");
        self.code(
            &type_path,
            kind,
            "NationalIdentifierTypeCode",
            &NATIONAL_ID_TYPES,
        );
        if legal && NATIONAL_ID_TYPES.contains(&kind) && !LEGAL_NATIONAL_ID_TYPES.contains(&kind) {
            self.push(
                &type_path,
                Rule::ValidNationalIdentifierLegalPerson,
                format!(
                    "{kind:?} is not one of {}",
                    LEGAL_NATIONAL_ID_TYPES.join(", ")
                ),
            );
        }
        if let Some(country) = &id.country_of_issue {
            self.country(&format!("{at}.countryOfIssue"), country);
        }
        if legal && id.country_of_issue.is_some() {
            self.push(
                &format!("{at}.countryOfIssue"),
                Rule::CompleteNationalIdentifierLegalPerson,
                "a legal person's national identification has no countryOfIssue",
            );
        }
        if legal && kind != "LEIX" && id.registration_authority.is_none() {
            self.push(
                &format!("{at}.registrationAuthority"),
                Rule::CompleteNationalIdentifierLegalPerson,
                "required for a legal person's identifier other than an LEI",
            );
        }
        if let Some(ra) = &id.registration_authority {
            if !is_registration_authority(ra) {
                self.push(
                    &format!("{at}.registrationAuthority"),
                    Rule::RegistrationAuthority,
                    format!(
                        "{ra:?} is not a GLEIF registration authority code (RA and six digits)"
                    ),
                );
            }
        }
        if kind == "LEIX" && !is_valid_lei(&id.national_identifier) {
            self.push(
                &format!("{at}.nationalIdentifier"),
                Rule::ValidLei,
                "not a valid LEI",
            );
        }
    }

    fn addresses(&mut self, path: &str, list: &[GeographicAddress]) {
        for (k, a) in list.iter().enumerate() {
            self.address(&format!("{path}.geographicAddress[{k}]"), a);
        }
    }

    fn address(&mut self, at: &str, a: &GeographicAddress) {
        self.code(
            &format!("{at}.addressType"),
            &a.address_type,
            "AddressTypeCode",
            &ADDRESS_TYPES,
        );
        let fields: [(&str, &Option<String>, usize); 13] = [
            ("department", &a.department, 50),
            ("subDepartment", &a.sub_department, 70),
            ("streetName", &a.street_name, 70),
            ("buildingNumber", &a.building_number, 16),
            ("buildingName", &a.building_name, 35),
            ("floor", &a.floor, 70),
            ("postBox", &a.post_box, 16),
            ("room", &a.room, 70),
            ("postCode", &a.post_code, 16),
            ("townName", &a.town_name, 35),
            ("townLocationName", &a.town_location_name, 35),
            ("districtName", &a.district_name, 35),
            ("countrySubDivision", &a.country_sub_division, 35),
        ];
        for (field, value, max) in fields {
            self.text(
                &format!("{at}.{field}"),
                value.as_deref(),
                max,
                field == "townName",
            );
        }
        if a.address_line.len() > MAX_ADDRESS_LINES {
            self.push(
                &format!("{at}.addressLine"),
                Rule::MaxOccurs(MAX_ADDRESS_LINES),
                format!("at most {MAX_ADDRESS_LINES} lines"),
            );
        }
        for (i, line) in a.address_line.iter().enumerate() {
            self.text(&format!("{at}.addressLine[{i}]"), Some(line), 70, false);
        }
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let structured =
            given(&a.street_name) && (given(&a.building_number) || given(&a.building_name));
        if a.address_line.iter().all(|l| l.trim().is_empty()) && !structured {
            self.push(
                at,
                Rule::ValidAddress,
                "addressLine or streetName with buildingNumber/buildingName is required",
            );
        }
        self.country(&format!("{at}.country"), &a.country);
    }
}

/// `RA` and six digits, the form of GLEIF's Registration Authorities List codes.
fn is_registration_authority(code: &str) -> bool {
    code.len() == 8 && code.starts_with("RA") && code[2..].bytes().all(|b| b.is_ascii_digit())
}

/// ISO 17442: 18 upper-case alphanumerics and two check digits, ISO 7064 mod 97-10 over the
/// whole code (letters expanded to 10..35) leaving 1.
pub(crate) fn is_valid_lei(lei: &str) -> bool {
    let bytes = lei.as_bytes();
    if bytes.len() != 20
        || !bytes[..18]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        || !bytes[18..].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut remainder: u32 = 0;
    for b in bytes {
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

/// The UTC calendar day of a Unix time in milliseconds (Howard Hinnant's `civil_from_days`).
fn civil_day(now_ms: u64) -> BirthDate {
    let days = i64::try_from(now_ms / 86_400_000).unwrap_or(i64::MAX / 2) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    BirthDate {
        year: u16::try_from(year).unwrap_or(u16::MAX),
        month: month as u8,
        day: day as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_utc_day_of_a_unix_time_is_the_calendar_day() {
        let day = |ms: u64| civil_day(ms).to_string();
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(951_782_400_000), "2000-02-29");
        assert_eq!(day(1_796_601_599_999), "2026-12-06");
        assert_eq!(day(1_796_601_600_000), "2026-12-07");
    }

    #[test]
    fn leis_and_registration_authorities_are_checked_strictly() {
        assert!(is_valid_lei("5493001KJTIIGC8Y1R12"));
        assert!(!is_valid_lei("5493001KJTIIGC8Y1R13"));
        assert!(!is_valid_lei("5493001KJTIIGC8Y1R1"));
        assert!(!is_valid_lei("5493001kjtiigc8y1r12"));
        assert!(is_registration_authority("RA000548"));
        assert!(!is_registration_authority("RA00548") && !is_registration_authority("ra000548"));
    }
}
