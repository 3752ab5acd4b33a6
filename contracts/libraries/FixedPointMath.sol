// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Panic} from "@openzeppelin/contracts/utils/Panic.sol";

/// @title FixedPointMath
/// @notice The one 18-decimal fixed-point library of perpsim. Every function says its rounding
///         direction in its name; callers pick the direction that favours the protocol
///         (a trader's gain rounds down, a trader's debt rounds up).
/// @dev Unsigned products go through OpenZeppelin's overflow-safe `Math.mulDiv`. Signed helpers
///      round towards negative infinity (`Floor`) or positive infinity (`Ceil`), which is
///      "against the trader" for a PnL (`Floor`) and for an amount the trader owes (`Ceil`).
///      Token amounts of the 6-decimal collateral are "units"; 1 unit = 1e12 WAD.
library FixedPointMath {
    uint256 internal constant WAD = 1e18;
    /// @dev WAD per collateral base unit (18 - 6 decimals).
    uint256 internal constant UNIT = 1e12;
    uint256 internal constant BPS = 10_000;

    // ---------------------------------------------------------------------------------------
    // Unsigned
    // ---------------------------------------------------------------------------------------

    function mulWadDown(uint256 a, uint256 b) internal pure returns (uint256) {
        return Math.mulDiv(a, b, WAD);
    }

    function mulWadUp(uint256 a, uint256 b) internal pure returns (uint256) {
        return Math.mulDiv(a, b, WAD, Math.Rounding.Ceil);
    }

    function divWadDown(uint256 a, uint256 b) internal pure returns (uint256) {
        return Math.mulDiv(a, WAD, b);
    }

    function divWadUp(uint256 a, uint256 b) internal pure returns (uint256) {
        return Math.mulDiv(a, WAD, b, Math.Rounding.Ceil);
    }

    function mulDivDown(uint256 a, uint256 b, uint256 d) internal pure returns (uint256) {
        return Math.mulDiv(a, b, d);
    }

    function mulDivUp(uint256 a, uint256 b, uint256 d) internal pure returns (uint256) {
        return Math.mulDiv(a, b, d, Math.Rounding.Ceil);
    }

    function mulBpsDown(uint256 a, uint256 bps) internal pure returns (uint256) {
        return Math.mulDiv(a, bps, BPS);
    }

    function mulBpsUp(uint256 a, uint256 bps) internal pure returns (uint256) {
        return Math.mulDiv(a, bps, BPS, Math.Rounding.Ceil);
    }

    // ---------------------------------------------------------------------------------------
    // Signed
    // ---------------------------------------------------------------------------------------

    function abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    /// @dev `a * b / d` rounded towards negative infinity (d > 0).
    function mulDivFloor(int256 a, uint256 b, uint256 d) internal pure returns (int256) {
        if (a >= 0) return toInt(Math.mulDiv(uint256(a), b, d));
        return -toInt(Math.mulDiv(uint256(-a), b, d, Math.Rounding.Ceil));
    }

    /// @dev `a * b / d` rounded towards positive infinity (d > 0).
    function mulDivCeil(int256 a, uint256 b, uint256 d) internal pure returns (int256) {
        if (a >= 0) return toInt(Math.mulDiv(uint256(a), b, d, Math.Rounding.Ceil));
        return -toInt(Math.mulDiv(uint256(-a), b, d));
    }

    /// @dev `a * b / WAD` rounded towards negative infinity.
    function mulWadFloor(int256 a, uint256 b) internal pure returns (int256) {
        return mulDivFloor(a, b, WAD);
    }

    /// @dev `a * b / WAD` rounded towards positive infinity.
    function mulWadCeil(int256 a, uint256 b) internal pure returns (int256) {
        return mulDivCeil(a, b, WAD);
    }

    /// @dev `a * WAD / b` rounded towards negative infinity (b > 0).
    function divWadFloor(int256 a, uint256 b) internal pure returns (int256) {
        return mulDivFloor(a, WAD, b);
    }

    /// @dev `a * WAD / b` rounded towards positive infinity (b > 0).
    function divWadCeil(int256 a, uint256 b) internal pure returns (int256) {
        return mulDivCeil(a, WAD, b);
    }

    function clamp(int256 x, int256 lo, int256 hi) internal pure returns (int256) {
        return x < lo ? lo : (x > hi ? hi : x);
    }

    function min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }

    /// @dev Values here are USD and base amounts far below 2^255; an overflow panics.
    function toInt(uint256 x) internal pure returns (int256) {
        if (x > uint256(type(int256).max)) Panic.panic(Panic.UNDER_OVERFLOW);
        return int256(x);
    }

    // ---------------------------------------------------------------------------------------
    // Collateral units (6 decimals) <-> WAD
    // ---------------------------------------------------------------------------------------

    function unitsToWad(uint256 units) internal pure returns (uint256) {
        return units * UNIT;
    }

    function wadToUnitsDown(uint256 wad) internal pure returns (uint256) {
        return wad / UNIT;
    }

    function wadToUnitsUp(uint256 wad) internal pure returns (uint256) {
        return (wad + UNIT - 1) / UNIT;
    }
}
