// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ILockedShareVault} from "../interfaces/ILockedShareVault.sol";

/// @title LockedShareVault
/// @notice The ERC-4626 share logic both backstop vaults share (see ILockedShareVault): the
///         redeem lock of review F3, the virtual share offset and zero-share refusal of review
///         F9, withdrawals capped by idle collateral, the admin and manager roles, a reentrancy
///         guard on every entry point that moves tokens. A vault adds `totalAssets` (what its
///         book is worth) and its manager's actions.
abstract contract LockedShareVault is ILockedShareVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    bytes32 public constant MANAGER_ROLE = keccak256("MANAGER_ROLE");
    /// @notice Longest `redeemCooldown` governance may set, seconds (30 days).
    uint256 public constant MAX_REDEEM_COOLDOWN = 30 days;
    /// @notice Shares carry `10**DECIMALS_OFFSET` virtual shares per base unit of the asset
    ///         (OpenZeppelin's inflation defence): 6 collateral decimals give 12 share decimals.
    uint8 public constant DECIMALS_OFFSET = 6;

    /// @inheritdoc ILockedShareVault
    uint256 public redeemCooldown;
    mapping(address owner => uint256 timestamp) private _unlockAt;

    /// @param admin DEFAULT_ADMIN_ROLE (the timelock): sets the cooldown and grants roles.
    /// @param manager MANAGER_ROLE (0 = none yet).
    /// @param redeemCooldown_ Seconds a receiver of new shares waits before withdrawing or
    ///        redeeming (see ILockedShareVault); 0 = no lock.
    constructor(
        IERC20 asset_,
        string memory name_,
        string memory symbol_,
        address admin,
        address manager,
        uint256 redeemCooldown_
    ) ERC4626(asset_) ERC20(name_, symbol_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (manager != address(0)) _grantRole(MANAGER_ROLE, manager);
        _setRedeemCooldown(redeemCooldown_);
    }

    // ---------------------------------------------------------------------------------------
    // ERC-4626
    // ---------------------------------------------------------------------------------------

    /// @notice Capped by idle collateral (margin and positions are not withdrawable on demand);
    ///         0 while `owner` is locked.
    function maxWithdraw(address owner) public view override returns (uint256) {
        if (block.timestamp < _unlockAt[owner]) return 0;
        return Math.min(super.maxWithdraw(owner), idleAssets());
    }

    /// @notice Capped by idle collateral, in shares; 0 while `owner` is locked.
    function maxRedeem(address owner) public view override returns (uint256) {
        if (block.timestamp < _unlockAt[owner]) return 0;
        return Math.min(super.maxRedeem(owner), convertToShares(idleAssets()));
    }

    /// @notice Reverts `ZeroSharesMinted` when `assets` buy no share.
    function deposit(uint256 assets, address receiver) public override nonReentrant returns (uint256) {
        if (previewDeposit(assets) == 0) revert ZeroSharesMinted(assets);
        return super.deposit(assets, receiver);
    }

    /// @notice Reverts `ZeroSharesMinted` for `shares == 0`.
    function mint(uint256 shares, address receiver) public override nonReentrant returns (uint256) {
        if (shares == 0) revert ZeroSharesMinted(0);
        return super.mint(shares, receiver);
    }

    /// @notice Reverts `RedeemLocked` while `owner` is locked.
    function withdraw(uint256 assets, address receiver, address owner) public override nonReentrant returns (uint256) {
        _requireUnlocked(owner);
        return super.withdraw(assets, receiver, owner);
    }

    /// @notice Reverts `RedeemLocked` while `owner` is locked.
    function redeem(uint256 shares, address receiver, address owner) public override nonReentrant returns (uint256) {
        _requireUnlocked(owner);
        return super.redeem(shares, receiver, owner);
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return DECIMALS_OFFSET;
    }

    /// @dev Every mint and transfer moves the receiver's unlock time (see ILockedShareVault).
    function _update(address from, address to, uint256 value) internal override {
        if (to != address(0) && value != 0) {
            uint256 incoming = from == address(0) ? block.timestamp + redeemCooldown : _unlockAt[from];
            uint256 unlock = _mergedUnlock(to, value, incoming);
            if (unlock != _unlockAt[to]) {
                _unlockAt[to] = unlock;
                emit Locked(to, unlock);
            }
        }
        super._update(from, to, value);
    }

    /// @dev Share-weighted mean of the remaining lock of `to`'s balance and of the incoming
    ///      `value` shares (rounded up), never earlier than `to`'s current unlock time.
    function _mergedUnlock(address to, uint256 value, uint256 incoming) private view returns (uint256) {
        uint256 current = _unlockAt[to];
        if (incoming <= current || incoming <= block.timestamp) return current;
        uint256 held = balanceOf(to);
        uint256 heldLeft = current > block.timestamp ? current - block.timestamp : 0;
        uint256 mean = Math.mulDiv(heldLeft, held, held + value)
            + Math.mulDiv(incoming - block.timestamp, value, held + value, Math.Rounding.Ceil);
        return Math.max(current, block.timestamp + mean);
    }

    function _requireUnlocked(address owner) private view {
        uint256 unlock = _unlockAt[owner];
        if (block.timestamp < unlock) revert RedeemLocked(owner, unlock);
    }

    // ---------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ILockedShareVault
    function setRedeemCooldown(uint256 seconds_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setRedeemCooldown(seconds_);
    }

    function _setRedeemCooldown(uint256 seconds_) private {
        if (seconds_ > MAX_REDEEM_COOLDOWN) revert InvalidRedeemCooldown(seconds_, MAX_REDEEM_COOLDOWN);
        redeemCooldown = seconds_;
        emit RedeemCooldownUpdated(seconds_);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ILockedShareVault
    function idleAssets() public view returns (uint256) {
        return IERC20(asset()).balanceOf(address(this));
    }

    /// @inheritdoc ILockedShareVault
    function unlockTime(address owner) external view returns (uint256) {
        return _unlockAt[owner];
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
