"""The spot plan on packed arguments (:func:`simulator.engine.jit_spot.plan_step_packed`, the
mirror's call: two packs for eight arrays) held to :func:`~simulator.engine.jit_spot.plan_step`
on separate arrays, bit for bit, on ``test_spot_kernel``'s drawn inputs; and the packs' parts
are views of them in the documented layout."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.engine import jit_spot

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_spot_kernel import _bits, _draw  # noqa: E402


def _params(x) -> np.ndarray:
    return np.ascontiguousarray(np.stack([x["fee"], x["sigma"], x["volume"]], axis=1))


def _separate(x):
    m, n = len(x["fee"]), x["arb"].shape[0]
    out = np.full((m * (n + 1), len(jit_spot.SWAP_COLUMNS)), np.nan)
    impacts = np.full((3, m), np.nan)
    count = jit_spot.plan_step(
        x["reserve_usd"], x["reserve_base"], x["oi_long"], x["oi_short"], x["hedged"],
        x["hedger"], x["arb"], x["exo"], x["t"], x["permanent"], x["transient"], x["metaorder"],
        _params(x), x["scalars"], impacts, out,
    )  # fmt: skip
    return out[:count], impacts


def _packed(x):
    m, n = len(x["fee"]), x["arb"].shape[0]
    pack, parts = jit_spot.plan_pack(_params(x), x["scalars"], n, m * (n + 1))
    parts["impact"][:] = [x["permanent"], x["transient"], x["metaorder"]]
    inventories, (hedged, hedger, arb) = jit_spot.inventory_pack(m, n)
    hedged[:], hedger[:], arb[:] = x["hedged"], x["hedger"], x["arb"]
    count = jit_spot.plan_step_packed(
        x["reserve_usd"], x["reserve_base"], x["oi_long"], x["oi_short"], inventories, x["exo"],
        x["t"], pack,
    )  # fmt: skip
    # the inventories are read only
    assert _bits(inventories) == _bits(np.concatenate([
        x["hedged"], x["hedger"].ravel(), x["arb"].ravel()]))  # fmt: skip
    return parts["out"][:count], parts["impact"]


@pytest.mark.parametrize("seed", range(200))
def test_the_packed_plan_is_the_separate_arrays_plan(seed):
    x = _draw(seed)
    want_rows, want_impacts = _separate(x)
    got_rows, got_impacts = _packed(x)
    assert _bits(got_rows) == _bits(want_rows)
    assert _bits(got_impacts) == _bits(want_impacts)


def test_the_packs_parts_are_views_in_their_layout():
    m, n, rows = 3, 2, 9
    params, scalars = np.arange(9.0).reshape(3, 3), np.arange(8.0) + 100
    pack, parts = jit_spot.plan_pack(params, scalars, n, rows)
    assert pack[: jit_spot.PLAN_HEADER].tolist() == [m, n, rows]
    i = jit_spot.PLAN_HEADER
    assert pack[i : i + 8].tolist() == scalars.tolist()
    assert pack[i + 8 : i + 17].tolist() == params.ravel().tolist()
    for name in ("params", "scalars", "impact", "out"):
        assert np.shares_memory(parts[name], pack) and parts[name].flags.c_contiguous
    inventories, (hedged, hedger, arb) = jit_spot.inventory_pack(m, n)
    assert (hedged.shape, hedger.shape, arb.shape) == ((m,), (m, 2), (n, m, 2))
    hedged[:], hedger[:], arb[:] = 1.0, 2.0, 3.0
    assert inventories.tolist() == [1.0] * m + [2.0] * 2 * m + [3.0] * 2 * n * m
