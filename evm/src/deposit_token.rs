//! The permissioned deposit token (`contracts/src/DepositToken.sol`, JPMD-shaped): its bindings
//! and the reads the gateway needs before letting a holder pay or be paid in it.
//!
//! The allow-list functions (`isAllowed` / `setAllowed`) are Rialto's names: JPMD's own are not
//! public, so a live integration maps these two reads onto whatever the bank publishes.

use alloy::primitives::{keccak256, B256};
use alloy::providers::Provider;
use alloy::sol;
use rialto_core::{Address, Currency, Money};

use crate::contracts::to_wire;
use crate::EvmError;

sol! {
    /// `DepositToken` as seen through its `ERC1967Proxy` (UUPS: the upgrade entry point lives in
    /// the implementation, behind UPGRADER_ROLE).
    #[sol(rpc)]
    interface IDepositToken {
        error HolderNotAllowed(address holder);
        error EnforcedPause();
        error InvalidInitialization();
        error AccessControlUnauthorizedAccount(address account, bytes32 neededRole);
        event AllowlistUpdated(address indexed holder, bool allowed);
        event Transfer(address indexed from, address indexed to, uint256 value);

        function initialize(string name_, string symbol_, address admin) external;
        function name() external view returns (string);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function totalSupply() external view returns (uint256);
        function balanceOf(address account) external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function isAllowed(address holder) external view returns (bool);
        function setAllowed(address holder, bool allowed) external;
        function mint(address to, uint256 amount) external;
        function burn(address from, uint256 amount) external;
        function pause() external;
        function unpause() external;
        function paused() external view returns (bool);
        function grantRole(bytes32 role, address account) external;
        function hasRole(bytes32 role, address account) external view returns (bool);
        function upgradeToAndCall(address newImplementation, bytes data) external payable;
    }
}

/// The issuing bank's roles, as the contract computes them (`keccak256("MINTER_ROLE")`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepositTokenRole {
    Minter,
    Burner,
    AllowlistAdmin,
    Pauser,
    Upgrader,
}

impl DepositTokenRole {
    pub const ISSUER_ROLES: [Self; 4] = [
        Self::Minter,
        Self::Burner,
        Self::AllowlistAdmin,
        Self::Pauser,
    ];

    pub fn id(self) -> B256 {
        keccak256(match self {
            Self::Minter => "MINTER_ROLE",
            Self::Burner => "BURNER_ROLE",
            Self::AllowlistAdmin => "ALLOWLIST_ADMIN_ROLE",
            Self::Pauser => "PAUSER_ROLE",
            Self::Upgrader => "UPGRADER_ROLE",
        })
    }
}

/// EIP-1967's implementation slot: `keccak256("eip1967.proxy.implementation") - 1`.
pub const IMPLEMENTATION_SLOT: B256 =
    alloy::primitives::b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

/// Whether `holder` may hold, send and receive the token at `token`. Read-only.
pub async fn is_allowed<P: Provider>(
    provider: &P,
    token: &Address,
    holder: &Address,
) -> Result<bool, EvmError> {
    let contract = IDepositToken::new(to_wire(token)?, provider);
    Ok(contract.isAllowed(to_wire(holder)?).call().await?)
}

/// The token's on-chain supply as exact money of `currency` (whose decimals must be the
/// token's). Works for any ERC-20. Read-only.
pub async fn total_supply<P: Provider>(
    provider: &P,
    token: &Address,
    currency: Currency,
) -> Result<Money, EvmError> {
    let contract = crate::contracts::IERC20::new(to_wire(token)?, provider);
    let units = contract.totalSupply().call().await?;
    let units = u128::try_from(units).map_err(|_| EvmError::Devnet {
        chain: "-".into(),
        reason: format!("totalSupply of {token} does not fit 128 bits"),
    })?;
    Ok(Money::from_base_units(units, currency)?)
}

/// The implementation an EIP-1967 proxy currently delegates to.
pub async fn implementation<P: Provider>(
    provider: &P,
    proxy: &Address,
) -> Result<Address, EvmError> {
    let word = provider
        .get_storage_at(to_wire(proxy)?, IMPLEMENTATION_SLOT.into())
        .await?;
    let bytes = B256::from(word);
    Ok(crate::contracts::from_wire(
        alloy::primitives::Address::from_slice(&bytes[12..]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_and_the_eip1967_slot_are_the_hashes_the_contract_uses() {
        let minter = DepositTokenRole::Minter.id();
        assert_eq!(
            minter.to_string(),
            "0x9f2df0fed2c77648de5860a4cc508cd0818c85b8b8a1ab4ceeef8d981c8956a6"
        );
        let slot =
            alloy::primitives::U256::from_be_bytes(keccak256("eip1967.proxy.implementation").0)
                - alloy::primitives::U256::from(1);
        assert_eq!(B256::from(slot), IMPLEMENTATION_SLOT);
    }
}
