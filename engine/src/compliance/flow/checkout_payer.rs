//! The payer's details as the hosted checkout's form collects them: a person (name, date and
//! place of birth, country of residence) or a company (legal name, LEI, country of
//! registration), turned into the IVMS101 payload the travel rule needs, with the merchant as
//! the beneficiary. The wallet addresses are left out: screening fills them in from the funds
//! and the intent ([`super::payer`]). What the payload breaks is refused like any other,
//! naming the IVMS101 rule.

use rialto_compliance::ivms101::{
    DateAndPlaceOfBirth, LegalPerson, LegalPersonName, LegalPersonNameId, NationalIdentification,
    NaturalPerson, NaturalPersonName, NaturalPersonNameId, Party, Person,
};
use rialto_compliance::{CountryCode, PartyIdentifiers, TravelRuleData};
use rialto_core::intent::PaymentIntent;
use serde::Deserialize;

use super::payer::{merchant_country, PayerDetails};
use crate::error::{EngineError, ErrorCode};
use crate::services::Engine;

/// What the checkout form sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckoutPayer {
    /// A natural person paying for themselves.
    Person {
        given_name: String,
        family_name: String,
        /// `YYYY-MM-DD`.
        date_of_birth: String,
        /// Town of birth.
        place_of_birth: String,
        /// Country of residence, ISO 3166-1 alpha-2.
        country: String,
    },
    /// A company paying: identified by its LEI (ISO 17442).
    Company {
        legal_name: String,
        lei: String,
        /// Country of registration, ISO 3166-1 alpha-2.
        country: String,
    },
}

fn required(value: &str, param: &str) -> Result<String, EngineError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(
            EngineError::new(ErrorCode::ParameterMissing, format!("{param} is required."))
                .param(param),
        );
    }
    Ok(value.to_owned())
}

fn country(value: &str) -> Result<String, EngineError> {
    let code = value.trim().to_ascii_uppercase();
    code.parse::<CountryCode>().map_err(|_| {
        EngineError::new(
            ErrorCode::ParameterInvalid,
            format!("country {value:?} is not an ISO 3166-1 alpha-2 code."),
        )
        .param("country")
    })?;
    Ok(code)
}

fn originator(payer: &CheckoutPayer) -> Result<(Person, String, String), EngineError> {
    Ok(match payer {
        CheckoutPayer::Person {
            given_name,
            family_name,
            date_of_birth,
            place_of_birth,
            country: residence,
        } => {
            let (given, family) = (
                required(given_name, "given_name")?,
                required(family_name, "family_name")?,
            );
            let person = Person::NaturalPerson(NaturalPerson {
                name: NaturalPersonName {
                    name_identifier: vec![NaturalPersonNameId {
                        primary_identifier: family.clone(),
                        secondary_identifier: Some(given.clone()),
                        name_identifier_type: "LEGL".into(),
                    }],
                    local_name_identifier: Vec::new(),
                    phonetic_name_identifier: Vec::new(),
                },
                geographic_address: Vec::new(),
                national_identification: None,
                customer_identification: None,
                date_and_place_of_birth: Some(DateAndPlaceOfBirth {
                    date_of_birth: required(date_of_birth, "date_of_birth")?,
                    place_of_birth: required(place_of_birth, "place_of_birth")?,
                }),
                country_of_residence: Some(country(residence)?),
            });
            (person, format!("{given} {family}"), country(residence)?)
        }
        CheckoutPayer::Company {
            legal_name,
            lei,
            country: registered,
        } => {
            let name = required(legal_name, "legal_name")?;
            let person = Person::LegalPerson(LegalPerson {
                name: legal_name_of(&name),
                geographic_address: Vec::new(),
                customer_number: None,
                national_identification: Some(NationalIdentification {
                    national_identifier: required(lei, "lei")?.to_ascii_uppercase(),
                    national_identifier_type: "LEIX".into(),
                    country_of_issue: None,
                    registration_authority: None,
                }),
                country_of_registration: Some(country(registered)?),
            });
            (person, name, country(registered)?)
        }
    })
}

fn legal_name_of(name: &str) -> LegalPersonName {
    LegalPersonName {
        name_identifier: vec![LegalPersonNameId {
            legal_person_name: name.to_owned(),
            legal_person_name_identifier_type: "LEGL".into(),
        }],
        local_name_identifier: Vec::new(),
        phonetic_name_identifier: Vec::new(),
    }
}

/// The payer details for `intent` from the checkout form: the payer as IVMS101 originator,
/// the merchant (its name and country) as beneficiary.
pub async fn checkout_payer_details(
    state: &Engine,
    intent: &PaymentIntent,
    payer: &CheckoutPayer,
) -> Result<PayerDetails, EngineError> {
    let (person, name, payer_country) = originator(payer)?;
    let merchant = state
        .store
        .get_merchant(&intent.merchant_id)
        .await?
        .ok_or_else(|| EngineError::internal(&"the intent's merchant is missing"))?;
    let beneficiary = Person::LegalPerson(LegalPerson {
        name: legal_name_of(&merchant.name),
        geographic_address: Vec::new(),
        customer_number: None,
        national_identification: None,
        country_of_registration: Some(
            merchant_country(state, &intent.merchant_id)
                .await?
                .to_string(),
        ),
    });
    let identifiers = match payer {
        CheckoutPayer::Person { date_of_birth, .. } => PartyIdentifiers {
            date_of_birth: date_of_birth.trim().parse().ok(),
            ..PartyIdentifiers::default()
        },
        CheckoutPayer::Company { lei, .. } => PartyIdentifiers {
            id_number: Some(lei.trim().to_ascii_uppercase()),
            ..PartyIdentifiers::default()
        },
    };
    Ok(PayerDetails {
        name: Some(name),
        country: Some(payer_country),
        identifiers,
        travel_rule: Some(TravelRuleData {
            originator: Party {
                persons: vec![person],
                account_number: Vec::new(),
            },
            beneficiary: Party {
                persons: vec![beneficiary],
                account_number: Vec::new(),
            },
            originating_vasp: None,
            beneficiary_vasp: None,
            transfer_path: None,
            payload_metadata: None,
        }),
    })
}
