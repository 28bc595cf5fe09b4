//! The labelled sample of ordinary people's names (`tests/data/common_names.tsv`: the
//! commonest full names of 30 countries, none of them a listed person) and what screening
//! does with each, shared by the test and the `common_names` example.
#![allow(dead_code)]

use std::collections::BTreeMap;

use rialto_compliance::{
    AddressKey, AddressRole, ComplianceCaseId, CountryCode, NameIndex, NameThresholds, Outcome,
    PartyIdentifiers, PartyRole, PaymentContext, RulesPolicy, SanctionsList, ScreenedAddress,
    Screener, ScreeningRequest, TravelRulePolicy,
};
use rialto_core::id::MerchantId;
use rialto_core::{Currency, Money};

/// `(country, name)` rows of the sample.
pub fn sample() -> Vec<(CountryCode, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/common_names.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (country, name) = l.split_once('\t').expect("country<TAB>name");
            (country.parse().expect("ISO country"), name.to_owned())
        })
        .collect()
}

/// The shipped lists and default rules, as the gateway loads them.
pub struct Lists {
    pub sanctions: SanctionsList,
    pub names: NameIndex,
    pub rules: RulesPolicy,
}

impl Lists {
    pub fn load() -> Self {
        Self {
            sanctions: crate::eval::sanctions_list(),
            names: NameIndex::build(&crate::eval::sdn_list()),
            rules: RulesPolicy::with_default_blocked_countries(TravelRulePolicy::standard()),
        }
    }

    pub fn screener(&self) -> Screener<'_> {
        Screener {
            sanctions: &self.sanctions,
            names: &self.names,
            name_thresholds: NameThresholds::default(),
            custom_lists: &[],
            rules: &self.rules,
            external: None,
        }
    }
}

/// A small payment from an unlisted address, by a payer of `name` who gave `identifiers`;
/// payer country left out so that blocked-jurisdiction rules do not mix into the counts.
pub fn payment(name: &str, identifiers: PartyIdentifiers) -> ScreeningRequest {
    ScreeningRequest {
        case_id: ComplianceCaseId::generate(),
        addresses: vec![ScreenedAddress {
            role: AddressRole::Payer,
            address: AddressKey::parse("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913")
                .expect("address"),
        }],
        names: vec![(PartyRole::Payer, name.to_owned())],
        payer_identifiers: identifiers,
        payment: PaymentContext {
            merchant: MerchantId::generate(),
            merchant_country: "US".parse().expect("US"),
            payer_country: None,
            amount: Money::parse("25.00", Currency::usd()).expect("amount"),
            now_ms: 1_700_000_000_000,
            history: vec![],
            travel: None,
        },
    }
}

/// Outcome counts per country: `[clear, review, block]`.
pub type Counts = BTreeMap<CountryCode, [usize; 3]>;

/// Screens every sampled name: with no identifier, and with the payer's nationality given
/// as the country the name is common in (the identifier an ordinary payer most often shares
/// with a listed namesake). Returns both tallies and the blocked names.
pub fn screen_all(lists: &Lists) -> (Counts, Counts, Vec<String>) {
    let screener = lists.screener();
    let (mut alone, mut with_nationality, mut blocked) = (Counts::new(), Counts::new(), vec![]);
    for (country, name) in sample() {
        let given = PartyIdentifiers {
            nationality: Some(country),
            ..PartyIdentifiers::default()
        };
        for (tally, ids) in [
            (&mut alone, PartyIdentifiers::default()),
            (&mut with_nationality, given),
        ] {
            let outcome = screener
                .screen(&payment(&name, ids.clone()), ())
                .decision()
                .outcome;
            let slot = match outcome {
                Outcome::Clear => 0,
                Outcome::Review => 1,
                Outcome::Block => 2,
            };
            tally.entry(country).or_insert([0; 3])[slot] += 1;
            if outcome == Outcome::Block {
                blocked.push(format!("{country} {name} {ids:?}"));
            }
        }
    }
    (alone, with_nationality, blocked)
}
