// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPerpMarketErrors, IPerpMarketEvents} from "./interfaces/IPerpMarket.sol";
import {IOracle} from "./interfaces/IOracle.sol";
import {IInsuranceFund} from "./interfaces/IInsuranceFund.sol";
import {FixedPointMath} from "./libraries/FixedPointMath.sol";
import {PerpMath} from "./libraries/PerpMath.sol";
import {MarginMath} from "./libraries/MarginMath.sol";

/// @title PerpMarketBase
/// @notice Storage layout and shared internal logic of the perp market and its modules.
/// @dev The market (`PerpMarket`) and its modules (`LiquidationModule`, `GovernanceModule`)
///      all inherit this contract, so a module's code run with `delegatecall` from the market
///      sees the market's storage with the same layout. Only append new state at the end.
abstract contract PerpMarketBase is IPerpMarketErrors, IPerpMarketEvents, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;
    using FixedPointMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;

    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant CONTROLLER_ROLE = keccak256("CONTROLLER_ROLE");
    /// @dev May call `adl`: the protocol's own ADL keeper (F4: an outside caller must not pick
    ///      which winner pays). Granted at `initialize`; the admin (timelock) may grant more.
    bytes32 public constant ADL_ROLE = keccak256("ADL_ROLE");

    uint256 internal constant WAD = 1e18;

    /// @dev One account in three slots.
    struct StoredAccount {
        int128 size;
        uint128 entryPrice;
        int128 fundingSnapshot;
        uint128 margin;
        uint128 idle;
        uint64 partialLiquidatedAt;
        uint56 lastLiquidationBlock;
        bool isolated;
    }

    /// @dev An account in memory while an action runs; `margin` may be negative in between.
    struct Acc {
        int256 size;
        uint256 entry;
        int256 fundingSnapshot;
        int256 margin;
        uint256 idle;
        uint256 partialAt;
        uint256 lastLiquidationBlock;
        bool isolated;
        uint256 balanceBefore; // margin + idle when loaded, to keep totalCollateral exact
    }

    /// @dev The skew change forced closes (liquidations) made in block `blockNumber`: fills
    ///      in that block are priced as if it had not happened (see `_pricingSkew`).
    struct DeferredSkew {
        uint64 blockNumber;
        int192 delta;
    }

    struct MarketState {
        uint128 longOpenInterest;
        uint128 shortOpenInterest;
        int128 longFundingIndex;
        int128 shortFundingIndex;
        int128 fundingRatePerDay;
        uint64 lastFundingTime;
    }

    // ---------------------------------------------------------------------------------------
    // Storage (shared with the modules; append only)
    // ---------------------------------------------------------------------------------------

    IERC20 internal _collateralToken;
    IOracle internal _oracle;
    IInsuranceFund internal _fund;
    address internal _vault;
    address internal _controller;
    address internal _initializer;
    MarketParams internal _params;
    MarginMath.PackedTier[] internal _tiers;
    uint256 internal _marginScale;
    bool internal _riskPaused;
    MarketState internal _state;
    Accounting internal _ledger;
    mapping(address => StoredAccount) internal _accounts;
    uint256 internal _rateLimitBlock;
    uint256 internal _rateLimitUsed;
    DeferredSkew internal _deferredSkew;

    // ---------------------------------------------------------------------------------------
    // Accounts
    // ---------------------------------------------------------------------------------------

    function _load(address who) internal view returns (Acc memory a) {
        StoredAccount storage s = _accounts[who];
        a.size = s.size;
        a.entry = s.entryPrice;
        a.fundingSnapshot = s.fundingSnapshot;
        a.margin = int256(uint256(s.margin));
        a.idle = s.idle;
        a.partialAt = s.partialLiquidatedAt;
        a.lastLiquidationBlock = s.lastLiquidationBlock;
        a.isolated = s.isolated;
        a.balanceBefore = uint256(s.margin) + s.idle;
    }

    /// @dev Callers resolve a negative margin (revert or absorb the deficit) before storing.
    function _store(address who, Acc memory a) internal {
        uint256 margin = uint256(a.margin); // a.margin >= 0 here by the callers' checks
        _accounts[who] = StoredAccount({
            size: a.size.toInt128(),
            entryPrice: a.entry.toUint128(),
            fundingSnapshot: a.fundingSnapshot.toInt128(),
            margin: margin.toUint128(),
            idle: a.idle.toUint128(),
            partialLiquidatedAt: uint64(a.partialAt),
            lastLiquidationBlock: uint56(a.lastLiquidationBlock),
            isolated: a.isolated
        });
        uint256 balanceAfter = margin + a.idle;
        if (balanceAfter >= a.balanceBefore) _ledger.totalCollateral += balanceAfter - a.balanceBefore;
        else _ledger.totalCollateral -= a.balanceBefore - balanceAfter;
        a.balanceBefore = balanceAfter;
    }

    // ---------------------------------------------------------------------------------------
    // Prices and funding
    // ---------------------------------------------------------------------------------------

    /// @dev The oracle price, reverting `StalePrice` when stale: every state change uses it.
    function _freshPrice() internal view returns (uint256) {
        return _oracle.price();
    }

    /// @dev The oracle price without the staleness check: views use it.
    function _latestPrice() internal view returns (uint256) {
        return _oracle.lastPrice();
    }

    function _skew() internal view returns (int256) {
        return int256(uint256(_state.longOpenInterest)) - int256(uint256(_state.shortOpenInterest));
    }

    /// @dev The skew fills are priced at (WAD base units): the open-interest skew without the
    ///      change that liquidations made in the current block. A liquidation's skew shift
    ///      enters fill prices from the next block, so a caller cannot sell, liquidate and buy
    ///      back in one block at the skew the liquidation just moved (F7). Funding, caps and
    ///      margin use the real skew and open interest.
    function _pricingSkew() internal view returns (int256 skew) {
        skew = _skew();
        DeferredSkew memory d = _deferredSkew;
        if (d.blockNumber != block.number) return skew;
        skew -= d.delta;
    }

    /// @dev Record the skew change a forced close made (`skewBefore` → now) for this block.
    function _deferSkewChange(int256 skewBefore) internal {
        int256 change = _skew() - skewBefore;
        DeferredSkew memory d = _deferredSkew;
        int256 delta = d.blockNumber != block.number ? change : int256(d.delta) + change;
        _deferredSkew = DeferredSkew(uint64(block.number), delta.toInt192());
    }

    function _fundingConfig() internal view returns (PerpMath.FundingConfig memory c) {
        MarketParams storage p = _params;
        c = PerpMath.FundingConfig({
            model: uint8(p.fundingModel),
            skewScale: p.skewScale,
            maxFundingVelocity: p.maxFundingVelocity,
            premiumInterestRate8h: p.premiumInterestRate8h,
            premiumClamp8h: p.premiumClamp8h,
            maxFundingRatePerHour: p.maxFundingRatePerHour
        });
    }

    /// @dev Funding state accrued to now at `price`, without writing it.
    function _fundingNow(uint256 price) internal view returns (MarketState memory s) {
        s = _state;
        uint256 dt = block.timestamp - s.lastFundingTime;
        if (dt == 0) return s;
        (int256 rate, int256 average) = PerpMath.nextFundingRate(_fundingConfig(), _skew(), s.fundingRatePerDay, dt);
        (int256 longInc, int256 shortInc) = PerpMath.fundingIncrements(average, dt, price);
        s.longFundingIndex = (int256(s.longFundingIndex) + longInc).toInt128();
        s.shortFundingIndex = (int256(s.shortFundingIndex) + shortInc).toInt128();
        s.fundingRatePerDay = rate.toInt128();
        s.lastFundingTime = uint64(block.timestamp);
    }

    /// @dev Accrue funding lazily into the cumulative indices (once per block at most).
    function _accrueFunding(uint256 price) internal returns (int256 longIndex, int256 shortIndex) {
        if (_state.lastFundingTime != block.timestamp) _state = _fundingNow(price);
        return (_state.longFundingIndex, _state.shortFundingIndex);
    }

    /// @dev Realize funding owed since the account's snapshot against the pool.
    function _settleFunding(Acc memory a, int256 longIndex, int256 shortIndex) internal returns (int256 owed) {
        owed = PerpMath.fundingOwed(a.size, a.fundingSnapshot, longIndex, shortIndex);
        if (owed != 0) {
            a.margin -= owed;
            _ledger.pool += owed;
        }
        a.fundingSnapshot = a.size >= 0 ? longIndex : shortIndex;
    }

    // ---------------------------------------------------------------------------------------
    // Positions
    // ---------------------------------------------------------------------------------------

    /// @dev Apply a fill to the account: realize PnL against the pool, move open interest.
    /// @return realized The PnL realized on the closed part (WAD USD).
    /// @return longOiUp Whether long open interest grew.
    /// @return shortOiUp Whether short open interest grew.
    function _applyFill(Acc memory a, int256 delta, uint256 fill, int256 longIndex, int256 shortIndex)
        internal
        returns (int256 realized, bool longOiUp, bool shortOiUp)
    {
        int256 oldSize = a.size;
        (a.size, a.entry, realized) = PerpMath.applyFill(oldSize, a.entry, delta, fill);
        if (realized != 0) {
            a.margin += realized;
            _ledger.pool -= realized;
        }
        a.fundingSnapshot = a.size >= 0 ? longIndex : shortIndex;
        (longOiUp, shortOiUp) = _moveOpenInterest(oldSize, a.size);
    }

    function _moveOpenInterest(int256 oldSize, int256 newSize) internal returns (bool longUp, bool shortUp) {
        uint256 longOi = _state.longOpenInterest;
        uint256 shortOi = _state.shortOpenInterest;
        uint256 longBefore = longOi;
        uint256 shortBefore = shortOi;
        if (oldSize > 0) longOi -= uint256(oldSize);
        else shortOi -= uint256(-oldSize);
        if (newSize > 0) longOi += uint256(newSize);
        else shortOi += uint256(-newSize);
        _state.longOpenInterest = longOi.toUint128();
        _state.shortOpenInterest = shortOi.toUint128();
        return (longOi > longBefore, shortOi > shortBefore);
    }

    function _checkOpenInterestCaps(bool longUp, bool shortUp) internal view {
        if (longUp && _state.longOpenInterest > _params.maxLongOpenInterest) {
            revert OpenInterestCapExceeded(true, _state.longOpenInterest, _params.maxLongOpenInterest);
        }
        if (shortUp && _state.shortOpenInterest > _params.maxShortOpenInterest) {
            revert OpenInterestCapExceeded(false, _state.shortOpenInterest, _params.maxShortOpenInterest);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Margin
    // ---------------------------------------------------------------------------------------

    /// @dev Notional at `price`, rounded up (margin requirements grow with it).
    function _notional(int256 size, uint256 price) internal pure returns (uint256) {
        return size.abs().mulWadUp(price);
    }

    function _maintenanceMargin(uint256 notional) internal view returns (uint256) {
        if (notional == 0) return 0;
        return MarginMath.requirement(notional, _params.maintenanceMarginFraction, _tiers, false, _marginScale);
    }

    /// @dev Initial margin with tiers, scale and dYdX OI scaling on max(long, short) open notional.
    function _initialMargin(uint256 notional, uint256 price) internal view returns (uint256) {
        if (notional == 0) return 0;
        uint256 baseImf = WAD.divWadUp(_params.maxLeverage);
        uint256 im = MarginMath.requirement(notional, baseImf, _tiers, true, _marginScale);
        if (_params.oiImfUpperCap == 0) return im;
        uint256 openSize = FixedPointMath.max(_state.longOpenInterest, _state.shortOpenInterest);
        return MarginMath.oiScaledInitialMargin(
            im, notional, openSize.mulWadUp(price), _params.oiImfLowerCap, _params.oiImfUpperCap
        );
    }

    /// @dev Margin + unrealized PnL at `price` − funding owed (WAD USD).
    function _equity(Acc memory a, uint256 price, int256 longIndex, int256 shortIndex) internal pure returns (int256) {
        return a.margin + PerpMath.unrealizedPnl(a.size, a.entry, price)
            - PerpMath.fundingOwed(a.size, a.fundingSnapshot, longIndex, shortIndex);
    }

    /// @dev F1: a partial-liquidation mark (whole position at the next liquidation after the
    ///      cooldown) is cleared once the account is seen healthy again, i.e. when an action
    ///      of its own leaves it flat or with equity >= maintenance margin at `price`.
    function _clearMarkIfRecovered(Acc memory a, uint256 price, int256 longIndex, int256 shortIndex)
        internal
        view
    {
        if (a.partialAt != 0 && !_belowMaintenance(a, price, longIndex, shortIndex)) a.partialAt = 0;
    }

    /// @dev Holds a position and its equity is below its maintenance margin at `price`.
    function _belowMaintenance(Acc memory a, uint256 price, int256 longIndex, int256 shortIndex)
        internal
        view
        returns (bool)
    {
        if (a.size != 0) {
            return _equity(a, price, longIndex, shortIndex) < int256(_maintenanceMargin(_notional(a.size, price)));
        }
        return false;
    }

    /// @dev Hyperliquid's ADL rank `(mark/entry)·(notional/account value)`; for shorts the
    ///      profit ratio is entry/mark, so that a larger score always means a larger winner.
    function _adlScore(int256 size, uint256 entry, uint256 price, uint256 accountValue)
        internal
        pure
        returns (uint256)
    {
        uint256 ratio = size > 0 ? price.divWadDown(entry) : entry.divWadDown(price);
        return ratio.mulWadDown(size.abs().mulWadDown(price)).divWadDown(accountValue);
    }

    // ---------------------------------------------------------------------------------------
    // Circuit breaker
    // ---------------------------------------------------------------------------------------

    function _breaker(uint256 price) internal view returns (bool tripped, uint256 referencePrice) {
        uint256 band = _params.circuitBreakerBandBps;
        if (band == 0) return (false, price);
        referencePrice = _oracle.twap(_params.circuitBreakerWindow);
        uint256 move = price > referencePrice ? price - referencePrice : referencePrice - price;
        tripped = move * FixedPointMath.BPS > band * referencePrice;
    }

    function _checkBreaker(uint256 price) internal view {
        (bool tripped, uint256 referencePrice) = _breaker(price);
        if (tripped) revert CircuitBreakerTripped(price, referencePrice, _params.circuitBreakerBandBps);
    }

    // ---------------------------------------------------------------------------------------
    // Token flows to the insurance fund
    // ---------------------------------------------------------------------------------------

    /// @dev Send whole collateral units of `amount` (WAD USD) from `ledger` cash to the fund;
    ///      returns the WAD amount sent (the sub-unit remainder stays with the caller's ledger).
    function _sendToFund(uint256 amount) internal returns (uint256 sent) {
        if (address(_fund) == address(0)) return 0;
        uint256 units = amount.wadToUnitsDown();
        if (units == 0) return 0;
        _collateralToken.safeTransfer(address(_fund), units);
        sent = units.unitsToWad();
        _ledger.paidToInsurance += sent;
    }

    /// @dev Split a trading fee: the insurance share (whole units) to the fund, the rest to the
    ///      protocol fee ledger.
    function _collectFee(uint256 fee) internal {
        if (fee == 0) return;
        uint256 sent = _sendToFund(fee.mulBpsDown(_params.insuranceFeeShareBps));
        _ledger.protocolFees += fee - sent;
    }
}
