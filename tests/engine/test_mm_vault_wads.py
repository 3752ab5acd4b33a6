"""The vault's quote WADs compiled (:func:`simulator.engine.mm_vault_jit.quote_wads`, its
:func:`~simulator.engine.mm_vault_jit.round12` and
:func:`~simulator.engine.mm_vault_jit.shortest_decimal`) held to the Python they replaced,
``to_wad(round(x, 12))`` of a trade's size and ``to_wad(price × (1 ∓ q))`` of its bound, on
drawn floats: many magnitudes and signs, whole numbers, short decimals, sizes next to a half of
1e-12 and exact ties (odd multiples of 2**-13), powers of two, and the values left to Python
(NaN, infinities, too small, too large), which the kernel must flag rather than get wrong."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from simulator.engine import mm_vault_jit as jit
from simulator.units import to_wad

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0**40, 2.0**-20, 0.1, 0.3, 2.675, 1e-12, 5e-13, 1e-18,
         1e-19, 8191.999999999999, 8192.0, 8192.5, 9007199254740991.0, 2.0**53, 1e300, 5e-324,
         123456.789, 99999.99999999999, 0.01, 0.009999999999999998, 1e7 + 0.5]  # fmt: skip


def drawn(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    near_half = (rng.integers(1, 10**15, 20_000) + 0.5) / 1e12
    toward = np.where(rng.random(20_000) < 0.5, 0.0, np.inf)
    values = np.concatenate(
        [
            rng.lognormal(0, 6, 40_000),
            -rng.lognormal(2, 4, 10_000),
            near_half,
            np.nextafter(near_half, toward),
            (2 * rng.integers(0, 2**20, 5_000) + 1) / 8192.0,  # x × 1e12 ends in .5 exactly
            rng.integers(1, 10**8, 5_000) / 1e4,  # short decimals
            rng.integers(-(10**6), 10**6, 2_000).astype(np.float64),
            np.ldexp(1.0, rng.integers(-40, 50, 500)),
            110_000.0 * (1.0 + rng.choice([-1, 1], 5_000) * 2e-4) * rng.random(5_000),
            np.array(EDGES),
        ]
    )
    return values


def _wad(digits: int, scale: int) -> int:
    return digits * 10 ** (18 - scale)


def test_shortest_decimal_gives_to_wads_integer_or_leaves_it_to_python():
    values = drawn(1)
    decided = left = 0
    for y in values.tolist():
        digits, scale = jit.shortest_decimal(y)
        if scale == jit.IN_PYTHON:  # only what it must leave
            outside = not (0.0 < abs(y) < 2.0**53) or abs(math.frexp(y)[0]) == 0.5
            assert outside or Decimal(repr(y)).as_tuple().exponent < -18, y
            left += 1
            continue
        decided += 1
        assert _wad(digits, scale) == to_wad(y), y
    assert decided > 0.9 * len(values) and left > 0


def test_round12_is_pythons_round_to_12_decimals():
    values = np.concatenate([drawn(2), [np.nan, np.inf, -np.inf]])
    for x in values.tolist():
        assert repr(jit.round12(x)) == repr(round(x, 12)) or math.isnan(x), x


def test_quote_wads_equal_the_python_wads_of_the_trades_and_their_bounds():
    rng = np.random.default_rng(3)
    sizes = drawn(4)
    sizes = sizes[np.isfinite(sizes)]
    n = len(sizes)
    prices = rng.lognormal(3, 4, n)
    quote = rng.choice([0.0, 2e-4, 1e-3, 0.3], n)
    wads = np.zeros((4, n), dtype=np.int64)
    jit.quote_wads(sizes, prices, quote, wads)
    digits, scales, bound_digits, bound_scales = wads.tolist()
    counts = {"trades": 0, "in_python": 0, "bounds": 0}
    for m, x in enumerate(sizes.tolist()):
        delta = to_wad(round(x, 12)) if x != 0 else 0
        if scales[m] == jit.NO_TRADE:
            assert delta == 0, x
            continue
        if scales[m] == jit.IN_PYTHON:
            counts["in_python"] += 1
            assert bound_scales[m] == jit.IN_PYTHON
            continue
        counts["trades"] += 1
        assert _wad(digits[m], scales[m]) == delta != 0, x
        q = quote[m]
        bound = to_wad(prices[m] * (1.0 - q if delta > 0 else 1.0 + q))
        if bound_scales[m] != jit.IN_PYTHON:
            counts["bounds"] += 1
            assert _wad(bound_digits[m], bound_scales[m]) == bound, (x, prices[m], q)
    assert counts["trades"] > 0.95 * n and counts["bounds"] > 0.9 * n, counts


def test_quote_wads_of_an_empty_venue_write_nothing():
    wads = np.zeros((4, 0), dtype=np.int64)
    jit.quote_wads(np.zeros(0), np.zeros(0), np.zeros(0), wads)
    assert wads.shape == (4, 0)
