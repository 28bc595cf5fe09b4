//! ISO 3166-1 alpha-2 country codes, validated against the officially assigned list, and the
//! jurisdiction groupings the rules need (EU/EEA for the Transfer of Funds Regulation).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ComplianceError;

/// The 249 officially assigned ISO 3166-1 alpha-2 codes, sorted so lookups can binary-search.
const ISO_3166_ALPHA2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// The 27 EU member states plus the EEA states (IS, LI, NO) that apply the EU Transfer of Funds
/// Regulation (2023/1113), whose crypto travel rule has no minimum amount.
const EU_EEA: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// An upper-case ISO 3166-1 alpha-2 code. `XK` (Kosovo) is accepted too although it is only
/// user-assigned: Kosovo's own documents and most VASPs use it, and refusing it would make
/// valid IVMS101 records from Kosovar customers unrepresentable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// EU member state or EEA state (the EU travel-rule perimeter).
    pub fn is_eu_eea(&self) -> bool {
        EU_EEA.contains(&self.as_str())
    }
}

impl FromStr for CountryCode {
    type Err = ComplianceError;

    /// Strict: exactly two upper-case letters of an assigned code. Lower case is refused
    /// because IVMS101 requires upper case, and accepting it here would hide sender bugs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let known = ISO_3166_ALPHA2.binary_search(&s).is_ok() || s == "XK";
        match s.as_bytes() {
            [a, b] if known => Ok(Self([*a, *b])),
            _ => Err(ComplianceError::UnknownCountry(s.to_owned())),
        }
    }
}

impl TryFrom<String> for CountryCode {
    type Error = ComplianceError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_table_is_sorted_and_unique_so_binary_search_is_sound() {
        assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert!(EU_EEA.iter().all(|c| c.parse::<CountryCode>().is_ok()));
    }

    #[test]
    fn country_codes_accept_assigned_codes_and_refuse_the_rest() {
        for (text, ok) in [
            ("US", true),
            ("DE", true),
            ("KP", true),
            ("XK", true),
            ("us", false),
            ("UK", false),
            ("EU", false),
            ("USA", false),
            ("", false),
            ("ZZ", false),
        ] {
            assert_eq!(text.parse::<CountryCode>().is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn eu_membership_includes_eea_but_not_switzerland_or_the_uk() {
        let is = |c: &str| c.parse::<CountryCode>().map(|c| c.is_eu_eea());
        assert_eq!(is("FR"), Ok(true));
        assert_eq!(is("NO"), Ok(true));
        assert_eq!(is("CH"), Ok(false));
        assert_eq!(is("GB"), Ok(false));
    }
}
