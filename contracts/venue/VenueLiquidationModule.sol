// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPerpVenueLiquidation} from "../interfaces/IPerpVenue.sol";
import {MarketId} from "../interfaces/IPerpVenueTypes.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {VenueStorage} from "./VenueStorage.sol";
import {VenueMarket} from "./VenueMarket.sol";

/// @title VenueLiquidationModule
/// @notice Cross and isolated liquidation, the backstop takeover and the per-market loss
///         waterfall of the venue. Runs only through the venue's `delegatecall`.
/// @dev Waterfall of a deficit D attributed to (market, side): the insurance fund pays what it
///      can; the pool (counterparty of all PnL) absorbs the cash gap; the rest is the market's:
///      SOCIALIZED charges it to that market's open contracts at once (at most one index price
///      per contract, else it is written off as final bad debt); the queues and PRO_RATA record
///      it as bad debt of the side until the ADL keeper calls `adl` (CONTRACTS_QUEUE: what is
///      left once the bankrupt contracts are offset is final); NONE leaves it as bad debt.
contract VenueLiquidationModule is IPerpVenueLiquidation, VenueStorage {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;
    using FixedPointMath for int256;
    using SafeCast for uint256;
    using SafeCast for int256;
    using VenueMarket for VenueMarket.State;

    address private immutable _self;

    constructor() {
        _self = address(this);
    }

    modifier onlyDelegated() {
        if (address(this) == _self) revert OnlyDelegateCall();
        _;
    }

    /// @dev One cross position of the account being liquidated, in memory.
    struct Slot {
        Pos p;
        uint256 price;
        VenueMarket.Funding f;
        uint256 mm;
        bool wasLong;
        uint256 closed;
        uint256 loss;
        uint256 fill;
        uint256 rank;
    }

    /// @dev Numbers of one liquidation call.
    struct Run {
        int256 eq;
        uint256 mm;
        uint256 count;
        uint256 liquidated;
        uint256 deficit;
    }

    // ---------------------------------------------------------------------------------------
    // Cross liquidation
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenueLiquidation
    function liquidate(address account) external onlyDelegated nonReentrant {
        (Slot[] memory slots, Run memory r) = _loadCross(account);
        if (r.count == 0) revert NoPosition(account, MarketId.wrap(0));
        if (r.eq >= int256(r.mm)) revert NotLiquidatable(account, r.eq, r.mm);
        uint256[] memory order = _byMaintenanceDesc(slots, r.count);
        for (uint256 k = 0; k < r.count; ++k) {
            if (r.eq >= int256(r.mm)) break; // healthy again
            Slot memory s = slots[order[k]];
            if (_liquidateSlot(account, s, r)) s.rank = ++r.liquidated;
        }
        if (r.liquidated == 0) revert NothingLiquidatableNow(account, r.eq, r.mm);
        for (uint256 i = 0; i < r.count; ++i) {
            if (slots[i].rank == 0) _store(account, slots[i].p); // funding settled, not liquidated
        }
        if (_crossFlat(slots, r.count) && _collateral[account] < 0) {
            r.deficit = uint256(-_collateral[account]);
            _addCollateral(account, int256(r.deficit));
            r.eq += int256(r.deficit);
            _attributeDeficit(account, slots, r);
        }
        emit AccountLiquidated(account, msg.sender, false, r.liquidated, r.eq, r.mm, r.deficit);
    }

    /// @dev Load the account's cross positions at fresh prices, accrue each market and settle
    ///      each position's funding into the collateral; equity and MM of the account.
    function _loadCross(address account) private returns (Slot[] memory slots, Run memory r) {
        MarketId[] memory ids = _open[account];
        slots = new Slot[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            Pos memory p = _load(account, ids[i]);
            if (p.isolated) continue;
            VenueMarket.State storage m = _markets[ids[i]];
            Slot memory s = slots[r.count++];
            s.p = p;
            s.price = m.freshPrice();
            if (m.params.liquidationsHaltOnBreaker) m.checkBreaker(p.id, s.price);
            s.f = m.accrued(s.price);
            _settleFunding(account, p, s.f); // stored by the caller, with whatever it changes
            s.mm = m.maintenanceMargin(p.size, s.price);
            s.wasLong = p.size > 0;
            r.eq += PerpMath.unrealizedPnl(p.size, p.entry, s.price);
            r.mm += s.mm;
        }
        r.eq += _collateral[account];
    }

    /// @dev The documented order: largest maintenance requirement first, ties by lower market id.
    function _byMaintenanceDesc(Slot[] memory slots, uint256 n) private pure returns (uint256[] memory order) {
        order = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 j = i;
            while (j > 0 && _before(slots[i], slots[order[j - 1]])) {
                order[j] = order[j - 1];
                --j;
            }
            order[j] = i;
        }
    }

    function _before(Slot memory a, Slot memory b) private pure returns (bool) {
        if (a.mm != b.mm) return a.mm > b.mm;
        return MarketId.unwrap(a.p.id) < MarketId.unwrap(b.p.id);
    }

    function _crossFlat(Slot[] memory slots, uint256 n) private pure returns (bool) {
        for (uint256 i = 0; i < n; ++i) {
            if (slots[i].p.size != 0) return false;
        }
        return true;
    }

    /// @dev Liquidate one cross position by its market's rules; false when it must be skipped
    ///      (cooldown, already partially liquidated this block, market cap used up).
    function _liquidateSlot(address account, Slot memory s, Run memory r) private returns (bool) {
        VenueMarket.State storage m = _markets[s.p.id];
        uint256 closeSize = m.rateLimited(_closeSize(m, s.p, s.price), s.price);
        if (closeSize == 0) return false;
        int256 oldPnl = PerpMath.unrealizedPnl(s.p.size, s.p.entry, s.price);
        (int256 realized, uint256 penalty) = _closePart(account, m, s, closeSize, r.eq - oldPnl);
        int256 newPnl = PerpMath.unrealizedPnl(s.p.size, s.p.entry, s.price);
        uint256 newMm = m.maintenanceMargin(s.p.size, s.price);
        r.eq = r.eq - oldPnl + realized + newPnl - int256(penalty);
        r.mm = r.mm - s.mm + newMm;
        s.mm = newMm;
        s.closed += closeSize;
        if (realized < 0) s.loss += uint256(-realized);
        _store(account, s.p);
        return true;
    }

    /// @dev Numbers of one position's liquidation.
    struct Close {
        int256 delta;
        uint256 fill;
        uint256 notional;
        int256 realized;
        uint256 penalty;
        uint256 keeperReward;
        uint256 insuranceShare;
        bool full;
    }

    /// @dev Close `closeSize` of `s.p` at the bounded liquidation fill, take the penalty (capped
    ///      at the equity left: `eqOthers` + realized + the rest's PnL for cross, the position's
    ///      margin + PnL for isolated), pay keeper and fund, emit.
    function _closePart(address account, VenueMarket.State storage m, Slot memory s, uint256 closeSize, int256 eqOthers)
        private
        returns (int256, uint256)
    {
        Pos memory p = s.p;
        Close memory c = Close(0, 0, 0, 0, 0, 0, 0, closeSize == p.size.abs());
        c.delta = p.size > 0 ? -int256(closeSize) : int256(closeSize);
        c.fill = m.liquidationFill(s.price, c.delta);
        (c.realized,,) = _applyFill(account, m, p, c.delta, c.fill, s.f);
        c.notional = closeSize.mulWadDown(c.fill);
        c.penalty = c.notional.mulBpsUp(m.params.liquidationPenaltyBps);
        {
            int256 rest = PerpMath.unrealizedPnl(p.size, p.entry, s.price);
            int256 left = p.isolated ? p.margin + rest : eqOthers + c.realized + rest;
            if (left <= 0) c.penalty = 0;
            else if (c.penalty > uint256(left)) c.penalty = uint256(left);
        }
        if (p.isolated) p.margin -= int256(c.penalty);
        else _addCollateral(account, -int256(c.penalty));
        p.partialAt = c.full ? 0 : block.timestamp;
        p.lastLiquidationBlock = block.number;
        (c.keeperReward, c.insuranceShare) = _payPenalty(m, c.penalty);
        if (c.penalty != 0) m.ledger.liquidationPenalties = VenueMarket.plus(m.ledger.liquidationPenalties, c.penalty);
        m.ledger.liquidatedNotional = VenueMarket.plus(m.ledger.liquidatedNotional, c.notional);
        s.fill = c.fill;
        _emitLiquidated(account, p.id, c);
        return (c.realized, c.penalty);
    }

    function _emitLiquidated(address account, MarketId id, Close memory c) private {
        emit Liquidated(
            account,
            id,
            msg.sender,
            -c.delta,
            c.fill,
            c.notional,
            c.realized,
            c.penalty,
            c.keeperReward,
            c.insuranceShare,
            c.full
        );
    }

    /// @dev Whole position, or the market's partial share above its threshold. The partial mark
    ///      is in effect only in [partialAt, partialAt + 2·cooldown): during the cooldown the
    ///      position is skipped, then (Hyperliquid) it goes whole; after 2·cooldown the mark has
    ///      lapsed and the position is treated as unmarked (F1). A healthy trade also clears it.
    ///      Partial liquidations: at most one per position per block.
    function _closeSize(VenueMarket.State storage m, Pos memory p, uint256 price) private view returns (uint256) {
        uint256 size = p.size.abs();
        if (VenueMarket.notional(p.size, price) <= m.params.partialLiquidationThreshold) return size;
        uint256 cooldown = m.params.liquidationCooldown;
        if (p.partialAt != 0 && block.timestamp < p.partialAt + 2 * cooldown) {
            if (block.timestamp < p.partialAt + cooldown) return 0;
            if (m.params.fullLiquidationAfterCooldown) return size;
        }
        if (p.lastLiquidationBlock == block.number) return 0;
        uint256 part = size.mulBpsUp(m.params.partialLiquidationShareBps);
        return part < size ? part : size;
    }

    /// @dev Keeper share (whole units) to the caller, the rest to the fund; dust to fees.
    function _payPenalty(VenueMarket.State storage m, uint256 penalty)
        private
        returns (uint256 keeperReward, uint256 insuranceShare)
    {
        if (penalty == 0) return (0, 0);
        uint256 keeperUnits = penalty.mulBpsDown(m.params.keeperShareBps).wadToUnitsDown();
        if (keeperUnits != 0) {
            _collateralToken.safeTransfer(msg.sender, keeperUnits);
            keeperReward = keeperUnits.unitsToWad();
            _ledger.keeperRewards += keeperReward;
        }
        insuranceShare = _sendToFund(penalty - keeperReward);
        _ledger.protocolFees += penalty - keeperReward - insuranceShare;
    }

    // ---------------------------------------------------------------------------------------
    // Isolated liquidation
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenueLiquidation
    function liquidateIsolated(address account, MarketId market) external onlyDelegated nonReentrant {
        VenueMarket.State storage m = _market(market);
        Slot memory s = _slotOf(_load(account, market));
        if (s.p.size == 0) revert NoPosition(account, market);
        if (!s.p.isolated) revert WrongMarginMode(market, false);
        s.price = m.freshPrice();
        if (m.params.liquidationsHaltOnBreaker) m.checkBreaker(market, s.price);
        s.f = m.accrued(s.price);
        _settleFunding(account, s.p, s.f);
        s.wasLong = s.p.size > 0;
        Run memory r = Run(0, 0, 0, 0, 0);
        r.eq = s.p.margin + PerpMath.unrealizedPnl(s.p.size, s.p.entry, s.price);
        r.mm = m.maintenanceMargin(s.p.size, s.price);
        if (r.eq >= int256(r.mm)) revert NotLiquidatable(account, r.eq, r.mm);
        uint256 closeSize = m.rateLimited(_closeSize(m, s.p, s.price), s.price);
        if (closeSize == 0) revert NothingLiquidatableNow(account, r.eq, r.mm);
        (int256 realized,) = _closePart(account, m, s, closeSize, 0);
        s.closed = closeSize;
        if (realized < 0) s.loss = uint256(-realized);
        if (s.p.size == 0) {
            if (s.p.margin >= 0) _addCollateral(account, s.p.margin);
            else r.deficit = uint256(-s.p.margin);
            s.p.margin = 0;
        }
        _store(account, s.p);
        r.eq = s.p.margin + PerpMath.unrealizedPnl(s.p.size, s.p.entry, s.price);
        r.mm = m.maintenanceMargin(s.p.size, s.price);
        if (r.deficit != 0) {
            // The negative margin left the ledger with the deleted position: the pool absorbs it.
            _ledger.pool -= int256(r.deficit);
            _absorbDeficit(account, market, s.wasLong, r.deficit, _cover(r.deficit), s.closed, s.fill);
        }
        emit AccountLiquidated(account, msg.sender, true, 1, r.eq, r.mm, r.deficit);
    }

    function _slotOf(Pos memory p) private pure returns (Slot memory s) {
        s.p = p;
    }

    // ---------------------------------------------------------------------------------------
    // Deficits
    // ---------------------------------------------------------------------------------------

    /// @dev Split a cross deficit over the markets closed in this call, in proportion to their
    ///      realized losses (all to the first one closed when none lost); the floor remainder
    ///      goes to the first one closed. The collateral was raised to 0 from −deficit, so the
    ///      pool, credited with the whole loss, gives back what the fund does not pay.
    function _attributeDeficit(address account, Slot[] memory slots, Run memory r) private {
        _ledger.pool -= int256(r.deficit);
        uint256 totalLoss = 0;
        uint256 first = type(uint256).max;
        for (uint256 i = 0; i < r.count; ++i) {
            if (slots[i].rank == 0) continue;
            totalLoss += slots[i].loss;
            if (slots[i].rank == 1) first = i;
        }
        uint256[] memory shares = new uint256[](r.count);
        uint256[] memory paid = new uint256[](r.count);
        uint256 paidTotal = _cover(r.deficit);
        uint256 assigned = 0;
        uint256 paidAssigned = 0;
        if (totalLoss != 0) {
            for (uint256 i = 0; i < r.count; ++i) {
                if (slots[i].rank == 0) continue;
                shares[i] = r.deficit.mulDivDown(slots[i].loss, totalLoss);
                paid[i] = paidTotal.mulDivDown(slots[i].loss, totalLoss);
                assigned += shares[i];
                paidAssigned += paid[i];
            }
        }
        shares[first] += r.deficit - assigned;
        paid[first] += paidTotal - paidAssigned;
        for (uint256 i = 0; i < r.count; ++i) {
            if (shares[i] == 0) continue;
            Slot memory s = slots[i];
            _absorbDeficit(account, s.p.id, s.wasLong, shares[i], paid[i], s.closed, s.fill);
        }
    }

    /// @dev One draw on the insurance fund for a whole deficit (WAD USD, whole units rounded up);
    ///      what it pays comes back into the pool.
    function _cover(uint256 deficit) private returns (uint256 paid) {
        if (address(_fund) == address(0)) return 0;
        paid = _fund.cover(deficit.wadToUnitsUp()).unitsToWad();
        _ledger.paidByInsurance += paid;
        _ledger.pool += int256(paid);
    }

    /// @dev The loss waterfall of `deficit` (already taken from the pool) in one market and
    ///      side, of which the fund paid `paid` (already back in the pool).
    function _absorbDeficit(
        address account,
        MarketId id,
        bool longsBankrupt,
        uint256 deficit,
        uint256 paid,
        uint256 contracts,
        uint256 fill
    ) private {
        VenueMarket.State storage m = _markets[id];
        m.ledger.totalDeficit = VenueMarket.plus(m.ledger.totalDeficit, deficit);
        if (paid != 0) m.ledger.paidByInsurance = VenueMarket.plus(m.ledger.paidByInsurance, paid);
        uint256 remaining = paid >= deficit ? 0 : deficit - paid;
        uint256 adlPrice = _adlPrice(m, longsBankrupt, deficit, contracts, fill);
        emit DeficitAttributed(account, id, longsBankrupt, deficit, paid, remaining, contracts, adlPrice);
        if (remaining == 0) return;
        m.ledger.totalBadDebt = VenueMarket.plus(m.ledger.totalBadDebt, remaining);
        AdlPolicy policy = m.params.adlPolicy;
        if (policy == AdlPolicy.SOCIALIZED && _socialize(m, id, longsBankrupt, remaining)) return;
        if (policy == AdlPolicy.CONTRACTS_QUEUE && contracts != 0) {
            // Only the contracts behind the uncovered part wait for the queue.
            uint256 q = contracts.mulDivUp(remaining, deficit);
            if (longsBankrupt) {
                m.ledger.adlPriceLongs = SafeCast.toUint128(_average(m.ledger.adlContractsLongs, m.ledger.adlPriceLongs, q, adlPrice));
                m.ledger.adlContractsLongs = VenueMarket.plus(m.ledger.adlContractsLongs, q);
            } else {
                m.ledger.adlPriceShorts = SafeCast.toUint128(_average(m.ledger.adlContractsShorts, m.ledger.adlPriceShorts, q, adlPrice));
                m.ledger.adlContractsShorts = VenueMarket.plus(m.ledger.adlContractsShorts, q);
            }
        }
        uint256 outstanding;
        if (longsBankrupt) outstanding = m.ledger.badDebtLongs = VenueMarket.plus(m.ledger.badDebtLongs, remaining);
        else outstanding = m.ledger.badDebtShorts = VenueMarket.plus(m.ledger.badDebtShorts, remaining);
        emit BadDebtRecorded(id, longsBankrupt, remaining, outstanding);
        // Bad debt no `adl` call can clear is final at once: a refused SOCIALIZED charge (it is
        // not retried on later open interest, which did not exist when the loss arose), or
        // CONTRACTS_QUEUE with no bankrupt contracts of the side left to offset.
        if (
            policy == AdlPolicy.SOCIALIZED
                || (policy == AdlPolicy.CONTRACTS_QUEUE
                    && (longsBankrupt ? m.ledger.adlContractsLongs : m.ledger.adlContractsShorts) == 0)
        ) _finalizeBadDebt(m, id, longsBankrupt);
    }

    /// @dev BANKRUPTCY_PRICE: `fill ± deficit/contracts` (long: above the fill, short: below);
    ///      PREVIOUS_MARK: the index of the previous block in which the market was touched.
    function _adlPrice(VenueMarket.State storage m, bool longsBankrupt, uint256 deficit, uint256 contracts, uint256 fill)
        private
        view
        returns (uint256)
    {
        if (m.params.adlPriceMode == AdlPriceMode.PREVIOUS_MARK) {
            return m.lastMarkBlock == block.number ? m.previousMark : m.lastMark;
        }
        if (contracts == 0) return fill;
        uint256 gap = deficit.mulDivUp(WAD, contracts);
        if (longsBankrupt) return fill + gap;
        return fill > gap ? fill - gap : 1;
    }

    function _average(uint256 q0, uint256 p0, uint256 q1, uint256 p1) private pure returns (uint256) {
        return (q0 * p0 + q1 * p1) / (q0 + q1);
    }

    /// @dev Drift: `loss/(long OI + short OI)` per contract through both funding indices, with
    ///      SafeCast (F5). Refused (false: the loss is final bad debt) when there is no open
    ///      interest or the charge would exceed one index price per contract: dust open interest
    ///      cannot turn a loss into a wrapped credit nor make the liquidation revert.
    function _socialize(VenueMarket.State storage m, MarketId id, bool longsBankrupt, uint256 loss)
        private
        returns (bool)
    {
        uint256 openInterest = uint256(m.longOpenInterest) + m.shortOpenInterest;
        if (openInterest == 0) return false;
        uint256 perUnit = loss.mulDivUp(WAD, openInterest);
        if (perUnit > m.lastMark) return false;
        int256 charge = perUnit.toInt256();
        m.longFundingIndex = (int256(m.longFundingIndex) + charge).toInt128();
        m.shortFundingIndex = (int256(m.shortFundingIndex) + charge).toInt128();
        uint256 charged = openInterest.mulWadUp(perUnit);
        m.ledger.socializedLoss = VenueMarket.plus(m.ledger.socializedLoss, loss);
        emit LossSocialized(id, longsBankrupt, loss, perUnit, charged);
        emit AdlExecuted(id, AdlPolicy.SOCIALIZED, longsBankrupt, loss, loss, charged, loss, charged - loss, 0, 0, 0, 0);
        return true;
    }

    // ---------------------------------------------------------------------------------------
    // Backstop
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IPerpVenueLiquidation
    function backstopTakeover(address account) external onlyDelegated nonReentrant {
        address vault = _vault;
        if (vault == address(0)) revert BackstopNotConfigured();
        if (account == vault) revert BackstopCannotTakeOverItself();
        (Slot[] memory slots, Run memory r) = _loadCross(account);
        if (r.count == 0) revert NoPosition(account, MarketId.wrap(0));
        {
            uint256 threshold = 0;
            for (uint256 i = 0; i < r.count; ++i) {
                threshold += slots[i].mm.mulWadDown(_markets[slots[i].p.id].params.backstopFraction);
            }
            if (r.eq >= int256(threshold)) revert NotBelowBackstopThreshold(account, r.eq, threshold);
        }
        for (uint256 i = 0; i < r.count; ++i) {
            Slot memory s = slots[i];
            VenueMarket.State storage m = _markets[s.p.id];
            int256 size = s.p.size;
            // Value neutral at the index: realized in the account, reopened in the vault.
            _applyFill(account, m, s.p, -size, s.price, s.f);
            s.p.partialAt = 0;
            _store(account, s.p);
            Pos memory v = _load(vault, s.p.id);
            if (v.wasOpen && v.isolated) revert WrongMarginMode(s.p.id, true);
            _settleFunding(vault, v, s.f);
            _applyFill(vault, m, v, size, s.price, s.f);
            _store(vault, v);
        }
        int256 transferred = _collateral[account];
        _addCollateral(account, -transferred);
        _addCollateral(vault, transferred);
        (int256 veq, uint256 vmm,) = _crossHealth(vault, true);
        if (veq < int256(vmm)) revert BackstopWouldBeUnderwater(veq, vmm);
        emit BackstopTakeover(account, vault, msg.sender, r.count, transferred, veq, vmm);
    }
}
