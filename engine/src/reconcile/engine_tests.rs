use super::*;
use crate::ledger::Entry;
use rialto_core::id::MerchantId;
use rialto_core::ChainNamespace;

const EVM: ChainNamespace = ChainNamespace::Eip155;
const SOLANA: ChainNamespace = ChainNamespace::Solana;

const HOT: Addr = Addr::Evm([0x11; 20]);
const DEPOSIT: Addr = Addr::Evm([0x22; 20]);
const MERCHANT: Addr = Addr::Evm([0x33; 20]);
const PAYER: Addr = Addr::Evm([0x44; 20]);
const STRANGER: Addr = Addr::Evm([0x55; 20]);
const USDC: Addr = Addr::Evm([0xaa; 20]);
const EURC: Addr = Addr::Evm([0xbb; 20]);

fn tx(n: u8) -> TxHash {
    TxHash::Evm([n; 32])
}

struct Fixture {
    obs: Observations,
    chain: u32,
    other_chain: u32,
}

fn fixture() -> Fixture {
    let mut obs = Observations::new(Interner::default());
    let chain = obs.interner.intern("eip155:31338");
    let other_chain = obs.interner.intern("eip155:31339");
    let owner = Some(obs.interner.intern("mer_1"));
    let watch = |role| Watch { role, owner };
    obs.watch(chain, HOT, watch(Role::HotWallet));
    obs.watch(chain, DEPOSIT, watch(Role::Deposit));
    obs.watch(chain, MERCHANT, watch(Role::Settlement));
    Fixture {
        obs,
        chain,
        other_chain,
    }
}

fn log(chain: u32, tx: TxHash, li: u32, from: Addr, to: Addr, amount: u128) -> Observed {
    Observed {
        chain,
        tx,
        log_index: li,
        from,
        to,
        token: USDC,
        amount,
        block: 10,
    }
}

fn payment(chain: u32, tx: TxHash, li: u32, to: Addr, amount: u128) -> Expected {
    Expected {
        incoming: true,
        purpose: "payment".into(),
        reference: format!("pi_{}", tx.as_bytes()[0]),
        owner: None,
        chain,
        tx,
        log_index: Some(li),
        from: Some(PAYER),
        to: Some(to),
        token: USDC,
        amount,
        block: Some(10),
        must_be_observed: true,
        confirmed: true,
    }
}

fn leg(chain: u32, purpose: &str, tx: TxHash, from: Addr, to: Addr, amount: u128) -> Expected {
    Expected {
        incoming: false,
        purpose: purpose.into(),
        reference: format!("pi_{}", tx.as_bytes()[0]),
        owner: None,
        chain,
        tx,
        log_index: None,
        from: Some(from),
        to: Some(to),
        token: USDC,
        amount,
        block: Some(10),
        must_be_observed: true,
        confirmed: true,
    }
}

fn posting(kind: &str, reference: &str, amounts: &[&str]) -> Posting {
    Posting {
        id: format!("ltx_{kind}_{reference}"),
        merchant_id: MerchantId::generate(),
        livemode: false,
        kind: kind.into(),
        reference: reference.into(),
        created_at_ms: 0,
        entries: amounts
            .iter()
            .map(|a| Entry {
                account: crate::ledger::Account::Payers,
                asset: "eip155:31338/erc20:0xaa".into(),
                amount: a.parse().unwrap(),
            })
            .collect(),
    }
}

fn rules() -> Rules {
    Rules {
        ledger_kinds: vec![
            ("sweep".into(), "settlement".into()),
            ("refund".into(), "refund".into()),
            ("payout*".into(), "payout".into()),
        ],
    }
}

fn kinds(outcome: &Outcome) -> Vec<&'static str> {
    let mut k: Vec<_> = outcome.exceptions.iter().map(|x| x.kind.as_str()).collect();
    k.sort_unstable();
    k
}

/// A month in miniature: a deposit payment swept, a direct payment, a refund, with postings.
fn clean(f: &mut Fixture) -> (Vec<Expected>, Vec<Posting>) {
    let c = f.chain;
    f.obs.push(log(c, tx(1), 0, PAYER, DEPOSIT, 25_000_000));
    f.obs.push(log(c, tx(2), 3, DEPOSIT, MERCHANT, 25_000_000));
    f.obs.push(log(c, tx(3), 1, PAYER, MERCHANT, 10_000_000));
    f.obs.push(log(c, tx(4), 0, HOT, PAYER, 5_000_000));
    // Someone else's transfer in a scanned block: not ours, not reported.
    f.obs.push(log(c, tx(5), 0, STRANGER, PAYER, 7));
    let expected = vec![
        payment(c, tx(1), 0, DEPOSIT, 25_000_000),
        leg(c, "sweep", tx(2), DEPOSIT, MERCHANT, 25_000_000),
        payment(c, tx(3), 1, MERCHANT, 10_000_000),
        leg(c, "refund", tx(4), HOT, PAYER, 5_000_000),
    ];
    let postings = vec![
        posting("payment", "pi_1", &["-25", "25"]),
        posting("settlement", "pi_2", &["-25", "25"]),
        posting("refund", "pi_4", &["-5", "5"]),
    ];
    (expected, postings)
}

fn run(f: Fixture, expected: &[Expected], postings: &[Posting]) -> Outcome {
    let mut r = f.obs.seal(rules());
    for e in expected {
        r.expect(e);
    }
    for p in postings {
        r.ledger_transaction(p);
    }
    r.finish()
}

#[test]
fn a_clean_month_has_no_exceptions_and_every_transfer_matches() {
    let mut f = fixture();
    let (expected, postings) = clean(&mut f);
    let outcome = run(f, &expected, &postings);
    assert_eq!(outcome.exceptions, vec![], "no false positives");
    assert_eq!(outcome.matched, 4);
    assert_eq!((outcome.expected, outcome.observed), (4, 5));
    assert_eq!(outcome.ledger_transactions, 3);
}

#[test]
fn a_confirmed_leg_that_never_reached_the_chain_is_missing() {
    let mut f = fixture();
    let (mut expected, postings) = clean(&mut f);
    expected.push(leg(f.chain, "payout_batch", tx(9), HOT, MERCHANT, 1));
    let mut postings = postings;
    postings.push(posting("payout", "pi_9", &["-1", "1"]));
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["missing"]);
    assert_eq!(outcome.exceptions[0].reference.as_deref(), Some("pi_9"));
    assert_eq!(outcome.exceptions[0].expected_units, Some(1));
}

#[test]
fn open_legs_may_be_absent_and_match_when_present() {
    let mut f = fixture();
    let (mut expected, postings) = clean(&mut f);
    let mut absent = leg(f.chain, "refund", tx(8), HOT, PAYER, 3);
    absent.must_be_observed = false;
    absent.confirmed = false;
    let mut landed = leg(f.chain, "refund", tx(7), HOT, PAYER, 3);
    landed.must_be_observed = false;
    landed.confirmed = false;
    f.obs.push(log(f.chain, tx(7), 0, HOT, PAYER, 3));
    expected.extend([absent, landed]);
    let outcome = run(f, &expected, &postings);
    assert_eq!(outcome.exceptions, vec![]);
    assert_eq!(outcome.matched, 5);
}

#[test]
fn a_payment_split_over_two_logs_matches_its_recorded_sum() {
    let mut f = fixture();
    let (mut expected, postings) = clean(&mut f);
    f.obs.push(log(f.chain, tx(50), 0, PAYER, MERCHANT, 4));
    f.obs.push(log(f.chain, tx(50), 1, PAYER, MERCHANT, 6));
    expected.push(payment(f.chain, tx(50), 0, MERCHANT, 10));
    let outcome = run(f, &expected, &postings);
    assert_eq!(outcome.exceptions, vec![]);
    assert_eq!(outcome.matched, 5);
}

#[test]
fn a_payment_for_less_than_recorded_is_an_amount_mismatch() {
    let mut f = fixture();
    let (mut expected, postings) = clean(&mut f);
    expected[2].amount = 10_000_001;
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["amount_mismatch"]);
    assert_eq!(outcome.exceptions[0].observed_units, Some(10_000_000));
}

#[test]
fn a_different_amount_on_chain_is_an_amount_mismatch() {
    let mut f = fixture();
    let (mut expected, postings) = clean(&mut f);
    expected[1].amount = 26_000_000;
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["amount_mismatch"]);
    let x = &outcome.exceptions[0];
    assert_eq!(
        (x.expected_units, x.observed_units, x.log_index),
        (Some(26_000_000), Some(25_000_000), Some(3))
    );
}

#[test]
fn two_transfers_for_one_leg_in_its_transaction_are_a_duplicate() {
    let mut f = fixture();
    let (expected, postings) = clean(&mut f);
    f.obs
        .push(log(f.chain, tx(2), 4, DEPOSIT, MERCHANT, 25_000_000));
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["duplicate"]);
    assert_eq!(outcome.exceptions[0].observed_units, Some(50_000_000));
}

#[test]
fn one_transfer_claimed_by_two_records_is_a_duplicate() {
    let mut f = fixture();
    let (mut expected, postings) = clean(&mut f);
    let mut twice = payment(f.chain, tx(3), 1, MERCHANT, 10_000_000);
    twice.reference = "pi_other".into();
    expected.push(twice);
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["duplicate"]);
    assert_eq!(outcome.exceptions[0].reference.as_deref(), Some("pi_other"));
}

#[test]
fn the_same_leg_sent_again_in_another_transaction_is_a_duplicate() {
    let mut f = fixture();
    let (expected, postings) = clean(&mut f);
    f.obs.push(log(f.chain, tx(6), 0, HOT, PAYER, 5_000_000));
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["duplicate"]);
    assert_eq!(outcome.exceptions[0].reference.as_deref(), Some("pi_4"));
    assert_eq!(outcome.exceptions[0].tx, Some(tx(6)));
}

#[test]
fn money_arriving_at_a_deposit_or_settlement_address_unbound_is_an_unexpected_inflow() {
    let mut f = fixture();
    let (expected, postings) = clean(&mut f);
    f.obs
        .push(log(f.chain, tx(20), 0, STRANGER, DEPOSIT, 1_000_000));
    f.obs
        .push(log(f.chain, tx(21), 0, STRANGER, MERCHANT, 2_000_000));
    // Same address on another chain is not watched there.
    f.obs
        .push(log(f.other_chain, tx(22), 0, STRANGER, DEPOSIT, 3));
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["unexpected_inflow", "unexpected_inflow"]);
    assert!(outcome.exceptions.iter().all(|x| x.owner.is_some()));
}

#[test]
fn money_leaving_a_gateway_address_without_a_record_is_an_unexpected_outflow() {
    let mut f = fixture();
    let (expected, postings) = clean(&mut f);
    f.obs.push(log(f.chain, tx(30), 0, DEPOSIT, STRANGER, 9));
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["unexpected_outflow"]);
}

#[test]
fn a_transfer_of_another_token_is_a_wrong_asset() {
    let mut f = fixture();
    let (mut expected, postings) = clean(&mut f);
    expected[3].token = EURC;
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["wrong_asset"]);
    assert_eq!(outcome.exceptions[0].token, Some(EURC), "what was expected");
}

#[test]
fn a_transaction_found_on_another_chain_is_a_wrong_chain() {
    let mut f = fixture();
    let (mut expected, postings) = clean(&mut f);
    f.obs
        .push(log(f.other_chain, tx(40), 0, PAYER, MERCHANT, 4));
    expected.push(payment(f.chain, tx(40), 0, MERCHANT, 4));
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["wrong_chain"]);
}

#[test]
fn an_unbalanced_ledger_transaction_and_a_leg_without_its_posting_are_reported() {
    let mut f = fixture();
    let (expected, mut postings) = clean(&mut f);
    postings.retain(|p| p.kind != "refund");
    postings.push(posting("payment", "pi_x", &["-25", "24.999999"]));
    let outcome = run(f, &expected, &postings);
    assert_eq!(kinds(&outcome), ["ledger_unbalanced", "missing_posting"]);
    let unbalanced = outcome
        .exceptions
        .iter()
        .find(|x| x.kind == ExceptionKind::LedgerUnbalanced)
        .unwrap();
    assert_eq!(unbalanced.ledger_sum, Some("-0.000001".parse().unwrap()));
    let missing = outcome
        .exceptions
        .iter()
        .find(|x| x.kind == ExceptionKind::MissingPosting)
        .unwrap();
    assert_eq!(missing.reference.as_deref(), Some("pi_4"));
}

#[test]
fn purposes_are_data_and_prefix_rules_match_new_ones() {
    let r = rules();
    assert_eq!(r.ledger_kind("payout_batch"), Some("payout"));
    assert_eq!(r.ledger_kind("sweep"), Some("settlement"));
    assert_eq!(r.ledger_kind("sweep_gas"), None);
    for kind in ExceptionKind::ALL {
        assert_eq!(ExceptionKind::parse(kind.as_str()), Some(kind));
    }
}

#[test]
fn hex_parsing_is_case_blind_and_length_checked() {
    let a = parse_addr("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", EVM).unwrap();
    assert_eq!(
        Some(a),
        parse_addr("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", EVM)
    );
    assert_eq!(parse_addr("0x5aaeb6", EVM), None);
    assert_eq!(parse_tx_hash("deadbeef", EVM), None);
    assert_eq!(
        addr_text(&a),
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".to_owned()
    );
}

/// A Solana signature (64 bytes in base58), the mainnet USDC mint and a wallet.
fn sig() -> String {
    bs58::encode([0xa5u8; 64]).into_string()
}
const SOL_USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
const SOL_MERCHANT: &str = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM";

#[test]
fn solana_signatures_and_keys_are_read_as_base58_and_case_sensitive() {
    let text = sig();
    let sig = parse_tx_hash(&text, SOLANA).expect("a 64-byte signature");
    assert_eq!(sig, TxHash::Solana([0xa5; 64]));
    assert_eq!(sig.to_string(), text, "printed back as written");
    let key = parse_addr(SOL_MERCHANT, SOLANA).expect("a 32-byte key");
    assert_eq!(addr_text(&key), SOL_MERCHANT);
    // One letter's case changed is another key (or none), never the same one.
    let flipped = SOL_MERCHANT.replacen('W', "w", 1);
    assert_ne!(parse_addr(&flipped, SOLANA), Some(key));
    // The families do not read each other's texts.
    assert_eq!(parse_tx_hash(&text, EVM), None);
    assert_eq!(parse_addr(SOL_MERCHANT, EVM), None);
    assert_eq!(
        parse_tx_hash(&format!("0x{}", "ab".repeat(32)), SOLANA),
        None
    );
    // A 32-byte base58 text is a key, not a signature.
    assert_eq!(parse_tx_hash(SOL_MERCHANT, SOLANA), None);
}

#[test]
fn a_solana_payment_matches_its_balance_change_and_an_unbooked_one_is_reported_with_its_slot() {
    let mut obs = Observations::new(Interner::default());
    let chain = obs.interner.intern("solana:simnet");
    let owner = Some(obs.interner.intern("mer_1"));
    let merchant = parse_addr(SOL_MERCHANT, SOLANA).unwrap();
    let mint = parse_addr(SOL_USDC, SOLANA).unwrap();
    let payer = Addr::Solana([7; 32]);
    obs.watch(
        chain,
        merchant,
        Watch {
            role: Role::Settlement,
            owner,
        },
    );
    let paid = parse_tx_hash(&sig(), SOLANA).unwrap();
    let stray = TxHash::Solana([9; 64]);
    let change = |tx, amount, slot| Observed {
        chain,
        tx,
        log_index: 0,
        from: payer,
        to: merchant,
        token: mint,
        amount,
        block: slot,
    };
    obs.push(change(paid, 25_000_000, 40));
    obs.push(change(stray, 1_500_000, 41));
    let mut engine = obs.seal(rules());
    engine.expect(&Expected {
        incoming: true,
        purpose: "payment".into(),
        reference: "pi_sol".into(),
        owner,
        chain,
        tx: paid,
        log_index: Some(0),
        from: Some(payer),
        to: Some(merchant),
        token: mint,
        amount: 25_000_000,
        block: Some(40),
        must_be_observed: true,
        confirmed: true,
    });
    let outcome = engine.finish();
    assert_eq!(
        (outcome.expected, outcome.observed, outcome.matched),
        (1, 2, 1)
    );
    assert_eq!(kinds(&outcome), ["unexpected_inflow"]);
    let x = &outcome.exceptions[0];
    assert_eq!(x.tx, Some(stray));
    assert_eq!(x.block, Some(41), "the slot it landed in");
    assert!(x.detail.contains(&addr_text(&payer)), "{}", x.detail);
}
