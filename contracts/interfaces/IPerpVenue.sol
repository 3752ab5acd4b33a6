// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPerpVenueTypes, MarketId} from "./IPerpVenueTypes.sol";

/// @title IPerpVenueErrors
/// @notice Custom errors of the venue; each carries the numbers a reader needs (WAD unless named).
interface IPerpVenueErrors is IPerpVenueTypes {
    /// @notice An amount of zero was given where a positive amount is required.
    error ZeroAmount();
    /// @notice A parameter failed validation; `name` is the field, `value` what was given.
    error InvalidParameter(bytes32 name, uint256 value);
    /// @notice A market's circuit-breaker window (seconds) is longer than its oracle's TWAP ring
    ///         covers (`IOracle.maxTwapWindow`, seconds): `twap` would revert on every trade.
    error CircuitBreakerWindowTooLong(uint256 window, uint256 maxTwapWindow);
    /// @notice No market has this id.
    error UnknownMarket(MarketId market);
    /// @notice A market with this symbol is already listed.
    error MarketAlreadyListed(bytes32 symbol, MarketId market);
    /// @notice The venue already lists MAX_MARKETS markets.
    error TooManyMarkets(uint256 maximum);
    /// @notice The account already holds MAX_POSITIONS_PER_ACCOUNT positions.
    error TooManyPositions(address account, uint256 maximum);
    /// @notice A withdrawal asked for more than the free balance (WAD USD).
    error InsufficientBalance(int256 available, uint256 requested);
    /// @notice After the action the equity (cross account or isolated position) would be below
    ///         what it needs (WAD USD): the initial margin for new risk or a withdrawal, 0 otherwise.
    error InsufficientMargin(int256 equity, uint256 required);
    /// @notice The position exists in the other margin mode (`isolated` is its mode).
    error WrongMarginMode(MarketId market, bool isolated);
    /// @notice The fill is worse than the trader's limit (WAD prices).
    error PriceLimitExceeded(uint256 fillPrice, uint256 acceptablePrice);
    /// @notice Skew impact would push the fill price to zero or below.
    error InvalidFillPrice(MarketId market, int256 sizeDelta);
    /// @notice The trade would take one side's open interest above that side's cap (WAD base units).
    error OpenInterestCapExceeded(MarketId market, bool long, uint256 openInterest, uint256 cap);
    /// @notice New risk in this market is paused by the guardian or governance.
    error RiskPaused(MarketId market);
    /// @notice The market's index moved more than its band from its TWAP (WAD, bps).
    error CircuitBreakerTripped(MarketId market, uint256 indexPrice, uint256 referencePrice, uint256 bandBps);
    /// @notice The account has no position in the market.
    error NoPosition(address account, MarketId market);
    /// @notice Equity is not below maintenance margin (WAD USD; equity == MM is healthy).
    error NotLiquidatable(address account, int256 equity, uint256 maintenanceMargin);
    /// @notice The account is liquidatable but no position could be liquidated now: every one is
    ///         in its cooldown, already partially liquidated this block or over its market's cap.
    error NothingLiquidatableNow(address account, int256 equity, uint256 maintenanceMargin);
    /// @notice No backstop vault is wired to the venue.
    error BackstopNotConfigured();
    /// @notice The backstop vault cannot take over its own account.
    error BackstopCannotTakeOverItself();
    /// @notice Cross equity is not below backstopFraction·MM (WAD USD, the largest fraction of
    ///         the account's markets, weighted by their maintenance).
    error NotBelowBackstopThreshold(address account, int256 equity, uint256 threshold);
    /// @notice The takeover would leave the vault's own account below maintenance (F8).
    error BackstopWouldBeUnderwater(int256 vaultEquity, uint256 vaultMaintenanceMargin);
    /// @notice `adl` is not used by the market's policy (NONE keeps bad debt, SOCIALIZED is automatic).
    error AdlPolicyNotCallable(MarketId market, AdlPolicy policy);
    /// @notice The ADL batch is empty or longer than the market's `maxAdlAccountsPerCall`.
    error AdlBatchSize(uint256 given, uint256 maximum);
    /// @notice There is no outstanding deficit of that side in the market.
    error NoDeficit(MarketId market, bool longsBankrupt);
    /// @notice The account is not a winner on the side being deleveraged (WAD size and PnL).
    error AdlIneligible(address account, int256 size, int256 unrealizedPnl);
    /// @notice Queues: the ranking is not non-increasing at `index` (WAD scores).
    error AdlRankingOutOfOrder(uint256 index, uint256 previousScore, uint256 score);
    /// @notice PRO_RATA: accounts must be strictly increasing addresses (no duplicates).
    error AdlAccountsNotSorted(uint256 index);
    /// @notice The guardian may only tighten (`name` the field, WAD or bps values).
    error GuardianCannotLoosen(bytes32 name, uint256 current, uint256 proposed);
    /// @notice `initialize` was already called, or not by the deployer.
    error AlreadyInitialized();
    /// @notice A module function was called on the module itself, not through the venue.
    error OnlyDelegateCall();
}

/// @title IPerpVenueEvents
/// @notice Events of the venue: every number the simulator measures, with the market id.
interface IPerpVenueEvents is IPerpVenueTypes {
    event Initialized(address insuranceFund, address backstopVault, address adlKeeper, address controller);
    event MarketListed(MarketId indexed market, bytes32 symbol, address oracle);
    event MarketParametersUpdated(MarketId indexed market, address indexed by, MarketParams params);
    event MarginTiersUpdated(MarketId indexed market, address indexed by, MarginTier[] tiers);
    event RiskPausedSet(MarketId indexed market, address indexed by, bool paused);
    event MarginScaleUpdated(MarketId indexed market, uint256 previousScale, uint256 newScale);
    /// @notice Collateral in or out of an account, WAD USD.
    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event PoolSeeded(address indexed from, uint256 amount);
    event FeesWithdrawn(address indexed to, uint256 amount);
    /// @notice Margin moved between the account's collateral and an isolated position (WAD USD,
    ///         + = into the position).
    event IsolatedMarginMoved(address indexed account, MarketId indexed market, int256 amount);
    /// @notice A trade: `fill` (WAD), the new size and entry, realized PnL, fee and funding
    ///         settled (WAD USD, + = paid by the account).
    event PositionModified(
        address indexed account,
        MarketId indexed market,
        int256 sizeDelta,
        uint256 fill,
        int256 newSize,
        uint256 entryPrice,
        int256 realizedPnl,
        uint256 fee,
        int256 funding,
        bool isolated
    );
    /// @notice One market's part of a liquidation (WAD base units, WAD prices, WAD USD).
    event Liquidated(
        address indexed account,
        MarketId indexed market,
        address indexed keeper,
        int256 sizeClosed,
        uint256 fill,
        uint256 notional,
        int256 realizedPnl,
        uint256 penalty,
        uint256 keeperReward,
        uint256 insuranceShare,
        bool full
    );
    /// @notice A liquidation call's result: positions liquidated, equity and MM after (WAD USD),
    ///         the account's deficit (WAD USD, attributed to markets by `DeficitAttributed`).
    event AccountLiquidated(
        address indexed account,
        address indexed keeper,
        bool isolated,
        uint256 positionsLiquidated,
        int256 equityAfter,
        uint256 maintenanceMarginAfter,
        uint256 deficit
    );
    /// @notice The part of a bankrupt account's deficit attributed to one market and side, the
    ///         fund's payment and what is left (WAD USD); `contracts` (WAD base units) and `adlPrice`
    ///         feed CONTRACTS_QUEUE.
    event DeficitAttributed(
        address indexed account,
        MarketId indexed market,
        bool longBankrupt,
        uint256 deficit,
        uint256 paidByInsurance,
        uint256 remaining,
        uint256 contracts,
        uint256 adlPrice
    );
    /// @notice Outstanding bad debt of a market side after a deficit was recorded (WAD USD).
    event BadDebtRecorded(MarketId indexed market, bool longsBankrupt, uint256 amount, uint256 outstanding);
    /// @notice A market side's outstanding bad debt written off as final (WAD USD): `amount`
    ///         moved out of the outstanding bad debt, `total` the side's final bad debt after.
    ///         Emitted when no `adl` call could clear it: under CONTRACTS_QUEUE once the bankrupt
    ///         contracts are offset (the capped haircuts left it), under SOCIALIZED when the
    ///         charge was refused (no open interest, or more than one mark per contract). The
    ///         pool bears it, as Hyperliquid's accounts left with negative equity.
    event BadDebtFinalized(MarketId indexed market, bool longsBankrupt, uint256 amount, uint256 total);
    /// @notice SOCIALIZED: `loss` charged at `perContract` (WAD USD per WAD base unit) to both sides.
    event LossSocialized(MarketId indexed market, bool longsBankrupt, uint256 loss, uint256 perContract, uint256 charged);
    /// @notice One ADL event of a market: the deficit before it, the minimum haircut that covers it
    ///         (min(deficit, Σ winners' profit)), haircuts taken, deficit covered, overshoot
    ///         (haircuts − covered), the overshoot sent to the fund, contracts (WAD base units) and
    ///         notional (WAD USD at the index) closed, winners touched.
    event AdlExecuted(
        MarketId indexed market,
        AdlPolicy policy,
        bool longsBankrupt,
        uint256 deficit,
        uint256 minimumHaircut,
        uint256 haircuts,
        uint256 covered,
        uint256 overshoot,
        uint256 toInsurance,
        uint256 contractsClosed,
        uint256 notionalClosed,
        uint256 accounts
    );
    /// @notice One winner's ADL: size closed (0 for PRO_RATA), price, profit before and haircut.
    event AdlHaircut(
        MarketId indexed market, address indexed account, int256 sizeClosed, uint256 price, uint256 profit, uint256 haircut
    );
    /// @notice The backstop vault took over the account's cross positions and collateral.
    event BackstopTakeover(
        address indexed account,
        address indexed vault,
        address indexed keeper,
        uint256 positions,
        int256 collateralTransferred,
        int256 vaultEquityAfter,
        uint256 vaultMaintenanceMarginAfter
    );
}

/// @title IPerpVenueLiquidation
/// @notice Liquidation entry points of the venue (run by `VenueLiquidationModule` through
///         `delegatecall` with compiler-checked `abi.encodeCall`).
interface IPerpVenueLiquidation {
    /// @notice Liquidate a cross account whose equity is strictly below its maintenance margin,
    ///         market by market, largest maintenance requirement first (ties: lower market id),
    ///         each by its market's rules, until the account is healthy (equity ≥ MM) or flat.
    /// @dev Per position: whole, or `partialLiquidationShareBps` of it above the market's partial
    ///      threshold; a position in its cooldown, already partially liquidated this block, or over
    ///      its market's per-block cap is skipped (reverts `NothingLiquidatableNow` if all are).
    ///      The fill is the skew fill clamped to `index·(1 ± maxLiquidationImpactBps)`; the penalty
    ///      (capped at the account's positive equity) goes `keeperShareBps` to the caller, the rest
    ///      to the insurance fund. A flat account left with negative collateral is bankrupt: the
    ///      deficit is attributed to the markets closed in this call in proportion to their
    ///      realized losses (all to the first one closed if none lost), then each market's
    ///      waterfall runs (fund, then its ADL policy). Bounded by MAX_POSITIONS_PER_ACCOUNT.
    function liquidate(address account) external;

    /// @notice Liquidate an isolated position whose equity (margin + uPnL − funding) is below
    ///         its maintenance margin; the same rules, on the position alone.
    function liquidateIsolated(address account, MarketId market) external;

    /// @notice The backstop vault takes over the account's cross positions (at each index, value
    ///         neutral) and its collateral, when cross equity < Σ backstopFraction_i·MM_i.
    ///         Refused when the vault's own account would be below maintenance after it (F8).
    function backstopTakeover(address account) external;
}

/// @title IPerpVenueAdl
/// @notice Auto-deleveraging entry point (run by `VenueAdlModule` through `delegatecall`).
interface IPerpVenueAdl {
    /// @notice ADL of one market's outstanding deficit of one side, against `winners` on the
    ///         other side. ADL_KEEPER_ROLE only (F4): the protocol runs ADL, as the exchanges do.
    /// @dev Queues: `winners` ranked by `adlRanking` score, non-increasing (checked on chain for
    ///      every pair; only the winners needed are touched; a CONTRACTS_QUEUE winner never loses
    ///      more than its profit on the contracts closed; the call that offsets the side's last
    ///      bankrupt contracts writes the deficit left off as final, `BadDebtFinalized`).
    ///      PRO_RATA: strictly increasing addresses.
    function adl(MarketId market, bool longsBankrupt, address[] calldata winners) external;
}

/// @title IPerpVenueGovernance
/// @notice Listing and parameter changes (run by `VenueGovernanceModule` through `delegatecall`).
interface IPerpVenueGovernance {
    /// @notice List a market (GOVERNOR_ROLE, the timelock). Returns its id (1, 2, ...).
    ///         Reverts `CircuitBreakerWindowTooLong` when `circuitBreakerWindow` exceeds the
    ///         oracle's `maxTwapWindow()`.
    function listMarket(
        bytes32 symbol,
        address oracle,
        IPerpVenueTypes.MarketParams calldata params,
        IPerpVenueTypes.MarginTier[] calldata tiers
    ) external returns (MarketId);

    /// @notice Replace a market's parameters (GOVERNOR_ROLE). Funding accrues up to now under the
    ///         old parameters first (F10). Reverts `CircuitBreakerWindowTooLong` when
    ///         `circuitBreakerWindow` exceeds the market oracle's `maxTwapWindow()`.
    function setMarketParameters(MarketId market, IPerpVenueTypes.MarketParams calldata params) external;

    /// @notice Replace a market's margin tiers (GOVERNOR_ROLE).
    function setMarginTiers(MarketId market, IPerpVenueTypes.MarginTier[] calldata tiers) external;

    /// @notice Pause or resume new risk in a market (GOVERNOR_ROLE).
    function setRiskPaused(MarketId market, bool paused) external;

    /// @notice Withdraw protocol fees (collateral base units) to `to` (GOVERNOR_ROLE).
    function withdrawFees(address to, uint256 amount) external;

    /// @notice Lower a market's max leverage (GUARDIAN_ROLE; tighten only).
    function guardianSetMaxLeverage(MarketId market, uint256 maxLeverage) external;

    /// @notice Raise a market's maintenance margin fraction (GUARDIAN_ROLE; tighten only).
    function guardianSetMaintenanceMarginFraction(MarketId market, uint256 fraction) external;

    /// @notice Lower a market's open interest caps, each side on its own (GUARDIAN_ROLE).
    function guardianSetOpenInterestCaps(MarketId market, uint256 maxLong, uint256 maxShort) external;

    /// @notice Pause new risk in a market (GUARDIAN_ROLE).
    function guardianPauseRisk(MarketId market) external;

    /// @notice Set a market's margin scale, WAD in [0.1, 10] (CONTROLLER_ROLE).
    function setMarginScale(MarketId market, uint256 scale) external;
}

/// @title IPerpVenue
/// @notice One venue, many markets: one collateral balance per account shared by its cross
///         positions, isolated positions with their own margin, one position per (account, market).
/// @dev Cross health at oracle prices: `equity = collateral + Σ uPnL − Σ funding owed` over the
///      cross positions; `MM = Σ` per-market maintenance (tiers per market); liquidatable iff
///      equity < MM (equity == MM is healthy). New risk needs equity ≥ Σ initial margin.
///      An isolated position's health is its own (margin + uPnL − funding vs its MM).
interface IPerpVenue is IPerpVenueErrors, IPerpVenueEvents, IPerpVenueLiquidation, IPerpVenueAdl, IPerpVenueGovernance {
    /// @notice Wire the insurance fund, the backstop vault's account, the ADL keeper and the margin
    ///         controller (each may be zero); once, by the deployer.
    function initialize(address insuranceFund, address backstopVault, address adlKeeper, address controller) external;

    /// @notice Deposit `amount` collateral base units into the caller's cross collateral; if the
    ///         account is then healthy (at the last prices), its cross positions' partial-
    ///         liquidation marks are cleared (F1).
    function deposit(uint256 amount) external;

    /// @notice Withdraw `amount` base units of cross collateral; the account must keep equity ≥ its
    ///         initial margin when it holds cross positions.
    function withdraw(uint256 amount) external;

    /// @notice Add `amount` base units to the counterparty pool.
    function seedPool(uint256 amount) external;

    /// @notice Trade `sizeDelta` (WAD base units) of a cross position; `acceptablePrice` (WAD, 0 =
    ///         none) bounds the fill. Returns the fill price (WAD).
    function trade(MarketId market, int256 sizeDelta, uint256 acceptablePrice) external returns (uint256);

    /// @notice Trade an isolated position: first move `marginDelta` (WAD USD, + = from collateral
    ///         into the position) when positive, then trade, then move a negative `marginDelta`
    ///         back (the position must keep its initial margin). Closing it returns its margin.
    function tradeIsolated(MarketId market, int256 sizeDelta, uint256 acceptablePrice, int256 marginDelta)
        external
        returns (uint256);

    /// @notice Close the caller's position in `market` (cross or isolated). Returns the fill.
    function closePosition(MarketId market, uint256 acceptablePrice) external returns (uint256);

    // -- views (at the oracles' last prices, without the staleness check) -------------------

    /// @notice MAX_MARKETS of IPerpVenueTypes.sol (markets the venue may list).
    function maxMarkets() external pure returns (uint256);

    /// @notice MAX_POSITIONS_PER_ACCOUNT of IPerpVenueTypes.sol (cross and isolated together).
    function maxPositionsPerAccount() external pure returns (uint256);

    function marketCount() external view returns (uint256);

    function marketParameters(MarketId market) external view returns (MarketParams memory);

    function marginTiers(MarketId market) external view returns (MarginTier[] memory);

    function marketState(MarketId market) external view returns (MarketView memory);

    /// @notice Cross collateral of an account (WAD USD, may be negative while positions are open).
    function collateralOf(address account) external view returns (int256);

    function positionOf(address account, MarketId market) external view returns (PositionView memory);

    /// @notice Every open position of the account (≤ MAX_POSITIONS_PER_ACCOUNT).
    function positionsOf(address account) external view returns (PositionView[] memory);

    /// @notice Cross equity, maintenance and initial margin of an account (WAD USD).
    function accountHealth(address account)
        external
        view
        returns (int256 equity, uint256 maintenanceMargin, uint256 initialMargin);

    /// @notice Keepers' batch view: cross equity, MM and liquidatable flag per account.
    function healthOf(address[] calldata accounts)
        external
        view
        returns (int256[] memory equities, uint256[] memory maintenanceMargins, bool[] memory liquidatable);

    /// @notice Isolated position health: equity and MM (WAD USD).
    function isolatedHealth(address account, MarketId market)
        external
        view
        returns (int256 equity, uint256 maintenanceMargin);

    /// @notice Index price of `market` at which the account becomes liquidatable, other markets'
    ///         prices held fixed (WAD; 0 if none). Cross: dYdX v4's
    ///         `p' = (e − s·p − MMR_others)/(|s|·MMF − s)` (tiers solved per tier);
    ///         isolated: the position's own.
    function liquidationPrice(address account, MarketId market) external view returns (uint256);

    /// @notice Hyperliquid ADL scores `(mark/entry)·(notional/account value)` (shorts: entry/mark)
    ///         and unrealized PnL of `accounts` in `market`; account value is cross equity, or the
    ///         isolated position's equity.
    function adlRanking(MarketId market, address[] calldata accounts)
        external
        view
        returns (uint256[] memory scores, int256[] memory pnls);

    /// @notice Fill price of `sizeDelta` now (WAD).
    function fillPrice(MarketId market, int256 sizeDelta) external view returns (uint256);

    function accounting() external view returns (Accounting memory);

    function collateral() external view returns (address);

    function insuranceFund() external view returns (address);

    function backstopVault() external view returns (address);
}
