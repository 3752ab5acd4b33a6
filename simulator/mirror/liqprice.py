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
    `collateral`, base MMF `mmf`, tiers with a trailing tier axis and margin `scale`."""
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


def position_liquidation_prices(
    book: Book, price: Any, markets: MarketArrays, state: MarketState
) -> Array:
    """``PerpVenue.liquidationPrice(account, market)`` for every (account, market), (A, M):
    the cross formula for cross positions, the isolated one for isolated positions, 0 for no
    position. `state` holds the funding indices accrued to now."""
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
