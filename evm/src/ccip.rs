//! Chainlink CCIP's client-facing router interface (`IRouterClient`, `Client` library of
//! `@chainlink/contracts-ccip` 1.6.2) and the admin calls the devnet deploy needs. The gateway
//! speaks to the devnet's router exactly as to a live one: `getFee`, then `ccipSend` with an
//! `EVM2AnyMessage`. On the devnet the router forwards to `DevnetCcipOnRamp`, a stand-in whose
//! `DevnetCcipSendRequested` event the devnet relayer (the DON's stand-in) carries across.

use alloy::primitives::{Address as WireAddress, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol;
use alloy::sol_types::SolValue;
use rialto_core::Address;

use crate::contracts::to_wire;
use crate::EvmError;

sol! {
    library Client {
        struct EVMTokenAmount {
            address token;
            uint256 amount;
        }
        struct Any2EVMMessage {
            bytes32 messageId;
            uint64 sourceChainSelector;
            bytes sender;
            bytes data;
            EVMTokenAmount[] destTokenAmounts;
        }
        struct EVM2AnyMessage {
            bytes receiver;
            bytes data;
            EVMTokenAmount[] tokenAmounts;
            address feeToken;
            bytes extraArgs;
        }
    }

    /// Chainlink's `IRouterClient` plus the owner's ramp configuration of `Router`.
    #[sol(rpc)]
    interface ICcipRouter {
        struct OnRamp {
            uint64 destChainSelector;
            address onRamp;
        }
        struct OffRamp {
            uint64 sourceChainSelector;
            address offRamp;
        }
        error UnsupportedDestinationChain(uint64 destChainSelector);
        error InsufficientFeeTokenAmount();
        error BadARMSignal();

        function isChainSupported(uint64 destChainSelector) external view returns (bool supported);
        function getFee(uint64 destinationChainSelector, Client.EVM2AnyMessage message) external view returns (uint256 fee);
        function ccipSend(uint64 destinationChainSelector, Client.EVM2AnyMessage message) external payable returns (bytes32);
        function getOnRamp(uint64 destChainSelector) external view returns (address);
        function isOffRamp(uint64 sourceChainSelector, address offRamp) external view returns (bool);
        function applyRampUpdates(OnRamp[] onRampUpdates, OffRamp[] offRampRemoves, OffRamp[] offRampAdds) external;
        function typeAndVersion() external view returns (string);
    }

    /// The devnet stand-in behind the router (`contracts/src/ccip/DevnetCcipStandIns.sol`).
    #[sol(rpc)]
    interface IDevnetCcipOnRamp {
        event DevnetCcipSendRequested(bytes32 indexed messageId, uint64 indexed destChainSelector, uint64 sequenceNumber, address originalSender, Client.EVM2AnyMessage message, uint256 feeTokenAmount);
        function setFee(address feeToken, uint256 amount) external;
        function addToken(address token) external;
        function sequenceNumber() external view returns (uint64);
    }

    /// The devnet stand-in off-ramp (`contracts/src/ccip/DevnetCcipOffRamp.sol`). Its event has
    /// the name and indexed fields of Chainlink's OffRamp `ExecutionStateChanged`.
    #[sol(rpc)]
    interface IDevnetCcipOffRamp {
        event ExecutionStateChanged(uint64 indexed sourceChainSelector, uint64 indexed sequenceNumber, bytes32 indexed messageId, uint8 state, bytes returnData);
        error AlreadyExecuted(bytes32 messageId);
        error ReceiverError(bytes returnData);
        function executionState(bytes32 messageId) external view returns (uint8);
        function execute(Client.Any2EVMMessage message, uint64 sequenceNumber, address receiver, uint256 gasLimit) external;
    }

    /// The devnet test receiver (`DevnetCcipReceiverStandIn`).
    #[sol(rpc)]
    interface IDevnetCcipReceiver {
        function lastMessageId() external view returns (bytes32);
        function lastData() external view returns (bytes);
        function received() external view returns (uint256);
    }
}

/// `Internal.MessageExecutionState.SUCCESS`.
pub const EXECUTION_SUCCESS: u8 = 2;

/// The gas limit an `EVM2AnyMessage` asks for: `EVMExtraArgsV1` (tag `0x97a657c9`), or CCIP's
/// default of 200,000 when `extraArgs` is empty. `None` for any other encoding.
pub fn gas_limit_of(extra_args: &[u8]) -> Option<U256> {
    if extra_args.is_empty() {
        return Some(U256::from(200_000u64));
    }
    let (tag, rest) = extra_args.split_at_checked(4)?;
    if tag != [0x97, 0xa6, 0x57, 0xc9] || rest.len() < 32 {
        return None;
    }
    Some(U256::from_be_slice(&rest[..32]))
}

/// The EVM receiver of an `EVM2AnyMessage` (`abi.encode(address)`), if it is one.
pub fn evm_receiver(receiver: &[u8]) -> Option<WireAddress> {
    if receiver.len() != 32 || receiver[..12].iter().any(|b| *b != 0) {
        return None;
    }
    Some(WireAddress::from_slice(&receiver[12..]))
}

/// `Client._argsToBytes(EVMExtraArgsV1{gasLimit})`: tag `0x97a657c9` and the gas limit. A
/// token-only transfer to an account sends gas limit 0 (no `ccipReceive` call).
pub fn evm_extra_args_v1(gas_limit: u64) -> Bytes {
    let mut out = vec![0x97, 0xa6, 0x57, 0xc9];
    out.extend_from_slice(&U256::from(gas_limit).abi_encode());
    out.into()
}

/// A token transfer to `receiver` on another EVM chain, paying the fee in native gas
/// (`feeToken` zero: the router wraps it).
pub fn token_transfer_message(
    receiver: &Address,
    token: &Address,
    amount: U256,
) -> Result<Client::EVM2AnyMessage, EvmError> {
    Ok(Client::EVM2AnyMessage {
        receiver: to_wire(receiver)?.abi_encode().into(),
        data: Bytes::new(),
        tokenAmounts: vec![Client::EVMTokenAmount {
            token: to_wire(token)?,
            amount,
        }],
        feeToken: WireAddress::ZERO,
        extraArgs: evm_extra_args_v1(0),
    })
}

/// The router's fee quote for `message` to `dest_selector`, in wei when `feeToken` is zero.
pub async fn get_fee<P: Provider>(
    provider: &P,
    router: &Address,
    dest_selector: u64,
    message: Client::EVM2AnyMessage,
) -> Result<U256, EvmError> {
    let router = ICcipRouter::new(to_wire(router)?, provider);
    Ok(router.getFee(dest_selector, message).call().await?)
}
