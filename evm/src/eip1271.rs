//! EIP-1271: whether a smart-contract account accepts a signature. A contract wallet (a Safe,
//! a smart account) cannot `personal_sign`; it answers `isValidSignature(hash, signature)`
//! with the magic value `0x1626ba7e` for a signature it accepts. Rialto asks it over the same
//! EIP-191 hash an externally owned account signs, so one message serves both.

use alloy::primitives::{eip191_hash_message, Bytes, FixedBytes};
use alloy::providers::Provider;
use alloy::sol;
use rialto_core::Address;

use crate::contracts::to_wire;
use crate::EvmError;

sol! {
    /// The EIP-1271 view every contract account implements.
    #[sol(rpc)]
    interface IERC1271 {
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4 magicValue);
    }
}

/// `bytes4(keccak256("isValidSignature(bytes32,bytes)"))`: what an accepting account answers.
pub const MAGIC_VALUE: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// Whether `account` has code and accepts `signature` over the EIP-191 hash of `message`.
/// A revert, a malformed answer or any other value is a refusal (`Ok(false)`); only a node
/// that cannot be read is an error.
pub async fn contract_accepts(
    rpc_url: &str,
    account: &Address,
    message: &str,
    signature: &[u8],
) -> Result<bool, EvmError> {
    let wire = to_wire(account)?;
    let provider = crate::provider::provider(rpc_url)?;
    if provider.get_code_at(wire).await?.is_empty() {
        return Ok(false);
    }
    let hash = eip191_hash_message(message.as_bytes());
    let answer = IERC1271::new(wire, &provider)
        .isValidSignature(hash, Bytes::copy_from_slice(signature))
        .call()
        .await;
    match answer {
        Ok(magic) => Ok(magic == FixedBytes::from(MAGIC_VALUE)),
        // The account reverted (it refuses) or answered something that is not a bytes4.
        Err(alloy::contract::Error::TransportError(e)) if e.as_error_resp().is_some() => Ok(false),
        Err(alloy::contract::Error::AbiError(_) | alloy::contract::Error::ZeroData(..)) => {
            Ok(false)
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_magic_value_is_the_selector_of_is_valid_signature() {
        let selector = alloy::primitives::keccak256("isValidSignature(bytes32,bytes)");
        assert_eq!(&selector[..4], &MAGIC_VALUE);
    }
}
