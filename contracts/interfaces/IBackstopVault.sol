// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ILockedShareVault} from "./ILockedShareVault.sol";

/// @title IBackstopVault
/// @notice ERC-4626 vault over the collateral whose capital backs positions taken over from
///         accounts near bankruptcy (`PerpMarket.backstopTakeover`). Its share price is what
///         other protocols (e.g. a lending market) hold.
/// @dev totalAssets = idle collateral + max(0, the vault's equity in the market) + base tokens
///      held × the oracle's latest price, all rounded down to collateral base units. The
///      equity includes unrealized PnL and funding of the positions it took over, so the share
///      price moves with them. The share lock (F3), the share offset and zero-share refusal (F9)
///      and the idle-collateral cap on withdrawals are ILockedShareVault's.
interface IBackstopVault is ILockedShareVault {
    /// @notice The manager moved `amount` (collateral base units) into (+) or out of (−) the
    ///         vault's margin account in the market.
    event MarginMoved(int256 amount);
    /// @notice The manager traded the vault's perp position (hedge or unwind).
    event PositionTraded(int256 sizeDelta, uint256 fillPrice);
    /// @notice The manager hedged on the spot AMM.
    event Hedged(bool baseIn, uint256 amountIn, uint256 amountOut);

    /// @notice Move `amount` idle collateral base units into the vault's market margin; MANAGER_ROLE.
    function depositMargin(uint256 amount) external;

    /// @notice Move `amount` base units of market margin back to idle; MANAGER_ROLE.
    function withdrawMargin(uint256 amount) external;

    /// @notice Trade the vault's perp position by `sizeDelta` (WAD base); MANAGER_ROLE.
    function tradePosition(int256 sizeDelta, uint256 acceptablePrice) external returns (uint256 fillPrice);

    /// @notice Swap on the spot AMM (`baseIn` sells base); MANAGER_ROLE.
    function hedgeOnAmm(bool baseIn, uint256 amountIn, uint256 minAmountOut) external returns (uint256 amountOut);

    function market() external view returns (address);
}
