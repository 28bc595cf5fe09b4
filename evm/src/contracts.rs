//! Typed bindings for the contracts the devnet deploys, as the subsets of their ABIs Rialto
//! calls. Bytecode is not embedded: it is loaded from `contracts/artifacts/` at run time, so a
//! rebuilt artifact needs no recompilation here.
//!
//! Also the conversions between `rialto_core::Address` (the domain's) and alloy's address type
//! (the wire's).
// The `sol!` bindings mirror Solidity signatures (EIP-3009's transferWithAuthorization
// takes 9 arguments); the argument count is the contract's, not ours to choose.
#![allow(clippy::too_many_arguments)]

use alloy::primitives::Address as WireAddress;
use alloy::sol;
use rialto_core::Address;

use crate::EvmError;

sol! {
    /// Circle FiatToken v2.2 (USDC, EURC) as seen through its proxy.
    #[sol(rpc)]
    interface IFiatToken {
        function initialize(string tokenName, string tokenSymbol, string tokenCurrency, uint8 tokenDecimals, address newMasterMinter, address newPauser, address newBlacklister, address newOwner) external;
        function initializeV2(string newName) external;
        function initializeV2_1(address lostAndFound) external;
        function initializeV2_2(address[] accountsToBlacklist, string newSymbol) external;
        function configureMinter(address minter, uint256 minterAllowedAmount) external returns (bool);
        function mint(address to, uint256 amount) external returns (bool);
        /// Burns `amount` of the caller's (a configured minter's) own balance.
        function burn(uint256 amount) external;
        function name() external view returns (string);
        function symbol() external view returns (string);
        function currency() external view returns (string);
        function version() external view returns (string);
        function decimals() external view returns (uint8);
        function isMinter(address account) external view returns (bool);
        function minterAllowance(address minter) external view returns (uint256);
        function isBlacklisted(address account) external view returns (bool);
        function blacklist(address account) external;
        // EIP-3009 (FiatToken v2). Only the (v, r, s) overloads are declared, so the bindings
        // keep their plain names; v2.2's `bytes signature` overloads (for ERC-1271 wallets)
        // are not used by Rialto.
        function DOMAIN_SEPARATOR() external view returns (bytes32);
        function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
        function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external;
        function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external;
    }

    /// The admin side of `FiatTokenProxy`; only the admin may call these.
    #[sol(rpc)]
    interface IFiatTokenProxy {
        function changeAdmin(address newAdmin) external;
        function admin() external view returns (address);
        function implementation() external view returns (address);
    }

    /// A standard ERC-20 (FiatToken, PYUSD-like, Uniswap pairs, WETH).
    #[sol(rpc)]
    interface IERC20 {
        function balanceOf(address account) external view returns (uint256);
        function totalSupply() external view returns (uint256);
        function transfer(address to, uint256 amount) external returns (bool);
        function approve(address spender, uint256 amount) external returns (bool);
        function allowance(address owner, address spender) external view returns (uint256);
    }

    /// USDT's quirks: `transfer`/`approve` return nothing and `decimals` is a `uint256`.
    /// Declared without return values so a call decodes the empty return data.
    #[sol(rpc)]
    interface ITetherLike {
        function issue(uint256 amount) external;
        function transfer(address to, uint256 value) external;
        function approve(address spender, uint256 value) external;
        function balanceOf(address who) external view returns (uint256);
        function decimals() external view returns (uint256);
    }

    #[sol(rpc)]
    interface IPayPalUsdLike {
        function mint(address to, uint256 amount) external returns (bool);
    }

    /// Chainlink's `MockV3Aggregator`: anyone can post a round (devnet only).
    #[sol(rpc)]
    interface IMockV3Aggregator {
        function updateAnswer(int256 answer) external;
        function updateRoundData(uint80 roundId, int256 answer, uint256 timestamp, uint256 startedAt) external;
    }

    #[sol(rpc)]
    interface IWETH9 {
        function deposit() external payable;
    }

    #[sol(rpc)]
    interface IUniswapV2Factory {
        function createPair(address tokenA, address tokenB) external returns (address pair);
        function getPair(address tokenA, address tokenB) external view returns (address pair);
    }

    #[sol(rpc)]
    interface IUniswapV2Router02 {
        function factory() external view returns (address);
        function addLiquidity(address tokenA, address tokenB, uint256 amountADesired, uint256 amountBDesired, uint256 amountAMin, uint256 amountBMin, address to, uint256 deadline) external returns (uint256 amountA, uint256 amountB, uint256 liquidity);
        function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) external returns (uint256[] amounts);
        function getAmountsOut(uint256 amountIn, address[] path) external view returns (uint256[] amounts);
    }

    #[sol(rpc)]
    interface IUniswapV2Pair {
        function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
        function token0() external view returns (address);
    }
}

/// The alloy address of a domain address; fails for non-EVM addresses.
pub fn to_wire(address: &Address) -> Result<WireAddress, EvmError> {
    match address {
        Address::Evm(bytes) => Ok(WireAddress::from(*bytes)),
        Address::Solana(_) => Err(EvmError::NotEvmAddress(address.to_string())),
    }
}

pub fn from_wire(address: WireAddress) -> Address {
    Address::Evm(address.into_array())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rialto_core::ChainNamespace;

    #[test]
    fn addresses_convert_both_ways_and_solana_is_refused() {
        let text = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720";
        let domain = Address::parse(text, ChainNamespace::Eip155).unwrap();
        let wire = to_wire(&domain).unwrap();
        assert_eq!(wire.to_checksum(None), text);
        assert_eq!(from_wire(wire), domain);
        let sol =
            Address::parse("11111111111111111111111111111111", ChainNamespace::Solana).unwrap();
        assert!(matches!(to_wire(&sol), Err(EvmError::NotEvmAddress(_))));
    }
}
