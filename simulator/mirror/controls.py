"""Risk controls of the venue: the circuit breaker (``VenueMarket.breaker`` / ``checkBreaker``
over the market oracle's TWAP, ``Oracle.twap``) and the dynamic margin controller
(``contracts/libraries/MarginControlMath.sol``, ``VenueMarginController.poke``), vectorized over
markets (and paths): market arrays of any shape ``S``, a price history along a last axis ``K``.

Public functions (signatures stable):

* :func:`twap` ``(push_time, push_price, now, window)``: the oracle's time-weighted average
  over ``[max(now − window, first push), now)`` of the step price the pushes describe (each
  push holds until the next; the last one of a second wins), rounded down; the last price when
  the window is 0 or empty. The history must start at or before ``now − window`` (its first
  entry is the oracle's initial price at its creation): the ring of ``maxTwapWindow + 1``
  one-second observations covers every window the venue accepts.
* :func:`breaker_tripped` ``(price, reference, band_bps)``: ``|price − TWAP|·1e4 >
  band·TWAP`` (band 0: never). A tripped market refuses new risk (:func:`adds_risk`:
  ``CircuitBreakerTripped``) and, with ``liquidationsHaltOnBreaker``, its liquidations; the
  index itself is not held: trades that reduce risk go through at it.
* :func:`skew_fraction` ``(long_oi, short_oi)``, :func:`skew_average_at` ``(state, params,
  skew_now, now)``, :func:`volatility` ``(variance_rate)``, :func:`target_scale` ``(params,
  vol, skew_average)`` and :func:`poke` ``(state, params, long_oi, short_oi, price, now)`` →
  :class:`Poke` (``Poked``'s fields and the state after): the controller's EWMA variance rate
  ``(1 − w)·var + w·r²/dt`` (at least ``minInterval`` s after the last observation, r the
  return rounded up), the time-averaged skew moving toward ``min(previous sample, now)`` by
  ``min(dt, maxSkewSampleAge)/skewAveragingTime`` of the gap, annualized volatility
  ``√(var·1 year)`` and ``scale = clamp(1 + volSens·max(0, vol/target − 1) + skewSens·avg,
  min, max)``.

Units: prices WAD USD, times seconds, fractions / scales / volatility WAD, the variance rate
WAD per second. Rounding (exact mode) as the contracts: the skew fraction up; the return and
``r²`` up; the variance update and the skew step down; ``√`` down; the volatility excess and
both sensitivities' products up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from simulator.mirror.fixed import (
    BPS,
    WAD,
    Array,
    ceil_div,
    check,
    exact,
    fast,
    floor_div,
    maximum,
    minimum,
    mul_div_up,
    safe,
    where,
)

YEAR = 365 * 86_400
"""``MarginControlMath.YEAR``, seconds."""


def _b(x: Any) -> Array:
    return np.asarray(x, dtype=bool)


# -- circuit breaker ----------------------------------------------------------------------------


def twap(push_time: Any, push_price: Any, now: Any, window: Any) -> Any:
    """``Oracle.twap(window)`` at `now` from the push history (S + (K,), times non-decreasing;
    entry 0 the initial price at the oracle's creation)."""
    t = np.asarray(push_time)
    p = push_price
    now_ = np.asarray(now)[..., None]
    w = np.asarray(window)[..., None] if np.ndim(window) else window
    start = maximum(now_ - w, t[..., :1])
    seg_end = np.concatenate([t[..., 1:], np.broadcast_to(now_, t[..., :1].shape)], axis=-1)
    lo = maximum(t, start)
    hi = minimum(seg_end, now_)
    overlap = where(hi > lo, hi - lo, 0)
    cumulative = (p * overlap).sum(axis=-1)
    elapsed = np.asarray(now) - start[..., 0]
    last = p[..., -1]
    empty = _b(elapsed <= 0) | _b(np.asarray(window) == 0)
    return where(empty, last, floor_div(cumulative, safe(elapsed, ~empty)))


def breaker_tripped(price: Any, reference: Any, band_bps: Any) -> Array:
    """Whether the breaker is tripped: ``|price − reference|·1e4 > band·reference``, never
    with band 0."""
    move = where(price > reference, price - reference, reference - price)
    return _b(band_bps != 0) & _b(move * BPS > band_bps * reference)


def adds_risk(size: Any, delta: Any) -> Array:
    """``PerpVenue._trade``'s test: the trade grows the position or flips it (refused while the
    market's breaker is tripped or risk is paused)."""
    new = size + delta
    return _b(abs(new) > abs(size)) | (_b(new != 0) & (_b(new > 0) != _b(size > 0)))


# -- dynamic margin controller ----------------------------------------------------------------------


@dataclass(frozen=True)
class ControllerArrays:
    """``IVenueMarginController.ControllerParams`` of markets (arrays of shape S; WAD except
    the three times, seconds)."""

    min_scale: Array
    max_scale: Array
    target_volatility: Array
    volatility_sensitivity: Array
    skew_sensitivity: Array
    ewma_weight: Array
    min_interval: Array
    skew_averaging_time: Array
    max_skew_sample_age: Array

    @classmethod
    def from_chain(cls, params: Sequence[Sequence[int]], *, exact_mode: bool = True):
        """From ``parameters(market)`` tuples in the struct's order."""
        conv = exact if exact_mode else fast
        cols = list(zip(*params, strict=True))
        return cls(*(conv([int(v) for v in col]) for col in cols))


@dataclass(frozen=True)
class ControllerState:
    """``MarginControlMath.State`` of markets (shape S): last observed price (WAD) and time
    (s), variance rate (WAD per s), skew sample (WAD) and its time, skew average (WAD)."""

    last_price: Array
    last_time: Array
    variance_rate: Array
    skew_sample: Array
    skew_sample_time: Array
    skew_average: Array

    @classmethod
    def start(cls, price: Any, price_time: Any, skew_now: Any, now: Any) -> ControllerState:
        """``start``: the oracle's latest price and its time, the skew now sampled at `now`."""
        zero = price * 0
        return cls(price, zero + price_time, zero, skew_now, zero + now, zero)

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> ControllerState:
        return cls(**{k: m[k] for k in cls.__dataclass_fields__})


def skew_fraction(long_oi: Any, short_oi: Any) -> Any:
    """``|long − short|/(long + short)``, WAD rounded up; 0 for an empty book."""
    total = long_oi + short_oi
    gap = where(long_oi > short_oi, long_oi - short_oi, short_oi - long_oi)
    return where(total == 0, 0, ceil_div(gap * WAD, safe(total, total != 0)))


def skew_average_at(state: ControllerState, params: ControllerArrays, skew_now: Any,
                    now: Any) -> Any:  # fmt: skip
    """``skewAverageAt``: the average a poke at `now` would store (unchanged when dt = 0)."""
    average = state.skew_average
    dt = now - state.skew_sample_time
    held = minimum(state.skew_sample, skew_now)
    weight = minimum(dt, params.max_skew_sample_age)
    up = average + floor_div((held - average) * weight, params.skew_averaging_time)
    down = average - floor_div((average - held) * weight, params.skew_averaging_time)
    return where(dt == 0, average, where(held > average, up, down))


def _isqrt(x: Any) -> Any:
    """``Math.sqrt`` (rounded down) in exact mode, ``np.sqrt`` in fast mode."""
    if isinstance(x, int):
        return math.isqrt(x)
    if check(x):
        return np.vectorize(lambda v: math.isqrt(int(v)), otypes=[object])(x) if x.size else x
    return np.sqrt(x)


def volatility(variance_rate: Any) -> Any:
    """``volatility``: ``⌊√(var·1 year·1e18)⌋``, annualized, WAD."""
    return _isqrt(variance_rate * YEAR * WAD)


def target_scale(params: ControllerArrays, vol: Any, skew_average: Any) -> Any:
    """``target``: ``clamp(1 + volSens·⌈(vol − target)/target⌉ + ⌈skewSens·avg⌉, min, max)``."""
    excess = where(vol > params.target_volatility, vol - params.target_volatility, 0)
    ratio = mul_div_up(excess, WAD, params.target_volatility)
    scale = WAD + where(vol > params.target_volatility,
                        mul_div_up(params.volatility_sensitivity, ratio, WAD), 0)  # fmt: skip
    scale = scale + mul_div_up(params.skew_sensitivity, skew_average, WAD)
    return minimum(maximum(scale, params.min_scale), params.max_scale)


def observe(state: ControllerState, params: ControllerArrays, skew_now: Any, price: Any,
            now: Any) -> ControllerState:  # fmt: skip
    """``observe``: the skew average moves and `skew_now` becomes the sample; at least
    ``minInterval`` (and > 0) seconds after the last observation the variance rate takes
    `price`."""
    average = skew_average_at(state, params, skew_now, now)
    dt = now - state.last_time
    due = _b(dt >= params.min_interval) & _b(dt != 0)
    last = state.last_price
    move = where(price > last, price - last, last - price)
    r = ceil_div(move * WAD, safe(last, last != 0))
    w = params.ewma_weight
    r2 = mul_div_up(r, r, WAD)
    den = WAD * safe(dt, due)
    var = floor_div(state.variance_rate * (WAD - w) * safe(dt, due) + r2 * w, den)
    zero = state.last_time * 0
    return replace(
        state,
        skew_average=average,
        skew_sample=zero + skew_now,
        skew_sample_time=zero + now,
        variance_rate=where(due, var, state.variance_rate),
        last_price=where(due, price, state.last_price),
        last_time=where(due, zero + now, state.last_time),
    )


@dataclass(frozen=True)
class Poke:
    """One ``poke`` per market: ``Poked``'s ``price``, ``volatility``, ``skew_fraction`` (now),
    ``skew_average`` (after) and ``scale``; the controller ``state`` after."""

    price: Array
    volatility: Array
    skew_fraction: Array
    skew_average: Array
    scale: Array
    state: ControllerState


def poke(state: ControllerState, params: ControllerArrays, long_oi: Any, short_oi: Any,
         price: Any, now: Any) -> Poke:  # fmt: skip
    """``VenueMarginController.poke(market)`` at `now` with the market's open interest and
    oracle `price` (the venue's margin scale becomes ``scale``)."""
    skew_now = skew_fraction(long_oi, short_oi)
    after = observe(state, params, skew_now, price, now)
    vol = volatility(after.variance_rate)
    return Poke(
        price=price,
        volatility=vol,
        skew_fraction=skew_now,
        skew_average=after.skew_average,
        scale=target_scale(params, vol, after.skew_average),
        state=after,
    )
