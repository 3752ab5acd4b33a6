// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IInsuranceFund} from "./interfaces/IInsuranceFund.sol";

/// @title InsuranceFund
/// @notice First buffer of the loss waterfall. It has no owner after wiring: nobody but the
///         market can move its collateral.
contract InsuranceFund is IInsuranceFund, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    IERC20 private immutable _collateral;
    address private immutable _deployer;
    /// @inheritdoc IInsuranceFund
    address public market;

    constructor(address collateral_) {
        _collateral = IERC20(collateral_);
        _deployer = msg.sender;
    }

    /// @inheritdoc IInsuranceFund
    function setMarket(address market_) external {
        if (msg.sender != _deployer || market != address(0)) revert MarketAlreadySet();
        market = market_;
        emit MarketSet(market_);
    }

    /// @inheritdoc IInsuranceFund
    function cover(uint256 amount) external nonReentrant returns (uint256 paid) {
        if (msg.sender != market) revert OnlyMarket(msg.sender);
        uint256 available = _collateral.balanceOf(address(this));
        paid = amount < available ? amount : available;
        if (paid != 0) _collateral.safeTransfer(msg.sender, paid);
        emit Covered(amount, paid, available - paid);
    }

    /// @inheritdoc IInsuranceFund
    function balance() external view returns (uint256) {
        return _collateral.balanceOf(address(this));
    }

    /// @inheritdoc IInsuranceFund
    function collateral() external view returns (address) {
        return address(_collateral);
    }
}
