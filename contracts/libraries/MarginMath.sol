// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {FixedPointMath} from "./FixedPointMath.sol";

/// @title MarginMath
/// @notice Margin requirements: base fractions, Hyperliquid's tiers in deduction form, dYdX's
///         OI-scaled initial margin, the dynamic margin scale, and the liquidation price.
/// @dev Requirements round up (against the trader).
library MarginMath {
    using FixedPointMath for uint256;

    uint256 internal constant WAD = 1e18;

    /// @dev One tier above the base, packed in one slot; fractions are WAD (< 2^64).
    struct PackedTier {
        uint128 notionalFloor;
        uint64 initialMarginFraction;
        uint64 maintenanceMarginFraction;
    }

    /// @notice Margin requirement `notional·rate_n − deduction_n` for the tier containing
    ///         `notional` (Hyperliquid: `deduction_n = deduction_{n−1} + floor_n·(rate_n −
    ///         rate_{n−1})`, continuous in notional). Every rate is multiplied by `scale`
    ///         (WAD) and capped at 100%.
    /// @param baseRate The base tier's fraction (floor 0).
    /// @param initial Use the tiers' initial (true) or maintenance (false) fractions.
    function requirement(
        uint256 notional,
        uint256 baseRate,
        PackedTier[] storage tiers,
        bool initial,
        uint256 scale
    ) internal view returns (uint256) {
        uint256 base = _scaled(baseRate, scale);
        uint256 rate = base;
        uint256 deduction = 0;
        uint256 n = tiers.length;
        for (uint256 i = 0; i < n; ++i) {
            PackedTier memory t = tiers[i];
            if (notional < t.notionalFloor) break;
            // The base fraction floors every tier: a leverage cap applies to all of them.
            uint256 next = FixedPointMath.max(
                _scaled(initial ? t.initialMarginFraction : t.maintenanceMarginFraction, scale), base
            );
            if (next > rate) deduction += uint256(t.notionalFloor).mulWadDown(next - rate);
            rate = next;
        }
        uint256 gross = notional.mulWadUp(rate);
        return gross > deduction ? gross - deduction : 0;
    }

    /// @notice dYdX OI-scaled initial margin: between `lowerCap` and `upperCap` of open notional
    ///         the IMF rises linearly from its base to 100%:
    ///         `IM' = IM + (notional − IM)·clamp((oi − lower)/(upper − lower), 0, 1)`.
    function oiScaledInitialMargin(
        uint256 initialMargin,
        uint256 notional,
        uint256 openNotional,
        uint256 lowerCap,
        uint256 upperCap
    ) internal pure returns (uint256) {
        if (upperCap == 0 || openNotional <= lowerCap || notional <= initialMargin) return initialMargin;
        if (openNotional >= upperCap) return notional;
        uint256 t = (openNotional - lowerCap).divWadUp(upperCap - lowerCap);
        return initialMargin + (notional - initialMargin).mulWadUp(t);
    }

    /// @notice Index price at which equity equals maintenance margin, for a position of
    ///         `size` at `entry` backed by `collateral` (margin − funding owed, WAD USD).
    /// @dev Per tier: `P = (entry − side·(C + deduction)/|size|) / (1 − side·rate)`; untiered this
    ///      is exactly REFERENCES.md's `(entry − side·C/size)/(1 − side·mmf)`. The first tier
    ///      whose notional range contains |size|·P is the answer. Longs round up, shorts down
    ///      (earlier liquidation). Returns 0 when no positive price solves it.
    function liquidationPrice(
        int256 size,
        uint256 entry,
        int256 collateral,
        uint256 baseRate,
        PackedTier[] storage tiers,
        uint256 scale
    ) internal view returns (uint256) {
        if (size == 0) return 0;
        uint256 absSize = FixedPointMath.abs(size);
        uint256 base = _scaled(baseRate, scale);
        uint256 rate = base;
        uint256 deduction = 0;
        uint256 n = tiers.length;
        // equity − MM is strictly monotonic in P and MM is the maximum of the tier lines, so
        // each tier line's root lies beyond the true root: the first tier whose root falls
        // below its own ceiling holds the answer.
        for (uint256 i = 0; i <= n; ++i) {
            uint256 p = _solve(size, absSize, entry, collateral, rate, deduction);
            if (p == 0) return 0;
            if (i == n) return p;
            PackedTier memory t = tiers[i];
            if (absSize.mulWadUp(p) < t.notionalFloor) return p;
            uint256 next = FixedPointMath.max(_scaled(t.maintenanceMarginFraction, scale), base);
            if (next > rate) deduction += uint256(t.notionalFloor).mulWadDown(next - rate);
            rate = next;
        }
        return 0;
    }

    function _solve(int256 size, uint256 absSize, uint256 entry, int256 collateral, uint256 rate, uint256 deduction)
        private
        pure
        returns (uint256)
    {
        // P·|s|·(1 − side·r) = side·(E·|s| − side·(C + d)), all in WAD², one rounding.
        int256 cd = collateral + int256(deduction);
        int256 entryValue = int256(entry * absSize);
        if (size > 0) {
            if (rate >= WAD) return 0;
            int256 num = entryValue - cd * int256(WAD);
            if (num <= 0) return 0;
            return FixedPointMath.mulDivUp(uint256(num), WAD, absSize * (WAD - rate));
        }
        int256 numShort = entryValue + cd * int256(WAD);
        if (numShort <= 0) return 0;
        return FixedPointMath.mulDivDown(uint256(numShort), WAD, absSize * (WAD + rate));
    }

    function _scaled(uint256 rate, uint256 scale) private pure returns (uint256) {
        return FixedPointMath.min(rate.mulWadUp(scale), WAD);
    }
}
