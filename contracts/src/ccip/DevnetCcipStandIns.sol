// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

// Imported so this compilation unit builds Chainlink's Router verbatim (contracts/build.mjs).
import {Router} from "@chainlink/contracts-ccip/contracts/Router.sol";
import {IEVM2AnyOnRampClient} from "@chainlink/contracts-ccip/contracts/interfaces/IEVM2AnyOnRampClient.sol";
import {IPoolV1} from "@chainlink/contracts-ccip/contracts/interfaces/IPool.sol";
import {Client} from "@chainlink/contracts-ccip/contracts/libraries/Client.sol";
import {IERC20} from "@openzeppelin/contracts@4.8.3/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts@4.8.3/token/ERC20/utils/SafeERC20.sol";

// What sits behind Chainlink's real CCIP `Router` (compiled verbatim from
// @chainlink/contracts-ccip) on the devnet. On a live chain the router's on-ramp, token pools
// and Risk Management Network are Chainlink's and a DON carries messages between chains; none
// of that can run here, so these two contracts stand in for them and say so in their names.
// The router itself, and so everything the gateway calls (`getFee`, `ccipSend`), is Chainlink's.

/// @notice DEVNET STAND-IN for Chainlink's RMN: the router asks it `isCursed()` before every
/// send. Never cursed unless its owner says so (to test the router's refusal).
contract DevnetRmnStandIn {
    address public immutable owner;
    bool public cursed;

    constructor() {
        owner = msg.sender;
    }

    function setCursed(bool value) external {
        require(msg.sender == owner, "DevnetRmnStandIn: not owner");
        cursed = value;
    }

    function isCursed() external view returns (bool) {
        return cursed;
    }
}

/// @notice DEVNET STAND-IN for a CCIP on-ramp and its lock pools, one per (router, destination).
/// It quotes a flat fee per fee token, locks the tokens the router hands it, and records each
/// message in `DevnetCcipSendRequested` for Rialto's devnet relayer (the stand-in for the DON),
/// which delivers it through the destination chain's router (`routeMessage`, as an off-ramp
/// registered there) and releases or mints the tokens. Nothing here is Chainlink's.
contract DevnetCcipOnRamp is IEVM2AnyOnRampClient {
    using SafeERC20 for IERC20;

    address public immutable router;
    address public immutable owner;
    uint64 public immutable destChainSelector;
    uint64 public sequenceNumber;
    mapping(address feeToken => uint256) public flatFee;
    mapping(address token => bool) public isSupportedToken;
    address[] private s_tokens;

    error OnlyRouter();
    error OnlyOwner();
    error UnsupportedDestination(uint64 destChainSelector);
    error NotAFeeToken(address feeToken);
    error UnsupportedToken(address token);

    event DevnetCcipSendRequested(
        bytes32 indexed messageId,
        uint64 indexed destChainSelector,
        uint64 sequenceNumber,
        address originalSender,
        Client.EVM2AnyMessage message,
        uint256 feeTokenAmount
    );

    constructor(address router_, uint64 destChainSelector_) {
        router = router_;
        owner = msg.sender;
        destChainSelector = destChainSelector_;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert OnlyOwner();
        _;
    }

    function setFee(address feeToken, uint256 amount) external onlyOwner {
        flatFee[feeToken] = amount;
    }

    function addToken(address token) external onlyOwner {
        if (!isSupportedToken[token]) {
            isSupportedToken[token] = true;
            s_tokens.push(token);
        }
    }

    /// @notice The relayer moves locked tokens out (burn by the token's burner, or liquidity).
    function withdrawLocked(address token, address to, uint256 amount) external onlyOwner {
        IERC20(token).safeTransfer(to, amount);
    }

    function getFee(uint64 destSelector, Client.EVM2AnyMessage calldata message) external view returns (uint256) {
        if (destSelector != destChainSelector) revert UnsupportedDestination(destSelector);
        uint256 fee = flatFee[message.feeToken];
        if (fee == 0) revert NotAFeeToken(message.feeToken);
        return fee;
    }

    function getPoolBySourceToken(uint64 destSelector, IERC20 sourceToken) external view returns (IPoolV1) {
        if (destSelector != destChainSelector) revert UnsupportedDestination(destSelector);
        if (!isSupportedToken[address(sourceToken)]) revert UnsupportedToken(address(sourceToken));
        // The router transfers the message's tokens here: this contract is also the lock pool.
        return IPoolV1(address(this));
    }

    function getSupportedTokens(uint64) external view returns (address[] memory) {
        return s_tokens;
    }

    function forwardFromRouter(
        uint64 destSelector,
        Client.EVM2AnyMessage memory message,
        uint256 feeTokenAmount,
        address originalSender
    ) external returns (bytes32 messageId) {
        if (msg.sender != router) revert OnlyRouter();
        if (destSelector != destChainSelector) revert UnsupportedDestination(destSelector);
        uint64 seq = ++sequenceNumber;
        messageId = keccak256(abi.encode(block.chainid, destSelector, seq, originalSender, message));
        emit DevnetCcipSendRequested(messageId, destSelector, seq, originalSender, message, feeTokenAmount);
    }
}
