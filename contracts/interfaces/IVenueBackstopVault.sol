// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ILockedShareVault} from "./ILockedShareVault.sol";
import {IPerpVenueTypes, MarketId} from "./IPerpVenueTypes.sol";

/// @title IVenueBackstopVault
/// @notice ERC-4626 vault over the venue's collateral whose capital takes over whole cross
///         accounts near bankruptcy (`PerpVenue.backstopTakeover`: every cross position of the
///         account and its collateral land in this vault's venue account). Its share price is
///         what other protocols (e.g. a lending market) hold.
/// @dev totalAssets (collateral base units, each part rounded down) = idle collateral
///      + max(0, the vault's cross equity at the venue: collateral + Σ uPnL − Σ funding owed of
///      its positions at each market's last index) + Σ over markets with a spot AMM of the base
///      tokens held × that market's last index. The share price follows the equity of every
///      position the vault took over, in every market. A negative equity counts as 0 (the
///      venue's bad-debt waterfall, not the LPs' idle cash, answers for it).
///
///      The share lock (F3), the share offset and zero-share refusal (F9) and the idle-collateral
///      cap on withdrawals are ILockedShareVault's. The venue refuses a takeover that would leave
///      this vault's own account below maintenance (F8, `BackstopWouldBeUnderwater`).
///
///      Spot hedging: one constant-product AMM per market id (set by the admin, the timelock),
///      at most MAX_SPOT_MARKETS markets, each AMM's base token used by one market only (so no
///      inventory is counted twice); an AMM is replaced or removed only while the vault holds none
///      of its base token (no inventory drops out of totalAssets).
interface IVenueBackstopVault is ILockedShareVault {
    /// @notice `market` is not listed at the venue.
    error UnknownVenueMarket(MarketId market);
    /// @notice No spot AMM is set for `market`.
    error SpotAmmNotSet(MarketId market);
    /// @notice The AMM trades `collateralToken`, not the vault's asset.
    error SpotAmmWrongCollateral(address amm, address collateralToken);
    /// @notice The AMM's base token is already the spot asset of `market`.
    error SpotBaseTokenInUse(address baseToken, MarketId market);
    /// @notice The vault still holds `baseHeld` (base token units) of `market`'s current AMM.
    error SpotInventoryHeld(MarketId market, uint256 baseHeld);
    /// @notice Already MAX_SPOT_MARKETS markets have a spot AMM.
    error TooManySpotMarkets(uint256 maximum);

    /// @notice The manager moved `amount` (collateral base units) into (+) or out of (−) the
    ///         vault's cross collateral at the venue.
    event MarginMoved(int256 amount);
    /// @notice The manager traded the vault's cross position in `market` (WAD base, WAD price).
    event PositionTraded(MarketId indexed market, int256 sizeDelta, uint256 fillPrice);
    /// @notice The manager swapped on `market`'s spot AMM (`baseIn` sold base; token units).
    event Hedged(MarketId indexed market, bool baseIn, uint256 amountIn, uint256 amountOut);
    /// @notice `market`'s spot AMM is now `amm` (zero: none) trading `baseToken`.
    event SpotAmmSet(MarketId indexed market, address amm, address baseToken);

    /// @notice Move `amount` idle collateral base units into the vault's cross collateral; MANAGER_ROLE.
    function depositMargin(uint256 amount) external;

    /// @notice Move `amount` base units of cross collateral back to idle; MANAGER_ROLE (the venue
    ///         keeps the vault's initial margin while it holds positions).
    function withdrawMargin(uint256 amount) external;

    /// @notice Trade the vault's cross position in `market` by `sizeDelta` (WAD base units;
    ///         `acceptablePrice` WAD, 0 = none); MANAGER_ROLE. Returns the fill (WAD).
    function tradePosition(MarketId market, int256 sizeDelta, uint256 acceptablePrice)
        external
        returns (uint256 fillPrice);

    /// @notice Swap on `market`'s spot AMM (`baseIn` sells base; token units); MANAGER_ROLE.
    function hedgeOnAmm(MarketId market, bool baseIn, uint256 amountIn, uint256 minAmountOut)
        external
        returns (uint256 amountOut);

    /// @notice Set (or, with zero, remove) `market`'s spot AMM; admin (timelock) only.
    function setSpotAmm(MarketId market, address amm) external;

    /// @notice `market`'s spot AMM (zero: none).
    function spotAmm(MarketId market) external view returns (address);

    /// @notice Markets with a spot AMM, in the order they were set (≤ MAX_SPOT_MARKETS).
    function spotMarkets() external view returns (MarketId[] memory);

    /// @notice Base tokens held × each market's last index, collateral base units (rounded down).
    function spotInventoryValue() external view returns (uint256);

    /// @notice The vault's cross equity, maintenance and initial margin at the venue (WAD USD).
    function accountHealth() external view returns (int256 equity, uint256 maintenanceMargin, uint256 initialMargin);

    /// @notice Every open position of the vault at the venue (what it took over and traded).
    function positions() external view returns (IPerpVenueTypes.PositionView[] memory);

    /// @notice The vault's cross collateral at the venue (WAD USD, may be negative).
    function venueCollateral() external view returns (int256);

    function venue() external view returns (address);
}
