//! Misdirected deposits (issue 20, point 4; docs/evm.md, "Misdirected deposits"): funds
//! that reach a deposit address but pay nothing of its intent.
//!
//! The protocol, in order:
//! 1. **Detect** ([`detect_log`], [`scan_native`], called by the deposit watcher over the block
//!    range it scans): a token transfer into a deposit address in another token than the
//!    intent's (`other_token`), in any token on another chain of the family at the same
//!    address (`wrong_chain`: an EVM address exists on every EVM chain), or the chain's
//!    native coin sent to it
//!    (`native`) is recorded once per movement (`MisdirectedStore::record_misdirected`),
//!    status `detected`. It never credits the intent. Transfers from the chain's hot wallet
//!    (sweep gas) are the gateway's own and are not recorded.
//! 2. **Decide** ([`decide`], by the chain worker once the transaction has the chain's
//!    confirmations): book it (`misdirected_received`: payers → `rialto:misdirected`), screen
//!    the destination (the sender, as refunds screen theirs), price the return's network cost in
//!    what arrived, and move to `returning` with the cost and the amount to return recorded —
//!    or to `needs_operator` with the reason (`destination_refused`, `below_network_cost`,
//!    `no_price`, `no_gas_wallet`, `no_deposit_key`).
//! 3. **Return** (`super::misdirected_return`): every send is a recorded rail leg before it is
//!    broadcast; when the return confirms, `returned` with `misdirected_returned` booked.
//! 4. **Operators** list the rows and resolve `needs_operator` ones (the gateway's
//!    `/v1/operator/misdirected_deposits`): return (screened again, possibly to another
//!    address) or write off (`misdirected_write_off`).
//!
//! Before a return is decided, a token deposit whose intent is still open and that the router
//! can turn into the intent's settlement is **converted** instead (`super::misdirected_convert`:
//! `converting`, swept to the hot wallet, then `converted`, handed to a route execution).
//!
//! Not built: native value a contract forwards inside a transaction (an internal transfer) is
//! not seen, and shows only as a balance reconciliation does not read.

use std::collections::HashMap;

use rialto_connectors::chain::{NativeTransfer, TransferLog};
use rialto_core::address::Address;
use rialto_core::asset::AssetKind;
use rialto_core::id::MisdirectedId;
use rust_decimal::Decimal;

use super::rail::FlowError;
use super::{block_i64, Chain};
use crate::compliance::flow::{screen_outgoing, OutgoingAddress};
use crate::ledger::{Account, Entry, Posting};
use crate::services::Engine;
use crate::store::chain::DepositAddress;
use crate::store::misdirected::{
    MisdirectedDeposit, MisdirectedKind, MisdirectedStatus, MisdirectedUpdate,
};

/// The gas the hot wallet sends a deposit address to return a token; reference: the row id.
pub const MISDIRECTED_GAS: &str = "misdirected_gas";
/// The return to the sender, signed by the deposit address's key; reference: the row id.
pub const MISDIRECTED_RETURN: &str = "misdirected_return";

/// Every deposit address of the chain's family in its mode, by lookup key: funds reaching one
/// on any chain of the family are someone's (the same EVM key signs on every EVM chain).
pub(super) async fn family_addresses(
    state: &Engine,
    chain: &Chain,
) -> Result<HashMap<String, DepositAddress>, FlowError> {
    if chain.family() != rialto_core::ChainNamespace::Eip155 {
        return Ok(HashMap::new());
    }
    Ok(state
        .store
        .deposit_addresses_in_family("eip155:", chain.livemode)
        .await?
        .into_iter()
        .map(|d| (d.address.to_ascii_lowercase(), d))
        .collect())
}

/// What arrived, as the watcher hands it over.
pub(super) struct Arrival<'a> {
    pub kind: MisdirectedKind,
    pub deposit: &'a DepositAddress,
    pub token: Option<Address>,
    pub amount_units: u128,
    pub sender: Address,
    pub tx_hash: &'a str,
    pub log_index: i64,
    pub block_number: u64,
}

/// Records one misdirected arrival (idempotent per movement); `true` when new.
pub(super) async fn record(
    state: &Engine,
    chain: &Chain,
    arrival: Arrival<'_>,
    now_ms: i64,
) -> Result<bool, FlowError> {
    if arrival.amount_units == 0 || from_hot_wallet(chain, &arrival.sender) {
        return Ok(false);
    }
    let Some(intent) = state
        .store
        .get_intent_unscoped(&arrival.deposit.payment_intent_id)
        .await?
    else {
        return Ok(false);
    };
    let row = MisdirectedDeposit {
        id: MisdirectedId::generate().to_string(),
        chain_id: chain.caip2.clone(),
        livemode: chain.livemode,
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id.to_string(),
        address: arrival.deposit.address.clone(),
        kind: arrival.kind,
        token: arrival.token.map(|t| t.to_string()),
        asset: asset_of(state, &chain.caip2, arrival.token.as_ref()),
        amount_units: arrival.amount_units,
        sender: arrival.sender.to_string(),
        tx_hash: arrival.tx_hash.to_owned(),
        log_index: arrival.log_index,
        block_number: block_i64(arrival.block_number),
        status: MisdirectedStatus::Detected,
        reason: None,
        return_to: None,
        network_cost_units: None,
        returned_units: None,
        resolved_by: None,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        route_execution_id: None,
    };
    let new = state.store.record_misdirected(&row).await?;
    if new {
        tracing::warn!(intent = %intent.id, chain = %chain.caip2, kind = row.kind.as_str(),
            tx = %row.tx_hash, "misdirected deposit detected");
        crate::telemetry::misdirected_detected(&chain.caip2, row.kind.as_str());
    }
    Ok(new)
}

fn from_hot_wallet(chain: &Chain, sender: &Address) -> bool {
    chain
        .hot_wallet
        .as_ref()
        .and_then(|k| chain.node.address_of(k).ok())
        .is_some_and(|hot| hot == *sender)
}

/// CAIP-19 of `token` on `caip2` (the native coin for `None`), when the registry knows it; a
/// native coin the registry does not list is its family's SLIP-44 coin (ETH: `slip44:60`).
pub fn asset_of(state: &Engine, caip2: &str, token: Option<&Address>) -> Option<String> {
    let known = state
        .registry
        .assets()
        .iter()
        .find(|a| {
            a.id.chain().to_string() == caip2
                && match token {
                    Some(t) => a.kind != AssetKind::Native && a.contract == *t,
                    None => a.kind == AssetKind::Native,
                }
        })
        .map(|a| a.id.to_string());
    match (known, token) {
        (Some(id), _) => Some(id),
        (None, None) => {
            let (slip44, _) = super::native_coin(caip2);
            Some(format!("{caip2}/slip44:{slip44}"))
        }
        (None, Some(_)) => None,
    }
}

/// The decimals of a row's asset: the registry's, or a SLIP-44 native coin's own.
pub fn asset_decimals(state: &Engine, asset: &str) -> Option<u32> {
    if let Some(a) = asset.parse().ok().and_then(|id| state.registry.asset(&id)) {
        return Some(a.decimals);
    }
    let (chain, coin) = asset.split_once("/slip44:")?;
    let (slip44, decimals) = super::native_coin(chain);
    (coin == slip44.to_string()).then_some(decimals)
}

/// A transfer log into a deposit address of the family that is not a payment of the intent
/// the watcher follows there: recorded as misdirected. `watched_intent_token` is the token of
/// the intent when the address is one the watcher follows on this chain (`None` otherwise).
pub(super) async fn detect_log(
    state: &Engine,
    chain: &Chain,
    family: &HashMap<String, DepositAddress>,
    log: &TransferLog,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let Some(deposit) = family.get(&log.to.to_string().to_ascii_lowercase()) else {
        return Ok(false);
    };
    let kind = if deposit.chain_id != chain.caip2 {
        MisdirectedKind::WrongChain
    } else {
        let Some(intent) = state
            .store
            .get_intent_unscoped(&deposit.payment_intent_id)
            .await?
        else {
            return Ok(false);
        };
        if intent.settlement.asset.contract == log.token {
            // The intent's own token on its own chain: the watcher's payment, or (late, after
            // the sweep, an intent no longer watched) reconciliation's unexpected inflow.
            return Ok(false);
        }
        MisdirectedKind::OtherToken
    };
    let arrival = Arrival {
        kind,
        deposit,
        token: Some(log.token),
        amount_units: log.amount_units,
        sender: log.from,
        tx_hash: &log.tx_hash,
        log_index: block_i64(log.log_index),
        block_number: log.block_number,
    };
    record(state, chain, arrival, now_ms).await
}

/// The native-coin transfers into the family's deposit addresses in blocks `from..=to`.
pub(super) async fn scan_native(
    state: &Engine,
    chain: &Chain,
    family: &HashMap<String, DepositAddress>,
    (from, to): (u64, u64),
    now_ms: i64,
) -> Result<usize, FlowError> {
    if family.is_empty() {
        return Ok(0);
    }
    let addresses: Vec<Address> = family
        .values()
        .filter_map(|d| Address::parse(&d.address, chain.family()).ok())
        .collect();
    let mut found = 0;
    for t in chain.node.native_transfers(&addresses, from, to).await? {
        let NativeTransfer {
            from: sender,
            to: recipient,
            amount_units,
            ref tx_hash,
            block_number,
            ..
        } = t;
        let Some(deposit) = family.get(&recipient.to_string().to_ascii_lowercase()) else {
            continue;
        };
        let arrival = Arrival {
            kind: MisdirectedKind::Native,
            deposit,
            token: None,
            amount_units,
            sender,
            tx_hash,
            log_index: -1,
            block_number,
        };
        found += usize::from(record(state, chain, arrival, now_ms).await?);
    }
    Ok(found)
}

/// Why a row cannot be returned automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Screening refused the destination (a case is open; neutral words only).
    DestinationRefused,
    /// The return would cost at least what arrived.
    BelowNetworkCost,
    /// No price to turn the network cost into what arrived.
    NoPrice,
    /// The chain has no hot wallet to pay a token return's gas.
    NoGasWallet,
    /// The deposit address's key is not available here.
    NoDepositKey,
    /// The return leg failed on chain.
    ReturnFailed,
    /// Not a transfer the registry can book (unknown asset or destination).
    Unbookable,
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::DestinationRefused => "destination_refused",
            Hold::BelowNetworkCost => "below_network_cost",
            Hold::NoPrice => "no_price",
            Hold::NoGasWallet => "no_gas_wallet",
            Hold::NoDepositKey => "no_deposit_key",
            Hold::ReturnFailed => "return_failed",
            Hold::Unbookable => "unbookable",
        }
    }
}

/// What [`decide`] did with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not yet: the transaction lacks confirmations (or another worker moved the row).
    Waiting,
    /// Returning: `cost` of the `amount` is the network's, the rest goes back.
    Returning { cost: u128, returned: u128 },
    /// Converting through the router into its intent's settlement.
    Converting,
    /// Held for an operator.
    Held(Hold),
}

/// Decides a `detected` row (the worker, `book` = true: its arrival is booked in the same
/// move) or a `needs_operator` one an operator asked to return (`book` = false, booked when it
/// left `detected`). Screening runs on every decision, right before money could move.
pub async fn decide(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    book: bool,
    now_ms: i64,
) -> Result<Decision, FlowError> {
    if book {
        let mined = chain.node.receipt(&row.tx_hash).await?;
        if !mined.is_some_and(|m| m.success && m.confirmations >= chain.confirmations) {
            return Ok(Decision::Waiting);
        }
    }
    let received = if book {
        match received_posting(state, row, now_ms) {
            Some(p) => vec![p],
            None => return hold(state, row, Hold::Unbookable, Vec::new(), now_ms).await,
        }
    } else {
        Vec::new()
    };
    if book {
        let converting =
            super::misdirected_convert::begin(state, chain, row, received.clone(), now_ms);
        if let Some(decision) = converting.await? {
            return Ok(decision);
        }
    }
    let outcome = judge(state, chain, row, now_ms).await?;
    match outcome {
        Ok((cost, returned)) => {
            let update = MisdirectedUpdate {
                network_cost_units: Some(cost),
                returned_units: Some(returned),
                return_to: Some(destination_text(row)),
                resolved_by: row.resolved_by.clone(),
                ..MisdirectedUpdate::default()
            };
            let moved = state
                .store
                .move_misdirected(
                    &row.id,
                    row.status,
                    MisdirectedStatus::Returning,
                    &update,
                    &received,
                    now_ms,
                )
                .await?;
            Ok(if moved {
                Decision::Returning { cost, returned }
            } else {
                Decision::Waiting
            })
        }
        // A feed refusing for a moment (stale, an L2 sequencer in its grace period) is not a
        // reason to bother an operator: the worker asks again, for a while.
        Err(Hold::NoPrice) if book && now_ms - row.created_at_ms < PRICE_PATIENCE_MS => {
            Ok(Decision::Waiting)
        }
        Err(why) => hold(state, row, why, received, now_ms).await,
    }
}

/// How long the worker retries a row whose return cannot be priced before it goes to the
/// operators (`no_price`).
const PRICE_PATIENCE_MS: i64 = 10 * 60 * 1000;

pub(super) async fn hold(
    state: &Engine,
    row: &MisdirectedDeposit,
    why: Hold,
    postings: Vec<Posting>,
    now_ms: i64,
) -> Result<Decision, FlowError> {
    let update = MisdirectedUpdate {
        reason: Some(why.as_str().to_owned()),
        ..MisdirectedUpdate::default()
    };
    let moved = state
        .store
        .move_misdirected(
            &row.id,
            row.status,
            MisdirectedStatus::NeedsOperator,
            &update,
            &postings,
            now_ms,
        )
        .await?;
    if moved && row.status == MisdirectedStatus::Detected {
        tracing::warn!(id = %row.id, reason = why.as_str(), "misdirected deposit needs an operator");
    }
    Ok(if moved {
        Decision::Held(why)
    } else {
        Decision::Waiting
    })
}

/// Where the return goes: the operator's address, else the sender.
fn destination_text(row: &MisdirectedDeposit) -> String {
    row.return_to.clone().unwrap_or_else(|| row.sender.clone())
}

/// Screens the destination and prices the return: `(cost, returned)` in base units of what
/// arrived, or why it cannot go back.
async fn judge(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    now_ms: i64,
) -> Result<Result<(u128, u128), Hold>, FlowError> {
    let Ok(destination) = Address::parse(&destination_text(row), chain.family()) else {
        return Ok(Err(Hold::Unbookable));
    };
    let Ok(merchant) = row.merchant_id.parse() else {
        return Ok(Err(Hold::Unbookable));
    };
    let at = OutgoingAddress {
        role: rialto_compliance::AddressRole::Payer,
        point: "misdirected_return",
        intent: Some(row.payment_intent_id),
    };
    if !screen_outgoing(state, &merchant, row.livemode, &destination, at, now_ms)
        .await
        .map_err(FlowError::Screening)?
    {
        return Ok(Err(Hold::DestinationRefused));
    }
    let cost =
        match super::misdirected_return::network_cost(state, chain, row, &destination).await? {
            Ok(cost) => cost,
            Err(hold) => return Ok(Err(hold)),
        };
    if cost >= row.amount_units {
        return Ok(Err(Hold::BelowNetworkCost));
    }
    Ok(Ok((cost, row.amount_units - cost)))
}

/// `units` of the row's asset in whole units.
pub fn whole(state: &Engine, row: &MisdirectedDeposit, units: u128) -> Option<Decimal> {
    let decimals = asset_decimals(state, row.asset.as_deref()?)?;
    let units = i128::try_from(units).ok()?;
    Some(
        Decimal::try_from_i128_with_scale(units, decimals)
            .ok()?
            .normalize(),
    )
}

/// A posting of the row's asset for its intent's merchant.
pub(super) fn posting(
    row: &MisdirectedDeposit,
    kind: &str,
    entries: Vec<(Account, Decimal)>,
    now_ms: i64,
) -> Option<Posting> {
    let asset = row.asset.clone()?;
    let entries = entries
        .into_iter()
        .map(|(account, amount)| Entry {
            account,
            asset: asset.clone(),
            amount,
        })
        .collect();
    Posting::for_merchant(
        row.merchant_id.parse().ok()?,
        row.livemode,
        kind,
        &row.id,
        entries,
        now_ms,
    )
    .ok()
}

/// `misdirected_received`: what arrived, from payers into `rialto:misdirected`.
fn received_posting(state: &Engine, row: &MisdirectedDeposit, now_ms: i64) -> Option<Posting> {
    let amount = whole(state, row, row.amount_units)?;
    posting(
        row,
        "misdirected_received",
        vec![(Account::Payers, -amount), (Account::Misdirected, amount)],
        now_ms,
    )
}

/// Runs the chain's misdirected deposits one step: decides the `detected` ones, advances the
/// `returning` ones. One row that cannot move must not hold up the others.
pub async fn drive(state: &Engine, chain: &Chain, now_ms: i64) -> Result<usize, FlowError> {
    let store = state.store.as_ref();
    let mut changed = 0;
    for row in store
        .misdirected_in(&chain.caip2, MisdirectedStatus::Detected, 100)
        .await?
    {
        match decide(state, chain, &row, true, now_ms).await {
            Ok(Decision::Waiting) => {}
            Ok(_) => changed += 1,
            Err(err) => {
                tracing::warn!(id = %row.id, error = %err, "misdirected deposit not decided; will retry")
            }
        }
    }
    for row in store
        .misdirected_in(&chain.caip2, MisdirectedStatus::Converting, 100)
        .await?
    {
        match super::misdirected_convert::advance(state, chain, &row, now_ms).await {
            Ok(moved) => changed += usize::from(moved),
            Err(err) => {
                tracing::warn!(id = %row.id, error = %err, "misdirected conversion not advanced; will retry")
            }
        }
    }
    for row in store
        .misdirected_in(&chain.caip2, MisdirectedStatus::Returning, 100)
        .await?
    {
        match super::misdirected_return::advance(state, chain, &row, now_ms).await {
            Ok(moved) => changed += usize::from(moved),
            Err(err) => {
                tracing::warn!(id = %row.id, error = %err, "misdirected return not advanced; will retry")
            }
        }
    }
    Ok(changed)
}

/// What an operator decided for a `needs_operator` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Return it (screened again), to the sender or to `destination`.
    Return { destination: Option<Address> },
    /// Write it off: the funds stay where they are, booked to `rialto:write_offs`.
    WriteOff { reason: String },
}

/// An operator resolves a `needs_operator` row (`by`: `operator:<name>`). A return is decided
/// at once (screening, cost): refused with `misdirected_return_refused` and the row left with
/// the operators when it still cannot go back.
pub async fn resolve(
    state: &Engine,
    id: &str,
    resolution: Resolution,
    by: &str,
    now_ms: i64,
) -> Result<MisdirectedDeposit, crate::EngineError> {
    use crate::error::{EngineError, ErrorCode};
    let store = state.store.as_ref();
    let Some(mut row) = store.get_misdirected(id).await? else {
        return Err(EngineError::new(
            ErrorCode::ResourceMissing,
            format!("No such misdirected deposit: '{id}'."),
        )
        .param("id"));
    };
    let not_resolvable = || {
        EngineError::new(
            ErrorCode::MisdirectedDepositNotResolvable,
            "This misdirected deposit is not waiting for an operator.",
        )
    };
    if row.status != MisdirectedStatus::NeedsOperator {
        return Err(not_resolvable());
    }
    match resolution {
        Resolution::WriteOff { reason } => {
            // A row that could not be booked on arrival has nothing to write off in the books.
            let booked = row.reason.as_deref() != Some(Hold::Unbookable.as_str());
            let amount = whole(state, &row, row.amount_units);
            let postings: Vec<Posting> = match (booked, amount) {
                (true, Some(amount)) => posting(
                    &row,
                    "misdirected_write_off",
                    vec![
                        (Account::Misdirected, -amount),
                        (Account::WriteOffs, amount),
                    ],
                    now_ms,
                )
                .into_iter()
                .collect(),
                _ => Vec::new(),
            };
            let update = MisdirectedUpdate {
                reason: Some(reason),
                resolved_by: Some(by.to_owned()),
                ..MisdirectedUpdate::default()
            };
            let moved = store
                .move_misdirected(
                    &row.id,
                    MisdirectedStatus::NeedsOperator,
                    MisdirectedStatus::WrittenOff,
                    &update,
                    &postings,
                    now_ms,
                )
                .await?;
            if !moved {
                return Err(not_resolvable());
            }
        }
        Resolution::Return { destination } => {
            let Some(chain) = state.chains.get(row.livemode, &row.chain_id) else {
                return Err(EngineError::new(
                    ErrorCode::ChainUnavailable,
                    format!("Chain {} is not served here.", row.chain_id),
                ));
            };
            if let Some(to) = destination {
                row.return_to = Some(to.to_string());
            }
            row.resolved_by = Some(by.to_owned());
            let decided = decide(state, chain, &row, false, now_ms)
                .await
                .map_err(|e| EngineError::internal(&e))?;
            match decided {
                Decision::Returning { .. } => {}
                Decision::Waiting | Decision::Converting => return Err(not_resolvable()),
                Decision::Held(Hold::DestinationRefused) => {
                    return Err(EngineError::new(
                        ErrorCode::MisdirectedReturnRefused,
                        "Funds cannot be sent to this address. Choose another, or write the \
                         deposit off.",
                    )
                    .param("destination"))
                }
                Decision::Held(other) => {
                    return Err(EngineError::new(
                        ErrorCode::MisdirectedReturnRefused,
                        format!("This deposit cannot be returned now ({}).", other.as_str()),
                    ))
                }
            }
        }
    }
    store
        .get_misdirected(id)
        .await?
        .ok_or_else(|| EngineError::internal(&"misdirected deposit vanished"))
}
