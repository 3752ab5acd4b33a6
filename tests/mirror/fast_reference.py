"""The fast mode's venue calls in plain Python as they were before their kernels
(:mod:`simulator.mirror.sim.jit_calls`, session 25): ``TradesMixin._trade_fast`` /
``_check_after_trade_fast`` and ``LiquidationsMixin._liquidate_fast`` /
``_liquidate_isolated_fast``, verbatim, as the reference the kernels are held to bit for bit
(``test_mirror_jit_calls.py``). :class:`ReferenceCalls` is mixed into a subclass of
:class:`~simulator.mirror.sim.venue.VenueState` (:func:`reference_state`)."""

from __future__ import annotations

from dataclasses import fields

from simulator.mirror.fixed import BPS, UNIT, WAD
from simulator.mirror.sim import scalar
from simulator.mirror.sim.calls import Liquidation, Reverted, error_text
from simulator.mirror.sim.venue import VenueState


class ReferenceCalls:
    """The four fast-mode methods as they were (the mixins' kernels' reference)."""

    def _trade_fast(
        self, a: int, m: int, delta: float, isolated: bool, margin_delta: float,
        acceptable: float = 0.0,
    ):  # fmt: skip
        """:meth:`trade` in plain floats (fast mode): ``_checkAfterTrade`` runs on the values
        after the trade before any is stored, so a revert changes nothing; then market ``m``'s
        accrual, open interest and the account's row are written in place."""
        self.fresh(m)  # what ``trade`` called before it until session 25
        p = self.scalar_params[m]
        size0, entry0 = float(self.size[a, m]), float(self.entry[a, m])
        adds_risk = self._trade_checks(a, m, size0, delta, isolated)
        now_state, lis, sis = self.funding_rows()[:3]
        li, si = lis[m], sis[m]
        paid = scalar.owed(size0, float(self.snapshot[a, m]), li, si)
        collateral, margin = float(self.collateral[a]), float(self.margin[a, m])
        if isolated:
            margin -= paid
        else:
            collateral -= paid
        if margin_delta > 0:
            if self._below(collateral, margin_delta):
                raise Reverted(error_text("InsufficientBalance", available=collateral,
                                          requested=margin_delta))  # fmt: skip
            collateral, margin = collateral - margin_delta, margin + margin_delta
        long_before, short_before = float(self.long_oi[m]), float(self.short_oi[m])
        price = float(self.price[m])
        fill = scalar.fill_price(p, price, long_before - short_before, delta)
        if fill == 0:
            raise Reverted(error_text("InvalidFillPrice", market=m + 1, sizeDelta=delta))
        self._check_price_limit(delta, fill, acceptable)
        size1, entry1, realized = scalar.apply_fill(size0, entry0, delta, fill)
        if isolated:
            margin += realized
        else:
            collateral += realized
        long_oi = long_before - size0 if size0 > 0 else long_before
        short_oi = short_before + size0 if size0 <= 0 else short_before
        long_oi = long_oi + size1 if size1 > 0 else long_oi
        short_oi = short_oi - size1 if size1 <= 0 else short_oi
        if long_oi > long_before and long_oi > self.max_long_oi[m]:
            raise Reverted(error_text("OpenInterestCapExceeded", market=m + 1, long=True,
                                      openInterest=long_oi, cap=self.max_long_oi[m]))  # fmt: skip
        if short_oi > short_before and short_oi > self.max_short_oi[m]:
            raise Reverted(error_text("OpenInterestCapExceeded", market=m + 1, long=False,
                                      openInterest=short_oi, cap=self.max_short_oi[m]))  # fmt: skip
        fee = (abs(delta) * fill / WAD) * p.taker_fee_bps / BPS
        if isolated:
            margin -= fee
        else:
            collateral -= fee
        partial_at = int(self.partial_at[a, m])
        if size1 == 0:
            partial_at = 0
            if isolated:
                if self._below(margin, 0):
                    raise Reverted(error_text("InsufficientMargin", equity=margin, required=0))
                collateral, margin = collateral + margin, 0.0
        # an open interest within 1e-12 of its value before is the float residue of a side
        # emptied (exactly 0 on chain and in exact mode): 0 (as _snap_oi)
        long_oi = 0.0 if abs(long_oi) <= 1e-12 * abs(long_before) else long_oi
        short_oi = 0.0 if abs(short_oi) <= 1e-12 * abs(short_before) else short_oi
        snapshot = li if size1 >= 0 else si
        # The checks on the state after the trade, then its effects (a revert changes nothing).
        partial_at = self._check_after_trade_fast(
            a, m, adds_risk, isolated, margin_delta, lis, sis,
            (size1, entry1, snapshot, margin, collateral, partial_at, long_oi, short_oi),
        )  # fmt: skip
        self._accrue_one(m, now_state)
        self.size[a, m], self.entry[a, m], self.snapshot[a, m] = size1, entry1, snapshot
        self.margin[a, m], self.isolated[a, m] = margin, isolated
        self.partial_at[a, m] = partial_at
        self.collateral[a] = collateral
        self.long_oi[m], self.short_oi[m] = long_oi, short_oi
        self.version += 1
        self._keep_funding(now_state, lis, sis)
        self._track_open(a, m, size0, size1)
        self.pool = self.pool + paid - realized
        if fee != 0:
            self.fees[m] = self.fees[m] + fee
            share = float(self.markets.insurance_fee_share_bps[m])
            self.fund = self.fund + self._whole_units(fee * share / BPS)
        return {"fill": fill, "new_size": size1, "entry": entry1, "realized": realized,
                "fee": fee, "funding": paid}  # fmt: skip

    def _check_after_trade_fast(self, a, m, adds_risk, isolated, margin_delta, li, si,
                                after) -> int:  # fmt: skip
        """``_checkAfterTrade`` in plain floats on the state after the trade, before it is
        stored: ``after`` is the position's (size, entry, funding snapshot, isolated margin),
        the cross collateral, the partial-liquidation mark and market ``m``'s long and short
        open interest after it; ``li`` / ``si`` every market's funding indices at now (float
        lists). Returns the position's partial-liquidation mark (cleared when healthy);
        raises :class:`Reverted` as the contract."""
        size, entry1, snapshot1, margin, collateral, partial_at, long_m, short_m = after
        ps = self.scalar_params
        sizes, entries = self.size[a].tolist(), self.entry[a].tolist()
        snaps, iso = self.snapshot[a].tolist(), self.isolated[a].tolist()
        sizes[m], entries[m], snaps[m], iso[m] = size, entry1, snapshot1, isolated
        prices = self.price.tolist()
        price = prices[m]
        if isolated and size != 0:
            value = scalar.upnl(size, entry1, price) - scalar.owed(size, snapshot1, li[m], si[m])
            eq = margin + value
            need = 0.0
            if adds_risk or margin_delta < 0:
                need = scalar.initial(ps[m], size, price, long_m, short_m)
            if self._below(eq, need):
                raise Reverted(error_text("InsufficientMargin", equity=eq, required=need))
            if partial_at != 0 and not eq < scalar.maintenance(ps[m], size, price):
                partial_at = 0
        order = self.open_order[a] if self.open_order is not None else ()
        if order:  # fresh_cross: each cross position's price, in _open order
            now, updated, ages = self.now, self.updated_at.tolist(), self.max_age_s.tolist()
            for j in order:
                if sizes[j] != 0 and not iso[j] and now - updated[j] > ages[j]:
                    self.fresh(j)  # raises StalePrice
        need_initial = (not isolated and adds_risk) or (isolated and margin_delta > 0)
        check = not isolated or margin_delta > 0
        mark = not isolated and size != 0 and partial_at != 0
        if not (check or mark):
            return partial_at
        ceq, cmm, cim = collateral, 0.0, 0.0
        long_oi = short_oi = None
        for j in range(len(sizes)):
            sj = sizes[j]
            if sj == 0 or iso[j]:
                continue
            pj = prices[j]
            ceq += scalar.upnl(sj, entries[j], pj) - scalar.owed(sj, snaps[j], li[j], si[j])
            if mark:
                cmm += scalar.maintenance(ps[j], sj, pj)
            if need_initial:
                if long_oi is None:
                    long_oi, short_oi = self.long_oi.tolist(), self.short_oi.tolist()
                    long_oi[m], short_oi[m] = long_m, short_m
                cim += scalar.initial(ps[j], sj, pj, long_oi[j], short_oi[j])
        required = cim if need_initial else 0.0
        if check and self._below(ceq, required):
            raise Reverted(error_text("InsufficientMargin", equity=ceq, required=required))
        if mark and not ceq < cmm:
            partial_at = 0
        return partial_at

    def _liquidate_fast(self, a: int, slots: list[int]) -> Liquidation:
        state, li, si = self.funding_rows()[:3]
        n = self.n_markets
        size0, entry0 = self.size[a].tolist(), self.entry[a].tolist()
        snapshot0, iso = self.snapshot[a].tolist(), self.isolated[a].tolist()
        cross = [size0[j] != 0 and not iso[j] for j in range(n)]
        used = self._rate_used()
        got = scalar.liquidate_cross(
            self.scalar_params, size0, entry0, snapshot0, cross, float(self.collateral[a]),
            self.price.tolist(), (self.long_oi - self.short_oi).tolist(), li, si,
            float(self.fund), float(self.now), self.partial_at[a].astype(float).tolist(),
            (self.last_liquidation_block[a] == self.block).tolist(), used.tolist(),
        )  # fmt: skip
        if got.error is not None:
            name, eq, mm = got.error
            if name == "NoPosition":
                raise Reverted(error_text("NoPosition", account=self.address(a), market=0))
            raise Reverted(error_text(name, account=self.address(a), equity=eq,
                                      maintenanceMargin=mm))  # fmt: skip
        for j in range(n):
            if cross[j]:
                self._accrue_one(j, state)
        owed = sum(scalar.owed(size0[j], snapshot0[j], li[j], si[j])
                   for j in range(n) if cross[j])  # fmt: skip
        self.pool = self.pool + owed - sum(got.realized[j] for j in got.order)
        out = Liquidation(account=a, isolated=False)
        for j in got.order:
            old, new = size0[j], got.size[j]
            self._move_oi(j, old, new, a)
            self._use_rate(j, got.closed[j])
            self.penalties[j] = self.penalties[j] + got.penalty[j]
            self.fund = self.fund + self._whole_units(got.insurance[j])
            self.partial_at[a, j] = 0 if got.full[j] else self.now
            self.last_liquidation_block[a, j] = self.block
            out.markets.append(j)
            out.closed.append(got.closed[j] if old > 0 else -got.closed[j])
            out.fill.append(got.fill[j])
            out.penalty.append(got.penalty[j])
            out.full.append(got.full[j])
        for j in range(n):
            if cross[j]:
                self.size[a, j], self.entry[a, j] = got.size[j], got.entry[j]
                self.snapshot[a, j] = li[j] if size0[j] >= 0 else si[j]
        self.collateral[a] = got.collateral
        self._keep_funding(state, li, si)  # the markets it moved are accrued to now
        if got.deficit != 0:
            self.fund = self.fund - got.paid
            self.pool = self.pool - got.deficit + got.paid
            for j in [j for j in slots if cross[j]]:  # the account's markets in _open order
                share, paid = got.shares.get(j, (0.0, 0.0))
                if cross[j] and share != 0:
                    self._absorb(out, j, size0[j] > 0, share, paid, got.closed.get(j, 0.0),
                                 got.fill.get(j, 0.0))  # fmt: skip
        return out

    def _liquidate_isolated_fast(self, a: int, m: int) -> Liquidation:
        state, lis, sis = self.funding_rows()[:3]
        p = self.scalar_params[m]
        size, entry = float(self.size[a, m]), float(self.entry[a, m])
        account = self.address(a)
        if size == 0:
            raise Reverted(error_text("NoPosition", account=account, market=m + 1))
        if not self.isolated[a, m]:
            raise Reverted(error_text("WrongMarginMode", market=m + 1, isolated=False))
        price = float(self.price[m])
        li, si = lis[m], sis[m]
        owed = scalar.owed(size, float(self.snapshot[a, m]), li, si)
        margin = float(self.margin[a, m]) - owed
        eq = margin + scalar.upnl(size, entry, price)
        mm = scalar.maintenance(p, size, price)
        if not eq < mm:
            raise Reverted(error_text("NotLiquidatable", account=account, equity=eq,
                                      maintenanceMargin=mm))  # fmt: skip
        used = float(self.rate_used[m]) if self.rate_block[m] == self.block else 0.0
        close = scalar.close_size(p, size, price, float(self.partial_at[a, m]), float(self.now),
                                  bool(self.last_liquidation_block[a, m] == self.block),
                                  used)  # fmt: skip
        if not close > 0:
            raise Reverted(error_text("NothingLiquidatableNow", account=account, equity=eq,
                                      maintenanceMargin=mm))  # fmt: skip
        delta = -close if size > 0 else close
        skew = float(self.long_oi[m] - self.short_oi[m])
        fill = scalar.liquidation_fill(p, price, skew, delta)
        new, entry1, realized = scalar.apply_fill(size, entry, delta, fill)
        margin += realized
        penalty = (close * fill / WAD) * p.penalty_bps / BPS
        left = margin + scalar.upnl(new, entry1, price)
        penalty = 0.0 if left <= 0 else (left if penalty > left else penalty)
        margin -= penalty
        insurance = penalty - penalty * p.keeper_share_bps / BPS
        released = margin if new == 0 and margin >= 0 else 0.0
        # a deficit below a collateral unit is the float residue of an exact 0
        deficit = -margin if new == 0 and margin < -UNIT else 0.0
        margin = 0.0 if new == 0 else margin
        paid = min(scalar.units_up(deficit), float(self.fund))
        full = close == abs(size)
        self._accrue_one(m, state)
        self.pool = self.pool + owed - realized
        self._move_oi(m, size, new, a)
        self._use_rate(m, close)
        self.penalties[m] = self.penalties[m] + penalty
        self.fund = self.fund + self._whole_units(insurance)
        out = Liquidation(account=a, isolated=True, markets=[m],
                          closed=[close if size > 0 else -close], fill=[fill],
                          penalty=[penalty], full=[full])  # fmt: skip
        self.size[a, m], self.entry[a, m] = new, entry1
        self.snapshot[a, m] = li if new >= 0 else si
        self.margin[a, m] = margin
        self.collateral[a] = self.collateral[a] + released
        self.partial_at[a, m] = 0 if full else self.now
        self.last_liquidation_block[a, m] = self.block
        if new == 0:
            self.isolated[a, m] = False
        self._keep_funding(state, lis, sis)  # market m is accrued to now
        if deficit != 0:
            self.fund = self.fund - paid
            self.pool = self.pool - deficit + paid
            self._absorb(out, m, size > 0, deficit, paid, close, fill)
        return out


class ReferenceVenue(ReferenceCalls, VenueState):
    """A :class:`VenueState` whose fast-mode calls are the Python reference."""


def reference_state(venue: VenueState) -> ReferenceVenue:
    """A copy of ``venue`` (arrays copied) that runs the reference calls."""
    copy = venue.copy()
    ref = ReferenceVenue(**{f.name: getattr(copy, f.name) for f in fields(copy)})
    ref.open_order = [list(o) for o in venue.open_order] if venue.open_order else None
    return ref
