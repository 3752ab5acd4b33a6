// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IVenueMarginController} from "../interfaces/IVenueMarginController.sol";
import {FixedPointMath} from "./FixedPointMath.sol";

/// @title MarginControlMath
/// @notice The dynamic margin controller's math over one market's state (`VenueMarginController`
///         keeps one per market of the venue): the EWMA volatility, the time-averaged skew of
///         review F2 and the target scale, exactly as IVenueMarginController documents them.
library MarginControlMath {
    using FixedPointMath for uint256;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant YEAR = 365 days;

    /// @notice What the controller remembers of one market between pokes.
    struct State {
        /// @dev Oracle price at the last volatility observation, WAD, and its time (seconds).
        uint256 lastPrice;
        uint256 lastTime;
        /// @dev EWMA of r²/dt, WAD per second.
        uint256 varianceRate;
        /// @dev Skew fraction seen by the latest poke, WAD, and its timestamp.
        uint256 skewSample;
        uint256 skewSampleTime;
        /// @dev Time-averaged skew fraction up to `skewSampleTime`, WAD.
        uint256 skewAverage;
    }

    /// @notice Start a market's state: the oracle's latest price and time, the skew now.
    function start(State storage s, uint256 price, uint256 priceTime, uint256 skewNow) internal {
        s.lastPrice = price;
        s.lastTime = priceTime;
        s.skewSample = skewNow;
        s.skewSampleTime = block.timestamp;
    }

    /// @notice One poke: the skew average moves (see `skewAverageAt`) and `skewNow` becomes the
    ///         sample; at least `minInterval` (and > 0) seconds after the last observation the
    ///         variance rate takes `price`: `var = (1 − w)·var + w·r²/dt`, r = |Δp|/p_last rounded up.
    function observe(State storage s, IVenueMarginController.ControllerParams memory p, uint256 skewNow, uint256 price)
        internal
    {
        s.skewAverage = skewAverageAt(s, p, skewNow);
        s.skewSample = skewNow;
        s.skewSampleTime = block.timestamp;
        uint256 dt = block.timestamp - s.lastTime;
        if (dt >= p.minInterval && dt != 0) {
            uint256 last = s.lastPrice;
            uint256 move = price > last ? price - last : last - price;
            uint256 r = move.divWadUp(last);
            uint256 w = p.ewmaWeight;
            // var = (1 − w)·var + w·r²/dt, one division at the end
            s.varianceRate = Math.mulDiv(s.varianceRate * (WAD - w) * dt + r.mulWadUp(r) * w, 1, WAD * dt);
            s.lastPrice = price;
            s.lastTime = block.timestamp;
        }
    }

    /// @notice The skew average a poke now would store: it moves toward min(previous sample,
    ///         skewNow) by min(dt, maxSkewSampleAge)/skewAveragingTime of the gap, rounded toward
    ///         the old average; dt == 0 leaves it as it is.
    function skewAverageAt(State storage s, IVenueMarginController.ControllerParams memory p, uint256 skewNow)
        internal
        view
        returns (uint256)
    {
        uint256 average = s.skewAverage;
        uint256 dt = block.timestamp - s.skewSampleTime;
        if (dt == 0) return average;
        uint256 held = Math.min(s.skewSample, skewNow);
        uint256 weight = Math.min(dt, p.maxSkewSampleAge);
        if (held > average) return average + Math.mulDiv(held - average, weight, p.skewAveragingTime);
        return average - Math.mulDiv(average - held, weight, p.skewAveragingTime);
    }

    /// @notice Annualized volatility of a variance rate (WAD per second), WAD.
    function volatility(State storage s) internal view returns (uint256) {
        return Math.sqrt(s.varianceRate * YEAR * WAD);
    }

    /// @notice `clamp(1 + volSensitivity·max(0, vol/target − 1) + skewSensitivity·avg, min, max)`, WAD.
    function target(IVenueMarginController.ControllerParams memory p, uint256 vol, uint256 skewAverage_)
        internal
        pure
        returns (uint256 scale)
    {
        scale = WAD;
        if (vol > p.targetVolatility) {
            scale += p.volatilitySensitivity.mulWadUp((vol - p.targetVolatility).divWadUp(p.targetVolatility));
        }
        scale += p.skewSensitivity.mulWadUp(skewAverage_);
        scale = Math.min(Math.max(scale, p.minScale), p.maxScale);
    }

    /// @notice |long − short| / (long + short), WAD rounded up (0 for an empty book).
    function skewFraction(uint256 longs, uint256 shorts) internal pure returns (uint256) {
        if (longs + shorts == 0) return 0;
        return (longs > shorts ? longs - shorts : shorts - longs).divWadUp(longs + shorts);
    }

    /// @notice Reverts `InvalidControllerParameter` unless 0.1 <= minScale <= maxScale <= 10,
    ///         targetVolatility > 0, 0 < ewmaWeight <= 1, skewAveragingTime > 0 and
    ///         0 < maxSkewSampleAge <= skewAveragingTime.
    function validate(IVenueMarginController.ControllerParams memory p) internal pure {
        if (p.minScale < 0.1e18) _bad("minScale", p.minScale);
        if (p.maxScale < p.minScale || p.maxScale > 10e18) _bad("maxScale", p.maxScale);
        if (p.targetVolatility == 0) _bad("targetVolatility", 0);
        if (p.ewmaWeight == 0 || p.ewmaWeight > WAD) _bad("ewmaWeight", p.ewmaWeight);
        if (p.skewAveragingTime == 0) _bad("skewAveragingTime", 0);
        if (p.maxSkewSampleAge == 0 || p.maxSkewSampleAge > p.skewAveragingTime) {
            _bad("maxSkewSampleAge", p.maxSkewSampleAge);
        }
    }

    function _bad(bytes32 name, uint256 value) private pure {
        revert IVenueMarginController.InvalidControllerParameter(name, value);
    }
}
