// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPerpVenueTypes} from "../interfaces/IPerpVenueTypes.sol";
import {IPerpVenueErrors} from "../interfaces/IPerpVenue.sol";
import {MarginMath} from "../libraries/MarginMath.sol";

/// @title VenueParams
/// @notice Validation of one market's parameters and margin tiers; reverts
///         `InvalidParameter(name, value)` naming the field, or `CircuitBreakerWindowTooLong`
///         when the breaker window exceeds the market oracle's TWAP ring.
library VenueParams {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    /// @dev Tiers beyond this many are refused, so margin math stays bounded in gas.
    uint256 internal constant MAX_TIERS = 8;
    /// @dev Upper bound of `maxAdlAccountsPerCall`.
    uint256 internal constant MAX_ADL_ACCOUNTS = 100;

    function _bad(bytes32 name, uint256 value) private pure {
        revert IPerpVenueErrors.InvalidParameter(name, value);
    }

    /// @param maxTwapWindow The market oracle's `maxTwapWindow()`, seconds: the breaker window
    ///        must not exceed it (whether or not the band is on), or `twap` reverts
    ///        `TwapWindowTooLong` on every trade once the band is set.
    function validate(IPerpVenueTypes.MarketParams memory p, uint256 maxTwapWindow) internal pure {
        if (p.maxLeverage < WAD || p.maxLeverage > 1000 * WAD) _bad("maxLeverage", p.maxLeverage);
        if (p.maintenanceMarginFraction == 0 || p.maintenanceMarginFraction * p.maxLeverage >= WAD * WAD) {
            _bad("maintenanceMarginFraction", p.maintenanceMarginFraction);
        }
        if (p.oiImfUpperCap != 0 && p.oiImfUpperCap <= p.oiImfLowerCap) _bad("oiImfUpperCap", p.oiImfUpperCap);
        if (p.maxLongOpenInterest == 0 || p.maxLongOpenInterest > type(uint128).max) {
            _bad("maxLongOpenInterest", p.maxLongOpenInterest);
        }
        if (p.maxShortOpenInterest == 0 || p.maxShortOpenInterest > type(uint128).max) {
            _bad("maxShortOpenInterest", p.maxShortOpenInterest);
        }
        if (p.skewScale > type(uint128).max) _bad("skewScale", p.skewScale);
        if (p.takerFeeBps > 1000) _bad("takerFeeBps", p.takerFeeBps);
        if (p.insuranceFeeShareBps > BPS) _bad("insuranceFeeShareBps", p.insuranceFeeShareBps);
        if (p.premiumClamp8h > WAD) _bad("premiumClamp8h", p.premiumClamp8h);
        if (p.premiumInterestRate8h > WAD) _bad("premiumInterestRate8h", p.premiumInterestRate8h);
        if (p.maxFundingVelocity > 100 * WAD) _bad("maxFundingVelocity", p.maxFundingVelocity);
        if (p.maxFundingRatePerHour > WAD) _bad("maxFundingRatePerHour", p.maxFundingRatePerHour);
        if (p.liquidationPenaltyBps > BPS) _bad("liquidationPenaltyBps", p.liquidationPenaltyBps);
        if (p.keeperShareBps > BPS) _bad("keeperShareBps", p.keeperShareBps);
        if (p.partialLiquidationShareBps == 0 || p.partialLiquidationShareBps > BPS) {
            _bad("partialLiquidationShareBps", p.partialLiquidationShareBps);
        }
        if (p.liquidationCooldown > 1 days) _bad("liquidationCooldown", p.liquidationCooldown);
        if (p.maxLiquidationImpactBps > 5_000) _bad("maxLiquidationImpactBps", p.maxLiquidationImpactBps);
        if (p.backstopFraction > WAD) _bad("backstopFraction", p.backstopFraction);
        if (p.maxAdlAccountsPerCall == 0 || p.maxAdlAccountsPerCall > MAX_ADL_ACCOUNTS) {
            _bad("maxAdlAccountsPerCall", p.maxAdlAccountsPerCall);
        }
        if (p.circuitBreakerBandBps > BPS) _bad("circuitBreakerBandBps", p.circuitBreakerBandBps);
        if (p.circuitBreakerBandBps != 0 && p.circuitBreakerWindow == 0) _bad("circuitBreakerWindow", 0);
        if (p.circuitBreakerWindow > maxTwapWindow) {
            revert IPerpVenueErrors.CircuitBreakerWindowTooLong(p.circuitBreakerWindow, maxTwapWindow);
        }
    }

    /// @notice Strictly increasing positive floors, non-decreasing fractions, MMF < IMF per tier.
    function validateTiers(IPerpVenueTypes.MarginTier[] memory tiers) internal pure {
        if (tiers.length > MAX_TIERS) _bad("tiers.length", tiers.length);
        uint256 floor = 0;
        uint256 imf = 0;
        uint256 mmf = 0;
        for (uint256 i = 0; i < tiers.length; ++i) {
            IPerpVenueTypes.MarginTier memory t = tiers[i];
            if (t.notionalFloor <= floor || t.notionalFloor > type(uint128).max) {
                _bad("tiers.notionalFloor", t.notionalFloor);
            }
            if (t.initialMarginFraction < imf || t.initialMarginFraction > WAD) {
                _bad("tiers.initialMarginFraction", t.initialMarginFraction);
            }
            if (t.maintenanceMarginFraction < mmf || t.maintenanceMarginFraction >= t.initialMarginFraction) {
                _bad("tiers.maintenanceMarginFraction", t.maintenanceMarginFraction);
            }
            floor = t.notionalFloor;
            imf = t.initialMarginFraction;
            mmf = t.maintenanceMarginFraction;
        }
    }

    function pack(IPerpVenueTypes.MarginTier memory t) internal pure returns (MarginMath.PackedTier memory) {
        return MarginMath.PackedTier({
            notionalFloor: uint128(t.notionalFloor),
            initialMarginFraction: uint64(t.initialMarginFraction),
            maintenanceMarginFraction: uint64(t.maintenanceMarginFraction)
        });
    }
}
