// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPerpMarketTypes
/// @notice Enums and structs of a perpsim perpetual market.
/// @dev Units used everywhere in the market: prices are WAD USD per base unit (18 decimals);
///      sizes are WAD base units, signed (+ long, - short); USD amounts (margin, equity, PnL,
///      fees, notional) are WAD USD; fractions are WAD (1e18 = 100%); `...Bps` are basis points
///      (10_000 = 100%); times are seconds. Only `deposit`, `withdraw`, `seedPool`,
///      `allocateMargin` and `withdrawFees` take token amounts in collateral base units (6 decimals).
interface IPerpMarketTypes {
    /// @notice How funding accrues.
    /// @dev VELOCITY: Synthetix v3, the rate drifts with the skew:
    ///      `rate += clamp(skew/skewScale, -1, 1) * maxFundingVelocity * dt / 1 day`.
    ///      PREMIUM: Hyperliquid, `F8h = premium + clamp(interest - premium, -clamp8h, +clamp8h)`
    ///      with `premium = clamp(skew/skewScale, -1, 1)` (the mark's premium over the index),
    ///      paid continuously at F8h / 8 per hour, capped at `maxFundingRatePerHour`.
    enum FundingModel {
        VELOCITY,
        PREMIUM
    }

    /// @notice What happens to a deficit the insurance fund could not cover.
    /// @dev NONE: it stays as recorded bad debt. QUEUE: Hyperliquid-style, a keeper passes
    ///      winners ranked by `(mark/entry)·(notional/account value)`; whole positions are closed
    ///      at the index price and their profit is seized until the deficit is covered.
    ///      PRO_RATA: Chitra's fair policy, winners' profits are haircut pro rata, summing exactly
    ///      to the covered deficit. SOCIALIZED: Drift, `loss/(long OI + short OI)` is charged to
    ///      every open contract of both sides through the cumulative funding indices (O(1)),
    ///      at most the index price per contract: what that cap leaves (dust open interest)
    ///      stays recorded as bad debt.
    enum AdlPolicy {
        NONE,
        QUEUE,
        PRO_RATA,
        SOCIALIZED
    }

    /// @notice Every governance-set parameter of a market (`parameters()` returns it whole).
    struct MarketParams {
        // -- margin --------------------------------------------------------------------------
        /// @dev Maximum leverage, WAD (50e18 = 50x); the base initial margin fraction is 1/maxLeverage.
        uint256 maxLeverage;
        /// @dev Maintenance margin fraction of notional, WAD; must be below 1/maxLeverage.
        uint256 maintenanceMarginFraction;
        /// @dev dYdX OI-scaled IMF: open notional (WAD USD) where the IMF starts to rise; 0/0 = off.
        uint256 oiImfLowerCap;
        /// @dev Open notional (WAD USD) at which the IMF reaches 100%.
        uint256 oiImfUpperCap;
        // -- open interest -------------------------------------------------------------------
        /// @dev Cap on the sum of long sizes, WAD base units.
        uint256 maxLongOpenInterest;
        /// @dev Cap on the sum of short sizes, WAD base units.
        uint256 maxShortOpenInterest;
        // -- pricing and fees ----------------------------------------------------------------
        /// @dev Synthetix skew scale, WAD base units; fills pay `P·(2·skew + size)/(2·skewScale)`
        ///      of impact; 0 = no impact and no skew-based funding premium.
        uint256 skewScale;
        /// @dev Trading fee, bps of filled notional.
        uint256 takerFeeBps;
        /// @dev Share of trading fees sent to the insurance fund, bps.
        uint256 insuranceFeeShareBps;
        // -- funding -------------------------------------------------------------------------
        FundingModel fundingModel;
        /// @dev VELOCITY: maximum funding velocity, WAD rate per day per day.
        uint256 maxFundingVelocity;
        /// @dev PREMIUM: interest component per 8 hours, WAD (0.0001e18 = 0.01%).
        uint256 premiumInterestRate8h;
        /// @dev PREMIUM: clamp on `interest - premium` per 8 hours, WAD (0.0005e18 = 0.05%).
        uint256 premiumClamp8h;
        /// @dev Cap on |funding rate| per hour, WAD (0.04e18 = 4%); 0 = uncapped. Both models.
        uint256 maxFundingRatePerHour;
        // -- liquidation ---------------------------------------------------------------------
        /// @dev Penalty, bps of the liquidated notional, taken from the account's margin.
        uint256 liquidationPenaltyBps;
        /// @dev Keeper's share of the penalty, bps; the rest goes to the insurance fund.
        uint256 keeperShareBps;
        /// @dev Positions above this notional (WAD USD) are liquidated partially.
        uint256 partialLiquidationThreshold;
        /// @dev Share of the position closed by a partial liquidation, bps (2000 = 20%).
        uint256 partialLiquidationShareBps;
        /// @dev Seconds after a partial liquidation during which the account cannot be
        ///      liquidated again (the backstop may still take it over).
        uint256 liquidationCooldown;
        /// @dev true (Hyperliquid): after the cooldown the whole position goes; false (dYdX):
        ///      liquidations stay partial, at most one per account per block.
        bool fullLiquidationAfterCooldown;
        /// @dev Cap on liquidated notional per block, WAD USD; 0 = no limit.
        uint256 maxLiquidationNotionalPerBlock;
        /// @dev The backstop vault may take over a position when equity < backstopFraction·MM, WAD.
        uint256 backstopFraction;
        AdlPolicy adlPolicy;
        /// @dev Upper bound on the accounts passed to one `adl` call.
        uint256 maxAdlAccountsPerCall;
        // -- circuit breaker -----------------------------------------------------------------
        /// @dev New risk is refused while |index - TWAP| > band·TWAP, bps; 0 = off.
        uint256 circuitBreakerBandBps;
        /// @dev TWAP window of the circuit breaker reference, seconds.
        uint256 circuitBreakerWindow;
        /// @dev When true, liquidations also stop while the breaker is tripped.
        bool liquidationsHaltOnBreaker;
    }

    /// @notice One margin tier above the base tier (Hyperliquid deduction form).
    /// @dev Tier n applies to notional >= notionalFloor; requirement
    ///      `notional·rate_n − deduction_n` with `deduction_n = deduction_{n−1} +
    ///      notionalFloor_n·(rate_n − rate_{n−1})`, so margin is continuous in notional.
    ///      The base tier (floor 0) is `1/maxLeverage` and `maintenanceMarginFraction`, and it
    ///      floors every tier: a tier's effective fraction is max(tier fraction, base fraction),
    ///      so lowering the maximum leverage caps the leverage of every tier.
    struct MarginTier {
        /// @dev Notional where the tier starts, WAD USD; strictly increasing across tiers.
        uint256 notionalFloor;
        /// @dev Initial margin fraction of the tier, WAD; non-decreasing across tiers.
        uint256 initialMarginFraction;
        /// @dev Maintenance margin fraction of the tier, WAD; below the tier's IMF.
        uint256 maintenanceMarginFraction;
    }

    /// @notice An account as stored, plus its funding owed now.
    struct AccountView {
        /// @dev Signed size, WAD base units.
        int256 size;
        /// @dev Average entry price, WAD.
        uint256 entryPrice;
        /// @dev Collateral backing the position (the whole balance in cross mode), WAD USD.
        uint256 margin;
        /// @dev Isolated mode only: balance not at risk, WAD USD.
        uint256 idle;
        bool isolated;
        /// @dev Funding (and socialized loss) owed since the last settlement, WAD USD (+ = owes).
        int256 pendingFunding;
        /// @dev Timestamp of the last partial liquidation (0 = none pending).
        uint256 partialLiquidatedAt;
    }

    /// @notice The market's ledgers and cumulative flows (all WAD USD).
    /// @dev Conservation: `totalCollateral + pool + protocolFees ==
    ///      totalDeposits − totalWithdrawals + poolSeeded + paidByInsurance − paidToInsurance −
    ///      keeperRewards − feesWithdrawn == collateral.balanceOf(market)·1e12`, to the wei.
    ///      `pool` is the counterparty of every realized PnL and funding payment; bad debt is the
    ///      part of a bankrupt loss the pool absorbed that no buffer covered.
    struct Accounting {
        /// @dev Sum of all accounts' margin and idle balances.
        uint256 totalCollateral;
        /// @dev Counterparty pool (seed − traders' net realized PnL and funding − uncovered deficits).
        int256 pool;
        /// @dev Protocol fee ledger.
        uint256 protocolFees;
        uint256 totalDeposits;
        uint256 totalWithdrawals;
        uint256 poolSeeded;
        uint256 feesWithdrawn;
        /// @dev Fee shares, penalty shares and ADL overshoot sent to the insurance fund.
        uint256 paidToInsurance;
        /// @dev Deficits the insurance fund covered.
        uint256 paidByInsurance;
        /// @dev Penalty shares paid to keepers.
        uint256 keeperRewards;
        /// @dev Outstanding deficit left by bankrupt longs (winners are shorts).
        uint256 badDebtLongs;
        /// @dev Outstanding deficit left by bankrupt shorts (winners are longs).
        uint256 badDebtShorts;
        /// @dev Cumulative deficit not covered by the insurance fund (before ADL).
        uint256 totalBadDebt;
        /// @dev Cumulative loss charged through the funding indices (SOCIALIZED).
        uint256 socializedLoss;
        /// @dev Cumulative haircuts taken from winners by QUEUE / PRO_RATA ADL.
        uint256 adlHaircuts;
        /// @dev Cumulative deficit covered by QUEUE / PRO_RATA ADL.
        uint256 adlCovered;
    }
}
