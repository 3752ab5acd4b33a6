"""Fast mode's one-account calls in plain Python floats: the same formulas as the vectorized
kernels' fast mode (:mod:`simulator.mirror.margins`, :mod:`~simulator.mirror.fills`,
:mod:`~simulator.mirror.funding`, :mod:`~simulator.mirror.liquidation`), term by term and in
the same order, for one trade or one liquidation at a time, where numpy's per-call overhead on
arrays of one account was most of a run's time (a liquidation ~1.5 ms through the kernels,
~50 µs here). Exact mode always goes through the kernels; ``tests/mirror/test_mirror_engine.py``
holds fast mode's decisions and amounts to exact mode's. Since session 25 a fast trade and a
fast liquidation run compiled (:mod:`~simulator.mirror.sim.jit_calls`, these formulas in numba,
held to them bit for bit by ``tests/mirror/test_mirror_jit_calls.py``); the views
(``cross_health`` of a few accounts, ``mark``) still run here; the funding at now of every
market is one compiled call since session 28 (:func:`funding_rows`, :func:`funding_now`'s
operations in its order).

A market is a :class:`Params` (its parameters as floats, WAD; tiers as lists). Values are WAD
floats, sizes signed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from simulator.jit import kernel as _jit
from simulator.mirror.fixed import BPS, DAY, UNIT, WAD
from simulator.mirror.markets import MarketArrays


@dataclass(frozen=True)
class Params:
    """One market's parameters the calls read (floats; tiers as lists, padding removed)."""

    max_leverage: float
    mmf: float
    oi_lower: float
    oi_upper: float
    skew_scale: float
    taker_fee_bps: float
    penalty_bps: float
    keeper_share_bps: float
    partial_threshold: float
    partial_share_bps: float
    cooldown: float
    full_after_cooldown: bool
    cap: float
    band_bps: float
    scale: float
    floors: tuple[float, ...]
    imfs: tuple[float, ...]
    mmfs: tuple[float, ...]
    mm_tiers: tuple = ()
    """:func:`tiers_of` the maintenance fraction (precomputed by :func:`params_of`)."""
    im_tiers: tuple = ()
    """:func:`tiers_of` the initial fraction ``1/maxLeverage``."""


def params_of(markets: MarketArrays) -> list[Params]:
    """Every market's :class:`Params` (fast-mode arrays)."""
    out = []
    for m in range(markets.count):
        floors = [float(f) for f in markets.tier_floor[m]]
        keep = [i for i, f in enumerate(floors) if f != float("inf")]
        p = Params(
            max_leverage=float(markets.max_leverage[m]),
            mmf=float(markets.maintenance_margin_fraction[m]),
            oi_lower=float(markets.oi_imf_lower_cap[m]),
            oi_upper=float(markets.oi_imf_upper_cap[m]),
            skew_scale=float(markets.skew_scale[m]),
            taker_fee_bps=float(markets.taker_fee_bps[m]),
            penalty_bps=float(markets.liquidation_penalty_bps[m]),
            keeper_share_bps=float(markets.keeper_share_bps[m]),
            partial_threshold=float(markets.partial_liquidation_threshold[m]),
            partial_share_bps=float(markets.partial_liquidation_share_bps[m]),
            cooldown=float(markets.liquidation_cooldown[m]),
            full_after_cooldown=bool(markets.full_liquidation_after_cooldown[m]),
            cap=float(markets.max_liquidation_notional_per_block[m]),
            band_bps=float(markets.max_liquidation_impact_bps[m]),
            scale=float(markets.margin_scale[m]),
            floors=tuple(floors[i] for i in keep),
            imfs=tuple(float(markets.tier_imf[m, i]) for i in keep),
            mmfs=tuple(float(markets.tier_mmf[m, i]) for i in keep),
        )  # fmt: skip
        out.append(replace(
            p, mm_tiers=tiers_of(p.mmf, p.floors, p.mmfs, p.scale),
            im_tiers=tiers_of(WAD * WAD / p.max_leverage, p.floors, p.imfs, p.scale),
        ))  # fmt: skip
    return out


def units_up(wad: float) -> float:
    """``wadToUnitsUp``: up to whole collateral units (the fund pays whole units)."""
    return math.ceil(wad / UNIT) * float(UNIT)


def _scaled(rate: float, scale: float) -> float:
    r = rate * scale / WAD
    return WAD if r > WAD else r


def requirement(n: float, base_rate: float, floors, rates, scale: float) -> float:
    """:func:`simulator.mirror.margins.requirement` of one notional."""
    base = _scaled(base_rate, scale)
    rate, deduction = base, 0.0
    for floor, tier_rate in zip(floors, rates, strict=True):
        if n < floor:
            break
        nxt = max(_scaled(tier_rate, scale), base)
        if nxt > rate:
            deduction += floor * (nxt - rate) / WAD
        rate = nxt
    gross = n * rate / WAD
    return gross - deduction if gross > deduction else 0.0


def tiers_of(base_rate: float, floors, rates, scale: float) -> tuple:
    """:func:`requirement`'s walk over the tiers done once for a market: (the scaled base
    rate, per tier (its floor, the rate and the deduction after it)); the rate and deduction
    of a notional are those of the last tier whose floor it reaches (:func:`tiered`)."""
    base = _scaled(base_rate, scale)
    rate, deduction, steps = base, 0.0, []
    for floor, tier_rate in zip(floors, rates, strict=True):
        nxt = max(_scaled(tier_rate, scale), base)
        if nxt > rate:
            deduction += floor * (nxt - rate) / WAD
        rate = nxt
        steps.append((floor, rate, deduction))
    return base, tuple(steps)


def tiered(n: float, tiers: tuple) -> float:
    """:func:`requirement` of notional ``n`` from the market's :func:`tiers_of` (the same
    operations in the same order)."""
    rate, steps = tiers
    deduction = 0.0
    for floor, tier_rate, tier_deduction in steps:
        if n < floor:
            break
        rate, deduction = tier_rate, tier_deduction
    gross = n * rate / WAD
    return gross - deduction if gross > deduction else 0.0


def maintenance(p: Params, size: float, price: float) -> float:
    if size == 0:
        return 0.0
    return tiered(abs(size) * price / WAD, p.mm_tiers)


def initial(p: Params, size: float, price: float, long_oi: float, short_oi: float) -> float:
    if size == 0:
        return 0.0
    n = abs(size) * price / WAD
    im = tiered(n, p.im_tiers)
    open_n = max(long_oi, short_oi) * price / WAD
    if p.oi_upper == 0 or open_n <= p.oi_lower or n <= im:
        return im
    if open_n >= p.oi_upper:
        return n
    t = (open_n - p.oi_lower) * WAD / (p.oi_upper - p.oi_lower)
    return im + (n - im) * t / WAD


def upnl(size: float, entry: float, price: float) -> float:
    if size == 0:
        return 0.0
    move = price - entry
    return (move if size > 0 else -move) * abs(size) / WAD


def owed(size: float, snapshot: float, long_index: float, short_index: float) -> float:
    if size == 0:
        return 0.0
    return ((long_index if size > 0 else short_index) - snapshot) * abs(size) / WAD


def apply_fill(size: float, entry: float, delta: float, fill: float):
    """:func:`simulator.mirror.fills.apply_fill`: (new size, new entry, realized)."""
    new = size + delta
    if size == 0 or (size > 0) == (delta > 0):
        a, b = abs(size), abs(delta)
        return new, (fill if size == 0 else (entry * a + fill * b) / (a + b)), 0.0
    closing = min(abs(delta), abs(size))
    move = fill - entry
    realized = (move if size > 0 else -move) * closing / WAD
    if new == 0:
        return new, 0.0, realized
    return new, (entry if (new > 0) == (size > 0) else fill), realized


def fill_price(p: Params, price: float, skew: float, delta: float) -> float:
    if p.skew_scale == 0:
        return price
    f = price + (2 * skew + delta) * price / (2 * p.skew_scale)
    return f if f > 0 else 0.0


def liquidation_fill(p: Params, price: float, skew: float, delta: float) -> float:
    f = fill_price(p, price, skew, delta)
    lo = price * (BPS - min(p.band_bps, BPS)) / BPS
    hi = price * (BPS + p.band_bps) / BPS
    f = lo if f < lo else f
    f = hi if f > hi else f
    return 1.0 if f == 0 else f


def close_size(p: Params, size: float, price: float, partial_at: float, now: float,
               this_block: bool, used: float) -> float:  # fmt: skip
    """:func:`simulator.mirror.liquidation.close_size` of one position."""
    abs_size = abs(size)
    whole = abs_size * price / WAD <= p.partial_threshold
    marked = partial_at != 0 and now < partial_at + 2 * p.cooldown
    cooling = marked and now < partial_at + p.cooldown
    goes_whole = marked and not cooling and p.full_after_cooldown
    part = abs_size * p.partial_share_bps / BPS
    part = part if part < abs_size else abs_size
    if whole or goes_whole:
        close = abs_size
    else:
        close = 0.0 if (cooling or this_block) else part
    if p.cap != 0:
        room = p.cap - used if used < p.cap else 0.0
        if close * price / WAD > room:
            close = room * WAD / price if price != 0 else 0.0
    return close


@dataclass
class CrossResult:
    """One cross liquidation in fast mode: per market closed (in order) and the account's
    totals, as :class:`simulator.mirror.liquidation.CrossLiquidation` gives them for one
    account (``error``: the revert's name and (equity, maintenance), or None)."""

    error: tuple[str, float, float] | None
    order: list[int]
    closed: dict[int, float]
    fill: dict[int, float]
    penalty: dict[int, float]
    insurance: dict[int, float]
    realized: dict[int, float]
    full: dict[int, bool]
    size: list[float]
    entry: list[float]
    collateral: float
    deficit: float
    paid: float
    shares: dict[int, tuple[float, float]]


def liquidate_cross(ps: list[Params], size: list[float], entry: list[float],
                    snapshot: list[float], cross: list[bool], collateral: float,
                    price: list[float], skew: list[float], long_index: list[float],
                    short_index: list[float], fund: float, now: float,
                    partial_at: list[float], this_block: list[bool],
                    used: list[float]) -> CrossResult:  # fmt: skip
    """:func:`simulator.mirror.liquidation.liquidate_cross` of one account (fast mode)."""
    size, entry = list(size), list(entry)
    js = [j for j in range(len(ps)) if cross[j] and size[j] != 0]
    empty: dict = {}
    if not js:
        return CrossResult(("NoPosition", 0.0, 0.0), [], empty, empty, empty, empty, empty,
                           empty, size, entry, collateral, 0.0, 0.0, {})  # fmt: skip
    collateral -= sum(owed(size[j], snapshot[j], long_index[j], short_index[j]) for j in js)
    mm = {j: maintenance(ps[j], size[j], price[j]) for j in js}
    eq = collateral + sum(upnl(size[j], entry[j], price[j]) for j in js)
    mmt = sum(mm.values())
    eq0, mmt0 = eq, mmt
    if not eq < mmt:
        return CrossResult(("NotLiquidatable", eq0, mmt0), [], empty, empty, empty, empty,
                           empty, empty, size, entry, collateral, 0.0, 0.0, {})  # fmt: skip
    r = CrossResult(None, [], {}, {}, {}, {}, {}, {}, size, entry, collateral, 0.0, 0.0, {})
    for j in sorted(js, key=lambda j: (-mm[j], j)):
        if not eq < mmt:
            break
        p, s, e, px = ps[j], size[j], entry[j], price[j]
        close = close_size(p, s, px, partial_at[j], now, this_block[j], used[j])
        if not close > 0:
            continue
        old_pnl = upnl(s, e, px)
        delta = -close if s > 0 else close
        fill = liquidation_fill(p, px, skew[j], delta)
        new_size, new_entry, realized = apply_fill(s, e, delta, fill)
        penalty = (close * fill / WAD) * p.penalty_bps / BPS
        rest = upnl(new_size, new_entry, px)
        left = eq - old_pnl + realized + rest
        penalty = 0.0 if left <= 0 else (left if penalty > left else penalty)
        keeper = penalty * p.keeper_share_bps / BPS
        new_mm = maintenance(p, new_size, px)
        r.collateral += realized - penalty
        eq = eq - old_pnl + realized + rest - penalty
        mmt = mmt - mm[j] + new_mm
        mm[j] = new_mm
        size[j], entry[j] = new_size, new_entry
        r.order.append(j)
        r.closed[j], r.fill[j], r.penalty[j] = close, fill, penalty
        r.insurance[j], r.realized[j], r.full[j] = penalty - keeper, realized, close == abs(s)
    if not r.order:
        r.error = ("NothingLiquidatableNow", eq0, mmt0)
        return r
    # A deficit below a collateral unit is the float residue of an exact 0 (fast mode's bound).
    if all(size[j] == 0 for j in js) and r.collateral < -UNIT:
        r.deficit = -r.collateral
        r.collateral = 0.0
        r.paid = min(units_up(r.deficit), fund)
        loss = {j: (-r.realized[j] if r.realized[j] < 0 else 0.0) for j in r.order}
        total = sum(loss.values())
        shares = {j: (r.deficit * loss[j] / total if total else 0.0,
                      r.paid * loss[j] / total if total else 0.0) for j in r.order}  # fmt: skip
        first = r.order[0]
        d, q = shares[first]
        shares[first] = (d + r.deficit - sum(x for x, _ in shares.values()),
                         q + r.paid - sum(y for _, y in shares.values()))  # fmt: skip
        r.shares = shares
    return r


@dataclass(frozen=True)
class FundingParams:
    """Every market's funding parameters as float lists (fast mode)."""

    model: list[int]
    skew_scale: list[float]
    max_velocity: list[float]
    interest: list[float]
    band: list[float]
    cap: list[float]


def funding_params_of(markets: MarketArrays) -> FundingParams:
    n = markets.count

    def col(name: str) -> list[float]:
        return [float(getattr(markets, name)[m]) for m in range(n)]

    return FundingParams(
        model=[int(markets.funding_model[m]) for m in range(n)],
        skew_scale=col("skew_scale"),
        max_velocity=col("max_funding_velocity"),
        interest=col("premium_interest_rate_8h"),
        band=col("premium_clamp_8h"),
        cap=[c * 24 for c in col("max_funding_rate_per_hour")],
    )


def funding_now(fp: FundingParams, skew, rate, long_index, short_index, price, dt):
    """:func:`simulator.mirror.funding.funding_now` of every market (float lists in, lists of
    (long index, short index, rate) out). The clamps inlined and the columns zipped (it runs
    at every new block time), the same operations in the same order as a
    clamp function of each (``tests/mirror/test_mirror_funding_now.py`` holds it to that form)."""
    out_long, out_short, out_rate = [], [], []
    day_wad = _DAY_WAD
    columns = zip(fp.model, fp.skew_scale, fp.max_velocity, fp.interest, fp.band, fp.cap, skew,
                  rate, long_index, short_index, price, dt, strict=True)  # fmt: skip
    for model, scale, velocity, interest, band, cap, k, r, li, si, pr, d in columns:
        if d == 0:
            out_long.append(li)
            out_short.append(si)
            out_rate.append(r)
            continue
        if scale == 0:
            p = 0.0
        else:  # _clamp(k * WAD / scale, -WAD, WAD)
            p = k * WAD / scale
            p = -WAD if p < -WAD else (WAD if p > WAD else p)
        if model == 0:
            new = r + p * velocity * d / day_wad
        else:  # 3 * (p + _clamp(interest - p, -band, band))
            q = interest - p
            new = 3 * (p + (-band if q < -band else (band if q > band else q)))
        if cap != 0:  # _clamp(new, -cap, cap)
            new = -cap if new < -cap else (cap if new > cap else new)
        average = (r + new) / 2 if model == 0 else new
        x = average * d
        out_long.append(li + x * pr / day_wad)
        out_short.append(si + (-x) * pr / day_wad)
        out_rate.append(new)
    return out_long, out_short, out_rate


_DAY_WAD = float(DAY * WAD)
"""A day in seconds times WAD, as a float (``float(WAD * DAY)``: the same number)."""


#: :func:`funding_array`'s rows: the funding model (0 velocity, 1 premium), the skew scale,
#: the largest funding velocity, the premium's interest rate and clamp (8h), the rate cap per
#: day (0 = none), each per market (WAD floats; the model as a float).
(FP_MODEL, FP_SKEW_SCALE, FP_MAX_VELOCITY, FP_INTEREST, FP_BAND, FP_CAP) = range(6)


def funding_array(markets: MarketArrays) -> np.ndarray:
    """Every market's funding parameters as one (6, M) float64 array (rows ``FP_*``), the
    values of :func:`funding_params_of`: what :func:`funding_rows` takes."""
    fp = funding_params_of(markets)
    return np.array([[float(x) for x in fp.model], fp.skew_scale, fp.max_velocity, fp.interest,
                     fp.band, fp.cap], dtype=np.float64).reshape(6, markets.count)  # fmt: skip


@_jit
def funding_rows(fp, market_floats, market_ints, now, at, out):
    """:func:`funding_now` of every market in one compiled call, into ``out`` (3, M): long
    index, short index, rate per day (WAD floats), from the funding parameters ``fp``
    (:func:`funding_array`) and the venue's packed market arrays: ``market_floats`` rows
    ``at[0..5]`` (price, long and short open interest, stored rate, long and short index),
    ``market_ints`` row ``at[6]`` (the time of the last accrual, s), at ``now`` (s). The same
    operations in the same order as :func:`funding_now` (Python's ``int`` operands are floats
    here exactly: ``WAD``, the seconds elapsed); ``tests/mirror/test_mirror_funding_rows.py``
    holds it to that form bit for bit."""
    wad = 1e18
    day_wad = 8.64e22  # float(DAY * WAD): the same number
    for j in range(fp.shape[1]):
        price = market_floats[at[0], j]
        k = market_floats[at[1], j] - market_floats[at[2], j]
        r = market_floats[at[3], j]
        li = market_floats[at[4], j]
        si = market_floats[at[5], j]
        d = now - market_ints[at[6], j]
        if d == 0:
            out[0, j] = li
            out[1, j] = si
            out[2, j] = r
            continue
        scale = fp[FP_SKEW_SCALE, j]
        if scale == 0:
            p = 0.0
        else:
            p = k * wad / scale
            p = -wad if p < -wad else (wad if p > wad else p)
        model = fp[FP_MODEL, j]
        if model == 0:
            new = r + p * fp[FP_MAX_VELOCITY, j] * d / day_wad
        else:
            band = fp[FP_BAND, j]
            q = fp[FP_INTEREST, j] - p
            new = 3.0 * (p + (-band if q < -band else (band if q > band else q)))
        cap = fp[FP_CAP, j]
        if cap != 0:
            new = -cap if new < -cap else (cap if new > cap else new)
        average = (r + new) / 2.0 if model == 0 else new
        x = average * d
        out[0, j] = li + x * price / day_wad
        out[1, j] = si + (-x) * price / day_wad
        out[2, j] = new
    return out
