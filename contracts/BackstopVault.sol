// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IBackstopVault} from "./interfaces/IBackstopVault.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {ISpotAMM} from "./interfaces/ISpotAMM.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";
import {LockedShareVault} from "./vault/LockedShareVault.sol";

/// @title BackstopVault
/// @notice LP capital that takes over positions near bankruptcy (Hyperliquid's liquidator
///         vault). Anyone can call `PerpMarket.backstopTakeover`; the position and its margin
///         land in this vault's (cross-margin) market account.
/// @dev The share price's two defences (review F3 redeem lock, F9 virtual offset and zero-share
///      refusal), the roles and the reentrancy guard are LockedShareVault's (see
///      ILockedShareVault); this contract adds what its book is worth and the manager's actions
///      on the one market and its spot AMM.
contract BackstopVault is IBackstopVault, LockedShareVault {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;

    IPerpMarket private immutable _market;
    ISpotAMM private immutable _amm;
    IERC20 private immutable _base;

    /// @param redeemCooldown_ Seconds a receiver of new shares waits before withdrawing or
    ///        redeeming (see ILockedShareVault); 0 = no lock.
    constructor(
        IERC20 asset_,
        address market_,
        address amm_,
        address admin,
        address manager,
        uint256 redeemCooldown_
    ) LockedShareVault(asset_, "perpsim Backstop Vault", "pBACK", admin, manager, redeemCooldown_) {
        _market = IPerpMarket(market_);
        _amm = ISpotAMM(amm_);
        _base = IERC20(ISpotAMM(amm_).baseToken());
    }

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
    function market() external view returns (address) {
        return address(_market);
    }
}
