// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

/**
 * @title ContractWalletLike
 * @notice Devnet stand-in for a smart-contract wallet (a Safe, a smart account), for tests of
 *         payer proofs: it cannot `personal_sign`, so it answers EIP-1271
 *         `isValidSignature(hash, signature)` with the magic value 0x1626ba7e when its owner
 *         signed `hash` (65 bytes r ‖ s ‖ v), and `0xffffffff` otherwise.
 *
 *   - `execute(targets, data)`: the owner makes the wallet call each target in turn, in one
 *     transaction (a token transfer from the wallet, or several `transferFrom`s of accounts
 *     that approved it: one transaction with transfers from several senders).
 *
 * Not a real wallet: one owner, no nonce, no modules, no replay protection of its own.
 */
contract ContractWalletLike {
    address public immutable owner;

    bytes4 internal constant MAGIC_VALUE = 0x1626ba7e;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (signature.length != 65) {
            return 0xffffffff;
        }
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) {
            v += 27;
        }
        address signer = ecrecover(hash, v, r, s);
        return signer != address(0) && signer == owner ? MAGIC_VALUE : bytes4(0xffffffff);
    }

    function execute(address[] calldata targets, bytes[] calldata data) external {
        require(msg.sender == owner, "not the owner");
        require(targets.length == data.length, "length mismatch");
        for (uint256 i = 0; i < targets.length; i++) {
            (bool ok, bytes memory answer) = targets[i].call(data[i]);
            if (!ok) {
                assembly {
                    revert(add(answer, 32), mload(answer))
                }
            }
        }
    }
}
