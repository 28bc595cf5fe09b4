//! The sandbox exchange itself as an [`Exchange`], in process: every operation goes straight to
//! the engine, with no HTTP and no venue dialect in between.
//!
//! It shares the running [`Sandbox`]'s state, so orders and withdrawals placed here show up in
//! [`Sandbox::executed_orders`], [`Sandbox::executed_withdrawals`] and
//! [`Sandbox::duplicate_submissions`], withdrawals go through the same [`super::SettlementSink`],
//! and faults queued with [`Sandbox::inject`] and the configured latency apply here as they do
//! to HTTP requests: an outage is `Unavailable`, a rate limit `RateLimited` with its
//! `retry_after`, and a request that executes but whose answer is lost (an error after
//! executing, or an answer slower than [`SandboxExchange::with_timeout`]) is `Unknown` for
//! orders and withdrawals and `Unavailable` for reads.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rialto_core::ChainId;
use rust_decimal::Decimal;

use super::engine::{Fill, Refusal, SandboxNetwork, SandboxOrder, SandboxWithdrawal};
use super::{Fault, Operation, Sandbox, Shared};
use crate::exchange::{
    client_order_id, walk_book, withdrawal_reference, AssetCode, Balance, Capabilities,
    DepositAddress, Exchange, ExchangeError, Order, OrderKind, OrderRequest, OrderStatus,
    OrderType, Pair, Quote, Side, Venue, Withdrawal, WithdrawalRequest, WithdrawalTerms,
};

const VENUE: Venue = Venue::Sandbox;

/// How long a call waits for a slow answer before its outcome counts as lost, by default (the
/// venue clients' own default request timeout is of the same order).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The sandbox exchange as an in-process [`Exchange`] (see the module docs).
#[derive(Debug, Clone)]
pub struct SandboxExchange {
    shared: Arc<Shared>,
    capabilities: Capabilities,
    timeout: Duration,
}

impl SandboxExchange {
    /// An exchange over `sandbox`'s account. Capabilities are read once, now: every asset with a
    /// book or a network, the networks configured for each, market and IOC limit orders.
    pub fn new(sandbox: &Sandbox) -> Self {
        let shared = sandbox.shared.clone();
        let capabilities = {
            let engine = shared.engine();
            let mut capabilities = Capabilities {
                order_types: vec![OrderType::Market, OrderType::LimitIoc],
                ..Capabilities::default()
            };
            for pair in engine.books.keys() {
                for asset in [&pair.base, &pair.quote] {
                    capabilities.assets.entry(asset.clone()).or_default();
                }
            }
            for network in &engine.networks {
                let chains = capabilities
                    .assets
                    .entry(network.asset.clone())
                    .or_default();
                if !chains.contains(&network.chain) {
                    chains.push(network.chain.clone());
                }
            }
            capabilities
        };
        Self {
            shared,
            capabilities,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// How long to wait for an answer delayed by [`Fault::SlowAfterExecuting`] before giving up
    /// on it, as an HTTP client's timeout would.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Applies latency and the next fault queued for `operation`, around `execute` (a lazy
    /// future: it runs only where the fault lets the request reach the engine).
    async fn call<T>(
        &self,
        operation: Operation,
        name: &'static str,
        execute: impl Future<Output = Result<T, ExchangeError>>,
    ) -> Result<T, ExchangeError> {
        if !self.shared.latency.is_zero() {
            tokio::time::sleep(self.shared.latency).await;
        }
        match self.shared.take_fault(operation) {
            None => execute.await,
            Some(Fault::Outage) => Err(ExchangeError::Unavailable {
                venue: VENUE,
                message: "sandbox outage".to_owned(),
            }),
            Some(Fault::RateLimit { retry_after_secs }) => Err(ExchangeError::RateLimited {
                venue: VENUE,
                retry_after: Some(Duration::from_secs(retry_after_secs)),
            }),
            Some(Fault::ErrorAfterExecuting) => {
                // The request executed (or was refused); either way its answer is lost.
                let _executed = execute.await;
                Err(lost(operation, name, "sandbox error after executing"))
            }
            Some(Fault::SlowAfterExecuting { delay }) => {
                let result = execute.await;
                if delay < self.timeout {
                    tokio::time::sleep(delay).await;
                    result
                } else {
                    tokio::time::sleep(self.timeout).await;
                    Err(lost(operation, name, "no answer before the timeout"))
                }
            }
        }
    }

    fn network(&self, asset: &AssetCode, chain: &ChainId) -> Result<SandboxNetwork, ExchangeError> {
        self.shared
            .engine()
            .network(asset, |n| &n.chain == chain)
            .cloned()
            .ok_or_else(|| refusal(&Refusal::UnknownNetwork, &format!("{asset} on {chain}")))
    }
}

impl Sandbox {
    /// The sandbox itself as an in-process [`Exchange`], sharing this sandbox's account,
    /// counters and faults.
    pub fn exchange(&self) -> SandboxExchange {
        SandboxExchange::new(self)
    }
}

/// The answer to a request that may have executed was lost: `Unknown` when it moves money,
/// `Unavailable` (safe to retry) when it does not.
fn lost(operation: Operation, name: &'static str, message: &str) -> ExchangeError {
    match operation {
        Operation::PlaceOrder | Operation::Withdraw => ExchangeError::Unknown {
            venue: VENUE,
            operation: name,
            message: message.to_owned(),
        },
        Operation::Read => ExchangeError::Unavailable {
            venue: VENUE,
            message: message.to_owned(),
        },
    }
}

/// An engine refusal as the typed error; `context` names what was refused.
fn refusal(refusal: &Refusal, context: &str) -> ExchangeError {
    let message = |what: &str| format!("{what}: {context}");
    match refusal {
        Refusal::InsufficientFunds => ExchangeError::InsufficientFunds {
            venue: VENUE,
            message: message("balance too low"),
        },
        Refusal::BelowMinimum => ExchangeError::BelowMinimum {
            venue: VENUE,
            message: message("below the minimum"),
        },
        Refusal::UnknownPair => ExchangeError::InvalidSymbol {
            venue: VENUE,
            message: message("no such market"),
        },
        Refusal::UnknownNetwork => ExchangeError::Unsupported {
            venue: VENUE,
            what: message("no such asset network"),
        },
        Refusal::NotWhitelisted => ExchangeError::AddressNotWhitelisted {
            venue: VENUE,
            message: message("address not on the whitelist"),
        },
    }
}

fn to_order(o: &SandboxOrder) -> Order {
    Order {
        venue: VENUE,
        venue_order_id: o.id.clone(),
        client_order_id: o.client_id.clone(),
        pair: o.pair.clone(),
        side: o.side,
        // Sandbox orders never rest: a remainder the book could not fill is canceled.
        status: match o.fill {
            Fill::Filled => OrderStatus::Filled,
            Fill::Partial => OrderStatus::Canceled,
            Fill::Expired => OrderStatus::Expired,
        },
        filled_base: o.filled_base,
        filled_quote: o.filled_quote,
        fee: o.fee,
        fee_asset: Some(o.pair.quote.clone()),
    }
}

fn to_withdrawal(w: &SandboxWithdrawal) -> Withdrawal {
    Withdrawal {
        venue: VENUE,
        venue_withdrawal_id: w.id.clone(),
        asset: w.asset.clone(),
        network: Some(w.chain.clone()),
        address: Some(w.address.clone()),
        amount: w.amount,
        fee: Some(w.fee),
        status: w.status,
        tx_hash: w.tx_hash.clone(),
    }
}

#[async_trait]
impl Exchange for SandboxExchange {
    fn venue(&self) -> Venue {
        VENUE
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn balances(&self) -> Result<Vec<Balance>, ExchangeError> {
        self.call(Operation::Read, "balances", async {
            // Funds of pending withdrawals are already debited, so nothing is held.
            Ok(self
                .shared
                .engine()
                .balances
                .iter()
                .filter(|(_, amount)| **amount > Decimal::ZERO)
                .map(|(asset, amount)| Balance {
                    asset: asset.clone(),
                    available: *amount,
                    held: Decimal::ZERO,
                })
                .collect())
        })
        .await
    }

    async fn quote(
        &self,
        pair: &Pair,
        side: Side,
        base_size: Decimal,
    ) -> Result<Quote, ExchangeError> {
        self.call(Operation::Read, "quote", async {
            let engine = self.shared.engine();
            let book = engine
                .books
                .get(pair)
                .ok_or_else(|| refusal(&Refusal::UnknownPair, &pair.to_string()))?;
            let levels = match side {
                Side::Buy => &book.asks,
                Side::Sell => &book.bids,
            };
            walk_book(VENUE, pair, side, base_size, levels, engine.taker_fee_rate)
        })
        .await
    }

    async fn place_order(&self, order: &OrderRequest) -> Result<Order, ExchangeError> {
        self.call(Operation::PlaceOrder, "place order", async {
            if order.base_size <= Decimal::ZERO {
                return Err(ExchangeError::Rejected {
                    venue: VENUE,
                    message: format!("order size must be positive, got {}", order.base_size),
                });
            }
            let limit = match order.kind {
                OrderKind::Market => None,
                OrderKind::LimitIoc { limit_price } => Some(limit_price),
            };
            let client_id = client_order_id(VENUE, &order.leg);
            self.shared
                .place(&order.pair, order.side, order.base_size, limit, &client_id)
                .map(|placed| to_order(&placed))
                .map_err(|r| refusal(&r, &format!("order {client_id} on {}", order.pair)))
        })
        .await
    }

    async fn order_status(
        &self,
        pair: &Pair,
        venue_order_id: &str,
    ) -> Result<Order, ExchangeError> {
        self.call(Operation::Read, "order status", async {
            self.shared
                .engine()
                .orders
                .iter()
                .find(|o| o.id == venue_order_id && &o.pair == pair)
                .map(to_order)
                .ok_or_else(|| ExchangeError::Rejected {
                    venue: VENUE,
                    message: format!("no order {venue_order_id} on {pair}"),
                })
        })
        .await
    }

    async fn find_order(&self, order: &OrderRequest) -> Result<Option<Order>, ExchangeError> {
        self.call(Operation::Read, "find order", async {
            let client_id = client_order_id(VENUE, &order.leg);
            Ok(self
                .shared
                .engine()
                .orders
                .iter()
                .find(|o| o.client_id == client_id)
                .map(to_order))
        })
        .await
    }

    async fn withdrawal_terms(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<WithdrawalTerms, ExchangeError> {
        self.call(Operation::Read, "withdrawal terms", async {
            let n = self.network(asset, network)?;
            Ok(WithdrawalTerms {
                asset: n.asset,
                network: n.chain,
                fee: n.withdrawal_fee,
                minimum: n.withdrawal_minimum,
            })
        })
        .await
    }

    async fn withdraw(&self, request: &WithdrawalRequest) -> Result<Withdrawal, ExchangeError> {
        self.call(Operation::Withdraw, "withdraw", async {
            let reference = withdrawal_reference(VENUE, &request.leg);
            self.shared
                .withdraw(
                    &request.asset,
                    &request.network,
                    &request.address,
                    request.amount,
                    Some(&reference),
                )
                .await
                .map(|w| to_withdrawal(&w))
                .map_err(|r| {
                    let context = format!(
                        "withdrawal {reference} of {} {} on {} to {}",
                        request.amount, request.asset, request.network, request.address
                    );
                    refusal(&r, &context)
                })
        })
        .await
    }

    async fn withdrawal_status(
        &self,
        asset: &AssetCode,
        venue_withdrawal_id: &str,
    ) -> Result<Withdrawal, ExchangeError> {
        self.call(Operation::Read, "withdrawal status", async {
            self.shared
                .engine()
                .withdrawals
                .iter()
                .find(|w| w.id == venue_withdrawal_id && &w.asset == asset)
                .map(to_withdrawal)
                .ok_or_else(|| ExchangeError::Rejected {
                    venue: VENUE,
                    message: format!("no {asset} withdrawal {venue_withdrawal_id}"),
                })
        })
        .await
    }

    async fn find_withdrawal(
        &self,
        request: &WithdrawalRequest,
    ) -> Result<Option<Withdrawal>, ExchangeError> {
        self.call(Operation::Read, "find withdrawal", async {
            let reference = withdrawal_reference(VENUE, &request.leg);
            Ok(self
                .shared
                .engine()
                .withdrawals
                .iter()
                .find(|w| w.reference.as_deref() == Some(reference.as_str()))
                .map(to_withdrawal))
        })
        .await
    }

    async fn deposit_address(
        &self,
        asset: &AssetCode,
        network: &ChainId,
    ) -> Result<DepositAddress, ExchangeError> {
        self.call(Operation::Read, "deposit address", async {
            let n = self.network(asset, network)?;
            Ok(DepositAddress {
                asset: n.asset,
                network: n.chain,
                address: n.deposit_address,
                memo: None,
            })
        })
        .await
    }
}
