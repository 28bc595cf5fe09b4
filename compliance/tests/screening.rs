//! The `Screener` end to end against the shipped lists: what the gateway calls per payment,
//! and the audit trail of its real decisions.

#[path = "support/eval.rs"]
mod eval;

use std::cell::Cell;
use std::sync::OnceLock;

use rialto_compliance::{
    verify_chain, AddressKey, AddressRole, AuditChain, AuditEntry, ComplianceCaseId,
    ComplianceError, CustomList, CustomListKind, Decision, ExternalScreener, ListOwner, NameIndex,
    NameThresholds, Outcome, PartyIdentifiers, PartyRole, PaymentContext, Reason, RiskAssessment,
    RiskLevel, RulesPolicy, SanctionsList, Screened, ScreenedAddress, Screener, ScreeningRequest,
    TravelRulePolicy,
};
use rialto_core::id::MerchantId;
use rialto_core::{Currency, Money};

struct Lists {
    sanctions: SanctionsList,
    names: NameIndex,
    rules: RulesPolicy,
}

fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| Lists {
        sanctions: eval::sanctions_list(),
        names: NameIndex::build(&eval::sdn_list()),
        rules: RulesPolicy::with_default_blocked_countries(TravelRulePolicy::standard()),
    })
}

fn screener<'a>(
    custom: &'a [CustomList],
    external: Option<&'a dyn ExternalScreener>,
) -> Screener<'a> {
    let l = lists();
    Screener {
        sanctions: &l.sanctions,
        names: &l.names,
        name_thresholds: NameThresholds::default(),
        custom_lists: custom,
        rules: &l.rules,
        external,
    }
}

const ORDINARY: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const TORNADO_ROUTER: &str = "0xd90e2f925DA726b50C4Ed8D0Fb90Ad053324F31b";

fn request(payer: &str, names: &[&str]) -> ScreeningRequest {
    identified(payer, names, PartyIdentifiers::default())
}

/// A payment whose payer data carries `payer_identifiers` besides the names.
fn identified(
    payer: &str,
    names: &[&str],
    payer_identifiers: PartyIdentifiers,
) -> ScreeningRequest {
    ScreeningRequest {
        case_id: ComplianceCaseId::generate(),
        addresses: vec![ScreenedAddress {
            role: AddressRole::Payer,
            address: AddressKey::parse(payer).unwrap(),
        }],
        names: names
            .iter()
            .map(|n| (PartyRole::Payer, (*n).to_owned()))
            .collect(),
        payer_identifiers,
        payment: PaymentContext {
            merchant: MerchantId::generate(),
            merchant_country: "US".parse().unwrap(),
            payer_country: None,
            amount: Money::parse("25.50", Currency::usd()).unwrap(),
            now_ms: 1_700_000_000_000,
            history: vec![],
            travel: None,
        },
    }
}

fn outcome<T>(screened: &Screened<T>) -> Outcome {
    match screened {
        Screened::Cleared(c) => {
            assert_eq!(c.decision().outcome, Outcome::Clear);
            Outcome::Clear
        }
        Screened::InReview { decision, .. } => {
            assert_eq!(decision.outcome, Outcome::Review);
            Outcome::Review
        }
        Screened::Blocked { decision, .. } => {
            assert_eq!(decision.outcome, Outcome::Block);
            Outcome::Block
        }
    }
}

#[test]
fn every_listed_address_blocks_the_payment_in_any_case_and_ordinary_ones_clear() {
    let s = screener(&[], None);
    let mut screened = 0;
    for (_, text) in eval::address_lists() {
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut spellings = vec![line.to_owned()];
            if let Some(hex) = line.strip_prefix("0x") {
                spellings.push(format!("0x{}", hex.to_ascii_lowercase()));
                spellings.push(format!("0X{}", hex.to_ascii_uppercase()));
            }
            for spelling in spellings {
                let result = s.screen(&request(&spelling, &[]), ());
                assert_eq!(outcome(&result), Outcome::Block, "{spelling}");
                let decision = result.decision();
                assert!(decision
                    .findings
                    .iter()
                    .any(|f| matches!(f.reason, Reason::SanctionedAddress { .. })));
                // Merchants see neutral words only.
                assert!(!decision
                    .merchant_message()
                    .to_lowercase()
                    .contains("sanction"));
                screened += 1;
            }
        }
    }
    assert!(screened > 654, "{screened}");
    let clear = s.screen(
        &request(ORDINARY, &["Anna Müller", "Acme Coffee GmbH"]),
        7u32,
    );
    match clear {
        Screened::Cleared(c) => assert_eq!(*c.plan(), 7),
        other => panic!(
            "an ordinary payment was not cleared: {:?}",
            other.decision()
        ),
    }
}

#[test]
fn a_name_match_alone_is_reviewed_and_common_names_clear() {
    let s = screener(&[], None);
    let table = [
        // Strong matches on distinctive SDN names: still only a Review without an identifier.
        ("Ayman al-Zawahiri", Outcome::Review),
        ("TORNADO CASH", Outcome::Review),
        ("Aiman al-Zawahri", Outcome::Review),
        ("BNC", Outcome::Review),
        ("John Smith", Outcome::Clear),
        ("Sophie Dubois", Outcome::Clear),
    ];
    for (name, want) in table {
        assert_eq!(
            outcome(&s.screen(&request(ORDINARY, &[name]), ())),
            want,
            "{name}"
        );
    }
}

fn ids(dob: Option<&str>, nationality: Option<&str>, id: Option<&str>) -> PartyIdentifiers {
    PartyIdentifiers {
        date_of_birth: dob.map(|d| d.parse().unwrap()),
        nationality: nationality.map(|n| n.parse().unwrap()),
        id_number: id.map(str::to_owned),
    }
}

#[test]
fn a_strong_name_match_blocks_only_when_an_identifier_the_payer_gave_confirms_it() {
    let s = screener(&[], None);
    // SDN 2676 "AL ZAWAHIRI, Dr. Ayman": DOB 19 Jun 1951; Passport 1084010 (Egypt).
    let table = [
        (ids(Some("1951-06-19"), None, None), Outcome::Block),
        (ids(None, None, Some("1084010")), Outcome::Block),
        (
            ids(Some("1951-06-20"), Some("US"), Some("1084011")),
            Outcome::Review,
        ),
        (ids(None, None, None), Outcome::Review),
    ];
    for (given, want) in table {
        let screened = s.screen(
            &identified(ORDINARY, &["Ayman al-Zawahiri"], given.clone()),
            (),
        );
        assert_eq!(outcome(&screened), want, "{given:?}");
        let confirmed = screened.decision().findings.iter().any(|f| {
            matches!(&f.reason, Reason::NameMatch { confirmed_by, .. } if !confirmed_by.is_empty())
        });
        assert_eq!(confirmed, want == Outcome::Block, "{given:?}");
    }
    // A misspelt name (a weak match) is not confirmed into a Block by a matching birth date.
    let weak = identified(
        ORDINARY,
        &["Aiman al-Zawahri"],
        ids(Some("1951-06-19"), None, None),
    );
    assert_eq!(outcome(&s.screen(&weak, ())), Outcome::Review);
    // The identifiers belong to the payer: a merchant-side name is not confirmed by them.
    let mut merchant = identified(ORDINARY, &[], ids(Some("1951-06-19"), None, None));
    merchant
        .names
        .push((PartyRole::Merchant, "Ayman al-Zawahiri".into()));
    assert_eq!(outcome(&s.screen(&merchant, ())), Outcome::Review);
    // A listed address still blocks on its own, whatever the names.
    let listed = identified(TORNADO_ROUTER, &["John Smith"], PartyIdentifiers::default());
    assert_eq!(outcome(&s.screen(&listed, ())), Outcome::Block);
}

/// Counts calls; answers with a fixed level, or an outage.
struct FakeScreener {
    level: Option<RiskLevel>,
    calls: Cell<u32>,
}

impl ExternalScreener for FakeScreener {
    fn provider(&self) -> &str {
        "fake"
    }

    fn assess(&self, _: &AddressKey) -> Result<RiskAssessment, ComplianceError> {
        self.calls.set(self.calls.get() + 1);
        match self.level {
            Some(level) => Ok(RiskAssessment {
                level,
                categories: vec![],
                reference: None,
            }),
            None => Err(ComplianceError::ScreenerTimeout {
                provider: "fake".into(),
            }),
        }
    }
}

#[test]
fn external_risk_and_outages_hold_payments_and_allow_lists_only_silence_risk_scores() {
    let payer = AddressKey::parse(ORDINARY).unwrap();
    let allow = [CustomList::new(
        ListOwner::Operator,
        CustomListKind::Allow,
        [payer.clone()],
    )];
    let block = [CustomList::new(
        ListOwner::Operator,
        CustomListKind::Block,
        [payer],
    )];
    let table: [(Option<RiskLevel>, &[CustomList], Outcome); 7] = [
        (Some(RiskLevel::Low), &[], Outcome::Clear),
        (Some(RiskLevel::High), &[], Outcome::Review),
        (Some(RiskLevel::High), &allow, Outcome::Clear),
        (Some(RiskLevel::Severe), &allow, Outcome::Block),
        (None, &[], Outcome::Review),
        (None, &allow, Outcome::Review),
        (Some(RiskLevel::Low), &block, Outcome::Block),
    ];
    for (i, (level, custom, want)) in table.into_iter().enumerate() {
        let fake = FakeScreener {
            level,
            calls: Cell::new(0),
        };
        let got = outcome(&screener(custom, Some(&fake)).screen(&request(ORDINARY, &[]), ()));
        assert_eq!(got, want, "row {i}");
    }
    // A listed address is blocked without paying for an external call.
    let fake = FakeScreener {
        level: Some(RiskLevel::Low),
        calls: Cell::new(0),
    };
    let blocked = screener(&[], Some(&fake)).screen(&request(TORNADO_ROUTER, &[]), ());
    assert_eq!((outcome(&blocked), fake.calls.get()), (Outcome::Block, 0));
}

#[test]
fn only_reviewed_decisions_are_released_and_never_onto_a_listed_address() {
    let s = screener(&[], None);
    let held_request = request(ORDINARY, &["BNC"]);
    let Screened::InReview { decision, plan } = s.screen(&held_request, 1u8) else {
        panic!("BNC should be reviewed");
    };
    let released = s
        .release_after_review(&decision, &held_request, plan, "analyst@example", 1)
        .unwrap();
    assert_eq!(released.decision().outcome, Outcome::Clear);

    let blocked_request = request(TORNADO_ROUTER, &[]);
    let blocked = s.screen(&blocked_request, ()).decision().clone();
    assert!(s
        .release_after_review(&blocked, &blocked_request, (), "a", 1)
        .is_err());
    // A reviewed decision whose payer is now listed is refused too.
    let mut relisted = held_request.clone();
    relisted.addresses[0].address = AddressKey::parse(TORNADO_ROUTER).unwrap();
    assert!(s
        .release_after_review(&decision, &relisted, (), "a", 1)
        .is_err());
}

#[test]
fn tampering_with_any_recorded_decision_is_detected_at_that_record() {
    let s = screener(&[], None);
    let decisions: Vec<Decision> = [
        (ORDINARY, "Sophie Dubois"),
        (TORNADO_ROUTER, ""),
        (ORDINARY, "BNC"),
    ]
    .iter()
    .map(|(payer, name)| {
        let names: Vec<&str> = [*name].into_iter().filter(|n| !n.is_empty()).collect();
        s.screen(&request(payer, &names), ()).decision().clone()
    })
    .collect();
    let mut chain = AuditChain::genesis();
    let records: Vec<_> = decisions
        .iter()
        .enumerate()
        .map(|(i, d)| chain.append(AuditEntry::from_decision(d, &format!("pi_{i}"))))
        .collect();
    assert_eq!(verify_chain(&records), Ok(()));
    assert_eq!(
        records
            .iter()
            .map(|r| r.entry.outcome.as_str())
            .collect::<Vec<_>>(),
        ["clear", "block", "review"]
    );
    assert!(
        records[1].entry.detail.contains("sanctioned_address"),
        "{}",
        records[1].entry.detail
    );
    for index in 0..records.len() {
        // The edits an insider would make: soften the outcome, or scrub the evidence.
        let edits: [fn(&mut AuditEntry); 3] = [
            |e| e.outcome = "clear".into(),
            |e| e.detail = e.detail.replace("ofac", "none"),
            |e| e.subject = "pi_other".into(),
        ];
        for (k, edit) in edits.iter().enumerate() {
            let mut copy = records.clone();
            edit(&mut copy[index].entry);
            if copy[index] == records[index] {
                continue; // the edit did not apply to this record (it was already clear)
            }
            assert_eq!(
                verify_chain(&copy).map_err(|b| b.index),
                Err(index),
                "edit {k} on {index}"
            );
        }
    }
}
