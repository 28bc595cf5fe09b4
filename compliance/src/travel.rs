//! The travel rule: per-jurisdiction thresholds, and the names and identifiers screening takes
//! from the IVMS101 originator/beneficiary data that must accompany a transfer above them. The
//! payload and its validation are in [`crate::ivms101`].

use std::collections::HashMap;

use rialto_core::{Currency, Money};

use crate::country::CountryCode;
use crate::decision::PartyRole;
use crate::identifiers::PartyIdentifiers;
pub use crate::ivms101::{
    DateAndPlaceOfBirth, GeographicAddress, LegalPerson, LegalPersonName, LegalPersonNameId,
    NationalIdentification, NaturalPerson, NaturalPersonName, NaturalPersonNameId, Party, Person,
    TravelRuleData,
};

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

    /// Whether a payment of `amount` to a merchant in `merchant_country` needs IVMS101 data to
    /// clear without review: at or above the threshold, or in another currency than a non-zero
    /// threshold (which [`crate::rules::travel_rule`] cannot evaluate, so it holds the payment).
    pub fn requires_data(&self, merchant_country: CountryCode, amount: &Money) -> bool {
        let threshold = self.threshold_for(merchant_country);
        threshold.is_zero()
            || amount.currency() != threshold.currency()
            || amount.amount() >= threshold.amount()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Outcome;
    use crate::rules::tests::{ctx, usd};
    use crate::rules::travel_rule;

    /// 2026-12-06, the day these tests were written.
    const NOW_MS: u64 = 1_796_558_400_000;

    fn validate(data: &TravelRuleData) -> Vec<String> {
        crate::ivms101::validate(data, NOW_MS)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

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
    fn travel_rule_data_is_required_from_the_first_cent_in_the_eu_and_from_usd_3000_elsewhere() {
        let policy = TravelRulePolicy::standard();
        let (de, us): (CountryCode, CountryCode) = ("DE".parse().unwrap(), "US".parse().unwrap());
        let eur = |a: &str| Money::parse(a, Currency::eur()).unwrap();
        assert!(policy.requires_data(de, &eur("0.01")));
        assert!(policy.requires_data(de, &usd("0.01")));
        assert!(!policy.requires_data(us, &usd("2999.99")));
        assert!(policy.requires_data(us, &usd("3000")));
        // A EUR payment to a US merchant cannot be compared with USD 3,000: data is asked for.
        assert!(policy.requires_data(us, &eur("10")));
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
}
