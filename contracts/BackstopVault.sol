// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IBackstopVault} from "./interfaces/IBackstopVault.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {ISpotAMM} from "./interfaces/ISpotAMM.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";

/// @title BackstopVault
/// @notice LP capital that takes over positions near bankruptcy (Hyperliquid's liquidator
///         vault). Anyone can call `PerpMarket.backstopTakeover`; the position and its margin
///         land in this vault's (cross-margin) market account.
contract BackstopVault is IBackstopVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;

    bytes32 public constant MANAGER_ROLE = keccak256("MANAGER_ROLE");

    IPerpMarket private immutable _market;
    ISpotAMM private immutable _amm;
    IERC20 private immutable _base;

    constructor(IERC20 asset_, address market_, address amm_, address admin, address manager)
        ERC4626(asset_)
        ERC20("perpsim Backstop Vault", "pBACK")
    {
        _market = IPerpMarket(market_);
        _amm = ISpotAMM(amm_);
        _base = IERC20(ISpotAMM(amm_).baseToken());
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (manager != address(0)) _grantRole(MANAGER_ROLE, manager);
    }

    // ---------------------------------------------------------------------------------------
    // ERC-4626
    // ---------------------------------------------------------------------------------------

    /// @notice Idle collateral + the vault's market equity (floored at 0) + base held at the
    ///         oracle's latest price, in collateral base units, rounded down.
    function totalAssets() public view override returns (uint256) {
        uint256 total = idleAssets();
        int256 eq = _market.equity(address(this));
        if (eq > 0) total += uint256(eq).wadToUnitsDown();
        uint256 baseHeld = _base.balanceOf(address(this));
        if (baseHeld != 0) total += baseHeld.mulWadDown(_market.indexPrice()).wadToUnitsDown();
        return total;
    }

    /// @notice Capped by idle collateral: margin and positions are not withdrawable on demand.
    function maxWithdraw(address owner) public view override returns (uint256) {
        return Math.min(super.maxWithdraw(owner), idleAssets());
    }

    /// @notice Capped by idle collateral, in shares.
    function maxRedeem(address owner) public view override returns (uint256) {
        return Math.min(super.maxRedeem(owner), convertToShares(idleAssets()));
    }

    function deposit(uint256 assets, address receiver) public override nonReentrant returns (uint256) {
        return super.deposit(assets, receiver);
    }

    function mint(uint256 shares, address receiver) public override nonReentrant returns (uint256) {
        return super.mint(shares, receiver);
    }

    function withdraw(uint256 assets, address receiver, address owner) public override nonReentrant returns (uint256) {
        return super.withdraw(assets, receiver, owner);
    }

    function redeem(uint256 shares, address receiver, address owner) public override nonReentrant returns (uint256) {
        return super.redeem(shares, receiver, owner);
    }

    // ---------------------------------------------------------------------------------------
    // Manager
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IBackstopVault
    function depositMargin(uint256 amount) external onlyRole(MANAGER_ROLE) nonReentrant {
        IERC20(asset()).forceApprove(address(_market), amount);
        _market.deposit(amount);
        emit MarginMoved(int256(amount));
    }

    /// @inheritdoc IBackstopVault
    function withdrawMargin(uint256 amount) external onlyRole(MANAGER_ROLE) nonReentrant {
        _market.withdraw(amount);
        emit MarginMoved(-int256(amount));
    }

    /// @inheritdoc IBackstopVault
    function tradePosition(int256 sizeDelta, uint256 acceptablePrice)
        external
        onlyRole(MANAGER_ROLE)
        nonReentrant
        returns (uint256 fillPrice)
    {
        fillPrice = _market.trade(sizeDelta, acceptablePrice);
        emit PositionTraded(sizeDelta, fillPrice);
    }

    /// @inheritdoc IBackstopVault
    function hedgeOnAmm(bool baseIn, uint256 amountIn, uint256 minAmountOut)
        external
        onlyRole(MANAGER_ROLE)
        nonReentrant
        returns (uint256 amountOut)
    {
        IERC20 tokenIn = baseIn ? _base : IERC20(asset());
        tokenIn.forceApprove(address(_amm), amountIn);
        amountOut = _amm.swap(baseIn, amountIn, minAmountOut, address(this));
        emit Hedged(baseIn, amountIn, amountOut);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IBackstopVault
    function idleAssets() public view returns (uint256) {
        return IERC20(asset()).balanceOf(address(this));
    }

    /// @inheritdoc IBackstopVault
    function market() external view returns (address) {
        return address(_market);
    }

    function supportsInterface(bytes4 interfaceId) public view override(AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }
}
