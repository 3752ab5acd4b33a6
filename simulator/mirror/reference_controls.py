"""The obviously-correct reference of :mod:`simulator.mirror.controls`: plain Python integers,
line by line after ``Oracle`` (its ring of cumulative observations, ``pushPrice`` and
``twap`` with the binary search), ``VenueMarket.breaker`` and ``MarginControlMath`` /
``VenueMarginController.poke``. Units: WAD prices and fractions, seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.mirror.reference import BPS, WAD, mul_div, mul_div_ceil_u

YEAR = 365 * 86_400


class RefOracle:
    """``Oracle`` with a ring of ``max_twap_window + 1`` observations."""

    def __init__(self, created: int, price: int, max_twap_window: int) -> None:
        self.capacity = max_twap_window + 1
        self.max_twap_window = max_twap_window
        self.obs: dict[int, tuple[int, int]] = {0: (created, 0)}
        self.newest = 0
        self.count = 1
        self.price = price

    def push(self, now: int, price: int) -> None:
        ts, cum = self.obs[self.newest]
        if now > ts:
            cumulative = cum + self.price * (now - ts)
            self.newest = (self.newest + 1) % self.capacity
            self.obs[self.newest] = (now, cumulative)
            if self.count < self.capacity:
                self.count += 1
        self.price = price

    def _oldest(self) -> int:
        return 0 if self.count < self.capacity else (self.newest + 1) % self.capacity

    def _cumulative_at(self, now: int, t: int) -> int:
        ts, cum = self.obs[self.newest]
        if t >= ts:
            return cum + self.price * (t - ts)
        oldest = self._oldest()
        lo, hi = 0, self.count - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.obs[(oldest + mid) % self.capacity][0] <= t:
                lo = mid
            else:
                hi = mid
        a = self.obs[(oldest + lo) % self.capacity]
        b = self.obs[(oldest + hi) % self.capacity]
        return a[1] + (b[1] - a[1]) * (t - a[0]) // (b[0] - a[0])

    def twap(self, now: int, window: int) -> int:
        if window == 0:
            return self.price
        assert window <= self.max_twap_window
        oldest = self.obs[self._oldest()]
        start = now - window if now > window else 0
        if start < oldest[0]:
            start = oldest[0]
        if start >= now:
            return self.price
        return (self._cumulative_at(now, now) - self._cumulative_at(now, start)) // (now - start)


def breaker_tripped(price: int, reference: int, band_bps: int) -> bool:
    if band_bps == 0:
        return False
    move = price - reference if price > reference else reference - price
    return move * BPS > band_bps * reference


@dataclass
class RefControllerState:
    last_price: int
    last_time: int
    variance_rate: int = 0
    skew_sample: int = 0
    skew_sample_time: int = 0
    skew_average: int = 0


def skew_fraction(longs: int, shorts: int) -> int:
    if longs + shorts == 0:
        return 0
    return mul_div_ceil_u(abs(longs - shorts), WAD, longs + shorts)


def skew_average_at(s: RefControllerState, p: dict[str, int], skew_now: int, now: int) -> int:
    average = s.skew_average
    dt = now - s.skew_sample_time
    if dt == 0:
        return average
    held = min(s.skew_sample, skew_now)
    weight = min(dt, p["maxSkewSampleAge"])
    if held > average:
        return average + mul_div(held - average, weight, p["skewAveragingTime"])
    return average - mul_div(average - held, weight, p["skewAveragingTime"])


def observe(s: RefControllerState, p: dict[str, int], skew_now: int, price: int, now: int) -> None:
    s.skew_average = skew_average_at(s, p, skew_now, now)
    s.skew_sample = skew_now
    s.skew_sample_time = now
    dt = now - s.last_time
    if dt >= p["minInterval"] and dt != 0:
        last = s.last_price
        move = price - last if price > last else last - price
        r = mul_div_ceil_u(move, WAD, last)
        w = p["ewmaWeight"]
        s.variance_rate = mul_div(
            s.variance_rate * (WAD - w) * dt + mul_div_ceil_u(r, r, WAD) * w, 1, WAD * dt
        )
        s.last_price = price
        s.last_time = now


def volatility(s: RefControllerState) -> int:
    return math.isqrt(s.variance_rate * YEAR * WAD)


def target(p: dict[str, int], vol: int, skew_average: int) -> int:
    scale = WAD
    if vol > p["targetVolatility"]:
        ratio = mul_div_ceil_u(vol - p["targetVolatility"], WAD, p["targetVolatility"])
        scale += mul_div_ceil_u(p["volatilitySensitivity"], ratio, WAD)
    scale += mul_div_ceil_u(p["skewSensitivity"], skew_average, WAD)
    return min(max(scale, p["minScale"]), p["maxScale"])


def poke(s: RefControllerState, p: dict[str, int], longs: int, shorts: int, price: int,
         now: int) -> tuple[int, int, int, int, int]:  # fmt: skip
    """(price, volatility, skew fraction now, skew average after, scale); mutates `s`."""
    skew_now = skew_fraction(longs, shorts)
    observe(s, p, skew_now, price, now)
    vol = volatility(s)
    return price, vol, skew_now, s.skew_average, target(p, vol, s.skew_average)
