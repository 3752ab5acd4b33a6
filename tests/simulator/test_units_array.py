"""``to_units_array`` (:mod:`simulator.units`) against the per-value ``to_units`` it replaces in
the mirror's setup (``to_units(c)`` of each ``np.float64`` of an array, and ``to_units(float(w))``),
on seeded draws: log-spread amounts, amounts rounded to 0-8 decimals, exact multiples of 1e-6
and their float neighbours (the ties of the truncation), negatives, zeros of both signs, tiny
values whose repr has an exponent, values on both sides of the vectorized range's bound, empty
and one-element arrays; NaN and infinities refused as ``to_units`` refuses them."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.units import _UNITS_ARRAY_MAX_USD, to_units, to_units_array


def _old(values: np.ndarray) -> np.ndarray:
    """The per-value form the mirror's setup used."""
    return np.array([to_units(c) for c in values], dtype=np.int64)


def _draws(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spread = rng.lognormal(4.0, 3.0, 4000)
    rounded = np.array(
        [
            round(float(v), int(d))
            for v, d in zip(spread[:2000], rng.integers(0, 9, 2000), strict=True)
        ]
    )
    multiples = rng.integers(0, 10**12, 2000) / 1e6
    ulp = np.spacing(multiples)
    neighbours = np.concatenate([multiples + ulp, multiples - ulp, np.nextafter(multiples, 0)])
    edges = np.array([0.0, -0.0, 1e-7, 5e-7, 9.99999e-7, 1e-6, 1.5e-5, 1e-4, 0.1, 0.3, 2.675,
                      _UNITS_ARRAY_MAX_USD, np.nextafter(_UNITS_ARRAY_MAX_USD, 0), 3e9, 1.25e12])  # fmt: skip
    values = np.concatenate([spread, rounded, multiples, neighbours, edges])
    signs = np.where(rng.random(len(values)) < 0.1, -1.0, 1.0)
    return rng.permutation(values * signs)


@pytest.mark.parametrize("seed", range(6))
def test_to_units_array_equals_per_value(seed: int) -> None:
    values = _draws(seed)
    got = to_units_array(values)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, _old(values))
    np.testing.assert_array_equal(got, [to_units(float(v)) for v in values])


def test_to_units_array_shapes_and_refusals() -> None:
    assert to_units_array(np.zeros(0)).tolist() == []
    assert to_units_array([1234.5678919]).tolist() == [to_units(1234.5678919)]
    assert to_units_array([0.1, 0.7, 4.35]).tolist() == [100000, 700000, 4350000]
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises((ValueError, OverflowError)):
            to_units(bad)
        with pytest.raises((ValueError, OverflowError)):
            to_units_array([1.0, bad])
