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

pub use rialto_connectors::chain::TransferLog;

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
