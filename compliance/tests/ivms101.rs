//! IVMS101 validation, one row per rule: each of the standard's constraints C1–C12, its code
//! lists and its text lengths, for natural and legal persons, each problem naming the rule.
//! The fixture is a complete payload with both VASPs and a transfer path, so every row isolates
//! exactly the problem it introduces.

use rialto_compliance::ivms101::{validate, Problem, Rule, TravelRuleData};
use serde_json::{json, Value};

/// 2026-12-06 12:00 UTC.
const NOW_MS: u64 = 1_796_558_400_000;

const NATURAL: &str = "/originator/originatorPersons/0/naturalPerson";
const LEGAL_ORIGINATOR: &str = "/originator/originatorPersons/1/legalPerson";
const LEGAL: &str = "/beneficiary/beneficiaryPersons/0/legalPerson";

fn payload() -> Value {
    let vasp = |name: &str, lei: &str| {
        json!({ "legalPerson": {
            "name": { "nameIdentifier": [{ "legalPersonName": name, "legalPersonNameIdentifierType": "LEGL" }]},
            "nationalIdentification": { "nationalIdentifier": lei, "nationalIdentifierType": "LEIX" },
            "countryOfRegistration": "DE"
        }})
    };
    json!({
        "originator": {
            "originatorPersons": [
                { "naturalPerson": {
                    "name": {
                        "nameIdentifier": [{ "primaryIdentifier": "Müller", "secondaryIdentifier": "Anna", "nameIdentifierType": "LEGL" }],
                        "localNameIdentifier": [{ "primaryIdentifier": "Мюллер", "nameIdentifierType": "LEGL" }]
                    },
                    "geographicAddress": [{ "addressType": "HOME", "streetName": "Hauptstraße",
                        "buildingNumber": "1", "townName": "Berlin", "postCode": "10115", "country": "DE" }],
                    "nationalIdentification": { "nationalIdentifier": "C01X00T47", "nationalIdentifierType": "CCPT",
                        "countryOfIssue": "DE" },
                    "customerIdentification": "cus_4711",
                    "dateAndPlaceOfBirth": { "dateOfBirth": "1980-02-29", "placeOfBirth": "Hamburg" },
                    "countryOfResidence": "DE"
                }},
                { "legalPerson": {
                    "name": { "nameIdentifier": [{ "legalPersonName": "Müller Holding GmbH", "legalPersonNameIdentifierType": "LEGL" }]},
                    "geographicAddress": [{ "addressType": "GEOG", "addressLine": ["Hauptstraße 1"],
                        "townName": "Berlin", "country": "DE" }],
                    "nationalIdentification": { "nationalIdentifier": "HRB 12345", "nationalIdentifierType": "RAID",
                        "registrationAuthority": "RA000198" }
                }}
            ],
            "accountNumber": ["0x8589427373d6d84e98730d7795d8f6f8731fda16"]
        },
        "beneficiary": {
            "beneficiaryPersons": [{ "legalPerson": {
                "name": { "nameIdentifier": [{ "legalPersonName": "Acme Coffee GmbH", "legalPersonNameIdentifierType": "LEGL" }]},
                "nationalIdentification": { "nationalIdentifier": "5493001KJTIIGC8Y1R12", "nationalIdentifierType": "LEIX" },
                "countryOfRegistration": "DE"
            }}],
            "accountNumber": ["0x1111111111111111111111111111111111111111"]
        },
        "originatingVASP": { "originatingVASP": vasp("Rialto Payer Wallet GmbH", "5493001KJTIIGC8Y1R12") },
        "beneficiaryVASP": vasp("Rialto Merchant Services GmbH", "5493001KJTIIGC8Y1R12"),
        "transferPath": { "transferPath": [
            { "intermediaryVASP": vasp("Hop One AG", "5493001KJTIIGC8Y1R12"), "sequence": 0 },
            { "intermediaryVASP": vasp("Hop Two AG", "5493001KJTIIGC8Y1R12"), "sequence": 1 }
        ]},
        "payloadMetadata": { "transliterationMethod": ["cyrl"] }
    })
}

/// The payload with each value written at its JSON pointer (`$N`, `$O` and `$L` abbreviate the
/// natural originator, the legal originator and the legal beneficiary; null removes the key;
/// `-` appends to an array).
fn edited(edits: &[(&str, Value)]) -> Value {
    let mut doc = payload();
    for (pointer, value) in edits {
        let pointer = pointer
            .replace("$N", NATURAL)
            .replace("$O", LEGAL_ORIGINATOR)
            .replace("$L", LEGAL);
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        match doc.pointer_mut(parent).expect(parent) {
            Value::Object(map) if value.is_null() => {
                map.remove(key);
            }
            Value::Object(map) => {
                map.insert(key.to_owned(), value.clone());
            }
            Value::Array(list) if key == "-" => list.push(value.clone()),
            Value::Array(list) => list[key.parse::<usize>().expect("index")] = value.clone(),
            other => panic!("{parent} is {other}"),
        }
    }
    doc
}

/// `(JSON pointer, new value)` pairs for [`edited`].
type Edits<'a> = Vec<(&'a str, Value)>;

fn problems(doc: Value) -> Vec<Problem> {
    let data: TravelRuleData = serde_json::from_value(doc).expect("IVMS101-shaped");
    validate(&data, NOW_MS)
}

#[test]
fn the_full_fixture_is_valid_with_vasps_transfer_path_and_local_names() {
    assert_eq!(problems(payload()), vec![]);
}

#[test]
fn each_ivms101_constraint_is_enforced_and_named() {
    let long = |n: usize| json!("x".repeat(n));
    // (case, edits, the one rule broken, a path fragment)
    let table: Vec<(&str, Edits, Rule, &str)> = vec![
        (
            "C1: a natural originator with a name only",
            vec![
                ("$N/geographicAddress", json!([])),
                ("$N/nationalIdentification", Value::Null),
                ("$N/customerIdentification", Value::Null),
                ("$N/dateAndPlaceOfBirth", Value::Null),
            ],
            Rule::OriginatorInformationNaturalPerson,
            "originator.persons[0].naturalPerson",
        ),
        (
            "C2: born today",
            vec![("$N/dateAndPlaceOfBirth/dateOfBirth", json!("2026-12-06"))],
            Rule::DateInPast,
            "dateOfBirth",
        ),
        (
            "C2: born tomorrow",
            vec![("$N/dateAndPlaceOfBirth/dateOfBirth", json!("2026-12-07"))],
            Rule::DateInPast,
            "dateOfBirth",
        ),
        (
            "C3: a country that is not ISO 3166-1",
            vec![("$N/countryOfResidence", json!("UK"))],
            Rule::ValidCountryCode,
            "countryOfResidence",
        ),
        (
            "C4: a legal originator whose only address is not GEOG",
            vec![
                ("$O/geographicAddress/0/addressType", json!("BIZZ")),
                ("$O/nationalIdentification", Value::Null),
            ],
            Rule::OriginatorInformationLegalPerson,
            "originator.persons[1].legalPerson",
        ),
        (
            "C5: a legal person with a trading name only",
            vec![(
                "$L/name/nameIdentifier/0/legalPersonNameIdentifierType",
                json!("TRAD"),
            )],
            Rule::LegalNamePresentLegalPerson,
            "beneficiary.persons[0].legalPerson.name",
        ),
        (
            "C6: a natural person with an alias only",
            vec![("$N/name/nameIdentifier/0/nameIdentifierType", json!("ALIA"))],
            Rule::LegalNamePresentNaturalPerson,
            "naturalPerson.name",
        ),
        (
            "C7: a legal person identified by a passport",
            vec![(
                "$O/nationalIdentification/nationalIdentifierType",
                json!("CCPT"),
            )],
            Rule::ValidNationalIdentifierLegalPerson,
            "nationalIdentifierType",
        ),
        (
            "C8: a street without a building",
            vec![("$N/geographicAddress/0/buildingNumber", Value::Null)],
            Rule::ValidAddress,
            "geographicAddress[0]",
        ),
        (
            "C9: a legal person's identifier with a country of issue",
            vec![("$O/nationalIdentification/countryOfIssue", json!("DE"))],
            Rule::CompleteNationalIdentifierLegalPerson,
            "countryOfIssue",
        ),
        (
            "C9: a registration number without its authority",
            vec![(
                "$O/nationalIdentification/registrationAuthority",
                Value::Null,
            )],
            Rule::CompleteNationalIdentifierLegalPerson,
            "registrationAuthority",
        ),
        (
            "C10: an authority that is not an RA code",
            vec![(
                "$O/nationalIdentification/registrationAuthority",
                json!("HRB-BERLIN"),
            )],
            Rule::RegistrationAuthority,
            "registrationAuthority",
        ),
        (
            "C11: an LEI with a bad check digit",
            vec![(
                "$L/nationalIdentification/nationalIdentifier",
                json!("5493001KJTIIGC8Y1R13"),
            )],
            Rule::ValidLei,
            "nationalIdentifier",
        ),
        (
            "C12: a transfer path that skips a hop",
            vec![("/transferPath/transferPath/1/sequence", json!(2))],
            Rule::SequentialIntegrity,
            "transferPath",
        ),
        (
            "C12: a transfer path that repeats a hop",
            vec![("/transferPath/transferPath/1/sequence", json!(0))],
            Rule::SequentialIntegrity,
            "transferPath",
        ),
        (
            "townName is mandatory",
            vec![("$N/geographicAddress/0/townName", Value::Null)],
            Rule::Mandatory,
            "townName",
        ),
        (
            "Max100Text: a family name",
            vec![("$N/name/nameIdentifier/0/primaryIdentifier", long(101))],
            Rule::MaxText(100),
            "primaryIdentifier",
        ),
        (
            "Max100Text: a local-script given name",
            vec![(
                "$N/name/localNameIdentifier/0/secondaryIdentifier",
                long(101),
            )],
            Rule::MaxText(100),
            "localNameIdentifier[0].secondaryIdentifier",
        ),
        (
            "Max100Text: a legal name",
            vec![("$L/name/nameIdentifier/0/legalPersonName", long(101))],
            Rule::MaxText(100),
            "legalPersonName",
        ),
        (
            "Max70Text: a street",
            vec![("$N/geographicAddress/0/streetName", long(71))],
            Rule::MaxText(70),
            "streetName",
        ),
        (
            "Max16Text: a post code",
            vec![("$N/geographicAddress/0/postCode", long(17))],
            Rule::MaxText(16),
            "postCode",
        ),
        (
            "Max35Text: a town",
            vec![("$N/geographicAddress/0/townName", long(36))],
            Rule::MaxText(35),
            "townName",
        ),
        (
            "Max50Text: a department",
            vec![("$N/geographicAddress/0/department", long(51))],
            Rule::MaxText(50),
            "department",
        ),
        (
            "Max35Text: a national identifier",
            vec![("$N/nationalIdentification/nationalIdentifier", long(36))],
            Rule::MaxText(35),
            "nationalIdentifier",
        ),
        (
            "Max50Text: a customer identification",
            vec![("$N/customerIdentification", long(51))],
            Rule::MaxText(50),
            "customerIdentification",
        ),
        (
            "Max70Text: a place of birth",
            vec![("$N/dateAndPlaceOfBirth/placeOfBirth", long(71))],
            Rule::MaxText(70),
            "placeOfBirth",
        ),
        (
            "Max50Text: a legal person's customer number",
            vec![("$O/customerNumber", long(51))],
            Rule::MaxText(50),
            "customerNumber",
        ),
        (
            "Max70Text: an address line",
            vec![("$O/geographicAddress/0/addressLine/0", long(71))],
            Rule::MaxText(70),
            "addressLine[0]",
        ),
        (
            "addressLine is [0..7]",
            vec![(
                "$O/geographicAddress/0/addressLine",
                json!(["a", "b", "c", "d", "e", "f", "g", "h"]),
            )],
            Rule::MaxOccurs(7),
            "addressLine",
        ),
        (
            "Max100Text: an account number",
            vec![("/beneficiary/accountNumber/0", long(101))],
            Rule::MaxText(100),
            "accountNumber[0]",
        ),
        (
            "ISODate: the 30th of February",
            vec![("$N/dateAndPlaceOfBirth/dateOfBirth", json!("1980-02-30"))],
            Rule::IsoDate,
            "dateOfBirth",
        ),
        (
            "NaturalPersonNameTypeCode in a phonetic name",
            vec![(
                "$N/name/phoneticNameIdentifier",
                json!([{ "primaryIdentifier": "Myuller", "nameIdentifierType": "NICK" }]),
            )],
            Rule::CodeList("NaturalPersonNameTypeCode"),
            "phoneticNameIdentifier[0]",
        ),
        (
            "TransliterationMethodCode",
            vec![("/payloadMetadata/transliterationMethod/0", json!("latn"))],
            Rule::CodeList("TransliterationMethodCode"),
            "transliterationMethod[0]",
        ),
        (
            "a VASP is checked like any legal person",
            vec![(
                "/beneficiaryVASP/legalPerson/name/nameIdentifier/0/legalPersonNameIdentifierType",
                json!("SHRT"),
            )],
            Rule::LegalNamePresentLegalPerson,
            "beneficiaryVASP.legalPerson.name",
        ),
        (
            "an intermediary VASP too",
            vec![(
                "/transferPath/transferPath/0/intermediaryVASP/legalPerson/countryOfRegistration",
                json!("Germany"),
            )],
            Rule::ValidCountryCode,
            "transferPath.transferPath[0].intermediaryVASP",
        ),
    ];
    for (case, edits, rule, path) in table {
        let found = problems(edited(&edits));
        assert_eq!(found.len(), 1, "{case}: {found:?}");
        assert_eq!(found[0].rule, rule, "{case}: {found:?}");
        assert!(found[0].path.contains(path), "{case}: {found:?}");
        // The message names the rule, so a refused sender knows which one.
        assert!(
            found[0].to_string().contains(&rule.name()),
            "{case}: {}",
            found[0]
        );
    }
}

#[test]
fn xx_is_a_valid_country_and_lengths_count_characters_not_bytes() {
    let found = problems(edited(&[
        ("$N/countryOfResidence", json!("XX")),
        // 35 characters, 70 bytes.
        ("$N/geographicAddress/0/townName", json!("ü".repeat(35))),
    ]));
    assert_eq!(found, vec![]);
}

#[test]
fn the_2023_edition_names_are_accepted() {
    let mut doc = payload();
    let originator = doc["originator"].as_object_mut().unwrap();
    let persons = originator.remove("originatorPersons").unwrap();
    originator.insert("originatorPerson".into(), persons);
    let name =
        &mut doc["originator"]["originatorPerson"][0]["naturalPerson"]["name"]["nameIdentifier"][0];
    let kind = name
        .as_object_mut()
        .unwrap()
        .remove("nameIdentifierType")
        .unwrap();
    name["naturalPersonNameIdentifierType"] = kind;
    let legal = doc["originator"]["originatorPerson"][1]["legalPerson"]
        .as_object_mut()
        .unwrap();
    legal.insert("customerIdentification".into(), json!("org_42"));
    assert_eq!(problems(doc), vec![]);
}

#[test]
fn an_unknown_or_misspelt_field_is_refused_rather_than_dropped() {
    for doc in [
        edited(&[("$N/dateOfBirth", json!("1980-02-29"))]),
        edited(&[("$N/geographicAddress/0/street", json!("Hauptstraße"))]),
        edited(&[("/originator/accountNumbers", json!(["0x00"]))]),
    ] {
        let parsed = serde_json::from_value::<TravelRuleData>(doc);
        assert!(parsed.is_err(), "{parsed:?}");
    }
}
