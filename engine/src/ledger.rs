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
//! gas one of Rialto's own transactions paid, in the chain's native asset, per leg),
//! `write_off` (an operator writes a merchant's amount off), and a misdirected deposit's
//! `misdirected_received` (payers → `rialto:misdirected`), `misdirected_returned` (back to
//! payers, the network cost to `rialto:network_fees`) or `misdirected_write_off` (to
//! `rialto:write_offs`).

use rialto_core::id::MerchantId;
use rialto_core::intent::PaymentIntent;
pub use rialto_core::ledger::{Account, AccountError, Entry, Posting, Unbalanced};
use rust_decimal::Decimal;

pub const PAYERS: Account = Account::Payers;

pub fn merchant_balance(merchant: &MerchantId) -> Account {
    Account::MerchantBalance(*merchant)
}

pub fn merchant_settled(merchant: &MerchantId) -> Account {
    Account::MerchantSettled(*merchant)
}

/// Gas Rialto paid for its own transactions (an operating expense), and the gas wallet it
/// came from, per native asset.
pub const NETWORK_FEES: Account = Account::NetworkFees;
pub const GAS_WALLET: Account = Account::GasWallet;
/// Amounts operators wrote off merchants' balances.
pub const WRITE_OFFS: Account = Account::WriteOffs;
/// Rialto's FX spread on conversion payments it held.
pub const FX_REVENUE: Account = Account::FxRevenue;

pub fn refunds_pending(merchant: &MerchantId) -> Account {
    Account::RefundsPending(*merchant)
}

pub fn refund_reserve(merchant: &MerchantId) -> Account {
    Account::RefundReserve(*merchant)
}

pub fn payouts_pending(merchant: &MerchantId) -> Account {
    Account::PayoutsPending(*merchant)
}

/// The postings of a paid intent whose funds reached the merchant: `payment` (payers →
/// merchant balance) and `settlement` (merchant balance → settled), both of `paid`.
pub fn paid_and_settled(
    intent: &PaymentIntent,
    paid: Decimal,
    now_ms: i64,
) -> Result<Vec<Posting>, Unbalanced> {
    let asset = intent.settlement.asset.id.to_string();
    let entry = |account: Account, amount: Decimal| Entry {
        account,
        asset: asset.clone(),
        amount,
    };
    let balance = merchant_balance(&intent.merchant_id);
    Ok(vec![
        Posting::new(
            intent,
            "payment",
            vec![entry(PAYERS, -paid), entry(balance.clone(), paid)],
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
///
/// A conversion intent locked with a spread (only held funds carry one) books the spread as
/// Rialto's FX revenue out of what was paid: the merchant's balance gets the rest, at least the
/// lock's `settlement_amount` when the payer paid what the lock asked.
pub fn paid_and_held(
    intent: &PaymentIntent,
    paid: Decimal,
    now_ms: i64,
) -> Result<Vec<Posting>, Unbalanced> {
    let mut postings = paid_and_settled(intent, paid, now_ms)?;
    postings.truncate(1);
    let spread = fx_spread(intent).min(paid);
    if spread > Decimal::ZERO {
        let asset = intent.settlement.asset.id.to_string();
        let balance = merchant_balance(&intent.merchant_id);
        postings[0] = Posting::new(
            intent,
            "payment",
            vec![
                Entry {
                    account: PAYERS,
                    asset: asset.clone(),
                    amount: -paid,
                },
                Entry {
                    account: balance,
                    asset: asset.clone(),
                    amount: paid - spread,
                },
                Entry {
                    account: FX_REVENUE,
                    asset,
                    amount: spread,
                },
            ],
            now_ms,
        )?;
    }
    Ok(postings)
}

/// The FX spread the intent's lock keeps for Rialto (zero without a lock).
pub fn fx_spread(intent: &PaymentIntent) -> Decimal {
    intent
        .fx
        .as_ref()
        .map_or(Decimal::ZERO, |lock| lock.spread_amount.max(Decimal::ZERO))
}

/// Moves `amount` of `asset` from one of the merchant's accounts to another (or to payers).
pub fn transfer(
    (merchant, livemode): (MerchantId, bool),
    kind: &str,
    reference: &str,
    asset: &str,
    (from, to): (Account, Account),
    amount: Decimal,
    now_ms: i64,
) -> Result<Posting, Unbalanced> {
    let entry = |account: Account, amount: Decimal| Entry {
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
