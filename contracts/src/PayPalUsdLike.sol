// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

/**
 * @title PayPalUsdLike
 * @notice Devnet stand-in for PayPal USD (PYUSD, issued by Paxos). Unlike USDT it
 *         is a standard ERC-20: `transfer` / `transferFrom` / `approve` return
 *         `bool`, `decimals()` returns `uint8` 6.
 *
 *   - Minting: `mint(to, amount)` by the owner (devnet convenience), plus the
 *     Paxos-style `increaseSupply(value)` / `decreaseSupply(value)` that credit /
 *     debit the supply controller (here: the owner).
 *   - Asset protection like Paxos tokens: the owner can `freeze` / `unfreeze` an
 *     address; frozen addresses cannot send, receive or approve.
 *   - `pause` / `unpause` stop transfers and approvals.
 *
 * Not reproduced: Paxos' proxy/upgradeability, EIP-2612 / EIP-3009 signatures,
 * the separate asset-protection and supply-controller roles, and
 * `wipeFrozenAddress`. This is an independent re-implementation for local
 * testing, not Paxos' source code.
 */
contract PayPalUsdLike {
    string public name;
    string public symbol;
    uint8 public constant decimals = 6;

    address public owner;
    bool public paused;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isFrozen;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event SupplyIncreased(address indexed to, uint256 value);
    event SupplyDecreased(address indexed from, uint256 value);
    event AddressFrozen(address indexed addr);
    event AddressUnfrozen(address indexed addr);
    event Pause();
    event Unpause();
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    modifier onlyOwner() {
        require(msg.sender == owner, "PayPalUsdLike: caller is not the owner");
        _;
    }

    modifier whenNotPaused() {
        require(!paused, "PayPalUsdLike: paused");
        _;
    }

    /// @param _name   e.g. "PayPal USD"
    /// @param _symbol e.g. "PYUSD"
    constructor(string memory _name, string memory _symbol) {
        owner = msg.sender;
        name = _name;
        symbol = _symbol;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    // ---------------------------------------------------------------- ERC-20

    function transfer(address to, uint256 value) external whenNotPaused returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external whenNotPaused returns (bool) {
        require(!isFrozen[msg.sender], "PayPalUsdLike: address frozen");
        uint256 current = allowance[from][msg.sender];
        require(current >= value, "PayPalUsdLike: insufficient allowance");
        if (current != type(uint256).max) {
            allowance[from][msg.sender] = current - value;
        }
        _transfer(from, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external whenNotPaused returns (bool) {
        require(!isFrozen[msg.sender] && !isFrozen[spender], "PayPalUsdLike: address frozen");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    // ---------------------------------------------------------------- supply (owner)

    /// @notice Devnet convenience: mint `amount` to `to`.
    function mint(address to, uint256 amount) external onlyOwner returns (bool) {
        require(to != address(0), "PayPalUsdLike: mint to zero address");
        require(!isFrozen[to], "PayPalUsdLike: address frozen");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit SupplyIncreased(to, amount);
        emit Transfer(address(0), to, amount);
        return true;
    }

    /// @notice Paxos-style: mint `value` to the supply controller (the owner).
    function increaseSupply(uint256 value) external onlyOwner returns (bool) {
        totalSupply += value;
        balanceOf[owner] += value;
        emit SupplyIncreased(owner, value);
        emit Transfer(address(0), owner, value);
        return true;
    }

    /// @notice Paxos-style: burn `value` from the supply controller (the owner).
    function decreaseSupply(uint256 value) external onlyOwner returns (bool) {
        require(balanceOf[owner] >= value, "PayPalUsdLike: not enough supply");
        balanceOf[owner] -= value;
        totalSupply -= value;
        emit SupplyDecreased(owner, value);
        emit Transfer(owner, address(0), value);
        return true;
    }

    // ---------------------------------------------------------------- admin

    function freeze(address addr) external onlyOwner {
        isFrozen[addr] = true;
        emit AddressFrozen(addr);
    }

    function unfreeze(address addr) external onlyOwner {
        isFrozen[addr] = false;
        emit AddressUnfrozen(addr);
    }

    function pause() external onlyOwner {
        paused = true;
        emit Pause();
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpause();
    }

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "PayPalUsdLike: zero address");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "PayPalUsdLike: transfer to zero address");
        require(!isFrozen[from] && !isFrozen[to], "PayPalUsdLike: address frozen");
        uint256 bal = balanceOf[from];
        require(bal >= value, "PayPalUsdLike: insufficient balance");
        balanceOf[from] = bal - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
