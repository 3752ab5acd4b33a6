// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Id of a market of the venue, assigned 1, 2, 3... in listing order (0 is no market).
/// @dev A user-defined value type, like Uniswap v4-core's `PoolId`: a market id cannot be mixed
///      up with a count, an index or a size by the compiler.
type MarketId is uint16;

// Markets one venue may list (ids 1..MAX_MARKETS).
uint256 constant MAX_MARKETS = 256;
// Positions (cross and isolated together) one account may hold; every per-account loop of the
// venue (health, liquidation, takeover) is bounded by it.
uint256 constant MAX_POSITIONS_PER_ACCOUNT = 8;

/// @title IPerpVenueTypes
/// @notice Enums and structs of the perpsim multi-market venue (`PerpVenue`).
/// @dev Units everywhere: prices are WAD USD per base unit (18 decimals); sizes are WAD base
///      units, signed (+ long, − short); USD amounts (collateral, margin, equity, PnL, fees,
///      notional, deficits) are WAD USD; fractions are WAD (1e18 = 100%); `...Bps` are basis
///      points (10_000 = 100%); times are seconds. Only `deposit`, `withdraw`, `seedPool` and
///      `withdrawFees` take token amounts, in collateral base units (6 decimals, 1 unit = 1e12 WAD).
interface IPerpVenueTypes {
    /// @notice How funding accrues (per market).
    /// @dev VELOCITY: Synthetix v3, `rate += clamp(skew/skewScale, −1, 1)·maxFundingVelocity·dt/1 day`.
    ///      PREMIUM: Hyperliquid, `F8h = premium + clamp(interest − premium, ±clamp8h)`,
    ///      `premium = clamp(skew/skewScale, −1, 1)`, paid continuously at F8h/8 per hour.
    enum FundingModel {
        VELOCITY,
        PREMIUM
    }

    /// @notice What happens, in one market, to a deficit the insurance fund could not cover.
    /// @dev NONE: it stays as recorded bad debt of the bankrupt side.
    ///      CONTRACTS_QUEUE (BitMEX / Hyperliquid, contract space): the ADL keeper closes, in ranked
    ///      order, only as many of the winners' contracts as the bankrupt positions held, at the
    ///      ADL price recorded at the bankruptcy (`AdlPriceMode`); each winner loses the gap between
    ///      the index and that price on the contracts closed, never more than its profit on them;
    ///      once the bankrupt contracts are offset, the deficit left is final bad debt.
    ///      PROFIT_QUEUE (Chitra's equity-space reading, today's QUEUE): ranked winners' whole
    ///      positions are closed at the index and their whole profit taken until the deficit is
    ///      covered. PRO_RATA (Chitra's fair policy): the winners' profits are haircut pro rata,
    ///      summing exactly to the covered deficit; positions stay open. SOCIALIZED (Drift):
    ///      `loss/(long OI + short OI)` per contract through the market's funding indices, at once;
    ///      refused (no open interest, or more than one index price per contract): final bad debt.
    enum AdlPolicy {
        NONE,
        CONTRACTS_QUEUE,
        PROFIT_QUEUE,
        PRO_RATA,
        SOCIALIZED
    }

    /// @notice The price at which CONTRACTS_QUEUE closes winners' contracts.
    /// @dev BANKRUPTCY_PRICE (BitMEX): the bankrupt positions' bankruptcy price, `fill ± deficit/contracts`
    ///      (the price at which their close would have left exactly zero). PREVIOUS_MARK
    ///      (Hyperliquid): the market's index of the previous block in which the market was touched.
    enum AdlPriceMode {
        BANKRUPTCY_PRICE,
        PREVIOUS_MARK
    }

    /// @notice Every governance-set parameter of one market (`marketParameters(id)` returns it).
    struct MarketParams {
        // -- margin --------------------------------------------------------------------------
        /// @dev Maximum leverage, WAD (50e18 = 50x); the base initial margin fraction is 1/maxLeverage.
        uint256 maxLeverage;
        /// @dev Maintenance margin fraction of notional, WAD; below 1/maxLeverage.
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
        /// @dev Synthetix skew scale, WAD base units; 0 = no impact and no skew funding premium.
        uint256 skewScale;
        /// @dev Trading fee, bps of filled notional.
        uint256 takerFeeBps;
        /// @dev Share of trading fees sent to the insurance fund, bps.
        uint256 insuranceFeeShareBps;
        // -- funding -------------------------------------------------------------------------
        FundingModel fundingModel;
        /// @dev VELOCITY: maximum funding velocity, WAD rate per day per day.
        uint256 maxFundingVelocity;
        /// @dev PREMIUM: interest component per 8 hours, WAD.
        uint256 premiumInterestRate8h;
        /// @dev PREMIUM: clamp on `interest − premium` per 8 hours, WAD.
        uint256 premiumClamp8h;
        /// @dev Cap on |funding rate| per hour, WAD; 0 = uncapped.
        uint256 maxFundingRatePerHour;
        // -- liquidation ---------------------------------------------------------------------
        /// @dev Penalty, bps of the liquidated notional, taken from the account.
        uint256 liquidationPenaltyBps;
        /// @dev Keeper's share of the penalty, bps; the rest goes to the insurance fund.
        uint256 keeperShareBps;
        /// @dev Positions above this notional (WAD USD) are liquidated partially.
        uint256 partialLiquidationThreshold;
        /// @dev Share of the position closed by a partial liquidation, bps (2000 = 20%).
        uint256 partialLiquidationShareBps;
        /// @dev Seconds after a partial liquidation during which the position is not liquidated
        ///      again (the backstop may still take the account over).
        uint256 liquidationCooldown;
        /// @dev true (Hyperliquid): a position still liquidatable in the window
        ///      [partial + cooldown, partial + 2·cooldown) goes whole; false (dYdX): partial again.
        bool fullLiquidationAfterCooldown;
        /// @dev Cap on liquidated notional per block in this market, WAD USD; 0 = no limit.
        uint256 maxLiquidationNotionalPerBlock;
        /// @dev Liquidation fills are clamped to `index·(1 ± maxLiquidationImpactBps)`, bps (F7):
        ///      skew the caller created just before cannot push a fill further from the index.
        uint256 maxLiquidationImpactBps;
        /// @dev The backstop may take an account over when cross equity < backstopFraction·MM, WAD.
        uint256 backstopFraction;
        AdlPolicy adlPolicy;
        /// @dev CONTRACTS_QUEUE only: the price at which winners' contracts are closed.
        AdlPriceMode adlPriceMode;
        /// @dev Upper bound on the accounts passed to one `adl` call (≤ MAX_ADL_ACCOUNTS).
        uint256 maxAdlAccountsPerCall;
        // -- circuit breaker -----------------------------------------------------------------
        /// @dev New risk is refused while |index − TWAP| > band·TWAP, bps; 0 = off.
        uint256 circuitBreakerBandBps;
        /// @dev TWAP window of the circuit breaker reference, seconds.
        uint256 circuitBreakerWindow;
        /// @dev When true, liquidations in this market also stop while its breaker is tripped.
        bool liquidationsHaltOnBreaker;
    }

    /// @notice One margin tier above the base tier (Hyperliquid deduction form), per market.
    /// @dev Requirement `notional·rate_n − deduction_n`, continuous in notional; the base
    ///      fractions floor every tier.
    struct MarginTier {
        /// @dev Notional where the tier starts, WAD USD; strictly increasing across tiers.
        uint256 notionalFloor;
        /// @dev Initial margin fraction of the tier, WAD.
        uint256 initialMarginFraction;
        /// @dev Maintenance margin fraction of the tier, WAD; below the tier's IMF.
        uint256 maintenanceMarginFraction;
    }

    /// @notice One position as stored, plus what it owes and is worth now (at the last price).
    struct PositionView {
        MarketId market;
        /// @dev Signed size, WAD base units.
        int256 size;
        /// @dev Average entry price, WAD.
        uint256 entryPrice;
        /// @dev Isolated margin, WAD USD (0 for a cross position: its margin is the account's collateral).
        int256 margin;
        bool isolated;
        /// @dev Unrealized PnL at the market's last index, WAD USD (rounded down).
        int256 unrealizedPnl;
        /// @dev Funding (and socialized loss) owed since the last settlement, WAD USD (+ = owes).
        int256 pendingFunding;
        /// @dev Maintenance margin of the position at the last index, WAD USD.
        uint256 maintenanceMargin;
        /// @dev Timestamp of the last partial liquidation (0 = none).
        uint256 partialLiquidatedAt;
    }

    /// @notice A market's state: price, open interest, funding, bad debt and its ADL ledger.
    struct MarketView {
        bytes32 symbol;
        address oracle;
        /// @dev Last index price (no staleness check), WAD.
        uint256 indexPrice;
        /// @dev Index of the previous block in which the market was touched (Hyperliquid ADL), WAD.
        uint256 previousMark;
        uint256 longOpenInterest;
        uint256 shortOpenInterest;
        int256 longFundingIndex;
        int256 shortFundingIndex;
        /// @dev Funding rate per day, WAD (+ = longs pay).
        int256 fundingRatePerDay;
        uint256 marginScale;
        bool riskPaused;
        bool circuitBreakerTripped;
        MarketLedger ledger;
    }

    /// @notice Cumulative numbers and outstanding deficits of one market (WAD USD, WAD base units).
    struct MarketLedger {
        /// @dev Outstanding deficit left by bankrupt longs (winners are shorts).
        uint256 badDebtLongs;
        /// @dev Outstanding deficit left by bankrupt shorts (winners are longs).
        uint256 badDebtShorts;
        /// @dev CONTRACTS_QUEUE: bankrupt long contracts not yet offset by ADL.
        uint256 adlContractsLongs;
        /// @dev CONTRACTS_QUEUE: bankrupt short contracts not yet offset by ADL.
        uint256 adlContractsShorts;
        /// @dev CONTRACTS_QUEUE: price at which winners of bankrupt longs are closed.
        uint256 adlPriceLongs;
        /// @dev CONTRACTS_QUEUE: price at which winners of bankrupt shorts are closed.
        uint256 adlPriceShorts;
        /// @dev Bad debt of bankrupt longs written off as final: no `adl` call can clear it
        ///      (CONTRACTS_QUEUE once the bankrupt contracts are offset; a refused SOCIALIZED
        ///      charge). The pool bears it; it is not in `badDebtLongs` (outstanding only).
        uint256 finalBadDebtLongs;
        /// @dev Bad debt of bankrupt shorts written off as final (see `finalBadDebtLongs`).
        uint256 finalBadDebtShorts;
        /// @dev Cumulative deficits attributed to this market (before the insurance fund).
        uint256 totalDeficit;
        /// @dev Cumulative deficits of this market the insurance fund covered.
        uint256 paidByInsurance;
        /// @dev Cumulative deficit the fund did not cover (before ADL).
        uint256 totalBadDebt;
        /// @dev Cumulative loss charged through the funding indices (SOCIALIZED).
        uint256 socializedLoss;
        /// @dev Cumulative haircuts taken from winners by ADL.
        uint256 adlHaircuts;
        /// @dev Cumulative deficit covered by ADL.
        uint256 adlCovered;
        /// @dev Cumulative trading fees of this market.
        uint256 fees;
        /// @dev Cumulative liquidation penalties of this market.
        uint256 liquidationPenalties;
        /// @dev Cumulative notional liquidated in this market (at the fills).
        uint256 liquidatedNotional;
    }

    /// @notice The venue's cash ledgers and cumulative flows (WAD USD).
    /// @dev Accounting identity, to the wei:
    ///      `totalCollateral + pool + protocolFees == totalDeposits − totalWithdrawals + poolSeeded
    ///       + paidByInsurance − paidToInsurance − keeperRewards − feesWithdrawn
    ///       == collateral.balanceOf(venue)·1e12`, and `totalCollateral` is the sum of every
    ///      account's cross collateral and isolated margins. `pool` is the counterparty of every
    ///      realized PnL, funding payment and ADL haircut; it absorbs a deficit the fund does not
    ///      pay. `totalCollateral` is signed: a cross account may hold negative collateral while
    ///      its open positions' profits keep its equity ≥ 0.
    struct Accounting {
        int256 totalCollateral;
        int256 pool;
        uint256 protocolFees;
        uint256 totalDeposits;
        uint256 totalWithdrawals;
        uint256 poolSeeded;
        uint256 feesWithdrawn;
        /// @dev Fee shares, penalty shares and ADL overshoot sent to the insurance fund.
        uint256 paidToInsurance;
        /// @dev Deficits the insurance fund covered (all markets).
        uint256 paidByInsurance;
        /// @dev Penalty shares paid to keepers.
        uint256 keeperRewards;
    }
}
