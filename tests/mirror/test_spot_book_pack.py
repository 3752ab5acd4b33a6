"""A step's swaps on packed arguments (:func:`simulator.mirror.jit_amm.execute_packed`, the
mirror's call: the book's digits in one array, the spot agents' inventories in another) held to
:func:`~simulator.mirror.jit_amm.execute` on separate arrays: the same digits, levels,
inventories (to the bit) and return, on drawn books and rows."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.engine import jit_spot
from simulator.mirror import jit_amm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_jit_amm import _books, _rows, _state  # noqa: E402


@pytest.mark.parametrize("seed", range(6))
def test_the_packed_swaps_are_the_separate_arrays_swaps(seed):
    rng = np.random.default_rng(seed)
    n_markets, n_arbs = int(rng.integers(1, 5)), int(rng.integers(0, 4))
    book, _, arbs = _books(rng, n_markets, n_arbs, bits=int(rng.choice([80, 100, 140])))
    state = _state(rng, n_markets, n_arbs)
    inventories, parts = jit_spot.inventory_pack(n_markets, n_arbs)
    for part, name in zip(parts, jit_spot.INVENTORY_PACK, strict=True):
        part[...] = getattr(state, name)
    levels = book._levels.copy()
    digits = book._pack.copy()
    for _ in range(5):
        rows = _rows(rng, int(rng.integers(0, 12)), n_markets, n_arbs)
        start = int(rng.integers(0, 2)) if len(rows) else 0
        want = jit_amm.execute(
            rows, start, book._no_amount, book.reserves, book.fee_bps, book.collateral,
            book.base, n_arbs, book._levels, state.hedged_base, state.hedger_inventory,
            state.arb_inventory,
        )  # fmt: skip
        got = jit_amm.execute_packed(rows, start, book._no_amount, digits, levels, inventories)
        assert got == want
        scratch = jit_amm.WORKSPACE_ROWS * (jit_amm.SCRATCH + 1) + jit_amm.FLAT + n_markets
        parts_end = len(digits) - scratch  # the scratch at the end may differ
        assert digits[:parts_end].tolist() == book._pack[:parts_end].tolist()
        assert levels.tobytes() == book._levels.tobytes()
        want_inventories = np.concatenate([
            state.hedged_base, state.hedger_inventory.ravel(), state.arb_inventory.ravel()])  # fmt: skip
        assert inventories.tobytes() == want_inventories.tobytes()
