"""The order flow's WAD deltas without a decimal string per open: the compiled
:func:`simulator.mirror.sim.jit_calls.wad_of_size` is ``float(to_wad(round(size, 12)))``, bit
for bit (sign of zero included), wherever it gives a number (``|size| < 2**13``), and NaN
elsewhere; :func:`simulator.mirror.sim.flow.wad_delta`, the conversion of the sizes it leaves,
is ``float(side * to_wad(round(size, 12)))`` for every size, with its errors. Held on seeded
draws: uniform and log-uniform sizes, exact ties of the 12th decimal (``j / 2**13`` scaled by
powers of two), multiples of 1e-12 and their neighbours, the bounds, zeros and negatives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.mirror.sim import jit_calls
from simulator.mirror.sim.flow import wad_delta
from simulator.units import to_wad


def _python(size: float) -> float:
    return float(to_wad(round(size, 12)))


def _drawn_small(rng) -> list[float]:
    xs = list(rng.uniform(0.0, 8192.0, 6000)) + list(10 ** rng.uniform(-14, math.log10(8192), 6000))
    # exact ties of the 12th decimal: j / 2**13 (times 2**k) is a half of 1e-12 for odd j
    odd = rng.integers(0, 2**20, 3000) * 2 + 1
    xs += [float(j) / 8192 * 2.0**k for j, k in zip(odd, rng.integers(-30, 13, 3000), strict=True)]
    xs += [j / 8192 for j in range(1, 4000)]
    k = rng.integers(0, 8192 * 10**12, 3000).astype(np.float64)
    xs += list(k * 1e-12) + [float(np.nextafter(x, np.inf)) for x in k * 1e-12]
    xs += [float(np.nextafter(x, 0.0)) for x in k * 1e-12]
    xs += list(rng.integers(0, 8192, 2000) + rng.integers(0, 10**12, 2000) * 1e-12)
    xs += [0.0, 5e-13, 4.9999999999e-13, 5.0000000001e-13, 1e-13, 9.99e-14, 1e-300, 5e-324,
           8191.999999999999, float(np.nextafter(8192.0, 0.0)), 4096.0, 2.0**52 / 1e12]  # fmt: skip
    return [float(x) for x in xs if abs(x) < 8192.0]


def test_wad_of_size_equals_to_wad_of_round_below_the_bound():
    rng = np.random.default_rng(20261205)
    bad = []
    for x in _drawn_small(rng):
        for size in (x, -x):
            got, want = jit_calls.wad_of_size(size), _python(size)
            if not (got == want and math.copysign(1.0, got) == math.copysign(1.0, want)):
                bad.append((size, got, want))
    assert not bad, bad[:5]


def test_wad_of_size_is_nan_from_the_bound_on():
    for size in (8192.0, -8192.0, 8192.000000000002, 1e6, 1e17, -1e300, math.inf, -math.inf,
                 math.nan):  # fmt: skip
        assert math.isnan(jit_calls.wad_of_size(size)), size
    assert jit_calls.WAD_SIZE_MAX == 2.0**13


def test_wad_delta_equals_the_python_form_for_every_size():
    rng = np.random.default_rng(7)
    sizes = list(10 ** rng.uniform(math.log10(8192), 17.5, 6000)) + list(
        rng.uniform(8192.0, 1e6, 3000)
    )
    sizes += list(rng.integers(8192, 10**15, 2000).astype(np.float64))
    sizes += [8192.0, float(np.nextafter(8192.0, np.inf)), 1e16, 9999999999999998.0, 1.5e16,
              1e20, 1e200] + _drawn_small(rng)[::50]  # fmt: skip
    for size in sizes:
        for side in (1, -1):
            got, want = wad_delta(side, float(size)), float(side * to_wad(round(float(size), 12)))
            assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want), size


@pytest.mark.parametrize("size", [math.nan, math.inf, -math.inf, 1e300])
def test_wad_delta_raises_as_the_python_form(size):
    with pytest.raises((ValueError, OverflowError)) as want:
        float(to_wad(round(size, 12)))
    with pytest.raises(want.type):
        wad_delta(1, size)


def test_a_tie_rounded_away_from_even_is_caught(monkeypatch):
    """The check can fail: the ties' sizes alone, against a conversion that rounds ties up
    (the error term ignored), disagree with Python's."""
    ties = [j / 8192 for j in range(1, 400, 2)]
    wrong = [math.floor(x * 1e12 + 0.5) * 1e6 for x in ties]
    assert any(w != _python(x) for w, x in zip(wrong, ties, strict=True))
    assert all(jit_calls.wad_of_size(x) == _python(x) for x in ties)
