"""The spot book's levels held to the numpy formulation they replaced, bit for bit on drawn
reserves (empty pools included): :meth:`simulator.mirror.sim.spot.IntBook.levels` (element by
element in Python floats) and :meth:`~simulator.mirror.sim.spot.SpotBook.levels` (the
compiled digits' correctly rounded quotients, :mod:`simulator.mirror.jit_amm`)."""

from __future__ import annotations

import numpy as np

from simulator.mirror.sim.spot import IntBook, SpotBook
from simulator.units import from_units, from_wad


def numpy_levels(book: IntBook) -> dict[str, np.ndarray]:
    """The levels as numpy computed them before: arrays, then one guarded division."""
    reserve_usd = np.array([from_units(r) for r in book.reserve_collateral])
    reserve_base = np.array([from_wad(r) for r in book.reserve_base])
    with np.errstate(divide="ignore", invalid="ignore"):
        price = np.where(reserve_base > 0, reserve_usd / reserve_base, np.nan)
    return {"amm_reserve_usd": reserve_usd, "amm_reserve_base": reserve_base,
            "amm_price_usd": price}  # fmt: skip


def test_the_spot_levels_equal_the_numpy_formulation_bit_for_bit():
    rng = np.random.default_rng(77)
    for _ in range(2_000):
        m = int(rng.integers(1, 7))
        collateral = [int(x) for x in rng.integers(0, 10**15, m)]
        base = [int(x) * 10 ** int(e) for x, e in zip(rng.integers(0, 10**9, m),
                                                       rng.integers(0, 14, m), strict=True)]  # fmt: skip
        for i in range(m):
            if rng.random() < 0.1:
                base[i] = 0
            if rng.random() < 0.1:
                collateral[i] = 0
        book = IntBook(reserve_collateral=collateral, reserve_base=base, fee_bps=[30] * m)
        expected = numpy_levels(book)
        for got in (book.levels(), SpotBook(book, []).levels()):
            assert got.keys() == expected.keys()
            for key in got:
                assert got[key].dtype == np.float64
                assert got[key].tobytes() == expected[key].tobytes(), key
