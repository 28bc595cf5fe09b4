//! The sandbox exchange's account: balances, books that fills consume, orders, withdrawals.
//! It knows nothing of HTTP or of any venue's wire format; the dialect modules translate.

use std::collections::{BTreeMap, BTreeSet};

use rialto_core::ChainId;
use rust_decimal::Decimal;

use crate::exchange::{AssetCode, BookLevel, Pair, Side, WithdrawalStatus};

/// One withdrawable asset on one chain, with each venue dialect's name for the network.
#[derive(Debug, Clone)]
pub struct SandboxNetwork {
    pub asset: AssetCode,
    pub chain: ChainId,
    /// Binance `network` (`BASE`), Kraken `WithdrawMethods.network` (`Base`), Coinbase v2
    /// `network` (`base`).
    pub binance: String,
    pub kraken: String,
    pub coinbase: String,
    pub withdrawal_fee: Decimal,
    pub withdrawal_minimum: Decimal,
    /// Where deposits to the sandbox account go.
    pub deposit_address: String,
}

#[derive(Debug, Clone, Default)]
pub struct SandboxBook {
    /// Best (highest) first.
    pub bids: Vec<BookLevel>,
    /// Best (lowest) first.
    pub asks: Vec<BookLevel>,
}

/// How an order ended. Sandbox orders are market or IOC: they never rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    Filled,
    /// Some filled, the rest canceled (IOC remainder or a book too thin).
    Partial,
    /// Nothing filled.
    Expired,
}

#[derive(Debug, Clone)]
pub struct SandboxOrder {
    pub id: String,
    pub client_id: String,
    pub pair: Pair,
    pub side: Side,
    pub base_size: Decimal,
    pub filled_base: Decimal,
    pub filled_quote: Decimal,
    /// In the quote asset.
    pub fee: Decimal,
    pub fill: Fill,
    pub time_ms: u64,
}

#[derive(Debug, Clone)]
pub struct SandboxWithdrawal {
    pub id: String,
    pub reference: Option<String>,
    pub asset: AssetCode,
    pub chain: ChainId,
    pub address: String,
    /// Debited from the account; `amount - fee` arrives.
    pub amount: Decimal,
    pub fee: Decimal,
    pub status: WithdrawalStatus,
    pub tx_hash: Option<String>,
    pub time_ms: u64,
}

/// Why the engine refused. Dialects render each in their venue's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    InsufficientFunds,
    BelowMinimum,
    UnknownPair,
    UnknownNetwork,
    NotWhitelisted,
}

#[derive(Debug, Default)]
pub struct Engine {
    pub balances: BTreeMap<AssetCode, Decimal>,
    pub books: BTreeMap<Pair, SandboxBook>,
    pub taker_fee_rate: Decimal,
    /// Smallest order, in the quote asset.
    pub min_notional: Decimal,
    pub networks: Vec<SandboxNetwork>,
    /// `None` accepts any address; `Some` only these.
    pub whitelist: Option<BTreeSet<String>>,
    pub orders: Vec<SandboxOrder>,
    pub withdrawals: Vec<SandboxWithdrawal>,
    /// Orders and withdrawals sent again with a client id / reference already executed. The
    /// engine answers them with the first result (as Coinbase does), so they never execute
    /// twice, but a correct client never sends them: tests assert this stays zero.
    pub duplicates: usize,
    pub(crate) next_id: u64,
}

impl Engine {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:08}", self.next_id)
    }

    pub fn pair_by(&self, matches: impl Fn(&Pair) -> bool) -> Option<Pair> {
        self.books.keys().find(|p| matches(p)).cloned()
    }

    pub fn network(
        &self,
        asset: &AssetCode,
        matches: impl Fn(&SandboxNetwork) -> bool,
    ) -> Option<&SandboxNetwork> {
        self.networks
            .iter()
            .find(|n| &n.asset == asset && matches(n))
    }

    /// Executes a market (`limit = None`) or IOC limit order against the book.
    ///
    /// As strict as the real venues: a client order id is unique only among *open* orders
    /// (Binance, Kraken), and sandbox orders never rest, so an id already used by a filled or
    /// expired order is accepted and executes again. A client that resends blindly after a
    /// fill buys twice; it must look the order up first. Such a reuse is counted in
    /// `duplicates` so tests can assert it never happens.
    pub fn place(
        &mut self,
        pair: &Pair,
        side: Side,
        base_size: Decimal,
        limit: Option<Decimal>,
        client_id: &str,
        now_ms: u64,
    ) -> Result<SandboxOrder, Refusal> {
        if !client_id.is_empty() && self.orders.iter().any(|o| o.client_id == client_id) {
            self.duplicates += 1;
        }
        let book = self.books.get(pair).ok_or(Refusal::UnknownPair)?;
        let levels = match side {
            Side::Buy => &book.asks,
            Side::Sell => &book.bids,
        };
        let (filled_base, filled_quote, taken) = match_levels(levels, side, base_size, limit);
        let fee = filled_quote * self.taker_fee_rate;
        if filled_base > Decimal::ZERO && filled_quote < self.min_notional {
            return Err(Refusal::BelowMinimum);
        }
        let (pay_asset, pay, get_asset, get) = match side {
            Side::Buy => (&pair.quote, filled_quote + fee, &pair.base, filled_base),
            Side::Sell => (&pair.base, filled_base, &pair.quote, filled_quote - fee),
        };
        if self.balances.get(pay_asset).copied().unwrap_or_default() < pay {
            return Err(Refusal::InsufficientFunds);
        }
        *self.balances.entry(pay_asset.clone()).or_default() -= pay;
        *self.balances.entry(get_asset.clone()).or_default() += get;
        consume(self.books.get_mut(pair), side, &taken);
        let fill = if filled_base == base_size {
            Fill::Filled
        } else if filled_base.is_zero() {
            Fill::Expired
        } else {
            Fill::Partial
        };
        let order = SandboxOrder {
            id: self.id("ord"),
            client_id: client_id.to_owned(),
            pair: pair.clone(),
            side,
            base_size,
            filled_base,
            filled_quote,
            fee,
            fill,
            time_ms: now_ms,
        };
        self.orders.push(order.clone());
        Ok(order)
    }

    /// Debits a withdrawal and records it as pending, at most once per reference. The transfer
    /// itself happens outside the lock ([`super::SettlementSink`]), then [`Self::settle`].
    pub fn withdraw(
        &mut self,
        asset: &AssetCode,
        chain: &ChainId,
        address: &str,
        amount: Decimal,
        reference: Option<&str>,
        now_ms: u64,
    ) -> Result<(SandboxWithdrawal, bool), Refusal> {
        if let Some(reference) = reference {
            if let Some(existing) = self
                .withdrawals
                .iter()
                .find(|w| w.reference.as_deref() == Some(reference))
            {
                let existing = existing.clone();
                self.duplicates += 1;
                return Ok((existing, false));
            }
        }
        let network = self
            .network(asset, |n| &n.chain == chain)
            .ok_or(Refusal::UnknownNetwork)?;
        let fee = network.withdrawal_fee;
        if amount < network.withdrawal_minimum || amount <= fee {
            return Err(Refusal::BelowMinimum);
        }
        if self
            .whitelist
            .as_ref()
            .is_some_and(|list| !list.contains(address))
        {
            return Err(Refusal::NotWhitelisted);
        }
        let balance = self.balances.entry(asset.clone()).or_default();
        if *balance < amount {
            return Err(Refusal::InsufficientFunds);
        }
        *balance -= amount;
        let withdrawal = SandboxWithdrawal {
            id: self.id("wd"),
            reference: reference.map(str::to_owned),
            asset: asset.clone(),
            chain: chain.clone(),
            address: address.to_owned(),
            amount,
            fee,
            status: WithdrawalStatus::Pending,
            tx_hash: None,
            time_ms: now_ms,
        };
        self.withdrawals.push(withdrawal.clone());
        Ok((withdrawal, true))
    }

    /// Records the outcome of a withdrawal's on-chain transfer.
    pub fn settle(
        &mut self,
        id: &str,
        outcome: Result<String, String>,
    ) -> Option<SandboxWithdrawal> {
        let index = self.withdrawals.iter().position(|w| w.id == id)?;
        match outcome {
            Ok(hash) => {
                let w = &mut self.withdrawals[index];
                w.status = WithdrawalStatus::Completed;
                w.tx_hash = Some(hash);
            }
            Err(_) => {
                let (asset, amount) = {
                    let w = &mut self.withdrawals[index];
                    w.status = WithdrawalStatus::Failed;
                    (w.asset.clone(), w.amount)
                };
                // A failed transfer returns the funds to the account.
                *self.balances.entry(asset).or_default() += amount;
            }
        }
        self.withdrawals.get(index).cloned()
    }
}

/// Walks `levels` for up to `size`, stopping at the limit price; returns the fill and the
/// (level index, size taken) pairs to remove from the book.
fn match_levels(
    levels: &[BookLevel],
    side: Side,
    size: Decimal,
    limit: Option<Decimal>,
) -> (Decimal, Decimal, Vec<(usize, Decimal)>) {
    let mut base = Decimal::ZERO;
    let mut quote = Decimal::ZERO;
    let mut taken = Vec::new();
    for (index, level) in levels.iter().enumerate() {
        let acceptable = match (side, limit) {
            (_, None) => true,
            (Side::Buy, Some(limit)) => level.price <= limit,
            (Side::Sell, Some(limit)) => level.price >= limit,
        };
        if !acceptable || base == size {
            break;
        }
        let take = (size - base).min(level.size);
        base += take;
        quote += take * level.price;
        taken.push((index, take));
    }
    (base, quote, taken)
}

fn consume(book: Option<&mut SandboxBook>, side: Side, taken: &[(usize, Decimal)]) {
    let Some(book) = book else { return };
    let levels = match side {
        Side::Buy => &mut book.asks,
        Side::Sell => &mut book.bids,
    };
    for (index, size) in taken {
        if let Some(level) = levels.get_mut(*index) {
            level.size -= *size;
        }
    }
    levels.retain(|l| l.size > Decimal::ZERO);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn a(s: &str) -> AssetCode {
        AssetCode::new(s).expect("asset")
    }

    fn engine() -> Engine {
        let pair = Pair::new(a("BTC"), a("USD"));
        let mut e = Engine {
            taker_fee_rate: d("0.001"),
            min_notional: d("10"),
            ..Engine::default()
        };
        e.balances.insert(a("USD"), d("100000"));
        e.books.insert(
            pair,
            SandboxBook {
                bids: vec![BookLevel {
                    price: d("99"),
                    size: d("1"),
                }],
                asks: vec![
                    BookLevel {
                        price: d("100"),
                        size: d("1"),
                    },
                    BookLevel {
                        price: d("110"),
                        size: d("1"),
                    },
                ],
            },
        );
        e
    }

    #[test]
    fn a_fill_consumes_the_book_and_moves_balances_with_the_fee() {
        let mut e = engine();
        let pair = Pair::new(a("BTC"), a("USD"));
        let o = e
            .place(&pair, Side::Buy, d("1.5"), None, "c1", 0)
            .expect("fill");
        assert_eq!(
            (o.filled_base, o.filled_quote, o.fee, o.fill),
            (d("1.5"), d("155"), d("0.155"), Fill::Filled)
        );
        assert_eq!(e.balances[&a("BTC")], d("1.5"));
        assert_eq!(e.balances[&a("USD")], d("99844.845"));
        assert_eq!(
            e.books[&pair].asks,
            vec![BookLevel {
                price: d("110"),
                size: d("0.5")
            }]
        );
    }

    #[test]
    fn an_ioc_limit_fills_up_to_its_price_and_a_closed_orders_client_id_executes_again() {
        let mut e = engine();
        let pair = Pair::new(a("BTC"), a("USD"));
        let o = e
            .place(&pair, Side::Buy, d("2"), Some(d("105")), "c1", 0)
            .expect("partial");
        assert_eq!((o.filled_base, o.fill), (d("1"), Fill::Partial));
        // The first order is closed (IOC remainder canceled): the venue accepts the id again
        // and a second buy executes, as Binance and Kraken would.
        let again = e
            .place(&pair, Side::Buy, d("0.5"), None, "c1", 0)
            .expect("executes again");
        assert_ne!(again.id, o.id);
        assert_eq!(again.filled_base, d("0.5"));
        assert_eq!((e.orders.len(), e.duplicates), (2, 1));
    }
}
