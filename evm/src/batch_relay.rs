//! Batched EIP-3009 relays through Rialto's `BatchRelayer` contract
//! (`contracts/src/BatchRelayer.sol`): many `transferWithAuthorization` calls of one token in
//! one transaction, each in its own call, a refused one skipped without sinking the rest.
//!
//! - [`calldata`] builds the `relay(token, gasPerItem, items)` call from checked
//!   authorizations (the same `(v, r, s)` the single relay sends).
//! - [`outcomes`] decides each item from the mined receipt. An item counts as relayed only when
//!   BOTH the relayer's `ItemRelayed(index, from, nonce)` and the token's own
//!   `AuthorizationUsed(from, nonce)` are in the receipt: the token's log is the proof that the
//!   money moved, the relayer's ties it to the item. Anything else is skipped (with the token's
//!   reason when the relayer reported one), so a skipped item's intent is never marked paid.
//! - [`NonceLanes`] spreads batches over several hot-wallet keys, each with its own nonce
//!   sequence (the rail's journal allocates nonces per chain and sender), so one stuck
//!   transaction holds up only its own lane.
//!
//! A batch goes through the rail like any leg (recorded, signed, before it is sent; the same
//! bytes re-broadcast after a crash; the replacement ladder at its nonce). Whichever of its
//! transactions lands is the one whose receipt [`outcomes`] reads.

// The `sol!` binding mirrors the contract's nine-field authorization.
#![allow(clippy::too_many_arguments)]

use std::sync::atomic::{AtomicUsize, Ordering};

use alloy::primitives::{Address as WireAddress, Bytes, Log, B256, U256};
use alloy::sol;
use alloy::sol_types::{decode_revert_reason, SolCall, SolEvent};
use rialto_core::Address;

use crate::contracts::to_wire;
use crate::eip3009::{parse_signature, Authorization, AuthorizationKind};
use crate::EvmError;

sol! {
    /// Rialto's batch relayer (contracts/src/BatchRelayer.sol).
    #[sol(rpc)]
    interface IBatchRelayer {
        struct Item {
            address from;
            address to;
            uint256 value;
            uint256 validAfter;
            uint256 validBefore;
            bytes32 nonce;
            uint8 v;
            bytes32 r;
            bytes32 s;
        }
        function relay(address token, uint256 gasPerItem, Item[] items) external returns (uint256 relayed);
        event ItemRelayed(uint256 indexed index, address indexed from, bytes32 indexed nonce);
        event ItemSkipped(uint256 indexed index, address indexed from, bytes32 indexed nonce, bytes reason);
    }

    /// FiatToken's EIP-3009 event: emitted by the token itself when an authorization is spent.
    interface IEip3009Events {
        event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);
    }
}

/// Gas each item may use. A FiatToken v2.2 `transferWithAuthorization` uses about 60,000 to a
/// fresh payee (measured on the devnet: `evm/tests/batch_relay.rs`); the rest is margin for a
/// token behind a proxy on a chain with dearer storage.
pub const GAS_PER_ITEM: u64 = 120_000;

/// The most items one batch carries by default: a batch of 100 reserves about 15M gas with
/// [`GAS_PER_ITEM`] each (about 200 fit a 30M-gas block; [`items_within`] caps a batch at its
/// chain's block), and a batch that large already amortises the 21,000 base cost to under
/// 1,000 gas per payment.
pub const DEFAULT_MAX_BATCH: usize = 100;

/// One authorization of a batch with its payer's 65-byte signature.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub auth: Authorization,
    pub signature: Vec<u8>,
}

/// What the receipt says of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// The token spent the authorization: the payee got `value` from `from`.
    Relayed,
    /// The token refused it (or the relayer refused a payee that is itself); nothing moved.
    Skipped { reason: String },
}

impl ItemOutcome {
    pub fn is_relayed(&self) -> bool {
        matches!(self, ItemOutcome::Relayed)
    }
}

/// The gas limit of a batch of `items` with `gas_per_item` each, computed rather than
/// estimated (an `eth_estimateGas` of a batch executes every signature check of it several
/// times, a binary search): the contract's own check before each item
/// (`gasleft() >= gasPerItem + gasPerItem / 63 + OVERHEAD`) always passes within it, so the
/// batch never reverts `InsufficientGas`. The calldata is priced at 16 gas a byte (every byte
/// as non-zero) on top of the 21,000 base and a fixed allowance for the call's own set-up.
/// Only gas used is paid for; the rest of the limit is not.
pub fn gas_limit(gas_per_item: u64, items: usize, calldata_len: usize) -> u64 {
    const BASE: u64 = 21_000;
    const SETUP: u64 = 50_000;
    /// The contract's `OVERHEAD` (10,000) plus the loop, the event and the memory of an item.
    const PER_ITEM_OVERHEAD: u64 = 20_000;
    let items = items as u64;
    let per_item = gas_per_item + gas_per_item / 63 + PER_ITEM_OVERHEAD;
    BASE.saturating_add(SETUP)
        .saturating_add(16u64.saturating_mul(calldata_len as u64))
        .saturating_add(items.saturating_mul(per_item))
}

/// The most items of one batch whose computed [`gas_limit`] fits a block of
/// `block_gas_limit`: a node refuses a transaction whose gas limit exceeds the block's, so a
/// larger batch would never be mined and its payments would wait for ever. An item's calldata
/// is the same size whatever it holds (a static tuple), so the size is known without items.
pub fn items_within(gas_per_item: u64, block_gas_limit: u64) -> usize {
    let empty = calldata_len(0);
    let per_item = calldata_len(1) - empty;
    let fits = |n: usize| gas_limit(gas_per_item, n, empty + n * per_item) <= block_gas_limit;
    // The limit grows linearly with n: step down from the estimate to the first that fits.
    let each = gas_limit(gas_per_item, 1, empty + per_item) - gas_limit(gas_per_item, 0, empty);
    let base = gas_limit(gas_per_item, 0, empty);
    let mut n = usize::try_from(block_gas_limit.saturating_sub(base) / each.max(1)).unwrap_or(0);
    while n > 0 && !fits(n) {
        n -= 1;
    }
    n
}

/// The size of `relay(token, gasPerItem, items)` calldata with `items` items.
fn calldata_len(items: usize) -> usize {
    let item = IBatchRelayer::Item {
        from: alloy::primitives::Address::ZERO,
        to: alloy::primitives::Address::ZERO,
        value: U256::ZERO,
        validAfter: U256::ZERO,
        validBefore: U256::ZERO,
        nonce: Default::default(),
        v: 27,
        r: Default::default(),
        s: Default::default(),
    };
    IBatchRelayer::relayCall {
        token: alloy::primitives::Address::ZERO,
        gasPerItem: U256::ZERO,
        items: vec![item; items],
    }
    .abi_encoded_size()
}

/// The `relay(token, gasPerItem, items)` calldata. Only `transferWithAuthorization` can be
/// batched: a `receiveWithAuthorization` must be sent by its payee, never by the relayer.
pub fn calldata(
    token: &Address,
    gas_per_item: u64,
    items: &[BatchItem],
) -> Result<Bytes, EvmError> {
    let items = items
        .iter()
        .map(|item| {
            if item.auth.kind != AuthorizationKind::Transfer {
                return Err(EvmError::InvalidSignature(
                    "only transferWithAuthorization can be batched",
                ));
            }
            let sig = parse_signature(&item.signature)?;
            Ok(IBatchRelayer::Item {
                from: to_wire(&item.auth.from)?,
                to: to_wire(&item.auth.to)?,
                value: item.auth.value,
                validAfter: U256::from(item.auth.valid_after),
                validBefore: U256::from(item.auth.valid_before),
                nonce: item.auth.nonce,
                // FiatToken's ECRecover takes only 27/28.
                v: 27 + u8::from(sig.v()),
                r: sig.r().into(),
                s: sig.s().into(),
            })
        })
        .collect::<Result<Vec<_>, EvmError>>()?;
    Ok(IBatchRelayer::relayCall {
        token: to_wire(token)?,
        gasPerItem: U256::from(gas_per_item),
        items,
    }
    .abi_encode()
    .into())
}

/// The batch item a checked `transferWithAuthorization` calldata stands for (the gateway
/// queues the calldata it checked; what is batched is exactly that).
pub fn item_from_calldata(data: &[u8]) -> Result<BatchItem, EvmError> {
    let call = crate::contracts::IFiatToken::transferWithAuthorizationCall::abi_decode(data)
        .map_err(|_| EvmError::Batch("not a transferWithAuthorization call".into()))?;
    let mut signature = Vec::with_capacity(65);
    signature.extend_from_slice(call.r.as_slice());
    signature.extend_from_slice(call.s.as_slice());
    signature.push(call.v);
    let valid = |n: U256| u64::try_from(n).map_err(|_| EvmError::Batch("window beyond u64".into()));
    Ok(BatchItem {
        auth: Authorization {
            kind: AuthorizationKind::Transfer,
            from: crate::contracts::from_wire(call.from),
            to: crate::contracts::from_wire(call.to),
            value: call.value,
            valid_after: valid(call.validAfter)?,
            valid_before: valid(call.validBefore)?,
            nonce: call.nonce,
        },
        signature,
    })
}

/// Each item's outcome, in the batch's order, from the logs of the mined batch transaction
/// (a successful receipt: a reverted batch moved nothing and every item is to be sent again).
/// `relayer` and `token` are the addresses the batch was sent to and for: logs from anyone
/// else are ignored, so a token or contract that merely emits look-alike events proves nothing.
pub fn outcomes(
    logs: &[Log],
    relayer: &Address,
    token: &Address,
    items: &[BatchItem],
) -> Result<Vec<ItemOutcome>, EvmError> {
    let (relayer, token) = (to_wire(relayer)?, to_wire(token)?);
    let mut used: Vec<(WireAddress, B256)> = Vec::new();
    let mut reported: Vec<Option<ItemOutcome>> = vec![None; items.len()];
    for log in logs {
        if log.address == token {
            if let Ok(e) = IEip3009Events::AuthorizationUsed::decode_log(log) {
                used.push((e.authorizer, e.nonce));
            }
        } else if log.address == relayer {
            if let Ok(e) = IBatchRelayer::ItemRelayed::decode_log(log) {
                note(
                    &mut reported,
                    items,
                    e.index,
                    e.from,
                    e.nonce,
                    ItemOutcome::Relayed,
                )?;
            } else if let Ok(e) = IBatchRelayer::ItemSkipped::decode_log(log) {
                let reason = decode_revert_reason(&e.reason)
                    .unwrap_or_else(|| String::from_utf8_lossy(&e.reason).into_owned());
                note(
                    &mut reported,
                    items,
                    e.index,
                    e.from,
                    e.nonce,
                    ItemOutcome::Skipped { reason },
                )?;
            }
        }
    }
    items
        .iter()
        .zip(reported)
        .map(|(item, said)| {
            let key = (to_wire(&item.auth.from)?, item.auth.nonce);
            Ok(match said {
                Some(ItemOutcome::Relayed) if used.contains(&key) => ItemOutcome::Relayed,
                Some(ItemOutcome::Relayed) => ItemOutcome::Skipped {
                    reason: "the token logged no AuthorizationUsed for it".into(),
                },
                Some(skipped) => skipped,
                None => ItemOutcome::Skipped {
                    reason: "the batch relayer reported nothing for it".into(),
                },
            })
        })
        .collect()
}

/// The logs of the mined transaction `tx_hash` (the batch, or the replacement that took its
/// nonce) and whether it succeeded; `None` while it is not mined.
pub async fn receipt_logs(
    rpc_url: &str,
    tx_hash: &str,
) -> Result<Option<(bool, Vec<Log>)>, EvmError> {
    use alloy::providers::Provider;
    let hash: B256 = crate::transfers::parse_tx_hash(tx_hash)?;
    let provider = crate::provider::provider(rpc_url)?;
    let Some(receipt) = provider.get_transaction_receipt(hash).await? else {
        return Ok(None);
    };
    if receipt.block_hash.is_none() {
        return Ok(None);
    }
    let logs = receipt
        .inner
        .logs()
        .iter()
        .map(|l| l.inner.clone())
        .collect();
    Ok(Some((receipt.status(), logs)))
}

/// Records what the relayer said of item `index`, after checking the event names that item's
/// payer and nonce (a mismatch means the receipt is not this batch's: refuse to decide).
fn note(
    reported: &mut [Option<ItemOutcome>],
    items: &[BatchItem],
    index: U256,
    from: WireAddress,
    nonce: B256,
    outcome: ItemOutcome,
) -> Result<(), EvmError> {
    let i = usize::try_from(index).ok().filter(|i| *i < items.len());
    let Some(i) = i else {
        return Err(EvmError::Batch(format!(
            "event for item {index}, beyond the batch"
        )));
    };
    if to_wire(&items[i].auth.from)? != from || items[i].auth.nonce != nonce {
        return Err(EvmError::Batch(format!(
            "item {i}'s event names another authorization"
        )));
    }
    reported[i] = Some(outcome);
    Ok(())
}

/// Several hot-wallet keys, each its own nonce sequence, handed out in turn. With one lane a
/// batch waits for the previous one's nonce; with `n` lanes `n` batches are in flight at once
/// and a stuck one (replaced at its own nonce) delays only its own lane.
#[derive(Debug)]
pub struct NonceLanes<K> {
    keys: Vec<K>,
    next: AtomicUsize,
}

impl<K> NonceLanes<K> {
    /// `None` for no key: a chain with no hot wallet relays nothing.
    pub fn new(keys: Vec<K>) -> Option<Self> {
        (!keys.is_empty()).then(|| Self {
            keys,
            next: AtomicUsize::new(0),
        })
    }

    /// The next lane's key (round robin).
    pub fn next(&self) -> &K {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.keys.len();
        &self.keys[i]
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn keys(&self) -> &[K] {
        &self.keys
    }
}

#[cfg(test)]
mod tests;
