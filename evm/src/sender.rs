//! Signing and broadcasting the gateway's own transactions (relays, sweeps, payouts, refunds).
//!
//! Signing is synchronous and offline on purpose: the gateway allocates a nonce, signs and
//! stores the raw transaction in one database transaction *before* anything reaches the chain,
//! so a crash after that point can only ever re-broadcast the very same bytes (same hash, same
//! nonce). Broadcasting a transaction the node already has is therefore a success, not an error.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address as WireAddress, Bytes, TxKind, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
pub use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use rialto_core::address::Address;
use secrecy::{ExposeSecret, SecretString};

use crate::contracts::{to_wire, IERC20};
use crate::EvmError;

/// EIP-1559 fee caps, in wei.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

/// What to send, before a nonce and fees are chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSpec {
    pub chain_id: u64,
    pub to: Address,
    /// Wei of native currency sent along.
    pub value: u128,
    pub data: Bytes,
    pub gas_limit: u64,
}

/// A signed transaction, ready to (re-)broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// `0x`-prefixed EIP-2718 encoding.
    pub raw: String,
    /// `0x`-prefixed, lower-case.
    pub hash: String,
}

/// A mined transaction's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mined {
    pub success: bool,
    pub block_number: u64,
    pub block_hash: String,
    /// Blocks on top of (and including) the transaction's block.
    pub confirmations: u64,
    /// What the sender paid for gas, in wei (gas used × effective gas price; a revert pays too).
    pub fee_wei: u128,
}

/// Parses a `0x` hex private key held as a secret.
pub fn signer_from_key(key: &SecretString) -> Result<PrivateKeySigner, EvmError> {
    key.expose_secret()
        .parse::<PrivateKeySigner>()
        .map_err(|_| EvmError::Key("not a valid secp256k1 private key".into()))
}

/// ERC-20 `transfer(to, units)` calldata.
pub fn erc20_transfer_data(to: &Address, units: u128) -> Result<Bytes, EvmError> {
    let call = IERC20::transferCall {
        to: to_wire(to)?,
        amount: U256::from(units),
    };
    Ok(Bytes::from(call.abi_encode()))
}

/// Signs `spec` at `nonce` with `fees`. Pure: the same inputs give the same bytes and hash.
pub fn sign_call(
    signer: &PrivateKeySigner,
    spec: &CallSpec,
    nonce: u64,
    fees: Fees,
) -> Result<SignedTx, EvmError> {
    let mut tx = TxEip1559 {
        chain_id: spec.chain_id,
        nonce,
        gas_limit: spec.gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: TxKind::Call(to_wire(&spec.to)?),
        value: U256::from(spec.value),
        access_list: Default::default(),
        input: spec.data.clone(),
    };
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .map_err(|e| EvmError::Key(format!("signing failed: {e}")))?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Ok(SignedTx {
        raw: format!("0x{}", alloy::hex::encode(envelope.encoded_2718())),
        hash: format!("{:#x}", envelope.tx_hash()),
    })
}

/// Current EIP-1559 fee caps from the node, with the max fee doubled as head-room for a few
/// blocks of base-fee growth (only the base fee actually charged is paid).
pub async fn estimate_fees(rpc_url: &str) -> Result<Fees, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    let estimate = provider.estimate_eip1559_fees().await?;
    Ok(Fees {
        max_fee_per_gas: estimate.max_fee_per_gas.saturating_mul(2),
        max_priority_fee_per_gas: estimate.max_priority_fee_per_gas,
    })
}

/// Gas for `spec` sent by `from`, plus 20 % margin. A call that would revert fails here, before
/// any nonce is spent.
pub async fn estimate_gas(rpc_url: &str, from: &Address, spec: &CallSpec) -> Result<u64, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    let request = TransactionRequest::default()
        .from(to_wire(from)?)
        .to(to_wire(&spec.to)?)
        .value(U256::from(spec.value))
        .input(spec.data.clone().into());
    let gas = provider
        .estimate_gas(request)
        .await
        .map_err(|e| EvmError::WouldRevert(e.to_string()))?;
    Ok(gas.saturating_add(gas / 5))
}

/// The next nonce of `address` counting transactions still in the node's pool.
pub async fn pending_nonce(rpc_url: &str, address: &Address) -> Result<u64, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    Ok(provider
        .get_transaction_count(to_wire(address)?)
        .pending()
        .await?)
}

alloy::sol! {
    /// ERC-20 metadata, with `decimals` read as a full word: USDT's returns `uint256`, the
    /// standard's `uint8` is ABI-encoded as the same 32-byte word, so one decoding fits both.
    #[sol(rpc)]
    interface IErc20Metadata {
        function symbol() external view returns (string);
        function decimals() external view returns (uint256);
        function balanceOf(address account) external view returns (uint256);
    }
}

/// An ERC-20's symbol and decimals, as the contract reports them (the rail role's type).
pub use rialto_connectors::rail::TokenMetadata;

/// Reads `symbol()` and `decimals()`; a decimals value over 36 is refused (no money token has
/// one, and it would not fit an exact decimal amount).
pub async fn token_metadata(rpc_url: &str, token: &Address) -> Result<TokenMetadata, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    let contract = IErc20Metadata::new(to_wire(token)?, &provider);
    let symbol = contract.symbol().call().await?;
    let decimals = contract.decimals().call().await?;
    let decimals = u8::try_from(decimals)
        .ok()
        .filter(|d| *d <= 36)
        .ok_or_else(|| EvmError::Key(format!("{token}: decimals {decimals} out of range")))?;
    Ok(TokenMetadata { symbol, decimals })
}

/// `balanceOf(owner)` of `token`, in base units.
pub async fn token_balance(
    rpc_url: &str,
    token: &Address,
    owner: &Address,
) -> Result<u128, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    let balance = IErc20Metadata::new(to_wire(token)?, &provider)
        .balanceOf(to_wire(owner)?)
        .call()
        .await?;
    u128::try_from(balance).map_err(|_| EvmError::Key(format!("{token}: balance over 128 bits")))
}

/// The EIP-155 id the endpoint answers `eth_chainId` with.
pub async fn chain_id(rpc_url: &str) -> Result<u64, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    Ok(provider.get_chain_id().await?)
}

/// Native balance of `address`, in wei.
pub async fn native_balance(rpc_url: &str, address: &Address) -> Result<U256, EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    Ok(provider.get_balance(to_wire(address)?).await?)
}

/// Broadcasts a stored raw transaction. A node that already holds (or already mined) these
/// bytes answers with an error, which is the idempotent success this function reports as `Ok`.
/// Any other refusal is returned; the caller keeps the transaction and tries again later (the
/// nonce stays reserved for exactly these bytes).
pub async fn broadcast(rpc_url: &str, signed: &SignedTx) -> Result<(), EvmError> {
    let provider = crate::provider::provider(rpc_url)?;
    let raw = alloy::hex::decode(signed.raw.trim_start_matches("0x"))
        .map_err(|e| EvmError::Key(format!("stored raw transaction is not hex: {e}")))?;
    match provider.send_raw_transaction(&raw).await {
        Ok(_) => Ok(()),
        Err(err) => {
            let text = err.to_string().to_ascii_lowercase();
            let known = text.contains("already known")
                || text.contains("already imported")
                || text.contains("known transaction");
            if known || mined(rpc_url, &signed.hash).await?.is_some() {
                Ok(())
            } else {
                Err(EvmError::Broadcast(err.to_string()))
            }
        }
    }
}

/// The receipt of `tx_hash`, if it is mined.
pub async fn mined(rpc_url: &str, tx_hash: &str) -> Result<Option<Mined>, EvmError> {
    let hash: B256 = crate::transfers::parse_tx_hash(tx_hash)?;
    let provider = crate::provider::provider(rpc_url)?;
    let Some(receipt) = provider.get_transaction_receipt(hash).await? else {
        return Ok(None);
    };
    let (Some(block_number), Some(block_hash)) = (receipt.block_number, receipt.block_hash) else {
        return Ok(None);
    };
    let head = provider.get_block_number().await?;
    Ok(Some(Mined {
        success: receipt.status(),
        block_number,
        block_hash: format!("{block_hash:#x}"),
        confirmations: head.saturating_sub(block_number) + 1,
        fee_wei: u128::from(receipt.gas_used).saturating_mul(receipt.effective_gas_price),
    }))
}

/// The address a signer sends from, in domain form.
pub fn signer_address(signer: &PrivateKeySigner) -> Address {
    crate::contracts::from_wire(signer.address())
}

/// Parses a domain address into alloy's form (re-exported for the gateway, which has no alloy).
pub fn wire(address: &Address) -> Result<WireAddress, EvmError> {
    to_wire(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PrivateKeySigner {
        // anvil's public test key #0.
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap()
    }

    fn spec() -> CallSpec {
        CallSpec {
            chain_id: 31337,
            to: Address::parse(
                "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                rialto_core::ChainNamespace::Eip155,
            )
            .unwrap(),
            value: 1,
            data: Bytes::new(),
            gas_limit: 21_000,
        }
    }

    const FEES: Fees = Fees {
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
    };

    #[test]
    fn signing_is_deterministic_so_a_rebroadcast_is_the_same_transaction() {
        let a = sign_call(&key(), &spec(), 7, FEES).unwrap();
        let b = sign_call(&key(), &spec(), 7, FEES).unwrap();
        assert_eq!(a, b);
        let other_nonce = sign_call(&key(), &spec(), 8, FEES).unwrap();
        assert_ne!(a.hash, other_nonce.hash);
        assert!(
            a.raw.starts_with("0x02"),
            "EIP-1559 typed envelope: {}",
            a.raw
        );
        assert_eq!(a.hash.len(), 66);
    }

    #[test]
    fn transfer_calldata_is_the_erc20_selector_and_two_words() {
        let data = erc20_transfer_data(&spec().to, 25_000_000).unwrap();
        assert_eq!(&data[..4], &[0xa9, 0x05, 0x9c, 0xbb]);
        assert_eq!(data.len(), 4 + 64);
        assert_eq!(U256::from_be_slice(&data[36..]), U256::from(25_000_000u64));
    }

    #[test]
    fn a_bad_key_is_refused_without_echoing_it() {
        let err = signer_from_key(&SecretString::from("0xnot-a-key-1234")).unwrap_err();
        assert!(!err.to_string().contains("not-a-key-1234"));
    }
}
