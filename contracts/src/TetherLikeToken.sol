// SPDX-License-Identifier: MIT
pragma solidity 0.8.24;

/**
 * @title TetherLikeToken
 * @notice Devnet stand-in for Tether USD (USDT, Ethereum mainnet
 *         0xdAC17F958D2ee523a2206206994597C13D831ec7). It reproduces the parts of
 *         TetherToken's *observable* behaviour that break naive ERC-20 clients:
 *
 *   - `transfer`, `transferFrom` and `approve` return NOTHING (no `bool`), so a
 *     caller that ABI-decodes a `bool` return value reverts / errors. Clients must
 *     treat empty returndata as success (the "SafeERC20" pattern).
 *   - `approve` to a non-zero value reverts while the current allowance is
 *     non-zero (set it to 0 first), like USDT.
 *   - `decimals` is a `uint256` public variable (USDT declares `uint public decimals`),
 *     set at construction (6 on mainnet).
 *   - Minting is `issue(amount)` by the owner, credited to the owner; burning is
 *     `redeem(amount)` from the owner's balance.
 *   - An allowance of type(uint256).max is never decreased by `transferFrom`.
 *   - Optional transfer fee (`setParams`), 0 by default; when non-zero the fee is
 *     paid to the owner, so the recipient receives less than `value`.
 *   - Owner blacklist (`addBlackList` / `removeBlackList` / `destroyBlackFunds`)
 *     and `pause` / `unpause`.
 *
 * Not reproduced: the upgrade/deprecation forwarding to an `UpgradedStandardToken`
 * and the `onlyPayloadSize` short-address check. This is an independent
 * re-implementation for local testing, not Tether's source code.
 */
contract TetherLikeToken {
    string public name;
    string public symbol;
    uint256 public decimals;

    address public owner;
    bool public paused;

    uint256 private _totalSupply;
    mapping(address => uint256) private _balances;
    mapping(address => mapping(address => uint256)) private _allowed;
    mapping(address => bool) public isBlackListed;

    uint256 public basisPointsRate;
    uint256 public maximumFee;

    uint256 private constant MAX_UINT = type(uint256).max;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Issue(uint256 amount);
    event Redeem(uint256 amount);
    event Params(uint256 feeBasisPoints, uint256 maxFee);
    event AddedBlackList(address user);
    event RemovedBlackList(address user);
    event DestroyedBlackFunds(address blackListedUser, uint256 balance);
    event Pause();
    event Unpause();
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    modifier onlyOwner() {
        require(msg.sender == owner, "TetherLike: caller is not the owner");
        _;
    }

    modifier whenNotPaused() {
        require(!paused, "TetherLike: paused");
        _;
    }

    /// @param _initialSupply minted to the deployer (owner)
    /// @param _name   e.g. "Tether USD"
    /// @param _symbol e.g. "USDT"
    /// @param _decimals 6 to match mainnet USDT
    constructor(uint256 _initialSupply, string memory _name, string memory _symbol, uint256 _decimals) {
        owner = msg.sender;
        name = _name;
        symbol = _symbol;
        decimals = _decimals;
        _totalSupply = _initialSupply;
        _balances[msg.sender] = _initialSupply;
        emit OwnershipTransferred(address(0), msg.sender);
        if (_initialSupply > 0) {
            emit Transfer(address(0), msg.sender, _initialSupply);
        }
    }

    // ---------------------------------------------------------------- ERC-20 (non-standard)

    function totalSupply() public view returns (uint256) {
        return _totalSupply;
    }

    function balanceOf(address who) public view returns (uint256) {
        return _balances[who];
    }

    function allowance(address _owner, address spender) public view returns (uint256) {
        return _allowed[_owner][spender];
    }

    /// @notice NOTE: no return value, exactly like USDT.
    function transfer(address _to, uint256 _value) public whenNotPaused {
        require(!isBlackListed[msg.sender], "TetherLike: sender blacklisted");
        uint256 fee = _fee(_value);
        uint256 sendAmount = _value - fee;
        _balances[msg.sender] -= _value; // reverts on underflow
        _balances[_to] += sendAmount;
        if (fee > 0) {
            _balances[owner] += fee;
            emit Transfer(msg.sender, owner, fee);
        }
        emit Transfer(msg.sender, _to, sendAmount);
    }

    /// @notice NOTE: no return value, exactly like USDT.
    function transferFrom(address _from, address _to, uint256 _value) public whenNotPaused {
        require(!isBlackListed[_from], "TetherLike: from blacklisted");
        uint256 _allowance = _allowed[_from][msg.sender];
        require(_allowance >= _value, "TetherLike: insufficient allowance");
        uint256 fee = _fee(_value);
        if (_allowance < MAX_UINT) {
            _allowed[_from][msg.sender] = _allowance - _value;
        }
        uint256 sendAmount = _value - fee;
        _balances[_from] -= _value;
        _balances[_to] += sendAmount;
        if (fee > 0) {
            _balances[owner] += fee;
            emit Transfer(_from, owner, fee);
        }
        emit Transfer(_from, _to, sendAmount);
    }

    /// @notice NOTE: no return value, and changing a non-zero allowance to another
    ///         non-zero value reverts (approve 0 first), exactly like USDT.
    function approve(address _spender, uint256 _value) public {
        require(!((_value != 0) && (_allowed[msg.sender][_spender] != 0)), "TetherLike: reset allowance to 0 first");
        _allowed[msg.sender][_spender] = _value;
        emit Approval(msg.sender, _spender, _value);
    }

    // ---------------------------------------------------------------- supply (owner)

    /// @notice Mint `amount` to the owner.
    function issue(uint256 amount) public onlyOwner {
        _balances[owner] += amount;
        _totalSupply += amount;
        emit Issue(amount);
        emit Transfer(address(0), owner, amount);
    }

    /// @notice Burn `amount` from the owner's balance.
    function redeem(uint256 amount) public onlyOwner {
        require(_balances[owner] >= amount, "TetherLike: redeem exceeds owner balance");
        _balances[owner] -= amount;
        _totalSupply -= amount;
        emit Redeem(amount);
        emit Transfer(owner, address(0), amount);
    }

    /// @notice Same caps as USDT: < 20 basis points, max fee < 50 whole tokens.
    function setParams(uint256 newBasisPoints, uint256 newMaxFee) public onlyOwner {
        require(newBasisPoints < 20, "TetherLike: fee too high");
        require(newMaxFee < 50, "TetherLike: max fee too high");
        basisPointsRate = newBasisPoints;
        maximumFee = newMaxFee * (10 ** decimals);
        emit Params(basisPointsRate, maximumFee);
    }

    // ---------------------------------------------------------------- admin

    function transferOwnership(address newOwner) public onlyOwner {
        if (newOwner != address(0)) {
            emit OwnershipTransferred(owner, newOwner);
            owner = newOwner;
        }
    }

    function pause() public onlyOwner {
        paused = true;
        emit Pause();
    }

    function unpause() public onlyOwner {
        paused = false;
        emit Unpause();
    }

    function getBlackListStatus(address _maker) external view returns (bool) {
        return isBlackListed[_maker];
    }

    function addBlackList(address _evilUser) public onlyOwner {
        isBlackListed[_evilUser] = true;
        emit AddedBlackList(_evilUser);
    }

    function removeBlackList(address _clearedUser) public onlyOwner {
        isBlackListed[_clearedUser] = false;
        emit RemovedBlackList(_clearedUser);
    }

    function destroyBlackFunds(address _blackListedUser) public onlyOwner {
        require(isBlackListed[_blackListedUser], "TetherLike: not blacklisted");
        uint256 dirtyFunds = _balances[_blackListedUser];
        _balances[_blackListedUser] = 0;
        _totalSupply -= dirtyFunds;
        emit DestroyedBlackFunds(_blackListedUser, dirtyFunds);
        emit Transfer(_blackListedUser, address(0), dirtyFunds);
    }

    function _fee(uint256 _value) private view returns (uint256 fee) {
        fee = (_value * basisPointsRate) / 10000;
        if (fee > maximumFee) {
            fee = maximumFee;
        }
    }
}
