// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPerpMarketTypes} from "./IPerpMarketTypes.sol";

/// @title IPerpMarketErrors
/// @notice Custom errors of the perp market; each carries the numbers a reader needs.
interface IPerpMarketErrors is IPerpMarketTypes {
    /// @notice An amount of zero was given where a positive amount is required.
    error ZeroAmount();
    /// @notice A withdrawal or allocation asked for more than the balance (WAD USD).
    error InsufficientBalance(uint256 available, uint256 requested);
    /// @notice After the action the account's equity would be below what it needs (WAD USD);
    ///         `required` is the initial margin for new risk, 0 for a reduction.
    error InsufficientMargin(int256 equity, uint256 required);
    /// @notice A withdrawal would leave the account below its initial margin (WAD USD).
    error WithdrawalBelowInitialMargin(int256 equityAfter, uint256 initialMargin);
    /// @notice The margin mode can only change while the account has no position.
    error PositionOpen(int256 size);
    /// @notice The action needs the other margin mode (`isolated` is the account's mode).
    error WrongMarginMode(bool isolated);
    /// @notice The fill is worse than the trader's limit (WAD prices).
    error PriceLimitExceeded(uint256 fillPrice, uint256 acceptablePrice);
    /// @notice Skew impact would push the fill price to zero or below.
    error InvalidFillPrice(int256 sizeDelta);
    /// @notice The trade would take one side's open interest above its cap (WAD base units).
    error OpenInterestCapExceeded(bool long, uint256 openInterest, uint256 cap);
    /// @notice New risk is paused by the guardian or governance.
    error RiskPaused();
    /// @notice The index moved more than the band from its TWAP: new risk is refused (WAD, bps).
    error CircuitBreakerTripped(uint256 indexPrice, uint256 referencePrice, uint256 bandBps);
    /// @notice The account has no open position.
    error NoPosition(address account);
    /// @notice Equity is not below maintenance margin (WAD USD).
    error NotLiquidatable(address account, int256 equity, uint256 maintenanceMargin);
    /// @notice The account was partially liquidated and its cooldown runs until `until` (seconds).
    error LiquidationCooldownActive(address account, uint256 until);
    /// @notice The account was already partially liquidated in this block.
    error AlreadyLiquidatedThisBlock(address account, uint256 blockNumber);
    /// @notice This block's liquidation notional cap is used up (WAD USD).
    error LiquidationRateLimited(uint256 blockNumber, uint256 liquidatedNotional, uint256 cap);
    /// @notice No backstop vault is wired to the market.
    error BackstopNotConfigured();
    /// @notice The backstop vault cannot take over its own position.
    error BackstopCannotTakeOverItself();
    /// @notice Equity is not below backstopFraction·MM (WAD USD).
    error NotBelowBackstopThreshold(address account, int256 equity, uint256 threshold);
    /// @notice The takeover would leave the backstop vault's own account with equity below its
    ///         maintenance margin, i.e. liquidatable at once (WAD USD).
    error BackstopWouldBeLiquidatable(address vault, int256 equityAfter, uint256 maintenanceMargin);
    /// @notice `adl` is not used by this policy (NONE keeps bad debt, SOCIALIZED is automatic).
    error AdlPolicyNotCallable(AdlPolicy policy);
    /// @notice The ADL batch is empty or longer than `maxAdlAccountsPerCall`.
    error AdlBatchSize(uint256 given, uint256 maximum);
    /// @notice There is no outstanding deficit left by the side opposite to the winners.
    error NoDeficit(bool longsBankrupt);
    /// @notice The account is not a winner on the side being deleveraged (WAD size and PnL).
    error AdlIneligible(address account, int256 size, int256 unrealizedPnl);
    /// @notice QUEUE: the ranking is not non-increasing at `index` (WAD scores).
    error AdlRankingOutOfOrder(uint256 index, uint256 previousScore, uint256 score);
    /// @notice PRO_RATA: accounts must be strictly increasing addresses (no duplicates).
    error AdlAccountsNotSorted(uint256 index);
    /// @notice A parameter failed validation; `name` is the field, `value` what was given.
    error InvalidParameter(bytes32 name, uint256 value);
    /// @notice The circuit breaker's window (seconds) is longer than the oracle's TWAP ring
    ///         covers (`IOracle.maxTwapWindow`, seconds): `twap` would revert on every trade.
    error CircuitBreakerWindowTooLong(uint256 window, uint256 maxTwapWindow);
    /// @notice The guardian may only tighten; the proposal loosens `name`.
    error GuardianCannotLoosen(bytes32 name, uint256 current, uint256 proposed);
    /// @notice `initialize` was already called, or called by someone other than the deployer.
    error AlreadyInitialized();
    /// @notice A module function was called directly instead of through the market.
    error OnlyDelegateCall();
}

/// @title IPerpMarketEvents
/// @notice Events of the perp market. Every number the simulator measures is in an event.
interface IPerpMarketEvents is IPerpMarketTypes {
    /// @notice `amount` (WAD USD) was deposited; `toIdle` when credited to the isolated idle balance.
    event Deposited(address indexed account, uint256 amount, bool toIdle);
    /// @notice `amount` (WAD USD) was withdrawn.
    event Withdrawn(address indexed account, uint256 amount);
    event MarginModeSet(address indexed account, bool isolated);
    /// @notice Isolated mode: `amount` (WAD USD) moved from idle to margin (negative: back).
    event MarginAllocated(address indexed account, int256 amount);
    /// @notice A trade filled. Prices WAD; sizes WAD base; PnL, fee, funding WAD USD.
    event PositionModified(
        address indexed account,
        int256 sizeDelta,
        uint256 fillPrice,
        int256 newSize,
        uint256 entryPrice,
        int256 realizedPnl,
        uint256 fee,
        int256 fundingPaid
    );
    /// @notice A liquidation. `sizeClosed` signed like the position; `fillPrice` includes skew
    ///         impact; `notional`, `penalty`, `keeperReward`, `insuranceShare`, `fundPayout`
    ///         (what the insurance fund paid for this account's deficit), `deficit` (what was
    ///         left after the fund: bad debt or socialized), `outstandingBadDebt` (both sides
    ///         after this event) are WAD USD.
    event Liquidated(
        address indexed account,
        address indexed keeper,
        int256 sizeClosed,
        uint256 fillPrice,
        uint256 notional,
        uint256 penalty,
        uint256 keeperReward,
        uint256 insuranceShare,
        uint256 fundPayout,
        uint256 deficit,
        uint256 outstandingBadDebt,
        bool full
    );
    /// @notice The backstop vault took over `size` at `price` with `marginTransferred` (may be
    ///         negative: the vault absorbed the loss); `fundPayout` and `deficit` as in Liquidated.
    event BackstopTakeover(
        address indexed account,
        address indexed vault,
        address keeper,
        int256 size,
        uint256 price,
        int256 marginTransferred,
        uint256 fundPayout,
        uint256 deficit
    );
    /// @notice A deficit the insurance fund could not cover was recorded as bad debt.
    event BadDebtRecorded(bool longsBankrupt, uint256 amount, uint256 outstanding);
    /// @notice One ADL event (WAD USD). `overshoot = haircuts − covered`; `toFund` is the part
    ///         of it sent to the insurance fund (QUEUE: at most the pool's cash, in whole units;
    ///         0 for the other policies); for SOCIALIZED, `haircuts` is the loss charged to open
    ///         contracts and `accounts` is 0.
    event AdlExecuted(
        AdlPolicy policy,
        bool longsBankrupt,
        uint256 deficit,
        uint256 haircuts,
        uint256 covered,
        uint256 overshoot,
        uint256 toFund,
        uint256 accounts
    );
    /// @notice One winner's haircut. QUEUE closes the whole position (`sizeClosed` = size);
    ///         PRO_RATA keeps it open (`sizeClosed` = 0) and resets its entry to `price`.
    event AdlHaircut(address indexed account, int256 sizeClosed, uint256 price, uint256 profit, uint256 haircut);
    event PoolSeeded(address indexed from, uint256 amount);
    /// @notice Any change to the market parameters; carries the full new set.
    event ParametersUpdated(address indexed by, MarketParams params);
    event MarginTiersUpdated(address indexed by, MarginTier[] tiers);
    /// @notice The dynamic margin controller moved the margin scale (WAD multiplier).
    event MarginScaleUpdated(uint256 previousScale, uint256 newScale);
    event RiskPausedSet(address indexed by, bool paused);
    event FeesWithdrawn(address indexed to, uint256 amount);
    event Initialized(address insuranceFund, address backstopVault, address controller, address adlKeeper);
}

/// @title IPerpMarket
/// @notice One perpetual futures market settled in a 6-decimal stable collateral.
/// @dev Accounts: one per address, with a mode flag. Cross mode: the whole balance (`margin`)
///      backs the position and is lost in a bankruptcy. Isolated mode: deposits land in `idle`,
///      which is never at risk; the trader moves an amount into `margin` with `allocateMargin`
///      and only that backs the position. An account holds at most one position in this
///      market. Margin is valued at the oracle index price; fills pay skew impact.
interface IPerpMarket is IPerpMarketErrors, IPerpMarketEvents {
    // ---------------------------------------------------------------------------------------
    // Accounts and trading
    // ---------------------------------------------------------------------------------------

    /// @notice Deposit `amount` collateral base units (6 decimals) into the caller's account.
    function deposit(uint256 amount) external;

    /// @notice Withdraw `amount` collateral base units; isolated accounts draw idle first.
    /// @dev Reverts `WithdrawalBelowInitialMargin` if the position would be under initial margin.
    function withdraw(uint256 amount) external;

    /// @notice Switch between cross (false) and isolated (true) mode; needs no open position.
    function setMarginMode(bool isolated) external;

    /// @notice Isolated mode: move `amount` base units from idle to margin (negative: back,
    ///         checked against initial margin).
    function allocateMargin(int256 amount) external;

    /// @notice Change the caller's position by `sizeDelta` (WAD base, + buys, - sells).
    /// @param acceptablePrice Worst fill accepted (WAD): max for buys, min for sells; 0 = any.
    /// @return fillPrice The fill price with skew impact (WAD).
    function trade(int256 sizeDelta, uint256 acceptablePrice) external returns (uint256 fillPrice);

    /// @notice Close the caller's whole position (see `trade`).
    function closePosition(uint256 acceptablePrice) external returns (uint256 fillPrice);

    /// @notice Add `amount` base units to the counterparty pool (no claim is given back).
    function seedPool(uint256 amount) external;

    // ---------------------------------------------------------------------------------------
    // Keepers: liquidation, backstop, auto-deleveraging
    // ---------------------------------------------------------------------------------------

    /// @notice Liquidate `account` (equity < maintenance margin, strictly: equity == MM is
    ///         healthy); permissionless.
    /// @dev Partial (partialLiquidationShareBps) above partialLiquidationThreshold, then the
    ///      cooldown; after it the next liquidation takes the whole position if it comes within
    ///      `PARTIAL_MARK_WINDOW` (10 minutes) of the cooldown's end and the account has not
    ///      been left healthy by an action of its own since (trade, deposit, withdraw,
    ///      allocateMargin); otherwise it is partial again. Fills at the index with skew impact
    ///      at the pricing skew (the skew without this block's earlier liquidations, whose shift
    ///      enters fill prices from the next block), bounded to `index·(1 ± mmf)` with `mmf`
    ///      the base maintenanceMarginFraction. The penalty is split keeper / fund; a deficit
    ///      is paid by the insurance fund, then goes to the ADL policy or bad debt.
    function liquidate(address account) external;

    /// @notice Move `account`'s position and margin to the backstop vault when equity <
    ///         backstopFraction·MM; permissionless. The position moves at the index price.
    /// @dev Reverts `BackstopWouldBeLiquidatable` when the vault's own account would be left
    ///      with equity below its maintenance margin.
    function backstopTakeover(address account) external;

    /// @notice Cover outstanding bad debt from winners (QUEUE or PRO_RATA policy); ADL_ROLE
    ///         only (the protocol's own ADL keeper, as venues run ADL themselves).
    /// @dev All `winners` must hold profitable positions on one side; the deficit covered is
    ///      the one left by the other side. QUEUE: the whole list must be eligible and ranked by
    ///      non-increasing `adlRanking` score; whole positions are closed at the index price
    ///      and their whole profit is taken, in order, until the deficit is covered (accounts
    ///      after that are checked, not touched); the overshoot goes to the insurance fund.
    ///      PRO_RATA: strictly increasing addresses; each winner's profit is haircut by
    ///      `covered·profit_i/Σ profit`, the haircuts summing exactly to `covered =
    ///      min(deficit, Σ profit)`; positions stay open at the index price. Trust model: the
    ///      contract checks eligibility, order, uniqueness and exact sums, but cannot check that
    ///      the list starts at the global top (QUEUE) or holds every winner (PRO_RATA), since it
    ///      cannot enumerate accounts. Who pays is therefore the ADL keeper's choice, and only
    ///      accounts holding ADL_ROLE (granted by `initialize`, more by the admin) may call:
    ///      the protocol ranks every winner with `adlRanking` and passes the top of the list.
    ///      An outside caller cannot choose the victim.
    function adl(address[] calldata winners) external;

    // ---------------------------------------------------------------------------------------
    // Governance (timelock), guardian (tighten only), controller
    // ---------------------------------------------------------------------------------------

    /// @notice Wire the insurance fund, backstop vault and margin controller, and grant ADL_ROLE
    ///         to `adlKeeper` (zero: nobody; the admin may grant it later); once, by the deployer.
    function initialize(address insuranceFund, address backstopVault, address controller, address adlKeeper)
        external;

    /// @notice Replace every parameter; GOVERNOR_ROLE (the timelock) only.
    /// @dev Funding accrued so far is settled under the old parameters first (also for the
    ///      guardian's setters, which go through the same path). Reverts
    ///      `CircuitBreakerWindowTooLong` when `circuitBreakerWindow` exceeds the oracle's
    ///      `maxTwapWindow()` (as the constructor does).
    function setParameters(MarketParams calldata params) external;

    /// @notice Replace the margin tiers above the base tier; GOVERNOR_ROLE only.
    function setMarginTiers(MarginTier[] calldata tiers) external;

    /// @notice Pause or resume new risk; GOVERNOR_ROLE only (the guardian can only pause).
    function setRiskPaused(bool paused) external;

    /// @notice Send `amount` base units of protocol fees to `to`; GOVERNOR_ROLE only.
    function withdrawFees(address to, uint256 amount) external;

    /// @notice Guardian: lower the maximum leverage (WAD) at once.
    function guardianSetMaxLeverage(uint256 maxLeverage) external;

    /// @notice Guardian: raise the maintenance margin fraction (WAD) at once.
    function guardianSetMaintenanceMarginFraction(uint256 fraction) external;

    /// @notice Guardian: lower the open interest caps (WAD base units) at once.
    function guardianSetOpenInterestCaps(uint256 maxLong, uint256 maxShort) external;

    /// @notice Guardian: pause new risk at once.
    function guardianPauseRisk() external;

    /// @notice Controller: set the margin scale (WAD multiplier of every margin fraction).
    function setMarginScale(uint256 scale) external;

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    function parameters() external view returns (MarketParams memory);

    function marginTiers() external view returns (MarginTier[] memory);

    /// @notice Current multiplier of all margin fractions (WAD, 1e18 = neutral).
    function marginScale() external view returns (uint256);

    function riskPaused() external view returns (bool);

    function accountOf(address account) external view returns (AccountView memory);

    /// @notice Margin + unrealized PnL at the index − funding owed (WAD USD; idle excluded).
    function equity(address account) external view returns (int256);

    /// @notice Maintenance margin at the index price (WAD USD).
    function maintenanceMargin(address account) external view returns (uint256);

    /// @notice Initial margin at the index price, including OI scaling (WAD USD).
    function initialMargin(address account) external view returns (uint256);

    /// @notice Index price at which equity = maintenance margin (WAD); 0 if none.
    /// @dev Untiered: `(entry − side·C/|size|)/(1 − side·mmf)` with C = margin − funding owed.
    function liquidationPrice(address account) external view returns (uint256);

    function isLiquidatable(address account) external view returns (bool);

    /// @notice Health of many accounts at once, for keepers.
    function healthOf(address[] calldata accounts)
        external
        view
        returns (
            int256[] memory equities,
            uint256[] memory maintenanceMargins,
            int256[] memory sizes,
            bool[] memory liquidatable
        );

    /// @notice ADL rank scores `(mark/entry)·(notional/equity)` (shorts: entry/mark) and
    ///         unrealized PnL of many accounts (WAD); score 0 for non-winners.
    function adlRanking(address[] calldata accounts)
        external
        view
        returns (uint256[] memory scores, int256[] memory unrealizedPnls);

    /// @notice Fill price of a trade of `sizeDelta` now (WAD).
    function fillPrice(int256 sizeDelta) external view returns (uint256);

    /// @notice The oracle's latest price, without the staleness check (WAD).
    function indexPrice() external view returns (uint256);

    /// @notice Current funding rate per day (WAD, + = longs pay), accrued to now.
    function fundingRatePerDay() external view returns (int256);

    /// @notice Cumulative USD owed per unit of size by longs and by shorts, accrued to now (WAD).
    function fundingIndices() external view returns (int256 longIndex, int256 shortIndex);

    /// @notice Sum of long and of short sizes (WAD base units).
    function openInterest() external view returns (uint256 longs, uint256 shorts);

    function accounting() external view returns (Accounting memory);

    /// @notice True when the circuit breaker refuses new risk now.
    function circuitBreakerTripped() external view returns (bool);

    function collateral() external view returns (address);

    function oracle() external view returns (address);

    function insuranceFund() external view returns (address);

    function backstopVault() external view returns (address);

    function controller() external view returns (address);
}
