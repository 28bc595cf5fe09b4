//! Secondary identifiers: what OFAC lists besides a name (dates of birth, nationalities,
//! passport and other identification numbers, from the SDN Remarks column), what the payer
//! data carries (date of birth, nationality, ID number), and whether the two agree.
//!
//! Why: a name alone names many people. "Mohammed Ali" or "Kim Jong Un" is shared by
//! thousands who are not listed, so a name match alone only sends a payment to review; it
//! blocks only when an identifier the payer gave confirms the listed person. An identifier the
//! payer did not give confirms nothing, and one that disagrees leaves the match in review
//! (a missing or differing date could be a typo; an analyst decides).
//!
//! The legacy SDN CSV truncates Remarks at about 1,100 characters, so an entry may list more
//! identifiers than are parsed here: that can only turn a Block into a Review, never into a
//! Clear.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::country::CountryCode;
use crate::ComplianceError;

/// A calendar date `YYYY-MM-DD`, as payers give their date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirthDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl FromStr for BirthDate {
    type Err = ComplianceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ComplianceError::InvalidIdentifier {
            reason: format!("{s:?} is not a date as YYYY-MM-DD"),
        };
        let bytes = s.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u16, ComplianceError> {
            let part = &s[range];
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        if !(1800..=2200).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        if day < 1 || day > u16::from(days_in_month(year, month as u8)) {
            return Err(bad());
        }
        Ok(Self {
            year,
            month: month as u8,
            day: day as u8,
        })
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for BirthDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BirthDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What the payer data says about who a party is, besides the name. All optional: most
/// payments carry none, and then a name match can only be reviewed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyIdentifiers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<BirthDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<CountryCode>,
    /// A passport, national ID, tax or registration number, as written on the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
}

impl PartyIdentifiers {
    pub fn is_empty(&self) -> bool {
        self.date_of_birth.is_none() && self.nationality.is_none() && self.id_number.is_none()
    }
}

/// Which identifier confirmed a name match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    DateOfBirth,
    Nationality,
    IdNumber,
}

/// A listed date of birth: a day, a month, a year, or a range of them ("DOB 1958 to 1960",
/// "DOB circa 1960" is taken as that year), as the inclusive span of days it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedBirth {
    pub from: BirthDate,
    pub to: BirthDate,
}

/// The secondary identifiers one SDN entry lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedIdentifiers {
    pub births: Vec<ListedBirth>,
    pub nationalities: Vec<CountryCode>,
    /// Upper-case letters and digits only ([`id_key`]), 4+ characters.
    pub id_numbers: Vec<String>,
}

impl ListedIdentifiers {
    /// Reads `DOB …`, `nationality …`, `citizen …`, `Nationality of Registration …` and the
    /// identification numbers (`Passport …`, `National ID No. …`, `Tax ID No. …`, …) out of
    /// an SDN Remarks value; everything else in Remarks is ignored.
    pub fn from_remarks(remarks: &str) -> Self {
        let mut out = Self::default();
        for part in remarks.split(';') {
            let part = part.trim().trim_end_matches('.').trim();
            let part = part.strip_prefix("alt. ").unwrap_or(part);
            if let Some(dob) = part.strip_prefix("DOB ") {
                out.births.extend(parse_listed_birth(dob));
            } else if let Some(country) =
                ["nationality ", "citizen ", "Nationality of Registration "]
                    .iter()
                    .find_map(|p| part.strip_prefix(p))
            {
                out.nationalities.extend(country_code(country));
            } else if let Some(number) = listed_id_number(part) {
                out.id_numbers.push(number);
            }
        }
        out.nationalities.sort();
        out.nationalities.dedup();
        out.id_numbers.sort();
        out.id_numbers.dedup();
        out
    }

    pub fn is_empty(&self) -> bool {
        self.births.is_empty() && self.nationalities.is_empty() && self.id_numbers.is_empty()
    }

    /// The identifiers the party gave that agree with this entry's, when together they
    /// confirm that the party is the listed one; empty otherwise. What confirms: the same ID
    /// number, or the same date of birth to the day, or a birth year (or span) the entry lists
    /// together with a listed nationality. A nationality alone confirms nothing: it is shared
    /// by millions ("Sergey Ivanov" of Russia matches a listed "IVANOV, Sergey", nationality
    /// Russia), and neither does a listed birth year alone.
    pub fn confirmations(&self, party: &PartyIdentifiers) -> Vec<Confirmation> {
        let id_number = party
            .id_number
            .as_deref()
            .map(id_key)
            .is_some_and(|number| {
                number.len() >= MIN_ID_CHARS && self.id_numbers.contains(&number)
            });
        let birth = party.date_of_birth.and_then(|dob| {
            let spans = self.births.iter().filter(|b| b.from <= dob && dob <= b.to);
            spans.map(|b| b.from == b.to).max()
        });
        let nationality = party
            .nationality
            .is_some_and(|c| self.nationalities.contains(&c));
        let confirmed = id_number || birth == Some(true) || (birth.is_some() && nationality);
        if !confirmed {
            return Vec::new();
        }
        [
            (birth.is_some(), Confirmation::DateOfBirth),
            (nationality, Confirmation::Nationality),
            (id_number, Confirmation::IdNumber),
        ]
        .into_iter()
        .filter_map(|(agrees, what)| agrees.then_some(what))
        .collect()
    }
}

/// Shorter numbers are too easily shared by accident to confirm anyone.
const MIN_ID_CHARS: usize = 4;

/// An identification number compared as its letters and digits, upper-cased: "A-123 45" and
/// "a12345" are the same document number.
pub fn id_key(number: &str) -> String {
    number
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Remarks labels that introduce a person's or organisation's identification number. Longest
/// first where one is a prefix of another. Not vessel, aircraft, phone or address labels:
/// those never describe a payer.
const ID_LABELS: [&str; 52] = [
    "Business Registration Document #",
    "Business Registration Number",
    "Cartilla de Servicio Militar Nacional",
    "Certificate of Incorporation Number",
    "Chamber of Commerce Number",
    "Citizen's Card Number",
    "Commercial Registry Number",
    "Birth Certificate Number",
    "Driver's License No.",
    "Electoral Registry No.",
    "Credencial electoral",
    "Diplomatic Passport",
    "Folio Mercantil No.",
    "Identification Number",
    "Italian Fiscal Code",
    "Kenyan ID No.",
    "Legal Entity Number",
    "Matricula Mercantil No",
    "National Foreign ID Number",
    "National ID No.",
    "Numero de Identidad",
    "Personal ID Card",
    "Public Registration Number",
    "Refugee ID Card",
    "Registration ID",
    "Registration Number",
    "Residency Number",
    "Tax ID No.",
    "Tazkira National ID Card",
    "Trade License No.",
    "Travel Document Number",
    "Turkish Identification Number",
    "UK Company Number",
    "Company Number",
    "Enterprise Number",
    "Business Number",
    "US FEIN",
    "V.A.T. Number",
    "D-U-N-S Number",
    "C.U.R.P. #",
    "C.U.R.P.",
    "R.F.C. #",
    "R.F.C.",
    "C.U.I.T.",
    "C.U.I.",
    "C.R. No.",
    "D.N.I.",
    "I.F.E.",
    "NIT #",
    "RUC #",
    "RIF #",
    "Passport",
];

/// `Passport 1084010 (Egypt)` → `1084010`; the issuing country in brackets is dropped.
fn listed_id_number(part: &str) -> Option<String> {
    let rest = ID_LABELS.iter().find_map(|label| {
        part.strip_prefix(label)
            .filter(|r| r.starts_with([' ', ':']))
    })?;
    let value = rest.split(" (").next().unwrap_or(rest);
    let key = id_key(value);
    (key.len() >= MIN_ID_CHARS && key.bytes().any(|b| b.is_ascii_digit())).then_some(key)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `19 Jun 1951`, `Jun 1951`, `1951` as the span of days they cover.
fn parse_date_span(text: &str) -> Option<ListedBirth> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let year = |w: &str| w.parse::<u16>().ok().filter(|y| (1800..=2200).contains(y));
    let month = |w: &str| MONTHS.iter().position(|m| *m == w).map(|i| i as u8 + 1);
    let day = |y, m| BirthDate {
        year: y,
        month: m,
        day: 1,
    };
    match words.as_slice() {
        [y] => {
            let y = year(y)?;
            Some(ListedBirth {
                from: day(y, 1),
                to: BirthDate {
                    day: 31,
                    ..day(y, 12)
                },
            })
        }
        [m, y] => {
            let (y, m) = (year(y)?, month(m)?);
            let to = BirthDate {
                day: days_in_month(y, m),
                ..day(y, m)
            };
            Some(ListedBirth {
                from: day(y, m),
                to,
            })
        }
        [d, m, y] => {
            let exact = format!("{:04}-{:02}-{d:0>2}", year(y)?, month(m)?);
            let date: BirthDate = exact.parse().ok()?;
            Some(ListedBirth {
                from: date,
                to: date,
            })
        }
        _ => None,
    }
}

/// A Remarks `DOB` value: one date, `circa` one, or `A to B` (also `1958-1960`).
fn parse_listed_birth(text: &str) -> Option<ListedBirth> {
    let text = text.trim();
    let text = text.strip_prefix("circa ").unwrap_or(text);
    if let Some((a, b)) = text.split_once(" to ").or_else(|| text.split_once('-')) {
        let (a, b) = (parse_date_span(a)?, parse_date_span(b)?);
        return (a.from <= b.to).then_some(ListedBirth {
            from: a.from,
            to: b.to,
        });
    }
    parse_date_span(text)
}

/// OFAC's country names (as Remarks write them) to ISO 3166-1 alpha-2. Names not in the table
/// ("Palestinian", "Region: Gaza") are not a nationality a payer can give as a code, so they
/// are skipped rather than guessed.
fn country_code(name: &str) -> Option<CountryCode> {
    let code = COUNTRY_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
        .map(|(_, c)| *c)?;
    code.parse().ok()
}

#[rustfmt::skip]
const COUNTRY_NAMES: [(&str, &str); 149] = [
    ("Afghanistan", "AF"), ("Albania", "AL"), ("Algeria", "DZ"), ("Angola", "AO"),
    ("Argentina", "AR"), ("Armenia", "AM"), ("Australia", "AU"), ("Austria", "AT"),
    ("Azerbaijan", "AZ"), ("Bahrain", "BH"), ("Bangladesh", "BD"), ("Barbados", "BB"),
    ("Belarus", "BY"), ("Belgium", "BE"), ("Bolivia", "BO"), ("Bosnia and Herzegovina", "BA"),
    ("Brazil", "BR"), ("Bulgaria", "BG"), ("Burkina Faso", "BF"), ("Burma", "MM"),
    ("Cabo Verde", "CV"), ("Cambodia", "KH"), ("Cameroon", "CM"), ("Canada", "CA"),
    ("Cayman Islands", "KY"), ("Central African Republic", "CF"), ("Chad", "TD"),
    ("China", "CN"), ("Colombia", "CO"), ("Comoros", "KM"),
    ("Congo, Democratic Republic of the", "CD"), ("Congo, Republic of the", "CG"),
    ("Costa Rica", "CR"), ("Cuba", "CU"), ("Cyprus", "CY"), ("Czech Republic", "CZ"),
    ("Czechia", "CZ"), ("Djibouti", "DJ"), ("Dominican Republic", "DO"), ("Ecuador", "EC"),
    ("Egypt", "EG"), ("El Salvador", "SV"), ("Equatorial Guinea", "GQ"), ("Eritrea", "ER"),
    ("Estonia", "EE"), ("Ethiopia", "ET"), ("Finland", "FI"), ("France", "FR"),
    ("Georgia", "GE"), ("Germany", "DE"), ("Ghana", "GH"), ("Greece", "GR"),
    ("Guatemala", "GT"), ("Guinea", "GN"), ("Guinea-Bissau", "GW"), ("Haiti", "HT"),
    ("Honduras", "HN"), ("Hong Kong", "HK"), ("Hungary", "HU"), ("India", "IN"),
    ("Indonesia", "ID"), ("Iran", "IR"), ("Iraq", "IQ"), ("Ireland", "IE"), ("Israel", "IL"),
    ("Italy", "IT"), ("Japan", "JP"), ("Jordan", "JO"), ("Kazakhstan", "KZ"), ("Kenya", "KE"),
    ("Korea, North", "KP"), ("Korea, South", "KR"), ("Kosovo", "XK"), ("Kuwait", "KW"),
    ("Kyrgyzstan", "KG"), ("Laos", "LA"), ("Latvia", "LV"), ("Lebanon", "LB"),
    ("Liberia", "LR"), ("Libya", "LY"), ("Liechtenstein", "LI"), ("Lithuania", "LT"),
    ("Malaysia", "MY"), ("Maldives", "MV"), ("Mali", "ML"), ("Malta", "MT"),
    ("Man, Isle of", "IM"), ("Mauritania", "MR"), ("Mexico", "MX"), ("Moldova", "MD"),
    ("Montenegro", "ME"), ("Morocco", "MA"), ("Mozambique", "MZ"), ("Netherlands", "NL"),
    ("New Zealand", "NZ"), ("Nicaragua", "NI"), ("Niger", "NE"), ("Nigeria", "NG"),
    ("North Macedonia, The Republic of", "MK"), ("Norway", "NO"), ("Oman", "OM"),
    ("Pakistan", "PK"), ("Panama", "PA"), ("Paraguay", "PY"), ("Peru", "PE"),
    ("Philippines", "PH"), ("Poland", "PL"), ("Portugal", "PT"), ("Qatar", "QA"),
    ("Romania", "RO"), ("Russia", "RU"), ("Rwanda", "RW"), ("Saint Kitts and Nevis", "KN"),
    ("Saudi Arabia", "SA"), ("Senegal", "SN"), ("Serbia", "RS"), ("Sierra Leone", "SL"),
    ("Singapore", "SG"), ("Slovakia", "SK"), ("Slovenia", "SI"), ("Somalia", "SO"),
    ("South Africa", "ZA"), ("South Sudan", "SS"), ("Spain", "ES"), ("Sri Lanka", "LK"),
    ("Sudan", "SD"), ("Sweden", "SE"), ("Switzerland", "CH"), ("Syria", "SY"),
    ("Taiwan", "TW"), ("Tajikistan", "TJ"), ("Tanzania", "TZ"), ("Thailand", "TH"),
    ("The Gambia", "GM"), ("Trinidad and Tobago", "TT"), ("Tunisia", "TN"), ("Turkey", "TR"),
    ("Turkmenistan", "TM"), ("Uganda", "UG"), ("Ukraine", "UA"), ("United Arab Emirates", "AE"),
    ("United Kingdom", "GB"), ("United States", "US"), ("Uzbekistan", "UZ"),
    ("Venezuela", "VE"), ("Vietnam", "VN"), ("Virgin Islands, British", "VG"), ("Yemen", "YE"),
    ("Zimbabwe", "ZW"),
];

#[cfg(test)]
mod tests {
    use super::*;

    const ZAWAHIRI: &str = "DOB 19 Jun 1951; POB Giza, Egypt; Passport 1084010 (Egypt); \
        alt. Passport 19820215; nationality Egypt; Operational and Military Leader of JIHAD GROUP.";

    fn party(dob: Option<&str>, nationality: Option<&str>, id: Option<&str>) -> PartyIdentifiers {
        PartyIdentifiers {
            date_of_birth: dob.map(|d| d.parse().unwrap()),
            nationality: nationality.map(|n| n.parse().unwrap()),
            id_number: id.map(str::to_owned),
        }
    }

    #[test]
    fn remarks_yield_dates_of_birth_nationalities_and_document_numbers() {
        let listed = ListedIdentifiers::from_remarks(ZAWAHIRI);
        assert_eq!(listed.id_numbers, vec!["1084010", "19820215"]);
        assert_eq!(listed.nationalities, vec!["EG".parse().unwrap()]);
        assert_eq!(listed.births.len(), 1);
        let other = ListedIdentifiers::from_remarks(
            "DOB 1958 to 1960; alt. DOB circa 1970; citizen Korea, North; \
             Tax ID No. 7703-270067 (Russia); Gender Male; Vessel Registration Identification IMO 9187629.",
        );
        assert_eq!(other.id_numbers, vec!["7703270067"]);
        assert_eq!(other.nationalities, vec!["KP".parse().unwrap()]);
        assert_eq!(other.births.len(), 2);
    }

    #[test]
    fn only_an_identifier_the_payer_gave_and_the_entry_lists_confirms() {
        let listed = ListedIdentifiers::from_remarks(ZAWAHIRI);
        assert!(listed
            .confirmations(&PartyIdentifiers::default())
            .is_empty());
        assert!(listed
            .confirmations(&party(Some("1951-06-20"), Some("US"), Some("1084011")))
            .is_empty());
        assert_eq!(
            listed.confirmations(&party(Some("1951-06-19"), None, None)),
            vec![Confirmation::DateOfBirth]
        );
        assert_eq!(
            listed.confirmations(&party(None, Some("EG"), Some("108-4010"))),
            vec![Confirmation::Nationality, Confirmation::IdNumber]
        );
        // A nationality alone, or a listed birth year alone, is shared by too many people.
        assert!(listed
            .confirmations(&party(None, Some("EG"), None))
            .is_empty());
        let year_only = ListedIdentifiers::from_remarks("DOB 1958 to 1960; nationality Iran");
        assert!(year_only
            .confirmations(&party(Some("1959-12-31"), None, None))
            .is_empty());
        assert_eq!(
            year_only.confirmations(&party(Some("1959-12-31"), Some("IR"), None)),
            vec![Confirmation::DateOfBirth, Confirmation::Nationality]
        );
        assert!(year_only
            .confirmations(&party(Some("1961-01-01"), Some("IR"), None))
            .is_empty());
    }

    #[test]
    fn birth_dates_must_be_real_calendar_days() {
        for bad in [
            "1951-02-30",
            "1951-13-01",
            "51-06-19",
            "1951/06/19",
            "1951-06-1x",
            "",
        ] {
            assert!(bad.parse::<BirthDate>().is_err(), "{bad}");
        }
        assert_eq!(
            "2000-02-29".parse::<BirthDate>().unwrap().to_string(),
            "2000-02-29"
        );
    }
}
