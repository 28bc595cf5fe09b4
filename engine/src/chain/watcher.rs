//! Turns chain state into payment state.
//!
//! - [`scan_deposits`] reads `Transfer` logs of the chain's tokens block range by block range
//!   and binds a transfer into an intent's deposit address to that intent (a `pending`
//!   payment transaction). Its cursor stores the last block's hash: when the chain's hash at
//!   that height changes (a reorg), it rewinds and scans again. What reaches a deposit address
//!   of the family and pays nothing (another token, the native coin, another chain) is
//!   recorded as a misdirected deposit (`super::misdirected`).
//! - [`track_payments`] follows every `pending` payment transaction until it has the chain's
//!   confirmations, re-reads what it paid, and only then screens the funds (`funds_received`).
//!   A transaction that drops out of the chain goes back to waiting (`reverted`); an intent
//!   whose funding dropped out after it was received goes back to `awaiting_funds`. Nothing
//!   downstream (conversion, settlement) starts before the confirmations.

use std::collections::HashMap;
use std::sync::Arc;

use rialto_connectors::chain::{ChainError, ObservedTransfer};
use rialto_core::intent::{PaymentEvent, PaymentIntent, PaymentStatus};
use rialto_core::money::Money;

use super::rail::FlowError;
use super::reads::{Observed, PassReads};
use super::spread::spread;
use super::{block_i64, Chain};
use crate::compliance::flow::FundsSubject;
use crate::objects::{intent_event, intent_json};
use crate::services::Engine;
use crate::store::{IntentChange, PaymentTransaction};
use crate::store::{PaymentSource, PaymentTxStatus};

/// Blocks scanned per call, so one call stays short on a busy chain.
pub const SCAN_CHUNK: u64 = 2_000;
/// How far the scanner goes back after it notices a reorg (deeper than any reorg we accept).
const REORG_REWIND: u64 = 64;
/// Deposit addresses of expired intents stay watched this long (the longest late-payment
/// window), so late funds are attributed and then accepted or refunded, never stranded.
const LATE_WATCH_MS: i64 = crate::settings::MAX_LATE_WINDOW_SECS as i64 * 1000;
/// Where a chain with no cursor starts: a little history, for deposits made while we were down.
const INITIAL_LOOKBACK: u64 = 256;

/// What one scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanReport {
    pub blocks: u64,
    pub logs: usize,
    pub claimed: usize,
    pub rewound: bool,
}

/// Scans the next block range for transfers into deposit addresses.
pub async fn scan_deposits(
    state: &Engine,
    chain: &Chain,
    now_ms: i64,
) -> Result<ScanReport, FlowError> {
    let store = state.store.as_ref();
    let head = chain.node.head().await?;
    let mut report = ScanReport::default();
    let from = match store.chain_cursor(&chain.caip2).await? {
        Some((number, hash)) => {
            if chain.node.block_hash(number).await?.as_deref() == Some(hash.as_str()) {
                number + 1
            } else {
                report.rewound = true;
                tracing::warn!(chain = %chain.caip2, block = number, "reorg under the deposit cursor; rescanning");
                number.saturating_sub(REORG_REWIND)
            }
        }
        None => head.saturating_sub(INITIAL_LOOKBACK),
    };
    if from > head {
        crate::telemetry::chain_head_lag(&chain.caip2, 0);
        return Ok(report);
    }
    let to = head.min(from + SCAN_CHUNK - 1);
    crate::telemetry::chain_head_lag(&chain.caip2, head - to);
    let watched: HashMap<String, _> = store
        .watched_deposit_addresses(&chain.caip2, now_ms - LATE_WATCH_MS)
        .await?
        .into_iter()
        .map(|d| (address_key(&d.address, chain.family()), d))
        .collect();
    // Every deposit address of the chain's family, whatever its intent's status or chain:
    // what reaches one and pays nothing is a misdirected deposit (`super::misdirected`).
    let family = super::misdirected::family_addresses(state, chain).await?;
    if !watched.is_empty() || !family.is_empty() {
        let logs = chain.node.transfer_logs(&chain.tokens, from, to).await?;
        report.logs = logs.len();
        for log in logs {
            let Some(deposit) = watched.get(&address_key(&log.to.to_string(), chain.family()))
            else {
                super::misdirected::detect_log(state, chain, &family, &log, now_ms).await?;
                continue;
            };
            if claim_log(state, chain, deposit, &log, &family, now_ms).await? {
                report.claimed += 1;
            }
        }
        super::misdirected::scan_native(state, chain, &family, (from, to), now_ms).await?;
    }
    let Some(hash) = chain.node.block_hash(to).await? else {
        return Ok(report); // the head moved back under us; next call sees the reorg
    };
    store
        .set_chain_cursor(&chain.caip2, to, &hash, now_ms)
        .await?;
    report.blocks = to + 1 - from;
    Ok(report)
}

/// A transfer log into a watched deposit address: bound to its intent as a pending payment
/// when it pays it (`true` when this call claimed it); another token is recorded as a
/// misdirected deposit instead.
async fn claim_log(
    state: &Engine,
    chain: &Chain,
    deposit: &crate::store::chain::DepositAddress,
    log: &rialto_connectors::chain::TransferLog,
    family: &HashMap<String, crate::store::chain::DepositAddress>,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let Some(intent) = store
        .get_intent_unscoped(&deposit.payment_intent_id)
        .await?
    else {
        return Ok(false);
    };
    if log.token != intent.settlement.asset.contract {
        // Another token than the intent's: not a payment of it.
        super::misdirected::detect_log(state, chain, family, log, now_ms).await?;
        return Ok(false);
    }
    let Ok(paid) = Money::from_base_units(log.amount_units, intent.settlement.asset.currency())
    else {
        return Ok(false);
    };
    if !super::payable(&intent) {
        return Ok(false); // needs a lock or a quote first
    }
    if super::settle::sweep_recorded(state, &intent).await? {
        // Swept already: a later transfer is not part of this payment. Reconciliation reports
        // it (an unexpected inflow to a deposit address) for an operator.
        tracing::warn!(intent = %intent.id, tx = %log.tx_hash, "transfer into an already swept deposit address left unclaimed");
        return Ok(false);
    }
    let claim = PaymentTransaction {
        chain_id: chain.caip2.clone(),
        tx_hash: log.tx_hash.clone(),
        payment_intent_id: intent.id,
        payer: log.from.to_string(),
        amount: paid.to_amount_string(),
        asset: intent.settlement.asset.id.to_string(),
        block_number: block_i64(log.block_number),
        block_hash: log.block_hash.clone(),
        log_index: block_i64(log.log_index),
        status: PaymentTxStatus::Pending,
        source: PaymentSource::Deposit,
        created_at_ms: now_ms,
    };
    Ok(store.claim_transaction(&claim).await? == intent.id)
}

/// How an address is looked up among the watched ones: EVM hex whatever its checksum case;
/// a base58 (Solana) address exactly, its case being part of it.
fn address_key(text: &str, family: rialto_core::ChainNamespace) -> String {
    match family {
        rialto_core::ChainNamespace::Eip155 => text.to_ascii_lowercase(),
        _ => text.to_owned(),
    }
}

/// Intents whose payment transactions one pass follows at once. Each intent's own
/// transactions are taken in order by one task (its policy sees them one after the other);
/// different intents are independent (every step is compare-and-set), as when several
/// gateway instances run the worker. Sized to the batches in which the SQL store commits
/// screening decisions arriving together (up to 64 per transaction), so a pass funding
/// hundreds of relayed payments writes them in dozens rather than a few at a time.
const PARALLEL_INTENTS: usize = 64;

/// Advances pending payment transactions and reverts received funds that a reorg removed.
/// Returns how many payment transactions changed.
pub async fn track_payments(
    state: &Engine,
    chain: &Chain,
    now_ms: i64,
) -> Result<usize, FlowError> {
    let store = state.store.as_ref();
    let pending = store
        .payment_transactions_in(&chain.caip2, PaymentTxStatus::Pending, 500)
        .await?;
    crate::telemetry::chain_confirmations_pending(&chain.caip2, pending.len());
    let mut by_intent: Vec<(rialto_core::id::PaymentIntentId, Vec<PaymentTransaction>)> =
        Vec::new();
    let mut slot = HashMap::new();
    for ptx in pending {
        let at = *slot.entry(ptx.payment_intent_id).or_insert_with(|| {
            by_intent.push((ptx.payment_intent_id, Vec::new()));
            by_intent.len() - 1
        });
        by_intent[at].1.push(ptx);
    }
    // Their intents in one read.
    let ids: Vec<_> = by_intent.iter().map(|(id, _)| *id).collect();
    let mut intents = store.get_intents_unscoped(&ids).await?;
    let by_intent = by_intent
        .into_iter()
        .filter_map(|(id, list)| Some((intents.remove(&id)?, list)));
    let reads = Arc::new(PassReads::new(chain.node.clone()));
    let owned = Arc::new(chain.clone());
    let mut changed = spread(by_intent, PARALLEL_INTENTS, |(intent, list)| {
        let (state, chain, reads) = (state.clone(), owned.clone(), reads.clone());
        async move { track_intent(&state, &chain, &reads, intent, list, now_ms).await }
    })
    .await;
    changed += apply_policies(state, chain, now_ms).await?;
    let funded = store
        .chain_funded_intents(
            &chain.caip2,
            chain.livemode,
            PaymentStatus::FundsReceived,
            500,
        )
        .await?;
    // Side by side, as the pending ones above: each intent's check is its own. Their payment
    // transactions are read in one go.
    let funded: Vec<PaymentIntent> = funded.into_iter().filter(|i| chain.serves(i)).collect();
    let ids: Vec<_> = funded.iter().map(|i| i.id).collect();
    let mut paid = store.payment_transactions_of_intents(&ids).await?;
    let funded = funded.into_iter().map(|intent| {
        let of = paid.remove(&intent.id).unwrap_or_default();
        (intent, of)
    });
    changed += spread(funded, PARALLEL_INTENTS, |(intent, paid)| {
        let (state, reads) = (state.clone(), reads.clone());
        async move { reorg_check(&state, &reads, &intent, paid, now_ms).await }
    })
    .await;
    Ok(changed)
}

/// [`advance_pending`] over the pending payment transactions `list` of `intent`; how many
/// changed.
async fn track_intent(
    state: &Engine,
    chain: &Chain,
    reads: &PassReads,
    intent: PaymentIntent,
    list: Vec<PaymentTransaction>,
    now_ms: i64,
) -> usize {
    if !chain.serves(&intent) {
        return 0;
    }
    let mut changed = 0;
    for ptx in list {
        let tx = ptx.tx_hash.clone();
        match advance_pending(state, chain, reads, &intent, ptx, now_ms).await {
            Ok(true) => changed += 1,
            Ok(false) => {}
            // One payment that cannot be advanced must not hold up the others.
            Err(err) => {
                tracing::warn!(intent = %intent.id, %tx, error = %err, "payment not advanced; will retry")
            }
        }
    }
    changed
}

/// [`revert_if_gone`] over `intent`'s confirmed payments (`paid`, its payment transactions);
/// how many were reverted.
async fn reorg_check(
    state: &Engine,
    reads: &PassReads,
    intent: &PaymentIntent,
    paid: Vec<PaymentTransaction>,
    now_ms: i64,
) -> usize {
    let mut changed = 0;
    for ptx in paid {
        if ptx.status != PaymentTxStatus::Confirmed {
            continue;
        }
        match revert_if_gone(state, reads, intent, ptx, now_ms).await {
            Ok(true) => changed += 1,
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(intent = %intent.id, error = %err, "reorg check failed; will retry")
            }
        }
    }
    changed
}

/// The address a payment transaction of `intent` must pay: its deposit address for deposits,
/// else the settlement address.
async fn recipient(
    state: &Engine,
    intent: &PaymentIntent,
    ptx: &PaymentTransaction,
) -> Result<Option<rialto_core::address::Address>, FlowError> {
    if ptx.source != PaymentSource::Deposit {
        return Ok(Some(intent.settlement.address));
    }
    let Some(deposit) = state.store.get_deposit_address(&intent.id).await? else {
        return Ok(None);
    };
    // The deposit address in the intent's chain family (an EVM hex or a Solana base58 one).
    Ok(rialto_core::address::Address::parse(
        &deposit.address,
        intent.settlement.address.namespace(),
    )
    .ok())
}

/// Every sender of the confirmed deposits `deposits` of `intent`, read again from the chain:
/// the watcher binds a deposit by its first transfer log, but a transaction may carry
/// transfers from several senders into the address, and each one of them is screened.
pub(super) async fn deposit_senders(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    deposits: &[PaymentTransaction],
) -> Result<Vec<String>, FlowError> {
    let mut senders: Vec<String> = Vec::new();
    for ptx in deposits {
        let mut found = vec![ptx.payer.clone()];
        if let Some(to) = recipient(state, intent, ptx).await? {
            match chain
                .node
                .observe_transfer(&ptx.tx_hash, &intent.settlement.asset.contract, &to)
                .await
            {
                Ok(observed) => found.extend(observed.sender_texts()),
                // Gone since it confirmed: the reorg check deals with it; its recorded payer
                // is still screened.
                Err(ChainError::NoMatchingTransfer { .. } | ChainError::TxFailed(_)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        for sender in found {
            let key = address_key(&sender, chain.family());
            if !senders
                .iter()
                .any(|s| address_key(s, chain.family()) == key)
            {
                senders.push(sender);
            }
        }
    }
    Ok(senders)
}

/// What a payment transaction brings its intent: a reported transfer only its proven payer's
/// own part (the payer recorded at the report); one item of a batch relay its authorization's
/// value, and never more than its payer moved to the address in that transaction (one batch
/// may pay several intents of one merchant); anything else the whole of it.
fn credited_units(
    ptx: &PaymentTransaction,
    observed: &ObservedTransfer,
    currency: &rialto_core::money::Currency,
) -> u128 {
    if !matches!(
        ptx.source,
        PaymentSource::Transaction | PaymentSource::BatchAuthorization
    ) {
        return observed.amount_units;
    }
    // The payer in the chain's own form (a Solana payer is base58, never an EVM address).
    let from_payer = match rialto_core::address::Address::parse(&ptx.payer, observed.to.namespace())
    {
        Ok(payer) => observed.units_from(&payer),
        Err(_) => 0,
    };
    if ptx.source == PaymentSource::Transaction {
        return from_payer;
    }
    let authorized = Money::parse(&ptx.amount, currency.clone())
        .and_then(|m| m.to_base_units())
        .unwrap_or(0);
    authorized.min(from_payer)
}

async fn advance_pending(
    state: &Engine,
    chain: &Chain,
    reads: &PassReads,
    intent: &PaymentIntent,
    mut ptx: PaymentTransaction,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let mined = reads.receipt(&ptx.tx_hash).await?;
    let Some(mined) = mined.filter(|m| m.success) else {
        // Not (or no longer) on chain. It may come back (a relay we re-broadcast, a payer's
        // transaction still in the pool) until the intent's window closes.
        if now_ms > intent.expires_at_ms || intent.status.is_terminal() {
            ptx.status = PaymentTxStatus::Reverted;
            store
                .set_payment_transaction(&ptx, PaymentTxStatus::Pending, None, now_ms)
                .await?;
            return Ok(true);
        }
        return Ok(false);
    };
    if mined.confirmations < chain.confirmations {
        if ptx.block_hash != mined.block_hash {
            ptx.block_number = block_i64(mined.block_number);
            ptx.block_hash = mined.block_hash;
            store
                .set_payment_transaction(&ptx, PaymentTxStatus::Pending, None, now_ms)
                .await?;
        }
        return Ok(false);
    }
    // Deep enough: read again what it paid (a re-included transaction can pay differently).
    let Some(to) = recipient(state, intent, &ptx).await? else {
        return Ok(false);
    };
    let observed = match reads
        .observe(&ptx.tx_hash, &intent.settlement.asset.contract, &to)
        .await?
    {
        Observed::Paid(observed) => *observed,
        Observed::Gone => {
            ptx.status = PaymentTxStatus::Reverted;
            store
                .set_payment_transaction(&ptx, PaymentTxStatus::Pending, None, now_ms)
                .await?;
            return Ok(true);
        }
    };
    let paid = Money::from_base_units(
        credited_units(&ptx, &observed, &intent.settlement.asset.currency()),
        intent.settlement.asset.currency(),
    )
    .map_err(|e| FlowError::Chain(ChainError::Invalid(e.to_string())))?;
    // Deposits are judged by the payment policy once confirmed, over everything received
    // (several transfers may top an intent up); a direct payment (reported, relayed, an
    // exchange withdrawal) alone, by the same policy, as of its block (`super::direct`).
    let deposit = ptx.source == PaymentSource::Deposit;
    ptx.status = PaymentTxStatus::Confirmed;
    ptx.amount = paid.to_amount_string();
    if ptx.source == PaymentSource::Authorization {
        // A relay's sender is the wallet that signed the authorization (the relayer only sent
        // it): the payer a refund goes back to.
        if let Some(sender) = observed.senders.first() {
            ptx.payer = sender.from.to_string();
        }
    }
    ptx.block_number = block_i64(observed.block_number);
    ptx.block_hash = observed.block_hash.clone();
    ptx.log_index = block_i64(observed.log_index);
    // A direct payment's confirmation is written with the screening that funds its intent
    // when the policy funds it (one transaction); otherwise on its own here.
    if !deposit && judge_direct(state, chain, intent, &paid, &observed, &ptx, now_ms).await? {
        return Ok(true);
    }
    store
        .set_payment_transaction(&ptx, PaymentTxStatus::Pending, None, now_ms)
        .await?;
    if deposit {
        super::policy::apply(state, chain, intent, now_ms).await?;
    }
    Ok(true)
}

/// The payment policy on a confirmed direct payment (reported, relayed, an exchange
/// withdrawal): funds the intent, reopens it, or records what the merchant owes. `true` when
/// `ptx` (the payment transaction as confirmed) was written with the intent's funding.
async fn judge_direct(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    paid: &Money,
    observed: &ObservedTransfer,
    ptx: &PaymentTransaction,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let settings =
        crate::settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode).await?;
    let mined_ms = i64::try_from(observed.block_timestamp)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    let judged = super::direct::judge(intent, &settings, paid.amount(), mined_ms);
    let subject = FundsSubject {
        chain: chain.caip2.clone(),
        // Every sender whose funds arrived, not only the first; in a batch relay only this
        // item's payer (the others pay other intents and are screened for those).
        payer_addresses: if ptx.source == PaymentSource::BatchAuthorization {
            vec![ptx.payer.clone()]
        } else {
            observed.sender_texts()
        },
        asset: Some(intent.settlement.asset.code.clone()),
        amount: Some(paid.to_amount_string()),
        tx_hash: Some(observed.tx_hash.clone()),
        payer_name: None,
        payer_country: None,
        payer_identifiers: Default::default(),
        account_holder: None,
        travel_rule: None,
    };
    let applied =
        super::direct::apply_confirming(state, intent, judged, subject, Some(ptx.clone()), now_ms)
            .await
            .map_err(FlowError::Screening)?;
    Ok(applied.confirmed)
}

/// The payment policy over intents with confirmed deposits that still wait (a top-up, a crash
/// between confirming and deciding) or expired (late or short funds to accept or give back).
async fn apply_policies(state: &Engine, chain: &Chain, now_ms: i64) -> Result<usize, FlowError> {
    let mut changed = 0;
    for status in [PaymentStatus::AwaitingFunds, PaymentStatus::Expired] {
        for intent in state
            .store
            .chain_funded_intents(&chain.caip2, chain.livemode, status, 200)
            .await?
        {
            if !chain.serves(&intent) {
                continue;
            }
            match super::policy::apply(state, chain, &intent, now_ms).await {
                Ok(moved) => changed += usize::from(moved),
                Err(err) => {
                    tracing::warn!(intent = %intent.id, error = %err, "payment policy not applied; will retry")
                }
            }
        }
    }
    Ok(changed)
}

/// A confirmed payment of an intent not yet settled: if a reorg took its transaction away,
/// the intent goes back to waiting and the transaction is marked `reverted`.
async fn revert_if_gone(
    state: &Engine,
    reads: &PassReads,
    intent: &PaymentIntent,
    mut ptx: PaymentTransaction,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let mined = reads.receipt(&ptx.tx_hash).await?;
    if mined.is_some_and(|m| m.success) {
        return Ok(false);
    }
    let Ok(next) = intent.transition(PaymentEvent::FundsReverted, now_ms) else {
        return Ok(false);
    };
    tracing::warn!(intent = %intent.id, tx = %ptx.tx_hash, "payment transaction reorged out; back to awaiting funds");
    let event = intent_event(
        &next,
        "payment_intent.funds_reverted",
        &intent_json(&next),
        now_ms,
    );
    ptx.status = PaymentTxStatus::Reverted;
    let change = IntentChange {
        expected: intent.status,
        next,
        events: vec![event],
        confirms: None,
    };
    state
        .store
        .set_payment_transaction(&ptx, PaymentTxStatus::Confirmed, Some(&change), now_ms)
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rialto_core::ChainNamespace;

    #[test]
    fn a_base58_deposit_address_matches_only_exactly_and_evm_hex_matches_in_any_case() {
        // Two Solana addresses differing only in case are two different keys.
        let a = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";
        let b = "9xqeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";
        assert_ne!(
            address_key(a, ChainNamespace::Solana),
            address_key(b, ChainNamespace::Solana)
        );
        assert_eq!(
            address_key(
                "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                ChainNamespace::Eip155
            ),
            address_key(
                "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
                ChainNamespace::Eip155
            )
        );
    }
}
