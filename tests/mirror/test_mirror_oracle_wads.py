"""The WAD the mirror's oracle posts for a price (:func:`simulator.mirror.sim.oracle.
posted_wad` of the compiled :func:`~simulator.mirror.sim.oracle._price_units`) held to the form
it replaced, ``to_wad(round(price, 8))`` (the chain engine's), on drawn prices: many magnitudes,
prices next to a half of 1e-8 on both sides, exact ties (odd multiples of 1/512: ``price *
1e8`` ends in .5 exactly), the range's edges and the values outside it (rounded in Python)."""

from __future__ import annotations

import numpy as np

from simulator.mirror.sim.oracle import _price_units, posted_wad
from simulator.units import to_wad

#: The range's edges, values outside it, and a few with a famous rounding (2.675).
EDGES = np.array([1e-4, np.nextafter(1e-4, 0), np.nextafter(1e7, 0), 1e7, 3e7, 0.0, -0.0, -1.0,
                  5e-324, 1e300, 123456.78901234, 0.1, 2.675])  # fmt: skip


def drawn_prices() -> np.ndarray:
    rng = np.random.default_rng(2705)
    near_half = (rng.integers(1, 10**15, 60_000) + 0.5) / 1e8
    toward = np.where(rng.random(60_000) < 0.5, 0.0, np.inf)
    return np.concatenate(
        [
            rng.lognormal(3, 3, 100_000),
            near_half,
            np.nextafter(near_half, toward),
            rng.integers(1, 2**22, 30_000) / 512.0,
            rng.integers(1, 10**13, 30_000) / 1e8,
            rng.integers(1, 10**7, 10_000).astype(np.float64),
            EDGES,
        ]
    )


def test_the_posted_wad_equals_to_wad_of_round_on_drawn_prices():
    prices = drawn_prices()
    units = _price_units(prices)
    compiled = ties = 0
    for price, unit in zip(prices.tolist(), units.tolist(), strict=True):
        assert posted_wad(price, unit) == to_wad(round(price, 8)), price
        compiled += unit == unit
        ties += unit == unit and (price * 512.0) % 2 == 1 and price * 1e8 % 1 == 0.5
    assert compiled > 0.99 * len(prices) and ties > 1_000


def test_nan_and_prices_outside_the_range_are_left_to_python():
    prices = np.array([np.nan, np.inf, -np.inf, 0.0, 9.99e-5, 1e7, -5.0, 2.5e-7])
    units = _price_units(prices)
    assert np.isnan(units).all()
    assert posted_wad(1e7, np.nan) == 10**25 and posted_wad(2.5e-7, np.nan) == 25 * 10**10
