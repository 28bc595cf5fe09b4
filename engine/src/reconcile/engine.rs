//! The reconciliation engine: pure, no IO. It compares what the gateway's records say should
//! have happened on chain (expected transfers: every outgoing leg of `chain_transfers`, every
//! incoming payment of `payment_transactions`) with what did happen (observed ERC-20
//! `Transfer` logs), and checks the ledger (every transaction balances per asset; every
//! confirmed leg with a ledger meaning has its posting).
//!
//! Built for a month of traffic in one pass: observations are packed (hashes and addresses as
//! bytes, chains and labels interned), sorted once (O(n log n)) and searched by binary search;
//! expected transfers and ledger transactions are streamed through one at a time and never
//! kept, so memory is the observations plus a few hash sets.
//!
//! Purposes are data: the engine only knows a leg is outgoing and what it is called; which
//! purposes must have a ledger posting is passed in ([`Rules::ledger_kinds`]).

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use crate::ledger::Posting;

pub use super::keys::{addr_text, hex0x, parse_addr, parse_tx_hash, Addr, TxHash};

/// Small ids for the few distinct chains, purposes and merchants.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    pub fn name(&self, id: u32) -> &str {
        self.names
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// One observed `Transfer` log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub chain: u32,
    pub tx: TxHash,
    pub log_index: u32,
    pub from: Addr,
    pub to: Addr,
    pub token: Addr,
    pub amount: u128,
    /// Block number (Solana: slot).
    pub block: u64,
}

/// One transfer the gateway's records say happened (or may have, for open legs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// An incoming payment (`payment_transactions`) rather than an outgoing leg.
    pub incoming: bool,
    /// The leg's purpose (`sweep`, `refund`, `payout_…`) or `payment` for incoming ones.
    pub purpose: String,
    /// The leg's reference, or the payment intent an incoming payment is bound to.
    pub reference: String,
    /// The merchant the money belongs to, when known.
    pub owner: Option<u32>,
    pub chain: u32,
    pub tx: TxHash,
    /// Known for incoming payments (informational: a payment is matched by its transaction,
    /// recipient and token); outgoing legs are matched by content within their transaction.
    pub log_index: Option<u32>,
    pub from: Option<Addr>,
    pub to: Option<Addr>,
    pub token: Addr,
    pub amount: u128,
    /// Block number (Solana: slot) the records say it was mined in, if they know it.
    pub block: Option<u64>,
    /// Confirmed within the run's range: it must be on chain. Open legs may be.
    pub must_be_observed: bool,
    /// Confirmed: needs its ledger posting if its purpose has a ledger meaning.
    pub confirmed: bool,
}

/// What kind of address the gateway watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The gateway's hot wallet.
    HotWallet,
    /// A per-intent deposit address (the gateway holds its key).
    Deposit,
    /// A merchant's settlement address (the merchant holds its key).
    Settlement,
}

impl Role {
    pub fn gateway_controlled(self) -> bool {
        matches!(self, Role::HotWallet | Role::Deposit)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watch {
    pub role: Role,
    pub owner: Option<u32>,
}

/// What the engine is told besides the data.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Purpose → ledger kind a confirmed leg of that purpose must have a posting of, under the
    /// leg's reference. A key ending in `*` matches every purpose with that prefix.
    pub ledger_kinds: Vec<(String, String)>,
}

impl Rules {
    pub fn ledger_kind(&self, purpose: &str) -> Option<&str> {
        self.ledger_kinds
            .iter()
            .find(|(p, _)| match p.strip_suffix('*') {
                Some(prefix) => purpose.starts_with(prefix),
                None => p == purpose,
            })
            .map(|(_, kind)| kind.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExceptionKind {
    Missing,
    AmountMismatch,
    Duplicate,
    UnexpectedInflow,
    UnexpectedOutflow,
    WrongAsset,
    WrongChain,
    LedgerUnbalanced,
    MissingPosting,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 9] = [
        ExceptionKind::Missing,
        ExceptionKind::AmountMismatch,
        ExceptionKind::Duplicate,
        ExceptionKind::UnexpectedInflow,
        ExceptionKind::UnexpectedOutflow,
        ExceptionKind::WrongAsset,
        ExceptionKind::WrongChain,
        ExceptionKind::LedgerUnbalanced,
        ExceptionKind::MissingPosting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::Missing => "missing",
            ExceptionKind::AmountMismatch => "amount_mismatch",
            ExceptionKind::Duplicate => "duplicate",
            ExceptionKind::UnexpectedInflow => "unexpected_inflow",
            ExceptionKind::UnexpectedOutflow => "unexpected_outflow",
            ExceptionKind::WrongAsset => "wrong_asset",
            ExceptionKind::WrongChain => "wrong_chain",
            ExceptionKind::LedgerUnbalanced => "ledger_unbalanced",
            ExceptionKind::MissingPosting => "missing_posting",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One discrepancy. Chain amounts are base units; `ledger_sum` is in whole units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub kind: ExceptionKind,
    pub chain: Option<u32>,
    pub tx: Option<TxHash>,
    pub log_index: Option<u32>,
    /// Block number (Solana: slot): on chain where observed, else as recorded.
    pub block: Option<u64>,
    pub expected_units: Option<u128>,
    pub observed_units: Option<u128>,
    /// The token contract the amounts are of.
    pub token: Option<Addr>,
    /// CAIP-19, for ledger exceptions.
    pub asset: Option<String>,
    pub reference: Option<String>,
    pub purpose: Option<String>,
    pub owner: Option<u32>,
    pub livemode: Option<bool>,
    pub ledger_sum: Option<Decimal>,
    pub detail: String,
}

impl Exception {
    fn new(kind: ExceptionKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            chain: None,
            tx: None,
            log_index: None,
            block: None,
            expected_units: None,
            observed_units: None,
            token: None,
            asset: None,
            reference: None,
            purpose: None,
            owner: None,
            livemode: None,
            ledger_sum: None,
            detail: detail.into(),
        }
    }

    fn of_expected(kind: ExceptionKind, e: &Expected, detail: impl Into<String>) -> Self {
        Self {
            chain: Some(e.chain),
            tx: Some(e.tx),
            log_index: e.log_index,
            block: e.block,
            expected_units: Some(e.amount),
            token: Some(e.token),
            reference: Some(e.reference.clone()),
            purpose: Some(e.purpose.clone()),
            owner: e.owner,
            ..Self::new(kind, detail)
        }
    }

    fn of_observed(kind: ExceptionKind, o: &Observed, detail: impl Into<String>) -> Self {
        Self {
            chain: Some(o.chain),
            tx: Some(o.tx),
            log_index: Some(o.log_index),
            block: Some(o.block),
            observed_units: Some(o.amount),
            token: Some(o.token),
            ..Self::new(kind, detail)
        }
    }
}

/// What a run found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub expected: u64,
    pub observed: u64,
    pub matched: u64,
    pub ledger_transactions: u64,
    pub exceptions: Vec<Exception>,
}

/// Collects observations; [`Observations::seal`] sorts them and starts reconciling.
#[derive(Debug, Default)]
pub struct Observations {
    pub interner: Interner,
    observed: Vec<Observed>,
    watched: HashMap<(u32, Addr), Watch>,
}

impl Observations {
    pub fn new(interner: Interner) -> Self {
        Self {
            interner,
            ..Self::default()
        }
    }

    /// An address whose inflows (and, if gateway-controlled, outflows) must all be explained.
    /// A gateway-controlled role wins over a settlement role for the same address.
    pub fn watch(&mut self, chain: u32, address: Addr, watch: Watch) {
        let slot = self.watched.entry((chain, address)).or_insert(watch);
        if watch.role.gateway_controlled() && !slot.role.gateway_controlled() {
            *slot = watch;
        }
    }

    pub fn is_watched(&self, chain: u32, address: &Addr) -> bool {
        self.watched.contains_key(&(chain, *address))
    }

    pub fn push(&mut self, observed: Observed) {
        self.observed.push(observed);
    }

    pub fn len(&self) -> usize {
        self.observed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.observed.is_empty()
    }

    pub fn seal(mut self, rules: Rules) -> Reconciler {
        self.observed
            .sort_unstable_by_key(|o| (o.tx, o.chain, o.log_index));
        // The same log reported twice (overlapping scans) is one log.
        self.observed.dedup_by_key(|o| (o.tx, o.chain, o.log_index));
        let claimed = vec![UNCLAIMED; self.observed.len()];
        Reconciler {
            interner: self.interner,
            observed: self.observed,
            watched: self.watched,
            claimed,
            rules,
            sent: HashMap::new(),
            postings_needed: HashMap::new(),
            postings_seen: HashSet::new(),
            next_seq: 0,
            outcome: Outcome::default(),
        }
    }
}

const UNCLAIMED: u32 = u32::MAX;

/// The signature of a sent transfer, to recognise the same payment sent twice.
type SendKey = (u32, Addr, Addr, Addr, u128);

/// Streams expected transfers and ledger transactions against sealed observations.
#[derive(Debug)]
pub struct Reconciler {
    pub interner: Interner,
    observed: Vec<Observed>,
    watched: HashMap<(u32, Addr), Watch>,
    /// Per observation, the sequence number of the expected transfer that claimed it.
    claimed: Vec<u32>,
    rules: Rules,
    sent: HashMap<SendKey, String>,
    /// (ledger kind, reference) → the leg that needs it.
    postings_needed: HashMap<(String, String), (Option<u32>, u32, TxHash)>,
    postings_seen: HashSet<(String, String)>,
    next_seq: u32,
    outcome: Outcome,
}

impl Reconciler {
    /// Observations with this tx hash, any chain, in (chain, log index) order.
    fn by_tx(&self, tx: &TxHash) -> std::ops::Range<usize> {
        let start = self.observed.partition_point(|o| o.tx < *tx);
        let end = start + self.observed[start..].partition_point(|o| o.tx == *tx);
        start..end
    }

    /// Reconciles one expected transfer against the observations.
    pub fn expect(&mut self, e: &Expected) {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        self.outcome.expected += 1;
        if e.confirmed {
            if let Some(kind) = self.rules.ledger_kind(&e.purpose) {
                self.postings_needed.insert(
                    (kind.to_owned(), e.reference.clone()),
                    (e.owner, e.chain, e.tx),
                );
            }
        }
        let range = self.by_tx(&e.tx);
        let same_chain: Vec<usize> = range
            .clone()
            .filter(|&i| self.observed[i].chain == e.chain)
            .collect();
        if same_chain.is_empty() {
            if let Some(i) = range.clone().next() {
                let other = self.interner.name(self.observed[i].chain).to_owned();
                let mut x = Exception::of_expected(
                    ExceptionKind::WrongChain,
                    e,
                    format!("transaction found on {other}, not on the expected chain"),
                );
                x.observed_units = Some(self.observed[i].amount);
                self.outcome.exceptions.push(x);
            } else if e.must_be_observed {
                self.outcome.exceptions.push(Exception::of_expected(
                    ExceptionKind::Missing,
                    e,
                    "no transfer of this transaction is on chain",
                ));
            }
            return;
        }
        if e.incoming {
            self.expect_incoming(e, seq, &same_chain);
        } else {
            self.expect_outgoing(e, seq, &same_chain);
        }
    }

    /// A leg is matched by content within its transaction: sender, recipient (when known)
    /// and token; its log index is only known on chain.
    fn expect_outgoing(&mut self, e: &Expected, seq: u32, same_chain: &[usize]) {
        let candidates: Vec<usize> = same_chain
            .iter()
            .copied()
            .filter(|&i| self.parties_match(e, i))
            .collect();
        let of_token: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.observed[i].token == e.token)
            .collect();
        match (of_token.as_slice(), candidates.first()) {
            ([], Some(&i)) => {
                let mut x = Exception::of_expected(
                    ExceptionKind::WrongAsset,
                    e,
                    format!(
                        "the transfer moved token {} instead",
                        addr_text(&self.observed[i].token)
                    ),
                );
                x.observed_units = Some(self.observed[i].amount);
                x.log_index = Some(self.observed[i].log_index);
                x.block = Some(self.observed[i].block);
                self.claim(i, seq);
                self.outcome.exceptions.push(x);
            }
            ([], None) => {
                if e.must_be_observed {
                    self.outcome.exceptions.push(Exception::of_expected(
                        ExceptionKind::Missing,
                        e,
                        "the transaction is on chain but moves none of this transfer",
                    ));
                }
            }
            ([i], _) => self.settle_one(e, *i, seq),
            (many, _) => {
                let total: u128 = many.iter().map(|&i| self.observed[i].amount).sum();
                let mut x = Exception::of_expected(
                    ExceptionKind::Duplicate,
                    e,
                    format!(
                        "{} transfers in one transaction for one expected",
                        many.len()
                    ),
                );
                x.observed_units = Some(total);
                for &i in many {
                    self.claim(i, seq);
                }
                self.outcome.exceptions.push(x);
            }
        }
    }

    /// A payment is recorded as the sum of its transaction's transfers of the token to the
    /// recipient (a payer may split it over several logs), so it is matched the same way.
    fn expect_incoming(&mut self, e: &Expected, seq: u32, same_chain: &[usize]) {
        let to_us: Vec<usize> = same_chain
            .iter()
            .copied()
            .filter(|&i| e.to.is_none_or(|t| t == self.observed[i].to))
            .collect();
        let of_token: Vec<usize> = to_us
            .iter()
            .copied()
            .filter(|&i| self.observed[i].token == e.token)
            .collect();
        if of_token.is_empty() {
            if let Some(&i) = to_us.first() {
                let o = self.observed[i];
                let mut x = Exception::of_expected(
                    ExceptionKind::WrongAsset,
                    e,
                    format!("the transfer moved token {} instead", addr_text(&o.token)),
                );
                x.observed_units = Some(o.amount);
                x.log_index = Some(o.log_index);
                x.block = Some(o.block);
                self.claim(i, seq);
                self.outcome.exceptions.push(x);
            } else if e.must_be_observed {
                self.outcome.exceptions.push(Exception::of_expected(
                    ExceptionKind::Missing,
                    e,
                    "the transaction is on chain but pays nothing to the recipient",
                ));
            }
            return;
        }
        let mut taken = false;
        for &i in &of_token {
            taken |= !self.claim(i, seq);
        }
        let total: u128 = of_token.iter().map(|&i| self.observed[i].amount).sum();
        let (kind, detail) = if taken {
            (
                ExceptionKind::Duplicate,
                "this transfer is already claimed by another record",
            )
        } else if total != e.amount {
            (
                ExceptionKind::AmountMismatch,
                "the chain moved another amount than recorded",
            )
        } else {
            self.outcome.matched += 1;
            return;
        };
        let mut x = Exception::of_expected(kind, e, detail);
        x.observed_units = Some(total);
        x.log_index = Some(self.observed[of_token[0]].log_index);
        x.block = Some(self.observed[of_token[0]].block);
        self.outcome.exceptions.push(x);
    }

    fn parties_match(&self, e: &Expected, i: usize) -> bool {
        let o = &self.observed[i];
        e.from.is_none_or(|f| f == o.from) && e.to.is_none_or(|t| t == o.to)
    }

    /// Claims the observation; `false` if another expected transfer already had it.
    fn claim(&mut self, i: usize, seq: u32) -> bool {
        if self.claimed[i] == UNCLAIMED {
            self.claimed[i] = seq;
            true
        } else {
            false
        }
    }

    fn settle_one(&mut self, e: &Expected, i: usize, seq: u32) {
        let o = self.observed[i];
        if !self.claim(i, seq) {
            let mut x = Exception::of_expected(
                ExceptionKind::Duplicate,
                e,
                "this transfer is already claimed by another record",
            );
            x.observed_units = Some(o.amount);
            x.log_index = Some(o.log_index);
            x.block = Some(o.block);
            self.outcome.exceptions.push(x);
            return;
        }
        if o.amount != e.amount {
            let mut x = Exception::of_expected(
                ExceptionKind::AmountMismatch,
                e,
                "the chain moved another amount than recorded",
            );
            x.observed_units = Some(o.amount);
            x.log_index = Some(o.log_index);
            x.block = Some(o.block);
            self.outcome.exceptions.push(x);
            return;
        }
        self.outcome.matched += 1;
        if !e.incoming {
            self.sent
                .entry((o.chain, o.from, o.to, o.token, o.amount))
                .or_insert_with(|| e.reference.clone());
        }
    }

    /// Checks one ledger transaction: balanced per asset, and noted for the posting check.
    pub fn ledger_transaction(&mut self, posting: &Posting) {
        self.outcome.ledger_transactions += 1;
        if let Err(unbalanced) = posting.check() {
            let mut x = Exception::new(ExceptionKind::LedgerUnbalanced, unbalanced.to_string());
            x.asset = Some(unbalanced.asset);
            x.ledger_sum = Some(unbalanced.sum);
            x.reference = Some(posting.reference.clone());
            x.purpose = Some(posting.kind.clone());
            x.owner = Some(self.interner.intern(&posting.merchant_id.to_string()));
            x.livemode = Some(posting.livemode);
            self.outcome.exceptions.push(x);
        }
        let kind_has_meaning = self
            .rules
            .ledger_kinds
            .iter()
            .any(|(_, kind)| kind == &posting.kind);
        if kind_has_meaning {
            self.postings_seen
                .insert((posting.kind.clone(), posting.reference.clone()));
        }
    }

    /// Unclaimed observations at watched addresses, and legs without their posting.
    pub fn finish(mut self) -> Outcome {
        self.outcome.observed = self.observed.len() as u64;
        for (i, o) in self.observed.iter().enumerate() {
            if self.claimed[i] != UNCLAIMED {
                continue;
            }
            let from = self.watched.get(&(o.chain, o.from)).copied();
            let to = self.watched.get(&(o.chain, o.to)).copied();
            let x = match (from, to) {
                (Some(w), _) if w.role.gateway_controlled() => {
                    match self.sent.get(&(o.chain, o.from, o.to, o.token, o.amount)) {
                        Some(reference) => {
                            let mut x = Exception::of_observed(
                                ExceptionKind::Duplicate,
                                o,
                                "the same transfer was sent again in another transaction",
                            );
                            x.reference = Some(reference.clone());
                            x.expected_units = Some(o.amount);
                            x.owner = w.owner;
                            x
                        }
                        None => {
                            let mut x = Exception::of_observed(
                                ExceptionKind::UnexpectedOutflow,
                                o,
                                format!(
                                    "a gateway-controlled address sent to {} with no record",
                                    addr_text(&o.to)
                                ),
                            );
                            x.owner = w.owner;
                            x
                        }
                    }
                }
                (_, Some(w)) => {
                    let mut x = Exception::of_observed(
                        ExceptionKind::UnexpectedInflow,
                        o,
                        format!(
                            "{} received from {} with no payment bound to it",
                            role_name(w.role),
                            addr_text(&o.from)
                        ),
                    );
                    x.owner = w.owner;
                    x
                }
                _ => continue,
            };
            self.outcome.exceptions.push(x);
        }
        let mut missing: Vec<_> = self
            .postings_needed
            .iter()
            .filter(|(k, _)| !self.postings_seen.contains(*k))
            .collect();
        missing.sort_by(|a, b| a.0.cmp(b.0));
        for ((kind, reference), (owner, chain, tx)) in missing {
            let mut x = Exception::new(
                ExceptionKind::MissingPosting,
                format!("a confirmed leg has no `{kind}` ledger transaction"),
            );
            x.reference = Some(reference.clone());
            x.purpose = Some(kind.clone());
            x.owner = *owner;
            x.chain = Some(*chain);
            x.tx = Some(*tx);
            self.outcome.exceptions.push(x);
        }
        self.outcome
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::HotWallet => "the hot wallet",
        Role::Deposit => "a deposit address",
        Role::Settlement => "a merchant settlement address",
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
