// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IDynamicMarginController} from "./interfaces/IDynamicMarginController.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {IOracle} from "./interfaces/IOracle.sol";
import {MarginControlMath} from "./libraries/MarginControlMath.sol";

/// @title DynamicMarginController
/// @notice See IDynamicMarginController. Holds the market's CONTROLLER_ROLE; its own
///         parameters change only through its admin (the timelock). The math is
///         MarginControlMath's, shared with the venue's per-market `VenueMarginController`.
contract DynamicMarginController is IDynamicMarginController, AccessControl {
    using MarginControlMath for MarginControlMath.State;

    IPerpMarket private immutable _market;
    IOracle private immutable _oracle;
    ControllerParams private _params;
    MarginControlMath.State private _state;

    constructor(address market_, address oracle_, address admin, ControllerParams memory params_) {
        _market = IPerpMarket(market_);
        _oracle = IOracle(oracle_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setParameters(params_);
        (uint256 price, uint256 priceTime) = IOracle(oracle_).latestPrice();
        _state.start(price, priceTime, _skewNow());
    }

    /// @inheritdoc IDynamicMarginController
    function poke() external returns (uint256 scale) {
        uint256 skewNow = _skewNow();
        uint256 price = _oracle.price();
        ControllerParams memory p = _params;
        _state.observe(p, skewNow, price);
        uint256 average = _state.skewAverage;
        scale = MarginControlMath.target(p, _state.volatility(), average);
        if (scale != _market.marginScale()) _market.setMarginScale(scale);
        emit Poked(price, _state.volatility(), skewNow, average, scale);
    }

    /// @inheritdoc IDynamicMarginController
    function setParameters(ControllerParams calldata params_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParameters(params_);
    }

    function _setParameters(ControllerParams memory p) private {
        MarginControlMath.validate(p);
        _params = p;
        emit ControllerParametersUpdated(p);
    }

    /// @dev |long − short| / (long + short) of the market's open interest now, WAD (0 if empty).
    function _skewNow() private view returns (uint256) {
        (uint256 longs, uint256 shorts) = _market.openInterest();
        return MarginControlMath.skewFraction(longs, shorts);
    }

    /// @inheritdoc IDynamicMarginController
    function volatility() external view returns (uint256) {
        return _state.volatility();
    }

    /// @inheritdoc IDynamicMarginController
    function targetScale() external view returns (uint256) {
        ControllerParams memory p = _params;
        return MarginControlMath.target(p, _state.volatility(), _state.skewAverageAt(p, _skewNow()));
    }

    /// @inheritdoc IDynamicMarginController
    function skewAverage() external view returns (uint256) {
        return _state.skewAverage;
    }

    /// @inheritdoc IDynamicMarginController
    function parameters() external view returns (ControllerParams memory) {
        return _params;
    }
}
