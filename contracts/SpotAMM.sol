// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ISpotAMM} from "./interfaces/ISpotAMM.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";

/// @title SpotAMM
/// @notice x·y = k pool with a fee taken from the input (Uniswap v2 form:
///         `out = in·(1−fee)·R_out / (R_in + in·(1−fee))`, rounded down).
contract SpotAMM is ISpotAMM, Ownable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    IERC20 private immutable _collateral;
    IERC20 private immutable _base;
    uint256 private _reserveCollateral;
    uint256 private _reserveBase;
    /// @inheritdoc ISpotAMM
    uint256 public feeBps;

    constructor(address collateral_, address base_, uint256 feeBps_, address owner_) Ownable(owner_) {
        _collateral = IERC20(collateral_);
        _base = IERC20(base_);
        _setFee(feeBps_);
    }

    /// @inheritdoc ISpotAMM
    function swap(bool baseIn, uint256 amountIn, uint256 minAmountOut, address to)
        external
        nonReentrant
        returns (uint256 amountOut)
    {
        if (amountIn == 0) revert ZeroAmount();
        amountOut = getAmountOut(baseIn, amountIn);
        if (amountOut < minAmountOut || amountOut == 0) revert InsufficientOutput(amountOut, minAmountOut);
        if (baseIn) {
            _base.safeTransferFrom(msg.sender, address(this), amountIn);
            _reserveBase += amountIn;
            _reserveCollateral -= amountOut;
            _collateral.safeTransfer(to, amountOut);
        } else {
            _collateral.safeTransferFrom(msg.sender, address(this), amountIn);
            _reserveCollateral += amountIn;
            _reserveBase -= amountOut;
            _base.safeTransfer(to, amountOut);
        }
        emit Swap(msg.sender, to, baseIn, amountIn, amountOut, _reserveCollateral, _reserveBase);
    }

    /// @inheritdoc ISpotAMM
    function getAmountOut(bool baseIn, uint256 amountIn) public view returns (uint256) {
        (uint256 rIn, uint256 rOut) = baseIn ? (_reserveBase, _reserveCollateral) : (_reserveCollateral, _reserveBase);
        if (rIn == 0 || rOut == 0) revert NoLiquidity();
        uint256 inAfterFee = amountIn * (FixedPointMath.BPS - feeBps);
        return Math.mulDiv(inAfterFee, rOut, rIn * FixedPointMath.BPS + inAfterFee);
    }

    /// @inheritdoc ISpotAMM
    function spotPrice() external view returns (uint256) {
        if (_reserveBase == 0) revert NoLiquidity();
        return Math.mulDiv(_reserveCollateral * FixedPointMath.UNIT, FixedPointMath.WAD, _reserveBase);
    }

    /// @inheritdoc ISpotAMM
    function reserves() external view returns (uint256, uint256) {
        return (_reserveCollateral, _reserveBase);
    }

    /// @inheritdoc ISpotAMM
    function addLiquidity(uint256 collateralAmount, uint256 baseAmount) external onlyOwner nonReentrant {
        _collateral.safeTransferFrom(msg.sender, address(this), collateralAmount);
        _base.safeTransferFrom(msg.sender, address(this), baseAmount);
        _reserveCollateral += collateralAmount;
        _reserveBase += baseAmount;
        emit LiquidityChanged(int256(collateralAmount), int256(baseAmount), _reserveCollateral, _reserveBase);
    }

    /// @inheritdoc ISpotAMM
    function removeLiquidity(uint256 collateralAmount, uint256 baseAmount, address to) external onlyOwner nonReentrant {
        _reserveCollateral -= collateralAmount;
        _reserveBase -= baseAmount;
        _collateral.safeTransfer(to, collateralAmount);
        _base.safeTransfer(to, baseAmount);
        emit LiquidityChanged(-int256(collateralAmount), -int256(baseAmount), _reserveCollateral, _reserveBase);
    }

    /// @inheritdoc ISpotAMM
    function setFee(uint256 feeBps_) external onlyOwner {
        _setFee(feeBps_);
    }

    function _setFee(uint256 feeBps_) private {
        if (feeBps_ >= FixedPointMath.BPS) revert InvalidFee(feeBps_);
        feeBps = feeBps_;
        emit FeeUpdated(feeBps_);
    }

    /// @inheritdoc ISpotAMM
    function collateralToken() external view returns (address) {
        return address(_collateral);
    }

    /// @inheritdoc ISpotAMM
    function baseToken() external view returns (address) {
        return address(_base);
    }
}
