//! The double-entry ledger's types: [`Account`], [`Entry`], [`Posting`] and the one rule every
//! posting keeps, that its entries sum to zero in every asset, exactly.
//!
//! Accounts (signed: positive = held by / owed to the named party) are stored by their names,
//! which [`Account`] writes and parses: `payers`, `merchant:{id}:balance`,
//! `merchant:{id}:settled`, `merchant:{id}:refunds_pending`, `merchant:{id}:payouts_pending`,
//! `rialto:network_fees`, `rialto:gas_wallet`, `rialto:write_offs`, `rialto:routing`,
//! `venue:{venue}`, `fees:venue:{venue}`, `route_venue:{venue}`, `rialto:treasury`,
//! `issuer_float:{issuer}` and `fees:issuer:{issuer}`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::id::{LegId, MerchantId};
use crate::intent::PaymentIntent;

/// A ledger account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// Funds that came in from payers (its balance is minus everything received).
    Payers,
    /// What Rialto holds for the merchant, not yet settled.
    MerchantBalance(MerchantId),
    /// What reached the merchant's own settlement address.
    MerchantSettled(MerchantId),
    /// Balance reserved by a refund on its way.
    RefundsPending(MerchantId),
    /// Balance reserved by a payout on its way.
    PayoutsPending(MerchantId),
    /// The merchant's prepaid refund reserve (per asset, so per asset and chain): funds it
    /// sent to Rialto's treasury for refunds, drawn by refunds its balance cannot cover.
    RefundReserve(MerchantId),
    /// Gas Rialto paid for its own transactions (an operating expense).
    NetworkFees,
    /// The gas wallet that gas came from, per native asset.
    GasWallet,
    /// Amounts operators wrote off merchants' balances.
    WriteOffs,
    /// Funds Rialto holds while routes run.
    Routing,
    /// Rialto's FX spread kept from conversion payments it held (docs/money.md).
    FxRevenue,
    /// Funds that reached a deposit address but pay nothing (another token, the native coin,
    /// the right token on another chain), held until returned or written off
    /// (docs/evm.md, "Misdirected deposits").
    Misdirected,
    /// A payer's account on an exchange venue (outside Rialto's custody).
    Venue(String),
    /// What an exchange venue charged the payer.
    VenueFees(String),
    /// The other side of a route's swap or bridge on `venue` (a DEX, a bridge).
    RouteVenue(String),
    /// Rialto's own stablecoins at its addresses, outside any route: a routed payer's USDC
    /// once an issuer minted the merchant's deposit token against Rialto's USD float.
    Treasury,
    /// Rialto's USD account at an issuing bank (its float; negative = spent since the books
    /// began), in the ledger asset `usd`.
    IssuerFloat(String),
    /// What an issuing bank charged for mints and redemptions, in `usd`.
    IssuerFees(String),
}

/// Not an account name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a ledger account: {0:?}")]
pub struct AccountError(pub String);

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Payers => f.write_str("payers"),
            Account::MerchantBalance(m) => write!(f, "merchant:{m}:balance"),
            Account::MerchantSettled(m) => write!(f, "merchant:{m}:settled"),
            Account::RefundsPending(m) => write!(f, "merchant:{m}:refunds_pending"),
            Account::PayoutsPending(m) => write!(f, "merchant:{m}:payouts_pending"),
            Account::RefundReserve(m) => write!(f, "merchant:{m}:refund_reserve"),
            Account::NetworkFees => f.write_str("rialto:network_fees"),
            Account::GasWallet => f.write_str("rialto:gas_wallet"),
            Account::WriteOffs => f.write_str("rialto:write_offs"),
            Account::Routing => f.write_str("rialto:routing"),
            Account::FxRevenue => f.write_str("rialto:fx_revenue"),
            Account::Misdirected => f.write_str("rialto:misdirected"),
            Account::Venue(v) => write!(f, "venue:{v}"),
            Account::VenueFees(v) => write!(f, "fees:venue:{v}"),
            Account::RouteVenue(v) => write!(f, "route_venue:{v}"),
            Account::Treasury => f.write_str("rialto:treasury"),
            Account::IssuerFloat(v) => write!(f, "issuer_float:{v}"),
            Account::IssuerFees(v) => write!(f, "fees:issuer:{v}"),
        }
    }
}

impl FromStr for Account {
    type Err = AccountError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || AccountError(text.to_owned());
        let named = |prefix: &str| {
            text.strip_prefix(prefix)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Ok(match text {
            "payers" => Account::Payers,
            "rialto:network_fees" => Account::NetworkFees,
            "rialto:gas_wallet" => Account::GasWallet,
            "rialto:write_offs" => Account::WriteOffs,
            "rialto:routing" => Account::Routing,
            "rialto:fx_revenue" => Account::FxRevenue,
            "rialto:treasury" => Account::Treasury,
            "rialto:misdirected" => Account::Misdirected,
            _ => {
                if let Some(v) = named("fees:venue:") {
                    Account::VenueFees(v)
                } else if let Some(v) = named("fees:issuer:") {
                    Account::IssuerFees(v)
                } else if let Some(v) = named("issuer_float:") {
                    Account::IssuerFloat(v)
                } else if let Some(v) = named("route_venue:") {
                    Account::RouteVenue(v)
                } else if let Some(v) = named("venue:") {
                    Account::Venue(v)
                } else {
                    let rest = text.strip_prefix("merchant:").ok_or_else(bad)?;
                    let (id, which) = rest.split_once(':').ok_or_else(bad)?;
                    let m: MerchantId = id.parse().map_err(|_| bad())?;
                    match which {
                        "balance" => Account::MerchantBalance(m),
                        "settled" => Account::MerchantSettled(m),
                        "refunds_pending" => Account::RefundsPending(m),
                        "payouts_pending" => Account::PayoutsPending(m),
                        "refund_reserve" => Account::RefundReserve(m),
                        _ => return Err(bad()),
                    }
                }
            }
        })
    }
}

/// One line of a ledger transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub account: Account,
    /// CAIP-19, or `venue:{venue}/{code}` for an asset held on a venue.
    pub asset: String,
    pub amount: Decimal,
}

/// A balanced set of entries, recorded together; unique by `(kind, reference)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub id: String,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub kind: String,
    pub reference: String,
    pub created_at_ms: i64,
    pub entries: Vec<Entry>,
}

/// A posting whose entries do not sum to zero in some asset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger transaction {kind}/{reference} does not balance in {asset}: {sum}")]
pub struct Unbalanced {
    pub kind: String,
    pub reference: String,
    pub asset: String,
    pub sum: Decimal,
}

impl Posting {
    /// Builds a posting about `intent`, refusing one whose entries do not sum to zero in every
    /// asset.
    pub fn new(
        intent: &PaymentIntent,
        kind: &str,
        entries: Vec<Entry>,
        now_ms: i64,
    ) -> Result<Self, Unbalanced> {
        Self::for_merchant(
            intent.merchant_id,
            intent.livemode,
            kind,
            &intent.id.to_string(),
            entries,
            now_ms,
        )
    }

    /// A posting about any object of the merchant's (a refund, a payout).
    pub fn for_merchant(
        merchant_id: MerchantId,
        livemode: bool,
        kind: &str,
        reference: &str,
        entries: Vec<Entry>,
        now_ms: i64,
    ) -> Result<Self, Unbalanced> {
        let posting = Self {
            id: format!(
                "ltx_{}",
                LegId::generate().to_string().trim_start_matches("leg_")
            ),
            merchant_id,
            livemode,
            kind: kind.to_owned(),
            reference: reference.to_owned(),
            created_at_ms: now_ms,
            entries,
        };
        posting.check()?;
        Ok(posting)
    }

    /// Every asset's entries sum to zero.
    pub fn check(&self) -> Result<(), Unbalanced> {
        let mut sums: BTreeMap<&str, Decimal> = BTreeMap::new();
        for e in &self.entries {
            *sums.entry(&e.asset).or_default() += e.amount;
        }
        match sums.into_iter().find(|(_, sum)| !sum.is_zero()) {
            None => Ok(()),
            Some((asset, sum)) => Err(Unbalanced {
                kind: self.kind.clone(),
                reference: self.reference.clone(),
                asset: asset.to_owned(),
                sum,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_account_round_trips_its_stored_name() {
        let m = MerchantId::generate();
        let all = [
            Account::Payers,
            Account::MerchantBalance(m),
            Account::MerchantSettled(m),
            Account::RefundsPending(m),
            Account::PayoutsPending(m),
            Account::NetworkFees,
            Account::GasWallet,
            Account::WriteOffs,
            Account::Routing,
            Account::Venue("kraken".into()),
            Account::VenueFees("kraken".into()),
            Account::RouteVenue("uniswap-v2:eip155:31337".into()),
            Account::Treasury,
            Account::Misdirected,
            Account::IssuerFloat("sandbox-bank".into()),
            Account::IssuerFees("sandbox-bank".into()),
        ];
        for account in all {
            let name = account.to_string();
            assert_eq!(name.parse::<Account>(), Ok(account), "{name}");
        }
        assert_eq!(
            format!("merchant:{m}:balance"),
            Account::MerchantBalance(m).to_string()
        );
        for bad in ["", "merchant:x:balance", "venue:", "rialto:other", "payer"] {
            assert!(bad.parse::<Account>().is_err(), "{bad}");
        }
        let unknown = format!("merchant:{m}:other");
        assert!(unknown.parse::<Account>().is_err());
    }

    #[test]
    fn an_unbalanced_posting_is_refused_per_asset() {
        let p = |entries: Vec<Entry>| Posting {
            id: "ltx_1".into(),
            merchant_id: MerchantId::generate(),
            livemode: false,
            kind: "payment".into(),
            reference: "pi_1".into(),
            created_at_ms: 0,
            entries,
        };
        let e = |asset: &str, amount: &str| Entry {
            account: Account::Payers,
            asset: asset.into(),
            amount: amount.parse().unwrap(),
        };
        assert!(p(vec![e("x", "25.000001"), e("x", "-25.000001")])
            .check()
            .is_ok());
        let err = p(vec![e("x", "25"), e("y", "-25")]).check().unwrap_err();
        assert_eq!(err.sum.to_string(), "25");
        assert!(
            p(vec![e("x", "0.1"), e("x", "0.2"), e("x", "-0.3")])
                .check()
                .is_ok(),
            "exact, not floating"
        );
    }
}
