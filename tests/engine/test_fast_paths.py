"""The engine's fast paths give exactly what the paths they replace give."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from simulator.units import USD_UNITS, WAD, to_units, to_wad


def _floats(n: int) -> np.ndarray:
    rng = np.random.default_rng(23)
    mantissa = rng.uniform(-1.0, 1.0, n)
    exponent = rng.integers(-9, 17, n).astype(np.float64)
    values = mantissa * 10.0**exponent
    # Prices as the engine posts them (rounded to 8 decimals), whole numbers, and edge cases.
    return np.concatenate(
        [
            values,
            np.round(values, 8),
            np.round(values, 12),
            np.trunc(values),
            [0.0, -0.0, 1e-5, 1e-4, 0.1, 0.3, 1e15, 9.999999999999998e15, 1e16, 1e22, -2.5],
        ]
    )


def test_to_wad_and_to_units_equal_the_decimal_product():
    for x in _floats(20_000).tolist():
        assert to_wad(x) == int(Decimal(str(x)) * WAD), x
        assert to_units(x) == int(Decimal(str(x)) * USD_UNITS), x


def test_to_wad_refuses_what_decimal_refuses():
    with pytest.raises((ValueError, OverflowError)):
        to_wad(float("inf"))
    with pytest.raises(ValueError):
        to_wad(float("nan"))
    assert to_wad(3) == 3 * WAD
    assert to_wad(Decimal("1.25")) == 125 * 10**16
