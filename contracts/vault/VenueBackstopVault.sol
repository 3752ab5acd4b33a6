// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IPerpVenue} from "../interfaces/IPerpVenue.sol";
import {IPerpVenueTypes, MarketId} from "../interfaces/IPerpVenueTypes.sol";
import {ISpotAMM} from "../interfaces/ISpotAMM.sol";
import {IVenueBackstopVault} from "../interfaces/IVenueBackstopVault.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {LockedShareVault} from "./LockedShareVault.sol";

/// @title VenueBackstopVault
/// @notice The multi-market venue's backstop vault (Hyperliquid's liquidator vault): LP capital
///         that takes over whole cross accounts, with a manager who may move margin, trade any
///         market and hedge on each market's spot AMM. See IVenueBackstopVault.
/// @dev Share logic (F3 lock, F9 offset and zero-share refusal, roles, guard) is LockedShareVault's.
contract VenueBackstopVault is IVenueBackstopVault, LockedShareVault {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;

    /// @notice Most markets with a spot AMM: bounds the loop of `totalAssets`.
    uint256 public constant MAX_SPOT_MARKETS = 16;

    IPerpVenue private immutable _venue;
    mapping(MarketId market => ISpotAMM amm) private _amms;
    /// @dev Markets with an AMM, each once, in the order they were set.
    MarketId[] private _spotMarkets;

    /// @param venue_ The PerpVenue whose `backstopVault` this vault is.
    /// @param redeemCooldown_ Seconds a receiver of new shares waits before withdrawing or
    ///        redeeming (see ILockedShareVault); 0 = no lock.
    constructor(IERC20 asset_, address venue_, address admin, address manager, uint256 redeemCooldown_)
        LockedShareVault(asset_, "perpsim Venue Backstop Vault", "pVBACK", admin, manager, redeemCooldown_)
    {
        _venue = IPerpVenue(venue_);
    }

    /// @notice Idle collateral + max(0, cross equity at the venue) + spot inventory at each
    ///         market's last index, collateral base units (each part rounded down).
    function totalAssets() public view override returns (uint256) {
        uint256 total = idleAssets() + spotInventoryValue();
        (int256 eq,,) = _venue.accountHealth(address(this));
        if (eq > 0) total += uint256(eq).wadToUnitsDown();
        return total;
    }

    // ---------------------------------------------------------------------------------------
    // Manager
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IVenueBackstopVault
    function depositMargin(uint256 amount) external onlyRole(MANAGER_ROLE) nonReentrant {
        IERC20(asset()).forceApprove(address(_venue), amount);
        _venue.deposit(amount);
        emit MarginMoved(int256(amount));
    }

    /// @inheritdoc IVenueBackstopVault
    function withdrawMargin(uint256 amount) external onlyRole(MANAGER_ROLE) nonReentrant {
        _venue.withdraw(amount);
        emit MarginMoved(-int256(amount));
    }

    /// @inheritdoc IVenueBackstopVault
    function tradePosition(MarketId market, int256 sizeDelta, uint256 acceptablePrice)
        external
        onlyRole(MANAGER_ROLE)
        nonReentrant
        returns (uint256 fillPrice)
    {
        fillPrice = _venue.trade(market, sizeDelta, acceptablePrice);
        emit PositionTraded(market, sizeDelta, fillPrice);
    }

    /// @inheritdoc IVenueBackstopVault
    function hedgeOnAmm(MarketId market, bool baseIn, uint256 amountIn, uint256 minAmountOut)
        external
        onlyRole(MANAGER_ROLE)
        nonReentrant
        returns (uint256 amountOut)
    {
        ISpotAMM amm = _amms[market];
        if (address(amm) == address(0)) revert SpotAmmNotSet(market);
        IERC20 tokenIn = baseIn ? IERC20(amm.baseToken()) : IERC20(asset());
        tokenIn.forceApprove(address(amm), amountIn);
        amountOut = amm.swap(baseIn, amountIn, minAmountOut, address(this));
        emit Hedged(market, baseIn, amountIn, amountOut);
    }

    // ---------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IVenueBackstopVault
    function setSpotAmm(MarketId market, address amm) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 id = MarketId.unwrap(market);
        if (id == 0 || id > _venue.marketCount()) revert UnknownVenueMarket(market);
        ISpotAMM current = _amms[market];
        if (address(current) != address(0)) {
            uint256 held = IERC20(current.baseToken()).balanceOf(address(this));
            if (held != 0) revert SpotInventoryHeld(market, held);
        }
        address base = address(0);
        if (amm != address(0)) {
            address quote = ISpotAMM(amm).collateralToken();
            if (quote != asset()) revert SpotAmmWrongCollateral(amm, quote);
            base = ISpotAMM(amm).baseToken();
            _requireBaseUnused(market, base);
        }
        _amms[market] = ISpotAMM(amm);
        _updateSpotMarkets(market, amm != address(0), address(current) != address(0));
        emit SpotAmmSet(market, amm, base);
    }

    /// @dev Refuses a base token another market's AMM already trades.
    function _requireBaseUnused(MarketId market, address base) private view {
        uint256 n = _spotMarkets.length;
        for (uint256 i = 0; i < n; ++i) {
            MarketId other = _spotMarkets[i];
            if (MarketId.unwrap(other) != MarketId.unwrap(market) && _amms[other].baseToken() == base) {
                revert SpotBaseTokenInUse(base, other);
            }
        }
    }

    /// @dev Adds `market` to the list when it gets its first AMM, removes it when its AMM goes.
    function _updateSpotMarkets(MarketId market, bool hasNow, bool hadBefore) private {
        if (hasNow == hadBefore) return;
        if (hasNow) {
            if (_spotMarkets.length >= MAX_SPOT_MARKETS) revert TooManySpotMarkets(MAX_SPOT_MARKETS);
            _spotMarkets.push(market);
            return;
        }
        uint256 n = _spotMarkets.length;
        for (uint256 i = 0; i < n; ++i) {
            if (MarketId.unwrap(_spotMarkets[i]) == MarketId.unwrap(market)) {
                _spotMarkets[i] = _spotMarkets[n - 1];
                _spotMarkets.pop();
                return;
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IVenueBackstopVault
    function spotInventoryValue() public view returns (uint256 total) {
        uint256 n = _spotMarkets.length;
        for (uint256 i = 0; i < n; ++i) {
            MarketId market = _spotMarkets[i];
            uint256 held = IERC20(_amms[market].baseToken()).balanceOf(address(this));
            if (held != 0) total += held.mulWadDown(_venue.marketState(market).indexPrice).wadToUnitsDown();
        }
    }

    /// @inheritdoc IVenueBackstopVault
    function spotAmm(MarketId market) external view returns (address) {
        return address(_amms[market]);
    }

    /// @inheritdoc IVenueBackstopVault
    function spotMarkets() external view returns (MarketId[] memory) {
        return _spotMarkets;
    }

    /// @inheritdoc IVenueBackstopVault
    function accountHealth() external view returns (int256 equity, uint256 maintenanceMargin, uint256 initialMargin) {
        return _venue.accountHealth(address(this));
    }

    /// @inheritdoc IVenueBackstopVault
    function positions() external view returns (IPerpVenueTypes.PositionView[] memory) {
        return _venue.positionsOf(address(this));
    }

    /// @inheritdoc IVenueBackstopVault
    function venueCollateral() external view returns (int256) {
        return _venue.collateralOf(address(this));
    }

    /// @inheritdoc IVenueBackstopVault
    function venue() external view returns (address) {
        return address(_venue);
    }
}
