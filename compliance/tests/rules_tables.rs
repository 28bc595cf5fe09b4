//! Table tests for the travel rule per jurisdiction and for IVMS101 validation, one row per
//! case. (Single payment, daily volume, velocity and blocked jurisdictions have theirs next to
//! the code in `src/rules.rs`.)

use rialto_compliance::rules::travel_rule;
use rialto_compliance::{CountryCode, Outcome, PaymentContext, TravelRuleData, TravelRulePolicy};
use rialto_core::id::MerchantId;
use rialto_core::{Currency, Money};
use serde_json::{json, Value};

/// 2026-12-06 12:00 UTC.
const NOW_MS: u64 = 1_796_558_400_000;

fn validate(data: &TravelRuleData) -> Vec<String> {
    rialto_compliance::ivms101::validate(data, NOW_MS)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn usd(s: &str) -> Money {
    Money::parse(s, Currency::usd()).unwrap()
}

fn eur(s: &str) -> Money {
    Money::parse(s, Currency::eur()).unwrap()
}

fn country(code: &str) -> CountryCode {
    code.parse().unwrap()
}

/// A complete IVMS101 payload: a natural-person originator, a legal-person beneficiary.
fn payload() -> Value {
    json!({
        "originator": {
            "originatorPersons": [{ "naturalPerson": {
                "name": { "nameIdentifier": [
                    { "primaryIdentifier": "Müller", "secondaryIdentifier": "Anna", "nameIdentifierType": "LEGL" }
                ]},
                "geographicAddress": [{ "addressType": "HOME", "streetName": "Hauptstraße",
                    "buildingNumber": "1", "townName": "Berlin", "postCode": "10115", "country": "DE" }],
                "nationalIdentification": { "nationalIdentifier": "C01X00T47", "nationalIdentifierType": "CCPT",
                    "countryOfIssue": "DE" },
                "dateAndPlaceOfBirth": { "dateOfBirth": "1980-02-29", "placeOfBirth": "Hamburg" },
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
    })
}

/// `(JSON pointer, new value)` pairs applied to [`payload`].
type Edits<'a> = Vec<(&'a str, Value)>;

const NATURAL: &str = "/originator/originatorPersons/0/naturalPerson";
const LEGAL: &str = "/beneficiary/beneficiaryPersons/0/legalPerson";

/// The payload with each value written at its JSON pointer (`$N`/`$L` abbreviate the natural
/// originator and the legal beneficiary; a null value removes the key).
fn edited(edits: &[(&str, Value)]) -> TravelRuleData {
    let mut doc = payload();
    for (pointer, value) in edits {
        let pointer = pointer.replace("$N", NATURAL).replace("$L", LEGAL);
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        match doc.pointer_mut(parent).expect(parent) {
            Value::Object(map) if value.is_null() => {
                map.remove(key);
            }
            Value::Object(map) => {
                map.insert(key.to_owned(), value.clone());
            }
            // "-" appends, as in JSON Patch.
            Value::Array(list) if key == "-" => list.push(value.clone()),
            Value::Array(list) => list[key.parse::<usize>().expect("index")] = value.clone(),
            other => panic!("{parent} is {other}"),
        }
    }
    serde_json::from_value(doc).expect("still IVMS101-shaped")
}

#[test]
fn the_fixture_is_valid_so_each_row_below_isolates_one_problem() {
    assert_eq!(validate(&edited(&[])), Vec::<String>::new());
}

#[test]
fn ivms101_required_fields_are_checked() {
    let table: Vec<(&str, Edits, &str)> = vec![
        (
            "no originator account",
            vec![("/originator/accountNumber", json!([]))],
            "originator.accountNumber",
        ),
        (
            "blank beneficiary account",
            vec![("/beneficiary/accountNumber", json!(["  "]))],
            "beneficiary.accountNumber",
        ),
        (
            "no beneficiary person",
            vec![("/beneficiary/beneficiaryPersons", json!([]))],
            "beneficiary.persons",
        ),
        (
            "empty family name",
            vec![("$N/name/nameIdentifier/0/primaryIdentifier", json!(" "))],
            "primaryIdentifier: required",
        ),
        (
            "empty legal name",
            vec![("$L/name/nameIdentifier/0/legalPersonName", json!(""))],
            "legalPersonName: required",
        ),
        (
            "empty national id",
            vec![("$N/nationalIdentification/nationalIdentifier", json!(""))],
            "nationalIdentifier: required",
        ),
        (
            "empty place of birth",
            vec![("$N/dateAndPlaceOfBirth/placeOfBirth", json!(""))],
            "placeOfBirth: required",
        ),
        (
            "date of birth not ISO",
            vec![("$N/dateAndPlaceOfBirth/dateOfBirth", json!("29/02/1980"))],
            "dateOfBirth: expected YYYY-MM-DD",
        ),
        (
            "month 13",
            vec![("$N/dateAndPlaceOfBirth/dateOfBirth", json!("1980-13-01"))],
            "dateOfBirth",
        ),
        (
            "street without number or lines",
            vec![("$N/geographicAddress/0/buildingNumber", Value::Null)],
            "addressLine or streetName",
        ),
        (
            "structured address without town",
            vec![("$N/geographicAddress/0/townName", Value::Null)],
            "townName: required",
        ),
        (
            "originator with a name only",
            vec![
                ("$N/geographicAddress", json!([])),
                ("$N/nationalIdentification", Value::Null),
                ("$N/dateAndPlaceOfBirth", Value::Null),
            ],
            "an originator needs",
        ),
        (
            "LEI with a bad check digit",
            vec![(
                "$L/nationalIdentification/nationalIdentifier",
                json!("5493001KJTIIGC8Y1R13"),
            )],
            "not a valid LEI",
        ),
    ];
    for (case, edits, expected) in table {
        let problems = validate(&edited(&edits));
        assert_eq!(problems.len(), 1, "{case}: {problems:?}");
        assert!(problems[0].contains(expected), "{case}: {problems:?}");
    }
}

#[test]
fn ivms101_country_codes_must_be_upper_case_assigned_alpha_2() {
    let table: Vec<(&str, &str, Option<&str>)> = vec![
        (
            "$N/geographicAddress/0/country",
            "Germany",
            Some("geographicAddress[0].country"),
        ),
        (
            "$N/geographicAddress/0/country",
            "de",
            Some("geographicAddress[0].country"),
        ),
        ("$N/countryOfResidence", "UK", Some("countryOfResidence")),
        (
            "$N/nationalIdentification/countryOfIssue",
            "DEU",
            Some("countryOfIssue"),
        ),
        (
            "$L/countryOfRegistration",
            "ZZ",
            Some("countryOfRegistration"),
        ),
        (
            "$L/countryOfRegistration",
            "EU",
            Some("countryOfRegistration"),
        ),
        ("$N/countryOfResidence", "GB", None),
        ("$N/countryOfResidence", "XK", None),
        ("$L/countryOfRegistration", "KP", None),
    ];
    for (pointer, code, expected) in table {
        let problems = validate(&edited(&[(pointer, json!(code))]));
        match expected {
            None => assert!(problems.is_empty(), "{code} at {pointer}: {problems:?}"),
            Some(path) => {
                assert_eq!(problems.len(), 1, "{code} at {pointer}: {problems:?}");
                assert!(
                    problems[0].contains(path) && problems[0].contains("ISO 3166-1"),
                    "{problems:?}"
                );
            }
        }
    }
}

#[test]
fn ivms101_name_identifier_and_other_code_types_are_checked() {
    let legl = "a nameIdentifier of type LEGL is required";
    let natural_type = "$N/name/nameIdentifier/0/nameIdentifierType";
    let legal_type = "$L/name/nameIdentifier/0/legalPersonNameIdentifierType";
    let maiden = json!({"primaryIdentifier": "Schmidt", "nameIdentifierType": "MAID"});
    // (case, edits, every problem expected: exactly these, each a substring of one problem)
    let table: Vec<(&str, Edits, Vec<&str>)> = vec![
        // Natural persons: ALIA, BIRT, MAID, LEGL or MISC, and one LEGL name at least.
        (
            "natural NICK",
            vec![(natural_type, json!("NICK"))],
            vec!["\"NICK\" is not one of", legl],
        ),
        (
            "natural legl is case-sensitive",
            vec![(natural_type, json!("legl"))],
            vec!["\"legl\" is not one of", legl],
        ),
        (
            "natural ALIA only",
            vec![(natural_type, json!("ALIA"))],
            vec![legl],
        ),
        (
            "natural LEGL plus MAID",
            vec![("$N/name/nameIdentifier/-", maiden)],
            vec![],
        ),
        // Legal persons: LEGL, SHRT or TRAD, and one LEGL name at least.
        (
            "legal SHRT only",
            vec![(legal_type, json!("SHRT"))],
            vec![legl],
        ),
        (
            "legal BIRT",
            vec![(legal_type, json!("BIRT"))],
            vec!["\"BIRT\" is not one of", legl],
        ),
        // Address types: HOME, BIZZ or GEOG.
        (
            "address WORK",
            vec![("$N/geographicAddress/0/addressType", json!("WORK"))],
            vec!["addressType"],
        ),
        (
            "address BIZZ",
            vec![("$N/geographicAddress/0/addressType", json!("BIZZ"))],
            vec![],
        ),
        // National id types; a legal person only RAID, MISC, LEIX or TXID (IVMS101 C7).
        (
            "legal passport",
            vec![(
                "$L/nationalIdentification/nationalIdentifierType",
                json!("CCPT"),
            )],
            // No longer an LEI, so C9 wants the registration authority too.
            vec![
                "C7 ValidNationalIdentifierLegalPerson",
                "registrationAuthority",
            ],
        ),
        (
            "legal tax id",
            vec![(
                "$L/nationalIdentification",
                json!({"nationalIdentifier": "DE123", "nationalIdentifierType": "TXID",
                    "registrationAuthority": "RA000548"}),
            )],
            vec![],
        ),
        (
            "natural XXXX",
            vec![(
                "$N/nationalIdentification/nationalIdentifierType",
                json!("XXXX"),
            )],
            vec!["nationalIdentifierType"],
        ),
    ];
    for (case, edits, expected) in table {
        let problems = validate(&edited(&edits));
        assert_eq!(problems.len(), expected.len(), "{case}: {problems:?}");
        for text in expected {
            assert!(
                problems.iter().any(|p| p.contains(text)),
                "{case}: {text:?} not in {problems:?}"
            );
        }
    }
}

fn context(merchant: &str, amount: Money, travel: Option<TravelRuleData>) -> PaymentContext {
    PaymentContext {
        merchant: MerchantId::generate(),
        merchant_country: country(merchant),
        payer_country: None,
        amount,
        now_ms: 1_700_000_000_000,
        history: vec![],
        travel,
    }
}

#[test]
fn travel_rule_thresholds_per_jurisdiction() {
    let standard = TravelRulePolicy::standard();
    let mut custom = TravelRulePolicy::standard();
    custom.by_country.insert(country("GB"), usd("1000"));
    custom.by_country.insert(country("DE"), eur("1000"));
    let table: Vec<(&TravelRulePolicy, &str, Money, bool, Option<Outcome>)> = vec![
        // Default USD 3,000 (US rule), inclusive, for the US and every non-EU/EEA country.
        (&standard, "US", usd("2999.99"), false, None),
        (&standard, "US", usd("3000"), false, Some(Outcome::Review)),
        (&standard, "US", usd("3000"), true, None),
        (&standard, "JP", usd("2999.99"), false, None),
        (&standard, "JP", usd("10000"), false, Some(Outcome::Review)),
        (&standard, "GB", usd("2999.99"), false, None),
        (&standard, "CH", usd("3000"), false, Some(Outcome::Review)),
        // EU/EEA merchants: EUR 0, so every payment needs the data, in any currency.
        (&standard, "DE", eur("0.01"), false, Some(Outcome::Review)),
        (&standard, "IT", eur("1"), true, None),
        (&standard, "IS", eur("1"), false, Some(Outcome::Review)),
        (&standard, "LI", eur("5"), false, Some(Outcome::Review)),
        (&standard, "FR", usd("1"), false, Some(Outcome::Review)),
        // A default threshold in USD cannot be compared with EUR: Review, never a silent pass.
        (&standard, "US", eur("1"), false, Some(Outcome::Review)),
        // Per-country overrides win over both the default and the EU rule.
        (&custom, "GB", usd("999.99"), false, None),
        (&custom, "GB", usd("1000"), false, Some(Outcome::Review)),
        (&custom, "DE", eur("999.99"), false, None),
        (&custom, "DE", eur("1000"), false, Some(Outcome::Review)),
        (&custom, "AT", eur("0.01"), false, Some(Outcome::Review)),
        (&custom, "US", usd("2999.99"), false, None),
    ];
    for (i, (policy, merchant, amount, with_data, want)) in table.into_iter().enumerate() {
        let data = with_data.then(|| edited(&[]));
        let got = travel_rule(&context(merchant, amount.clone(), data), policy).map(|f| f.outcome);
        assert_eq!(got, want, "row {i}: {merchant} {amount}");
    }
    assert_eq!(standard.threshold_for(country("US")), &usd("3000"));
    assert_eq!(
        standard.threshold_for(country("NO")),
        &Money::zero(Currency::eur())
    );
    assert_eq!(custom.threshold_for(country("DE")), &eur("1000"));
}

#[test]
fn invalid_travel_data_above_the_threshold_is_reviewed_with_the_problems() {
    let bad = edited(&[("/originator/accountNumber", json!([]))]);
    let finding = travel_rule(
        &context("US", usd("5000"), Some(bad.clone())),
        &TravelRulePolicy::standard(),
    )
    .expect("a finding");
    assert_eq!(finding.outcome, Outcome::Review);
    let detail = serde_json::to_string(&finding.reason).unwrap();
    assert!(detail.contains("originator.accountNumber"), "{detail}");
    // Below the threshold the payload is not required, so its problems do not hold the payment.
    assert!(travel_rule(
        &context("US", usd("10"), Some(bad)),
        &TravelRulePolicy::standard()
    )
    .is_none());
}
