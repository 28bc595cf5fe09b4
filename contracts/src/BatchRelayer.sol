// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

/**
 * @title BatchRelayer
 * @notice Rialto's batch relayer for EIP-3009: submits many signed
 *         `transferWithAuthorization` calls of one token in one transaction. Each item runs in
 *         its own low-level call; an item the token refuses (nonce used, expired, bad
 *         signature, balance short) is SKIPPED and reported, the others still move.
 *
 * Every item emits exactly one event, `ItemRelayed` or `ItemSkipped`, carrying its index,
 * payer and authorization nonce, so the gateway decides per item from the receipt. The gateway
 * does not trust this event alone: a relayed item is also seen in the token's own
 * `AuthorizationUsed(from, nonce)` and `Transfer` logs of the same receipt.
 *
 * Security (why it has no owner and no allow-list):
 *   - It never holds funds. It has no payable, receive or fallback function, and it refuses
 *     an authorization whose payee is this contract, so a token can only move from the payer
 *     to the payee the payer signed. There is nothing in it to steal or to lock.
 *   - Anyone may call it, and that grants nothing: an EIP-3009 `transferWithAuthorization` may
 *     be submitted by anyone holding the signature, and the signature binds payer, payee,
 *     value, window and nonce. Calling through this contract adds no power over the token.
 *   - Griefing: someone who sees a batch in the mempool can submit one of its authorizations
 *     first. That item is then skipped here (nonce used), but the payee was paid by the other
 *     transaction, as it would be without batching; the rest of the batch is unaffected.
 *   - Gas: each item gets at most `gasPerItem`, so one item cannot starve the others; and if
 *     the transaction itself is short of gas for an item, the WHOLE batch reverts
 *     (`InsufficientGas`) rather than report an item skipped that the token would have
 *     accepted. A skip is therefore always the token's own refusal.
 */
contract BatchRelayer {
    struct Authorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)
    bytes4 internal constant TRANSFER_WITH_AUTHORIZATION = 0xe3ee160e;

    /// What an item keeps back for this contract's own bookkeeping after its call (the event
    /// and the loop), so the check before a call is honest about what the call may use.
    uint256 internal constant OVERHEAD = 10_000;

    event ItemRelayed(uint256 indexed index, address indexed from, bytes32 indexed nonce);
    event ItemSkipped(uint256 indexed index, address indexed from, bytes32 indexed nonce, bytes reason);

    error InsufficientGas(uint256 index);
    error NotAContract(address token);

    /// Relays every item to `token`; returns how many moved. Never reverts for an item the
    /// token refuses; reverts only when the transaction itself lacks the gas for an item.
    function relay(address token, uint256 gasPerItem, Authorization[] calldata items)
        external
        returns (uint256 relayed)
    {
        if (token.code.length == 0) {
            revert NotAContract(token);
        }
        for (uint256 i = 0; i < items.length; i++) {
            Authorization calldata a = items[i];
            // EIP-150 passes at most 63/64 of what is left: ask for enough that the call gets
            // its full `gasPerItem`, or give up on the whole batch.
            if (gasleft() < gasPerItem + gasPerItem / 63 + OVERHEAD) {
                revert InsufficientGas(i);
            }
            if (a.to == address(this)) {
                emit ItemSkipped(i, a.from, a.nonce, "payee is the batch relayer");
                continue;
            }
            (bool ok, bytes memory ret) = token.call{gas: gasPerItem}(
                abi.encodeWithSelector(
                    TRANSFER_WITH_AUTHORIZATION,
                    a.from,
                    a.to,
                    a.value,
                    a.validAfter,
                    a.validBefore,
                    a.nonce,
                    a.v,
                    a.r,
                    a.s
                )
            );
            if (ok) {
                relayed++;
                emit ItemRelayed(i, a.from, a.nonce);
            } else {
                emit ItemSkipped(i, a.from, a.nonce, _clip(ret));
            }
        }
    }

    /// A revert reason is the token's and may be long: keep at most 256 bytes of it.
    function _clip(bytes memory ret) private pure returns (bytes memory) {
        if (ret.length <= 256) {
            return ret;
        }
        bytes memory out = new bytes(256);
        for (uint256 i = 0; i < 256; i++) {
            out[i] = ret[i];
        }
        return out;
    }
}
