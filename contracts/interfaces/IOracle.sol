// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IOracle
/// @notice Pushed index price (WAD USD per base unit) with staleness and deviation checks and
///         a time-weighted average over a ring of observations.
interface IOracle {
    /// @notice The last price is older than `maxAge` seconds.
    error StalePrice(uint256 updatedAt, uint256 maxAge, uint256 nowTimestamp);
    /// @notice A push moved the price by more than `maxDeviationBps` from the previous one.
    error PriceDeviationTooLarge(uint256 previousPrice, uint256 proposedPrice, uint256 maxDeviationBps);
    /// @notice Prices must be positive.
    error InvalidPrice(uint256 price);
    /// @notice `twap` was asked for a window longer than the ring is sized to cover (seconds).
    error TwapWindowTooLong(uint256 window, uint256 maxTwapWindow);
    /// @notice A parameter failed validation (`name` is the field).
    error InvalidOracleParameter(bytes32 name, uint256 value);

    /// @notice A new price was accepted.
    event PricePushed(uint256 price, uint256 previousPrice, uint256 timestamp);
    /// @notice maxAge (seconds) or maxDeviationBps changed.
    event OracleParametersUpdated(uint256 maxAge, uint256 maxDeviationBps);

    /// @notice Push a new price (WAD); PUSHER_ROLE only. Reverts `PriceDeviationTooLarge`.
    function pushPrice(uint256 price) external;

    /// @notice The latest price, reverting `StalePrice` when older than maxAge.
    function price() external view returns (uint256);

    /// @notice The latest price without the staleness check (views use it).
    function lastPrice() external view returns (uint256);

    /// @notice The latest price and its timestamp, without checks.
    function latestPrice() external view returns (uint256 price, uint256 updatedAt);

    /// @notice Time-weighted average price over the last `window` seconds (WAD); `window == 0`
    ///         gives the latest price. Every window up to `maxTwapWindow` is averaged in full,
    ///         whatever the push rate; only an oracle younger than `window` averages its whole
    ///         life instead. Reverts `TwapWindowTooLong` when `window > maxTwapWindow`, never
    ///         averaging a shorter window than asked.
    function twap(uint256 window) external view returns (uint256);

    /// @notice Longest window `twap` serves, seconds (fixed at deployment; sizes the ring).
    function maxTwapWindow() external view returns (uint256);

    /// @notice Set maxAge (seconds, > 0) and maxDeviationBps (0 = unchecked); admin (timelock) only.
    function setParameters(uint256 maxAge, uint256 maxDeviationBps) external;

    function maxAge() external view returns (uint256);

    function maxDeviationBps() external view returns (uint256);
}
