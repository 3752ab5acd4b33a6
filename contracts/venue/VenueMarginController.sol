// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {IPerpVenue} from "../interfaces/IPerpVenue.sol";
import {IPerpVenueTypes, MarketId} from "../interfaces/IPerpVenueTypes.sol";
import {IVenueMarginController} from "../interfaces/IVenueMarginController.sol";
import {MarginControlMath} from "../libraries/MarginControlMath.sol";

/// @title VenueMarginController
/// @notice The venue's dynamic margin controller, per market: see IVenueMarginController. Holds
///         the venue's CONTROLLER_ROLE; its own parameters change only through its admin.
contract VenueMarginController is IVenueMarginController, AccessControl {
    using MarginControlMath for MarginControlMath.State;

    IPerpVenue private immutable _venue;
    mapping(MarketId market => IVenueMarginController.ControllerParams params) private _params;
    mapping(MarketId market => MarginControlMath.State state) private _state;
    mapping(MarketId market => bool controlled) private _controlled;
    /// @dev Controlled markets, each once (≤ the venue's MAX_MARKETS).
    MarketId[] private _markets;

    /// @param admin DEFAULT_ADMIN_ROLE (the timelock): sets each market's parameters.
    constructor(address venue_, address admin) {
        _venue = IPerpVenue(venue_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IVenueMarginController
    function poke(MarketId market) public returns (uint256 scale) {
        if (!_controlled[market]) revert MarketNotControlled(market);
        IPerpVenueTypes.MarketView memory v = _venue.marketState(market);
        uint256 skewNow = MarginControlMath.skewFraction(v.longOpenInterest, v.shortOpenInterest);
        uint256 price = IOracle(v.oracle).price();
        IVenueMarginController.ControllerParams memory p = _params[market];
        MarginControlMath.State storage s = _state[market];
        s.observe(p, skewNow, price);
        uint256 average = s.skewAverage;
        uint256 vol = s.volatility();
        scale = MarginControlMath.target(p, vol, average);
        if (scale != v.marginScale) _venue.setMarginScale(market, scale);
        emit Poked(market, price, vol, skewNow, average, scale);
    }

    /// @inheritdoc IVenueMarginController
    function pokeMany(MarketId[] calldata markets) external returns (uint256[] memory scales) {
        uint256 n = markets.length;
        scales = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            scales[i] = poke(markets[i]);
        }
    }

    /// @inheritdoc IVenueMarginController
    function setParameters(MarketId market, IVenueMarginController.ControllerParams calldata params_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        uint256 id = MarketId.unwrap(market);
        if (id == 0 || id > _venue.marketCount()) revert UnknownVenueMarket(market);
        MarginControlMath.validate(params_);
        _params[market] = params_;
        if (!_controlled[market]) {
            _controlled[market] = true;
            _markets.push(market);
            IPerpVenueTypes.MarketView memory v = _venue.marketState(market);
            (uint256 price, uint256 priceTime) = IOracle(v.oracle).latestPrice();
            _state[market].start(
                price, priceTime, MarginControlMath.skewFraction(v.longOpenInterest, v.shortOpenInterest)
            );
        }
        emit ControllerParametersUpdated(market, params_);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IVenueMarginController
    function parameters(MarketId market) external view returns (IVenueMarginController.ControllerParams memory) {
        return _params[market];
    }

    /// @inheritdoc IVenueMarginController
    function controlledMarkets() external view returns (MarketId[] memory) {
        return _markets;
    }

    /// @inheritdoc IVenueMarginController
    function volatility(MarketId market) external view returns (uint256) {
        return _state[market].volatility();
    }

    /// @inheritdoc IVenueMarginController
    function targetScale(MarketId market) external view returns (uint256) {
        if (!_controlled[market]) revert MarketNotControlled(market);
        IPerpVenueTypes.MarketView memory v = _venue.marketState(market);
        IVenueMarginController.ControllerParams memory p = _params[market];
        MarginControlMath.State storage s = _state[market];
        uint256 skewNow = MarginControlMath.skewFraction(v.longOpenInterest, v.shortOpenInterest);
        return MarginControlMath.target(p, s.volatility(), s.skewAverageAt(p, skewNow));
    }

    /// @inheritdoc IVenueMarginController
    function skewAverage(MarketId market) external view returns (uint256) {
        return _state[market].skewAverage;
    }

    /// @inheritdoc IVenueMarginController
    function venue() external view returns (address) {
        return address(_venue);
    }
}
