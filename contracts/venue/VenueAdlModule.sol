// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPerpVenueAdl} from "../interfaces/IPerpVenue.sol";
import {MarketId} from "../interfaces/IPerpVenueTypes.sol";
import {FixedPointMath} from "../libraries/FixedPointMath.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {VenueStorage} from "./VenueStorage.sol";
import {VenueMarket} from "./VenueMarket.sol";

/// @title VenueAdlModule
/// @notice Auto-deleveraging of one market's outstanding deficit of one side, under the market's
///         policy. Runs only through the venue's `delegatecall`.
/// @dev Trust model (F4): ADL is run by the protocol, as the exchanges run it: only
///      ADL_KEEPER_ROLE may call `adl`; it reads `adlRanking` and passes the winners in order.
///      On chain: every winner is on the winning side with a positive profit and a positive
///      account value; the queues check the order of every adjacent pair, the first included
///      (scores non-increasing), and touch only the winners needed: PROFIT_QUEUE stops once the
///      haircuts cover the deficit, CONTRACTS_QUEUE once the bankrupt contracts are offset, and a
///      CONTRACTS_QUEUE winner never loses more than its profit on the contracts closed (once the
///      bankrupt contracts are offset, the deficit left is written off as final bad debt). PRO_RATA
///      takes addresses strictly increasing (no duplicates). Haircuts go back to the pool; any
///      overshoot (haircuts − deficit covered) goes to the insurance fund, up to the pool's cash.
contract VenueAdlModule is IPerpVenueAdl, VenueStorage {
    using FixedPointMath for uint256;
    using FixedPointMath for int256;
    using VenueMarket for VenueMarket.State;

    address private immutable _self;

    constructor() {
        _self = address(this);
    }

    modifier onlyDelegated() {
        if (address(this) == _self) revert OnlyDelegateCall();
        _;
    }

    /// @dev One ADL call's context and totals.
    struct AdlRun {
        MarketId id;
        uint256 price;
        VenueMarket.Funding f;
        bool winnersLong;
        uint256 deficit;
        uint256 contractsLeft;
        uint256 adlPrice;
        uint256 haircuts;
        uint256 totalProfit;
        uint256 contracts;
        uint256 notional;
        uint256 accounts;
        uint256 previousScore;
        /// @dev CONTRACTS_QUEUE: this call offset the side's last bankrupt contracts.
        bool offset;
        /// @dev Each market's price and accrued funding, computed once for all winners'
        ///      cross health (nothing in an ADL call changes another market, and this one's
        ///      funding is accrued first).
        PriceFunding[] memo;
    }

    /// @inheritdoc IPerpVenueAdl
    function adl(MarketId market, bool longsBankrupt, address[] calldata winners)
        external
        onlyDelegated
        onlyRole(ADL_KEEPER_ROLE)
        nonReentrant
    {
        VenueMarket.State storage m = _market(market);
        AdlPolicy policy = m.params.adlPolicy;
        if (policy != AdlPolicy.CONTRACTS_QUEUE && policy != AdlPolicy.PROFIT_QUEUE && policy != AdlPolicy.PRO_RATA) {
            revert AdlPolicyNotCallable(market, policy);
        }
        uint256 n = winners.length;
        if (n == 0 || n > m.params.maxAdlAccountsPerCall) revert AdlBatchSize(n, m.params.maxAdlAccountsPerCall);
        AdlRun memory run = _newRun(market, !longsBankrupt);
        run.deficit = longsBankrupt ? m.ledger.badDebtLongs : m.ledger.badDebtShorts;
        if (policy == AdlPolicy.CONTRACTS_QUEUE) {
            run.contractsLeft = longsBankrupt ? m.ledger.adlContractsLongs : m.ledger.adlContractsShorts;
            run.adlPrice = longsBankrupt ? m.ledger.adlPriceLongs : m.ledger.adlPriceShorts;
            if (run.contractsLeft == 0) run.deficit = 0;
        }
        if (run.deficit == 0) revert NoDeficit(market, longsBankrupt);
        run.price = m.freshPrice();
        run.f = m.accrued(run.price);

        if (policy == AdlPolicy.PRO_RATA) _proRata(m, winners, run);
        else _queue(m, winners, run, policy == AdlPolicy.CONTRACTS_QUEUE);

        uint256 covered = FixedPointMath.min(run.haircuts, run.deficit);
        if (longsBankrupt) m.ledger.badDebtLongs = VenueMarket.minus(m.ledger.badDebtLongs, covered);
        else m.ledger.badDebtShorts = VenueMarket.minus(m.ledger.badDebtShorts, covered);
        if (policy == AdlPolicy.CONTRACTS_QUEUE) {
            if (longsBankrupt) run.offset = (m.ledger.adlContractsLongs = VenueMarket.minus(m.ledger.adlContractsLongs, run.contracts)) == 0;
            else run.offset = (m.ledger.adlContractsShorts = VenueMarket.minus(m.ledger.adlContractsShorts, run.contracts)) == 0;
        }
        m.ledger.adlHaircuts = VenueMarket.plus(m.ledger.adlHaircuts, run.haircuts);
        m.ledger.adlCovered = VenueMarket.plus(m.ledger.adlCovered, covered);
        uint256 overshoot = run.haircuts - covered;
        // Profit seized beyond the deficit is the venue's: it goes to the fund, paid by the pool
        // (which owed it to the winner), at most the pool's cash; the rest stays with the pool.
        uint256 toFund = 0;
        if (overshoot != 0 && _ledger.pool > 0) {
            toFund = _sendToFund(FixedPointMath.min(overshoot, uint256(_ledger.pool)));
            _ledger.pool -= int256(toFund);
        }
        emit AdlExecuted(
            market,
            policy,
            longsBankrupt,
            run.deficit,
            FixedPointMath.min(run.deficit, run.totalProfit),
            run.haircuts,
            covered,
            overshoot,
            toFund,
            run.contracts,
            run.notional,
            run.accounts
        );
        // The bankrupt contracts are all offset: what the capped haircuts left, no call can
        // clear (BitMEX / Hyperliquid close contracts, not profit): final bad debt.
        if (run.offset) _finalizeBadDebt(m, market, longsBankrupt);
    }

    function _newRun(MarketId market, bool winnersLong) private view returns (AdlRun memory run) {
        run.id = market;
        run.winnersLong = winnersLong;
        run.memo = _priceFundingMemo();
    }

    /// @dev Load a winner, settle its funding, check it is eligible; returns the profit it can
    ///      give up -- its profit at the index, capped at its account value, so that no haircut
    ///      leaves a cross account whose other markets lost with negative equity (a deficit no
    ///      ledger would record) -- and its account value (cross equity, or the isolated
    ///      position's equity).
    function _winner(address w, AdlRun memory run)
        private
        returns (Pos memory p, uint256 profit, uint256 value)
    {
        p = _load(w, run.id);
        int256 pnl = PerpMath.unrealizedPnl(p.size, p.entry, run.price);
        if (p.size == 0 || (p.size > 0) != run.winnersLong || pnl <= 0) revert AdlIneligible(w, p.size, pnl);
        _settleFunding(w, p, run.f);
        _store(w, p);
        int256 v;
        if (p.isolated) v = p.margin + pnl;
        else (v,,) = _crossHealthMemo(w, true, run.memo);
        if (v <= 0) revert AdlIneligible(w, p.size, pnl);
        return (p, FixedPointMath.min(uint256(pnl), uint256(v)), uint256(v));
    }

    /// @dev PROFIT_QUEUE (whole positions, whole profit) and CONTRACTS_QUEUE (only the bankrupt
    ///      contracts, at the ADL price): ranked order checked for every pair, the first included.
    function _queue(VenueMarket.State storage m, address[] calldata winners, AdlRun memory run, bool contractsMode)
        private
    {
        run.previousScore = type(uint256).max;
        for (uint256 i = 0; i < winners.length; ++i) {
            _queueOne(m, winners[i], i, run, contractsMode);
        }
    }

    function _queueOne(VenueMarket.State storage m, address w, uint256 i, AdlRun memory run, bool contractsMode)
        private
    {
        (Pos memory p, uint256 profit, uint256 value) = _winner(w, run);
        uint256 score = VenueMarket.adlScore(p.size, p.entry, run.price, value);
        if (score > run.previousScore) revert AdlRankingOutOfOrder(i, run.previousScore, score);
        run.previousScore = score;
        run.totalProfit += profit;
        if (contractsMode ? run.contractsLeft == 0 : run.haircuts >= run.deficit) return;
        uint256 size = p.size.abs();
        uint256 q = contractsMode ? FixedPointMath.min(size, run.contractsLeft) : size;
        uint256 cut = contractsMode ? _contractsHaircut(run, q, size, profit) : profit;
        int256 delta = p.size > 0 ? -int256(q) : int256(q);
        _applyFill(w, m, p, delta, run.price, run.f);
        // The close credited the profit at the index; the haircut goes back to the pool.
        _creditFromPool(w, p, -int256(cut));
        if (p.size == 0) {
            p.partialAt = 0;
            if (p.isolated) {
                _addCollateral(w, p.margin);
                p.margin = 0;
            }
        }
        _store(w, p);
        if (contractsMode) run.contractsLeft -= q;
        run.haircuts += cut;
        run.contracts += q;
        run.notional += q.mulWadDown(run.price);
        ++run.accounts;
        emit AdlHaircut(run.id, w, -delta, run.price, profit, cut);
    }

    /// @dev The gap between the index and the ADL price on `q` contracts, against the winner
    ///      (shorts: ADL price above the index; longs: below), capped at the winner's profit on
    ///      those contracts (`profit·q/size`, rounded down).
    function _contractsHaircut(AdlRun memory run, uint256 q, uint256 size, uint256 profit)
        private
        pure
        returns (uint256)
    {
        uint256 gap;
        if (run.winnersLong) gap = run.price > run.adlPrice ? run.price - run.adlPrice : 0;
        else gap = run.adlPrice > run.price ? run.adlPrice - run.price : 0;
        return FixedPointMath.min(q.mulWadDown(gap), profit.mulDivDown(q, size));
    }

    /// @dev Chitra's pro-rata policy: `haircut_i = covered·profit_i/Σprofit` rounded down, the
    ///      remainder (< n wei) added one wei at a time so the haircuts sum exactly to
    ///      `covered = min(deficit, Σprofit)`. Positions stay open, re-entered at the index.
    function _proRata(VenueMarket.State storage m, address[] calldata winners, AdlRun memory run) private {
        uint256 n = winners.length;
        Pos[] memory ps = new Pos[](n);
        uint256[] memory profits = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            if (i != 0 && uint160(winners[i]) <= uint160(winners[i - 1])) revert AdlAccountsNotSorted(i);
            (ps[i], profits[i],) = _winner(winners[i], run);
            run.totalProfit += profits[i];
        }
        uint256 covered = FixedPointMath.min(run.deficit, run.totalProfit);
        uint256[] memory cuts = new uint256[](n);
        uint256 sum = 0;
        for (uint256 i = 0; i < n; ++i) {
            cuts[i] = covered.mulDivDown(profits[i], run.totalProfit);
            sum += cuts[i];
        }
        for (uint256 i = 0; sum < covered && i < n; ++i) {
            if (cuts[i] < profits[i]) {
                cuts[i] += 1;
                sum += 1;
            }
        }
        for (uint256 i = 0; i < n; ++i) {
            Pos memory p = ps[i];
            _creditFromPool(winners[i], p, int256(profits[i] - cuts[i]));
            p.entry = run.price;
            _store(winners[i], p);
            emit AdlHaircut(run.id, winners[i], 0, run.price, profits[i], cuts[i]);
        }
        run.haircuts = sum;
        run.accounts = n;
    }
}
