"""Liquidation prices (``MarginMath.liquidationPrice`` and ``PerpVenue.liquidationPrice``),
vectorized over positions.

The index price ``P`` at which a position's "other" equity ``C`` plus its PnL equals its
maintenance margin: per tier ``P = (entry − side·(C + deduction)/|size|)/(1 − side·rate)``,
the first tier whose notional range holds ``|size|·P`` is the answer; 0 when no positive price
solves it. Cross (dYdX v4): ``C`` = account equity − this position's PnL − the other positions'
maintenance, the other markets' prices held fixed. Isolated: ``C`` = margin − funding owed.
Units: prices WAD USD, ``C`` WAD USD.

Rounding (exact mode): one division per tier, a long's price rounded up and a short's down
(the earlier liquidation); the tier test ``|size|·P`` up; rates and deductions as in
:mod:`simulator.mirror.margins`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.jit import inline_numpy_kernel, numpy_kernel
from simulator.mirror.fills import unrealized_pnl
from simulator.mirror.fixed import (
    WAD,
    Array,
    ceil_div,
    floor_div,
    maximum,
    mul_div_down,
    mul_div_up,
    safe,
    where,
)
from simulator.mirror.funding import funding_owed
from simulator.mirror.health import Book, cross_health
from simulator.mirror.margins import maintenance_margin, scaled_rate
from simulator.mirror.markets import MarketArrays, MarketState


def _solve(size: Any, abs_size: Any, entry: Any, collateral: Any, rate: Any, deduction: Any):
    cd = collateral + deduction
    entry_value = entry * abs_size
    num_long = entry_value - cd * WAD
    den_long = abs_size * (WAD - rate)
    ok_long = (rate < WAD) & (num_long > 0) & (den_long > 0)
    long_p = ceil_div(where(ok_long, num_long, 0) * WAD, safe(den_long, ok_long))
    num_short = entry_value + cd * WAD
    den_short = abs_size * (WAD + rate)
    ok_short = (num_short > 0) & (den_short > 0)
    short_p = floor_div(where(ok_short, num_short, 0) * WAD, safe(den_short, ok_short))
    return where(size > 0, where(ok_long, long_p, 0), where(ok_short, short_p, 0))


def liquidation_price(
    size: Any, entry: Any, collateral: Any, mmf: Any, tier_floor: Array, tier_mmf: Array, scale: Any
) -> Array:
    """``MarginMath.liquidationPrice`` of positions (`size`, `entry`) with other equity
    `collateral`, base MMF `mmf`, tiers with a trailing tier axis and margin `scale`.

    Fast mode on a grid of positions (float64 arrays of shape (A, M), per-market parameters of
    shape (M,) and (M, T)) runs in one compiled pass (:func:`_grid_kernel`: the same float
    operations per position, in the same order); anything else runs the array form below."""
    if _fits_kernel(size, entry, collateral, mmf, tier_floor, tier_mmf, scale):
        base = scaled_rate(mmf, scale)
        nxt = np.zeros(tier_floor.shape)  # each tier's rate, max(scaled tier MMF, base)
        for i in range(tier_floor.shape[-1]):
            nxt[:, i] = maximum(scaled_rate(tier_mmf[..., i], scale), base)
        return _grid_kernel(size, entry, collateral, base, tier_floor, nxt)
    abs_size = abs(size)
    base = scaled_rate(mmf, scale)
    zero = size * 0
    rate = base + zero
    deduction = zero
    result = zero
    done = np.asarray(size == 0, dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for i in range(tier_floor.shape[-1] + 1):
            p = _solve(size, abs_size, entry, collateral, rate, deduction)
            none = ~done & (p == 0)
            done = done | none
            if i == tier_floor.shape[-1]:
                result = where(done, result, p)
                break
            floor = tier_floor[..., i]
            hit = ~done & (mul_div_up(abs_size, p, WAD) < floor)
            result = where(hit, p, result)
            done = done | hit
            nxt = maximum(scaled_rate(tier_mmf[..., i], scale), base)
            grows = nxt > rate
            step = mul_div_down(where(grows & ~done, floor, 0), nxt - rate, WAD)
            deduction = deduction + where(grows & ~done, step, 0)
            rate = where(done, rate, nxt)
    return result


def _fits_kernel(
    size: Any, entry: Any, collateral: Any, mmf: Any, tier_floor: Any, tier_mmf: Any, scale: Any
) -> bool:
    """Whether :func:`liquidation_price`'s arguments are a fast-mode grid the kernel takes."""
    arrays = (size, entry, collateral, mmf, tier_floor, tier_mmf, scale)
    if not all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrays):
        return False
    if size.ndim != 2 or entry.shape != size.shape or collateral.shape != size.shape:
        return False
    m = size.shape[1]
    return (
        mmf.shape == (m,)
        and scale.shape == (m,)
        and tier_floor.ndim == 2
        and tier_floor.shape[0] == m
        and tier_mmf.shape == tier_floor.shape
    )


_WAD_F = float(WAD)


@numpy_kernel
def _solve_one(s: float, abs_s: float, entry: float, collateral: float, rate: float,
               deduction: float) -> float:  # fmt: skip
    """:func:`_solve` of one fast-mode position (the same operations, in the same order)."""
    cd = collateral + deduction
    entry_value = entry * abs_s
    num_long = entry_value - cd * _WAD_F
    den_long = abs_s * (_WAD_F - rate)
    ok_long = (rate < _WAD_F) and (num_long > 0) and (den_long > 0)
    num_short = entry_value + cd * _WAD_F
    den_short = abs_s * (_WAD_F + rate)
    ok_short = (num_short > 0) and (den_short > 0)
    if s > 0:
        if not ok_long:
            return 0.0
        return (num_long * _WAD_F) / den_long
    if not ok_short:
        return 0.0
    return (num_short * _WAD_F) / den_short


@inline_numpy_kernel
def _tier_walk(s, entry, collateral, base, tier_floor, nxt, m):  # noqa: ANN001, ANN202
    """One position's liquidation price by the tier walk, fast mode (size ``s``, ``entry``,
    the equity beside it ``collateral``, market ``m``'s scaled base rate ``base``, its tier
    floors and next rates): the one body of :func:`_grid_kernel` and :func:`_book_kernel`.
    Signed zeros as the array form gives them (``s·0`` starts the rate, the deduction and the
    result; a deduction plus ``0.0``)."""
    abs_s = abs(s)
    zero = s * 0.0
    rate = base + zero
    deduction = zero
    result = zero
    done = s == 0.0
    for i in range(tier_floor.shape[1] + 1):
        p = _solve_one(s, abs_s, entry, collateral, rate, deduction)
        if not done and p == 0.0:
            done = True
        if i == tier_floor.shape[1]:
            if not done:
                result = p
            break
        floor = tier_floor[m, i]
        if not done and (abs_s * p) / _WAD_F < floor:
            result = p
            done = True
        grows = nxt[m, i] > rate
        step = 0.0
        if grows and not done:
            step = (floor * (nxt[m, i] - rate)) / _WAD_F
        deduction = deduction + step
        if not done:
            rate = nxt[m, i]
    return result


@numpy_kernel
def _grid_kernel(size, entry, collateral, base, tier_floor, nxt):  # noqa: ANN001, ANN202
    """:func:`liquidation_price`'s tier walk, fast mode, one position at a time: (A, M) sizes,
    entries and other equity, (M,) scaled base rates, (M, T) tier floors and next rates
    (``max(scaled tier rate, base)``). Signed zeros as the array form gives them (``size·0``
    starts the rate, the deduction and the result; a deduction plus ``0.0``)."""
    n_accounts, n_markets = size.shape
    out = np.empty((n_accounts, n_markets), dtype=np.float64)
    for a in range(n_accounts):
        for m in range(n_markets):
            out[a, m] = _tier_walk(
                size[a, m], entry[a, m], collateral[a, m], base[m], tier_floor, nxt, m
            )
    return out


#: :func:`position_liquidation_prices` runs in one compiled pass (:func:`_book_kernel`) below
#: this many markets: numpy sums fewer than 8 terms along the last axis in order from 0.0, as
#: the kernel does (with more it sums pairwise).
BOOK_KERNEL_MAX_MARKETS = 8


def position_liquidation_prices(
    book: Book, price: Any, markets: MarketArrays, state: MarketState
) -> Array:
    """``PerpVenue.liquidationPrice(account, market)`` for every (account, market), (A, M):
    the cross formula for cross positions, the isolated one for isolated positions, 0 for no
    position. `state` holds the funding indices accrued to now.

    Fast mode with fewer than :data:`BOOK_KERNEL_MAX_MARKETS` markets runs in one compiled
    pass (:func:`_book_kernel`: each position's uPnL, funding owed and maintenance, the
    accounts' cross sums, the other equity and the tier walk, the same float operations in the
    same order as the array form below)."""
    if _fits_book_kernel(book, price, markets, state):
        return _book_prices(book, price, markets, state)
    pnl = unrealized_pnl(book.size, book.entry, price)
    owed = funding_owed(
        book.size, book.snapshot, state.long_funding_index, state.short_funding_index
    )
    mm = maintenance_margin(book.size, price, markets)
    health = cross_health(book, price, markets, state)
    others = health.equity[..., None] - pnl - (health.maintenance[..., None] - mm)
    iso = book.isolated.astype(bool)
    collateral = where(iso, book.margin - owed, others)
    return liquidation_price(
        book.size,
        book.entry,
        collateral,
        markets.maintenance_margin_fraction,
        markets.tier_floor,
        markets.tier_mmf,
        markets.margin_scale,
    )


def _fits_book_kernel(book: Book, price: Any, markets: MarketArrays, state: MarketState) -> bool:
    """Whether :func:`position_liquidation_prices`'s arguments are a fast-mode book the
    compiled pass takes: float64 (A, M) positions, (A,) collateral, (M,) prices, funding
    indices and market parameters, (M, T) tiers, fewer than :data:`BOOK_KERNEL_MAX_MARKETS`
    markets."""
    floats = (book.size, book.entry, book.snapshot, book.margin, book.collateral, price,
              state.long_funding_index, state.short_funding_index,
              markets.maintenance_margin_fraction, markets.margin_scale, markets.tier_floor,
              markets.tier_mmf)  # fmt: skip
    if not all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in floats):
        return False
    if not isinstance(book.isolated, np.ndarray) or book.size.ndim != 2:
        return False
    n_accounts, m = book.size.shape
    if not 0 < m < BOOK_KERNEL_MAX_MARKETS:
        return False
    same = (book.entry, book.snapshot, book.margin, book.isolated)
    per_market = (price, state.long_funding_index, state.short_funding_index,
                  markets.maintenance_margin_fraction, markets.margin_scale)  # fmt: skip
    return (
        all(a.shape == (n_accounts, m) for a in same)
        and book.collateral.shape == (n_accounts,)
        and all(a.shape == (m,) for a in per_market)
        and markets.tier_floor.ndim == 2
        and markets.tier_floor.shape[0] == m
        and markets.tier_mmf.shape == markets.tier_floor.shape
    )


def _book_prices(book: Book, price: Any, markets: MarketArrays, state: MarketState) -> Array:
    """:func:`position_liquidation_prices` through :func:`_book_kernel`: the scaled base rates
    and each tier's next rate (``max(scaled tier MMF, base)``, shared by the maintenance
    requirement and the tier walk) made here by the array form's own calls."""
    scale = markets.margin_scale
    base = scaled_rate(markets.maintenance_margin_fraction, scale)
    floor = markets.tier_floor
    nxt = np.zeros(floor.shape)
    for i in range(floor.shape[-1]):
        nxt[:, i] = maximum(scaled_rate(markets.tier_mmf[..., i], scale), base)
    c = np.ascontiguousarray
    return _book_kernel(c(book.size), c(book.entry), c(book.snapshot), c(book.margin),
                        c(book.isolated, dtype=np.bool_), c(book.collateral), c(price),
                        c(state.long_funding_index), c(state.short_funding_index), c(base),
                        c(floor), nxt)  # fmt: skip


@numpy_kernel
def _maintenance_one(notional: float, base: float, tier_floor, nxt, m: int) -> float:  # noqa: ANN001
    """:func:`simulator.mirror.margins.requirement` of one fast-mode notional in market ``m``
    (rates already scaled: ``base``, ``nxt``), the array form's operations in its order."""
    rate = base + 0.0
    deduction = 0.0
    active = True
    for t in range(tier_floor.shape[1]):
        floor = tier_floor[m, t]
        active = active and (notional >= floor)
        grows = active and (nxt[m, t] > rate)
        step = ((floor if grows else 0.0) * (nxt[m, t] - rate)) / _WAD_F
        deduction = deduction + (step if grows else 0.0)
        if active:
            rate = nxt[m, t]
    gross = (notional * rate) / _WAD_F
    return gross - deduction if gross > deduction else 0.0


@numpy_kernel
def _book_kernel(size, entry, snapshot, margin, isolated, collateral, price, long_index,  # noqa: ANN001, ANN202
                 short_index, base, tier_floor, nxt):  # fmt: skip
    """:func:`position_liquidation_prices` of a fast-mode book, one account at a time: each
    position's uPnL (``unrealized_pnl``), funding owed (``funding_owed``) and maintenance
    (``maintenance_margin``); the account's cross equity and maintenance (``cross_health``:
    its cross positions' terms summed in market order from 0.0); each position's other equity
    (``equity - uPnL - (maintenance - its maintenance)``, or an isolated position's ``margin -
    owed``); then :func:`_grid_kernel`'s tier walk."""
    n_accounts, n_markets = size.shape
    out = np.empty((n_accounts, n_markets), dtype=np.float64)
    pnl = np.empty(n_markets)
    owed = np.empty(n_markets)
    mm = np.empty(n_markets)
    other = np.empty((1, n_markets))
    for a in range(n_accounts):
        value = 0.0
        maint = 0.0
        for m in range(n_markets):
            s = size[a, m]
            abs_s = abs(s)
            if s == 0.0:
                pnl[m], owed[m], mm[m] = 0.0, 0.0, 0.0
            else:
                move = price[m] - entry[a, m]
                pnl[m] = ((move if s > 0 else -move) * abs_s) / _WAD_F
                index = long_index[m] if s > 0 else short_index[m]
                owed[m] = ((index - snapshot[a, m]) * abs_s) / _WAD_F
                notional = (abs_s * price[m]) / _WAD_F
                mm[m] = _maintenance_one(notional, base[m], tier_floor, nxt, m)
            if isolated[a, m]:
                value += 0.0
                maint += 0.0
            else:
                value += pnl[m] - owed[m]
                maint += mm[m]
        equity = collateral[a] + value
        for m in range(n_markets):
            if isolated[a, m]:
                other[0, m] = margin[a, m] - owed[m]
            else:
                other[0, m] = (equity - pnl[m]) - (maint - mm[m])
        for m in range(n_markets):
            out[a, m] = _tier_walk(
                size[a, m], entry[a, m], other[0, m], base[m], tier_floor, nxt, m
            )
    return out
