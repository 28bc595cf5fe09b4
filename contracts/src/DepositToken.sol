// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
// Imported so this compilation unit builds OpenZeppelin's proxy verbatim (contracts/build.mjs).
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// @title DepositToken — a permissioned bank deposit token, shaped like J.P. Morgan's JPMD.
/// @notice DEVNET STAND-IN. It is Rialto's own contract, not J.P. Morgan's: JPMD's allow-list
/// functions are not public, so `setAllowed` / `isAllowed` are our names.
/// @dev Upgradeable with UUPS behind an EIP-1967 `ERC1967Proxy` (OpenZeppelin 5.1.0): the
/// upgrade logic lives in the implementation and only UPGRADER_ROLE may call it. 6 decimals,
/// like USDC, so a cent is 10_000 base units. Mints and burns are `Transfer` events from and to
/// the zero address (ERC-20 `_update`). Every balance change needs both ends that are not the
/// zero address on the allow-list, and none happens while paused.
contract DepositToken is Initializable, ERC20Upgradeable, AccessControlUpgradeable, PausableUpgradeable, UUPSUpgradeable {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant BURNER_ROLE = keccak256("BURNER_ROLE");
    bytes32 public constant ALLOWLIST_ADMIN_ROLE = keccak256("ALLOWLIST_ADMIN_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");

    /// @custom:storage-location erc7201:rialto.storage.DepositToken
    struct DepositTokenStorage {
        mapping(address holder => bool) allowed;
    }

    // keccak256(abi.encode(uint256(keccak256("rialto.storage.DepositToken")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x0290debeb6a71cacf5fc5de3a533872c5a9ea391a8e824b921c679f4fda07600;

    error HolderNotAllowed(address holder);

    event AllowlistUpdated(address indexed holder, bool allowed);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        // The bare implementation can never be initialized (and so never taken over).
        _disableInitializers();
    }

    /// @param admin gets DEFAULT_ADMIN_ROLE (grants the other roles) and UPGRADER_ROLE.
    function initialize(string calldata name_, string calldata symbol_, address admin) external initializer {
        __ERC20_init(name_, symbol_);
        __AccessControl_init();
        __Pausable_init();
        __UUPSUpgradeable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
    }

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function isAllowed(address holder) public view returns (bool) {
        return _store().allowed[holder];
    }

    function setAllowed(address holder, bool allowed) external onlyRole(ALLOWLIST_ADMIN_ROLE) {
        _store().allowed[holder] = allowed;
        emit AllowlistUpdated(holder, allowed);
    }

    /// @notice The bank mints to an allow-listed holder (its client paid USD in).
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice The bank burns a holder's tokens on redemption (the holder is paid USD out).
    function burn(address from, uint256 amount) external onlyRole(BURNER_ROLE) {
        _burn(from, amount);
    }

    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @dev The one place every transfer, mint and burn passes through.
    function _update(address from, address to, uint256 value) internal override whenNotPaused {
        if (from != address(0) && !isAllowed(from)) revert HolderNotAllowed(from);
        if (to != address(0) && !isAllowed(to)) revert HolderNotAllowed(to);
        super._update(from, to, value);
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}

    function _store() private pure returns (DepositTokenStorage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
