//! The sandbox bank's books, with no IO: accounts (USD, onboarded wallets), requests by
//! (account, reference), claimed burns, and the rules that accept, schedule, execute or reject
//! a request. The chain calls happen outside this lock, in `super`.

use std::collections::{BTreeMap, BTreeSet};

use rialto_core::{ChainId, ChainNamespace};
use rust_decimal::Decimal;

use crate::issuer::{
    CutOffWindow, FeeSchedule, IssuerRequest, Redemption, Rejection, RejectionCode, RequestKind,
    RequestStatus,
};

/// One account holder at the bank.
#[derive(Debug)]
pub(crate) struct Account {
    pub secret: secrecy::SecretString,
    pub usd: Decimal,
    /// Wallets this account onboarded, lowercased where the chain's addresses are
    /// case-insensitive: a redemption's burn must come from one of them.
    pub wallets: BTreeSet<(ChainId, String)>,
}

/// Where a request is in the bank's hands. `Executing` keeps two callers from executing the
/// same due request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Accepting,
    Scheduled,
    Executing,
    Done,
}

#[derive(Debug)]
struct Record {
    fingerprint: String,
    request: IssuerRequest,
    phase: Phase,
}

/// The answer to a request's first step.
#[derive(Debug)]
pub(crate) enum Begun {
    /// A new reference: recorded as pending, the caller carries on.
    Fresh,
    /// The reference was seen with the same request: its current state.
    Replay(Box<IssuerRequest>),
    /// The reference was seen with another request.
    Conflict,
}

pub(crate) type Key = (String, String);

/// What a new request says, before the bank has looked at it.
#[derive(Debug)]
pub(crate) struct Draft {
    pub kind: RequestKind,
    pub chain: ChainId,
    pub wallet: Option<String>,
    pub institution: Option<String>,
    pub amount: Option<Decimal>,
}

#[derive(Debug)]
pub(crate) struct BankEngine {
    pub accounts: BTreeMap<String, Account>,
    requests: BTreeMap<Key, Record>,
    claimed: BTreeSet<(ChainId, String)>,
    pub chains: BTreeSet<ChainId>,
    pub mint_fee: FeeSchedule,
    pub redemption_fee: FeeSchedule,
    pub minimum: Decimal,
    pub window: Option<CutOffWindow>,
    pub processing_ms: u64,
    /// Requests answered from their first result rather than executed again.
    pub duplicates: usize,
}

/// A chain's address in the form the bank compares: EVM addresses are case-insensitive.
pub(crate) fn normalize(chain: &ChainId, address: &str) -> String {
    match chain.namespace() {
        ChainNamespace::Eip155 => address.to_ascii_lowercase(),
        ChainNamespace::Solana | ChainNamespace::Other => address.to_owned(),
    }
}

fn is_wallet(chain: &ChainId, address: &str) -> bool {
    match chain.namespace() {
        ChainNamespace::Eip155 => {
            address.len() == 42
                && address.starts_with("0x")
                && address[2..].bytes().all(|b| b.is_ascii_hexdigit())
        }
        ChainNamespace::Solana => {
            (32..=44).contains(&address.len())
                && address
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() && !b"0OIl".contains(&b))
        }
        ChainNamespace::Other => false,
    }
}

impl BankEngine {
    pub fn new(
        chains: BTreeSet<ChainId>,
        mint_fee: FeeSchedule,
        redemption_fee: FeeSchedule,
    ) -> Self {
        Self {
            accounts: BTreeMap::new(),
            requests: BTreeMap::new(),
            claimed: BTreeSet::new(),
            chains,
            mint_fee,
            redemption_fee,
            minimum: Decimal::ONE,
            window: None,
            processing_ms: 0,
            duplicates: 0,
        }
    }

    /// Records a new reference as pending, or answers what the reference already holds.
    pub fn begin(&mut self, key: &Key, fingerprint: String, draft: Draft, now_ms: u64) -> Begun {
        if let Some(record) = self.requests.get(key) {
            if record.fingerprint != fingerprint {
                return Begun::Conflict;
            }
            self.duplicates += 1;
            return Begun::Replay(Box::new(record.request.clone()));
        }
        let request = IssuerRequest {
            reference: key.1.clone(),
            kind: draft.kind,
            status: RequestStatus::Pending,
            chain: draft.chain,
            wallet: draft.wallet,
            institution: draft.institution,
            amount: draft.amount,
            fee: Decimal::ZERO,
            usd_amount: None,
            tx_hash: None,
            rejection: None,
            created_at_ms: now_ms,
            executes_at_ms: now_ms,
        };
        let record = Record {
            fingerprint,
            request,
            phase: Phase::Accepting,
        };
        self.requests.insert(key.clone(), record);
        Begun::Fresh
    }

    pub fn get(&self, key: &Key) -> Option<IssuerRequest> {
        self.requests.get(key).map(|r| r.request.clone())
    }

    /// Rejects a request for good.
    pub fn reject(
        &mut self,
        key: &Key,
        code: RejectionCode,
        message: String,
    ) -> Option<IssuerRequest> {
        let record = self.requests.get_mut(key)?;
        record.phase = Phase::Done;
        record.request.status = RequestStatus::Rejected;
        record.request.rejection = Some(Rejection { code, message });
        Some(record.request.clone())
    }

    /// Why the chain and wallet cannot be served, if they cannot.
    pub fn check_wallet(&self, chain: &ChainId, wallet: &str) -> Option<(RejectionCode, String)> {
        if !self.chains.contains(chain) {
            return Some((
                RejectionCode::UnsupportedChain,
                format!("no deposit token on {chain}"),
            ));
        }
        if !is_wallet(chain, wallet) {
            return Some((
                RejectionCode::InvalidWallet,
                format!("{wallet} is not an address of {chain}"),
            ));
        }
        None
    }

    /// Why `amount` cannot be minted or redeemed, if it cannot: the bank moves whole cents.
    pub fn check_amount(&self, kind: RequestKind, amount: Decimal) -> Option<String> {
        if amount <= Decimal::ZERO || amount.normalize().scale() > 2 {
            return Some(format!("{amount} is not a positive amount in whole cents"));
        }
        if amount < self.minimum {
            return Some(format!("{amount} is below the minimum {}", self.minimum));
        }
        if kind == RequestKind::Redemption && self.redemption_fee.fee(amount) >= amount {
            return Some(format!("{amount} does not cover the redemption fee"));
        }
        None
    }

    /// When a request accepted at `now_ms` executes: after the processing time, inside the
    /// window.
    pub fn executes_at(&self, now_ms: u64) -> u64 {
        let ready = now_ms + self.processing_ms;
        self.window.map_or(ready, |w| w.next_execution(ready))
    }

    pub fn complete_onboarding(
        &mut self,
        key: &Key,
        account: &str,
        tx_hash: String,
    ) -> Option<IssuerRequest> {
        let record = self.requests.get_mut(key)?;
        let wallet = record.request.wallet.clone().unwrap_or_default();
        let chain = record.request.chain.clone();
        if let Some(account) = self.accounts.get_mut(account) {
            account
                .wallets
                .insert((chain.clone(), normalize(&chain, &wallet)));
        }
        record.phase = Phase::Done;
        record.request.status = RequestStatus::Completed;
        record.request.tx_hash = Some(tx_hash);
        Some(record.request.clone())
    }

    /// Debits the mint and its fee and schedules it, or rejects it for want of USD.
    pub fn accept_mint(&mut self, key: &Key, now_ms: u64) -> Option<IssuerRequest> {
        let executes_at_ms = self.executes_at(now_ms);
        let amount = self.requests.get(key)?.request.amount?;
        let fee = self.mint_fee.fee(amount);
        let debit = amount + fee;
        let available = self.accounts.get(&key.0).map_or(Decimal::ZERO, |a| a.usd);
        if available < debit {
            let why =
                format!("the mint and its fee need {debit} USD, the account holds {available}");
            return self.reject(key, RejectionCode::InsufficientFunds, why);
        }
        if let Some(account) = self.accounts.get_mut(&key.0) {
            account.usd -= debit;
        }
        let record = self.requests.get_mut(key)?;
        record.phase = Phase::Scheduled;
        record.request.fee = fee;
        record.request.usd_amount = Some(debit);
        record.request.executes_at_ms = executes_at_ms;
        Some(record.request.clone())
    }

    /// Whether `account` onboarded `wallet` on `chain`.
    pub fn onboarded(&self, account: &str, chain: &ChainId, wallet: &str) -> bool {
        let wallet = normalize(chain, wallet);
        self.accounts
            .get(account)
            .is_some_and(|a| a.wallets.contains(&(chain.clone(), wallet)))
    }

    /// Checks a burn against the request and claims it, then schedules the credit.
    pub fn accept_redemption(
        &mut self,
        key: &Key,
        burn: &Redemption,
        tx_hash: &str,
        now_ms: u64,
    ) -> Option<IssuerRequest> {
        let executes_at_ms = self.executes_at(now_ms);
        let request = &self.requests.get(key)?.request;
        let (chain, amount) = (request.chain.clone(), request.amount?);
        let claim = (chain.clone(), tx_hash.to_ascii_lowercase());
        if self.claimed.contains(&claim) {
            let why = format!("{tx_hash} was already redeemed");
            return self.reject(key, RejectionCode::RedemptionAlreadyClaimed, why);
        }
        let from = normalize(&chain, &burn.from);
        let onboarded = self
            .accounts
            .get(&key.0)
            .is_some_and(|a| a.wallets.contains(&(chain.clone(), from.clone())));
        if burn.amount != amount || !onboarded {
            let why = format!("{tx_hash} burned {} from {from}, not {amount} from a wallet this account onboarded", burn.amount);
            return self.reject(key, RejectionCode::RedemptionMismatch, why);
        }
        self.claimed.insert(claim);
        let fee = self.redemption_fee.fee(amount);
        let record = self.requests.get_mut(key)?;
        record.phase = Phase::Scheduled;
        record.request.wallet = Some(from);
        record.request.tx_hash = Some(tx_hash.to_owned());
        record.request.fee = fee;
        record.request.usd_amount = Some(amount - fee);
        record.request.executes_at_ms = executes_at_ms;
        Some(record.request.clone())
    }

    /// The scheduled requests due at `now_ms`, marked executing so nobody else takes them.
    /// Redemptions need no chain call: they are credited here and not returned.
    pub fn take_due(&mut self, now_ms: u64) -> Vec<(Key, IssuerRequest)> {
        let mut mints = Vec::new();
        for (key, record) in &mut self.requests {
            if record.phase != Phase::Scheduled || record.request.executes_at_ms > now_ms {
                continue;
            }
            match record.request.kind {
                RequestKind::Mint => {
                    record.phase = Phase::Executing;
                    mints.push((key.clone(), record.request.clone()));
                }
                RequestKind::Redemption => {
                    let credit = record.request.usd_amount.unwrap_or_default();
                    if let Some(account) = self.accounts.get_mut(&key.0) {
                        account.usd += credit;
                    }
                    record.phase = Phase::Done;
                    record.request.status = RequestStatus::Completed;
                }
                // Onboardings are never scheduled: they complete or fail in their request.
                RequestKind::Onboarding => {}
            }
        }
        mints
    }

    /// Records a mint's outcome: completed with its transaction, or rejected with the USD
    /// debited at acceptance credited back.
    pub fn finish_mint(&mut self, key: &Key, outcome: Result<String, String>) {
        let Some(record) = self.requests.get_mut(key) else {
            return;
        };
        match outcome {
            Ok(tx_hash) => {
                record.phase = Phase::Done;
                record.request.status = RequestStatus::Completed;
                record.request.tx_hash = Some(tx_hash);
            }
            Err(why) => {
                let refund = record.request.usd_amount.unwrap_or_default();
                if let Some(account) = self.accounts.get_mut(&key.0) {
                    account.usd += refund;
                }
                self.reject(key, RejectionCode::ChainFailed, why);
            }
        }
    }
}
