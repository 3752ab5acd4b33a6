// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IDynamicMarginController
/// @notice Permissionless on-chain controller that moves a market's margin scale (a WAD
///         multiplier of every margin fraction) with realized volatility and open-interest
///         skew, inside bounds set by governance (the timelock).
/// @dev Volatility: on a `poke` at least `minInterval` seconds after the last observation it
///      reads the oracle price, takes the simple return r since that observation over dt
///      seconds, and updates an EWMA of the variance rate: `var = (1 − w)·var + w·r²/dt`.
///      Annualized volatility `vol = sqrt(var · 365 days)`.
///
///      Skew, time-averaged so that one block cannot move it (review F2: open a large one-sided
///      position, poke, liquidate a healthy account, close, all in one block). Each poke reads
///      the skew fraction `s = |long − short| / (long + short)` (WAD) and keeps it as the sample.
///      With dt seconds since the previous poke's sample `s_prev`, the average first moves
///      toward `h = min(s_prev, s)` — a skew counts only if it was there at both ends of the
///      interval — by the share `min(dt, maxSkewSampleAge) / skewAveragingTime` of the gap:
///      `avg += (h − avg)·min(dt, maxSkewSampleAge)/skewAveragingTime` (dt = 0: unchanged).
///      So the skew of the current block never raises the scale in that block (it is only
///      `s_prev`'s partner at a later poke), one manipulated pair of pokes moves the average by
///      at most `maxSkewSampleAge/skewAveragingTime` of the gap, and a sustained skew s brings
///      it to s with time constant `skewAveragingTime` (pokes every dt <= maxSkewSampleAge:
///      `1 − (1 − dt/T)^n` of the way after n pokes).
///
///      `scale = clamp(1 + volSensitivity·max(0, vol/targetVolatility − 1)
///                       + skewSensitivity·avg, minScale, maxScale)`.
interface IDynamicMarginController {
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

    /// @notice One poke: the price seen, annualized volatility, the skew fraction now, its time
    ///         average after this poke, and the new scale (all WAD).
    event Poked(uint256 price, uint256 volatility, uint256 skewFraction, uint256 skewAverage, uint256 scale);
    event ControllerParametersUpdated(ControllerParams params);

    /// @notice Observe the oracle and move the market's margin scale; anyone may call.
    /// @return scale The market's margin scale after the poke (WAD).
    function poke() external returns (uint256 scale);

    /// @notice Replace the bounds and sensitivities; admin (timelock) only.
    function setParameters(ControllerParams calldata params) external;

    function parameters() external view returns (ControllerParams memory);

    /// @notice Current annualized volatility estimate (WAD).
    function volatility() external view returns (uint256);

    /// @notice The scale a poke would set now, ignoring the interval (WAD).
    function targetScale() external view returns (uint256);

    /// @notice Time-averaged skew fraction as of the latest poke (WAD).
    function skewAverage() external view returns (uint256);
}
