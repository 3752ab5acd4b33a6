// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IPerpVenue, IPerpVenueLiquidation, IPerpVenueAdl, IPerpVenueGovernance} from "./interfaces/IPerpVenue.sol";
import {MarketId, MAX_MARKETS, MAX_POSITIONS_PER_ACCOUNT} from "./interfaces/IPerpVenueTypes.sol";
import {IInsuranceFund} from "./interfaces/IInsuranceFund.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";
import {PerpMath} from "./libraries/PerpMath.sol";
import {MarginMath} from "./libraries/MarginMath.sol";
import {VenueStorage} from "./venue/VenueStorage.sol";
import {VenueMarket} from "./venue/VenueMarket.sol";

/// @title PerpVenue
/// @notice One venue, many perpetual markets, one collateral balance per account shared by its
///         cross positions, isolated positions with their own margin. This contract holds the
///         collateral, the accounts and trading, and every view; keeper actions run in
///         `VenueLiquidationModule` / `VenueAdlModule` and governance in `VenueGovernanceModule`,
///         called with `delegatecall` on this contract's storage through `abi.encodeCall` of the
///         typed interfaces (the compiler checks every forwarded signature).
/// @dev See IPerpVenue for the health rules and IPerpVenueTypes.Accounting for the identity.
contract PerpVenue is IPerpVenue, VenueStorage {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;
    using FixedPointMath for int256;
    using VenueMarket for VenueMarket.State;

    address private immutable _liquidationModule;
    address private immutable _adlModule;
    address private immutable _governanceModule;

    /// @param timelock Receives the admin and governor roles: every listing and parameter change
    ///        waits its delay.
    /// @param guardian May only tighten, per market, at once (zero: none).
    constructor(
        address collateral_,
        address timelock,
        address guardian,
        address liquidationModule,
        address adlModule,
        address governanceModule
    ) {
        _collateralToken = IERC20(collateral_);
        _initializer = msg.sender;
        _liquidationModule = liquidationModule;
        _adlModule = adlModule;
        _governanceModule = governanceModule;
        _grantRole(DEFAULT_ADMIN_ROLE, timelock);
        _grantRole(GOVERNOR_ROLE, timelock);
        if (guardian != address(0)) _grantRole(GUARDIAN_ROLE, guardian);
    }

    /// @inheritdoc IPerpVenue
    function initialize(address insuranceFund_, address backstopVault_, address adlKeeper, address controller_)
        external
    {
        if (msg.sender != _initializer) revert AlreadyInitialized();
        _initializer = address(0);
        _fund = IInsuranceFund(insuranceFund_);
        _vault = backstopVault_;
        if (adlKeeper != address(0)) _grantRole(ADL_KEEPER_ROLE, adlKeeper);
        if (controller_ != address(0)) _grantRole(CONTROLLER_ROLE, controller_);
        emit Initialized(insuranceFund_, backstopVault_, adlKeeper, controller_);
    }

    // ---------------------------------------------------------------------------------------
    // Collateral
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenue
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _collateralToken.safeTransferFrom(msg.sender, address(this), amount);
        uint256 wad = amount.unitsToWad();
        _addCollateral(msg.sender, int256(wad));
        _ledger.totalDeposits += wad;
        _clearMarksIfHealthy(msg.sender);
        emit Deposited(msg.sender, wad);
    }

    /// @dev F1: a top-up that restores cross health ends the account's partial-liquidation
    ///      episode, so every cross position's mark is cleared (an isolated one clears on its own
    ///      healthy trade). Health at the last prices: a stale oracle must not block a deposit.
    function _clearMarksIfHealthy(address who) private {
        MarketId[] storage list = _open[who];
        uint256 n = list.length;
        bool marked = false;
        for (uint256 i = 0; i < n && !marked; ++i) {
            StoredPosition storage s = _positions[who][list[i]];
            marked = s.partialLiquidatedAt != 0 && !s.isolated;
        }
        if (!marked) return;
        (int256 eq, uint256 mm,) = _crossHealth(who, false);
        if (eq < int256(mm)) return;
        for (uint256 i = 0; i < n; ++i) {
            StoredPosition storage s = _positions[who][list[i]];
            if (s.partialLiquidatedAt != 0 && !s.isolated) s.partialLiquidatedAt = 0;
        }
    }

    /// @inheritdoc IPerpVenue
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 wad = amount.unitsToWad();
        int256 available = _collateral[msg.sender];
        if (available < int256(wad)) revert InsufficientBalance(available, wad);
        _addCollateral(msg.sender, -int256(wad));
        (int256 eq,, uint256 im) = _crossHealth(msg.sender, true);
        if (im != 0 && eq < int256(im)) revert InsufficientMargin(eq, im);
        _ledger.totalWithdrawals += wad;
        _collateralToken.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, wad);
    }

    /// @inheritdoc IPerpVenue
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

    /// @inheritdoc IPerpVenue
    function trade(MarketId market, int256 sizeDelta, uint256 acceptablePrice) external nonReentrant returns (uint256) {
        return _trade(msg.sender, market, sizeDelta, acceptablePrice, false, 0);
    }

    /// @inheritdoc IPerpVenue
    function tradeIsolated(MarketId market, int256 sizeDelta, uint256 acceptablePrice, int256 marginDelta)
        external
        nonReentrant
        returns (uint256)
    {
        return _trade(msg.sender, market, sizeDelta, acceptablePrice, true, marginDelta);
    }

    /// @inheritdoc IPerpVenue
    function closePosition(MarketId market, uint256 acceptablePrice) external nonReentrant returns (uint256) {
        StoredPosition storage s = _positions[msg.sender][market];
        if (s.size == 0) revert NoPosition(msg.sender, market);
        return _trade(msg.sender, market, -int256(s.size), acceptablePrice, s.isolated, 0);
    }

    /// @dev Locals of one trade, in memory to stay within the EVM stack.
    struct TradeVars {
        uint256 price;
        uint256 fill;
        int256 funding;
        int256 realized;
        uint256 fee;
        bool addsRisk;
    }

    function _trade(
        address who,
        MarketId id,
        int256 delta,
        uint256 acceptablePrice,
        bool isolated,
        int256 marginDelta
    ) private returns (uint256) {
        if (delta == 0) revert ZeroAmount();
        VenueMarket.State storage m = _market(id);
        TradeVars memory t = TradeVars(0, 0, 0, 0, 0, false);
        t.price = m.freshPrice();
        Pos memory p = _load(who, id);
        if (p.wasOpen && p.isolated != isolated) revert WrongMarginMode(id, p.isolated);
        p.isolated = isolated;
        {
            int256 newSize = p.size + delta;
            t.addsRisk = newSize.abs() > p.size.abs() || (newSize != 0 && (newSize > 0) != (p.size > 0));
        }
        if (t.addsRisk) {
            if (m.riskPaused) revert RiskPaused(id);
            m.checkBreaker(id, t.price);
        }
        VenueMarket.Funding memory f = m.accrued(t.price);
        t.funding = _settleFunding(who, p, f);
        if (marginDelta > 0) _moveIsolatedMargin(who, p, marginDelta);

        t.fill = m.fill(t.price, delta);
        if (t.fill == 0) revert InvalidFillPrice(id, delta);
        if (acceptablePrice != 0 && (delta > 0 ? t.fill > acceptablePrice : t.fill < acceptablePrice)) {
            revert PriceLimitExceeded(t.fill, acceptablePrice);
        }
        bool longUp;
        bool shortUp;
        (t.realized, longUp, shortUp) = _applyFill(who, m, p, delta, t.fill, f);
        m.checkOpenInterestCaps(id, longUp, shortUp);
        t.fee = delta.abs().mulWadUp(t.fill).mulBpsUp(m.params.takerFeeBps);
        if (isolated) p.margin -= int256(t.fee);
        else _addCollateral(who, -int256(t.fee));
        if (marginDelta < 0) _moveIsolatedMargin(who, p, marginDelta);
        if (p.size == 0) {
            p.partialAt = 0;
            if (isolated) {
                // The closed isolated position's margin goes back to the account's collateral.
                if (p.margin < 0) revert InsufficientMargin(p.margin, 0);
                _addCollateral(who, p.margin);
                p.margin = 0;
            }
        }
        _store(who, p);
        _checkAfterTrade(who, m, p, t, marginDelta);
        _collectFee(m, t.fee);
        _emitTrade(who, delta, p, t);
        return t.fill;
    }

    function _emitTrade(address who, int256 delta, Pos memory p, TradeVars memory t) private {
        emit PositionModified(who, p.id, delta, t.fill, p.size, p.entry, t.realized, t.fee, t.funding, p.isolated);
    }

    /// @dev Move `amount` (WAD USD, + = collateral → position) between the account's cross
    ///      collateral and an isolated position's margin.
    function _moveIsolatedMargin(address who, Pos memory p, int256 amount) private {
        if (!p.isolated) revert WrongMarginMode(p.id, false);
        if (amount > 0 && _collateral[who] < amount) revert InsufficientBalance(_collateral[who], uint256(amount));
        if (amount < 0 && p.margin < -amount) revert InsufficientBalance(p.margin, uint256(-amount));
        _addCollateral(who, -amount);
        p.margin += amount;
        emit IsolatedMarginMoved(who, p.id, amount);
    }

    /// @dev New risk (or margin taken out) needs initial margin; any trade must leave equity ≥ 0.
    ///      A healthy account loses its partial-liquidation marks (F1).
    function _checkAfterTrade(address who, VenueMarket.State storage m, Pos memory p, TradeVars memory t, int256 marginDelta)
        private
    {
        if (p.isolated && p.size != 0) {
            VenueMarket.Funding memory f = m.fundingNow(t.price);
            int256 eq = p.margin + _positionValue(p, t.price, f);
            uint256 need = t.addsRisk || marginDelta < 0 ? m.initialMargin(p.size, t.price) : 0;
            if (eq < int256(need)) revert InsufficientMargin(eq, need);
            if (p.partialAt != 0 && eq >= int256(m.maintenanceMargin(p.size, t.price))) {
                _positions[who][p.id].partialLiquidatedAt = 0;
            }
        }
        (int256 ceq, uint256 cmm, uint256 cim) = _crossHealth(who, true);
        // Cross new risk, or margin taken from a cross account into an isolated position.
        uint256 required = (!p.isolated && t.addsRisk) || (p.isolated && marginDelta > 0) ? cim : 0;
        if ((!p.isolated || marginDelta > 0) && ceq < int256(required)) revert InsufficientMargin(ceq, required);
        if (!p.isolated && p.size != 0 && p.partialAt != 0 && ceq >= int256(cmm)) {
            _positions[who][p.id].partialLiquidatedAt = 0;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Keepers and governance (modules, through delegatecall)
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenueLiquidation
    function liquidate(address account) external {
        _delegate(_liquidationModule, abi.encodeCall(IPerpVenueLiquidation.liquidate, (account)));
    }

    /// @inheritdoc IPerpVenueLiquidation
    function liquidateIsolated(address account, MarketId market) external {
        _delegate(_liquidationModule, abi.encodeCall(IPerpVenueLiquidation.liquidateIsolated, (account, market)));
    }

    /// @inheritdoc IPerpVenueLiquidation
    function backstopTakeover(address account) external {
        _delegate(_liquidationModule, abi.encodeCall(IPerpVenueLiquidation.backstopTakeover, (account)));
    }

    /// @inheritdoc IPerpVenueAdl
    function adl(MarketId market, bool longsBankrupt, address[] calldata winners) external {
        _delegate(_adlModule, abi.encodeCall(IPerpVenueAdl.adl, (market, longsBankrupt, winners)));
    }

    /// @inheritdoc IPerpVenueGovernance
    function listMarket(bytes32 symbol, address oracle_, MarketParams calldata params, MarginTier[] calldata tiers)
        external
        returns (MarketId)
    {
        bytes memory ret = _delegate(
            _governanceModule, abi.encodeCall(IPerpVenueGovernance.listMarket, (symbol, oracle_, params, tiers))
        );
        return abi.decode(ret, (MarketId));
    }

    /// @inheritdoc IPerpVenueGovernance
    function setMarketParameters(MarketId market, MarketParams calldata params) external {
        _delegate(_governanceModule, abi.encodeCall(IPerpVenueGovernance.setMarketParameters, (market, params)));
    }

    /// @inheritdoc IPerpVenueGovernance
    function setMarginTiers(MarketId market, MarginTier[] calldata tiers) external {
        _delegate(_governanceModule, abi.encodeCall(IPerpVenueGovernance.setMarginTiers, (market, tiers)));
    }

    /// @inheritdoc IPerpVenueGovernance
    function setRiskPaused(MarketId market, bool paused) external {
        _delegate(_governanceModule, abi.encodeCall(IPerpVenueGovernance.setRiskPaused, (market, paused)));
    }

    /// @inheritdoc IPerpVenueGovernance
    function withdrawFees(address to, uint256 amount) external {
        _delegate(_governanceModule, abi.encodeCall(IPerpVenueGovernance.withdrawFees, (to, amount)));
    }

    /// @inheritdoc IPerpVenueGovernance
    function guardianSetMaxLeverage(MarketId market, uint256 maxLeverage) external {
        _delegate(
            _governanceModule, abi.encodeCall(IPerpVenueGovernance.guardianSetMaxLeverage, (market, maxLeverage))
        );
    }

    /// @inheritdoc IPerpVenueGovernance
    function guardianSetMaintenanceMarginFraction(MarketId market, uint256 fraction) external {
        _delegate(
            _governanceModule, abi.encodeCall(IPerpVenueGovernance.guardianSetMaintenanceMarginFraction, (market, fraction))
        );
    }

    /// @inheritdoc IPerpVenueGovernance
    function guardianSetOpenInterestCaps(MarketId market, uint256 maxLong, uint256 maxShort) external {
        _delegate(
            _governanceModule, abi.encodeCall(IPerpVenueGovernance.guardianSetOpenInterestCaps, (market, maxLong, maxShort))
        );
    }

    /// @inheritdoc IPerpVenueGovernance
    function guardianPauseRisk(MarketId market) external {
        _delegate(_governanceModule, abi.encodeCall(IPerpVenueGovernance.guardianPauseRisk, (market)));
    }

    /// @inheritdoc IPerpVenueGovernance
    function setMarginScale(MarketId market, uint256 scale) external {
        _delegate(_governanceModule, abi.encodeCall(IPerpVenueGovernance.setMarginScale, (market, scale)));
    }

    /// @dev Run `data` (built by `abi.encodeCall` of a module interface) on one of the three
    ///      immutable module addresses with this contract's storage; return its return data or
    ///      bubble its revert up unchanged.
    function _delegate(address module, bytes memory data) private returns (bytes memory ret) {
        bool ok;
        (ok, ret) = module.delegatecall(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenue
    function maxMarkets() external pure returns (uint256) {
        return MAX_MARKETS;
    }

    /// @inheritdoc IPerpVenue
    function maxPositionsPerAccount() external pure returns (uint256) {
        return MAX_POSITIONS_PER_ACCOUNT;
    }

    /// @inheritdoc IPerpVenue
    function marketCount() external view returns (uint256) {
        return _marketCount;
    }

    /// @inheritdoc IPerpVenue
    function marketParameters(MarketId market) external view returns (MarketParams memory) {
        return _market(market).paramsView();
    }

    /// @inheritdoc IPerpVenue
    function marginTiers(MarketId market) external view returns (MarginTier[] memory tiers) {
        MarginMath.PackedTier[] storage packed = _market(market).tiers;
        tiers = new MarginTier[](packed.length);
        for (uint256 i = 0; i < tiers.length; ++i) {
            MarginMath.PackedTier memory t = packed[i];
            tiers[i] = MarginTier(t.notionalFloor, t.initialMarginFraction, t.maintenanceMarginFraction);
        }
    }

    /// @inheritdoc IPerpVenue
    function marketState(MarketId market) external view returns (MarketView memory v) {
        VenueMarket.State storage m = _market(market);
        uint256 price = m.latestPrice();
        VenueMarket.Funding memory f = m.fundingNow(price);
        v = MarketView({
            symbol: m.symbol,
            oracle: address(m.oracle),
            indexPrice: price,
            previousMark: m.lastMarkBlock == block.number ? m.previousMark : m.lastMark,
            longOpenInterest: m.longOpenInterest,
            shortOpenInterest: m.shortOpenInterest,
            longFundingIndex: f.longIndex,
            shortFundingIndex: f.shortIndex,
            fundingRatePerDay: f.ratePerDay,
            marginScale: m.marginScale,
            riskPaused: m.riskPaused,
            circuitBreakerTripped: m.breakerTripped(price),
            ledger: m.ledgerView()
        });
    }

    /// @inheritdoc IPerpVenue
    function collateralOf(address account) external view returns (int256) {
        return _collateral[account];
    }

    /// @inheritdoc IPerpVenue
    function positionOf(address account, MarketId market) public view returns (PositionView memory v) {
        VenueMarket.State storage m = _market(market);
        Pos memory p = _load(account, market);
        uint256 price = m.latestPrice();
        VenueMarket.Funding memory f = m.fundingNow(price);
        v = PositionView({
            market: market,
            size: p.size,
            entryPrice: p.entry,
            margin: p.margin,
            isolated: p.isolated,
            unrealizedPnl: PerpMath.unrealizedPnl(p.size, p.entry, price),
            pendingFunding: PerpMath.fundingOwed(p.size, p.snapshot, f.longIndex, f.shortIndex),
            maintenanceMargin: m.maintenanceMargin(p.size, price),
            partialLiquidatedAt: p.partialAt
        });
    }

    /// @inheritdoc IPerpVenue
    function positionsOf(address account) external view returns (PositionView[] memory views) {
        MarketId[] storage list = _open[account];
        views = new PositionView[](list.length);
        for (uint256 i = 0; i < views.length; ++i) {
            views[i] = positionOf(account, list[i]);
        }
    }

    /// @inheritdoc IPerpVenue
    function accountHealth(address account) external view returns (int256, uint256, uint256) {
        return _crossHealth(account, false);
    }

    /// @inheritdoc IPerpVenue
    function healthOf(address[] calldata accounts)
        external
        view
        returns (int256[] memory equities, uint256[] memory mms, bool[] memory liquidatable)
    {
        uint256 n = accounts.length;
        equities = new int256[](n);
        mms = new uint256[](n);
        liquidatable = new bool[](n);
        PriceFunding[] memory memo = _priceFundingMemo();
        for (uint256 i = 0; i < n; ++i) {
            (equities[i], mms[i],) = _crossHealthMemo(accounts[i], false, memo);
            liquidatable[i] = mms[i] != 0 && equities[i] < int256(mms[i]);
        }
    }

    /// @inheritdoc IPerpVenue
    function isolatedHealth(address account, MarketId market) external view returns (int256 eq, uint256 mm) {
        VenueMarket.State storage m = _market(market);
        Pos memory p = _load(account, market);
        if (!p.isolated) return (0, 0);
        uint256 price = m.latestPrice();
        eq = p.margin + _positionValue(p, price, m.fundingNow(price));
        mm = m.maintenanceMargin(p.size, price);
    }

    /// @inheritdoc IPerpVenue
    function liquidationPrice(address account, MarketId market) external view returns (uint256) {
        VenueMarket.State storage m = _market(market);
        Pos memory p = _load(account, market);
        if (p.size == 0) return 0;
        uint256 price = m.latestPrice();
        VenueMarket.Funding memory f = m.fundingNow(price);
        int256 owed = PerpMath.fundingOwed(p.size, p.snapshot, f.longIndex, f.shortIndex);
        if (p.isolated) return m.liquidationPrice(p.size, p.entry, p.margin - owed);
        // dYdX v4 cross: everything but this position's PnL, minus the others' maintenance.
        (int256 eq, uint256 mm,) = _crossHealth(account, false);
        uint256 mmOthers = mm - m.maintenanceMargin(p.size, price);
        int256 others = eq - PerpMath.unrealizedPnl(p.size, p.entry, price) - int256(mmOthers);
        return m.liquidationPrice(p.size, p.entry, others);
    }

    /// @inheritdoc IPerpVenue
    function adlRanking(MarketId market, address[] calldata accounts)
        external
        view
        returns (uint256[] memory scores, int256[] memory pnls)
    {
        VenueMarket.State storage m = _market(market);
        uint256 n = accounts.length;
        scores = new uint256[](n);
        pnls = new int256[](n);
        uint256 price = m.latestPrice();
        VenueMarket.Funding memory f = m.fundingNow(price);
        PriceFunding[] memory memo = _priceFundingMemo();
        memo[MarketId.unwrap(market)] = PriceFunding(price, f);
        for (uint256 i = 0; i < n; ++i) {
            Pos memory p = _load(accounts[i], market);
            int256 pnl = PerpMath.unrealizedPnl(p.size, p.entry, price);
            pnls[i] = pnl;
            int256 value;
            if (p.isolated) value = p.margin + _positionValue(p, price, f);
            else (value,,) = _crossHealthMemo(accounts[i], false, memo);
            if (pnl > 0 && value > 0) scores[i] = VenueMarket.adlScore(p.size, p.entry, price, uint256(value));
        }
    }

    /// @inheritdoc IPerpVenue
    function fillPrice(MarketId market, int256 sizeDelta) external view returns (uint256) {
        VenueMarket.State storage m = _market(market);
        return m.fill(m.latestPrice(), sizeDelta);
    }

    /// @inheritdoc IPerpVenue
    function accounting() external view returns (Accounting memory) {
        return _ledger;
    }

    /// @inheritdoc IPerpVenue
    function collateral() external view returns (address) {
        return address(_collateralToken);
    }

    /// @inheritdoc IPerpVenue
    function insuranceFund() external view returns (address) {
        return address(_fund);
    }

    /// @inheritdoc IPerpVenue
    function backstopVault() external view returns (address) {
        return _vault;
    }
}
