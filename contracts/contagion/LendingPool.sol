// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IOracle} from "../interfaces/IOracle.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {ILendingPool} from "./interfaces/ILendingPool.sol";
import {LendingMath} from "./libraries/LendingMath.sol";

/// @title LendingPool
/// @notice Supply the stablecoin for ERC-4626 shares, borrow it against up to MAX_COLLATERALS
///         collateral assets (oracle-priced tokens or ERC-4626 vault shares), liquidations with
///         a bonus, bad debt written off against suppliers (see ILendingPool).
/// @dev Supply shares carry OpenZeppelin's virtual offset of 10**6 (as the backstop vault's), so
///      a donation cannot steal a first deposit. Cash is tracked, not read from the balance.
contract LendingPool is ILendingPool, ERC4626, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;

    /// @notice Collateral assets the pool may list; every per-account loop is bounded by it.
    uint256 public constant MAX_COLLATERALS = 8;
    /// @notice Highest base rate or slope governance may set, WAD per year (1000%).
    uint256 public constant MAX_RATE_PER_YEAR = 10 * FixedPointMath.WAD;
    /// @notice Highest liquidation bonus, bps (50%).
    uint256 public constant MAX_LIQUIDATION_BONUS_BPS = 5_000;
    uint8 private constant DECIMALS_OFFSET = 6;

    /// @dev WAD per stablecoin base unit (1e12 for 6 decimals): the stablecoin is the unit of account.
    uint256 private immutable _unitScale;

    CollateralConfig[] private _collaterals;
    mapping(address token => uint256 indexPlusOne) private _collateralSlot;
    mapping(address account => uint256[MAX_COLLATERALS] balances) private _balances;
    mapping(address account => uint256 shares) private _debtShares;
    uint256 private _totalDebtShares;
    uint256 private _borrowIndex = FixedPointMath.WAD;
    uint256 private _lastAccrual;
    uint256 private _cash;
    /// @inheritdoc ILendingPool
    uint256 public totalBadDebt;
    /// @inheritdoc ILendingPool
    mapping(address account => uint256 units) public badDebtOf;
    /// @inheritdoc ILendingPool
    uint256 public baseRatePerYear;
    /// @inheritdoc ILendingPool
    uint256 public slopePerYear;
    /// @inheritdoc ILendingPool
    uint256 public closeFactor;

    /// @param asset_ The borrowable stablecoin (the venue's collateral token).
    /// @param admin DEFAULT_ADMIN_ROLE: lists collateral and sets every parameter.
    /// @param baseRatePerYear_ Borrow rate at zero utilisation, WAD per year.
    /// @param slopePerYear_ Added borrow rate per unit of utilisation, WAD per year.
    /// @param closeFactor_ Largest share of a debt one liquidation may repay, WAD.
    constructor(
        IERC20 asset_,
        string memory name_,
        string memory symbol_,
        address admin,
        uint256 baseRatePerYear_,
        uint256 slopePerYear_,
        uint256 closeFactor_
    ) ERC4626(asset_) ERC20(name_, symbol_) {
        uint8 assetDecimals = IERC20Metadata(address(asset_)).decimals();
        if (assetDecimals > 18) revert InvalidParameter("assetDecimals", assetDecimals);
        _unitScale = 10 ** (18 - assetDecimals);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _lastAccrual = block.timestamp;
        _setInterestRateModel(baseRatePerYear_, slopePerYear_);
        _setCloseFactor(closeFactor_);
    }

    // ---------------------------------------------------------------------------------------
    // Supply (ERC-4626)
    // ---------------------------------------------------------------------------------------

    /// @notice Idle cash plus everything borrowers owe now (stablecoin units, rounded down).
    function totalAssets() public view override returns (uint256) {
        return _cash + LendingMath.debtDown(_totalDebtShares, _currentIndex());
    }

    /// @notice Capped by the pool's idle cash.
    function maxWithdraw(address owner) public view override returns (uint256) {
        return Math.min(super.maxWithdraw(owner), _cash);
    }

    /// @notice Capped by the pool's idle cash, in shares.
    function maxRedeem(address owner) public view override returns (uint256) {
        return Math.min(super.maxRedeem(owner), convertToShares(_cash));
    }

    function deposit(uint256 assets, address receiver) public override nonReentrant returns (uint256) {
        _accrue();
        return super.deposit(assets, receiver);
    }

    function mint(uint256 shares, address receiver) public override nonReentrant returns (uint256) {
        _accrue();
        return super.mint(shares, receiver);
    }

    function withdraw(uint256 assets, address receiver, address owner) public override nonReentrant returns (uint256) {
        _accrue();
        return super.withdraw(assets, receiver, owner);
    }

    function redeem(uint256 shares, address receiver, address owner) public override nonReentrant returns (uint256) {
        _accrue();
        return super.redeem(shares, receiver, owner);
    }

    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        if (assets == 0 || shares == 0) revert ZeroAmount();
        super._deposit(caller, receiver, assets, shares);
        _cash += assets;
    }

    function _withdraw(address caller, address receiver, address owner, uint256 assets, uint256 shares)
        internal
        override
    {
        if (assets > _cash) revert InsufficientCash(_cash, assets);
        _cash -= assets;
        super._withdraw(caller, receiver, owner, assets, shares);
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return DECIMALS_OFFSET;
    }

    // ---------------------------------------------------------------------------------------
    // Collateral and borrowing
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ILendingPool
    function depositCollateral(address token, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 slot = _slotOf(token);
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        _balances[msg.sender][slot] += amount;
        emit CollateralDeposited(msg.sender, token, amount);
    }

    /// @inheritdoc ILendingPool
    function withdrawCollateral(address token, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 slot = _slotOf(token);
        uint256 balance = _balances[msg.sender][slot];
        if (amount > balance) revert InsufficientCollateralBalance(token, balance, amount);
        _accrue();
        _balances[msg.sender][slot] = balance - amount;
        _requireBorrowCapacity(msg.sender);
        IERC20(token).safeTransfer(msg.sender, amount);
        emit CollateralWithdrawn(msg.sender, token, amount);
    }

    /// @inheritdoc ILendingPool
    function borrow(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _accrue();
        if (amount > _cash) revert InsufficientCash(_cash, amount);
        // the borrower owes the rounding: shares rounded up
        uint256 shares = LendingMath.sharesToBorrow(amount, _borrowIndex);
        _debtShares[msg.sender] += shares;
        _totalDebtShares += shares;
        _cash -= amount;
        _requireBorrowCapacity(msg.sender);
        IERC20(asset()).safeTransfer(msg.sender, amount);
        emit Borrowed(msg.sender, amount, LendingMath.debtUp(_debtShares[msg.sender], _borrowIndex));
    }

    /// @inheritdoc ILendingPool
    function repay(address account, uint256 amount) external nonReentrant returns (uint256 repaid) {
        if (amount == 0) revert ZeroAmount();
        _accrue();
        uint256 debt = LendingMath.debtUp(_debtShares[account], _borrowIndex);
        if (debt == 0) revert NoDebt(account);
        repaid = Math.min(amount, debt);
        IERC20(asset()).safeTransferFrom(msg.sender, address(this), repaid);
        uint256 debtAfter = _reduceDebt(account, repaid, debt);
        emit Repaid(msg.sender, account, repaid, debtAfter);
    }

    // ---------------------------------------------------------------------------------------
    // Liquidation and bad debt
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ILendingPool
    function liquidate(address account, address token, uint256 repayAmount, uint256 minSeized)
        external
        nonReentrant
        returns (uint256 repaid, uint256 seized)
    {
        if (repayAmount == 0) revert ZeroAmount();
        uint256 slot = _slotOf(token);
        _accrue();
        uint256 debt = LendingMath.debtUp(_debtShares[account], _borrowIndex);
        if (debt == 0) revert NoDebt(account);
        uint256 hf = _requireLiquidatable(account, debt);
        // the cap rounds up, so a debt of one unit can still be closed
        uint256 seizedValue;
        (repaid, seized, seizedValue) = _seizure(account, slot, Math.min(repayAmount, debt.mulWadUp(closeFactor)));
        // repaid is 0 only when the whole balance is worth nothing: the liquidator clears it
        if (seized < minSeized) revert SeizeBelowMinimum(seized, minSeized);

        _balances[account][slot] -= seized;
        uint256 debtAfter = debt;
        if (repaid != 0) {
            IERC20(asset()).safeTransferFrom(msg.sender, address(this), repaid);
            debtAfter = _reduceDebt(account, repaid, debt);
        }
        IERC20(token).safeTransfer(msg.sender, seized);
        emit Liquidated(account, msg.sender, token, repaid, seized, seizedValue, hf, debtAfter);

        if (debtAfter != 0 && !_hasCollateral(account)) _writeOff(account, debtAfter);
    }

    /// @dev The account's health factor (WAD, checked prices); reverts NotLiquidatable unless < 1.
    function _requireLiquidatable(address account, uint256 debt) private view returns (uint256 hf) {
        (,, uint256 liquidationValue) = _accountValues(account, true);
        hf = LendingMath.healthFactor(liquidationValue, debt * _unitScale);
        if (hf >= FixedPointMath.WAD) revert NotLiquidatable(account, hf);
    }

    /// @dev What a liquidation repaying up to `maxRepay` units takes from collateral `slot`:
    ///      collateral worth repay·(1 + bonus), rounded down (the pool keeps the rounding); when
    ///      the account holds less, all of it, and the repayment shrinks to its value net of the
    ///      bonus, rounded up (the liquidator pays the rounding).
    function _seizure(address account, uint256 slot, uint256 maxRepay)
        private
        view
        returns (uint256 repaid, uint256 seized, uint256 seizedValue)
    {
        uint256 balance = _balances[account][slot];
        CollateralConfig memory c = _collaterals[slot];
        if (balance == 0) revert InsufficientCollateralBalance(c.token, 0, 1);
        repaid = maxRepay;
        seized = _tokensFor(c, LendingMath.seizeValue(repaid * _unitScale, c.liquidationBonusBps));
        if (seized >= balance) {
            seized = balance;
            seizedValue = _value(c, balance, true);
            repaid = Math.min(repaid, LendingMath.repayForValue(seizedValue, c.liquidationBonusBps, _unitScale));
        } else {
            seizedValue = _value(c, seized, true);
        }
    }

    /// @dev Cancel the debt shares of an account left without collateral: suppliers take the loss.
    function _writeOff(address account, uint256 debt) private {
        _totalDebtShares -= _debtShares[account];
        _debtShares[account] = 0;
        totalBadDebt += debt;
        badDebtOf[account] += debt;
        emit BadDebtRecorded(account, debt, totalBadDebt);
    }

    // ---------------------------------------------------------------------------------------
    // Interest
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ILendingPool
    function accrueInterest() external nonReentrant {
        _accrue();
    }

    function _accrue() private {
        uint256 previous = _borrowIndex;
        uint256 index = _currentIndex();
        _lastAccrual = block.timestamp;
        if (index == previous) return;
        uint256 rate = _ratePerYear(LendingMath.debtDown(_totalDebtShares, previous));
        _borrowIndex = index;
        uint256 debtAfter = LendingMath.debtDown(_totalDebtShares, index);
        emit InterestAccrued(index, debtAfter, debtAfter - LendingMath.debtDown(_totalDebtShares, previous), rate);
    }

    /// @dev The borrow index as of now: index·(1 + rate·dt/year), rounded up.
    function _currentIndex() private view returns (uint256) {
        uint256 elapsed = block.timestamp - _lastAccrual;
        if (elapsed == 0 || _totalDebtShares == 0) return _borrowIndex;
        uint256 rate = _ratePerYear(LendingMath.debtDown(_totalDebtShares, _borrowIndex));
        return LendingMath.grownIndex(_borrowIndex, rate, elapsed);
    }

    function _ratePerYear(uint256 debt) private view returns (uint256) {
        return LendingMath.ratePerYear(baseRatePerYear, slopePerYear, debt, _cash);
    }

    // ---------------------------------------------------------------------------------------
    // Governance
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ILendingPool
    function listCollateral(
        address token,
        PriceSource source,
        address feed,
        uint256 collateralFactor,
        uint256 liquidationThreshold,
        uint256 liquidationBonusBps
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (token == address(0)) revert InvalidParameter("token", 0);
        if (_collateralSlot[token] != 0) revert CollateralAlreadyListed(token);
        if (_collaterals.length >= MAX_COLLATERALS) revert TooManyCollaterals(MAX_COLLATERALS);
        if (source == PriceSource.VAULT_SHARE) {
            address vaultAsset = IERC4626(token).asset();
            if (vaultAsset != asset()) revert VaultAssetMismatch(token, vaultAsset);
            feed = token;
        } else if (feed == address(0)) {
            revert InvalidParameter("feed", 0);
        }
        _collaterals.push(
            CollateralConfig({
                token: token,
                source: source,
                feed: feed,
                decimals: IERC20Metadata(token).decimals(),
                collateralFactor: 0,
                liquidationThreshold: 0,
                liquidationBonusBps: 0
            })
        );
        _collateralSlot[token] = _collaterals.length;
        emit CollateralListed(token, source, feed);
        _setCollateralParameters(token, collateralFactor, liquidationThreshold, liquidationBonusBps);
    }

    /// @inheritdoc ILendingPool
    function setCollateralParameters(
        address token,
        uint256 collateralFactor,
        uint256 liquidationThreshold,
        uint256 liquidationBonusBps
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setCollateralParameters(token, collateralFactor, liquidationThreshold, liquidationBonusBps);
    }

    /// @inheritdoc ILendingPool
    function setInterestRateModel(uint256 baseRatePerYear_, uint256 slopePerYear_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _accrue();
        _setInterestRateModel(baseRatePerYear_, slopePerYear_);
    }

    /// @inheritdoc ILendingPool
    function setCloseFactor(uint256 closeFactor_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setCloseFactor(closeFactor_);
    }

    function _setCollateralParameters(
        address token,
        uint256 collateralFactor,
        uint256 liquidationThreshold,
        uint256 liquidationBonusBps
    ) private {
        CollateralConfig storage c = _collaterals[_slotOf(token)];
        if (liquidationThreshold > FixedPointMath.WAD) {
            revert InvalidParameter("liquidationThreshold", liquidationThreshold);
        }
        if (collateralFactor > liquidationThreshold) revert InvalidParameter("collateralFactor", collateralFactor);
        if (
            liquidationBonusBps > MAX_LIQUIDATION_BONUS_BPS
                || liquidationThreshold.mulBpsUp(FixedPointMath.BPS + liquidationBonusBps) > FixedPointMath.WAD
        ) revert InvalidParameter("liquidationBonusBps", liquidationBonusBps);
        c.collateralFactor = uint64(collateralFactor);
        c.liquidationThreshold = uint64(liquidationThreshold);
        c.liquidationBonusBps = uint16(liquidationBonusBps);
        emit CollateralParametersUpdated(token, collateralFactor, liquidationThreshold, liquidationBonusBps);
    }

    function _setInterestRateModel(uint256 baseRatePerYear_, uint256 slopePerYear_) private {
        if (baseRatePerYear_ > MAX_RATE_PER_YEAR) revert InvalidParameter("baseRatePerYear", baseRatePerYear_);
        if (slopePerYear_ > MAX_RATE_PER_YEAR) revert InvalidParameter("slopePerYear", slopePerYear_);
        baseRatePerYear = baseRatePerYear_;
        slopePerYear = slopePerYear_;
        emit InterestRateModelUpdated(baseRatePerYear_, slopePerYear_);
    }

    function _setCloseFactor(uint256 closeFactor_) private {
        if (closeFactor_ == 0 || closeFactor_ > FixedPointMath.WAD) revert InvalidParameter("closeFactor", closeFactor_);
        closeFactor = closeFactor_;
        emit CloseFactorUpdated(closeFactor_);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc ILendingPool
    function debtOf(address account) external view returns (uint256) {
        return LendingMath.debtUp(_debtShares[account], _currentIndex());
    }

    /// @inheritdoc ILendingPool
    function collateralOf(address account, address token) external view returns (uint256) {
        return _balances[account][_slotOf(token)];
    }

    /// @inheritdoc ILendingPool
    function healthFactor(address account) external view returns (uint256) {
        (,, uint256 liquidationValue) = _accountValues(account, false);
        return LendingMath.healthFactor(liquidationValue, LendingMath.debtUp(_debtShares[account], _currentIndex()) * _unitScale);
    }

    /// @inheritdoc ILendingPool
    function accountLiquidity(address account)
        external
        view
        returns (uint256 collateralValue_, uint256 borrowCapacity, uint256 liquidationValue, uint256 debtValue)
    {
        (collateralValue_, borrowCapacity, liquidationValue) = _accountValues(account, false);
        debtValue = LendingMath.debtUp(_debtShares[account], _currentIndex()) * _unitScale;
    }

    /// @inheritdoc ILendingPool
    function collateralValue(address token, uint256 amount) external view returns (uint256) {
        return _value(_collaterals[_slotOf(token)], amount, false);
    }

    /// @inheritdoc ILendingPool
    function borrowIndex() external view returns (uint256) {
        return _currentIndex();
    }

    /// @inheritdoc ILendingPool
    function totalDebt() external view returns (uint256) {
        return LendingMath.debtDown(_totalDebtShares, _currentIndex());
    }

    /// @inheritdoc ILendingPool
    function cash() external view returns (uint256) {
        return _cash;
    }

    /// @inheritdoc ILendingPool
    function utilisation() external view returns (uint256) {
        return LendingMath.utilisation(LendingMath.debtDown(_totalDebtShares, _currentIndex()), _cash);
    }

    /// @inheritdoc ILendingPool
    function borrowRatePerYear() external view returns (uint256) {
        return _ratePerYear(LendingMath.debtDown(_totalDebtShares, _currentIndex()));
    }

    /// @inheritdoc ILendingPool
    function collaterals() external view returns (CollateralConfig[] memory) {
        return _collaterals;
    }

    /// @inheritdoc ILendingPool
    function collateralConfig(address token) external view returns (CollateralConfig memory) {
        return _collaterals[_slotOf(token)];
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    function _slotOf(address token) private view returns (uint256) {
        uint256 slot = _collateralSlot[token];
        if (slot == 0) revert UnknownCollateral(token);
        return slot - 1;
    }

    /// @dev Remove `amount` (≤ debt) from the account's debt: the whole debt clears every share,
    ///      a part removes shares rounded down (the borrower keeps the rounding as debt).
    function _reduceDebt(address account, uint256 amount, uint256 debt) private returns (uint256 debtAfter) {
        uint256 shares = _debtShares[account];
        uint256 burned = amount == debt ? shares : Math.min(shares, LendingMath.sharesRepaid(amount, _borrowIndex));
        _debtShares[account] = shares - burned;
        _totalDebtShares -= burned;
        _cash += amount;
        debtAfter = LendingMath.debtUp(shares - burned, _borrowIndex);
    }

    /// @dev Σ value, Σ value·CF and Σ value·LT of the account's collateral (WAD USD, each term
    ///      rounded down); `checked` reads oracles with their staleness check.
    function _accountValues(address account, bool checked)
        private
        view
        returns (uint256 total, uint256 capacity, uint256 liquidationValue)
    {
        uint256 n = _collaterals.length;
        for (uint256 i; i < n; ++i) {
            uint256 balance = _balances[account][i];
            if (balance == 0) continue;
            CollateralConfig memory c = _collaterals[i];
            uint256 value = _value(c, balance, checked);
            total += value;
            capacity += value.mulWadDown(c.collateralFactor);
            liquidationValue += value.mulWadDown(c.liquidationThreshold);
        }
    }

    function _hasCollateral(address account) private view returns (bool) {
        uint256 n = _collaterals.length;
        for (uint256 i; i < n; ++i) {
            if (_balances[account][i] != 0) return true;
        }
        return false;
    }

    function _requireBorrowCapacity(address account) private view {
        uint256 debtValue = LendingMath.debtUp(_debtShares[account], _borrowIndex) * _unitScale;
        if (debtValue == 0) return;
        (, uint256 capacity,) = _accountValues(account, true);
        if (capacity < debtValue) revert InsufficientCollateral(capacity, debtValue);
    }

    /// @dev Value of `amount` collateral tokens, WAD USD, rounded down.
    function _value(CollateralConfig memory c, uint256 amount, bool checked) private view returns (uint256) {
        if (c.source == PriceSource.VAULT_SHARE) return IERC4626(c.feed).convertToAssets(amount) * _unitScale;
        uint256 price = checked ? IOracle(c.feed).price() : IOracle(c.feed).lastPrice();
        return Math.mulDiv(amount, price, 10 ** c.decimals);
    }

    /// @dev Collateral tokens worth `valueWad` (WAD USD) at checked prices, rounded down.
    function _tokensFor(CollateralConfig memory c, uint256 valueWad) private view returns (uint256) {
        if (c.source == PriceSource.VAULT_SHARE) return IERC4626(c.feed).convertToShares(valueWad / _unitScale);
        uint256 price = IOracle(c.feed).price();
        return Math.mulDiv(valueWad, 10 ** c.decimals, price);
    }
}
