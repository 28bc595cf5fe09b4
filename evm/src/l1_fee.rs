//! OP-stack rollups (Base, OP Mainnet) charge every transaction an L1 data fee on top of its
//! gas: the cost of posting its bytes to Ethereum. It is not part of `gas × price`, so a
//! deposit address funded for gas alone could not pay for its sweep. The chain's
//! `GasPriceOracle` predeploy prices it from the signed transaction's bytes (`getL1Fee`).

use alloy::primitives::{keccak256, Bytes, U256};
use rialto_core::address::Address;
use rialto_core::ChainNamespace;

use crate::contracts::to_wire;
use crate::sender::{self, CallSpec, Fees, PrivateKeySigner};
use crate::EvmError;

/// The `GasPriceOracle` predeploy, at the same address on every OP-stack chain.
pub const GAS_PRICE_ORACLE: &str = "0x420000000000000000000000000000000000000F";

/// EIP-155 ids of the OP-stack chains in the asset registry: OP Mainnet, Base, and their
/// Sepolia test networks.
pub const OP_STACK_CHAIN_IDS: &[u64] = &[10, 8453, 84532, 11155420];

alloy::sol! {
    #[sol(rpc)]
    interface IGasPriceOracle {
        function getL1Fee(bytes memory data) external view returns (uint256);
    }
}

/// The predeploy's address, where `chain_id` is an OP-stack chain.
pub fn oracle_of(chain_id: u64) -> Option<Address> {
    OP_STACK_CHAIN_IDS
        .contains(&chain_id)
        .then(|| Address::parse(GAS_PRICE_ORACLE, ChainNamespace::Eip155).ok())
        .flatten()
}

/// The L1 data fee, in wei, of `spec` sent at `fees`. The oracle prices the signed bytes; a
/// throwaway key signs a stand-in of the same length (nonce 0 is one byte shorter than most,
/// which the caller's doubling more than covers).
pub async fn estimate(
    rpc_url: &str,
    oracle: &Address,
    spec: &CallSpec,
    fees: Fees,
) -> Result<u128, EvmError> {
    let throwaway = PrivateKeySigner::from_bytes(&keccak256(b"rialto l1 fee estimate"))
        .map_err(|e| EvmError::Key(format!("estimate key: {e}")))?;
    let signed = sender::sign_call(&throwaway, spec, 0, fees)?;
    let raw = alloy::hex::decode(signed.raw.trim_start_matches("0x"))
        .map_err(|e| EvmError::Key(format!("estimate bytes: {e}")))?;
    let provider = crate::provider::provider(rpc_url)?;
    let fee: U256 = IGasPriceOracle::new(to_wire(oracle)?, &provider)
        .getL1Fee(Bytes::from(raw))
        .call()
        .await?;
    u128::try_from(fee).map_err(|_| EvmError::Key("L1 fee over 128 bits".into()))
}
