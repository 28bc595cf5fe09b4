//! Sending a transaction and waiting for its receipt, for the deploy sequence.
//!
//! Receipts are polled directly rather than through alloy's block watcher: anvil mines each
//! transaction as it arrives, so the receipt is there on the first or second poll, and the
//! watcher's block polling would add its interval to every one of the ~50 deploy steps.

use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address as WireAddress, Bytes};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};

use crate::EvmError;

const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `tx`, waits for it to be mined and fails unless it succeeded.
pub(crate) async fn send(
    provider: &DynProvider,
    tx: TransactionRequest,
    label: &str,
) -> Result<TransactionReceipt, EvmError> {
    let pending = provider.send_transaction(tx).await?;
    let hash = *pending.tx_hash();
    let started = Instant::now();
    loop {
        if let Some(receipt) = provider.get_transaction_receipt(hash).await? {
            if !receipt.status() {
                return Err(EvmError::Reverted {
                    label: label.to_owned(),
                    tx: hash.to_string(),
                });
            }
            return Ok(receipt);
        }
        if started.elapsed() > RECEIPT_TIMEOUT {
            return Err(EvmError::NoReceipt {
                label: label.to_owned(),
                tx: hash.to_string(),
                secs: RECEIPT_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Deploys `code` (creation code with constructor arguments appended) from `from` and returns
/// the new contract's address.
pub(crate) async fn deploy(
    provider: &DynProvider,
    from: WireAddress,
    code: Bytes,
    label: &str,
) -> Result<WireAddress, EvmError> {
    let tx = TransactionRequest::default()
        .from(from)
        .with_deploy_code(code);
    let receipt = send(provider, tx, label).await?;
    let address = receipt.contract_address.ok_or_else(|| EvmError::Devnet {
        chain: "-".into(),
        reason: format!("{label}: receipt has no contract address"),
    })?;
    let code = provider.get_code_at(address).await?;
    if code.is_empty() {
        return Err(EvmError::Devnet {
            chain: "-".into(),
            reason: format!("{label}: no code at {address}"),
        });
    }
    Ok(address)
}
