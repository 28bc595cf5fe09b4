//! Reconciles a synthetic month through the engine and checks it found exactly what was seeded.
//!
//! `cargo run --release -p rialto-gateway --example reconcile_bench -- <lines>` (default
//! 1,000,000): `lines / 4` deposit payments, each with its payment and settlement postings (4
//! ledger lines), its payment transfer and its sweep (2 expected transfers), and 2 transfers of
//! other people's traffic in the same blocks (observed, to be ignored) — so `lines` ledger lines
//! and `lines` observed transfers. Discrepancies of every kind are seeded on distinct payments
//! chosen with a fixed seed; the run must report each of them and nothing else. Prints the
//! phases' times and the peak resident memory (VmHWM).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use rialto_core::id::MerchantId;
use rialto_gateway::ledger::{Account, Entry, Posting};
use rialto_gateway::reconcile::engine::{
    Addr, ExceptionKind, Expected, Interner, Observations, Observed, Outcome, Role, Rules, TxHash,
    Watch,
};

const USDC: Addr = Addr::Evm([0xaa; 20]);
const EURC: Addr = Addr::Evm([0xbb; 20]);
const HOT: Addr = Addr::Evm([0x01; 20]);
const MERCHANTS: u64 = 100;
const SEED: u64 = 0x5eed_2026;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn addr(tag: u8, n: u64) -> Addr {
    let mut a = [0u8; 20];
    a[0] = tag;
    a[12..].copy_from_slice(&n.to_be_bytes());
    Addr::Evm(a)
}

fn tx(tag: u8, n: u64) -> TxHash {
    let mut t = [0u8; 32];
    t[0] = tag;
    t[24..].copy_from_slice(&n.to_be_bytes());
    TxHash::Evm(t)
}

fn amount(i: u64) -> u128 {
    u128::from(1_000_000 + splitmix(i ^ SEED) % 1_000_000_000)
}

fn reference(i: u64) -> String {
    format!("pi_{i:010}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seed {
    Missing,
    AmountMismatch,
    DuplicateInTx,
    DuplicateClaim,
    DuplicateResent,
    UnexpectedInflow,
    UnexpectedOutflow,
    WrongAsset,
    WrongChain,
    Unbalanced,
    MissingPosting,
}

const SEEDS: [Seed; 11] = [
    Seed::Missing,
    Seed::AmountMismatch,
    Seed::DuplicateInTx,
    Seed::DuplicateClaim,
    Seed::DuplicateResent,
    Seed::UnexpectedInflow,
    Seed::UnexpectedOutflow,
    Seed::WrongAsset,
    Seed::WrongChain,
    Seed::Unbalanced,
    Seed::MissingPosting,
];

/// Which payments carry which discrepancy: `per_kind` distinct payments each.
fn choose(intents: u64, per_kind: usize) -> BTreeMap<u64, Seed> {
    let mut chosen = BTreeMap::new();
    let mut state = SEED;
    for seed in SEEDS {
        let mut n = 0;
        while n < per_kind {
            state = splitmix(state);
            let i = state % intents;
            if let std::collections::btree_map::Entry::Vacant(slot) = chosen.entry(i) {
                slot.insert(seed);
                n += 1;
            }
        }
    }
    chosen
}

struct World {
    intents: u64,
    chain: u32,
    other_chain: u32,
    merchants: Vec<MerchantId>,
    owners: Vec<u32>,
    seeded: BTreeMap<u64, Seed>,
}

impl World {
    fn deposit(&self, i: u64) -> Addr {
        addr(0xd0, i)
    }
    fn merchant_addr(&self, i: u64) -> Addr {
        addr(0xe0, i % MERCHANTS)
    }
    fn payer(&self, i: u64) -> Addr {
        addr(0xf0, i)
    }
    fn seed(&self, i: u64) -> Option<Seed> {
        self.seeded.get(&i).copied()
    }
}

fn observe(w: &World, obs: &mut Observations) {
    for i in 0..w.intents {
        let seed = w.seed(i);
        let a = amount(i);
        let log = |chain, t, li, from, to, token, amount| Observed {
            chain,
            tx: t,
            log_index: li,
            from,
            to,
            token,
            amount,
            block: i / 16,
        };
        let pay_chain = if seed == Some(Seed::WrongChain) {
            w.other_chain
        } else {
            w.chain
        };
        let paid = if seed == Some(Seed::AmountMismatch) {
            a + 1
        } else {
            a
        };
        obs.push(log(
            pay_chain,
            tx(1, i),
            0,
            w.payer(i),
            w.deposit(i),
            USDC,
            paid,
        ));
        let token = if seed == Some(Seed::WrongAsset) {
            EURC
        } else {
            USDC
        };
        if seed != Some(Seed::Missing) {
            obs.push(log(
                w.chain,
                tx(2, i),
                1,
                w.deposit(i),
                w.merchant_addr(i),
                token,
                a,
            ));
        }
        match seed {
            Some(Seed::DuplicateInTx) => obs.push(log(
                w.chain,
                tx(2, i),
                2,
                w.deposit(i),
                w.merchant_addr(i),
                USDC,
                a,
            )),
            Some(Seed::DuplicateResent) => obs.push(log(
                w.chain,
                tx(7, i),
                0,
                w.deposit(i),
                w.merchant_addr(i),
                USDC,
                a,
            )),
            Some(Seed::UnexpectedInflow) => obs.push(log(
                w.chain,
                tx(8, i),
                0,
                addr(0x99, i),
                w.deposit(i),
                USDC,
                5,
            )),
            Some(Seed::UnexpectedOutflow) => obs.push(log(
                w.chain,
                tx(9, i),
                0,
                w.deposit(i),
                addr(0x99, i),
                USDC,
                5,
            )),
            _ => {}
        }
        // Other people's transfers in the same blocks: never ours, never reported.
        for k in 0..2u64 {
            let n = i * 2 + k;
            obs.push(log(
                w.chain,
                tx(3, n),
                0,
                addr(0x77, n),
                addr(0x78, n),
                USDC,
                9,
            ));
        }
    }
}

fn expect_all(w: &World, engine: &mut rialto_gateway::reconcile::engine::Reconciler) {
    for i in 0..w.intents {
        let a = amount(i);
        let owner = Some(w.owners[(i % MERCHANTS) as usize]);
        let payment = Expected {
            incoming: true,
            purpose: "payment".into(),
            reference: reference(i),
            owner,
            chain: w.chain,
            tx: tx(1, i),
            log_index: Some(0),
            from: Some(w.payer(i)),
            to: Some(w.deposit(i)),
            token: USDC,
            amount: a,
            block: None,
            must_be_observed: true,
            confirmed: true,
        };
        engine.expect(&payment);
        if w.seed(i) == Some(Seed::DuplicateClaim) {
            let twice = Expected {
                reference: format!("{}_again", reference(i)),
                ..payment.clone()
            };
            engine.expect(&twice);
        }
        engine.expect(&Expected {
            incoming: false,
            purpose: "sweep".into(),
            tx: tx(2, i),
            log_index: None,
            from: Some(w.deposit(i)),
            to: Some(w.merchant_addr(i)),
            ..payment
        });
    }
}

/// Feeds every posting; answers the ledger lines fed.
fn post_all(w: &World, engine: &mut rialto_gateway::reconcile::engine::Reconciler) -> u64 {
    let mut lines = 0u64;
    let asset = "eip155:8453/erc20:0x833589fcd6edb6e08f4c7c32d4f71b54bda02913";
    for i in 0..w.intents {
        let merchant = w.merchants[(i % MERCHANTS) as usize];
        let amount = rust_decimal::Decimal::from_i128_with_scale(amount(i) as i128, 6);
        let seed = w.seed(i);
        for kind in ["payment", "settlement"] {
            if kind == "settlement" && seed == Some(Seed::MissingPosting) {
                continue;
            }
            let credit = if kind == "payment" && seed == Some(Seed::Unbalanced) {
                amount - rust_decimal::Decimal::new(1, 6)
            } else {
                amount
            };
            let entry = |account: Account, amount| Entry {
                account,
                asset: asset.to_owned(),
                amount,
            };
            let (from, to) = match kind {
                "payment" => (Account::Payers, Account::MerchantBalance(merchant)),
                _ => (
                    Account::MerchantBalance(merchant),
                    Account::MerchantSettled(merchant),
                ),
            };
            lines += 2;
            engine.ledger_transaction(&Posting {
                id: format!("ltx_{kind}_{i}"),
                merchant_id: merchant,
                livemode: false,
                kind: kind.into(),
                reference: reference(i),
                created_at_ms: 1_800_000_000_000 + i64::try_from(i).unwrap_or(0),
                entries: vec![entry(from, -amount), entry(to, credit)],
            });
        }
    }
    lines
}

/// (kind, key) of what the run must find: the reference, or the stray transaction.
fn wanted(w: &World) -> BTreeSet<(ExceptionKind, String)> {
    w.seeded
        .iter()
        .map(|(&i, seed)| match seed {
            Seed::Missing => (ExceptionKind::Missing, reference(i)),
            Seed::AmountMismatch => (ExceptionKind::AmountMismatch, reference(i)),
            Seed::DuplicateInTx | Seed::DuplicateResent => (ExceptionKind::Duplicate, reference(i)),
            Seed::DuplicateClaim => (ExceptionKind::Duplicate, format!("{}_again", reference(i))),
            Seed::UnexpectedInflow => (ExceptionKind::UnexpectedInflow, tx(8, i).to_string()),
            Seed::UnexpectedOutflow => (ExceptionKind::UnexpectedOutflow, tx(9, i).to_string()),
            Seed::WrongAsset => (ExceptionKind::WrongAsset, reference(i)),
            Seed::WrongChain => (ExceptionKind::WrongChain, reference(i)),
            Seed::Unbalanced => (ExceptionKind::LedgerUnbalanced, reference(i)),
            Seed::MissingPosting => (ExceptionKind::MissingPosting, reference(i)),
        })
        .collect()
}

fn found(outcome: &Outcome) -> Vec<(ExceptionKind, String)> {
    outcome
        .exceptions
        .iter()
        .map(|x| {
            let key = match x.kind {
                ExceptionKind::UnexpectedInflow | ExceptionKind::UnexpectedOutflow => {
                    x.tx.map(|t| t.to_string()).unwrap_or_default()
                }
                _ => x.reference.clone().unwrap_or_default(),
            };
            (x.kind, key)
        })
        .collect()
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "VmHWM: unknown".into())
}

fn main() {
    let lines: u64 = std::env::args()
        .nth(1)
        .map(|a| {
            a.replace('_', "")
                .parse()
                .expect("<lines> must be a number")
        })
        .unwrap_or(1_000_000);
    let per_kind = (lines / 80_000).clamp(3, 50);
    // Each missing-posting seed drops one 2-line posting: a few more payments keep the ledger
    // at `lines` or more.
    let intents = (lines.div_ceil(4) + per_kind).max(100);
    let per_kind = usize::try_from(per_kind).unwrap_or(3);
    let mut interner = Interner::default();
    let chain = interner.intern("eip155:8453");
    let other_chain = interner.intern("eip155:1");
    let merchants: Vec<MerchantId> = (0..MERCHANTS).map(|_| MerchantId::generate()).collect();
    let owners = merchants
        .iter()
        .map(|m| interner.intern(&m.to_string()))
        .collect();
    let world = World {
        intents,
        chain,
        other_chain,
        merchants,
        owners,
        seeded: choose(intents, per_kind),
    };
    let started = Instant::now();
    let mut obs = Observations::new(interner);
    obs.watch(
        chain,
        HOT,
        Watch {
            role: Role::HotWallet,
            owner: None,
        },
    );
    for i in 0..MERCHANTS {
        let owner = Some(world.owners[i as usize]);
        obs.watch(
            chain,
            world.merchant_addr(i),
            Watch {
                role: Role::Settlement,
                owner,
            },
        );
    }
    for i in 0..intents {
        let owner = Some(world.owners[(i % MERCHANTS) as usize]);
        obs.watch(
            chain,
            world.deposit(i),
            Watch {
                role: Role::Deposit,
                owner,
            },
        );
    }
    observe(&world, &mut obs);
    let observed = obs.len();
    let generated = started.elapsed();

    let t = Instant::now();
    let rules = Rules {
        ledger_kinds: vec![("sweep".into(), "settlement".into())],
    };
    let mut engine = obs.seal(rules);
    let sealed = t.elapsed();
    let t = Instant::now();
    expect_all(&world, &mut engine);
    let expected_time = t.elapsed();
    let t = Instant::now();
    let ledger_lines = post_all(&world, &mut engine);
    let ledger_time = t.elapsed();
    let t = Instant::now();
    let outcome = engine.finish();
    let finished = t.elapsed();
    let reconcile = sealed + expected_time + ledger_time + finished;

    let want = wanted(&world);
    let got = found(&outcome);
    let got_set: BTreeSet<_> = got.iter().cloned().collect();
    let missed: Vec<_> = want.difference(&got_set).collect();
    let false_ones: Vec<_> = got_set.difference(&want).collect();
    let unique: HashSet<_> = got.iter().collect();
    println!("ledger lines:       {ledger_lines}");
    println!("ledger txs:         {}", outcome.ledger_transactions);
    println!("observed transfers: {observed}");
    println!("expected transfers: {}", outcome.expected);
    println!("matched:            {}", outcome.matched);
    println!(
        "seeded exceptions:  {} ({per_kind} of each of {} seeds)",
        want.len(),
        SEEDS.len()
    );
    println!("found exceptions:   {}", outcome.exceptions.len());
    println!("generate:           {:.3} s", generated.as_secs_f64());
    println!("seal (sort):        {:.3} s", sealed.as_secs_f64());
    println!("expected pass:      {:.3} s", expected_time.as_secs_f64());
    println!("ledger pass:        {:.3} s", ledger_time.as_secs_f64());
    println!("finish:             {:.3} s", finished.as_secs_f64());
    println!("reconcile total:    {:.3} s", reconcile.as_secs_f64());
    println!("peak memory:        {}", peak_rss());
    assert!(missed.is_empty(), "seeded but not found: {missed:?}");
    assert!(
        false_ones.is_empty(),
        "found but not seeded: {false_ones:?}"
    );
    assert_eq!(unique.len(), got.len(), "each reported once");
    println!("OK: every seeded exception found, no false ones");
}
