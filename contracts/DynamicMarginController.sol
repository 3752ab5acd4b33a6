// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IDynamicMarginController} from "./interfaces/IDynamicMarginController.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {IOracle} from "./interfaces/IOracle.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";

/// @title DynamicMarginController
/// @notice See IDynamicMarginController. Holds the market's CONTROLLER_ROLE; its own
///         parameters change only through its admin (the timelock).
contract DynamicMarginController is IDynamicMarginController, AccessControl {
    using FixedPointMath for uint256;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant YEAR = 365 days;

    IPerpMarket private immutable _market;
    IOracle private immutable _oracle;
    ControllerParams private _params;
    uint256 private _lastPrice;
    uint256 private _lastTime;
    /// @dev EWMA of r²/dt, WAD per second.
    uint256 private _varianceRate;
    /// @dev Skew fraction seen by the latest poke, WAD, and its timestamp.
    uint256 private _skewSample;
    uint256 private _skewSampleTime;
    /// @dev Time-averaged skew fraction up to `_skewSampleTime`, WAD.
    uint256 private _skewAverage;

    constructor(address market_, address oracle_, address admin, ControllerParams memory params_) {
        _market = IPerpMarket(market_);
        _oracle = IOracle(oracle_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setParameters(params_);
        (_lastPrice, _lastTime) = IOracle(oracle_).latestPrice();
        _skewSample = _skewNow();
        _skewSampleTime = block.timestamp;
    }

    /// @inheritdoc IDynamicMarginController
    function poke() external returns (uint256 scale) {
        uint256 skewNow = _skewNow();
        _skewAverage = _skewAverageAt(skewNow);
        _skewSample = skewNow;
        _skewSampleTime = block.timestamp;
        uint256 price = _oracle.price();
        uint256 dt = block.timestamp - _lastTime;
        if (dt >= _params.minInterval && dt != 0) {
            uint256 move = price > _lastPrice ? price - _lastPrice : _lastPrice - price;
            uint256 r = move.divWadUp(_lastPrice);
            uint256 w = _params.ewmaWeight;
            // var = (1 − w)·var + w·r²/dt, one division at the end
            _varianceRate = Math.mulDiv(_varianceRate * (WAD - w) * dt + r.mulWadUp(r) * w, 1, WAD * dt);
            _lastPrice = price;
            _lastTime = block.timestamp;
        }
        scale = _target(_skewAverage);
        if (scale != _market.marginScale()) _market.setMarginScale(scale);
        emit Poked(price, volatility(), skewNow, _skewAverage, scale);
    }

    /// @inheritdoc IDynamicMarginController
    function setParameters(ControllerParams calldata params_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(params_);
    }

    function _setParameters(ControllerParams memory p) private {
        if (p.minScale < 0.1e18) revert InvalidControllerParameter("minScale", p.minScale);
        if (p.maxScale < p.minScale || p.maxScale > 10e18) revert InvalidControllerParameter("maxScale", p.maxScale);
        if (p.targetVolatility == 0) revert InvalidControllerParameter("targetVolatility", 0);
        if (p.ewmaWeight == 0 || p.ewmaWeight > WAD) revert InvalidControllerParameter("ewmaWeight", p.ewmaWeight);
        if (p.skewAveragingTime == 0) revert InvalidControllerParameter("skewAveragingTime", 0);
        if (p.maxSkewSampleAge == 0 || p.maxSkewSampleAge > p.skewAveragingTime) {
            revert InvalidControllerParameter("maxSkewSampleAge", p.maxSkewSampleAge);
        }
        _params = p;
        emit ControllerParametersUpdated(p);
    }

    function _target(uint256 skewAverage_) private view returns (uint256 scale) {
        ControllerParams memory p = _params;
        scale = WAD;
        uint256 vol = volatility();
        if (vol > p.targetVolatility) {
            scale += p.volatilitySensitivity.mulWadUp((vol - p.targetVolatility).divWadUp(p.targetVolatility));
        }
        scale += p.skewSensitivity.mulWadUp(skewAverage_);
        scale = Math.min(Math.max(scale, p.minScale), p.maxScale);
    }

    /// @dev |long − short| / (long + short) of the market's open interest now, WAD (0 if empty).
    function _skewNow() private view returns (uint256) {
        (uint256 longs, uint256 shorts) = _market.openInterest();
        if (longs + shorts == 0) return 0;
        return (longs > shorts ? longs - shorts : shorts - longs).divWadUp(longs + shorts);
    }

    /// @dev The skew average a poke now would store (see IDynamicMarginController): it moves
    ///      toward min(previous sample, skewNow) by min(dt, maxSkewSampleAge)/skewAveragingTime
    ///      of the gap, rounded toward the old average; dt == 0 leaves it as it is.
    function _skewAverageAt(uint256 skewNow) private view returns (uint256) {
        uint256 average = _skewAverage;
        uint256 dt = block.timestamp - _skewSampleTime;
        if (dt == 0) return average;
        ControllerParams memory p = _params;
        uint256 held = Math.min(_skewSample, skewNow);
        uint256 weight = Math.min(dt, p.maxSkewSampleAge);
        if (held > average) return average + Math.mulDiv(held - average, weight, p.skewAveragingTime);
        return average - Math.mulDiv(average - held, weight, p.skewAveragingTime);
    }

    /// @inheritdoc IDynamicMarginController
    function volatility() public view returns (uint256) {
        return Math.sqrt(_varianceRate * YEAR * WAD);
    }

    /// @inheritdoc IDynamicMarginController
    function targetScale() external view returns (uint256) {
        return _target(_skewAverageAt(_skewNow()));
    }

    /// @inheritdoc IDynamicMarginController
    function skewAverage() external view returns (uint256) {
        return _skewAverage;
    }

    /// @inheritdoc IDynamicMarginController
    function parameters() external view returns (ControllerParams memory) {
        return _params;
    }
}
