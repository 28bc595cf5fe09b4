//! Block and log scanning for the chain watcher: ERC-20 `Transfer` logs of a set of tokens in a
//! block range, and the canonical hash of a block, so the watcher can notice a reorg (the hash
//! it saw at a height is no longer the chain's) and rewind.
//!
//! Recipients are filtered by the caller: a watcher follows thousands of deposit addresses,
//! more than a node accepts as topic alternatives, while the tokens are few.

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{keccak256, Address as WireAddress, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use rialto_core::address::Address;

use crate::contracts::{from_wire, to_wire};
use crate::EvmError;

pub use rialto_connectors::chain::{NativeTransfer, TransferLog};

/// The chain head's number.
pub async fn head(rpc_url: &str) -> Result<u64, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    Ok(provider.get_block_number().await?)
}

/// The canonical hash at `number`, or `None` past the head.
pub async fn block_hash(rpc_url: &str, number: u64) -> Result<Option<String>, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(number))
        .await?;
    Ok(block.map(|b| format!("{:#x}", b.header.hash)))
}

fn topic_address(topic: &B256) -> WireAddress {
    WireAddress::from_slice(&topic.as_slice()[12..])
}

/// Every `Transfer` log emitted by `tokens` in blocks `from..=to`, in chain order. Logs whose
/// value does not fit 128 bits (no real stablecoin amount does) are skipped with a warning
/// rather than failing the whole range.
pub async fn transfer_logs(
    rpc_url: &str,
    tokens: &[Address],
    from: u64,
    to: u64,
) -> Result<Vec<TransferLog>, EvmError> {
    if tokens.is_empty() || from > to {
        return Ok(Vec::new());
    }
    let provider = crate::provider::provider(rpc_url)?;
    let wire: Vec<WireAddress> = tokens.iter().map(to_wire).collect::<Result<_, _>>()?;
    let filter = Filter::new()
        .address(wire)
        .event_signature(keccak256("Transfer(address,address,uint256)"))
        .from_block(from)
        .to_block(to);
    let logs = provider.get_logs(&filter).await?;
    let mut out = Vec::with_capacity(logs.len());
    for log in logs {
        let topics = log.topics();
        if topics.len() != 3 {
            continue;
        }
        let (Some(tx_hash), Some(block_number), Some(block_hash), Some(log_index)) = (
            log.transaction_hash,
            log.block_number,
            log.block_hash,
            log.log_index,
        ) else {
            continue; // a pending log; the next scan sees it mined
        };
        let Some(value) = U256::try_from_be_slice(&log.data().data) else {
            continue;
        };
        let Ok(amount_units) = u128::try_from(value) else {
            tracing::warn!(tx = %tx_hash, "Transfer value over 128 bits ignored");
            continue;
        };
        out.push(TransferLog {
            token: from_wire(log.address()),
            from: from_wire(topic_address(&topics[1])),
            to: from_wire(topic_address(&topics[2])),
            amount_units,
            tx_hash: format!("{tx_hash:#x}"),
            block_number,
            block_hash: format!("{block_hash:#x}"),
            log_index,
        });
    }
    Ok(out)
}

/// Every successful transaction in blocks `from..=to_block` sending a non-zero value of the
/// native coin straight to one of `to`, in chain order. One block read (with its transactions)
/// per block, and one receipt read per match: meant for the short ranges the watcher scans.
pub async fn native_transfers(
    rpc_url: &str,
    to: &[Address],
    from: u64,
    to_block: u64,
) -> Result<Vec<NativeTransfer>, EvmError> {
    use alloy::consensus::Transaction as _;
    use alloy::network::TransactionResponse as _;
    if to.is_empty() || from > to_block {
        return Ok(Vec::new());
    }
    let wanted: std::collections::HashSet<WireAddress> =
        to.iter().map(to_wire).collect::<Result<_, _>>()?;
    let provider = crate::provider::provider(rpc_url)?;
    let mut out = Vec::new();
    for number in from..=to_block {
        let Some(block) = provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .full()
            .await?
        else {
            break; // past the head
        };
        let block_hash = format!("{:#x}", block.header.hash);
        for tx in block.transactions.txns() {
            let Some(recipient) = tx.to() else { continue };
            if tx.value().is_zero() || !wanted.contains(&recipient) {
                continue;
            }
            let Ok(amount_units) = u128::try_from(tx.value()) else {
                continue;
            };
            let hash = tx.tx_hash();
            let succeeded = provider
                .get_transaction_receipt(hash)
                .await?
                .is_some_and(|r| r.status());
            if !succeeded {
                continue;
            }
            out.push(NativeTransfer {
                from: from_wire(tx.from()),
                to: from_wire(recipient),
                amount_units,
                tx_hash: format!("{hash:#x}"),
                block_number: number,
                block_hash: block_hash.clone(),
            });
        }
    }
    Ok(out)
}
