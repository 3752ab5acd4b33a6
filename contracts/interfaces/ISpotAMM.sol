// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ISpotAMM
/// @notice Constant-product spot pool of the collateral (6 decimals) against the base token
///         (18 decimals). Forced selling by liquidators and the backstop moves its price, and
///         the simulator can push `spotPrice()` into the oracle.
interface ISpotAMM {
    /// @notice The swap would pay out less than the caller's minimum.
    error InsufficientOutput(uint256 amountOut, uint256 minAmountOut);
    error ZeroAmount();
    /// @notice The pool has no liquidity on one side.
    error NoLiquidity();
    /// @notice The fee must be below 100% (bps).
    error InvalidFee(uint256 feeBps);

    /// @notice A swap; `baseIn` true sells base for collateral. Reserves after the swap.
    event Swap(
        address indexed sender,
        address indexed to,
        bool baseIn,
        uint256 amountIn,
        uint256 amountOut,
        uint256 reserveCollateral,
        uint256 reserveBase
    );
    event LiquidityChanged(int256 collateralDelta, int256 baseDelta, uint256 reserveCollateral, uint256 reserveBase);
    event FeeUpdated(uint256 feeBps);

    /// @notice Swap exactly `amountIn` of the input token (pulled with transferFrom) for at
    ///         least `minAmountOut` of the other, sent to `to`.
    function swap(bool baseIn, uint256 amountIn, uint256 minAmountOut, address to) external returns (uint256 amountOut);

    /// @notice Output of a swap of `amountIn` now, after the fee.
    function getAmountOut(bool baseIn, uint256 amountIn) external view returns (uint256);

    /// @notice Marginal price, WAD USD per base unit (collateral reserve scaled to 18 decimals
    ///         over the base reserve).
    function spotPrice() external view returns (uint256);

    function reserves() external view returns (uint256 collateralReserve, uint256 baseReserve);

    /// @notice Add liquidity (owner only; no LP shares: the pool is simulation infrastructure).
    function addLiquidity(uint256 collateralAmount, uint256 baseAmount) external;

    /// @notice Remove liquidity to `to` (owner only).
    function removeLiquidity(uint256 collateralAmount, uint256 baseAmount, address to) external;

    /// @notice Set the swap fee in bps (owner only).
    function setFee(uint256 feeBps) external;

    function feeBps() external view returns (uint256);

    function collateralToken() external view returns (address);

    function baseToken() external view returns (address);
}
