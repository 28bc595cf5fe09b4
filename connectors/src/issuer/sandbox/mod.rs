//! The sandbox issuing bank: a local HTTP service speaking the issuer API
//! (`docs/issuer-api.md`) for a USD deposit token, so [`super::IssuerHttpClient`] runs against
//! it unchanged. It is a stand-in and says so: every answer carries `"sandbox": true`.
//!
//! Accounts hold USD; onboarding allow-lists a wallet through the [`DepositTokenSink`]
//! (the devnet's deposit-token contract, or [`super::MemoryTokenSink`]); mints debit USD and
//! mint through the sink; redemptions read the named burn from the sink and credit USD minus
//! the fee. Each (account, reference) executes at most once. Fees, a minimum, a processing
//! time, a daily cut-off window, answer latency and injected faults ([`Fault`], per
//! [`BankOperation`]) are configurable. Requests come due lazily: any request to the bank
//! first executes what is due by its clock, so a test moves a `ManualClock` and asks again.
//!
//! Unlike the sandbox exchange, the bank checks signatures: its API is Rialto's own, so the
//! signing is part of what the sandbox proves.

mod server;

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rialto_core::ChainId;
use rust_decimal::Decimal;
use secrecy::SecretString;

pub use crate::exchange::sandbox::Fault;

use self::engine::{BankEngine, Begun, Draft, Key};
use super::{
    CutOffWindow, DepositTokenSink, FeeSchedule, IssuerRequest, MintRequest, OnboardingRequest,
    RedemptionRequest, RejectionCode, RequestKind,
};
use crate::exchange::{Clock, SystemClock};

mod engine;

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankOperation {
    Onboard,
    Mint,
    Redeem,
    /// Balance, status and quote reads.
    Read,
}

/// An account holder's API credentials and opening USD.
#[derive(Debug)]
pub struct SandboxBankAccount {
    pub key: String,
    pub secret: SecretString,
    pub usd: Decimal,
}

/// How to set the sandbox bank up.
#[derive(Debug)]
pub struct SandboxBankConfig {
    pub accounts: Vec<SandboxBankAccount>,
    /// The chains the bank's deposit token lives on.
    pub chains: Vec<ChainId>,
    pub mint_fee: FeeSchedule,
    pub redemption_fee: FeeSchedule,
    /// Smallest mint or redemption.
    pub minimum: Decimal,
    /// Between acceptance and execution of a mint or redemption.
    pub processing: Duration,
    pub window: Option<CutOffWindow>,
    /// Added to every answer.
    pub latency: Duration,
    pub sink: Arc<dyn DepositTokenSink>,
    pub clock: Arc<dyn Clock>,
}

impl SandboxBankConfig {
    /// No fees, no window, immediate execution: each knob is opted into.
    pub fn new(sink: Arc<dyn DepositTokenSink>, chains: Vec<ChainId>) -> Self {
        let free = FeeSchedule {
            fixed: Decimal::ZERO,
            rate: Decimal::ZERO,
        };
        Self {
            accounts: Vec::new(),
            chains,
            mint_fee: free,
            redemption_fee: free,
            minimum: Decimal::ONE,
            processing: Duration::ZERO,
            window: None,
            latency: Duration::ZERO,
            sink,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The answer to a state-changing request.
#[derive(Debug)]
pub(crate) enum Outcome {
    Request(Box<IssuerRequest>),
    /// The reference was used for another request (409).
    ReferenceReused,
}

/// State shared by the server's connections.
#[derive(Debug)]
pub(crate) struct Bank {
    engine: Mutex<BankEngine>,
    faults: Mutex<VecDeque<(BankOperation, Fault)>>,
    latency: Duration,
    sink: Arc<dyn DepositTokenSink>,
    clock: Arc<dyn Clock>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Bank {
    pub(crate) fn engine(&self) -> MutexGuard<'_, BankEngine> {
        lock(&self.engine)
    }

    pub(crate) fn now_ms(&self) -> u64 {
        crate::exchange::now_ms_u64(self.clock.as_ref())
    }

    fn take_fault(&self, operation: BankOperation) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|(op, _)| *op == operation)?;
        faults.remove(index).map(|(_, fault)| fault)
    }

    fn finish(&self, key: &Key) -> Outcome {
        match self.engine().get(key) {
            Some(request) => Outcome::Request(Box::new(request)),
            None => Outcome::ReferenceReused,
        }
    }

    fn reject(&self, key: &Key, code: RejectionCode, why: String) -> Outcome {
        self.engine().reject(key, code, why);
        self.finish(key)
    }

    /// Executes every mint and redemption due by the bank's clock. Mints go through the sink
    /// outside the lock; each was marked executing first, so none executes twice.
    pub(crate) async fn execute_due(&self) {
        let due = self.engine().take_due(self.now_ms());
        for (key, request) in due {
            let wallet = request.wallet.unwrap_or_default();
            let amount = request.amount.unwrap_or_default();
            let outcome = self
                .sink
                .mint(&request.chain, &wallet, amount)
                .await
                .map_err(|e| e.0);
            self.engine().finish_mint(&key, outcome);
        }
    }

    pub(crate) async fn onboard(&self, account: &str, request: OnboardingRequest) -> Outcome {
        let key = (account.to_owned(), request.reference.clone());
        let fingerprint = fingerprint(RequestKind::Onboarding, &request);
        let draft = Draft {
            kind: RequestKind::Onboarding,
            chain: request.chain.clone(),
            wallet: Some(request.wallet.clone()),
            institution: Some(request.institution.clone()),
            amount: None,
        };
        let begun = self.engine().begin(&key, fingerprint, draft, self.now_ms());
        if let Some(done) = replayed(begun) {
            return done;
        }
        let refusal = self.engine().check_wallet(&request.chain, &request.wallet);
        if let Some((code, why)) = refusal {
            return self.reject(&key, code, why);
        }
        match self.sink.allow(&request.chain, &request.wallet).await {
            Ok(tx_hash) => {
                self.engine().complete_onboarding(&key, account, tx_hash);
                self.finish(&key)
            }
            Err(e) => self.reject(&key, RejectionCode::ChainFailed, e.0),
        }
    }

    pub(crate) async fn mint(&self, account: &str, request: MintRequest) -> Outcome {
        let key = (account.to_owned(), request.reference.clone());
        let fingerprint = fingerprint(RequestKind::Mint, &request);
        let draft = Draft {
            kind: RequestKind::Mint,
            chain: request.chain.clone(),
            wallet: Some(request.wallet.clone()),
            institution: None,
            amount: Some(request.amount),
        };
        let begun = self.engine().begin(&key, fingerprint, draft, self.now_ms());
        if let Some(done) = replayed(begun) {
            return done;
        }
        let refusal = {
            let engine = self.engine();
            engine
                .check_wallet(&request.chain, &request.wallet)
                .or_else(|| {
                    let why = engine.check_amount(RequestKind::Mint, request.amount)?;
                    Some((RejectionCode::InvalidAmount, why))
                })
        };
        if let Some((code, why)) = refusal {
            return self.reject(&key, code, why);
        }
        match self.sink.is_allowed(&request.chain, &request.wallet).await {
            Ok(true) => {}
            Ok(false) => {
                let why = format!("{} is not on the token's allow-list", request.wallet);
                return self.reject(&key, RejectionCode::WalletNotAllowListed, why);
            }
            Err(e) => return self.reject(&key, RejectionCode::ChainFailed, e.0),
        }
        self.engine().accept_mint(&key, self.now_ms());
        self.execute_due().await;
        self.finish(&key)
    }

    pub(crate) async fn redeem(&self, account: &str, request: RedemptionRequest) -> Outcome {
        let key = (account.to_owned(), request.reference.clone());
        let fingerprint = fingerprint(RequestKind::Redemption, &request);
        let draft = Draft {
            kind: RequestKind::Redemption,
            chain: request.chain.clone(),
            wallet: None,
            institution: None,
            amount: Some(request.amount),
        };
        let begun = self.engine().begin(&key, fingerprint, draft, self.now_ms());
        if let Some(done) = replayed(begun) {
            return done;
        }
        let refusal = self
            .engine()
            .check_amount(RequestKind::Redemption, request.amount);
        if let Some(why) = refusal {
            return self.reject(&key, RejectionCode::InvalidAmount, why);
        }
        let tx_hash = match (&request.tx_hash, &request.wallet) {
            (Some(tx), None) => tx.clone(),
            (None, Some(wallet)) => match self.burn_for(account, &request, wallet).await {
                Ok(tx) => tx,
                Err((code, why)) => return self.reject(&key, code, why),
            },
            _ => {
                let why = "name either tx_hash (a burn) or wallet (the bank burns)".to_owned();
                return self.reject(&key, RejectionCode::RedemptionMismatch, why);
            }
        };
        let burn = match self.sink.redemption(&request.chain, &tx_hash).await {
            Ok(Some(burn)) => burn,
            Ok(None) => {
                let why = format!("{tx_hash} is no redemption of the token");
                return self.reject(&key, RejectionCode::RedemptionNotFound, why);
            }
            Err(e) => return self.reject(&key, RejectionCode::ChainFailed, e.0),
        };
        self.engine()
            .accept_redemption(&key, &burn, &tx_hash, self.now_ms());
        self.execute_due().await;
        self.finish(&key)
    }
}

impl Bank {
    /// Burns the request's amount from `wallet` (one `account` onboarded) with the bank's
    /// burner role: the redemption's burn, in the bank's own transaction.
    async fn burn_for(
        &self,
        account: &str,
        request: &RedemptionRequest,
        wallet: &str,
    ) -> Result<String, (RejectionCode, String)> {
        let onboarded = self.engine().onboarded(account, &request.chain, wallet);
        if !onboarded {
            let why = format!("{wallet} is no wallet this account onboarded");
            return Err((RejectionCode::RedemptionMismatch, why));
        }
        self.sink
            .burn_from(&request.chain, wallet, request.amount)
            .await
            .map_err(|e| (RejectionCode::ChainFailed, e.0))
    }
}

/// What identifies a request's content, to tell a retry from a reused reference.
fn fingerprint(kind: RequestKind, request: &impl serde::Serialize) -> String {
    let body = serde_json::to_string(request).unwrap_or_default();
    format!("{kind:?}|{body}")
}

fn replayed(begun: Begun) -> Option<Outcome> {
    match begun {
        Begun::Fresh => None,
        Begun::Replay(request) => Some(Outcome::Request(request)),
        Begun::Conflict => Some(Outcome::ReferenceReused),
    }
}

/// A running sandbox bank. Dropping it stops the server.
#[derive(Debug)]
pub struct SandboxBank {
    bank: Arc<Bank>,
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl SandboxBank {
    /// Starts serving on 127.0.0.1 on a free port.
    pub async fn start(config: SandboxBankConfig) -> std::io::Result<Self> {
        let chains: BTreeSet<ChainId> = config.chains.into_iter().collect();
        let mut engine = BankEngine::new(chains, config.mint_fee, config.redemption_fee);
        engine.minimum = config.minimum;
        engine.window = config.window;
        engine.processing_ms = u64::try_from(config.processing.as_millis()).unwrap_or(u64::MAX);
        for account in config.accounts {
            let holder = engine::Account {
                secret: account.secret,
                usd: account.usd,
                wallets: BTreeSet::new(),
            };
            engine.accounts.insert(account.key, holder);
        }
        let bank = Arc::new(Bank {
            engine: Mutex::new(engine),
            faults: Mutex::new(VecDeque::new()),
            latency: config.latency,
            sink: config.sink,
            clock: config.clock,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(server::serve(listener, bank.clone()));
        Ok(Self {
            bank,
            address,
            task,
        })
    }

    /// The base URL every client is pointed at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Queues a fault for the next request of `operation`.
    pub fn inject(&self, operation: BankOperation, fault: Fault) {
        lock(&self.bank.faults).push_back((operation, fault));
    }

    /// The USD an account holds now.
    pub fn usd(&self, key: &str) -> Decimal {
        self.bank
            .engine()
            .accounts
            .get(key)
            .map_or(Decimal::ZERO, |a| a.usd)
    }

    /// Requests answered from their first result rather than executed again.
    pub fn duplicate_submissions(&self) -> usize {
        self.bank.engine().duplicates
    }
}

impl Drop for SandboxBank {
    fn drop(&mut self) {
        self.task.abort();
    }
}
