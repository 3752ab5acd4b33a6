"""MarginUnits.notional_sums (session 26: the mirror's per-row notional and its per-unit sums
in one compiled pass) equals, float for float, the numpy form it replaces in the mirror's step
(``size * price.take(market)`` then :meth:`MarginUnits.unit_sum`, each unit's rows added in
row order from 0.0: kept below as the reference), on drawn books: empty, one row, NaN and infinite sizes, units of many
rows."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.margin import MarginUnits


def reference(units: MarginUnits, size, price, market):
    row = size * price.take(market)
    return row, units.unit_sum(row)


def _units(unit_of_row: np.ndarray, count: int) -> MarginUnits:
    return MarginUnits(
        unit_of_row=unit_of_row, account=np.arange(count, dtype=np.int64),
        isolated=np.zeros(count, dtype=bool), market=np.full(count, -1, dtype=np.int64),
    )  # fmt: skip


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("n", [0, 1, 2, 7, 300, 5000])
@pytest.mark.parametrize("seed", range(3))
def test_notional_sums_equal_take_multiply_and_bincount(n, seed):
    rng = np.random.default_rng(seed * 1000 + n)
    m = int(rng.integers(1, 5))
    count = int(rng.integers(0, n + 1)) + (1 if n else 0)
    unit_of_row = rng.integers(0, max(count, 1), n).astype(np.int64)
    count = max(count, int(unit_of_row.max()) + 1 if n else 0)
    market = rng.integers(0, m, n).astype(np.int64)
    size = rng.lognormal(0.0, 3.0, n)
    size[rng.random(n) < 0.1] = 0.0
    if n > 5:
        size[rng.integers(0, n)] = np.nan
        size[rng.integers(0, n)] = np.inf
    price = rng.lognormal(5.0, 2.0, m)
    units = _units(unit_of_row, count)
    want_row, want_sum = reference(units, size, price, market)
    got_row, got_sum = units.notional_sums(size, price, market)
    if n:  # and the sums as np.bincount adds them (nonempty: bincount of nothing is int64)
        assert _same(got_sum, np.bincount(unit_of_row, weights=want_row, minlength=count))
    assert _same(got_row, want_row)
    assert _same(got_sum, want_sum)


def test_notional_sums_refuse_rows_of_another_book():
    units = _units(np.zeros(3, dtype=np.int64), 1)
    with pytest.raises(ValueError, match="notional_sums"):
        units.notional_sums(np.ones(2), np.ones(1), np.zeros(2, dtype=np.int64))
