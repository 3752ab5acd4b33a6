"""Funding (``PerpMath.nextFundingRate`` / ``fundingIncrements`` / ``fundingOwed`` and
``VenueMarket.fundingNow``), vectorized over markets (and over price paths by broadcasting).

Models: VELOCITY (Synthetix v3) ``rate += clamp(skew/scale, −1, 1)·maxVelocity·dt/1 day``,
average ``(old + new)/2``; PREMIUM (Hyperliquid) per day ``3·(p + clamp(interest − p, ±clamp))``
with ``p = clamp(skew/scale, −1, 1)``, constant over the interval; both capped at
``±24·maxFundingRatePerHour`` when that is non-zero. Units: rates WAD per day (+ = longs pay),
indices WAD USD per base unit, ``dt`` seconds, owed WAD USD (+ = the position owes).

Rounding (exact mode): ``skew·1e18/scale``, the velocity step and the average are Solidity's
signed division, truncated towards zero; index increments ``rate·dt·price/(1 day·1e18)`` are
rounded up for each side (against whichever side pays); funding owed is rounded up.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from simulator.mirror.fixed import (
    DAY,
    WAD,
    clamp,
    div_trunc,
    mul_div_up,
    safe,
    where,
)
from simulator.mirror.markets import MarketArrays, MarketState


def next_funding_rate(markets: MarketArrays, skew: Any, rate: Any, dt: Any) -> tuple[Any, Any]:
    """(new rate, average rate over the interval) after `dt` seconds at constant `skew`."""
    scale = markets.skew_scale
    proportional = where(
        scale == 0, 0, clamp(div_trunc(skew * WAD, safe(scale, scale != 0)), -WAD, WAD)
    )
    velocity = rate + div_trunc(proportional * markets.max_funding_velocity * dt, WAD * DAY)
    band = markets.premium_clamp_8h
    premium = 3 * (
        proportional + clamp(markets.premium_interest_rate_8h - proportional, -band, band)
    )
    new = where(markets.funding_model == 0, velocity, premium)
    cap = markets.max_funding_rate_per_hour * 24
    new = where(cap != 0, clamp(new, -cap, cap), new)
    average = where(markets.funding_model == 0, div_trunc(rate + new, 2), new)
    return new, average


def funding_increments(average_rate: Any, dt: Any, price: Any) -> tuple[Any, Any]:
    """(long, short) index increments: ``±rate·dt/1 day·price``, each rounded up."""
    x = average_rate * dt
    return mul_div_up(x, price, DAY * WAD), mul_div_up(-x, price, DAY * WAD)


def funding_now(markets: MarketArrays, state: MarketState, price: Any, dt: Any) -> MarketState:
    """The state with funding accrued over `dt` seconds (≥ 0) at `price` and the current skew,
    as ``VenueMarket.fundingNow`` / ``accrue`` compute it (dt = 0: unchanged)."""
    rate, average = next_funding_rate(markets, state.skew, state.funding_rate_per_day, dt)
    long_inc, short_inc = funding_increments(average, dt, price)
    moved = dt != 0
    return replace(
        state,
        long_funding_index=where(moved, state.long_funding_index + long_inc,
                                    state.long_funding_index),
        short_funding_index=where(moved, state.short_funding_index + short_inc,
                                     state.short_funding_index),
        funding_rate_per_day=where(moved, rate, state.funding_rate_per_day),
    )  # fmt: skip


def funding_owed(size: Any, snapshot: Any, long_index: Any, short_index: Any) -> Any:
    """Funding a position owes since its snapshot: ``(index − snapshot)·|size|`` rounded up
    (its side's index; 0 for no position)."""
    index = where(size > 0, long_index, short_index)
    return where(size == 0, 0, mul_div_up(index - snapshot, abs(size), WAD))
