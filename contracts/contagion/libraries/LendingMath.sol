// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {FixedPointMath} from "../../libraries/FixedPointMath.sol";

/// @title LendingMath
/// @notice The lending pool's formulas (see ILendingPool), each rounded for the pool: debts and
///         what a borrower or liquidator pays round up, what the pool counts as its own or pays
///         out rounds down.
/// @dev Debt is kept as shares of a borrow index (WAD): `debt = shares·index`. Values are WAD
///      USD, debts stablecoin units, rates WAD per year.
library LendingMath {
    using FixedPointMath for uint256;

    uint256 internal constant YEAR = 365 days;

    /// @dev An account's debt (units), rounded up: the borrower owes the rounding.
    function debtUp(uint256 shares, uint256 index) internal pure returns (uint256) {
        return shares.mulWadUp(index);
    }

    /// @dev The pool's debt (units), rounded down: suppliers are never credited the rounding.
    function debtDown(uint256 shares, uint256 index) internal pure returns (uint256) {
        return shares.mulWadDown(index);
    }

    /// @dev Shares booked for a borrow of `amount` units, rounded up.
    function sharesToBorrow(uint256 amount, uint256 index) internal pure returns (uint256) {
        return amount.mulDivUp(FixedPointMath.WAD, index);
    }

    /// @dev Shares a repayment of `amount` units (less than the whole debt) cancels, rounded down.
    function sharesRepaid(uint256 amount, uint256 index) internal pure returns (uint256) {
        return amount.mulDivDown(FixedPointMath.WAD, index);
    }

    /// @dev Utilisation `debt / (cash + debt)`, WAD, rounded down (0 for an empty pool).
    function utilisation(uint256 debt, uint256 cash) internal pure returns (uint256) {
        uint256 assets = cash + debt;
        return assets == 0 ? 0 : debt.divWadDown(assets);
    }

    /// @dev Borrow rate `base + slope·U`, WAD per year.
    function ratePerYear(uint256 base, uint256 slope, uint256 debt, uint256 cash) internal pure returns (uint256) {
        return base + slope.mulWadDown(utilisation(debt, cash));
    }

    /// @dev The index after `elapsed` seconds at `rate` (WAD per year): `index·(1 + rate·dt/year)`,
    ///      both steps rounded up.
    function grownIndex(uint256 index, uint256 rate, uint256 elapsed) internal pure returns (uint256) {
        return index.mulWadUp(FixedPointMath.WAD + rate.mulDivUp(elapsed, YEAR));
    }

    /// @dev `liquidationValue / debtValue`, WAD, rounded down; max uint without debt.
    function healthFactor(uint256 liquidationValue, uint256 debtValue) internal pure returns (uint256) {
        if (debtValue == 0) return type(uint256).max;
        return liquidationValue.divWadDown(debtValue);
    }

    /// @dev Collateral value (WAD USD) a liquidator receives for `repaidWad`: `repaid·(1 + bonus)`,
    ///      rounded down.
    function seizeValue(uint256 repaidWad, uint256 bonusBps) internal pure returns (uint256) {
        return Math.mulDiv(repaidWad, FixedPointMath.BPS + bonusBps, FixedPointMath.BPS);
    }

    /// @dev Units a liquidator repays for collateral worth `valueWad`: `value / (1 + bonus)`,
    ///      rounded up; `unitScale` is WAD per unit.
    function repayForValue(uint256 valueWad, uint256 bonusBps, uint256 unitScale) internal pure returns (uint256) {
        return valueWad.mulDivUp(FixedPointMath.BPS, (FixedPointMath.BPS + bonusBps) * unitScale);
    }
}
