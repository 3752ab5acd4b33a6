"""The order flow's per-step glue held to what it replaced: the ``order_flow_unfilled``
row's detail written out equals ``json.dumps`` of its dict for every kind and drawn counts;
the slots' ``row_list`` is ``rows`` as Python ints."""

from __future__ import annotations

import json

import numpy as np

from simulator.engine.flow import slot_layout, unfilled_detail
from simulator.engine.margin import MarginUnits
from simulator.scenario.flow import FLOW_KINDS


def test_the_unfilled_detail_equals_json_dumps_of_its_dict():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 10**6, size=(500, 2)).tolist() + [[0, 0], [1, 0], [10**12, 7]]
    for kind in FLOW_KINDS:
        for arrivals, unfilled in counts:
            expected = json.dumps({"kind": kind, "arrivals": arrivals, "unfilled": unfilled})
            assert unfilled_detail(kind, arrivals, unfilled) == expected


def test_the_slot_layout_row_list_is_the_rows_as_python_ints():
    from types import SimpleNamespace

    n = 12
    book = SimpleNamespace(
        account=np.arange(n), market=np.arange(n) % 3, isolated=np.zeros(n, dtype=bool),
        n_accounts=n, collateral_usd=np.linspace(100.0, 200.0, n),
    )  # fmt: skip
    units = MarginUnits.of_book(book)
    rows = np.arange(4, n)
    layout = slot_layout(book, units, rows)
    assert layout["row_list"] == [int(r) for r in rows]
    assert all(type(r) is int for r in layout["row_list"])


def test_pick_slots_on_the_runs_slot_groups_equals_the_groups_it_computes():
    from simulator.agents.flow import pick_slots, slot_groups

    rng = np.random.default_rng(8)
    for _ in range(300):
        n, n_markets = int(rng.integers(1, 400)), int(rng.integers(1, 7))
        kind = rng.integers(0, len(FLOW_KINDS), n)
        market = rng.integers(0, n_markets, n)
        eligible = rng.random(n) < rng.random()
        keys = rng.random(n)
        counts = rng.integers(0, 20, (len(FLOW_KINDS), n_markets))
        rows, unfilled = pick_slots(counts, eligible, kind, market, keys)
        groups = slot_groups(kind, market, n_markets)
        got_rows, got_unfilled = pick_slots(counts, eligible, kind, market, keys, groups)
        assert got_rows.tobytes() == rows.tobytes() and got_rows.dtype == rows.dtype
        assert got_unfilled.tobytes() == unfilled.tobytes()


def test_finite_or_zero_equals_the_where_formulation_bit_for_bit():
    from simulator.agents.flow import _finite_or_zero

    rng = np.random.default_rng(21)
    for _ in range(500):
        x = rng.normal(0, 1, int(rng.integers(1, 8)))
        if rng.random() < 0.5:
            x[rng.random(len(x)) < 0.3] = rng.choice([np.nan, np.inf, -np.inf, -0.0])
        expected = np.where(np.isfinite(x), x, 0.0)
        assert _finite_or_zero(x.copy()).tobytes() == expected.tobytes()
