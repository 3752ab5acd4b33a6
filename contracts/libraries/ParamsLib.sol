// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPerpMarketTypes} from "../interfaces/IPerpMarketTypes.sol";
import {IPerpMarketErrors} from "../interfaces/IPerpMarket.sol";
import {MarginMath} from "./MarginMath.sol";

/// @title ParamsLib
/// @notice Validation of market parameters and margin tiers; reverts `InvalidParameter(name, value)`,
///         or `CircuitBreakerWindowTooLong` when the breaker window exceeds the oracle's TWAP ring.
library ParamsLib {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    /// @dev Tiers beyond this many are refused, so margin math stays bounded in gas.
    uint256 internal constant MAX_TIERS = 8;

    function _bad(bytes32 name, uint256 value) private pure {
        revert IPerpMarketErrors.InvalidParameter(name, value);
    }

    /// @param maxTwapWindow The market oracle's `maxTwapWindow()`, seconds: the breaker window
    ///        must not exceed it (whether or not the band is on), or `twap` reverts
    ///        `TwapWindowTooLong` on every trade once the band is set.
    function validate(IPerpMarketTypes.MarketParams memory p, uint256 maxTwapWindow) internal pure {
        if (p.maxLeverage < WAD || p.maxLeverage > 1000 * WAD) _bad("maxLeverage", p.maxLeverage);
        // MM must stay below IM = 1/maxLeverage.
        if (p.maintenanceMarginFraction == 0 || p.maintenanceMarginFraction * p.maxLeverage >= WAD * WAD) {
            _bad("maintenanceMarginFraction", p.maintenanceMarginFraction);
        }
        if (p.oiImfUpperCap != 0 && p.oiImfUpperCap <= p.oiImfLowerCap) _bad("oiImfUpperCap", p.oiImfUpperCap);
        if (p.maxLongOpenInterest == 0) _bad("maxLongOpenInterest", 0);
        if (p.maxShortOpenInterest == 0) _bad("maxShortOpenInterest", 0);
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
        if (p.backstopFraction > WAD) _bad("backstopFraction", p.backstopFraction);
        if (p.maxAdlAccountsPerCall == 0 || p.maxAdlAccountsPerCall > 500) {
            _bad("maxAdlAccountsPerCall", p.maxAdlAccountsPerCall);
        }
        if (p.circuitBreakerBandBps > BPS) _bad("circuitBreakerBandBps", p.circuitBreakerBandBps);
        if (p.circuitBreakerBandBps != 0 && p.circuitBreakerWindow == 0) _bad("circuitBreakerWindow", 0);
        if (p.circuitBreakerWindow > maxTwapWindow) {
            revert IPerpMarketErrors.CircuitBreakerWindowTooLong(p.circuitBreakerWindow, maxTwapWindow);
        }
    }

    /// @notice Tiers must have strictly increasing positive floors, non-decreasing fractions
    ///         and MMF < IMF in every tier. Fractions below the base ones are allowed: the base
    ///         (1/maxLeverage, maintenanceMarginFraction) floors every tier when margin is computed.
    function validateTiers(IPerpMarketTypes.MarginTier[] memory tiers) internal pure {
        if (tiers.length > MAX_TIERS) _bad("tiers.length", tiers.length);
        uint256 floor = 0;
        uint256 imf = 0;
        uint256 mmf = 0;
        for (uint256 i = 0; i < tiers.length; ++i) {
            IPerpMarketTypes.MarginTier memory t = tiers[i];
            if (t.notionalFloor <= floor || t.notionalFloor > type(uint128).max) _bad("tiers.notionalFloor", t.notionalFloor);
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

    function pack(IPerpMarketTypes.MarginTier memory t) internal pure returns (MarginMath.PackedTier memory) {
        return MarginMath.PackedTier({
            notionalFloor: uint128(t.notionalFloor),
            initialMarginFraction: uint64(t.initialMarginFraction),
            maintenanceMarginFraction: uint64(t.maintenanceMarginFraction)
        });
    }
}
