//! The sandbox exchange: a local HTTP service that speaks the subset of Binance's, Kraken's and
//! Coinbase's wire APIs that this crate's clients use, so the real clients run against it
//! unchanged (only the base URL differs). Used by `_test_` keys and the demo.
//!
//! One account (the engine) sits behind all three dialects: order books that fills
//! consume, balances, a taker fee, minimums, and withdrawals handed to a [`SettlementSink`] —
//! the gateway plugs in the EVM rail so sandbox withdrawals become real transfers on the local
//! devnet; [`RecordingSink`] stands in where no chain runs. Faults are injected per operation
//! ([`Fault`]); orders and withdrawals execute at most once per client id / reference, and
//! [`Sandbox::executed_orders`] / [`Sandbox::executed_withdrawals`] count what really happened.
//!
//! [`SandboxExchange`] (from [`Sandbox::exchange`]) is the same account as an in-process
//! [`super::Exchange`], with no HTTP in between: the counters, faults and sink apply to it too.
//!
//! The sandbox does not check signatures: it is reached with `_test_` credentials only.
//! It is served on hyper directly (the `sandbox` feature), keeping axum out of this crate.

mod auth;
mod binance;
mod coinbase;
mod direct;
mod engine;
mod kraken;
pub(crate) mod server;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rialto_core::ChainId;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

pub use auth::SandboxKey;
pub use direct::SandboxExchange;
pub use engine::{SandboxBook, SandboxNetwork};

use self::engine::{Engine, Refusal, SandboxOrder, SandboxWithdrawal};
use super::{AssetCode, Clock, Pair, Side, SystemClock};

/// A sandbox withdrawal's transfer could not be made; the withdrawal fails with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

impl From<String> for SinkError {
    fn from(why: String) -> Self {
        SinkError(why)
    }
}

/// Performs a sandbox withdrawal's transfer and returns its transaction hash.
#[async_trait]
pub trait SettlementSink: Send + Sync + std::fmt::Debug {
    async fn transfer(
        &self,
        asset: &AssetCode,
        chain: &ChainId,
        address: &str,
        amount: Decimal,
    ) -> Result<String, SinkError>;
}

/// A sink with no chain behind it: records each transfer and makes up a deterministic hash.
#[derive(Debug, Default)]
pub struct RecordingSink {
    transfers: Mutex<Vec<(AssetCode, ChainId, String, Decimal)>>,
}

impl RecordingSink {
    pub fn transfers(&self) -> Vec<(AssetCode, ChainId, String, Decimal)> {
        lock(&self.transfers).clone()
    }
}

#[async_trait]
impl SettlementSink for RecordingSink {
    async fn transfer(
        &self,
        asset: &AssetCode,
        chain: &ChainId,
        address: &str,
        amount: Decimal,
    ) -> Result<String, SinkError> {
        let mut transfers = lock(&self.transfers);
        transfers.push((asset.clone(), chain.clone(), address.to_owned(), amount));
        let digest = Sha256::digest(format!(
            "{asset}|{chain}|{address}|{amount}|{}",
            transfers.len()
        ));
        Ok(format!("0x{}", hex::encode(digest)))
    }
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    PlaceOrder,
    Withdraw,
    /// Any request that moves no money.
    Read,
}

/// One injected failure, consumed by the next matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 before anything executes.
    Outage,
    /// 429 with `Retry-After`, before anything executes.
    RateLimit { retry_after_secs: u64 },
    /// Executes, then answers 500: the caller cannot tell it happened.
    ErrorAfterExecuting,
    /// Executes, then holds the answer for `delay` (beyond the client's timeout).
    SlowAfterExecuting { delay: Duration },
}

/// How to set the sandbox up.
#[derive(Debug)]
pub struct SandboxConfig {
    pub balances: BTreeMap<AssetCode, Decimal>,
    pub books: BTreeMap<Pair, SandboxBook>,
    pub taker_fee_rate: Decimal,
    /// Smallest order, in the quote asset.
    pub min_notional: Decimal,
    pub networks: Vec<SandboxNetwork>,
    pub whitelist: Option<BTreeSet<String>>,
    /// Added to every answer.
    pub latency: Duration,
    /// Withdrawals stay pending and never reach the sink (a venue's stuck queue).
    pub stuck_withdrawals: bool,
    pub sink: Arc<dyn SettlementSink>,
    pub clock: Arc<dyn Clock>,
    /// API key → its secret and permissions. Empty (the default): any credentials are
    /// accepted; set: private calls are verified and refused as the venue would.
    pub keys: BTreeMap<String, SandboxKey>,
}

impl SandboxConfig {
    pub fn new(sink: Arc<dyn SettlementSink>) -> Self {
        Self {
            balances: BTreeMap::new(),
            books: BTreeMap::new(),
            taker_fee_rate: Decimal::new(10, 4),
            min_notional: Decimal::ONE,
            networks: Vec::new(),
            whitelist: None,
            latency: Duration::ZERO,
            stuck_withdrawals: false,
            sink,
            clock: Arc::new(SystemClock),
            keys: BTreeMap::new(),
        }
    }
}

/// State shared by the server's connections.
#[derive(Debug)]
pub(crate) struct Shared {
    engine: Mutex<Engine>,
    faults: Mutex<VecDeque<(Operation, Fault)>>,
    latency: Duration,
    stuck_withdrawals: std::sync::atomic::AtomicBool,
    sink: Arc<dyn SettlementSink>,
    clock: Arc<dyn Clock>,
    keys: BTreeMap<String, SandboxKey>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn engine(&self) -> MutexGuard<'_, Engine> {
        lock(&self.engine)
    }

    fn take_fault(&self, operation: Operation) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|(op, _)| *op == operation)?;
        faults.remove(index).map(|(_, fault)| fault)
    }

    pub(crate) fn now_ms(&self) -> u64 {
        super::now_ms_u64(self.clock.as_ref())
    }

    pub(crate) fn place(
        &self,
        pair: &Pair,
        side: Side,
        size: Decimal,
        limit: Option<Decimal>,
        client_id: &str,
    ) -> Result<SandboxOrder, Refusal> {
        let now = self.now_ms();
        self.engine().place(pair, side, size, limit, client_id, now)
    }

    /// Debits, then transfers through the sink outside the lock, then records the outcome.
    pub(crate) async fn withdraw(
        &self,
        asset: &AssetCode,
        chain: &ChainId,
        address: &str,
        amount: Decimal,
        reference: Option<&str>,
    ) -> Result<SandboxWithdrawal, Refusal> {
        let now = self.now_ms();
        let (pending, is_new) = self
            .engine()
            .withdraw(asset, chain, address, amount, reference, now)?;
        if !is_new
            || self
                .stuck_withdrawals
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(pending);
        }
        let outcome = self
            .sink
            .transfer(asset, chain, address, amount - pending.fee)
            .await
            .map_err(|e| e.0);
        Ok(self
            .engine()
            .settle(&pending.id, outcome)
            .unwrap_or(pending))
    }
}

/// A running sandbox exchange. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Sandbox {
    /// Starts serving on 127.0.0.1 on a free port.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Self> {
        let engine = Engine {
            balances: config.balances,
            books: config.books,
            taker_fee_rate: config.taker_fee_rate,
            min_notional: config.min_notional,
            networks: config.networks,
            whitelist: config.whitelist,
            ..Engine::default()
        };
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            faults: Mutex::new(VecDeque::new()),
            latency: config.latency,
            stuck_withdrawals: std::sync::atomic::AtomicBool::new(config.stuck_withdrawals),
            sink: config.sink,
            clock: config.clock,
            keys: config.keys,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(server::serve(listener, shared.clone()));
        Ok(Self {
            shared,
            address,
            task,
        })
    }

    /// The base URL every client is pointed at.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Queues a fault for the next request of `operation`.
    pub fn inject(&self, operation: Operation, fault: Fault) {
        lock(&self.shared.faults).push_back((operation, fault));
    }

    /// Holds new withdrawals in the venue's queue (pending, not sent) from now on, or not.
    pub fn set_stuck_withdrawals(&self, stuck: bool) {
        self.shared
            .stuck_withdrawals
            .store(stuck, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sends every withdrawal the queue held, as the venue would once it is unstuck: each
    /// lands through the sink and completes (or fails and is credited back). Returns how many.
    pub async fn release_stuck_withdrawals(&self) -> usize {
        let held: Vec<_> = self
            .shared
            .engine()
            .withdrawals
            .iter()
            .filter(|w| {
                w.status == crate::exchange::WithdrawalStatus::Pending && w.tx_hash.is_none()
            })
            .cloned()
            .collect();
        for w in &held {
            let outcome = self
                .shared
                .sink
                .transfer(&w.asset, &w.chain, &w.address, w.amount - w.fee)
                .await
                .map_err(|e| e.0);
            self.shared.engine().settle(&w.id, outcome);
        }
        held.len()
    }

    /// Orders that really executed (whatever the caller was told).
    pub fn executed_orders(&self) -> usize {
        self.shared.engine().orders.len()
    }

    /// Withdrawals that really debited the account.
    pub fn executed_withdrawals(&self) -> usize {
        self.shared.engine().withdrawals.len()
    }

    /// Requests that repeated an already executed client id or reference (answered with the
    /// first result, never executed again). A client that looks up before resending keeps
    /// this at zero.
    pub fn duplicate_submissions(&self) -> usize {
        self.shared.engine().duplicates
    }

    pub fn balance(&self, asset: &AssetCode) -> Decimal {
        self.shared
            .engine()
            .balances
            .get(asset)
            .copied()
            .unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}
