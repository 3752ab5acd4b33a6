// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IDynamicMarginController} from "./IDynamicMarginController.sol";
import {MarketId} from "./IPerpVenueTypes.sol";

/// @title IVenueMarginController
/// @notice One permissionless controller for every market of a `PerpVenue`: it moves each
///         market's margin scale (`PerpVenue.setMarginScale(market, scale)`, it holds the venue's
///         CONTROLLER_ROLE) with that market's realized volatility and open-interest skew, inside
///         per-market bounds set by its admin (the timelock).
/// @dev One controller, per-market state and parameters (not one controller per market: the
///      venue grants one CONTROLLER_ROLE, and a keeper pokes every market in one call with
///      `pokeMany`). For each market the math is IDynamicMarginController's, unchanged
///      (MarginControlMath): volatility is the EWMA of r²/dt of that market's oracle
///      (`marketState(market).oracle`, read with its staleness check), skew is
///      `|long − short| / (long + short)` of that market's open interest, time-averaged so that
///      one block cannot move it (review F2: the skew of the current block never raises the
///      scale in that block, a manipulated pair of pokes moves the average by at most
///      `maxSkewSampleAge/skewAveragingTime` of the gap). A poke of one market reads and writes
///      only that market's state and scale.
///
///      A market is controlled once its parameters are set (`setParameters`); its state starts
///      then, from its oracle's latest price and its skew at that moment.
interface IVenueMarginController {
    /// @notice `market` has no controller parameters (not controlled).
    error MarketNotControlled(MarketId market);
    /// @notice `market` is not listed at the venue.
    error UnknownVenueMarket(MarketId market);

    /// @notice One poke of `market`: the price seen, annualized volatility, the skew fraction
    ///         now, its time average after this poke, and the new scale (all WAD).
    event Poked(
        MarketId indexed market,
        uint256 price,
        uint256 volatility,
        uint256 skewFraction,
        uint256 skewAverage,
        uint256 scale
    );
    /// @notice `market`'s bounds and sensitivities are now `params` (the first time: it is now controlled).
    event ControllerParametersUpdated(MarketId indexed market, IDynamicMarginController.ControllerParams params);

    /// @notice Observe `market`'s oracle and open interest and move its margin scale; anyone may call.
    /// @return scale The market's margin scale after the poke (WAD).
    function poke(MarketId market) external returns (uint256 scale);

    /// @notice `poke` each of `markets` in order, in one call (the caller sizes the batch).
    function pokeMany(MarketId[] calldata markets) external returns (uint256[] memory scales);

    /// @notice Set `market`'s bounds and sensitivities (validated as IDynamicMarginController's);
    ///         admin (timelock) only. The first call starts the market's state.
    function setParameters(MarketId market, IDynamicMarginController.ControllerParams calldata params) external;

    function parameters(MarketId market) external view returns (IDynamicMarginController.ControllerParams memory);

    /// @notice Markets with parameters, in the order they were first set.
    function controlledMarkets() external view returns (MarketId[] memory);

    /// @notice `market`'s annualized volatility estimate (WAD).
    function volatility(MarketId market) external view returns (uint256);

    /// @notice The scale a poke of `market` would set now, ignoring the interval (WAD).
    function targetScale(MarketId market) external view returns (uint256);

    /// @notice `market`'s time-averaged skew fraction as of its latest poke (WAD).
    function skewAverage(MarketId market) external view returns (uint256);

    function venue() external view returns (address);
}
