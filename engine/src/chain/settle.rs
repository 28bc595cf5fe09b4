//! Settles funded intents whose payment needs no conversion (the router takes the others).
//!
//! - Paid straight to the settlement address (a reported transaction, a relayed EIP-3009
//!   authorization): the confirmed payment *is* the settlement, so the intent goes
//!   `funds_received → settling → succeeded` at once; a pass works these out side by side and
//!   writes up to 100 of them in one store transaction, each compare-and-set on its own.
//! - Paid into a deposit address: the gateway sends the deposit address the gas for one token
//!   transfer (leg `sweep_gas`), then sweeps everything received to the settlement address
//!   (leg `sweep`, signed by the deposit address's derived key). On Solana there is no gas
//!   leg: the hot wallet is the sweep's fee payer (`Rail::send_sponsored`), so a deposit
//!   wallet never holds SOL, and what the hot wallet spent (fee, the recipient token
//!   account's rent) is booked as a network fee in SOL. Both legs are recorded before
//!   they are sent and named by the intent, so a restart resumes them and never sends twice;
//!   the intent succeeds when the sweep has the chain's confirmations.
//! - Merchants on batched settlement (`crate::settings`): the sweep goes to the treasury (the
//!   chain's hot wallet) instead, the ledger holds the funds in the merchant's balance, and a
//!   payout (`crate::payouts`) moves them later with many others.

use std::sync::Arc;

use rialto_core::intent::{PaymentEvent, PaymentIntent, PaymentStatus};
use rialto_core::money::Money;

use super::rail::{self, ChainError, FeeLimits, FlowError, LegAction, LegRequest, StoreJournal};
use super::spread::{spread, spread_ordered};
use super::Chain;
use crate::objects::{intent_event, intent_json};
use crate::services::Engine;
use crate::store::chain::{ChainTransfer, LegStatus};
use crate::store::ledger::IntentWrite;
use crate::store::{CasOutcome, PaymentTransaction};
use crate::store::{PaymentSource, PaymentTxStatus};

pub const SWEEP_GAS: &str = "sweep_gas";
pub const SWEEP: &str = "sweep";
/// The sweep of a batched merchant's deposit: to the treasury, held for a payout.
pub const SWEEP_TO_TREASURY: &str = "sweep_treasury";

/// Funded intents one pass settles at once: each intent's steps are compare-and-set and its
/// legs are named by the intent, so intents are independent (as under several instances).
const PARALLEL_INTENTS: usize = 16;
/// Direct settlements worked out at once (reads and the postings' plan; nothing is sent).
const PARALLEL_PLANS: usize = 64;

/// Moves funded intents of `chain` towards `succeeded`; returns how many changed status.
pub async fn settle_funded(state: &Engine, chain: &Chain, now_ms: i64) -> Result<usize, FlowError> {
    let store = state.store.as_ref();
    let owned = Arc::new(chain.clone());
    let mut changed = 0;
    for status in [PaymentStatus::FundsReceived, PaymentStatus::Settling] {
        let mut intents = store
            .chain_funded_intents(&chain.caip2, chain.livemode, status, 500)
            .await?;
        if status == PaymentStatus::FundsReceived {
            let (settled, rest) = settle_direct_together(state, &owned, intents, now_ms).await;
            changed += settled;
            intents = rest;
        }
        changed += spread(intents, PARALLEL_INTENTS, |intent| {
            let (state, chain) = (state.clone(), owned.clone());
            async move {
                match settle_one(&state, &chain, &intent, status, now_ms).await {
                    Ok(moved) => usize::from(moved),
                    // One intent that cannot settle now must not hold up the others.
                    Err(err) => {
                        tracing::warn!(intent = %intent.id, error = %err, "settling failed; will retry");
                        0
                    }
                }
            }
        })
        .await;
    }
    Ok(changed)
}

/// The funded intents paid straight to their settlement address, settled together: each
/// one's `funds_received → settling → succeeded` (both events, the postings) is worked out
/// side by side and all are written in one store transaction per [`WRITE_CHUNK`], each
/// compare-and-set on its own. Answers how many succeeded and the intents left for
/// [`settle_one`] (deposits, halted assets, and every intent of a chunk whose write failed).
async fn settle_direct_together(
    state: &Engine,
    chain: &Arc<Chain>,
    intents: Vec<PaymentIntent>,
    now_ms: i64,
) -> (usize, Vec<PaymentIntent>) {
    // Their payment transactions in one read (an intent with none is left to `settle_one`).
    let ids: Vec<_> = intents.iter().map(|i| i.id).collect();
    let mut paid = match state.store.payment_transactions_of_intents(&ids).await {
        Ok(paid) => paid,
        Err(err) => {
            tracing::warn!(error = %err, "settling failed; will retry");
            return (0, Vec::new());
        }
    };
    let intents = intents.into_iter().map(|intent| {
        let of = paid.remove(&intent.id).unwrap_or_default();
        (intent, of)
    });
    let planned = spread_ordered(intents, PARALLEL_PLANS, |(intent, paid)| {
        let (state, chain) = (state.clone(), chain.clone());
        async move {
            let write = match direct_write(&state, &chain, &intent, paid, now_ms).await {
                Ok(write) => write,
                Err(err) => {
                    tracing::warn!(intent = %intent.id, error = %err, "settling failed; will retry");
                    None
                }
            };
            (intent, write)
        }
    })
    .await;
    let planned: Vec<(PaymentIntent, Option<IntentWrite>)> =
        planned.into_iter().flatten().collect();
    let (direct, rest): (Vec<_>, Vec<_>) = planned.into_iter().partition(|(_, w)| w.is_some());
    let mut rest: Vec<PaymentIntent> = rest.into_iter().map(|(intent, _)| intent).collect();
    let mut settled = 0;
    for chunk in direct.chunks(WRITE_CHUNK) {
        let writes: Vec<IntentWrite> = chunk.iter().filter_map(|(_, w)| w.clone()).collect();
        match state.store.update_intents_with_postings(&writes).await {
            Ok(outcomes) => {
                settled += outcomes
                    .iter()
                    .filter(|o| **o == CasOutcome::Updated)
                    .count();
            }
            Err(err) => {
                // One at a time instead, so one bad write does not hold up the others.
                tracing::warn!(error = %err, "settling a chunk together failed; one by one");
                rest.extend(chunk.iter().map(|(intent, _)| intent.clone()));
            }
        }
    }
    (settled, rest)
}

/// Intents written together in one store transaction.
const WRITE_CHUNK: usize = 100;

/// A halted asset (Proof of Reserve) settles nothing new (as in [`settle_one`]).
fn is_direct_skip(state: &Engine, intent: &PaymentIntent) -> bool {
    state
        .reserves
        .halted(intent.livemode, &intent.settlement.asset)
}

/// The write that settles a funded intent paid straight to its settlement address (`paid`,
/// its payment transactions), or `None` when it is not such an intent (a deposit, a route's,
/// an asset halted by Proof of Reserve).
async fn direct_write(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    paid: Vec<PaymentTransaction>,
    now_ms: i64,
) -> Result<Option<IntentWrite>, FlowError> {
    if !chain.serves(intent) || is_direct_skip(state, intent) {
        return Ok(None);
    }
    let Some(payment) = paid
        .into_iter()
        .find(|p| p.status == PaymentTxStatus::Confirmed)
    else {
        return Ok(None);
    };
    if payment.source == PaymentSource::Deposit {
        return Ok(None);
    }
    let Ok(settling) = intent.transition(PaymentEvent::SettlementStarted, now_ms) else {
        return Ok(None);
    };
    let started = intent_event(
        &settling,
        "payment_intent.settling",
        &intent_json(&settling),
        now_ms,
    );
    let Some((next, event, postings)) =
        succeed_plan(state, &settling, &payment, false, now_ms).await?
    else {
        return Ok(None);
    };
    Ok(Some(IntentWrite {
        expected: intent.status,
        expected_version: intent.version,
        next,
        events: vec![started, event],
        postings,
    }))
}

/// One funded intent of `chain` in `status`, a step towards `succeeded`.
async fn settle_one(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    status: PaymentStatus,
    now_ms: i64,
) -> Result<bool, FlowError> {
    if !chain.serves(intent) {
        return Ok(false);
    }
    // A halted asset (Proof of Reserve) settles nothing new: the reserves worker moves these
    // intents to review. One already settling finishes what it started.
    if status == PaymentStatus::FundsReceived
        && state
            .reserves
            .halted(intent.livemode, &intent.settlement.asset)
    {
        return Ok(false);
    }
    let paid = state.store.payment_transactions_of(&intent.id).await?;
    let Some(payment) = paid
        .into_iter()
        .find(|p| p.status == PaymentTxStatus::Confirmed)
    else {
        return Ok(false); // funded by a sandbox helper or a route: not ours to settle
    };
    if payment.source == PaymentSource::Deposit {
        sweep(state, chain, intent, &payment, now_ms).await
    } else {
        settle_direct(state, intent, &payment, now_ms).await
    }
}

async fn settle_direct(
    state: &Engine,
    intent: &PaymentIntent,
    payment: &PaymentTransaction,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let mut current = intent.clone();
    if current.status == PaymentStatus::FundsReceived {
        match advance(
            state,
            &current,
            PaymentEvent::SettlementStarted,
            None,
            now_ms,
        )
        .await?
        {
            Some(next) => current = next,
            None => return Ok(false),
        }
    }
    Ok(succeed(state, &current, payment, false, now_ms)
        .await?
        .is_some())
}

/// `settling → succeeded`, with the ledger's `payment` and `settlement` postings of what was
/// paid, in the same database transaction.
async fn succeed(
    state: &Engine,
    intent: &PaymentIntent,
    payment: &PaymentTransaction,
    held: bool,
    now_ms: i64,
) -> Result<Option<PaymentIntent>, FlowError> {
    let Some((next, event, postings)) = succeed_plan(state, intent, payment, held, now_ms).await?
    else {
        return Ok(None);
    };
    let outcome = state
        .store
        .update_intent_with_postings(intent.status, &next, &event, &postings)
        .await?;
    Ok((outcome == CasOutcome::Updated).then_some(next))
}

/// What `settling → succeeded` writes: the intent, its event and the postings.
async fn succeed_plan(
    state: &Engine,
    intent: &PaymentIntent,
    payment: &PaymentTransaction,
    held: bool,
    now_ms: i64,
) -> Result<
    Option<(
        PaymentIntent,
        crate::store::Event,
        Vec<crate::ledger::Posting>,
    )>,
    FlowError,
> {
    let Ok(next) = intent.transition(PaymentEvent::Settled, now_ms) else {
        return Ok(None);
    };
    let paid: rust_decimal::Decimal = payment
        .amount
        .parse()
        .map_err(|_| FlowError::Ledger(format!("stored amount {:?}", payment.amount)))?;
    let mut postings = if held {
        crate::ledger::paid_and_held(&next, paid, now_ms)
    } else {
        crate::ledger::paid_and_settled(&next, paid, now_ms)
    }
    .map_err(|e| FlowError::Ledger(e.to_string()))?;
    if payment.source == PaymentSource::Route {
        // A routed payment is paid out of the funds Rialto routed (`routing::booking`).
        for entry in postings.iter_mut().flat_map(|p| p.entries.iter_mut()) {
            if entry.account == crate::ledger::PAYERS {
                entry.account = crate::routing::booking::ROUTING;
            }
        }
    }
    postings.extend(intent_fee_postings(state, &next, now_ms).await?);
    // Booked already (the surplus refund of an over-payment books the payment with it).
    let balance = crate::ledger::merchant_balance(&next.merchant_id);
    if state.store.paid_into(&next.id, &balance).await? > rust_decimal::Decimal::ZERO {
        postings.clear();
    }
    if payment.source == PaymentSource::Exchange {
        // The venue's trade and fees for the payer, from the account that paid.
        for account in state.store.exchange_accounts_of(&next.id).await? {
            let same = |h: &str| {
                h.trim()
                    .trim_start_matches("0x")
                    .eq_ignore_ascii_case(payment.tx_hash.trim_start_matches("0x"))
            };
            if account.tx_hash.as_deref().is_some_and(same) {
                postings.extend(crate::exchange::conversion_postings(&account, now_ms));
            }
        }
    }
    let event = intent_event(
        &next,
        "payment_intent.succeeded",
        &intent_json(&next),
        now_ms,
    );
    Ok(Some((next, event, postings)))
}

/// The `network_fee` postings of the gateway's legs that paid the intent (a relayed
/// authorization, a deposit's gas and sweep).
pub(super) async fn intent_fee_postings(
    state: &Engine,
    intent: &PaymentIntent,
    now_ms: i64,
) -> Result<Vec<crate::ledger::Posting>, FlowError> {
    let purposes = [
        SWEEP_GAS,
        SWEEP,
        SWEEP_TO_TREASURY,
        crate::chain::EIP3009_RELAY,
    ];
    let legs = state
        .store
        .get_chain_transfers(&purposes, &intent.id.to_string())
        .await?;
    let refs: Vec<&ChainTransfer> = legs.iter().collect();
    Ok(super::fee_postings(
        &state.registry,
        (intent.merchant_id, intent.livemode),
        &refs,
        now_ms,
    ))
}

/// Applies `event` with compare-and-set; `None` when another worker moved the intent first.
async fn advance(
    state: &Engine,
    intent: &PaymentIntent,
    event: PaymentEvent,
    kind: Option<&str>,
    now_ms: i64,
) -> Result<Option<PaymentIntent>, FlowError> {
    let Ok(next) = intent.transition(event, now_ms) else {
        return Ok(None);
    };
    let kind = kind.unwrap_or("payment_intent.settling");
    let event = intent_event(&next, kind, &intent_json(&next), now_ms);
    let outcome = state
        .store
        .update_intent(intent.status, &next, Some(&event), None)
        .await?;
    Ok((outcome == CasOutcome::Updated).then_some(next))
}

/// Everything confirmed into the intent's deposit address, in whole units.
pub(super) async fn deposited(
    state: &Engine,
    intent: &PaymentIntent,
) -> Result<rust_decimal::Decimal, FlowError> {
    let mut total = rust_decimal::Decimal::ZERO;
    for p in state.store.payment_transactions_of(&intent.id).await? {
        if p.source == PaymentSource::Deposit && p.status == PaymentTxStatus::Confirmed {
            total += p
                .amount
                .parse::<rust_decimal::Decimal>()
                .map_err(|_| FlowError::Ledger(format!("stored amount {:?}", p.amount)))?;
        }
    }
    Ok(total)
}

/// Whether the intent's deposit address has been (or is being) swept: a leg of its sweep is
/// recorded (the gas leg comes first on EVM; a Solana sweep is its one leg).
pub(super) async fn sweep_recorded(
    state: &Engine,
    intent: &PaymentIntent,
) -> Result<bool, FlowError> {
    let reference = intent.id.to_string();
    for purpose in [SWEEP_GAS, SWEEP, SWEEP_TO_TREASURY] {
        if state
            .store
            .get_chain_transfer(purpose, &reference)
            .await?
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the policy gives part of this payment back (the surplus of an over-payment).
fn refunds_surplus(intent: &PaymentIntent) -> bool {
    intent
        .payment_detail
        .as_ref()
        .is_some_and(|d| d.resolution == rialto_core::intent::PaymentResolution::SurplusRefunded)
}

async fn sweep(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    payment: &PaymentTransaction,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let mut moved = false;
    let mut current = intent.clone();
    if current.status == PaymentStatus::FundsReceived {
        match advance(
            state,
            &current,
            PaymentEvent::SettlementStarted,
            None,
            now_ms,
        )
        .await?
        {
            Some(next) => {
                current = next;
                moved = true;
            }
            None => return Ok(false),
        }
    }
    let batched = crate::settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode)
        .await?
        .settlement_schedule
        == crate::settings::Schedule::Batched;
    let Some(swept) = sweep_legs(
        state,
        chain,
        &current,
        batched || refunds_surplus(&current),
        now_ms,
    )
    .await?
    else {
        return Ok(moved);
    };
    if refunds_surplus(&current) {
        // The surplus refund (which books the payment) and the immediate payout are recorded
        // before the intent succeeds, so a crash between them resumes here.
        if !super::policy::settle_surplus(state, &current, swept.amount, batched, now_ms).await? {
            return Ok(moved);
        }
        match state.store.get_intent_unscoped(&current.id).await? {
            Some(fresh) if fresh.status == PaymentStatus::Settling => current = fresh,
            _ => return Ok(moved),
        }
    }
    let mut paid = payment.clone();
    paid.amount = swept.amount.normalize().to_string();
    Ok(succeed(state, &current, &paid, swept.held, now_ms)
        .await?
        .is_some()
        || moved)
}

/// A confirmed sweep: what it moved and whether it went to the treasury (held).
#[derive(Debug, Clone, Copy)]
pub(super) struct Swept {
    pub amount: rust_decimal::Decimal,
    pub held: bool,
}

/// What a sweep moves, from where to where, under which purpose.
struct SweepPlan {
    deposit_key: rail::SigningKey,
    deposit_address: rialto_core::address::Address,
    reference: String,
    purpose: &'static str,
    held: bool,
    action: LegAction,
    /// Everything confirmed into the deposit address, whole units.
    amount: rust_decimal::Decimal,
}

/// Sends (or resumes) the legs that empty the intent's deposit address to the settlement
/// address or, when `to_treasury`, to the treasury. On EVM: gas from the hot wallet, then the
/// tokens. On Solana one leg: the hot wallet is the sweep's fee payer (and pays the rent of the
/// recipient's token account), so the deposit wallet never holds SOL. Where the sweep goes is
/// decided once, when its leg is recorded; `Some` once it confirmed.
pub(super) async fn sweep_legs(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    to_treasury: bool,
    now_ms: i64,
) -> Result<Option<Swept>, FlowError> {
    let store = state.store.as_ref();
    let journal = StoreJournal(store);
    let rail = chain.rail(&journal);
    let Some(hot) = chain.hot_wallet.as_ref() else {
        return Ok(None);
    };
    let Some(plan) = plan_sweep(state, chain, rail.as_ref(), intent, to_treasury).await? else {
        return Ok(None);
    };
    let leg = if chain.family() == rialto_core::ChainNamespace::Solana {
        sponsored_sweep(store, rail.as_ref(), intent, &plan, hot, now_ms).await?
    } else {
        gas_funded_sweep(store, chain, rail.as_ref(), intent, &plan, hot, now_ms).await?
    };
    let Some(leg) = leg else {
        return Ok(None);
    };
    if !confirmed(&leg, store, plan.purpose, &plan.reference).await? {
        return Ok(None);
    }
    let currency = intent.settlement.asset.currency();
    let amount = leg
        .draft
        .amount_units
        .as_deref()
        .and_then(|u| u.parse::<u128>().ok())
        .and_then(|u| Money::from_base_units(u, currency).ok())
        .map_or(plan.amount, |m| m.amount());
    Ok(Some(Swept {
        amount,
        held: plan.held,
    }))
}

/// The sweep of the intent's deposit address: its key, what it holds, and where it goes.
async fn plan_sweep(
    state: &Engine,
    chain: &Chain,
    rail: &dyn rail::Rail,
    intent: &PaymentIntent,
    to_treasury: bool,
) -> Result<Option<SweepPlan>, FlowError> {
    let store = state.store.as_ref();
    let (Some(keys), Some(hot)) = (
        state.chains.deposit_keys(intent.livemode, chain.family()),
        chain.hot_wallet.as_ref(),
    ) else {
        return Ok(None);
    };
    let Some(deposit) = store.get_deposit_address(&intent.id).await? else {
        return Ok(None);
    };
    let deposit_key = keys
        .signing_key(deposit.derivation_index)
        .map_err(FlowError::Keys)?;
    let deposit_address = rail.address_of(&deposit_key)?;
    let asset = &intent.settlement.asset;
    let amount = deposited(state, intent).await?;
    let units = Money::parse(&amount.normalize().to_string(), asset.currency())
        .and_then(|m| m.to_base_units())
        .map_err(|e| {
            FlowError::Chain(ChainError::Invalid(format!("swept amount {amount}: {e}")))
        })?;
    let reference = intent.id.to_string();
    let held = if store.get_chain_transfer(SWEEP, &reference).await?.is_some() {
        false
    } else if store
        .get_chain_transfer(SWEEP_TO_TREASURY, &reference)
        .await?
        .is_some()
    {
        true
    } else {
        to_treasury
    };
    let destination = if held {
        rail.address_of(hot)?
    } else {
        intent.settlement.address
    };
    Ok(Some(SweepPlan {
        deposit_key,
        deposit_address,
        reference,
        purpose: if held { SWEEP_TO_TREASURY } else { SWEEP },
        held,
        action: LegAction::Transfer {
            asset: Some(asset.contract),
            to: destination,
            amount: units,
        },
        amount,
    }))
}

/// Solana: one leg signed by the deposit wallet and paid for by the hot wallet.
async fn sponsored_sweep(
    store: &dyn crate::store::Store,
    rail: &dyn rail::Rail,
    intent: &PaymentIntent,
    plan: &SweepPlan,
    hot: &rail::SigningKey,
    now_ms: i64,
) -> Result<Option<ChainTransfer>, FlowError> {
    if let Some(leg) = store
        .get_chain_transfer(plan.purpose, &plan.reference)
        .await?
    {
        return Ok(Some(leg));
    }
    let request = LegRequest {
        purpose: plan.purpose,
        reference: plan.reference.clone(),
        payment_intent_id: Some(intent.id),
        from: plan.deposit_key.clone(),
        action: plan.action.clone(),
        fees: FeeLimits::default(),
    };
    Ok(Some(rail.send_sponsored(&request, hot, now_ms).await?))
}

/// EVM: the hot wallet sends the deposit address the gas of one token transfer (leg
/// `sweep_gas`), then the deposit address sends the tokens; `None` until the gas confirmed.
async fn gas_funded_sweep(
    store: &dyn crate::store::Store,
    chain: &Chain,
    rail: &dyn rail::Rail,
    intent: &PaymentIntent,
    plan: &SweepPlan,
    hot: &rail::SigningKey,
    now_ms: i64,
) -> Result<Option<ChainTransfer>, FlowError> {
    let reference = &plan.reference;
    let gas_leg = match store.get_chain_transfer(SWEEP_GAS, reference).await? {
        Some(leg) => leg,
        None => {
            let (fee, _) = sweep_quote(chain, &plan.deposit_address, &plan.action).await?;
            let request = LegRequest {
                purpose: SWEEP_GAS,
                reference: reference.clone(),
                payment_intent_id: Some(intent.id),
                from: hot.clone(),
                action: LegAction::Transfer {
                    asset: None,
                    to: plan.deposit_address,
                    amount: gas_to_fund(&fee),
                },
                fees: FeeLimits::default(),
            };
            rail.send(&request, now_ms).await?
        }
    };
    if !confirmed(&gas_leg, store, SWEEP_GAS, reference).await? {
        return Ok(None);
    }
    if let Some(leg) = store.get_chain_transfer(plan.purpose, reference).await? {
        return Ok(Some(leg));
    }
    // Spend at most what the deposit address holds: the L1 data fee (OP-stack rollups) is
    // charged first, whatever the gas price, so the gas gets the rest.
    let gas_held = rail.balance(None, &plan.deposit_address).await?;
    let (quote, extra_units) = sweep_quote(chain, &plan.deposit_address, &plan.action).await?;
    let request = LegRequest {
        purpose: plan.purpose,
        reference: reference.clone(),
        payment_intent_id: Some(intent.id),
        from: plan.deposit_key.clone(),
        action: plan.action.clone(),
        fees: FeeLimits {
            max_fee_per_unit: Some(sweep_fee_cap(gas_held, &quote)),
            extra_units,
            ..FeeLimits::default()
        },
    };
    Ok(Some(rail.send(&request, now_ms).await?))
}

/// The fee quote of a leg sent from a deposit address, with the chain's token-transfer
/// head-room counted in its units, and that head-room (the leg's `extra_units`). A sweep into
/// a wallet whose balance of the token another leg empties meanwhile (the treasury, which
/// payouts and refunds drain) writes a zero slot to non-zero, more gas than its estimate
/// (`ChainNode::token_transfer`); funded and capped on the bare estimate, it ran out of gas,
/// reverted, and left its intent `settling`.
pub(super) async fn sweep_quote(
    chain: &Chain,
    from: &rialto_core::address::Address,
    action: &LegAction,
) -> Result<(rialto_connectors::chain::FeeQuote, u64), FlowError> {
    let mut quote = chain.node.fee_quote(from, action).await?;
    let extra = token_headroom(chain, action);
    quote.units = quote.units.saturating_add(extra);
    Ok((quote, extra))
}

/// The chain's token-transfer head-room for `action` ([`sweep_quote`]); 0 for anything but a
/// token transfer.
pub(super) fn token_headroom(chain: &Chain, action: &LegAction) -> u64 {
    match action {
        LegAction::Transfer {
            asset: Some(token),
            to,
            amount,
        } => {
            chain
                .node
                .token_transfer(token, to, *amount)
                .fees
                .extra_units
        }
        _ => 0,
    }
}

/// What a sweep's gas leg sends its deposit address: twice the estimate's gas cost at its fee
/// cap and twice its L1 data fee (OP-stack rollups), head-room for both to rise while the gas
/// leg confirms. The sweep is then capped to what the address holds ([`sweep_fee_cap`]).
pub(super) fn gas_to_fund(fee: &rialto_connectors::chain::FeeQuote) -> u128 {
    u128::from(fee.units)
        .saturating_mul(fee.max_fee_per_unit)
        .saturating_add(fee.fixed_fee)
        .saturating_mul(2)
}

/// The most a sweep may pay per gas out of the `held` wei of its address: the L1 data fee is
/// charged whatever the gas price, so the gas gets what is left after it.
pub(super) fn sweep_fee_cap(held: u128, quote: &rialto_connectors::chain::FeeQuote) -> u128 {
    held.saturating_sub(quote.fixed_fee) / u128::from(quote.units.max(1))
}

/// Whether the leg (re-read, the rail may have confirmed it since) is confirmed.
async fn confirmed(
    leg: &ChainTransfer,
    store: &dyn crate::store::Store,
    purpose: &str,
    reference: &str,
) -> Result<bool, FlowError> {
    if leg.status == LegStatus::Confirmed {
        return Ok(true);
    }
    Ok(store
        .get_chain_transfer(purpose, reference)
        .await?
        .is_some_and(|l| l.status == LegStatus::Confirmed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rialto_connectors::chain::FeeQuote;

    #[test]
    fn a_sweep_on_an_op_stack_chain_is_funded_for_its_l1_data_fee_and_pays_gas_from_the_rest() {
        let quote = FeeQuote {
            units: 50_000,
            max_fee_per_unit: 2_000_000_000,
            fixed_fee: 30_000_000_000_000,
        };
        let funded = gas_to_fund(&quote);
        assert_eq!(funded, 2 * (50_000 * 2_000_000_000 + 30_000_000_000_000));
        let cap = sweep_fee_cap(funded, &quote);
        assert!(
            u128::from(quote.units) * cap + quote.fixed_fee <= funded,
            "gas at the cap plus the L1 fee fits in what the address holds"
        );
        assert_eq!(
            sweep_fee_cap(quote.fixed_fee, &quote),
            0,
            "an address holding only the L1 fee can pay no gas"
        );
    }
}
