// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPerpVenueGovernance} from "../interfaces/IPerpVenue.sol";
import {MarketId, MAX_MARKETS} from "../interfaces/IPerpVenueTypes.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {VenueStorage} from "./VenueStorage.sol";
import {VenueMarket} from "./VenueMarket.sol";
import {VenueParams} from "./VenueParams.sol";

/// @title VenueGovernanceModule
/// @notice Listing and parameter changes of the venue's markets: the governor (the timelock)
///         lists markets and changes anything after its delay; the guardian only tightens one
///         market at once; the margin controller sets a market's margin scale. Runs only through
///         the venue's `delegatecall`.
contract VenueGovernanceModule is IPerpVenueGovernance, VenueStorage {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;
    using VenueMarket for VenueMarket.State;

    /// @dev Bounds on the margin scale the controller may set, WAD.
    uint256 internal constant MIN_MARGIN_SCALE = 0.1e18;
    uint256 internal constant MAX_MARGIN_SCALE = 10e18;

    address private immutable _self;

    constructor() {
        _self = address(this);
    }

    modifier onlyDelegated() {
        if (address(this) == _self) revert OnlyDelegateCall();
        _;
    }

    // ---------------------------------------------------------------------------------------
    // Governor (timelock)
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenueGovernance
    function listMarket(bytes32 symbol, address oracle, MarketParams calldata params, MarginTier[] calldata tiers)
        external
        onlyDelegated
        onlyRole(GOVERNOR_ROLE)
        returns (MarketId id)
    {
        if (symbol == bytes32(0)) revert InvalidParameter("symbol", 0);
        if (oracle == address(0)) revert InvalidParameter("oracle", 0);
        MarketId existing = _marketBySymbol[symbol];
        if (MarketId.unwrap(existing) != 0) revert MarketAlreadyListed(symbol, existing);
        if (_marketCount >= MAX_MARKETS) revert TooManyMarkets(MAX_MARKETS);
        VenueParams.validate(params, IOracle(oracle).maxTwapWindow());
        id = MarketId.wrap(uint16(++_marketCount));
        VenueMarket.State storage m = _markets[id];
        m.symbol = symbol;
        m.oracle = IOracle(oracle);
        m.storeParams(params);
        m.marginScale = WAD;
        m.lastFundingTime = uint64(block.timestamp);
        uint128 price = SafeCast.toUint128(m.oracle.lastPrice());
        m.lastMark = price;
        m.previousMark = price;
        m.lastMarkBlock = uint64(block.number);
        _marketBySymbol[symbol] = id;
        _setTiers(m, tiers);
        emit MarketListed(id, symbol, oracle);
        emit MarketParametersUpdated(id, msg.sender, params);
        emit MarginTiersUpdated(id, msg.sender, tiers);
    }

    /// @inheritdoc IPerpVenueGovernance
    function setMarketParameters(MarketId market, MarketParams calldata params)
        external
        onlyDelegated
        onlyRole(GOVERNOR_ROLE)
    {
        _setParameters(market, params);
    }

    /// @inheritdoc IPerpVenueGovernance
    function setMarginTiers(MarketId market, MarginTier[] calldata tiers) external onlyDelegated onlyRole(GOVERNOR_ROLE) {
        VenueMarket.State storage m = _market(market);
        _setTiers(m, tiers);
        emit MarginTiersUpdated(market, msg.sender, tiers);
    }

    /// @inheritdoc IPerpVenueGovernance
    function setRiskPaused(MarketId market, bool paused) external onlyDelegated onlyRole(GOVERNOR_ROLE) {
        _market(market).riskPaused = paused;
        emit RiskPausedSet(market, msg.sender, paused);
    }

    /// @inheritdoc IPerpVenueGovernance
    function withdrawFees(address to, uint256 amount) external onlyDelegated onlyRole(GOVERNOR_ROLE) nonReentrant {
        uint256 wad = amount.unitsToWad();
        if (wad == 0) revert ZeroAmount();
        if (wad > _ledger.protocolFees) revert InsufficientBalance(int256(_ledger.protocolFees), wad);
        _ledger.protocolFees -= wad;
        _ledger.feesWithdrawn += wad;
        _collateralToken.safeTransfer(to, amount);
        emit FeesWithdrawn(to, wad);
    }

    // ---------------------------------------------------------------------------------------
    // Guardian: tighten only, per market
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenueGovernance
    function guardianSetMaxLeverage(MarketId market, uint256 maxLeverage)
        external
        onlyDelegated
        onlyRole(GUARDIAN_ROLE)
    {
        MarketParams memory p = _market(market).paramsView();
        if (maxLeverage > p.maxLeverage) revert GuardianCannotLoosen("maxLeverage", p.maxLeverage, maxLeverage);
        p.maxLeverage = maxLeverage;
        _setParameters(market, p);
    }

    /// @inheritdoc IPerpVenueGovernance
    function guardianSetMaintenanceMarginFraction(MarketId market, uint256 fraction)
        external
        onlyDelegated
        onlyRole(GUARDIAN_ROLE)
    {
        MarketParams memory p = _market(market).paramsView();
        if (fraction < p.maintenanceMarginFraction) {
            revert GuardianCannotLoosen("maintenanceMarginFraction", p.maintenanceMarginFraction, fraction);
        }
        p.maintenanceMarginFraction = fraction;
        _setParameters(market, p);
    }

    /// @inheritdoc IPerpVenueGovernance
    function guardianSetOpenInterestCaps(MarketId market, uint256 maxLong, uint256 maxShort)
        external
        onlyDelegated
        onlyRole(GUARDIAN_ROLE)
    {
        MarketParams memory p = _market(market).paramsView();
        if (maxLong > p.maxLongOpenInterest) {
            revert GuardianCannotLoosen("maxLongOpenInterest", p.maxLongOpenInterest, maxLong);
        }
        if (maxShort > p.maxShortOpenInterest) {
            revert GuardianCannotLoosen("maxShortOpenInterest", p.maxShortOpenInterest, maxShort);
        }
        p.maxLongOpenInterest = maxLong;
        p.maxShortOpenInterest = maxShort;
        _setParameters(market, p);
    }

    /// @inheritdoc IPerpVenueGovernance
    function guardianPauseRisk(MarketId market) external onlyDelegated onlyRole(GUARDIAN_ROLE) {
        _market(market).riskPaused = true;
        emit RiskPausedSet(market, msg.sender, true);
    }

    // ---------------------------------------------------------------------------------------
    // Controller
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenueGovernance
    function setMarginScale(MarketId market, uint256 scale) external onlyDelegated onlyRole(CONTROLLER_ROLE) {
        if (scale < MIN_MARGIN_SCALE || scale > MAX_MARGIN_SCALE) revert InvalidParameter("marginScale", scale);
        VenueMarket.State storage m = _market(market);
        uint256 previous = m.marginScale;
        m.marginScale = scale;
        emit MarginScaleUpdated(market, previous, scale);
    }

    // ---------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------

    /// @dev F10: funding accrues to now under the old parameters (at the last index, so a stale
    ///      oracle cannot block governance) before the new ones apply. The breaker window is
    ///      checked against the market's oracle's TWAP ring (here, not on the trading path).
    function _setParameters(MarketId market, MarketParams memory params) private {
        VenueMarket.State storage m = _market(market);
        VenueParams.validate(params, m.oracle.maxTwapWindow());
        m.accrue(m.latestPrice());
        m.storeParams(params);
        emit MarketParametersUpdated(market, msg.sender, params);
    }

    function _setTiers(VenueMarket.State storage m, MarginTier[] calldata tiers) private {
        VenueParams.validateTiers(tiers);
        delete m.tiers;
        for (uint256 i = 0; i < tiers.length; ++i) {
            m.tiers.push(VenueParams.pack(tiers[i]));
        }
    }
}
