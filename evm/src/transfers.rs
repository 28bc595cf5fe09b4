//! What a submitted transaction actually paid: the ERC-20 `Transfer` logs of one token to one
//! recipient in a mined, successful transaction, with its block and confirmations. The gateway
//! decides what the amount means; this module only reads the chain and never trusts what the
//! payer said about it.

use alloy::primitives::{keccak256, Address as WireAddress, B256, U256};
use alloy::providers::Provider;
use rialto_core::address::Address;

use crate::contracts::{from_wire, to_wire};
use crate::EvmError;

pub use rialto_connectors::chain::{ObservedTransfer, SenderPart};

/// Parses a transaction hash: `0x` and 64 hex digits.
pub fn parse_tx_hash(text: &str) -> Result<B256, EvmError> {
    let hex = text
        .strip_prefix("0x")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| EvmError::TxHash(text.to_owned()))?;
    hex.parse::<B256>()
        .or_else(|_| format!("0x{hex}").parse::<B256>())
        .map_err(|_| EvmError::TxHash(text.to_owned()))
}

fn topic_address(topic: &B256) -> WireAddress {
    WireAddress::from_slice(&topic.as_slice()[12..])
}

/// Reads the receipt of `tx_hash` from `rpc_url` and sums its `Transfer(from, to, value)` logs
/// emitted by `token` to `recipient`.
///
/// Errors: not mined (or unknown) → [`EvmError::TxNotFound`]; reverted →
/// [`EvmError::TxFailed`]; no such transfer in it → [`EvmError::NoMatchingTransfer`]. Safe to
/// call again: it only reads.
pub async fn observe_transfer(
    rpc_url: &str,
    tx_hash: &str,
    token: &Address,
    recipient: &Address,
) -> Result<ObservedTransfer, EvmError> {
    let hash = parse_tx_hash(tx_hash)?;
    let token_wire = to_wire(token)?;
    let recipient_wire = to_wire(recipient)?;
    let provider = crate::provider::provider(rpc_url)?;
    let receipt = provider
        .get_transaction_receipt(hash)
        .await?
        .ok_or_else(|| EvmError::TxNotFound(tx_hash.to_owned()))?;
    if !receipt.status() {
        return Err(EvmError::TxFailed(tx_hash.to_owned()));
    }
    let (Some(block_number), Some(block_hash)) = (receipt.block_number, receipt.block_hash) else {
        return Err(EvmError::TxNotFound(tx_hash.to_owned()));
    };
    let transfer_topic = keccak256("Transfer(address,address,uint256)");
    let mut total = U256::ZERO;
    let mut first: Option<(WireAddress, u64)> = None;
    // Every sender with what it sent, in log order: each one's funds arrived, so each one is
    // screened, and a proof of payment speaks only for its own signer's part.
    let mut senders: Vec<(WireAddress, U256)> = Vec::new();
    for log in receipt.inner.logs() {
        let topics = log.topics();
        let matches = log.address() == token_wire
            && topics.len() == 3
            && topics[0] == transfer_topic
            && topic_address(&topics[2]) == recipient_wire;
        if !matches {
            continue;
        }
        let value = U256::try_from_be_slice(&log.data().data)
            .ok_or_else(|| EvmError::TxFailed(format!("{tx_hash}: malformed Transfer log data")))?;
        total = total
            .checked_add(value)
            .ok_or_else(|| EvmError::TxFailed(format!("{tx_hash}: amount overflows")))?;
        let sender = topic_address(&topics[1]);
        if first.is_none() {
            first = Some((sender, log.log_index.unwrap_or(0)));
        }
        match senders.iter_mut().find(|(s, _)| *s == sender) {
            Some((_, sum)) => *sum = sum.saturating_add(value),
            None => senders.push((sender, value)),
        }
    }
    let Some((from, log_index)) = first else {
        return Err(EvmError::NoMatchingTransfer {
            tx: tx_hash.to_owned(),
            token: token.to_string(),
            recipient: recipient.to_string(),
        });
    };
    let head = provider.get_block_number().await?;
    let block_timestamp = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Number(block_number))
        .await?
        .map(|b| b.header.timestamp)
        .unwrap_or_default();
    let amount_units = u128::try_from(total)
        .map_err(|_| EvmError::TxFailed(format!("{tx_hash}: amount overflows")))?;
    // Each part is at most the total, which fits.
    let senders = senders
        .into_iter()
        .map(|(from, units)| SenderPart {
            from: from_wire(from),
            amount_units: u128::try_from(units).unwrap_or(amount_units),
        })
        .collect();
    Ok(ObservedTransfer {
        tx_hash: format!("{hash:#x}"),
        from: from_wire(from),
        senders,
        to: *recipient,
        token: *token,
        amount_units,
        block_number,
        block_hash: format!("{block_hash:#x}"),
        log_index,
        confirmations: head.saturating_sub(block_number) + 1,
        block_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_hashes_are_0x_and_64_hex_digits() {
        let good = format!("0x{}", "ab".repeat(32));
        assert!(parse_tx_hash(&good).is_ok());
        for bad in [
            "",
            "0x",
            "ab".repeat(32).as_str(),
            &format!("0x{}", "zz".repeat(32)),
            &format!("0x{}", "ab".repeat(33)),
        ] {
            assert!(
                matches!(parse_tx_hash(bad), Err(EvmError::TxHash(_))),
                "{bad}"
            );
        }
    }
}
