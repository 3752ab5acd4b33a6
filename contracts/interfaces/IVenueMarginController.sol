// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MarketId} from "./IPerpVenueTypes.sol";

/// @title IVenueMarginController
/// @notice One permissionless controller for every market of a `PerpVenue`: it moves each
///         market's margin scale (`PerpVenue.setMarginScale(market, scale)`, it holds the venue's
///         CONTROLLER_ROLE) with that market's realized volatility and open-interest skew, inside
///         per-market bounds set by its admin (the timelock).
/// @dev One controller, per-market state and parameters (not one controller per market: the
///      venue grants one CONTROLLER_ROLE, and a keeper pokes every market in one call with
///      `pokeMany`). A poke of one market reads and writes only that market's state and scale;
///      the math is MarginControlMath's:
///
///      Volatility: on a `poke` of a market at least `minInterval` seconds after its last
///      observation it reads that market's oracle (`marketState(market).oracle`, with its
///      staleness check), takes the simple return r since that observation over dt seconds, and
///      updates an EWMA of the variance rate: `var = (1 − w)·var + w·r²/dt`. Annualized
///      volatility `vol = sqrt(var · 365 days)`.
///
///      Skew, time-averaged so that one block cannot move it (review F2: open a large one-sided
///      position, poke, liquidate a healthy account, close, all in one block). Each poke reads
///      the market's skew fraction `s = |long − short| / (long + short)` (WAD) and keeps it as
///      the sample. With dt seconds since the previous poke's sample `s_prev`, the average first
///      moves toward `h = min(s_prev, s)` — a skew counts only if it was there at both ends of
///      the interval — by the share `min(dt, maxSkewSampleAge) / skewAveragingTime` of the gap:
///      `avg += (h − avg)·min(dt, maxSkewSampleAge)/skewAveragingTime` (dt = 0: unchanged).
///      So the skew of the current block never raises the scale in that block (it is only
///      `s_prev`'s partner at a later poke), one manipulated pair of pokes moves the average by
///      at most `maxSkewSampleAge/skewAveragingTime` of the gap, and a sustained skew s brings
///      it to s with time constant `skewAveragingTime` (pokes every dt <= maxSkewSampleAge:
///      `1 − (1 − dt/T)^n` of the way after n pokes).
///
///      `scale = clamp(1 + volSensitivity·max(0, vol/targetVolatility − 1)
///                       + skewSensitivity·avg, minScale, maxScale)`.
///
///      A market is controlled once its parameters are set (`setParameters`); its state starts
///      then, from its oracle's latest price and its skew at that moment.
interface IVenueMarginController {
    /// @notice One market's bounds and sensitivities.
    struct ControllerParams {
        /// @dev Lowest scale the controller may set, WAD.
        uint256 minScale;
        /// @dev Highest scale the controller may set, WAD.
        uint256 maxScale;
        /// @dev Annualized volatility above which margins rise, WAD (0.8e18 = 80%).
        uint256 targetVolatility;
        /// @dev Scale added per unit of relative excess volatility, WAD.
        uint256 volatilitySensitivity;
        /// @dev Scale added at a fully one-sided book, WAD.
        uint256 skewSensitivity;
        /// @dev EWMA weight of the newest observation, WAD (0 < w <= 1).
        uint256 ewmaWeight;
        /// @dev Minimum seconds between two volatility observations.
        uint256 minInterval;
        /// @dev Time constant of the skew average, seconds (> 0).
        uint256 skewAveragingTime;
        /// @dev Most seconds one skew sample counts for in the average (0 < it <= skewAveragingTime).
        uint256 maxSkewSampleAge;
    }

    /// @notice A parameter failed validation.
    error InvalidControllerParameter(bytes32 name, uint256 value);
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
    event ControllerParametersUpdated(MarketId indexed market, ControllerParams params);

    /// @notice Observe `market`'s oracle and open interest and move its margin scale; anyone may call.
    /// @return scale The market's margin scale after the poke (WAD).
    function poke(MarketId market) external returns (uint256 scale);

    /// @notice `poke` each of `markets` in order, in one call (the caller sizes the batch).
    function pokeMany(MarketId[] calldata markets) external returns (uint256[] memory scales);

    /// @notice Set `market`'s bounds and sensitivities (validated by MarginControlMath);
    ///         admin (timelock) only. The first call starts the market's state.
    function setParameters(MarketId market, ControllerParams calldata params) external;

    function parameters(MarketId market) external view returns (ControllerParams memory);

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
