//! Solana Pay by reference: an intent settling on Solana carries a fresh reference key in its
//! payment request, the payer's wallet adds it to the transfer instruction as a read-only
//! account, and this watcher finds the payment by that key alone, with no report from the
//! payer. A transaction naming the key is bound to the intent only if the chain shows it paying
//! the intent's settlement address exactly the amount in the intent's mint; anything else
//! naming the key (another mint, another recipient, another amount, one of the gateway's own
//! legs) is left unbound. Bound, it is an ordinary pending payment transaction: the tracker
//! waits for its confirmations, reads it again, screens it and the intent moves on.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use futures::future::join_all;
use rialto_connectors::chain::ChainError;
use rialto_core::address::Address;
use rialto_core::intent::PaymentIntent;
use rialto_core::money::Money;

use super::rail::FlowError;
use super::{block_i64, Chain};
use crate::services::Engine;
use crate::store::{PaymentSource, PaymentTransaction, PaymentTxStatus};

/// Intents read from the store at once.
const PAGE: u32 = 500;
/// Lookups in flight at once per pass: one slow answer does not hold the others up, and the
/// node is not asked for hundreds at once.
const LOOKUPS_IN_FLIGHT: usize = 8;

/// Per (chain, reference key): the newest transaction naming the key that the watcher has
/// judged (bound, or passed over for good). The next pass asks the node only for what came
/// after it, so a pass costs one cheap call per open intent plus one read per new
/// transaction, instead of reading again every transaction that named a key and did not pay
/// it. Kept in memory: after a restart each open intent's transactions are read once more
/// (judging is idempotent: a claim is unique per transaction).
#[derive(Debug, Default)]
pub struct ReferenceCursors(Mutex<HashMap<(String, Address), String>>);

impl ReferenceCursors {
    fn get(&self, chain: &str, reference: &Address) -> Option<String> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(chain.to_owned(), *reference)).cloned()
    }

    fn set(&self, chain: &str, reference: &Address, judged: Option<String>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match judged {
            Some(tx) => map.insert((chain.to_owned(), *reference), tx),
            None => map.remove(&(chain.to_owned(), *reference)),
        };
    }

    /// Forgets the keys of `chain` not in `open` (intents paid, expired or canceled).
    fn keep_only(&self, chain: &str, open: &HashSet<Address>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|(c, reference), _| c != chain || open.contains(reference));
    }

    /// How many keys have a cursor (for tests and metrics).
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Looks for the payment of every open intent on `chain` that carries a reference. Returns
/// how many payment transactions it bound.
pub async fn scan_references(
    state: &Engine,
    chain: &Chain,
    now_ms: i64,
) -> Result<usize, FlowError> {
    // Every open intent, page by page: a pass that stopped at the oldest page would never
    // watch the newer intents while the old ones stay open.
    let mut watched: Vec<(PaymentIntent, Address)> = Vec::new();
    let mut after: Option<PaymentIntent> = None;
    loop {
        let page = state
            .store
            .reference_intents(&chain.caip2, chain.livemode, after.as_ref(), PAGE)
            .await?;
        let last_page = page.len() < PAGE as usize;
        after = page.last().cloned();
        watched.extend(
            page.into_iter()
                .filter(|i| chain.serves(i) && super::payable(i))
                .filter_map(|i| i.payment_reference.map(|r| (i, r))),
        );
        if last_page {
            break;
        }
    }
    let open: HashSet<Address> = watched.iter().map(|(_, r)| *r).collect();
    state.reference_cursors.keep_only(&chain.caip2, &open);
    let mut bound = 0;
    for chunk in watched.chunks(LOOKUPS_IN_FLIGHT) {
        let lookups = chunk
            .iter()
            .map(|(intent, reference)| look_up(state, chain, intent, reference, now_ms));
        bound += join_all(lookups).await.into_iter().filter(|b| *b).count();
    }
    Ok(bound)
}

/// One intent's lookup from its cursor; whether it bound a payment.
async fn look_up(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    reference: &Address,
    now_ms: i64,
) -> bool {
    let cursors = &state.reference_cursors;
    let mut judged = cursors.get(&chain.caip2, reference);
    let outcome = bind_by_reference(state, chain, intent, reference, &mut judged, now_ms).await;
    // What was judged stays judged, even when a later read failed.
    cursors.set(&chain.caip2, reference, judged);
    match outcome {
        Ok(bound) => bound,
        // One intent whose lookup fails must not hold up the others.
        Err(err) => {
            tracing::warn!(intent = %intent.id, error = %err, "reference lookup failed; will retry");
            false
        }
    }
}

/// What the intent's request asks for, in its settlement asset's base units (the locked
/// amount of a conversion intent).
fn requested_units(intent: &PaymentIntent) -> Result<u128, FlowError> {
    super::due(intent)
        .ok_or_else(|| ChainError::Invalid(format!("{} has no amount due yet", intent.id)))
        .and_then(|m| {
            m.to_base_units()
                .map_err(|e| ChainError::Invalid(e.to_string()))
        })
        .map_err(FlowError::Chain)
}

/// Binds the first transaction naming `reference` after `judged` that pays the intent's
/// request exactly, moving `judged` past every transaction it has judged for good.
async fn bind_by_reference(
    state: &Engine,
    chain: &Chain,
    intent: &PaymentIntent,
    reference: &Address,
    judged: &mut Option<String>,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let asset = &intent.settlement.asset;
    let units = requested_units(intent)?;
    let fresh = chain
        .node
        .transactions_naming_after(reference, judged.as_deref())
        .await?;
    for tx in fresh {
        // The gateway's own legs never pay an intent, whatever keys they name.
        if store
            .chain_transfer_by_hash(&chain.caip2, &tx)
            .await?
            .is_some()
        {
            *judged = Some(tx);
            continue;
        }
        let observed = match chain
            .node
            .observe_transfer(&tx, &asset.contract, &intent.settlement.address)
            .await
        {
            Ok(observed) => observed,
            Err(ChainError::NoMatchingTransfer { .. } | ChainError::TxFailed(_)) => {
                tracing::warn!(intent = %intent.id, %tx, "names the intent's reference but pays another mint or recipient; not bound");
                *judged = Some(tx);
                continue;
            }
            // Listed but not readable yet (another node behind the same URL): not judged, so
            // the next pass reads it again rather than skip it for good.
            Err(ChainError::TxNotFound(_)) => return Ok(false),
            Err(other) => return Err(other.into()),
        };
        if observed.amount_units != units {
            tracing::warn!(intent = %intent.id, %tx, paid = observed.amount_units, asked = units, "names the intent's reference but pays another amount; not bound");
            *judged = Some(tx);
            continue;
        }
        let paid = Money::from_base_units(units, asset.currency())
            .map_err(|e| FlowError::Chain(ChainError::Invalid(e.to_string())))?;
        let claim = PaymentTransaction {
            chain_id: chain.caip2.clone(),
            tx_hash: observed.tx_hash.clone(),
            payment_intent_id: intent.id,
            payer: observed.from.to_string(),
            amount: paid.to_amount_string(),
            asset: asset.id.to_string(),
            block_number: block_i64(observed.block_number),
            block_hash: observed.block_hash.clone(),
            log_index: block_i64(observed.log_index),
            status: PaymentTxStatus::Pending,
            source: PaymentSource::Reference,
            created_at_ms: now_ms,
        };
        // The claim is unique per transaction: one bound elsewhere is not this intent's.
        let owner = store.claim_transaction(&claim).await?;
        *judged = Some(tx);
        if owner == intent.id {
            return Ok(true);
        }
    }
    Ok(false)
}
