"""The venue's trades on the mirror (``PerpVenue._trade`` and its ``_checkAfterTrade``): a
mixin of :class:`~simulator.mirror.sim.venue.VenueState` (exact mode through the kernels, fast
mode compiled, :func:`simulator.mirror.sim.jit_calls.trade`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from simulator.mirror import fills, funding, margins
from simulator.mirror.sim import jit_calls
from simulator.mirror.sim.calls import Reverted, error_text

_PYTHON_CHECKS: dict[tuple, np.ndarray] = {}
"""Per (``armed`` of :meth:`~simulator.mirror.sim.venue.VenueState.jit_buffers`, whether a
circuit breaker is wired): the ``python_checks`` of a venue without a guardian's pause (read
only; a handful of small arrays, keyed by values, not by a venue)."""


class TradesMixin:
    """``trade`` / ``tradeIsolated`` / ``closePosition`` on the venue's state."""

    def _trade_checks(self, a: int, m: int, size0: Any, delta: Any, isolated: bool) -> bool:
        """The venue's checks before a trade's accounting (either mode): the position's margin
        mode, and no new risk in a market the guardian paused or whose circuit breaker is
        tripped. Returns whether the trade adds
        risk (a larger position, or a flip)."""
        if size0 != 0 and bool(self.isolated[a, m]) != isolated:
            raise Reverted(error_text("WrongMarginMode", market=m + 1,
                                      isolated=bool(self.isolated[a, m])))  # fmt: skip
        new_size = size0 + delta
        adds_risk = abs(new_size) > abs(size0) or (new_size != 0 and (new_size > 0) != (size0 > 0))
        if adds_risk and self.risk_paused is not None and self.risk_paused[m]:
            raise Reverted(error_text("RiskPaused", market=m + 1))
        if adds_risk and self.breaker is not None:
            self.breaker.check(self, m)
        return adds_risk

    def trade(
        self, a: int, m: int, delta: Any, *, isolated: bool, margin_delta: Any = 0,
        acceptable: Any = 0,
    ) -> dict:  # fmt: skip
        """``_trade`` of ``delta`` (WAD base units, signed) in market ``m`` by account ``a``
        (``tradeIsolated`` with ``margin_delta`` moved into the isolated margin first): the
        ``PositionModified`` fields (``fill``, ``new_size``, ``entry``, ``realized``, ``fee``,
        ``funding``). Raises :class:`Reverted` (nothing changed) as the contract reverts.
        ``acceptable``: the call's ``acceptablePrice`` (WAD; 0 = no bound): a buy filling above
        it or a sell below it reverts ``PriceLimitExceeded``."""
        if not self.exact_mode:
            return self._trade_fast(a, m, float(delta), bool(isolated), float(margin_delta),
                                    float(acceptable))  # fmt: skip
        self.fresh(m)
        x = lambda v: self.conv([v])  # noqa: E731
        size0, entry0 = self.size[a, m], self.entry[a, m]
        adds_risk = self._trade_checks(a, m, size0, delta, isolated)
        now_state = self.funding()
        f_long, f_short = now_state.long_funding_index[m], now_state.short_funding_index[m]
        owed = funding.funding_owed(x(size0), x(self.snapshot[a, m]), x(f_long), x(f_short))[0]
        collateral = self.collateral[a]
        margin = self.margin[a, m]
        if isolated:
            margin = margin - owed
        else:
            collateral = collateral - owed
        if margin_delta > 0:
            if self._below(collateral, margin_delta):
                raise Reverted(error_text("InsufficientBalance", available=collateral,
                                          requested=margin_delta))  # fmt: skip
            collateral, margin = collateral - margin_delta, margin + margin_delta
        skew = self.long_oi[m] - self.short_oi[m]
        price = self.price[m]
        fill = fills.fill_price(x(price), x(skew), x(delta), x(self.markets.skew_scale[m]))[0]
        if fill == 0:
            raise Reverted(error_text("InvalidFillPrice", market=m + 1, sizeDelta=delta))
        self._check_price_limit(delta, fill, acceptable)
        size1, entry1, realized = (v[0] for v in fills.apply_fill(x(size0), x(entry0), x(delta),
                                                                   x(fill)))  # fmt: skip
        if isolated:
            margin = margin + realized
        else:
            collateral = collateral + realized
        long_oi, short_oi = self.long_oi[m], self.short_oi[m]
        long_before, short_before = long_oi, short_oi
        if size0 > 0:
            long_oi = long_oi - size0
        else:
            short_oi = short_oi + size0
        if size1 > 0:
            long_oi = long_oi + size1
        else:
            short_oi = short_oi - size1
        if long_oi > long_before and long_oi > self.max_long_oi[m]:
            raise Reverted(error_text("OpenInterestCapExceeded", market=m + 1, long=True,
                                      openInterest=long_oi, cap=self.max_long_oi[m]))  # fmt: skip
        if short_oi > short_before and short_oi > self.max_short_oi[m]:
            raise Reverted(error_text("OpenInterestCapExceeded", market=m + 1, long=False,
                                      openInterest=short_oi, cap=self.max_short_oi[m]))  # fmt: skip
        fee = fills.taker_fee(x(delta), x(fill), x(self.markets.taker_fee_bps[m]))[0]
        if isolated:
            margin = margin - fee
        else:
            collateral = collateral - fee
        partial_at = int(self.partial_at[a, m])
        if size1 == 0:
            partial_at = 0
            if isolated:
                if self._below(margin, 0):
                    raise Reverted(error_text("InsufficientMargin", equity=margin, required=0))
                collateral, margin = collateral + margin, margin * 0
        snapshot = f_long if size1 >= 0 else f_short
        # The trade's effects, then the checks on them (a revert undoes everything).
        saved = self._save(a, m)
        self.accrue(np.arange(self.n_markets) == m, now_state)
        self.size[a, m], self.entry[a, m], self.snapshot[a, m] = size1, entry1, snapshot
        self.margin[a, m], self.isolated[a, m] = margin, isolated
        self.partial_at[a, m] = partial_at
        self.collateral[a] = collateral
        self.long_oi[m], self.short_oi[m] = long_oi, short_oi
        self.version += 1
        try:
            self._check_after_trade(a, m, adds_risk, isolated, margin_delta)
        except Reverted:
            self._restore(saved)
            raise
        self._track_open(a, m, size0, size1)
        self.pool = self.pool + owed - realized
        sent, _ = fills.fee_split(x(fee), x(self.markets.insurance_fee_share_bps[m]))
        if fee != 0:
            self.fees[m] = self.fees[m] + fee
            self.fund = self.fund + self._whole_units(sent[0])
        return {"fill": fill, "new_size": size1, "entry": entry1, "realized": realized,
                "fee": fee, "funding": owed}  # fmt: skip

    @staticmethod
    def _check_price_limit(delta: Any, fill: Any, acceptable: Any) -> None:
        """The trade's price bound (``acceptablePrice``, 0 = none): checked on the fill before
        any accounting, as ``_trade`` does."""
        if acceptable and (fill > acceptable if delta > 0 else fill < acceptable):
            raise Reverted(error_text("PriceLimitExceeded", fillPrice=fill,
                                      acceptablePrice=acceptable))  # fmt: skip

    def _trade_fast(
        self, a: int, m: int, delta: float, isolated: bool, margin_delta: float,
        acceptable: float = 0.0,
    ):  # fmt: skip
        """:meth:`trade` in plain floats (fast mode), compiled (:func:`jit_calls.trade`): the
        accounting, ``_checkAfterTrade`` on the values after it, then (no revert) market
        ``m``'s accrual, open interest and fees and the account's row written in place; a
        revert changes nothing."""
        size0 = float(self.size[a, m])
        params, tiers, out, _, _, armed = self.jit_buffers()
        # the checks before the accounting: in the kernel unless a guardian's pause or a
        # breaker with a band in market m is wired (their checks are Python's)
        checks = self.risk_paused is None and (self.breaker is None or not armed[m])
        adds_risk = False
        if not checks:
            self.fresh(m)
            adds_risk = self._trade_checks(a, m, size0, delta, isolated)
        fn = self.funding_now()[1]
        order = self.open_order[a] if self.open_order is not None else ()
        check_stale = bool(order)
        while True:
            code = jit_calls.trade(
                a, m, delta, isolated, margin_delta, acceptable, checks, adds_risk, check_stale,
                int(self.now), int(self.block), params, tiers, self._market_floats,
                self._market_ints, self._position_floats, self._position_ints, self.isolated,
                self.collateral, fn, out,
            )  # fmt: skip
            if code != jit_calls.STALE_CROSS:
                break
            for j in order:  # fresh_cross: the first stale cross position in _open order
                if j != m and self.size[a, j] != 0 and not self.isolated[a, j]:
                    self.fresh(j)  # raises StalePrice
            check_stale = False  # none of the _open markets is stale: as the contract
        if code != jit_calls.OK:
            self._trade_reverted(code, a, m, delta, margin_delta, acceptable, out)
        fill, size1, entry1, realized, fee, paid, fund_add, _ = out.tolist()
        self.version += 1
        self.kept += 1  # the funding at now kept (VenueState.funding)
        self._track_open(a, m, size0, size1)
        self.pool = self.pool + paid - realized
        if fee != 0:
            self.fund = self.fund + fund_add
        return {"fill": fill, "new_size": size1, "entry": entry1, "realized": realized,
                "fee": fee, "funding": paid}  # fmt: skip

    def close_many(self, accounts: list[int], markets: list[int]) -> list:
        """``closePosition(market)`` by each ``accounts[i]`` in ``markets[i]``, in order, each
        as :meth:`trade` of the whole position in its margin mode would make it: per call the
        (size before, ``PositionModified`` fields: fill, new size, entry, realized, fee,
        funding), the :class:`Reverted` it raised (nothing changed), or None where the account
        had no position (the caller's ``NoPosition``). Fast mode runs the calls in compiled
        batches (:func:`jit_calls.close_batch`), stopping at a call that needs Python (a
        revert's text, a pause or a breaker's check), making it alone, and resuming after it;
        the account's ``_open`` order, the pool and the fund follow each call in order."""
        n = len(accounts)
        results: list = [None] * n
        if self.exact_mode or n == 0:
            for i in range(n):
                results[i] = self._close_one(accounts[i], markets[i])
            return results
        acc = np.array(accounts, dtype=np.int64)
        mkt = np.array(markets, dtype=np.int64)
        outs = np.empty((n, jit_calls.N_OUT))
        i = 0
        while i < n:
            params, tiers, _, _, _, armed = self.jit_buffers()
            python_checks = np.array([self.risk_paused is not None or
                                      (self.breaker is not None and b) for b in armed])  # fmt: skip
            fn = self.funding_now()[1]
            stop = jit_calls.close_batch(
                i, acc, mkt, python_checks, self.open_order is not None, int(self.now),
                int(self.block), params, tiers, self._market_floats, self._market_ints,
                self._position_floats, self._position_ints, self.isolated, self.collateral, fn,
                outs,
            )  # fmt: skip
            if stop > i:
                pool, fund = self.pool, self.fund
                for k, (fill, size1, entry1, realized, fee, paid, fund_add, size0) in enumerate(
                    outs[i:stop].tolist(), start=i
                ):  # fmt: skip
                    self._track_open(accounts[k], markets[k], size0, size1)
                    pool = pool + paid - realized
                    if fee != 0:
                        fund = fund + fund_add
                    results[k] = (size0, (fill, size1, entry1, realized, fee, paid))
                self.pool, self.fund = pool, fund
                self.version += stop - i
                self.kept += stop - i  # the funding at now kept
            if stop < n:
                results[stop] = self._close_one(accounts[stop], markets[stop])
            i = stop + 1
        return results

    def trade_batch(self, start: int, calls: np.ndarray, values: np.ndarray, outs: np.ndarray):
        """Fast mode: the planned ``trade`` / ``closePosition`` calls from call ``start`` on,
        compiled (:func:`jit_calls.trade_batch`: ``calls``, ``values`` and ``outs`` as it
        takes them) until one needs Python; the account's ``_open`` order, the pool and the
        fund then follow each call made, in order, as after :meth:`trade`. Returns the index
        of the first call not made (``len(calls)``: all made), the caller's to make alone,
        and the ``outs`` rows of the calls made (lists of floats)."""
        params, tiers, _, _, _, armed = self.jit_buffers()
        fn = self.funding_now()[1]
        stop = jit_calls.trade_batch(
            start, calls, values, self._python_checks(armed), int(self.now), int(self.block),
            params, tiers, self._market_floats, self._market_ints, self._position_floats,
            self._position_ints, self.isolated, self.collateral, fn, outs,
        )  # fmt: skip
        if stop == start:
            return stop, []
        made = outs[start:stop].tolist()
        pool, fund = self.pool, self.fund
        opened = self.open_order
        for (a, m, _), out in zip(calls[start:stop].tolist(), made, strict=True):
            size0, size1 = out[jit_calls.T_SIZE0], out[jit_calls.T_SIZE]
            if opened is None or (size0 == 0) != (size1 == 0):  # opened or closed
                self._track_open(a, m, size0, size1)
                opened = self.open_order
            pool = pool + out[jit_calls.T_FUNDING] - out[jit_calls.T_REALIZED]
            if out[jit_calls.T_FEE] != 0:
                fund = fund + out[jit_calls.T_FUND_ADD]
        self.pool, self.fund = pool, fund
        self.version += stop - start
        self.kept += stop - start  # the funding at now kept
        return stop, made

    def _batch_inputs(self) -> tuple:
        """What a compiled batch takes of the venue besides its arrays: the packed parameters
        (:meth:`~simulator.mirror.sim.venue.VenueState.jit_buffers`' cache, repacked only when
        the parameters changed), the Python-side checks armed and the funding at now
        (:meth:`funding_now`'s, recomputed only when stale): the cache checks inlined, a call
        only when one is stale."""
        cache = self._jit_cache
        if cache is None or cache[0] is not self.scalar_params:
            self.jit_buffers()
            cache = self._jit_cache
        armed = cache[6]
        key = (armed, self.breaker is not None)
        if self.risk_paused is None and key in _PYTHON_CHECKS:
            python_checks = _PYTHON_CHECKS[key]
        else:
            python_checks = self._python_checks(armed)
        fc = self._funding_cache
        if fc is None or fc[0] != self.version - self.kept or fc[1] != self.now:
            return cache, python_checks, self.funding_now()[1]
        return cache, python_checks, fc[5]

    def trade_batch_moves(
        self, start: int, calls: np.ndarray, values: np.ndarray, outs: np.ndarray,
        moves: np.ndarray, acc: np.ndarray,
    ) -> int:  # fmt: skip
        """Fast mode: :meth:`trade_batch` with the pool, the fund and each call's ``_open``
        move computed in the compiled call (:func:`jit_calls.trade_batch_moves`, ``moves`` and
        ``acc`` its scratch: a row per call, two floats) and followed here from its arrays, as
        :meth:`flow_step` does: no list of the calls made. Returns the index of the first call
        not made (``len(calls)``: all made), the caller's to make alone; the calls made's
        results are ``outs[start:stop]``. :meth:`~simulator.mirror.sim.venue.VenueState.
        jit_buffers`' and :meth:`funding_now`'s cache checks in :meth:`_batch_inputs`."""
        cache, python_checks, fn = self._batch_inputs()
        pool, fund = self.pool, self.fund
        acc[0], acc[1] = pool, fund
        stop = jit_calls.trade_batch_moves(
            start, calls, values, python_checks, int(self.now), int(self.block), cache[1],
            cache[2], self._market_floats, self._market_ints, self._position_floats,
            self._position_ints, self.isolated, self.collateral, fn, outs, moves, acc,
        )  # fmt: skip
        if stop <= start:
            return stop
        pool1, fund1 = float(acc[0]), float(acc[1])
        self.pool = pool1 if type(pool) is float else type(pool)(pool1)
        self.fund = fund1 if type(fund) is float else type(fund)(fund1)
        self._follow_moves(moves[start:stop].tolist())
        self.version += stop - start
        self.kept += stop - start  # the funding at now kept
        return stop

    def _follow_moves(self, moves: list) -> None:
        """The account's ``_open`` order after each call of ``moves`` (rows of
        :func:`jit_calls.trade_batch_moves`' ``moves`` as lists: account, market, opened),
        in order, as :meth:`_track_open` of each (the order made at the first call)."""
        order_of = self.open_order
        if order_of is None:
            order_of = self.open_order = [[] for _ in range(len(self.collateral))]
        for a, m, opened in moves:
            if opened > 0:
                order_of[a].append(m)
            elif opened < 0:
                order = order_of[a]
                if order and order[-1] == m:  # the last, moved into its own place
                    del order[-1]
                elif m in order:
                    order[order.index(m)] = order[-1]
                    del order[-1]

    def flow_step(
        self, init: bool, start: int, n_close: int, close_slots: np.ndarray,
        open_slots: np.ndarray, open_side: np.ndarray, open_size: np.ndarray,
        slot_tab: np.ndarray, slots: np.ndarray, deltas: np.ndarray, outs: np.ndarray,
        ok: np.ndarray, moves: np.ndarray, acc: np.ndarray,
    ) -> int:  # fmt: skip
        """Fast mode: the order flow's block (its closes, then its opens, by slot) from call
        ``start`` on, compiled (:func:`jit_calls.flow_step`: the arguments as it takes them;
        ``init``: the block's tables written first) until a call needs Python; the account's
        ``_open`` order, the pool and the fund then follow each call made, in order, as after
        :meth:`trade_batch`; the venue's inputs from :meth:`_batch_inputs` (a call only when a
        cache is stale). Returns the kernel's: -1 when an open's
        delta is left to the caller (nothing made), else the index of the first call not made
        (the block's length: all made), the caller's to make alone."""
        cache, python_checks, fn = self._batch_inputs()
        acc[0], acc[1] = self.pool, self.fund
        stop = jit_calls.flow_step(
            init, start, n_close, close_slots, open_slots, open_side, open_size, slot_tab,
            python_checks, int(self.now), int(self.block), cache[1], cache[2],
            self._market_floats, self._market_ints, self._position_floats,
            self._position_ints, self.isolated, self.collateral, fn, slots, deltas, outs, ok,
            moves, acc,
        )  # fmt: skip
        if stop <= start:
            return stop
        pool, fund = float(acc[0]), float(acc[1])
        self.pool = pool if type(self.pool) is float else type(self.pool)(pool)
        self.fund = fund if type(self.fund) is float else type(self.fund)(fund)
        order_of = self.open_order
        if order_of is None:
            self._track_moves(moves[start:stop], outs[start:stop])
        else:  # _track_open of each call made, in order
            for a, m, opened in moves[start:stop].tolist():
                if opened > 0:
                    if order_of[a]:
                        order_of[a].append(m)
                    else:  # a new list (no reader keeps an account's list: they copy it)
                        order_of[a] = [m]
                elif opened < 0:
                    order = order_of[a]
                    if order and order[-1] == m:  # the last, moved into its own place
                        del order[-1]
                    elif m in order:
                        order[order.index(m)] = order[-1]
                        del order[-1]
        self.version += stop - start
        self.kept += stop - start  # the funding at now kept
        return stop

    def _track_moves(self, moves: np.ndarray, outs: np.ndarray) -> None:
        """:meth:`_track_open` of each call made by :func:`jit_calls.flow_step` (``moves``
        and ``outs``: their rows), in order (what :meth:`flow_step` does with the lists
        themselves once the ``_open`` order is built)."""
        for (a, m, _), out in zip(moves.tolist(), outs.tolist(), strict=True):
            self._track_open(a, m, out[jit_calls.T_SIZE0], out[jit_calls.T_SIZE])

    def _python_checks(self, armed: tuple) -> np.ndarray:
        """Per market: whether a trade's checks before its accounting are Python's (a
        guardian's pause wired, or a circuit breaker with a band in the market), the compiled
        batches' ``python_checks``. Without a pause they depend on ``armed`` and whether a
        breaker is wired alone: one shared array per case (:data:`_PYTHON_CHECKS`, which the
        kernels only read)."""
        if self.risk_paused is None:
            key = (armed, self.breaker is not None)
            got = _PYTHON_CHECKS.get(key)
            if got is None:
                got = _PYTHON_CHECKS[key] = np.array([key[1] and b for b in armed], dtype=bool)
            return got
        return np.array([self.risk_paused is not None or (self.breaker is not None and b)
                         for b in armed], dtype=bool)  # fmt: skip

    def _close_one(self, a: int, m: int):
        """One call of :meth:`close_many` through :meth:`trade`."""
        size = self.size[a, m]
        if size == 0:
            return None
        try:
            got = self.trade(a, m, -size, isolated=bool(self.isolated[a, m]))
        except Reverted as exc:
            return exc
        return size, (got["fill"], got["new_size"], got["entry"], got["realized"], got["fee"],
                      got["funding"])  # fmt: skip

    def _trade_reverted(self, code, a, m, delta, margin_delta, acceptable, out) -> None:
        """Raise the :class:`Reverted` of a fast trade's error ``code`` (its values in
        ``out``, :mod:`~simulator.mirror.sim.jit_calls`)."""
        if code == jit_calls.STALE_PRICE:
            self.fresh(m)  # raises StalePrice
        if code == jit_calls.WRONG_MARGIN_MODE:
            raise Reverted(error_text("WrongMarginMode", market=m + 1,
                                      isolated=bool(self.isolated[a, m])))  # fmt: skip
        x, y = out.tolist()[:2]
        name = jit_calls.ERRORS[code]
        if code == jit_calls.INSUFFICIENT_BALANCE:
            raise Reverted(error_text(name, available=x, requested=margin_delta))
        if code == jit_calls.INVALID_FILL_PRICE:
            raise Reverted(error_text(name, market=m + 1, sizeDelta=delta))
        if code == jit_calls.PRICE_LIMIT_EXCEEDED:
            raise Reverted(error_text(name, fillPrice=x, acceptablePrice=acceptable))
        if code in (jit_calls.OI_CAP_LONG, jit_calls.OI_CAP_SHORT):
            long = code == jit_calls.OI_CAP_LONG
            cap = self.max_long_oi[m] if long else self.max_short_oi[m]
            raise Reverted(error_text(name, market=m + 1, long=long, openInterest=x, cap=cap))
        if code == jit_calls.CLOSE_MARGIN:
            raise Reverted(error_text(name, equity=x, required=0))
        raise Reverted(error_text(name, equity=x, required=y))  # INSUFFICIENT_MARGIN

    def _check_after_trade(self, a: int, m: int, adds_risk: bool, isolated: bool, margin_delta):
        x = lambda v: self.conv([v])  # noqa: E731
        f = self.funding()
        size = self.size[a, m]
        if isolated and size != 0:
            eq, mm = self.isolated_health(np.array([a]), np.array([m]), f)
            need = 0
            if adds_risk or margin_delta < 0:
                sub = replace(f, long_open_interest=x(self.long_oi[m]),
                              short_open_interest=x(self.short_oi[m]))  # fmt: skip
                need = margins.initial_margin(x(size), x(self.price[m]), self.markets.take(
                    np.array([m])), sub)[0]  # fmt: skip
            if self._below(eq[0], need):
                raise Reverted(error_text("InsufficientMargin", equity=eq[0], required=need))
            if self.partial_at[a, m] != 0 and not bool(eq[0] < mm[0]):
                self.partial_at[a, m] = 0
        self.fresh_cross(a)
        ceq, cmm, cim = self.cross_health(np.array([a]), f)
        required = cim[0] if (not isolated and adds_risk) or (isolated and margin_delta > 0) else 0
        if (not isolated or margin_delta > 0) and self._below(ceq[0], required):
            raise Reverted(error_text("InsufficientMargin", equity=ceq[0], required=required))
        if not isolated and size != 0 and self.partial_at[a, m] != 0 and not bool(ceq[0] < cmm[0]):
            self.partial_at[a, m] = 0

    _SAVED = ("long_index", "short_index", "rate", "last_funding_time", "last_mark",
              "previous_mark", "last_mark_block", "long_oi", "short_oi")  # fmt: skip

    def _save(self, a: int, m: int) -> dict:
        out = {k: getattr(self, k).copy() for k in self._SAVED}
        out["account"] = (a, m, self.size[a, m], self.entry[a, m], self.snapshot[a, m],
                          self.margin[a, m], self.isolated[a, m], self.partial_at[a, m],
                          self.collateral[a])  # fmt: skip
        return out

    def _restore(self, saved: dict) -> None:
        for k in self._SAVED:
            setattr(self, k, saved[k])
        self.version += 1
        a, m, size, entry, snap, margin, iso, partial, col = saved["account"]
        self.size[a, m], self.entry[a, m], self.snapshot[a, m] = size, entry, snap
        self.margin[a, m], self.isolated[a, m], self.partial_at[a, m] = margin, iso, partial
        self.collateral[a] = col
