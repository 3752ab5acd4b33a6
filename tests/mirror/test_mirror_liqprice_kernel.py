"""The fast mode's compiled liquidation-price walk (:func:`simulator.mirror.liqprice._grid_kernel`)
against the array form it replaced on grids (the same function with the kernel turned off), to
the bit (signed zeros included, NaN where NaN): seeded draws of sizes (zero, both signs, NaN),
entries, other equity (negative, zero, huge), base and tier rates that reach the 100% cap,
0-3 tiers, empty and one-position grids; and the liquidation prices of a real opened book."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.mirror import bench_scenario
from simulator.mirror import liqprice
from simulator.mirror.sim import MirrorEngine

WAD = 1e18


def _array_form(monkeypatch: pytest.MonkeyPatch, *args: np.ndarray) -> np.ndarray:
    with monkeypatch.context() as m:
        m.setattr(liqprice, "_fits_kernel", lambda *a: False)
        return liqprice.liquidation_price(*args)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    nan = np.isnan(a) & np.isnan(b)
    return bool(((a.view(np.int64) == b.view(np.int64)) | nan).all())


def _grid(rng: np.random.Generator, accounts: int, markets: int, tiers: int) -> tuple:
    shape = (accounts, markets)
    size = rng.lognormal(0.0, 3.0, shape) * rng.choice([-1.0, 1.0], shape) * WAD
    kind = rng.random(shape)
    size = np.where(kind < 0.1, 0.0, size)
    size = np.where((kind >= 0.1) & (kind < 0.13), -0.0, size)
    size = np.where((kind >= 0.13) & (kind < 0.15), np.nan, size)
    entry = rng.lognormal(np.log(100.0), 2.0, shape) * WAD
    collateral = rng.normal(0.0, 1.0, shape) * rng.lognormal(8.0, 4.0, shape) * WAD
    collateral = np.where(rng.random(shape) < 0.05, 0.0, collateral)
    mmf = rng.uniform(0.001, 0.6, markets) * WAD
    scale = rng.choice([1.0, 1.5, 3.0, 40.0], markets) * WAD  # 40x takes some rates to 100%
    floor = np.sort(rng.lognormal(10.0, 3.0, (markets, tiers)), axis=1) * WAD
    tier_mmf = rng.uniform(0.0, 0.7, (markets, tiers)) * WAD
    return size, entry, collateral, mmf, floor, tier_mmf, scale


@pytest.mark.parametrize("seed", range(5))
def test_kernel_equals_array_form(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    for accounts, markets, tiers in ((300, 4, 3), (200, 3, 1), (50, 2, 0), (1, 1, 2), (0, 3, 2)):
        args = _grid(rng, accounts, markets, tiers)
        assert liqprice._fits_kernel(*args)
        got = liqprice.liquidation_price(*args)
        want = _array_form(monkeypatch, *args)
        assert _same_bits(got, want), (accounts, markets, tiers)
        assert accounts < 100 or (np.count_nonzero(got) > accounts // 2)  # prices were found


def test_opened_book_prices_equal_array_form(monkeypatch: pytest.MonkeyPatch) -> None:
    v = MirrorEngine(bench_scenario(None, ["traders.count=60"], None, None), mode="fast").venue
    book = v.book(np.arange(len(v.collateral)))
    got = liqprice.position_liquidation_prices(book, v.price, v.markets, v.funding())
    with monkeypatch.context() as m:
        m.setattr(liqprice, "_fits_kernel", lambda *a: False)
        want = liqprice.position_liquidation_prices(book, v.price, v.markets, v.funding())
    assert np.count_nonzero(got) > 40
    assert _same_bits(got, want)
