// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IInsuranceFund
/// @notice Holds collateral that covers bankrupt accounts' deficits. Funded by an initial
///         deposit, a share of trading fees, liquidation penalties and ADL overshoot (plain
///         token transfers in); only its market draws from it.
interface IInsuranceFund {
    /// @notice Only the market may draw.
    error OnlyMarket(address caller);
    /// @notice `setMarket` was already called, or not by the deployer.
    error MarketAlreadySet();

    /// @notice The market asked for `requested` and received `paid` (collateral base units).
    event Covered(uint256 requested, uint256 paid, uint256 balanceAfter);
    event MarketSet(address market);

    /// @notice Pay up to `amount` base units to the market; returns what was paid.
    function cover(uint256 amount) external returns (uint256 paid);

    /// @notice Wire the market; once, by the deployer.
    function setMarket(address market) external;

    /// @notice Collateral held, base units.
    function balance() external view returns (uint256);

    function market() external view returns (address);

    function collateral() external view returns (address);
}
