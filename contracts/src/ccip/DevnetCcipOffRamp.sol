// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

import {IRouter} from "@chainlink/contracts-ccip/contracts/interfaces/IRouter.sol";
import {Client} from "@chainlink/contracts-ccip/contracts/libraries/Client.sol";
import {IERC20} from "@openzeppelin/contracts@4.8.3/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts@4.8.3/token/ERC20/utils/SafeERC20.sol";

/// @notice DEVNET STAND-IN for a CCIP off-ramp and its release pool, one per (destination
/// router, source chain). On a live chain Chainlink's DON commits and executes messages through
/// Chainlink's OffRamp; here Rialto's devnet DON stand-in (an ordinary key, `executor`) hands it
/// each message it read from the source chain's `DevnetCcipOnRamp`. It does what the OffRamp
/// does for a message, in the same order and with the same event: releases the tokens to the
/// receiver from its liquidity, then, when the receiver is a contract and the message carries
/// data or a gas limit, delivers it through Chainlink's `Router.routeMessage` (the router only
/// accepts registered off-ramps), which calls the receiver's `ccipReceive`. A message executes
/// at most once. Nothing here is Chainlink's; the router it calls is.
contract DevnetCcipOffRamp {
    using SafeERC20 for IERC20;

    /// The values of Chainlink's `Internal.MessageExecutionState`.
    enum MessageExecutionState {
        UNTOUCHED,
        IN_PROGRESS,
        SUCCESS,
        FAILURE
    }

    /// Gas the router keeps for its exact-gas check, as Chainlink's OffRamp passes it.
    uint16 public constant GAS_FOR_CALL_EXACT_CHECK = 5_000;

    address public immutable router;
    address public immutable executor;
    uint64 public immutable sourceChainSelector;
    mapping(bytes32 messageId => MessageExecutionState) public executionState;

    error OnlyExecutor();
    error WrongSourceChain(uint64 sourceChainSelector);
    error AlreadyExecuted(bytes32 messageId);
    error ReceiverError(bytes returnData);

    /// Same name and indexed fields as Chainlink's OffRamp event: how a sender learns delivery.
    event ExecutionStateChanged(
        uint64 indexed sourceChainSelector,
        uint64 indexed sequenceNumber,
        bytes32 indexed messageId,
        MessageExecutionState state,
        bytes returnData
    );

    constructor(address router_, uint64 sourceChainSelector_, address executor_) {
        router = router_;
        sourceChainSelector = sourceChainSelector_;
        executor = executor_;
    }

    /// @notice Executes `message` (its `destTokenAmounts` already name this chain's tokens).
    /// A receiver that reverts reverts the whole execution, so nothing is released and the
    /// message stays UNTOUCHED (Chainlink's OffRamp would record FAILURE for manual execution).
    function execute(
        Client.Any2EVMMessage calldata message,
        uint64 sequenceNumber,
        address receiver,
        uint256 gasLimit
    ) external {
        if (msg.sender != executor) revert OnlyExecutor();
        if (message.sourceChainSelector != sourceChainSelector) {
            revert WrongSourceChain(message.sourceChainSelector);
        }
        if (executionState[message.messageId] != MessageExecutionState.UNTOUCHED) {
            revert AlreadyExecuted(message.messageId);
        }
        executionState[message.messageId] = MessageExecutionState.IN_PROGRESS;
        for (uint256 i = 0; i < message.destTokenAmounts.length; ++i) {
            Client.EVMTokenAmount calldata t = message.destTokenAmounts[i];
            IERC20(t.token).safeTransfer(receiver, t.amount);
        }
        bytes memory returnData;
        if ((message.data.length != 0 || gasLimit != 0) && receiver.code.length != 0) {
            bool ok;
            (ok, returnData,) =
                IRouter(router).routeMessage(message, GAS_FOR_CALL_EXACT_CHECK, gasLimit, receiver);
            if (!ok) revert ReceiverError(returnData);
        }
        executionState[message.messageId] = MessageExecutionState.SUCCESS;
        emit ExecutionStateChanged(
            sourceChainSelector, sequenceNumber, message.messageId, MessageExecutionState.SUCCESS, returnData
        );
    }
}

/// @notice DEVNET test receiver: a contract that takes CCIP messages from the router only and
/// records the last one, to show `routeMessage` → `ccipReceive` end to end. Not Chainlink's.
contract DevnetCcipReceiverStandIn {
    address public immutable router;
    bytes32 public lastMessageId;
    bytes public lastData;
    uint256 public received;

    error OnlyRouter();

    constructor(address router_) {
        router = router_;
    }

    function supportsInterface(bytes4 id) external pure returns (bool) {
        // IAny2EVMMessageReceiver and IERC165, as Chainlink's CCIPReceiver answers.
        return id == 0x85572ffb || id == 0x01ffc9a7;
    }

    function ccipReceive(Client.Any2EVMMessage calldata message) external {
        if (msg.sender != router) revert OnlyRouter();
        lastMessageId = message.messageId;
        lastData = message.data;
        received += 1;
    }
}
