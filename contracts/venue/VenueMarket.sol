// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPerpVenueTypes, MarketId} from "../interfaces/IPerpVenueTypes.sol";
import {IPerpVenueErrors} from "../interfaces/IPerpVenue.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {MarginMath} from "../libraries/MarginMath.sol";

/// @title VenueMarket
/// @notice One market of the venue as stored (like v4-core's `Pool.State`) and the logic over
///         it: prices, funding, open interest, fills, margin requirements, circuit breaker and the
///         per-block liquidation cap. Every function is `internal`, so it is compiled into the
///         contract that calls it; the state lives in the venue's storage.
/// @dev Units as in IPerpVenueTypes (WAD prices, sizes and USD).
library VenueMarket {
    using FixedPointMath for uint256;
    using FixedPointMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    uint256 internal constant WAD = 1e18;

    /// @notice The per-market state struct.
    struct State {
        bytes32 symbol;
        IOracle oracle;
        /// @dev `IPerpVenueTypes.MarketParams` as stored (`storeParams` / `paramsView`).
        Params params;
        MarginMath.PackedTier[] tiers;
        /// @dev Dynamic margin scale (WAD, 1e18 = none).
        uint256 marginScale;
        // Fields written together share a slot (gas): both open interests (every fill), both
        // funding indices, the rate with the accrual time and mark block (`accrue`), both marks.
        uint128 longOpenInterest;
        uint128 shortOpenInterest;
        int128 longFundingIndex;
        int128 shortFundingIndex;
        int128 fundingRatePerDay;
        uint64 lastFundingTime;
        /// @dev Block of the last touch; `lastMark` the index then, `previousMark` the index at
        ///      the last touch before that block (Hyperliquid's previous mark), WAD.
        uint64 lastMarkBlock;
        uint128 lastMark;
        uint128 previousMark;
        bool riskPaused;
        uint256 rateLimitBlock;
        uint256 rateLimitUsed;
        Ledger ledger;
    }

    /// @notice The market's ledger as stored: `IPerpVenueTypes.MarketLedger` in uint128 pairs,
    ///         the fields written together in one slot (WAD USD / base units / prices < 2^128).
    struct Ledger {
        uint128 badDebtLongs;
        uint128 badDebtShorts;
        uint128 totalDeficit;
        uint128 totalBadDebt;
        uint128 liquidatedNotional;
        uint128 liquidationPenalties;
        // A side's queued contracts and their average ADL price are written together.
        uint128 adlContractsLongs;
        uint128 adlPriceLongs;
        uint128 adlContractsShorts;
        uint128 adlPriceShorts;
        // Bad debt written off as final (no ADL call can clear it), per bankrupt side.
        uint128 finalBadDebtLongs;
        uint128 finalBadDebtShorts;
        uint128 paidByInsurance;
        uint128 socializedLoss;
        uint128 adlHaircuts;
        uint128 adlCovered;
        uint128 fees;
    }

    /// @notice A market's parameters as stored: the fields of `IPerpVenueTypes.MarketParams`
    ///         (same names and units) in a few slots, the fields a liquidation or a fill reads
    ///         together in one slot (gas: one cold SLOAD instead of one per field). Each narrow
    ///         type holds every value `VenueParams.validate` accepts (bps ≤ 10,000, cooldown
    ///         ≤ 1 day, WAD fractions ≤ 1e18, leverage ≤ 1,000e18, velocity ≤ 100e18, caps and
    ///         skew scale ≤ 2^128 − 1, ≤ 100 ADL accounts); the unbounded ones stay uint256.
    struct Params {
        // -- liquidation, ADL, breaker band, maintenance margin, fee share -------------------
        uint16 liquidationPenaltyBps;
        uint16 keeperShareBps;
        uint16 partialLiquidationShareBps;
        uint16 maxLiquidationImpactBps;
        uint32 liquidationCooldown;
        bool fullLiquidationAfterCooldown;
        bool liquidationsHaltOnBreaker;
        IPerpVenueTypes.AdlPolicy adlPolicy;
        IPerpVenueTypes.AdlPriceMode adlPriceMode;
        uint16 maxAdlAccountsPerCall;
        uint16 circuitBreakerBandBps;
        uint64 maintenanceMarginFraction;
        uint16 insuranceFeeShareBps;
        // -- fills and velocity funding ------------------------------------------------------
        uint128 skewScale;
        uint96 maxFundingVelocity;
        IPerpVenueTypes.FundingModel fundingModel;
        uint16 takerFeeBps;
        // -- funding cap, leverage, backstop -------------------------------------------------
        uint64 maxFundingRatePerHour;
        uint96 maxLeverage;
        uint64 backstopFraction;
        // -- premium funding -----------------------------------------------------------------
        uint64 premiumInterestRate8h;
        uint64 premiumClamp8h;
        // -- open-interest caps --------------------------------------------------------------
        uint128 maxLongOpenInterest;
        uint128 maxShortOpenInterest;
        // -- unbounded by validation: full width ---------------------------------------------
        uint256 partialLiquidationThreshold;
        uint256 maxLiquidationNotionalPerBlock;
        uint256 oiImfLowerCap;
        uint256 oiImfUpperCap;
        uint256 circuitBreakerWindow;
    }

    /// @notice Funding indices and rate at a moment (in memory).
    struct Funding {
        int256 longIndex;
        int256 shortIndex;
        int256 ratePerDay;
    }

    /// @dev `a + b` stored back in 128 bits (SafeCast: reverts rather than wraps).
    function plus(uint128 a, uint256 b) internal pure returns (uint128) {
        return (uint256(a) + b).toUint128();
    }

    /// @dev `a − b` (b ≤ a, checked).
    function minus(uint128 a, uint256 b) internal pure returns (uint128) {
        return (uint256(a) - b).toUint128();
    }

    /// @dev Store validated parameters (`VenueParams.validate` first): SafeCast narrows each
    ///      field, so a value the validation let through but the slot cannot hold reverts.
    function storeParams(State storage m, IPerpVenueTypes.MarketParams memory p) internal {
        m.params = Params({
            liquidationPenaltyBps: p.liquidationPenaltyBps.toUint16(),
            keeperShareBps: p.keeperShareBps.toUint16(),
            partialLiquidationShareBps: p.partialLiquidationShareBps.toUint16(),
            maxLiquidationImpactBps: p.maxLiquidationImpactBps.toUint16(),
            liquidationCooldown: p.liquidationCooldown.toUint32(),
            fullLiquidationAfterCooldown: p.fullLiquidationAfterCooldown,
            liquidationsHaltOnBreaker: p.liquidationsHaltOnBreaker,
            adlPolicy: p.adlPolicy,
            adlPriceMode: p.adlPriceMode,
            maxAdlAccountsPerCall: p.maxAdlAccountsPerCall.toUint16(),
            circuitBreakerBandBps: p.circuitBreakerBandBps.toUint16(),
            maintenanceMarginFraction: p.maintenanceMarginFraction.toUint64(),
            takerFeeBps: p.takerFeeBps.toUint16(),
            insuranceFeeShareBps: p.insuranceFeeShareBps.toUint16(),
            fundingModel: p.fundingModel,
            maxLeverage: p.maxLeverage.toUint96(),
            maxFundingVelocity: p.maxFundingVelocity.toUint96(),
            premiumInterestRate8h: p.premiumInterestRate8h.toUint64(),
            premiumClamp8h: p.premiumClamp8h.toUint64(),
            maxFundingRatePerHour: p.maxFundingRatePerHour.toUint64(),
            backstopFraction: p.backstopFraction.toUint64(),
            skewScale: p.skewScale.toUint128(),
            maxLongOpenInterest: p.maxLongOpenInterest.toUint128(),
            maxShortOpenInterest: p.maxShortOpenInterest.toUint128(),
            partialLiquidationThreshold: p.partialLiquidationThreshold,
            maxLiquidationNotionalPerBlock: p.maxLiquidationNotionalPerBlock,
            oiImfLowerCap: p.oiImfLowerCap,
            oiImfUpperCap: p.oiImfUpperCap,
            circuitBreakerWindow: p.circuitBreakerWindow
        });
    }

    /// @dev The stored parameters in the interface's form (exactly the values stored).
    function paramsView(State storage m) internal view returns (IPerpVenueTypes.MarketParams memory v) {
        Params storage p = m.params;
        v.maxLeverage = p.maxLeverage;
        v.maintenanceMarginFraction = p.maintenanceMarginFraction;
        v.oiImfLowerCap = p.oiImfLowerCap;
        v.oiImfUpperCap = p.oiImfUpperCap;
        v.maxLongOpenInterest = p.maxLongOpenInterest;
        v.maxShortOpenInterest = p.maxShortOpenInterest;
        v.skewScale = p.skewScale;
        v.takerFeeBps = p.takerFeeBps;
        v.insuranceFeeShareBps = p.insuranceFeeShareBps;
        v.fundingModel = p.fundingModel;
        v.maxFundingVelocity = p.maxFundingVelocity;
        v.premiumInterestRate8h = p.premiumInterestRate8h;
        v.premiumClamp8h = p.premiumClamp8h;
        v.maxFundingRatePerHour = p.maxFundingRatePerHour;
        v.liquidationPenaltyBps = p.liquidationPenaltyBps;
        v.keeperShareBps = p.keeperShareBps;
        v.partialLiquidationThreshold = p.partialLiquidationThreshold;
        v.partialLiquidationShareBps = p.partialLiquidationShareBps;
        v.liquidationCooldown = p.liquidationCooldown;
        v.fullLiquidationAfterCooldown = p.fullLiquidationAfterCooldown;
        v.maxLiquidationNotionalPerBlock = p.maxLiquidationNotionalPerBlock;
        v.maxLiquidationImpactBps = p.maxLiquidationImpactBps;
        v.backstopFraction = p.backstopFraction;
        v.adlPolicy = p.adlPolicy;
        v.adlPriceMode = p.adlPriceMode;
        v.maxAdlAccountsPerCall = p.maxAdlAccountsPerCall;
        v.circuitBreakerBandBps = p.circuitBreakerBandBps;
        v.circuitBreakerWindow = p.circuitBreakerWindow;
        v.liquidationsHaltOnBreaker = p.liquidationsHaltOnBreaker;
    }

    /// @dev The ledger in the interface's uint256 form.
    function ledgerView(State storage m) internal view returns (IPerpVenueTypes.MarketLedger memory v) {
        Ledger storage l = m.ledger;
        v = IPerpVenueTypes.MarketLedger({
            badDebtLongs: l.badDebtLongs,
            badDebtShorts: l.badDebtShorts,
            adlContractsLongs: l.adlContractsLongs,
            adlContractsShorts: l.adlContractsShorts,
            adlPriceLongs: l.adlPriceLongs,
            adlPriceShorts: l.adlPriceShorts,
            finalBadDebtLongs: l.finalBadDebtLongs,
            finalBadDebtShorts: l.finalBadDebtShorts,
            totalDeficit: l.totalDeficit,
            paidByInsurance: l.paidByInsurance,
            totalBadDebt: l.totalBadDebt,
            socializedLoss: l.socializedLoss,
            adlHaircuts: l.adlHaircuts,
            adlCovered: l.adlCovered,
            fees: l.fees,
            liquidationPenalties: l.liquidationPenalties,
            liquidatedNotional: l.liquidatedNotional
        });
    }

    // ---------------------------------------------------------------------------------------
    // Prices and funding
    // ---------------------------------------------------------------------------------------

    /// @dev The oracle price, reverting `StalePrice` when stale: every state change uses it.
    function freshPrice(State storage m) internal view returns (uint256) {
        return m.oracle.price();
    }

    /// @dev The oracle price without the staleness check: views use it.
    function latestPrice(State storage m) internal view returns (uint256) {
        return m.oracle.lastPrice();
    }

    function skew(State storage m) internal view returns (int256) {
        return int256(uint256(m.longOpenInterest)) - int256(uint256(m.shortOpenInterest));
    }

    /// @dev Only the fields the market's model reads (`PerpMath.nextFundingRate`): the other
    ///      model's stay 0 in memory, which saves their cold SLOADs on every accrual.
    function fundingConfig(State storage m) internal view returns (PerpMath.FundingConfig memory c) {
        Params storage p = m.params;
        c.model = uint8(p.fundingModel);
        c.skewScale = p.skewScale;
        if (p.fundingModel == IPerpVenueTypes.FundingModel.VELOCITY) {
            c.maxFundingVelocity = p.maxFundingVelocity;
        } else {
            c.premiumInterestRate8h = p.premiumInterestRate8h;
            c.premiumClamp8h = p.premiumClamp8h;
        }
        c.maxFundingRatePerHour = p.maxFundingRatePerHour;
    }

    /// @dev Funding accrued to now at `price` under the current parameters, without writing it.
    function fundingNow(State storage m, uint256 price) internal view returns (Funding memory f) {
        f = Funding(m.longFundingIndex, m.shortFundingIndex, m.fundingRatePerDay);
        uint256 dt = block.timestamp - m.lastFundingTime;
        if (dt == 0) return f;
        (int256 rate, int256 average) = PerpMath.nextFundingRate(fundingConfig(m), skew(m), f.ratePerDay, dt);
        (int256 longInc, int256 shortInc) = PerpMath.fundingIncrements(average, dt, price);
        f.longIndex += longInc;
        f.shortIndex += shortInc;
        f.ratePerDay = rate;
    }

    /// @dev Accrue funding into the indices (once per block) and track the previous mark.
    ///      Called before every change of open interest or of parameters (F10), so each interval
    ///      accrues at the skew and under the parameters that held during it.
    function accrue(State storage m, uint256 price) internal {
        if (m.lastFundingTime != block.timestamp) {
            Funding memory f = fundingNow(m, price);
            m.longFundingIndex = f.longIndex.toInt128();
            m.shortFundingIndex = f.shortIndex.toInt128();
            m.fundingRatePerDay = f.ratePerDay.toInt128();
            m.lastFundingTime = uint64(block.timestamp);
        }
        uint128 mark = price.toUint128();
        if (m.lastMarkBlock != block.number) {
            m.lastMarkBlock = uint64(block.number);
            (m.previousMark, m.lastMark) = (m.lastMark, mark);
        } else if (m.lastMark != mark) {
            m.lastMark = mark;
        }
    }

    /// @dev The stored funding indices and rate (accrued to this block by `accrue`).
    function funding(State storage m) internal view returns (Funding memory) {
        return Funding(m.longFundingIndex, m.shortFundingIndex, m.fundingRatePerDay);
    }

    /// @dev Accrue, then return the indices: what every state change settles positions against.
    function accrued(State storage m, uint256 price) internal returns (Funding memory) {
        accrue(m, price);
        return funding(m);
    }

    // ---------------------------------------------------------------------------------------
    // Fills and open interest
    // ---------------------------------------------------------------------------------------

    /// @dev Synthetix skew fill (PerpMath.fillPrice); 0 when impact would make it non-positive.
    function fill(State storage m, uint256 price, int256 delta) internal view returns (uint256) {
        return PerpMath.fillPrice(price, skew(m), delta, m.params.skewScale);
    }

    /// @dev Liquidation fill: the skew fill clamped to `price·(1 ± maxLiquidationImpactBps)` (F7).
    ///      Sells round down, buys round up, like every fill.
    function liquidationFill(State storage m, uint256 price, int256 delta) internal view returns (uint256 f) {
        f = fill(m, price, delta);
        uint256 band = m.params.maxLiquidationImpactBps;
        uint256 lo = price.mulBpsUp(FixedPointMath.BPS - FixedPointMath.min(band, FixedPointMath.BPS));
        uint256 hi = price.mulBpsDown(FixedPointMath.BPS + band);
        if (f < lo) f = lo;
        if (f > hi) f = hi;
        if (f == 0) f = 1;
    }

    /// @dev Move open interest from `oldSize` to `newSize`; returns which sides grew.
    function moveOpenInterest(State storage m, int256 oldSize, int256 newSize)
        internal
        returns (bool longUp, bool shortUp)
    {
        uint256 longOi = m.longOpenInterest;
        uint256 shortOi = m.shortOpenInterest;
        uint256 longBefore = longOi;
        uint256 shortBefore = shortOi;
        if (oldSize > 0) longOi -= uint256(oldSize);
        else shortOi -= uint256(-oldSize);
        if (newSize > 0) longOi += uint256(newSize);
        else shortOi += uint256(-newSize);
        m.longOpenInterest = longOi.toUint128();
        m.shortOpenInterest = shortOi.toUint128();
        return (longOi > longBefore, shortOi > shortBefore);
    }

    /// @dev Each side against its own cap.
    function checkOpenInterestCaps(State storage m, MarketId id, bool longUp, bool shortUp) internal view {
        if (longUp && m.longOpenInterest > m.params.maxLongOpenInterest) {
            revert IPerpVenueErrors.OpenInterestCapExceeded(id, true, m.longOpenInterest, m.params.maxLongOpenInterest);
        }
        if (shortUp && m.shortOpenInterest > m.params.maxShortOpenInterest) {
            revert IPerpVenueErrors.OpenInterestCapExceeded(
                id, false, m.shortOpenInterest, m.params.maxShortOpenInterest
            );
        }
    }

    // ---------------------------------------------------------------------------------------
    // Margin
    // ---------------------------------------------------------------------------------------

    /// @dev Notional at `price`, rounded up (requirements grow with it).
    function notional(int256 size, uint256 price) internal pure returns (uint256) {
        return size.abs().mulWadUp(price);
    }

    /// @dev Maintenance margin of `size` at `price` (tiers and scale of the market), rounded up.
    function maintenanceMargin(State storage m, int256 size, uint256 price) internal view returns (uint256) {
        if (size == 0) return 0;
        return MarginMath.requirement(
            notional(size, price), m.params.maintenanceMarginFraction, m.tiers, false, m.marginScale
        );
    }

    /// @dev Initial margin with tiers, scale and dYdX OI scaling on max(long, short) open notional.
    function initialMargin(State storage m, int256 size, uint256 price) internal view returns (uint256) {
        if (size == 0) return 0;
        uint256 n = notional(size, price);
        uint256 im = MarginMath.requirement(n, WAD.divWadUp(m.params.maxLeverage), m.tiers, true, m.marginScale);
        if (m.params.oiImfUpperCap == 0) return im;
        uint256 openSize = FixedPointMath.max(m.longOpenInterest, m.shortOpenInterest);
        return MarginMath.oiScaledInitialMargin(
            im, n, openSize.mulWadUp(price), m.params.oiImfLowerCap, m.params.oiImfUpperCap
        );
    }

    /// @dev Liquidation price of a position whose "other" equity is `collateral` (see
    ///      MarginMath.liquidationPrice: `collateral + s·(P − entry) = MM(P)`).
    function liquidationPrice(State storage m, int256 size, uint256 entry, int256 collateral)
        internal
        view
        returns (uint256)
    {
        return MarginMath.liquidationPrice(
            size, entry, collateral, m.params.maintenanceMarginFraction, m.tiers, m.marginScale
        );
    }

    // ---------------------------------------------------------------------------------------
    // Circuit breaker and liquidation cap
    // ---------------------------------------------------------------------------------------

    /// @dev Whether the breaker is tripped at `price` (views).
    function breakerTripped(State storage m, uint256 price) internal view returns (bool) {
        uint256 band = m.params.circuitBreakerBandBps;
        if (band == 0) return false;
        uint256 referencePrice = m.oracle.twap(m.params.circuitBreakerWindow);
        uint256 move = price > referencePrice ? price - referencePrice : referencePrice - price;
        return move * FixedPointMath.BPS > band * referencePrice;
    }

    function breaker(State storage m, uint256 price) internal view returns (bool tripped, uint256 referencePrice) {
        uint256 band = m.params.circuitBreakerBandBps;
        if (band == 0) return (false, price);
        referencePrice = m.oracle.twap(m.params.circuitBreakerWindow);
        uint256 move = price > referencePrice ? price - referencePrice : referencePrice - price;
        tripped = move * FixedPointMath.BPS > band * referencePrice;
    }

    function checkBreaker(State storage m, MarketId id, uint256 price) internal view {
        (bool tripped, uint256 referencePrice) = breaker(m, price);
        if (tripped) {
            revert IPerpVenueErrors.CircuitBreakerTripped(id, price, referencePrice, m.params.circuitBreakerBandBps);
        }
    }

    /// @dev Per-block cap on liquidated notional (at the index): the size that fits, 0 if none.
    function rateLimited(State storage m, uint256 closeSize, uint256 price) internal returns (uint256) {
        uint256 cap = m.params.maxLiquidationNotionalPerBlock;
        if (cap == 0) return closeSize;
        if (m.rateLimitBlock != block.number) {
            m.rateLimitBlock = block.number;
            m.rateLimitUsed = 0;
        }
        uint256 used = m.rateLimitUsed;
        uint256 room = used < cap ? cap - used : 0;
        uint256 n = closeSize.mulWadUp(price);
        if (n > room) {
            closeSize = room.divWadDown(price);
            if (closeSize == 0) return 0;
            n = closeSize.mulWadUp(price);
        }
        m.rateLimitUsed = used + n;
        return closeSize;
    }

    /// @dev Hyperliquid's ADL rank `(mark/entry)·(notional/account value)`; for shorts the profit
    ///      ratio is entry/mark, so a larger score always means a larger winner.
    function adlScore(int256 size, uint256 entry, uint256 price, uint256 accountValue)
        internal
        pure
        returns (uint256)
    {
        uint256 ratio = size > 0 ? price.divWadDown(entry) : entry.divWadDown(price);
        return ratio.mulWadDown(size.abs().mulWadDown(price)).divWadDown(accountValue);
    }
}
