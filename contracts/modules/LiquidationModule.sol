// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {PerpMarketBase} from "../PerpMarketBase.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title LiquidationModule
/// @notice Liquidation, backstop takeover, auto-deleveraging and the loss waterfall of a
///         PerpMarket. Runs only through the market's `delegatecall`, on the market's storage.
/// @dev Waterfall of a deficit D (negative margin after a close): the insurance fund pays what
///      it can, then the ADL policy: SOCIALIZED charges the rest to open contracts at once;
///      QUEUE / PRO_RATA record it as bad debt of the bankrupt side until keepers call `adl`;
///      NONE leaves it as bad debt. The pool (counterparty of all PnL) absorbs the cash gap in
///      the meantime, so the ledgers always sum to the market's token balance.
contract LiquidationModule is PerpMarketBase {
    using SafeERC20 for IERC20;
    using FixedPointMath for uint256;
    using FixedPointMath for int256;
    using SafeCast for int256;

    /// @dev Seconds after a partial liquidation's cooldown during which the next liquidation
    ///      takes the whole position (Hyperliquid's "still below maintenance after the cooldown");
    ///      later the mark has lapsed (F1).
    uint256 public constant PARTIAL_MARK_WINDOW = 10 minutes;

    address private immutable _self;

    constructor() {
        _self = address(this);
    }

    modifier onlyDelegated() {
        if (address(this) == _self) revert OnlyDelegateCall();
        _;
    }

    // ---------------------------------------------------------------------------------------
    // Liquidation
    // ---------------------------------------------------------------------------------------

    /// @dev Numbers of one liquidation, in memory to stay within the EVM stack.
    struct LiquidationVars {
        uint256 price;
        int256 longIndex;
        int256 shortIndex;
        int256 sizeClosed;
        uint256 fill;
        uint256 notional;
        uint256 penalty;
        uint256 keeperReward;
        uint256 insuranceShare;
        uint256 fundPayout;
        uint256 deficit;
        bool full;
    }

    /// @dev See IPerpMarket.liquidate.
    function liquidate(address account) external onlyDelegated nonReentrant {
        LiquidationVars memory v = _liquidate(account);
        emit Liquidated(
            account,
            msg.sender,
            v.sizeClosed,
            v.fill,
            v.notional,
            v.penalty,
            v.keeperReward,
            v.insuranceShare,
            v.fundPayout,
            v.deficit,
            _ledger.badDebtLongs + _ledger.badDebtShorts,
            v.full
        );
    }

    function _liquidate(address account) private returns (LiquidationVars memory v) {
        v.price = _freshPrice();
        if (_params.liquidationsHaltOnBreaker) _checkBreaker(v.price);
        (v.longIndex, v.shortIndex) = _accrueFunding(v.price);
        Acc memory a = _load(account);
        if (a.size == 0) revert NoPosition(account);
        _settleFunding(a, v.longIndex, v.shortIndex);
        {
            int256 eq = _equity(a, v.price, v.longIndex, v.shortIndex);
            uint256 mm = _maintenanceMargin(_notional(a.size, v.price));
            if (eq >= int256(mm)) revert NotLiquidatable(account, eq, mm);
        }
        uint256 closeSize = _rateLimited(_liquidationSize(account, a, v.price), v.price);
        v.full = closeSize == a.size.abs();
        bool wasLong = a.size > 0;
        v.sizeClosed = wasLong ? int256(closeSize) : -int256(closeSize);
        v.fill = _liquidationFill(v.price, -v.sizeClosed);
        int256 skewBefore = _skew();
        _applyFill(a, -v.sizeClosed, v.fill, v.longIndex, v.shortIndex);
        _deferSkewChange(skewBefore);

        v.notional = closeSize.mulWadDown(v.fill);
        v.penalty = v.notional.mulBpsUp(_params.liquidationPenaltyBps);
        if (a.margin <= 0) v.penalty = 0;
        else if (v.penalty > uint256(a.margin)) v.penalty = uint256(a.margin);
        a.margin -= int256(v.penalty);
        a.partialAt = v.full ? 0 : block.timestamp;
        a.lastLiquidationBlock = block.number;
        uint256 deficit = a.margin < 0 ? uint256(-a.margin) : 0;
        if (deficit != 0) a.margin = 0;
        _store(account, a);

        (v.keeperReward, v.insuranceShare) = _payPenalty(v.penalty);
        (v.fundPayout, v.deficit) = _absorbDeficit(deficit, wasLong, v.price);
    }

    /// @dev Fill of a liquidation closing `delta`: skew impact at the pricing skew (which leaves
    ///      out this block's earlier liquidations), bounded to `index·(1 ± mmf)` with `mmf` the
    ///      base maintenance margin fraction (F7: a caller who pushes the skew before liquidating
    ///      cannot make the fill, and so the deficit the fund pays, arbitrarily bad; natural
    ///      liquidation impact is far inside the bound). Never zero, as `mmf < 1`.
    function _liquidationFill(uint256 price, int256 delta) private view returns (uint256 fill) {
        fill = PerpMath.fillPrice(price, _pricingSkew(), delta, _params.skewScale);
        uint256 bound = price.mulWadDown(_params.maintenanceMarginFraction);
        if (fill < price - bound) fill = price - bound;
        else if (fill > price + bound) fill = price + bound;
    }

    /// @dev Whole position, or a partial share above the threshold (Hyperliquid: then a
    ///      cooldown, then the whole position; dYdX: partial again, at most once per block).
    ///      F1: the mark left by a partial liquidation makes the next one whole only during
    ///      `PARTIAL_MARK_WINDOW` after the cooldown (a keeper watching the market liquidates a
    ///      still-unhealthy account then); an older mark has lapsed, the account having
    ///      recovered in between, and the liquidation is partial again. The account's own
    ///      actions clear the mark as soon as they leave it healthy (`_clearMarkIfRecovered`).
    function _liquidationSize(address account, Acc memory a, uint256 price) private view returns (uint256) {
        uint256 size = a.size.abs();
        if (_notional(a.size, price) <= _params.partialLiquidationThreshold) return size;
        if (a.partialAt != 0) {
            uint256 until = a.partialAt + _params.liquidationCooldown;
            if (block.timestamp < until) revert LiquidationCooldownActive(account, until);
            if (_params.fullLiquidationAfterCooldown && block.timestamp < until + PARTIAL_MARK_WINDOW) return size;
        }
        if (a.lastLiquidationBlock == block.number) revert AlreadyLiquidatedThisBlock(account, block.number);
        uint256 part = size.mulBpsUp(_params.partialLiquidationShareBps);
        return part < size ? part : size;
    }

    /// @dev Per-block cap on liquidated notional (at the index price): shrink or refuse.
    function _rateLimited(uint256 closeSize, uint256 price) private returns (uint256) {
        uint256 cap = _params.maxLiquidationNotionalPerBlock;
        if (cap == 0) return closeSize;
        if (_rateLimitBlock != block.number) {
            _rateLimitBlock = block.number;
            _rateLimitUsed = 0;
        }
        uint256 used = _rateLimitUsed;
        uint256 room = used < cap ? cap - used : 0;
        uint256 notional = closeSize.mulWadUp(price);
        if (notional > room) {
            closeSize = room.divWadDown(price);
            if (closeSize == 0) revert LiquidationRateLimited(block.number, used, cap);
            notional = closeSize.mulWadUp(price);
        }
        _rateLimitUsed = used + notional;
        return closeSize;
    }

    /// @dev Keeper share (whole units) to the caller, the rest to the fund; dust to fees.
    function _payPenalty(uint256 penalty) private returns (uint256 keeperReward, uint256 insuranceShare) {
        if (penalty == 0) return (0, 0);
        uint256 keeperUnits = penalty.mulBpsDown(_params.keeperShareBps).wadToUnitsDown();
        if (keeperUnits != 0) {
            _collateralToken.safeTransfer(msg.sender, keeperUnits);
            keeperReward = keeperUnits.unitsToWad();
            _ledger.keeperRewards += keeperReward;
        }
        insuranceShare = _sendToFund(penalty - keeperReward);
        _ledger.protocolFees += penalty - keeperReward - insuranceShare;
    }

    // ---------------------------------------------------------------------------------------
    // Loss waterfall
    // ---------------------------------------------------------------------------------------

    /// @dev The account's margin was set to zero from −deficit: the pool, credited with the
    ///      whole loss, gives back what the fund does not pay. Returns the fund's payment and
    ///      the deficit left after it (socialized or recorded as bad debt).
    function _absorbDeficit(uint256 deficit, bool longsBankrupt, uint256 price)
        private
        returns (uint256 paid, uint256 remaining)
    {
        if (deficit == 0) return (0, 0);
        if (address(_fund) != address(0)) {
            paid = _fund.cover(deficit.wadToUnitsUp()).unitsToWad();
            _ledger.paidByInsurance += paid;
        }
        _ledger.pool += int256(paid) - int256(deficit);
        if (paid >= deficit) return (paid, 0);
        remaining = deficit - paid;
        _ledger.totalBadDebt += remaining;
        uint256 uncharged = remaining;
        if (_params.adlPolicy == AdlPolicy.SOCIALIZED) uncharged = _socialize(remaining, longsBankrupt, price);
        if (uncharged != 0) {
            if (longsBankrupt) _ledger.badDebtLongs += uncharged;
            else _ledger.badDebtShorts += uncharged;
            emit BadDebtRecorded(longsBankrupt, uncharged, _ledger.badDebtLongs + _ledger.badDebtShorts);
        }
    }

    /// @dev Drift: charge `loss / (long base + short base)` per contract to both sides through
    ///      the funding indices. The charge per contract is capped at the index `price` (one
    ///      contract's notional): with dust open interest left, the part of the loss that the
    ///      cap leaves uncharged is returned and stays recorded as bad debt of the bankrupt
    ///      side (F5: before, the per-contract charge wrapped in an unchecked int128 cast and
    ///      paid the holders, or reverted). Returns the uncharged part (WAD USD).
    function _socialize(uint256 loss, bool longsBankrupt, uint256 price) private returns (uint256 uncharged) {
        uint256 openInterest = uint256(_state.longOpenInterest) + _state.shortOpenInterest;
        if (openInterest != 0) uncharged = _charge(loss, openInterest, longsBankrupt, price);
        else uncharged = loss;
    }

    /// @dev `_socialize` with open interest: move both indices by the capped per-contract
    ///      charge (checked casts) and return the part of `loss` left uncharged.
    function _charge(uint256 loss, uint256 openInterest, bool longsBankrupt, uint256 price)
        private
        returns (uint256 uncharged)
    {
        uint256 perUnit = FixedPointMath.min(loss.mulDivUp(WAD, openInterest), price);
        int256 increment = FixedPointMath.toInt(perUnit);
        _state.longFundingIndex = (int256(_state.longFundingIndex) + increment).toInt128();
        _state.shortFundingIndex = (int256(_state.shortFundingIndex) + increment).toInt128();
        uint256 charged = openInterest.mulWadUp(perUnit);
        uint256 covered = FixedPointMath.min(charged, loss);
        _ledger.socializedLoss += covered;
        emit AdlExecuted(AdlPolicy.SOCIALIZED, longsBankrupt, loss, charged, covered, charged - covered, 0, 0);
        return loss - covered;
    }

    // ---------------------------------------------------------------------------------------
    // Backstop
    // ---------------------------------------------------------------------------------------

    /// @dev See IPerpMarket.backstopTakeover. The account's position is realized at the index
    ///      and reopened in the vault's account at the same price (value-neutral), and the
    ///      account's remaining margin follows it; a negative margin is the vault's loss.
    function backstopTakeover(address account) external onlyDelegated nonReentrant {
        address vault = _vault;
        if (vault == address(0)) revert BackstopNotConfigured();
        if (account == vault) revert BackstopCannotTakeOverItself();
        uint256 price = _freshPrice();
        (int256 longIndex, int256 shortIndex) = _accrueFunding(price);
        Acc memory a = _load(account);
        int256 size = a.size;
        if (size == 0) revert NoPosition(account);
        _settleFunding(a, longIndex, shortIndex);
        {
            int256 eq = _equity(a, price, longIndex, shortIndex);
            uint256 threshold = _maintenanceMargin(_notional(size, price)).mulWadDown(_params.backstopFraction);
            if (eq >= int256(threshold)) revert NotBelowBackstopThreshold(account, eq, threshold);
        }
        _applyFill(a, -size, price, longIndex, shortIndex);
        int256 transferred = a.margin;
        a.margin = 0;
        a.partialAt = 0;
        _store(account, a);

        Acc memory v = _load(vault);
        _settleFunding(v, longIndex, shortIndex);
        _applyFill(v, size, price, longIndex, shortIndex);
        v.margin += transferred;
        {
            // F8: the vault must not be left liquidatable by the takeover (the same caller
            // could liquidate it at once, in the same block, at the same price).
            int256 eq = _equity(v, price, longIndex, shortIndex);
            uint256 mm = _maintenanceMargin(_notional(v.size, price));
            if (eq < int256(mm)) revert BackstopWouldBeLiquidatable(vault, eq, mm);
        }
        uint256 deficit = v.margin < 0 ? uint256(-v.margin) : 0;
        if (deficit != 0) v.margin = 0;
        _store(vault, v);
        uint256 paid;
        (paid, deficit) = _absorbDeficit(deficit, size > 0, price);
        emit BackstopTakeover(account, vault, msg.sender, size, price, transferred, paid, deficit);
    }

    // ---------------------------------------------------------------------------------------
    // Auto-deleveraging
    // ---------------------------------------------------------------------------------------

    /// @dev See IPerpMarket.adl.
    function adl(address[] calldata winners) external onlyDelegated onlyRole(ADL_ROLE) nonReentrant {
        AdlPolicy policy = _params.adlPolicy;
        if (policy != AdlPolicy.QUEUE && policy != AdlPolicy.PRO_RATA) revert AdlPolicyNotCallable(policy);
        uint256 n = winners.length;
        if (n == 0 || n > _params.maxAdlAccountsPerCall) revert AdlBatchSize(n, _params.maxAdlAccountsPerCall);
        uint256 price = _freshPrice();
        (int256 longIndex, int256 shortIndex) = _accrueFunding(price);
        bool winnersLong = _accounts[winners[0]].size > 0;
        uint256 deficit = winnersLong ? _ledger.badDebtShorts : _ledger.badDebtLongs;
        if (deficit == 0) revert NoDeficit(!winnersLong);

        AdlRun memory run = AdlRun(price, longIndex, shortIndex, winnersLong, deficit);
        (uint256 haircuts, uint256 processed) =
            policy == AdlPolicy.QUEUE ? _adlQueue(winners, run) : _adlProRata(winners, run);
        uint256 covered = FixedPointMath.min(haircuts, deficit);
        if (winnersLong) _ledger.badDebtShorts -= covered;
        else _ledger.badDebtLongs -= covered;
        _ledger.adlHaircuts += haircuts;
        _ledger.adlCovered += covered;
        uint256 overshoot = haircuts - covered;
        // Profit seized beyond the deficit is the venue's: it goes to the insurance fund, paid
        // by the pool (which owed that profit to the winner). The seized profit is unrealized,
        // so it may exceed the pool's cash (a pool of 100k against a winner up 180k): sending it
        // all would move traders' collateral out of the market, or revert with the token's
        // ERC20InsufficientBalance and leave the deficit uncovered. The fund receives at most
        // the pool's cash (whole units, rounded down); the rest is a liability of the pool that
        // the haircut extinguished, not cash, and stays out of the fund. `toFund` reports it.
        uint256 toFund = 0;
        if (overshoot != 0 && _ledger.pool > 0) {
            toFund = _sendToFund(FixedPointMath.min(overshoot, uint256(_ledger.pool)));
            _ledger.pool -= int256(toFund);
        }
        emit AdlExecuted(policy, !winnersLong, deficit, haircuts, covered, overshoot, toFund, processed);
    }

    struct AdlRun {
        uint256 price;
        int256 longIndex;
        int256 shortIndex;
        bool winnersLong;
        uint256 deficit;
    }

    /// @dev Settle funding and check the account is a winner on the right side; returns its
    ///      unrealized profit at the index.
    function _winner(address w, Acc memory a, AdlRun memory run) private returns (uint256 profit) {
        _settleFunding(a, run.longIndex, run.shortIndex);
        int256 pnl = PerpMath.unrealizedPnl(a.size, a.entry, run.price);
        if (a.size == 0 || (a.size > 0) != run.winnersLong || pnl <= 0 || a.margin < 0) {
            revert AdlIneligible(w, a.size, pnl);
        }
        return uint256(pnl);
    }

    /// @dev Hyperliquid queue: whole positions closed at the index in ranked order, each
    ///      winner's whole profit taken, until the deficit is covered. The order and
    ///      eligibility of the whole list are checked, also past the accounts it needs.
    function _adlQueue(address[] calldata winners, AdlRun memory run)
        private
        returns (uint256 haircuts, uint256 processed)
    {
        uint256 previousScore = type(uint256).max;
        for (uint256 i = 0; i < winners.length; ++i) {
            address w = winners[i];
            Acc memory a = _load(w);
            int256 owed = PerpMath.fundingOwed(a.size, a.fundingSnapshot, run.longIndex, run.shortIndex);
            int256 pnl = PerpMath.unrealizedPnl(a.size, a.entry, run.price);
            if (a.size == 0 || (a.size > 0) != run.winnersLong || pnl <= 0 || a.margin < owed) {
                revert AdlIneligible(w, a.size, pnl);
            }
            uint256 score = _adlScore(a.size, a.entry, run.price, uint256(a.margin - owed + pnl));
            if (score > previousScore) revert AdlRankingOutOfOrder(i, previousScore, score);
            previousScore = score;
            if (haircuts >= run.deficit) continue;
            _settleFunding(a, run.longIndex, run.shortIndex);
            int256 size = a.size;
            _applyFill(a, -size, run.price, run.longIndex, run.shortIndex);
            // The close credited the profit from the pool; the haircut takes it back.
            a.margin -= pnl;
            _ledger.pool += pnl;
            a.partialAt = 0;
            _store(w, a);
            haircuts += uint256(pnl);
            ++processed;
            emit AdlHaircut(w, size, run.price, uint256(pnl), uint256(pnl));
        }
    }

    /// @dev Chitra's pro-rata policy: haircut_i = covered·profit_i/Σprofit rounded down, the
    ///      remainder (< n wei) added one wei at a time so the haircuts sum exactly to
    ///      `covered = min(deficit, Σprofit)`. Positions stay open, re-entered at the index.
    function _adlProRata(address[] calldata winners, AdlRun memory run)
        private
        returns (uint256 covered, uint256 processed)
    {
        uint256 n = winners.length;
        Acc[] memory accs = new Acc[](n);
        uint256[] memory profits = new uint256[](n);
        uint256 total = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (i != 0 && uint160(winners[i]) <= uint160(winners[i - 1])) revert AdlAccountsNotSorted(i);
            accs[i] = _load(winners[i]);
            profits[i] = _winner(winners[i], accs[i], run);
            total += profits[i];
        }
        covered = FixedPointMath.min(run.deficit, total);
        uint256[] memory cuts = new uint256[](n);
        uint256 sum = 0;
        for (uint256 i = 0; i < n; ++i) {
            cuts[i] = covered.mulDivDown(profits[i], total);
            sum += cuts[i];
        }
        for (uint256 i = 0; sum < covered && i < n; ++i) {
            if (cuts[i] < profits[i]) {
                cuts[i] += 1;
                sum += 1;
            }
        }
        for (uint256 i = 0; i < n; ++i) {
            Acc memory a = accs[i];
            int256 paid = int256(profits[i] - cuts[i]);
            a.margin += paid;
            _ledger.pool -= paid;
            a.entry = run.price;
            _store(winners[i], a);
            emit AdlHaircut(winners[i], 0, run.price, profits[i], cuts[i]);
        }
        processed = n;
    }
}
