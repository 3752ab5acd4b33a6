"""Margin requirements (``MarginMath.requirement`` / ``oiScaledInitialMargin`` and
``VenueMarket.notional`` / ``maintenanceMargin`` / ``initialMargin``), vectorized.

Every array broadcasts: positions of shape (A, M) against per-market parameters of shape (M,)
(tiers (M, T)). Units: sizes WAD base units, prices WAD USD, requirements WAD USD.

Rounding (exact mode; all against the trader): notional ``|size|·price`` up; each tier rate
``rate·scale`` up, capped at 1; the base initial fraction ``1/maxLeverage`` up; the tier
deduction ``floor·(rate_n − rate_{n−1})`` down; ``notional·rate`` up; the OI fraction
``(oi − lower)/(upper − lower)`` up and ``(notional − IM)·t`` up; open notional
``max(long, short OI)·price`` up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.mirror.fixed import (
    WAD,
    Array,
    check,
    maximum,
    mul_div_down,
    mul_div_up,
    safe,
    where,
    zeros_like,
)
from simulator.mirror.markets import MarketArrays, MarketState


def notional(size: Any, price: Any) -> Any:
    """``|size|·price`` rounded up (WAD USD)."""
    return mul_div_up(abs(size), price, WAD)


def scaled_rate(rate: Any, scale: Any) -> Any:
    """``min(rate·scale, 1)`` with the product rounded up (WAD)."""
    r = mul_div_up(rate, scale, WAD)
    return where(r > WAD, WAD, r)


def requirement(
    notional_: Any, base_rate: Any, tier_floor: Array, tier_rate: Array, scale: Any
) -> Array:
    """Hyperliquid's tiered requirement ``notional·rate_n − deduction_n`` of the tier holding
    `notional` (every rate scaled by `scale` and floored by the scaled base rate); 0 if the
    deduction exceeds the gross. `tier_floor` / `tier_rate` have a trailing tier axis."""
    check(notional_, base_rate, tier_floor, tier_rate, scale)
    base = scaled_rate(base_rate, scale)
    rate = base + zeros_like(notional_)
    deduction = zeros_like(rate)
    active = np.ones(np.shape(rate), dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(tier_floor.shape[-1]):
            floor = tier_floor[..., t]
            active = active & (notional_ >= floor)
            nxt = maximum(scaled_rate(tier_rate[..., t], scale), base)
            grows = active & (nxt > rate)
            step = mul_div_down(where(grows, floor, 0), nxt - rate, WAD)
            deduction = deduction + where(grows, step, 0)
            rate = where(active, nxt, rate)
    gross = mul_div_up(notional_, rate, WAD)
    return where(gross > deduction, gross - deduction, 0)


def oi_scaled_initial_margin(
    initial_margin: Any, notional_: Any, open_notional: Any, lower_cap: Any, upper_cap: Any
) -> Array:
    """dYdX's OI-scaled initial margin: ``IM + (notional − IM)·clamp((oi − lower)/(upper −
    lower), 0, 1)``; unchanged when ``upper_cap == 0``."""
    off = (upper_cap == 0) | (open_notional <= lower_cap) | (notional_ <= initial_margin)
    full = open_notional >= upper_cap
    span = upper_cap - lower_cap
    t = mul_div_up(open_notional - lower_cap, WAD, safe(span, span > 0))
    gap = where(notional_ > initial_margin, notional_ - initial_margin, 0)
    scaled = initial_margin + mul_div_up(gap, t, WAD)
    return where(off, initial_margin, where(full, notional_, scaled))


def maintenance_margin(size: Any, price: Any, markets: MarketArrays) -> Array:
    """``VenueMarket.maintenanceMargin``: 0 for no position (WAD USD)."""
    req = requirement(
        notional(size, price),
        markets.maintenance_margin_fraction,
        markets.tier_floor,
        markets.tier_mmf,
        markets.margin_scale,
    )
    return where(size == 0, 0, req)


def base_initial_fraction(markets: MarketArrays) -> Array:
    """``1/maxLeverage`` rounded up (WAD)."""
    return mul_div_up(WAD, WAD, markets.max_leverage)


def initial_margin(size: Any, price: Any, markets: MarketArrays, state: MarketState) -> Array:
    """``VenueMarket.initialMargin``: tiered IMF with the margin scale, then OI scaling on
    ``max(long, short OI)·price`` (WAD USD); 0 for no position."""
    n = notional(size, price)
    im = requirement(
        n,
        base_initial_fraction(markets),
        markets.tier_floor,
        markets.tier_imf,
        markets.margin_scale,
    )
    open_size = maximum(state.long_open_interest, state.short_open_interest)
    scaled = oi_scaled_initial_margin(
        im,
        n,
        mul_div_up(open_size, price, WAD),
        markets.oi_imf_lower_cap,
        markets.oi_imf_upper_cap,
    )
    return where(size == 0, 0, scaled)
