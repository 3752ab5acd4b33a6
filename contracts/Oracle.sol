// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IOracle} from "./interfaces/IOracle.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";

/// @title Oracle
/// @notice Index price pushed by an authorised pusher (the simulator feeds it from its price
///         path or from the AMM's spot price).
/// @dev The TWAP keeps a ring of `OBSERVATIONS` cumulative-price observations (Uniswap v2/v3
///      style): between two observations the price is constant, so the cumulative at any time
///      is interpolated exactly; `twap` binary-searches the ring, O(log n).
contract Oracle is IOracle, AccessControl {
    using FixedPointMath for uint256;

    bytes32 public constant PUSHER_ROLE = keccak256("PUSHER_ROLE");
    uint256 public constant OBSERVATIONS = 128;

    struct Observation {
        uint64 timestamp;
        uint192 cumulative; // Σ price·seconds up to `timestamp`
    }

    Observation[OBSERVATIONS] private _observations;
    uint256 private _newest; // index of the newest observation
    uint256 private _count;
    uint256 private _price;
    uint256 private _updatedAt;

    /// @inheritdoc IOracle
    uint256 public maxAge;
    /// @inheritdoc IOracle
    uint256 public maxDeviationBps;

    constructor(address admin, address pusher, uint256 initialPrice, uint256 maxAge_, uint256 maxDeviationBps_) {
        if (initialPrice == 0) revert InvalidPrice(0);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PUSHER_ROLE, pusher);
        _setParameters(maxAge_, maxDeviationBps_);
        _price = initialPrice;
        _updatedAt = block.timestamp;
        _observations[0] = Observation(uint64(block.timestamp), 0);
        _count = 1;
        emit PricePushed(initialPrice, 0, block.timestamp);
    }

    // ---------------------------------------------------------------------------------------
    // Pushing
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IOracle
    function pushPrice(uint256 newPrice) external onlyRole(PUSHER_ROLE) {
        if (newPrice == 0) revert InvalidPrice(0);
        uint256 previous = _price;
        if (maxDeviationBps != 0) {
            uint256 move = newPrice > previous ? newPrice - previous : previous - newPrice;
            if (move * FixedPointMath.BPS > maxDeviationBps * previous) {
                revert PriceDeviationTooLarge(previous, newPrice, maxDeviationBps);
            }
        }
        Observation memory last = _observations[_newest];
        if (block.timestamp > last.timestamp) {
            uint256 cumulative = uint256(last.cumulative) + previous * (block.timestamp - last.timestamp);
            _newest = (_newest + 1) % OBSERVATIONS;
            _observations[_newest] = Observation(uint64(block.timestamp), uint192(cumulative));
            if (_count < OBSERVATIONS) _count += 1;
        }
        _price = newPrice;
        _updatedAt = block.timestamp;
        emit PricePushed(newPrice, previous, block.timestamp);
    }

    /// @inheritdoc IOracle
    function setParameters(uint256 maxAge_, uint256 maxDeviationBps_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(maxAge_, maxDeviationBps_);
    }

    function _setParameters(uint256 maxAge_, uint256 maxDeviationBps_) private {
        if (maxAge_ == 0) revert InvalidOracleParameter("maxAge", maxAge_);
        if (maxDeviationBps_ > FixedPointMath.BPS) revert InvalidOracleParameter("maxDeviationBps", maxDeviationBps_);
        maxAge = maxAge_;
        maxDeviationBps = maxDeviationBps_;
        emit OracleParametersUpdated(maxAge_, maxDeviationBps_);
    }

    // ---------------------------------------------------------------------------------------
    // Reading
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IOracle
    function price() external view returns (uint256) {
        if (block.timestamp - _updatedAt > maxAge) revert StalePrice(_updatedAt, maxAge, block.timestamp);
        return _price;
    }

    /// @inheritdoc IOracle
    function lastPrice() external view returns (uint256) {
        return _price;
    }

    /// @inheritdoc IOracle
    function latestPrice() external view returns (uint256, uint256) {
        return (_price, _updatedAt);
    }

    /// @inheritdoc IOracle
    function twap(uint256 window) external view returns (uint256) {
        if (window == 0) return _price;
        Observation memory oldest = _observations[_count < OBSERVATIONS ? 0 : (_newest + 1) % OBSERVATIONS];
        uint256 start = block.timestamp > window ? block.timestamp - window : 0;
        if (start < oldest.timestamp) start = oldest.timestamp;
        if (start >= block.timestamp) return _price;
        uint256 elapsed = block.timestamp - start;
        return (_cumulativeAt(block.timestamp) - _cumulativeAt(start)) / elapsed;
    }

    /// @dev Cumulative price·seconds at `t` (t >= the oldest observation's timestamp).
    function _cumulativeAt(uint256 t) private view returns (uint256) {
        Observation memory newest = _observations[_newest];
        if (t >= newest.timestamp) return uint256(newest.cumulative) + _price * (t - newest.timestamp);
        // Binary search over the ring, by age: position 0 is the oldest.
        uint256 oldestIndex = _count < OBSERVATIONS ? 0 : (_newest + 1) % OBSERVATIONS;
        uint256 lo = 0;
        uint256 hi = _count - 1; // the newest, known to be after t
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            if (_observations[(oldestIndex + mid) % OBSERVATIONS].timestamp <= t) lo = mid;
            else hi = mid;
        }
        Observation memory a = _observations[(oldestIndex + lo) % OBSERVATIONS];
        Observation memory b = _observations[(oldestIndex + hi) % OBSERVATIONS];
        // The price was constant on [a, b): interpolate the cumulative exactly.
        return uint256(a.cumulative)
            + (uint256(b.cumulative) - uint256(a.cumulative)) * (t - a.timestamp) / (b.timestamp - a.timestamp);
    }
}
