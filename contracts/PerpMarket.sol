// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {IOracle} from "./interfaces/IOracle.sol";
import {IInsuranceFund} from "./interfaces/IInsuranceFund.sol";
import {PerpMarketBase} from "./PerpMarketBase.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";
import {PerpMath} from "./libraries/PerpMath.sol";
import {MarginMath} from "./libraries/MarginMath.sol";
import {ParamsLib} from "./libraries/ParamsLib.sol";

/// @title PerpMarket
/// @notice One perpetual futures market: accounts, trading, funding and every view. Keeper
///         actions (liquidation, backstop takeover, ADL) and governance run in modules that
///         the market calls with `delegatecall` on its own storage, which keeps each contract
///         under the EIP-170 size limit without library linking.
contract PerpMarket is IPerpMarket, PerpMarketBase {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;
    using FixedPointMath for int256;

    address private immutable _liquidationModule;
    address private immutable _governanceModule;

    /// @param timelock Receives the admin and governor roles: every parameter change waits its delay.
    /// @param guardian May only tighten, immediately.
    constructor(
        address collateral_,
        address oracle_,
        MarketParams memory params_,
        MarginTier[] memory tiers_,
        address timelock,
        address guardian,
        address liquidationModule,
        address governanceModule
    ) {
        ParamsLib.validate(params_, IOracle(oracle_).maxTwapWindow());
        ParamsLib.validateTiers(tiers_);
        _collateralToken = IERC20(collateral_);
        _oracle = IOracle(oracle_);
        _params = params_;
        for (uint256 i = 0; i < tiers_.length; ++i) {
            _tiers.push(ParamsLib.pack(tiers_[i]));
        }
        _marginScale = WAD;
        _state.lastFundingTime = uint64(block.timestamp);
        _initializer = msg.sender;
        _liquidationModule = liquidationModule;
        _governanceModule = governanceModule;
        _grantRole(DEFAULT_ADMIN_ROLE, timelock);
        _grantRole(GOVERNOR_ROLE, timelock);
        if (guardian != address(0)) _grantRole(GUARDIAN_ROLE, guardian);
        emit ParametersUpdated(msg.sender, params_);
        emit MarginTiersUpdated(msg.sender, tiers_);
    }

    /// @inheritdoc IPerpMarket
    function initialize(address insuranceFund_, address backstopVault_, address controller_, address adlKeeper_)
        external
    {
        if (msg.sender != _initializer) revert AlreadyInitialized();
        _initializer = address(0);
        _fund = IInsuranceFund(insuranceFund_);
        _vault = backstopVault_;
        _controller = controller_;
        if (controller_ != address(0)) _grantRole(CONTROLLER_ROLE, controller_);
        if (adlKeeper_ != address(0)) _grantRole(ADL_ROLE, adlKeeper_);
        emit Initialized(insuranceFund_, backstopVault_, controller_, adlKeeper_);
    }

    // ---------------------------------------------------------------------------------------
    // Accounts
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpMarket
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _collateralToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 wad = amount.unitsToWad();
        Acc memory a = _load(msg.sender);
        if (a.isolated) a.idle += wad;
        else a.margin += int256(wad);
        _clearMarkAtLatestPrice(a);
        _store(msg.sender, a);
        _ledger.totalDeposits += wad;
        emit Deposited(msg.sender, wad, a.isolated);
    }

    /// @inheritdoc IPerpMarket
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 wad = amount.unitsToWad();
        Acc memory a = _load(msg.sender);
        (uint256 price, int256 longIndex, int256 shortIndex) = _settleIfOpen(a);
        if (a.size != 0 && a.margin < 0) revert InsufficientMargin(a.margin, 0);
        uint256 available = a.idle + uint256(a.margin);
        if (wad > available) revert InsufficientBalance(available, wad);
        uint256 fromIdle = FixedPointMath.min(a.idle, wad);
        a.idle -= fromIdle;
        a.margin -= int256(wad - fromIdle);
        if (a.size != 0 && wad > fromIdle) _requireInitialMargin(a, price, longIndex, shortIndex);
        if (a.size != 0) _clearMarkIfRecovered(a, price, longIndex, shortIndex);
        _store(msg.sender, a);
        _ledger.totalWithdrawals += wad;
        _collateralToken.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, wad);
    }

    /// @inheritdoc IPerpMarket
    function setMarginMode(bool isolated) external nonReentrant {
        Acc memory a = _load(msg.sender);
        if (a.size != 0) revert PositionOpen(a.size);
        if (isolated && !a.isolated) {
            a.idle += uint256(a.margin);
            a.margin = 0;
        } else if (!isolated && a.isolated) {
            a.margin += int256(a.idle);
            a.idle = 0;
        }
        a.isolated = isolated;
        _store(msg.sender, a);
        emit MarginModeSet(msg.sender, isolated);
    }

    /// @inheritdoc IPerpMarket
    function allocateMargin(int256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Acc memory a = _load(msg.sender);
        if (!a.isolated) revert WrongMarginMode(false);
        uint256 wad = amount.abs().unitsToWad();
        if (amount > 0) {
            if (wad > a.idle) revert InsufficientBalance(a.idle, wad);
            a.idle -= wad;
            a.margin += int256(wad);
        } else {
            (uint256 price, int256 longIndex, int256 shortIndex) = _settleIfOpen(a);
            if (a.margin < int256(wad)) revert InsufficientBalance(a.margin < 0 ? 0 : uint256(a.margin), wad);
            a.margin -= int256(wad);
            a.idle += wad;
            if (a.size != 0) _requireInitialMargin(a, price, longIndex, shortIndex);
        }
        _clearMarkAtLatestPrice(a);
        _store(msg.sender, a);
        emit MarginAllocated(msg.sender, amount > 0 ? int256(wad) : -int256(wad));
    }

    /// @dev A top-up or margin move can end the account's liquidation episode (F1). Checked
    ///      at the latest price, without the staleness check, so that adding margin keeps
    ///      working while the oracle is stale.
    function _clearMarkAtLatestPrice(Acc memory a) private view {
        if (a.partialAt == 0) return;
        uint256 price = _latestPrice();
        MarketState memory s = _fundingNow(price);
        _clearMarkIfRecovered(a, price, s.longFundingIndex, s.shortFundingIndex);
    }

    /// @dev Settles `a`'s funding at a fresh index price when it holds a position; returns the
    ///      price and funding indices a margin check needs (zeros for a flat account).
    function _settleIfOpen(Acc memory a) private returns (uint256 price, int256 longIndex, int256 shortIndex) {
        if (a.size == 0) return (0, 0, 0);
        price = _freshPrice();
        (longIndex, shortIndex) = _accrueFunding(price);
        _settleFunding(a, longIndex, shortIndex);
    }

    /// @dev Margin taken out of an open position must leave it at or above initial margin.
    function _requireInitialMargin(Acc memory a, uint256 price, int256 longIndex, int256 shortIndex)
        private
        view
    {
        uint256 im = _initialMargin(_notional(a.size, price), price);
        int256 eq = _equity(a, price, longIndex, shortIndex);
        if (eq < int256(im)) revert WithdrawalBelowInitialMargin(eq, im);
    }

    /// @inheritdoc IPerpMarket
    function seedPool(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _collateralToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 wad = amount.unitsToWad();
        _ledger.pool += int256(wad);
        _ledger.poolSeeded += wad;
        emit PoolSeeded(msg.sender, wad);
    }

    // ---------------------------------------------------------------------------------------
    // Trading
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpMarket
    function trade(int256 sizeDelta, uint256 acceptablePrice) external nonReentrant returns (uint256) {
        return _trade(msg.sender, sizeDelta, acceptablePrice);
    }

    /// @inheritdoc IPerpMarket
    function closePosition(uint256 acceptablePrice) external nonReentrant returns (uint256) {
        int256 size = _accounts[msg.sender].size;
        if (size == 0) revert NoPosition(msg.sender);
        return _trade(msg.sender, -size, acceptablePrice);
    }

    /// @dev Locals of one trade, kept in memory to stay within the EVM stack.
    struct TradeVars {
        uint256 price;
        int256 longIndex;
        int256 shortIndex;
        int256 funding;
        uint256 fill;
        int256 realized;
        uint256 fee;
        bool addsRisk;
    }

    function _trade(address who, int256 delta, uint256 acceptablePrice) private returns (uint256) {
        if (delta == 0) revert ZeroAmount();
        TradeVars memory t = TradeVars(_freshPrice(), 0, 0, 0, 0, 0, 0, false);
        Acc memory a = _load(who);
        int256 newSize = a.size + delta;
        t.addsRisk = newSize.abs() > a.size.abs() || (newSize != 0 && (newSize > 0) != (a.size > 0));
        if (t.addsRisk) {
            if (_riskPaused) revert RiskPaused();
            _checkBreaker(t.price);
        }
        (t.longIndex, t.shortIndex) = _accrueFunding(t.price);
        t.funding = _settleFunding(a, t.longIndex, t.shortIndex);

        t.fill = PerpMath.fillPrice(t.price, _pricingSkew(), delta, _params.skewScale);
        if (t.fill == 0) revert InvalidFillPrice(delta);
        if (acceptablePrice != 0 && (delta > 0 ? t.fill > acceptablePrice : t.fill < acceptablePrice)) {
            revert PriceLimitExceeded(t.fill, acceptablePrice);
        }
        bool longUp;
        bool shortUp;
        (t.realized, longUp, shortUp) = _applyFill(a, delta, t.fill, t.longIndex, t.shortIndex);
        _checkOpenInterestCaps(longUp, shortUp);
        t.fee = delta.abs().mulWadUp(t.fill).mulBpsUp(_params.takerFeeBps);
        a.margin -= int256(t.fee);

        if (t.addsRisk) {
            uint256 im = _initialMargin(_notional(a.size, t.price), t.price);
            int256 eq = _equity(a, t.price, t.longIndex, t.shortIndex);
            if (eq < int256(im)) revert InsufficientMargin(eq, im);
        }
        if (a.margin < 0) revert InsufficientMargin(a.margin, 0);
        _clearMarkIfRecovered(a, t.price, t.longIndex, t.shortIndex);
        _store(who, a);
        _collectFee(t.fee);
        emit PositionModified(who, delta, t.fill, a.size, a.entry, t.realized, t.fee, t.funding);
        return t.fill;
    }

    // ---------------------------------------------------------------------------------------
    // Modules (delegatecall on this contract's storage)
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpMarket
    function liquidate(address) external {
        _delegate(_liquidationModule);
    }

    /// @inheritdoc IPerpMarket
    function backstopTakeover(address) external {
        _delegate(_liquidationModule);
    }

    /// @inheritdoc IPerpMarket
    function adl(address[] calldata) external {
        _delegate(_liquidationModule);
    }

    /// @inheritdoc IPerpMarket
    function setParameters(MarketParams calldata) external {
        _delegate(_governanceModule);
    }

    /// @inheritdoc IPerpMarket
    function setMarginTiers(MarginTier[] calldata) external {
        _delegate(_governanceModule);
    }

    /// @inheritdoc IPerpMarket
    function setRiskPaused(bool) external {
        _delegate(_governanceModule);
    }

    /// @inheritdoc IPerpMarket
    function withdrawFees(address, uint256) external {
        _delegate(_governanceModule);
    }

    /// @inheritdoc IPerpMarket
    function guardianSetMaxLeverage(uint256) external {
        _delegate(_governanceModule);
    }

    /// @inheritdoc IPerpMarket
    function guardianSetMaintenanceMarginFraction(uint256) external {
        _delegate(_governanceModule);
    }

    /// @inheritdoc IPerpMarket
    function guardianSetOpenInterestCaps(uint256, uint256) external {
        _delegate(_governanceModule);
    }

    /// @inheritdoc IPerpMarket
    function guardianPauseRisk() external {
        _delegate(_governanceModule);
    }

    /// @inheritdoc IPerpMarket
    function setMarginScale(uint256) external {
        _delegate(_governanceModule);
    }

    /// @dev Forward the call unchanged; return or revert with the module's data.
    function _delegate(address module) private {
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpMarket
    function parameters() external view returns (MarketParams memory) {
        return _params;
    }

    /// @inheritdoc IPerpMarket
    function marginTiers() external view returns (MarginTier[] memory tiers) {
        tiers = new MarginTier[](_tiers.length);
        for (uint256 i = 0; i < tiers.length; ++i) {
            MarginMath.PackedTier memory t = _tiers[i];
            tiers[i] = MarginTier(t.notionalFloor, t.initialMarginFraction, t.maintenanceMarginFraction);
        }
    }

    /// @inheritdoc IPerpMarket
    function marginScale() external view returns (uint256) {
        return _marginScale;
    }

    /// @inheritdoc IPerpMarket
    function riskPaused() external view returns (bool) {
        return _riskPaused;
    }

    /// @inheritdoc IPerpMarket
    function accountOf(address account) external view returns (AccountView memory v) {
        Acc memory a = _load(account);
        MarketState memory s = _fundingNow(_latestPrice());
        v = AccountView({
            size: a.size,
            entryPrice: a.entry,
            margin: uint256(a.margin),
            idle: a.idle,
            isolated: a.isolated,
            pendingFunding: PerpMath.fundingOwed(a.size, a.fundingSnapshot, s.longFundingIndex, s.shortFundingIndex),
            partialLiquidatedAt: a.partialAt
        });
    }

    /// @dev Equity and maintenance margin of one account at the latest price.
    function _health(address account, uint256 price, MarketState memory s)
        private
        view
        returns (Acc memory a, int256 eq, uint256 mm)
    {
        a = _load(account);
        eq = _equity(a, price, s.longFundingIndex, s.shortFundingIndex);
        mm = _maintenanceMargin(_notional(a.size, price));
    }

    /// @inheritdoc IPerpMarket
    function equity(address account) external view returns (int256 eq) {
        uint256 price = _latestPrice();
        (, eq,) = _health(account, price, _fundingNow(price));
    }

    /// @inheritdoc IPerpMarket
    function maintenanceMargin(address account) external view returns (uint256) {
        return _maintenanceMargin(_notional(_accounts[account].size, _latestPrice()));
    }

    /// @inheritdoc IPerpMarket
    function initialMargin(address account) external view returns (uint256) {
        uint256 price = _latestPrice();
        return _initialMargin(_notional(_accounts[account].size, price), price);
    }

    /// @inheritdoc IPerpMarket
    function liquidationPrice(address account) external view returns (uint256) {
        Acc memory a = _load(account);
        MarketState memory s = _fundingNow(_latestPrice());
        int256 owed = PerpMath.fundingOwed(a.size, a.fundingSnapshot, s.longFundingIndex, s.shortFundingIndex);
        return MarginMath.liquidationPrice(
            a.size, a.entry, a.margin - owed, _params.maintenanceMarginFraction, _tiers, _marginScale
        );
    }

    /// @inheritdoc IPerpMarket
    function isLiquidatable(address account) external view returns (bool) {
        uint256 price = _latestPrice();
        (Acc memory a, int256 eq, uint256 mm) = _health(account, price, _fundingNow(price));
        return a.size != 0 && eq < int256(mm);
    }

    /// @inheritdoc IPerpMarket
    function healthOf(address[] calldata accounts)
        external
        view
        returns (int256[] memory equities, uint256[] memory mms, int256[] memory sizes, bool[] memory liquidatable)
    {
        uint256 n = accounts.length;
        equities = new int256[](n);
        mms = new uint256[](n);
        sizes = new int256[](n);
        liquidatable = new bool[](n);
        uint256 price = _latestPrice();
        MarketState memory s = _fundingNow(price);
        for (uint256 i = 0; i < n; ++i) {
            (Acc memory a, int256 eq, uint256 mm) = _health(accounts[i], price, s);
            equities[i] = eq;
            mms[i] = mm;
            sizes[i] = a.size;
            liquidatable[i] = a.size != 0 && eq < int256(mm);
        }
    }

    /// @inheritdoc IPerpMarket
    function adlRanking(address[] calldata accounts)
        external
        view
        returns (uint256[] memory scores, int256[] memory pnls)
    {
        uint256 n = accounts.length;
        scores = new uint256[](n);
        pnls = new int256[](n);
        uint256 price = _latestPrice();
        MarketState memory s = _fundingNow(price);
        for (uint256 i = 0; i < n; ++i) {
            (Acc memory a, int256 eq,) = _health(accounts[i], price, s);
            int256 pnl = PerpMath.unrealizedPnl(a.size, a.entry, price);
            pnls[i] = pnl;
            if (pnl > 0 && eq > 0) scores[i] = _adlScore(a.size, a.entry, price, uint256(eq));
        }
    }

    /// @inheritdoc IPerpMarket
    function fillPrice(int256 sizeDelta) external view returns (uint256) {
        return PerpMath.fillPrice(_latestPrice(), _pricingSkew(), sizeDelta, _params.skewScale);
    }

    /// @inheritdoc IPerpMarket
    function indexPrice() external view returns (uint256) {
        return _latestPrice();
    }

    /// @inheritdoc IPerpMarket
    function fundingRatePerDay() external view returns (int256) {
        return _fundingNow(_latestPrice()).fundingRatePerDay;
    }

    /// @inheritdoc IPerpMarket
    function fundingIndices() external view returns (int256, int256) {
        MarketState memory s = _fundingNow(_latestPrice());
        return (s.longFundingIndex, s.shortFundingIndex);
    }

    /// @inheritdoc IPerpMarket
    function openInterest() external view returns (uint256, uint256) {
        return (_state.longOpenInterest, _state.shortOpenInterest);
    }

    /// @inheritdoc IPerpMarket
    function accounting() external view returns (Accounting memory) {
        return _ledger;
    }

    /// @inheritdoc IPerpMarket
    function circuitBreakerTripped() external view returns (bool tripped) {
        (tripped,) = _breaker(_latestPrice());
    }

    /// @inheritdoc IPerpMarket
    function collateral() external view returns (address) {
        return address(_collateralToken);
    }

    /// @inheritdoc IPerpMarket
    function oracle() external view returns (address) {
        return address(_oracle);
    }

    /// @inheritdoc IPerpMarket
    function insuranceFund() external view returns (address) {
        return address(_fund);
    }

    /// @inheritdoc IPerpMarket
    function backstopVault() external view returns (address) {
        return _vault;
    }

    /// @inheritdoc IPerpMarket
    function controller() external view returns (address) {
        return _controller;
    }
}
