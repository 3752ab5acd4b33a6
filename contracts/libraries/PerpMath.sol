// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {FixedPointMath} from "./FixedPointMath.sol";

/// @title PerpMath
/// @notice Pure position, pricing and funding formulas of the perp market. Rounding is
///         always against the trader: PnL rounds down, amounts owed round up, buyers' fills
///         round up and sellers' fills round down.
library PerpMath {
    using FixedPointMath for uint256;
    using FixedPointMath for int256;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant DAY = 1 days;

    // ---------------------------------------------------------------------------------------
    // Positions
    // ---------------------------------------------------------------------------------------

    /// @notice Unrealized PnL of `size` entered at `entry`, at `price`, rounded down (WAD USD).
    function unrealizedPnl(int256 size, uint256 entry, uint256 price) internal pure returns (int256) {
        if (size == 0) return 0;
        int256 move = int256(price) - int256(entry);
        return (size > 0 ? move : -move).mulWadFloor(size.abs());
    }

    /// @notice Apply a fill of `delta` at `fill` to a position (`size`, `entry`).
    /// @return newSize The resulting size.
    /// @return newEntry Average entry for an increase (rounded against the trader), the old
    ///         entry for a reduction, `fill` after a flip, 0 when flat.
    /// @return realized PnL realized on the closed part, rounded down (WAD USD).
    function applyFill(int256 size, uint256 entry, int256 delta, uint256 fill)
        internal
        pure
        returns (int256 newSize, uint256 newEntry, int256 realized)
    {
        newSize = size + delta;
        if (size == 0 || (size > 0) == (delta > 0)) {
            if (size == 0) return (newSize, fill, 0);
            uint256 a = size.abs();
            uint256 b = delta.abs();
            uint256 weighted = entry * a + fill * b;
            // Longs get the higher average entry, shorts the lower one.
            newEntry = size > 0 ? FixedPointMath.mulDivUp(weighted, 1, a + b) : weighted / (a + b);
            return (newSize, newEntry, 0);
        }
        uint256 closing = FixedPointMath.min(delta.abs(), size.abs());
        int256 move = int256(fill) - int256(entry);
        realized = (size > 0 ? move : -move).mulWadFloor(closing);
        if (newSize == 0) newEntry = 0;
        else if ((newSize > 0) == (size > 0)) newEntry = entry;
        else newEntry = fill;
    }

    /// @notice Synthetix v3 fill price with skew impact:
    ///         `fill = (P·(1 + skew/scale) + P·(1 + (skew+delta)/scale)) / 2`.
    /// @dev Buyers' fills round up, sellers' fills round down. `skewScale == 0`: no impact.
    ///      Returns 0 if the impact would make the price non-positive (caller reverts).
    function fillPrice(uint256 price, int256 skew, int256 delta, uint256 skewScale) internal pure returns (uint256) {
        if (skewScale == 0) return price;
        int256 x = 2 * skew + delta;
        int256 impact = delta > 0
            ? x.mulDivCeil(price, 2 * skewScale)
            : x.mulDivFloor(price, 2 * skewScale);
        int256 fill = int256(price) + impact;
        return fill > 0 ? uint256(fill) : 0;
    }

    // ---------------------------------------------------------------------------------------
    // Funding
    // ---------------------------------------------------------------------------------------

    struct FundingConfig {
        uint8 model; // 0 velocity, 1 premium
        uint256 skewScale;
        uint256 maxFundingVelocity;
        uint256 premiumInterestRate8h;
        uint256 premiumClamp8h;
        uint256 maxFundingRatePerHour;
    }

    /// @notice Funding rate per day after `dt` seconds at constant `skew`, and the average rate
    ///         over the interval (WAD; + = longs pay).
    /// @dev VELOCITY (Synthetix v3): `rate += clamp(skew/scale, −1, 1)·maxVelocity·dt/1 day`,
    ///      average = (old + new)/2. PREMIUM (Hyperliquid): `F8h = premium + clamp(interest −
    ///      premium, −clamp, +clamp)`, per day 3·F8h, constant over the interval. Both capped at
    ///      24·maxFundingRatePerHour when that is non-zero.
    function nextFundingRate(FundingConfig memory c, int256 skew, int256 rate, uint256 dt)
        internal
        pure
        returns (int256 newRate, int256 averageRate)
    {
        int256 one = int256(WAD);
        int256 proportionalSkew =
            c.skewScale == 0 ? int256(0) : FixedPointMath.clamp(skew * one / int256(c.skewScale), -one, one);
        if (c.model == 0) {
            // rate += proportionalSkew · maxVelocity · dt / 1 day, one division
            newRate = rate + proportionalSkew * int256(c.maxFundingVelocity) * int256(dt) / (one * int256(DAY));
        } else {
            int256 interest = int256(c.premiumInterestRate8h);
            int256 band = int256(c.premiumClamp8h);
            int256 rate8h = proportionalSkew + FixedPointMath.clamp(interest - proportionalSkew, -band, band);
            newRate = rate8h * 3;
        }
        if (c.maxFundingRatePerHour != 0) {
            int256 cap = int256(c.maxFundingRatePerHour * 24);
            newRate = FixedPointMath.clamp(newRate, -cap, cap);
        }
        averageRate = c.model == 0 ? (rate + newRate) / 2 : newRate;
    }

    /// @notice Index increments for longs and shorts of funding at `averageRate` over `dt` at
    ///         `price`: longs owe `rate·dt/1 day·price` per unit, shorts the opposite; both
    ///         rounded up (against whichever side pays).
    function fundingIncrements(int256 averageRate, uint256 dt, uint256 price)
        internal
        pure
        returns (int256 longIncrement, int256 shortIncrement)
    {
        int256 x = averageRate * int256(dt);
        longIncrement = x.mulDivCeil(price, DAY * WAD);
        shortIncrement = (-x).mulDivCeil(price, DAY * WAD);
    }

    /// @notice Funding owed by a position since its snapshot, rounded up (WAD USD, + = owes).
    function fundingOwed(int256 size, int256 snapshot, int256 longIndex, int256 shortIndex)
        internal
        pure
        returns (int256)
    {
        if (size == 0) return 0;
        int256 index = size > 0 ? longIndex : shortIndex;
        return (index - snapshot).mulWadCeil(size.abs());
    }
}
