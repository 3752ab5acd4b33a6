"""The mirror's WAD-to-float conversions of a float64 array (fast mode) held to the
element-by-element ones they replaced, bit for bit on drawn values
(:func:`simulator.mirror.sim.levels.floats`, :func:`~simulator.mirror.sim.levels.wad_array`)."""

from __future__ import annotations

import numpy as np

from simulator.mirror.sim.levels import floats, to_float, wad_array
from simulator.units import from_wad, from_wad_array


def drawn_wad_floats(n: int) -> list[np.ndarray]:
    """``n`` float64 arrays of WAD values: WAD-sized magnitudes of both signs, integers,
    zeros of both signs, tiny and huge values, NaN and infinities."""
    rng = np.random.default_rng(1205)
    out = []
    for _ in range(n):
        m = int(rng.integers(0, 8))
        x = rng.normal(0, 1, m) * 10.0 ** rng.integers(-5, 40, m)
        whole = rng.random(m) < 0.2
        x[whole] = np.round(x[whole])
        specials = np.array([0.0, -0.0, 5e-324, 1e308, np.nan, np.inf, -np.inf, 1e18, 3.0])
        pick = rng.random(m) < 0.15
        x[pick] = rng.choice(specials, int(pick.sum()))
        out.append(x.astype(np.float64))
    return out


def test_floats_of_a_float_array_equal_the_element_by_element_division():
    for x in drawn_wad_floats(3_000):
        expected = np.array([to_float(v) for v in x], dtype=np.float64)
        assert floats(x).tobytes() == expected.tobytes()
        assert wad_array(x).tobytes() == from_wad_array(list(x)).tobytes()


def test_exact_mode_ints_still_go_through_the_correctly_rounded_division():
    values = np.array([10**18 + 1, -(3 * 10**35) - 7, 0, 123456789123456789123], dtype=object)
    assert floats(values).tolist() == [from_wad(int(v)) for v in values]
    assert wad_array(values).tolist() == from_wad_array(list(values)).tolist()
