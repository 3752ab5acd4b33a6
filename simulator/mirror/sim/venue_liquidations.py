"""The venue's liquidations on the mirror (``VenueLiquidationModule``: ``liquidate``,
``liquidateIsolated``, the per-block cap, ``_absorbDeficit`` with socialized loss and the
contracts queue): a mixin of :class:`~simulator.mirror.sim.venue.VenueState` (exact mode
through the kernels of :mod:`simulator.mirror.liquidation`, fast mode through the compiled
calls of :mod:`~simulator.mirror.sim.jit_calls`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.mirror import adl as mirror_adl
from simulator.mirror import fills, funding, liquidation
from simulator.mirror.fixed import UNIT, WAD, mul_div_up
from simulator.mirror.sim import jit_calls
from simulator.mirror.sim.calls import Liquidation, Reverted, error_text, where_sum


class LiquidationsMixin:
    """Cross and isolated liquidations and the deficits they leave, on the venue's state."""

    # -- liquidations ---------------------------------------------------------------------------

    def _rate_used(self) -> Any:
        """Each market's per-block liquidation cap used in this block (WAD USD)."""
        return np.where(self.rate_block == self.block, self.rate_used, self.rate_used * 0)

    def _use_rate(self, m: int, closed: Any) -> None:
        """``rateLimited``'s bookkeeping of ``closed`` (WAD base units, > 0) in market ``m``."""
        if self.markets.max_liquidation_notional_per_block[m] == 0:
            return
        if not self.exact_mode:  # the same in plain floats, for market m alone
            used = self.rate_used[m] if self.rate_block[m] == self.block else 0.0
            self.rate_used[m] = used + abs(closed) * float(self.price[m]) / WAD
            self.rate_block[m] = self.block
            return
        used = self._rate_used()
        n = mul_div_up(self.conv([abs(closed)]), self.conv([self.price[m]]), WAD)[0]
        self.rate_used[m] = used[m] + n
        self.rate_block[m] = self.block

    def liquidate(self, a: int) -> Liquidation:
        """``liquidate(account)`` of account ``a``'s cross positions; raises :class:`Reverted`
        (``NoPosition``, ``NotLiquidatable``, ``NothingLiquidatableNow``)."""
        slots = self.open_markets(a)
        for j in slots:  # _loadCross reads every cross position's fresh price, in _open order
            if not self.isolated[a, j]:
                self.fresh(j)
                if self.breaker is not None:  # then its breaker (liquidationsHaltOnBreaker)
                    self.breaker.check(self, j, liquidation=True)
        if not self.exact_mode:
            return self._liquidate_fast(a, slots)
        state = self.funding()
        cross = (self.size[a] != 0) & ~self.isolated[a]
        book = self.book(np.array([a]))
        got = liquidation.liquidate_cross(
            book, self.price, self.markets, state, fund_balance=self.fund, now=self.now,
            partial_at=self.partial_at[a][None, :].astype(object),  # exact mode only here
            liquidated_this_block=(self.last_liquidation_block[a] == self.block)[None, :],
            rate_limit_used=self._rate_used(),
        )  # fmt: skip
        outcome = int(got.outcome[0])
        if outcome != liquidation.OK:
            eq, mm, _ = self.cross_health(np.array([a]), state)
            account = self.address(a)
            if outcome == liquidation.NO_POSITION:
                raise Reverted(error_text("NoPosition", account=account, market=0))
            raise Reverted(error_text(liquidation.OUTCOMES[outcome], account=account,
                                      equity=eq[0], maintenanceMargin=mm[0]))  # fmt: skip
        self.accrue(cross, state)
        owed = funding.funding_owed(book.size, book.snapshot, state.long_funding_index,
                                    state.short_funding_index)  # fmt: skip
        self.pool = self.pool + where_sum(owed[0], cross) - sum(
            got.realized[0, j] for j in range(self.n_markets) if got.rank[0, j])  # fmt: skip
        out = Liquidation(account=a, isolated=False)
        order = sorted((int(got.rank[0, j]), j) for j in range(self.n_markets) if got.rank[0, j])
        for _, j in order:
            old = self.size[a, j]
            new = got.book.size[0, j]
            self._move_oi(j, old, new, a)
            self._use_rate(j, got.closed[0, j])
            self.penalties[j] = self.penalties[j] + got.penalty[0, j]
            self.fund = self.fund + self._whole_units(got.insurance_share[0, j])
            self.partial_at[a, j] = 0 if got.full[0, j] else self.now
            self.last_liquidation_block[a, j] = self.block
            out.markets.append(j)
            out.closed.append(got.closed[0, j] if old > 0 else -got.closed[0, j])
            out.fill.append(got.fill[0, j])
            out.penalty.append(got.penalty[0, j])
            out.full.append(bool(got.full[0, j]))
        self.size[a], self.entry[a] = got.book.size[0], got.book.entry[0]
        self.snapshot[a] = got.book.snapshot[0]
        self.collateral[a] = got.book.collateral[0]
        if got.deficit[0] != 0:
            self.fund = self.fund - got.fund_paid[0]
            self.pool = self.pool - got.deficit[0] + got.fund_paid[0]
            for j in [j for j in slots if cross[j]]:  # the account's markets in _open order
                share = got.deficit_share[0, j]
                if share == 0:
                    continue
                self._absorb(out, int(j), bool(book.size[0, j] > 0), share,
                             got.fund_paid_share[0, j], got.closed[0, j], got.fill[0, j])  # fmt: skip
        return out

    def liquidate_isolated(self, a: int, m: int) -> Liquidation:
        """``liquidateIsolated(account, market)``; raises :class:`Reverted` as the contract."""
        if self.size[a, m] != 0 and self.isolated[a, m]:
            self.fresh(m)  # after NoPosition and WrongMarginMode, as the contract checks
            if self.breaker is not None:
                self.breaker.check(self, m, liquidation=True)
        if not self.exact_mode:
            return self._liquidate_isolated_fast(a, m)
        state = self.funding()
        book = self.book(np.array([a]))
        got = liquidation.liquidate_isolated(
            book, self.price, self.markets, state, fund_balance=self.fund, now=self.now,
            partial_at=self.partial_at[a][None, :].astype(object),  # exact mode only here
            liquidated_this_block=(self.last_liquidation_block[a] == self.block)[None, :],
            rate_limit_used=self._rate_used(),
        )  # fmt: skip
        outcome = int(got.outcome[0, m])
        if outcome != liquidation.OK:
            account = self.address(a)
            if outcome == liquidation.NO_POSITION:
                raise Reverted(error_text("NoPosition", account=account, market=m + 1))
            if outcome == liquidation.WRONG_MARGIN_MODE:
                raise Reverted(error_text("WrongMarginMode", market=m + 1, isolated=False))
            eq, mm = self.isolated_health(np.array([a]), np.array([m]), state)
            raise Reverted(error_text(liquidation.OUTCOMES[outcome], account=account,
                                      equity=eq[0], maintenanceMargin=mm[0]))  # fmt: skip
        self.accrue(np.arange(self.n_markets) == m, state)
        old = self.size[a, m]
        closed = got.closed[0, m]
        owed = funding.funding_owed(self.conv([old]), self.conv([self.snapshot[a, m]]),
                                    self.conv([state.long_funding_index[m]]),
                                    self.conv([state.short_funding_index[m]]))[0]  # fmt: skip
        self.pool = self.pool + owed - got.realized[0, m]
        new = old - closed if old > 0 else old + closed
        self._move_oi(m, old, new, a)
        self._use_rate(m, closed)
        self.penalties[m] = self.penalties[m] + got.penalty[0, m]
        self.fund = self.fund + self._whole_units(got.insurance_share[0, m])
        full = bool(got.full[0, m])
        out = Liquidation(account=a, isolated=True, markets=[m],
                          closed=[closed if old > 0 else -closed], fill=[got.fill[0, m]],
                          penalty=[got.penalty[0, m]], full=[full])  # fmt: skip
        # The position after the call: funding settled, the close applied, the penalty taken.
        _, entry1, _ = fills.apply_fill(self.conv([old]), self.conv([self.entry[a, m]]),
                                        self.conv([new - old]), self.conv([got.fill[0, m]]))  # fmt: skip
        self.size[a, m] = new
        self.entry[a, m] = entry1[0] if new != 0 else entry1[0] * 0
        self.snapshot[a, m] = (state.long_funding_index[m] if new >= 0
                               else state.short_funding_index[m])  # fmt: skip
        self.margin[a, m] = got.margin[0, m]
        self.collateral[a] = self.collateral[a] + got.released[0, m]
        self.partial_at[a, m] = 0 if full else self.now
        self.last_liquidation_block[a, m] = self.block
        if new == 0:
            self.isolated[a, m] = False
        if got.deficit[0, m] != 0:
            self.fund = self.fund - got.fund_paid[0, m]
            self.pool = self.pool - got.deficit[0, m] + got.fund_paid[0, m]
            self._absorb(out, m, bool(old > 0), got.deficit[0, m], got.fund_paid[0, m], closed,
                         got.fill[0, m])  # fmt: skip
        return out

    # -- fast mode's calls, compiled (:mod:`~simulator.mirror.sim.jit_calls`) ------------------

    def _liquidate_fast(self, a: int, slots: list[int]) -> Liquidation:
        """:meth:`liquidate` in fast mode (:func:`jit_calls.liquidate_cross`), then the
        account's ``_open`` order, the pool and the fund, and the deficit's absorption."""
        fn = self.funding_now()[1]
        params, tiers, out, rows, order, _ = self.jit_buffers()
        size0 = self.size[a].tolist()
        code = jit_calls.liquidate_cross(
            a, int(self.now), int(self.block), float(self.fund), params, tiers,
            self._market_floats, self._market_ints, self._position_floats, self._position_ints,
            self.isolated, self.collateral, fn, order, rows, out,
        )  # fmt: skip
        if code != jit_calls.OK:
            name = jit_calls.ERRORS[code]
            if code == jit_calls.NO_POSITION:
                raise Reverted(error_text(name, account=self.address(a), market=0))
            eq, mm = out.tolist()[:2]
            raise Reverted(error_text(name, account=self.address(a), equity=eq,
                                      maintenanceMargin=mm))  # fmt: skip
        return self._cross_done(a, slots, size0, self.size[a].tolist(), out.tolist(),
                                rows.tolist(), order.tolist())  # fmt: skip

    def _cross_done(self, a, slots, size0, size1, out, rows, order) -> Liquidation:
        """A compiled cross liquidation of account ``a`` done (its state written; ``out``,
        ``rows``, ``order`` the kernel's outputs as lists): the account's ``_open`` order
        (``slots`` as it was before), the pool and the fund, the funding cache kept, and the
        deficit's absorption; its :class:`Liquidation`."""
        owed, realized, fund, deficit, paid = out[:5]
        closed, fill, penalty, _, full, share, fund_share = rows
        self.version += 1
        self.kept += 1  # the markets it moved accrued to now: the funding at now kept
        self.pool = self.pool + owed - realized
        result = Liquidation(account=a, isolated=False)
        for j in order[1 : order[0] + 1]:
            old = size0[j]
            self._track_open(a, j, old, size1[j])
            result.markets.append(j)
            result.closed.append(closed[j] if old > 0 else -closed[j])
            result.fill.append(fill[j])
            result.penalty.append(penalty[j])
            result.full.append(full[j] != 0)
        self.fund = fund
        if deficit != 0:
            self.fund = self.fund - paid
            self.pool = self.pool - deficit + paid
            done = set(result.markets)
            for j in slots:  # the account's markets in _open order (cross ones closed)
                if j in done and share[j] != 0:
                    self._absorb(result, j, size0[j] > 0, share[j], fund_share[j], closed[j],
                                 fill[j])  # fmt: skip
        return result

    def _liquidate_isolated_fast(self, a: int, m: int) -> Liquidation:
        """:meth:`liquidate_isolated` in fast mode (:func:`jit_calls.liquidate_isolated`),
        then the account's ``_open`` order, the pool and the fund, and the deficit."""
        fn = self.funding_now()[1]
        params, tiers, out, _, _, _ = self.jit_buffers()
        size = float(self.size[a, m])
        code = jit_calls.liquidate_isolated(
            a, m, int(self.now), int(self.block), float(self.fund), params, tiers,
            self._market_floats, self._market_ints, self._position_floats, self._position_ints,
            self.isolated, self.collateral, fn, out,
        )  # fmt: skip
        if code != jit_calls.OK:
            account, name = self.address(a), jit_calls.ERRORS[code]
            if code == jit_calls.NO_POSITION:
                raise Reverted(error_text(name, account=account, market=m + 1))
            if code == jit_calls.WRONG_MARGIN_MODE:
                raise Reverted(error_text(name, market=m + 1, isolated=False))
            eq, mm = out.tolist()[:2]
            raise Reverted(error_text(name, account=account, equity=eq, maintenanceMargin=mm))
        return self._isolated_done(a, m, size, float(self.size[a, m]), out.tolist(),
                                   )  # fmt: skip

    def _isolated_done(self, a, m, size, size1, out) -> Liquidation:
        """A compiled isolated liquidation of account ``a`` in market ``m`` done (the position
        ``size`` before, ``size1`` after; ``out`` the kernel's, as a list): the ``_open``
        order, the pool and the fund, the funding cache kept, the deficit; its
        :class:`Liquidation`."""
        owed, realized, fund, deficit, paid, close, fill, penalty = out
        self.version += 1
        self.kept += 1  # the markets it moved accrued to now: the funding at now kept
        self.pool = self.pool + owed - realized
        self._track_open(a, m, size, size1)
        self.fund = fund
        out_ = Liquidation(account=a, isolated=True, markets=[m],
                           closed=[close if size > 0 else -close], fill=[fill],
                           penalty=[penalty], full=[close == abs(size)])  # fmt: skip
        if deficit != 0:
            self.fund = self.fund - paid
            self.pool = self.pool - deficit + paid
            self._absorb(out_, m, size > 0, deficit, paid, close, fill)
        return out_

    # -- a block's liquidations, batched -----------------------------------------------------

    def liquidate_many(
        self, accounts: list[int], markets: list[int], isolated: list[bool], legs: bool = False
    ) -> list:
        """The keepers' calls of a block in order: ``liquidateIsolated(accounts[i],
        markets[i])`` where ``isolated[i]``, else ``liquidate(accounts[i])``; per call its
        :class:`Liquidation` or the :class:`Reverted` it raised (nothing changed), each as
        the call alone gives it. Fast mode runs them in compiled batches
        (:func:`jit_calls.liquidate_batch`), a call that needs Python (a stale price's or a
        revert's text, a breaker that halts liquidations in a market it reads) made alone and
        the batch resumed after it, and a deficit the fund does not cover absorbed before the
        next call. ``legs``: a batched call that leaves no deficit is given as the tuple of
        its ``Liquidated`` events instead (:meth:`_legs_done`: the state written as
        :meth:`_isolated_done` / :meth:`_cross_done` write it, without their objects)."""
        n = len(accounts)
        results: list = [None] * n
        if self.exact_mode or n <= 1:  # one call: alone (no batch buffers to build)
            for i in range(n):
                results[i] = self._liquidate_one(accounts[i], markets[i], isolated[i])
            return results
        m_count = self.n_markets
        acc = np.array(accounts, dtype=np.int64)
        mkt = np.array(markets, dtype=np.int64)
        iso = np.array(isolated, dtype=bool)
        outs = np.empty((n, jit_calls.N_OUT))
        orders = np.zeros((n, m_count + 1), dtype=np.int64)
        rowss = np.empty((n, jit_calls.N_ROWS, m_count))
        sizes = np.empty((n, 2, m_count))
        i = 0
        while i < n:
            params, tiers = self.jit_buffers()[:2]
            fn = self.funding_now()[1]
            halts = np.zeros(m_count, dtype=bool)  # the markets whose breaker halts them
            if self.breaker is not None:
                for j, (p, _) in enumerate(self.params_chain):
                    halts[j] = int(p.get("circuitBreakerBandBps", 0)) != 0 and bool(
                        p.get("liquidationsHaltOnBreaker", False))  # fmt: skip
            stop = jit_calls.liquidate_batch(
                i, acc, mkt, iso, halts, int(self.now), int(self.block), float(self.fund), params,
                tiers, self._market_floats, self._market_ints, self._position_floats,
                self._position_ints, self.isolated, self.collateral, fn, outs, orders, rowss,
                sizes,
            )  # fmt: skip
            if stop == i:  # call i needs Python: made alone
                results[i] = self._liquidate_one(accounts[i], markets[i], isolated[i])
                i += 1
                continue
            if legs:
                self._legs_done(i, stop, accounts, markets, isolated, outs, rowss, orders, sizes,
                                results)  # fmt: skip
                i = stop
                continue
            got = zip(outs[i:stop].tolist(), rowss[i:stop].tolist(), orders[i:stop].tolist(),
                      sizes[i:stop].tolist(), strict=True)  # fmt: skip
            for k, (out, rows, order, (before, after)) in enumerate(got, start=i):
                a = accounts[k]
                if isolated[k]:
                    m = markets[k]
                    results[k] = self._isolated_done(a, m, before[m], after[m], out)
                else:
                    # the account's _open order before the call (the calls before it tracked)
                    results[k] = self._cross_done(a, self.open_markets(a), before, after, out,
                                                  rows, order)  # fmt: skip
            i = stop
        return results

    def _legs_done(self, i, stop, accounts, markets, isolated, outs, rowss, orders, sizes,
                   results) -> None:  # fmt: skip
        """Calls ``i`` to ``stop`` of a compiled batch done (:meth:`liquidate_many` with
        ``legs``): each one's ``results`` entry the tuple ``(account, legs)``, ``legs`` its
        ``Liquidated`` events in order as ``(market, closed, fill, penalty, full)`` (WAD
        floats, ``closed`` signed as :class:`Liquidation` gives it), its state written as
        :meth:`_isolated_done` / :meth:`_cross_done` write it (the pool, the fund, the funding
        cache kept, the ``_open`` order), in one pass over the kernel's outputs without a call
        per liquidation. A call that leaves a deficit takes today's path (its
        :class:`Liquidation`, :meth:`_absorb`)."""
        if self.open_order is None:
            self.open_order = [[] for _ in range(len(self.collateral))]
        open_order = self.open_order
        got = zip(outs[i:stop].tolist(), rowss[i:stop].tolist(), orders[i:stop].tolist(),
                  sizes[i:stop].tolist(), strict=True)  # fmt: skip
        for k, (out, rows, order, (before, after)) in enumerate(got, start=i):
            a = accounts[k]
            if out[3] != 0:  # a deficit: absorbed in Python, as today
                if isolated[k]:
                    m = markets[k]
                    results[k] = self._isolated_done(a, m, before[m], after[m], out)
                else:
                    results[k] = self._cross_done(a, self.open_markets(a), before, after, out,
                                                  rows, order)  # fmt: skip
                continue
            self.version += 1
            self.kept += 1  # the markets it moved accrued to now: the funding at now kept
            self.pool = self.pool + out[0] - out[1]
            self.fund = out[2]
            account_open = open_order[a]
            if isolated[k]:
                m = markets[k]
                old, close = before[m], out[5]
                full = close == (old if old >= 0 else -old)  # close == abs(old), inlined
                moved = ((m, close if old > 0 else -close, out[6], out[7], full),)
            else:
                closed, fill, penalty, _, full = rows[:5]
                moved = ()
                for j in order[1 : order[0] + 1]:
                    old = before[j]
                    moved += ((j, closed[j] if old > 0 else -closed[j], fill[j], penalty[j],
                               full[j] != 0),)  # fmt: skip
            for leg in moved:  # _track_open of each market moved, inlined
                j = leg[0]
                old, new = before[j], after[j]
                if old == 0 and new != 0:
                    account_open += (j,)
                elif old != 0 and new == 0 and j in account_open:
                    at = 0
                    while account_open[at] != j:
                        at += 1
                    account_open[at] = account_open[-1]
                    del account_open[-1]
            results[k] = (a, moved)

    def _liquidate_one(self, a: int, m: int, isolated: bool):
        """One call of :meth:`liquidate_many`, alone."""
        try:
            return self.liquidate_isolated(a, m) if isolated else self.liquidate(a)
        except Reverted as exc:
            return exc

    def _absorb(self, out: Liquidation, m: int, longs: bool, deficit: Any, paid: Any,
                contracts: Any, fill: Any) -> None:  # fmt: skip
        """``_absorbDeficit`` in market ``m`` of a deficit share (the bankrupt position's
        ``contracts`` closed at ``fill``): the ledger, then what the fund left: charged to the
        open interest through both funding indices under SOCIALIZED (``_socialize``:
        ``⌈loss/OI⌉`` per contract, refused when there is no open interest or the charge
        exceeds the last mark), else bad debt of the side, and under CONTRACTS_QUEUE the
        contracts behind it queued at the averaged ADL price (:func:`simulator.mirror.adl.
        absorb_deficit`); bad debt no ``adl`` call can clear (a refused charge, a contracts
        queue with none of the side queued) written off as final."""
        self.total_deficit[m] = self.total_deficit[m] + deficit
        self.paid_by_insurance[m] = self.paid_by_insurance[m] + paid
        remaining = deficit - paid if paid < deficit else deficit * 0
        if not self.exact_mode and remaining < UNIT:
            # Float residue of the fund's whole-unit cover and the shares (the exact
            # remaining is 0 whenever the fund holds the deficit rounded up to a unit).
            remaining = 0.0
        if remaining == 0:
            out.deficits.append((m, longs, deficit, paid, remaining, None, None))
            return
        if self.adl_policy[m] == mirror_adl.SOCIALIZED:
            charged = self._socialize(m, remaining)
            if charged is not None:
                out.deficits.append((m, longs, deficit, paid, remaining, charged, None))
                return
        elif self.adl_policy[m] == mirror_adl.CONTRACTS_QUEUE and contracts != 0:
            x = self.conv
            previous = (self.previous_mark[m] if self.last_mark_block[m] == self.block
                        else self.last_mark[m])  # fmt: skip
            got = mirror_adl.absorb_deficit(
                self._adl_ledger(m), np.array([1]), np.array([int(self.adl_price_mode[m])]),
                np.array([longs]), x([deficit]), x([paid]), x([contracts]), x([fill]),
                x([previous]), x([self.long_oi[m] + self.short_oi[m]]), x([self.last_mark[m]]),
            )  # fmt: skip
            self._set_adl_ledger(m, got.ledger)
            out.deficits.append((m, longs, deficit, paid, remaining, None, None))
            return
        if longs:
            self.bad_debt_longs[m] = self.bad_debt_longs[m] + remaining
        else:
            self.bad_debt_shorts[m] = self.bad_debt_shorts[m] + remaining
        # A refused charge, or a contracts queue with nothing of the side queued: final.
        out.deficits.append(
            (m, longs, deficit, paid, remaining, None, self._finalize_if_final(m, longs))
        )

    def _socialize(self, m: int, loss: Any) -> Any:
        """``_socialize``: the loss charged to market ``m``'s open interest (``charged``, WAD),
        or None when refused (no open interest, or a charge above the last mark)."""
        oi = self.long_oi[m] + self.short_oi[m]
        if oi == 0:
            return None
        per_unit = mul_div_up(self.conv([loss]), WAD, self.conv([oi]))[0]
        if per_unit > self.last_mark[m]:
            return None
        self.long_index[m] = self.long_index[m] + per_unit
        self.short_index[m] = self.short_index[m] + per_unit
        self.version += 1
        self.socialized[m] = self.socialized[m] + loss
        return mul_div_up(self.conv([oi]), self.conv([per_unit]), WAD)[0]
