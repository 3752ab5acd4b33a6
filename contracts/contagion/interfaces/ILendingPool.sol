// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title ILendingPool
/// @notice A single-asset lending market of the contagion world (issue 13): suppliers deposit the
///         borrowable stablecoin (the venue's 6-decimal collateral token) for ERC-4626 supply
///         shares; borrowers post up to MAX_COLLATERALS collateral assets and borrow the
///         stablecoin against them; anyone liquidates an account whose health factor is below 1
///         for a bonus; debt left when an account has no collateral is bad debt, written off
///         against the suppliers (the supply share price falls).
/// @dev Units: debt, cash and repayments are stablecoin base units (6 decimals); values and the
///      health factor are WAD (USD, the stablecoin counted at par: 1 unit = 1e12 WAD); collateral
///      factors and liquidation thresholds are WAD fractions; the bonus is in bps.
///
///      Collateral is valued by its `PriceSource`: ORACLE = `amount × IOracle.price() /
///      10**decimals` (a pushed price, WAD USD per whole token); VAULT_SHARE = the ERC-4626
///      vault's own `convertToAssets(amount)` (the vault's asset must be the pool's stablecoin),
///      so a fall of a vault's share price (the venue's backstop vault) lowers its holders'
///      health at once. Actions use the oracle's `price()` (reverting when stale); views use
///      `lastPrice()`.
///
///      Health: `HF = Σ value_i·LT_i / debt` (WAD, down; max uint when there is no debt);
///      liquidatable iff `HF < 1`. Borrowing and withdrawing collateral need
///      `Σ value_i·CF_i ≥ debt` afterwards (CF ≤ LT).
///
///      Interest (documented simple model): the borrow rate per year is `baseRate + slope · U`
///      with utilisation `U = debt / (cash + debt)` (WAD); at each accrual the borrow index is
///      multiplied by `1 + rate · dt / 365 days` (rounded up: borrowers owe the rounding). All
///      interest goes to suppliers (no reserve factor): `totalAssets = cash + total debt`.
///
///      Liquidation: `repay ≤ closeFactor · debt`; the liquidator receives collateral worth
///      `repay · (1 + bonus)` (rounded down), or the account's whole balance of that asset, in
///      which case `repay` shrinks to `value / (1 + bonus)` (rounded up). When the account then
///      holds no collateral of any kind and still owes, the rest is bad debt: its debt shares
///      are cancelled, `totalBadDebt` grows and suppliers take the loss.
interface ILendingPool {
    /// @notice How a collateral asset is valued.
    enum PriceSource {
        /// @dev An IOracle price, WAD USD per whole token.
        ORACLE,
        /// @dev An ERC-4626 vault share: the vault's `convertToAssets`, in the pool's stablecoin.
        VAULT_SHARE
    }

    /// @notice One collateral asset's listing.
    struct CollateralConfig {
        /// @dev The collateral token (for VAULT_SHARE, the vault itself).
        address token;
        PriceSource source;
        /// @dev ORACLE: the IOracle; VAULT_SHARE: the vault (== token).
        address feed;
        /// @dev The token's decimals (read at listing).
        uint8 decimals;
        /// @dev Borrowing power per USD of collateral, WAD (≤ liquidationThreshold).
        uint64 collateralFactor;
        /// @dev Share of the collateral's value counted in the health factor, WAD (≤ 1).
        uint64 liquidationThreshold;
        /// @dev Extra collateral a liquidator receives over what it repays, bps.
        uint16 liquidationBonusBps;
    }

    // -- errors -------------------------------------------------------------------------------

    /// @notice An amount of zero was given where a positive amount is required.
    error ZeroAmount();
    /// @notice A parameter failed validation (`name` the field, `value` what was given).
    error InvalidParameter(bytes32 name, uint256 value);
    /// @notice The token is not a listed collateral.
    error UnknownCollateral(address token);
    /// @notice The token is already listed.
    error CollateralAlreadyListed(address token);
    /// @notice Already MAX_COLLATERALS assets are listed.
    error TooManyCollaterals(uint256 maximum);
    /// @notice A VAULT_SHARE collateral's vault holds `asset`, not the pool's stablecoin.
    error VaultAssetMismatch(address vault, address asset);
    /// @notice After the action the account's borrowing power would be below its debt (WAD USD).
    error InsufficientCollateral(uint256 borrowCapacity, uint256 debt);
    /// @notice The pool holds only `cash` idle stablecoin units, `requested` were asked for.
    error InsufficientCash(uint256 cash, uint256 requested);
    /// @notice The account holds `balance` of `token` as collateral, `requested` were asked for.
    error InsufficientCollateralBalance(address token, uint256 balance, uint256 requested);
    /// @notice The account's health factor (WAD) is not below 1.
    error NotLiquidatable(address account, uint256 healthFactor);
    /// @notice The account owes nothing.
    error NoDebt(address account);
    /// @notice The liquidation would give the liquidator less collateral than its minimum.
    error SeizeBelowMinimum(uint256 seized, uint256 minSeized);

    // -- events -------------------------------------------------------------------------------
    // Supply and supply withdrawals are ERC-4626's `Deposit` and `Withdraw` events.

    /// @notice Interest accrued: the new borrow index (WAD), the pool's debt after and the
    ///         interest added (stablecoin units), the rate applied (WAD per year).
    event InterestAccrued(uint256 borrowIndex, uint256 totalDebt, uint256 interest, uint256 ratePerYear);
    event CollateralDeposited(address indexed account, address indexed token, uint256 amount);
    event CollateralWithdrawn(address indexed account, address indexed token, uint256 amount);
    /// @notice `amount` stablecoin units borrowed; the account's debt after (units).
    event Borrowed(address indexed account, uint256 amount, uint256 debtAfter);
    /// @notice `payer` repaid `amount` units of `account`'s debt; its debt after (units).
    event Repaid(address indexed payer, address indexed account, uint256 amount, uint256 debtAfter);
    /// @notice A liquidation: `repaid` stablecoin units, `seized` collateral tokens worth
    ///         `seizedValue` (WAD USD), the health factor before (WAD), the debt after (units).
    event Liquidated(
        address indexed account,
        address indexed liquidator,
        address indexed token,
        uint256 repaid,
        uint256 seized,
        uint256 seizedValue,
        uint256 healthFactorBefore,
        uint256 debtAfter
    );
    /// @notice Debt left on an account without collateral was written off (units) against the
    ///         suppliers; `totalBadDebt` is the pool's cumulative write-off (units).
    event BadDebtRecorded(address indexed account, uint256 amount, uint256 totalBadDebt);
    event CollateralListed(address indexed token, PriceSource source, address feed);
    event CollateralParametersUpdated(
        address indexed token, uint256 collateralFactor, uint256 liquidationThreshold, uint256 liquidationBonusBps
    );
    /// @notice The interest model: WAD per year at zero utilisation and per unit of utilisation.
    event InterestRateModelUpdated(uint256 baseRatePerYear, uint256 slopePerYear);
    /// @notice Largest share of a debt one liquidation may repay, WAD.
    event CloseFactorUpdated(uint256 closeFactor);

    // -- actions ------------------------------------------------------------------------------

    /// @notice Post `amount` of a listed collateral token (pulled with transferFrom).
    function depositCollateral(address token, uint256 amount) external;

    /// @notice Take back `amount` of collateral; borrowing power must still cover the debt.
    function withdrawCollateral(address token, uint256 amount) external;

    /// @notice Borrow `amount` stablecoin units to the caller; borrowing power must cover the debt.
    function borrow(uint256 amount) external;

    /// @notice Repay up to `amount` units of `account`'s debt (capped at the debt); returns
    ///         what was repaid.
    function repay(address account, uint256 amount) external returns (uint256 repaid);

    /// @notice Liquidate `account` (health factor < 1): repay up to `repayAmount` units (at most
    ///         closeFactor of its debt) and receive `token` collateral worth the repayment plus
    ///         the bonus, at least `minSeized` tokens. Records bad debt when the account is left
    ///         without collateral. Returns the units repaid and the tokens seized.
    function liquidate(address account, address token, uint256 repayAmount, uint256 minSeized)
        external
        returns (uint256 repaid, uint256 seized);

    /// @notice Bring the borrow index up to now.
    function accrueInterest() external;

    // -- governance (DEFAULT_ADMIN_ROLE) ------------------------------------------------------

    /// @notice List a collateral (at most MAX_COLLATERALS); `feed` is the IOracle for ORACLE and
    ///         ignored for VAULT_SHARE (the token is the vault).
    function listCollateral(
        address token,
        PriceSource source,
        address feed,
        uint256 collateralFactor,
        uint256 liquidationThreshold,
        uint256 liquidationBonusBps
    ) external;

    /// @notice Change a collateral's factor, threshold (CF ≤ LT ≤ 1) and bonus
    ///         (LT·(1 + bonus) ≤ 1, so a liquidation below HF 1 can always pay the bonus).
    function setCollateralParameters(
        address token,
        uint256 collateralFactor,
        uint256 liquidationThreshold,
        uint256 liquidationBonusBps
    ) external;

    /// @notice Set the interest model (WAD per year, each at most 10 = 1000%); accrues first.
    function setInterestRateModel(uint256 baseRatePerYear, uint256 slopePerYear) external;

    /// @notice Set the close factor, WAD in (0, 1].
    function setCloseFactor(uint256 closeFactor) external;

    // -- views --------------------------------------------------------------------------------

    /// @notice Debt of `account` now, stablecoin units (rounded up).
    function debtOf(address account) external view returns (uint256);

    /// @notice `account`'s collateral balance of `token` (token units).
    function collateralOf(address account, address token) external view returns (uint256);

    /// @notice Health factor of `account`, WAD (max uint when it owes nothing).
    function healthFactor(address account) external view returns (uint256);

    /// @notice Collateral value, borrowing power (Σ value·CF), liquidation value (Σ value·LT)
    ///         and debt of `account`, all WAD USD.
    function accountLiquidity(address account)
        external
        view
        returns (uint256 collateralValue, uint256 borrowCapacity, uint256 liquidationValue, uint256 debtValue);

    /// @notice The value (WAD USD) of `amount` of a listed collateral token now.
    function collateralValue(address token, uint256 amount) external view returns (uint256);

    /// @notice Borrow index now, WAD (1e18 at deployment).
    function borrowIndex() external view returns (uint256);

    /// @notice The pool's total debt now, stablecoin units (rounded down).
    function totalDebt() external view returns (uint256);

    /// @notice Idle stablecoin of the pool, units (donations are not counted).
    function cash() external view returns (uint256);

    /// @notice Cumulative bad debt written off, units.
    function totalBadDebt() external view returns (uint256);

    /// @notice Bad debt written off on `account` so far, units (who left the pool its losses).
    function badDebtOf(address account) external view returns (uint256);

    /// @notice Utilisation now, WAD.
    function utilisation() external view returns (uint256);

    /// @notice Borrow rate now, WAD per year.
    function borrowRatePerYear() external view returns (uint256);

    function baseRatePerYear() external view returns (uint256);

    function slopePerYear() external view returns (uint256);

    function closeFactor() external view returns (uint256);

    /// @notice The listed collaterals, in listing order (≤ MAX_COLLATERALS).
    function collaterals() external view returns (CollateralConfig[] memory);

    function collateralConfig(address token) external view returns (CollateralConfig memory);
}
