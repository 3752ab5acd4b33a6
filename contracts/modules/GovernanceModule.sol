// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {PerpMarketBase} from "../PerpMarketBase.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {ParamsLib} from "../libraries/ParamsLib.sol";

/// @title GovernanceModule
/// @notice Parameter changes of a PerpMarket: the governor (the TimelockController) changes
///         anything after its delay; the guardian only tightens, at once; the dynamic margin
///         controller sets the margin scale. Runs only through the market's `delegatecall`.
contract GovernanceModule is PerpMarketBase {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;

    /// @dev Bounds on the margin scale the controller may set, whatever its own bounds say.
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

    /// @dev See IPerpMarket.setParameters.
    function setParameters(MarketParams calldata params) external onlyDelegated onlyRole(GOVERNOR_ROLE) {
        _setParameters(params);
    }

    /// @dev See IPerpMarket.setMarginTiers.
    function setMarginTiers(MarginTier[] calldata tiers) external onlyDelegated onlyRole(GOVERNOR_ROLE) {
        ParamsLib.validateTiers(tiers);
        delete _tiers;
        for (uint256 i = 0; i < tiers.length; ++i) {
            _tiers.push(ParamsLib.pack(tiers[i]));
        }
        emit MarginTiersUpdated(msg.sender, tiers);
    }

    /// @dev See IPerpMarket.setRiskPaused.
    function setRiskPaused(bool paused) external onlyDelegated onlyRole(GOVERNOR_ROLE) {
        _riskPaused = paused;
        emit RiskPausedSet(msg.sender, paused);
    }

    /// @dev See IPerpMarket.withdrawFees.
    function withdrawFees(address to, uint256 amount) external onlyDelegated onlyRole(GOVERNOR_ROLE) nonReentrant {
        uint256 wad = amount.unitsToWad();
        if (wad == 0) revert ZeroAmount();
        if (wad > _ledger.protocolFees) revert InsufficientBalance(_ledger.protocolFees, wad);
        _ledger.protocolFees -= wad;
        _ledger.feesWithdrawn += wad;
        _collateralToken.safeTransfer(to, amount);
        emit FeesWithdrawn(to, wad);
    }

    // ---------------------------------------------------------------------------------------
    // Guardian: tighten only
    // ---------------------------------------------------------------------------------------

    /// @dev See IPerpMarket.guardianSetMaxLeverage.
    function guardianSetMaxLeverage(uint256 maxLeverage) external onlyDelegated onlyRole(GUARDIAN_ROLE) {
        MarketParams memory p = _params;
        if (maxLeverage > p.maxLeverage) revert GuardianCannotLoosen("maxLeverage", p.maxLeverage, maxLeverage);
        p.maxLeverage = maxLeverage;
        _setParameters(p);
    }

    /// @dev See IPerpMarket.guardianSetMaintenanceMarginFraction.
    function guardianSetMaintenanceMarginFraction(uint256 fraction) external onlyDelegated onlyRole(GUARDIAN_ROLE) {
        MarketParams memory p = _params;
        if (fraction < p.maintenanceMarginFraction) {
            revert GuardianCannotLoosen("maintenanceMarginFraction", p.maintenanceMarginFraction, fraction);
        }
        p.maintenanceMarginFraction = fraction;
        _setParameters(p);
    }

    /// @dev See IPerpMarket.guardianSetOpenInterestCaps.
    function guardianSetOpenInterestCaps(uint256 maxLong, uint256 maxShort)
        external
        onlyDelegated
        onlyRole(GUARDIAN_ROLE)
    {
        MarketParams memory p = _params;
        if (maxLong > p.maxLongOpenInterest) {
            revert GuardianCannotLoosen("maxLongOpenInterest", p.maxLongOpenInterest, maxLong);
        }
        if (maxShort > p.maxShortOpenInterest) {
            revert GuardianCannotLoosen("maxShortOpenInterest", p.maxShortOpenInterest, maxShort);
        }
        p.maxLongOpenInterest = maxLong;
        p.maxShortOpenInterest = maxShort;
        _setParameters(p);
    }

    /// @dev See IPerpMarket.guardianPauseRisk.
    function guardianPauseRisk() external onlyDelegated onlyRole(GUARDIAN_ROLE) {
        _riskPaused = true;
        emit RiskPausedSet(msg.sender, true);
    }

    // ---------------------------------------------------------------------------------------
    // Controller
    // ---------------------------------------------------------------------------------------

    /// @dev See IPerpMarket.setMarginScale.
    function setMarginScale(uint256 scale) external onlyDelegated onlyRole(CONTROLLER_ROLE) {
        if (scale < MIN_MARGIN_SCALE || scale > MAX_MARGIN_SCALE) revert InvalidParameter("marginScale", scale);
        uint256 previous = _marginScale;
        _marginScale = scale;
        emit MarginScaleUpdated(previous, scale);
    }

    // ---------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------

    /// @dev F10: funding accrued up to now is settled into the indices under the parameters
    ///      it accrued under, before the new ones apply (at the latest index price, without the
    ///      staleness check, so a stale oracle cannot block a parameter change). Before, the
    ///      whole interval since the last accrual was re-priced with the new funding model.
    ///      The breaker window is checked against the oracle's TWAP ring here, on the governance
    ///      path, so a parameter change cannot make `_breaker` revert on every trade.
    function _setParameters(MarketParams memory p) private {
        ParamsLib.validate(p, _oracle.maxTwapWindow());
        _accrueFunding(_latestPrice());
        _params = p;
        emit ParametersUpdated(msg.sender, p);
    }
}
