// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IDynamicMarginController
/// @notice Permissionless on-chain controller that moves a market's margin scale (a WAD
///         multiplier of every margin fraction) with realized volatility and open-interest
///         skew, inside bounds set by governance (the timelock).
/// @dev On each `poke` (at most once per `minInterval` seconds) it reads the oracle price, takes
///      the simple return r since the last poke over dt seconds, and updates an EWMA of the
///      variance rate: `var = (1 − w)·var + w·r²/dt`. Annualized volatility
///      `vol = sqrt(var · 365 days)`. Then
///      `scale = clamp(1 + volSensitivity·max(0, vol/targetVolatility − 1)
///                       + skewSensitivity·|long − short|/(long + short), minScale, maxScale)`.
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
        /// @dev Minimum seconds between two observations.
        uint256 minInterval;
    }

    /// @notice A parameter failed validation.
    error InvalidControllerParameter(bytes32 name, uint256 value);

    /// @notice One poke: the price seen, annualized volatility, skew fraction and the new scale (WAD).
    event Poked(uint256 price, uint256 volatility, uint256 skewFraction, uint256 scale);
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
}
