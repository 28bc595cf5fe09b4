//! The double-entry ledger: every money event posts one transaction of entries that sum to zero
//! per asset, exactly (`rust_decimal`), to named accounts per merchant and asset. Entries are
//! append-only; a transaction is unique by `(kind, reference)`, so an event is posted once.
//!
//! Accounts (signed: positive = held by / owed to the named party):
//! - `payers`: funds that came in from payers (its balance is minus everything received);
//! - `merchant:{id}:balance`: what Rialto holds for the merchant, not yet settled;
//! - `merchant:{id}:settled`: what reached the merchant's own settlement address;
//! - `merchant:{id}:refunds_pending` / `merchant:{id}:payouts_pending`: balance reserved by a
//!   refund or payout that is on its way.
//!
//! Kinds: `payment` (funds received and cleared), `settlement` (the funds reached the merchant:
//! a direct payment at once, a deposit when its sweep is confirmed), `refund` (reserved from the
//! balance when created), `refund_sent` (reached the payer), `refund_reversal` (failed; back to
//! the balance), and `payout`, `payout_paid`, `payout_reversal` likewise; `network_fee` (the
//! gas one of Rialto's own transactions paid, in the chain's native asset, per leg), and
//! `write_off` (an operator writes a merchant's amount off).

use std::collections::BTreeMap;

use rialto_core::id::MerchantId;
use rialto_core::intent::PaymentIntent;
use rust_decimal::Decimal;

pub const PAYERS: &str = "payers";

pub fn merchant_balance(merchant: &MerchantId) -> String {
    format!("merchant:{merchant}:balance")
}

pub fn merchant_settled(merchant: &MerchantId) -> String {
    format!("merchant:{merchant}:settled")
}

/// Gas Rialto paid for its own transactions (an operating expense), and the gas wallet it
/// came from, per native asset.
pub const NETWORK_FEES: &str = "rialto:network_fees";
pub const GAS_WALLET: &str = "rialto:gas_wallet";
/// Amounts operators wrote off merchants' balances.
pub const WRITE_OFFS: &str = "rialto:write_offs";

pub fn refunds_pending(merchant: &MerchantId) -> String {
    format!("merchant:{merchant}:refunds_pending")
}

pub fn payouts_pending(merchant: &MerchantId) -> String {
    format!("merchant:{merchant}:payouts_pending")
}

/// One line of a ledger transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub account: String,
    /// CAIP-19.
    pub asset: String,
    pub amount: Decimal,
}

/// A balanced set of entries, recorded together.
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger transaction {kind}/{reference} does not balance in {asset}: {sum}")]
pub struct Unbalanced {
    pub kind: String,
    pub reference: String,
    pub asset: String,
    pub sum: Decimal,
}

impl Posting {
    /// Builds a posting, refusing one whose entries do not sum to zero in every asset.
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
                rialto_core::id::LegId::generate()
                    .to_string()
                    .trim_start_matches("leg_")
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

/// The postings of a paid intent whose funds reached the merchant: `payment` (payers →
/// merchant balance) and `settlement` (merchant balance → settled), both of `paid`.
pub fn paid_and_settled(
    intent: &PaymentIntent,
    paid: Decimal,
    now_ms: i64,
) -> Result<Vec<Posting>, Unbalanced> {
    let asset = intent.settlement.asset.id.to_string();
    let entry = |account: String, amount: Decimal| Entry {
        account,
        asset: asset.clone(),
        amount,
    };
    let balance = merchant_balance(&intent.merchant_id);
    Ok(vec![
        Posting::new(
            intent,
            "payment",
            vec![
                entry(PAYERS.to_owned(), -paid),
                entry(balance.clone(), paid),
            ],
            now_ms,
        )?,
        Posting::new(
            intent,
            "settlement",
            vec![
                entry(balance, -paid),
                entry(merchant_settled(&intent.merchant_id), paid),
            ],
            now_ms,
        )?,
    ])
}

/// The `payment` posting alone: the funds are held for the merchant (batched settlement, or a
/// policy refund still to come out of them).
pub fn paid_and_held(
    intent: &PaymentIntent,
    paid: Decimal,
    now_ms: i64,
) -> Result<Vec<Posting>, Unbalanced> {
    let mut postings = paid_and_settled(intent, paid, now_ms)?;
    postings.truncate(1);
    Ok(postings)
}

/// Moves `amount` of `asset` from one of the merchant's accounts to another (or to payers).
pub fn transfer(
    (merchant, livemode): (MerchantId, bool),
    kind: &str,
    reference: &str,
    asset: &str,
    (from, to): (String, String),
    amount: Decimal,
    now_ms: i64,
) -> Result<Posting, Unbalanced> {
    let entry = |account: String, amount: Decimal| Entry {
        account,
        asset: asset.to_owned(),
        amount,
    };
    Posting::for_merchant(
        merchant,
        livemode,
        kind,
        reference,
        vec![entry(from, -amount), entry(to, amount)],
        now_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
            account: "a".into(),
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
