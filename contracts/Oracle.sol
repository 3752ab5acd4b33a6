// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IOracle} from "./interfaces/IOracle.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";

/// @title Oracle
/// @notice Index price pushed by an authorised pusher (the simulator feeds it from its price
///         path or from the AMM's spot price).
/// @dev The TWAP keeps a ring of cumulative-price observations (Uniswap v2/v3 style): between
///      two observations the price is constant, so the cumulative at any time is interpolated
///      exactly; `twap` binary-searches the ring, O(log n). A push writes at most one
///      observation per second (pushes in the same second only change the price), so a ring of
///      `maxTwapWindow + 1` observations always spans at least `maxTwapWindow` seconds: every
///      window up to `maxTwapWindow` is covered once the oracle is that old, whatever the push
///      rate. A fixed ring of 128 once served twap(300) from 127 s of 1 s pushes (review F6).
contract Oracle is IOracle, AccessControl {
    using FixedPointMath for uint256;

    bytes32 public constant PUSHER_ROLE = keccak256("PUSHER_ROLE");

    struct Observation {
        uint64 timestamp;
        uint192 cumulative; // Σ price·seconds up to `timestamp`
    }

    /// @inheritdoc IOracle
    uint256 public immutable maxTwapWindow;
    /// @dev Ring size, `maxTwapWindow + 1` observations.
    uint256 private immutable _capacity;
    mapping(uint256 slot => Observation) private _observations;
    uint256 private _newest; // slot of the newest observation
    uint256 private _count;
    uint256 private _price;
    uint256 private _updatedAt;

    /// @inheritdoc IOracle
    uint256 public maxAge;
    /// @inheritdoc IOracle
    uint256 public maxDeviationBps;

    /// @param maxTwapWindow_ Longest window `twap` serves, seconds (> 0); sizes the ring to
    ///        `maxTwapWindow_ + 1` observations. A market's circuit-breaker window must not exceed it.
    constructor(
        address admin,
        address pusher,
        uint256 initialPrice,
        uint256 maxAge_,
        uint256 maxDeviationBps_,
        uint256 maxTwapWindow_
    ) {
        if (initialPrice == 0) revert InvalidPrice(0);
        if (maxTwapWindow_ == 0) revert InvalidOracleParameter("maxTwapWindow", 0);
        maxTwapWindow = maxTwapWindow_;
        _capacity = maxTwapWindow_ + 1;
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
            _newest = (_newest + 1) % _capacity;
            _observations[_newest] = Observation(uint64(block.timestamp), uint192(cumulative));
            if (_count < _capacity) _count += 1;
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
        if (window > maxTwapWindow) revert TwapWindowTooLong(window, maxTwapWindow);
        Observation memory oldest = _observations[_oldestSlot()];
        uint256 start = block.timestamp > window ? block.timestamp - window : 0;
        // Only an oracle younger than `window` starts after `start` (a full ring spans at least
        // maxTwapWindow >= window seconds): it averages its whole life, nothing was dropped.
        if (start < oldest.timestamp) start = oldest.timestamp;
        if (start >= block.timestamp) return _price;
        uint256 elapsed = block.timestamp - start;
        return (_cumulativeAt(block.timestamp) - _cumulativeAt(start)) / elapsed;
    }

    /// @dev Slot of the oldest observation kept.
    function _oldestSlot() private view returns (uint256) {
        return _count < _capacity ? 0 : (_newest + 1) % _capacity;
    }

    /// @dev Cumulative price·seconds at `t` (t >= the oldest observation's timestamp).
    function _cumulativeAt(uint256 t) private view returns (uint256) {
        Observation memory newest = _observations[_newest];
        if (t >= newest.timestamp) return uint256(newest.cumulative) + _price * (t - newest.timestamp);
        // Binary search over the ring, by age: position 0 is the oldest.
        uint256 oldestIndex = _oldestSlot();
        uint256 lo = 0;
        uint256 hi = _count - 1; // the newest, known to be after t
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) / 2;
            if (_observations[(oldestIndex + mid) % _capacity].timestamp <= t) lo = mid;
            else hi = mid;
        }
        Observation memory a = _observations[(oldestIndex + lo) % _capacity];
        Observation memory b = _observations[(oldestIndex + hi) % _capacity];
        // The price was constant on [a, b): interpolate the cumulative exactly.
        return uint256(a.cumulative)
            + (uint256(b.cumulative) - uint256(a.cumulative)) * (t - a.timestamp) / (b.timestamp - a.timestamp);
    }
}
