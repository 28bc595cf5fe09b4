//! Domain types of the exchange layer. Venue wire types never leave their venue module; they
//! are mapped onto these.

use std::collections::BTreeMap;
use std::fmt;

use rialto_core::id::LegId;
use rialto_core::ChainId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The venues Rialto trades on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Venue {
    Coinbase,
    Kraken,
    Binance,
    /// The sandbox exchange behind `_test_` keys.
    Sandbox,
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Coinbase => "coinbase",
            Self::Kraken => "kraken",
            Self::Binance => "binance",
            Self::Sandbox => "sandbox",
        })
    }
}

/// A ticker in Rialto's spelling (`BTC`, `USDC`, `USD`): upper-case ASCII letters and digits.
/// Venues' own spellings (`XBT`, `XXBT`, `ZUSD`) are translated in their modules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AssetCode(String);

impl AssetCode {
    /// Parses a ticker; lower case is accepted and upper-cased. A hyphen may join two parts
    /// (the devnet's deposit token `JPMD-DEV`), never lead, end or double.
    pub fn new(code: &str) -> Option<Self> {
        let ok = (1..=12).contains(&code.len())
            && code
                .split('-')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()));
        ok.then(|| Self(code.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AssetCode {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value).ok_or_else(|| format!("invalid asset code `{value}`"))
    }
}

impl From<AssetCode> for String {
    fn from(value: AssetCode) -> Self {
        value.0
    }
}

impl fmt::Display for AssetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A spot market: `base` priced in `quote` (BTC/USD: one BTC costs so many USD).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pair {
    pub base: AssetCode,
    pub quote: AssetCode,
}

impl Pair {
    pub fn new(base: AssetCode, quote: AssetCode) -> Self {
        Self { base, quote }
    }
}

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.quote)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

/// Order types a venue client can place (declared in [`Capabilities`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    Market,
    /// Limit, immediate-or-cancel: fills what it can at the limit or better now, cancels the rest.
    LimitIoc,
}

/// How an order is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OrderKind {
    Market,
    LimitIoc { limit_price: Decimal },
}

impl OrderKind {
    pub fn order_type(&self) -> OrderType {
        match self {
            Self::Market => OrderType::Market,
            Self::LimitIoc { .. } => OrderType::LimitIoc,
        }
    }
}

/// An order to place. Its client order id derives from `leg` (see
/// [`super::client_order_id`]), so the venue can be asked about it after a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub leg: LegId,
    pub pair: Pair,
    pub side: Side,
    /// Size in the base asset, in whole units.
    pub base_size: Decimal,
    pub kind: OrderKind,
}

/// Where an order stands on the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, not yet on the book or matched.
    Pending,
    /// Resting or being matched, nothing filled yet.
    Open,
    PartiallyFilled,
    Filled,
    /// Canceled (an IOC remainder is canceled too): see the filled amounts.
    Canceled,
    Expired,
    Rejected,
}

impl OrderStatus {
    /// Whether the order can still change.
    pub fn is_final(self) -> bool {
        match self {
            Self::Pending | Self::Open | Self::PartiallyFilled => false,
            Self::Filled | Self::Canceled | Self::Expired | Self::Rejected => true,
        }
    }
}

/// An order as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub venue: Venue,
    pub venue_order_id: String,
    pub client_order_id: String,
    pub pair: Pair,
    pub side: Side,
    pub status: OrderStatus,
    /// Base filled so far.
    pub filled_base: Decimal,
    /// Quote exchanged for the fill, before fees.
    pub filled_quote: Decimal,
    /// Fees charged so far, in `fee_asset`.
    pub fee: Decimal,
    pub fee_asset: Option<AssetCode>,
}

/// One asset's balance on a venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub asset: AssetCode,
    /// Free to trade or withdraw.
    pub available: Decimal,
    /// Held by open orders or pending withdrawals.
    pub held: Decimal,
}

/// An executable price for a size, from walking the current book and charging the taker fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub venue: Venue,
    pub pair: Pair,
    pub side: Side,
    pub base_size: Decimal,
    /// Quote exchanged for `base_size` at the visible book, before fees.
    pub gross_quote: Decimal,
    /// Taker fee, in the quote asset.
    pub fee: Decimal,
    /// What the taker pays (buy: gross + fee) or receives (sell: gross − fee), in quote.
    pub net_quote: Decimal,
    /// Volume-weighted price before fees.
    pub average_price: Decimal,
    /// The last level the walk touched: a limit IOC at this price fills the whole size now.
    pub worst_price: Decimal,
    pub taker_fee_rate: Decimal,
}

/// What withdrawing an asset on a network costs and needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalTerms {
    pub asset: AssetCode,
    pub network: ChainId,
    /// Flat fee in `asset`, deducted by the venue.
    pub fee: Decimal,
    /// Smallest amount the venue accepts.
    pub minimum: Decimal,
}

/// A withdrawal to send. `leg` is the idempotency reference (see
/// [`super::withdrawal_reference`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalRequest {
    pub leg: LegId,
    pub asset: AssetCode,
    pub network: ChainId,
    pub address: String,
    /// Amount leaving the account, in whole units of `asset`.
    pub amount: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalStatus {
    /// Accepted, waiting (confirmation e-mail, approval, risk review, queue).
    Pending,
    /// Being broadcast or confirmed on chain.
    Processing,
    Completed,
    Failed,
    Canceled,
}

impl WithdrawalStatus {
    pub fn is_final(self) -> bool {
        match self {
            Self::Pending | Self::Processing => false,
            Self::Completed | Self::Failed | Self::Canceled => true,
        }
    }
}

/// A withdrawal as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub venue: Venue,
    pub venue_withdrawal_id: String,
    pub asset: AssetCode,
    pub network: Option<ChainId>,
    pub address: Option<String>,
    pub amount: Decimal,
    pub fee: Option<Decimal>,
    pub status: WithdrawalStatus,
    /// The on-chain transaction, once the venue reports it.
    pub tx_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositAddress {
    pub asset: AssetCode,
    pub network: ChainId,
    pub address: String,
    /// Destination tag / memo where the network needs one.
    pub memo: Option<String>,
}

/// What a venue client can do, declared rather than discovered so the router can plan offline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Assets and, for each, the networks it can be withdrawn and deposited on.
    pub assets: BTreeMap<AssetCode, Vec<ChainId>>,
    pub order_types: Vec<OrderType>,
}

impl Capabilities {
    pub fn supports_network(&self, asset: &AssetCode, network: &ChainId) -> bool {
        self.assets
            .get(asset)
            .is_some_and(|networks| networks.contains(network))
    }

    pub fn supports_order_type(&self, order_type: OrderType) -> bool {
        self.order_types.contains(&order_type)
    }
}

/// What an API key may do on its venue, as the venue itself reports it through read-only
/// calls (nothing is moved to find out). `None`: the venue offers no read that tells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyAccess {
    /// Balances and account data can be read.
    pub read: Option<bool>,
    /// Orders can be placed.
    pub trade: Option<bool>,
    /// Funds can be withdrawn.
    pub withdraw: Option<bool>,
}
