"""``perpsim bench run --repeat N``: N engine runs, each beside its ceiling replay, and the
median of their ratios."""

from __future__ import annotations

import pytest

from benchmarks.run import run_repeated
from simulator.errors import PerpsimError

SMALL = ["steps=20", "traders.count=20"]


def test_every_pair_is_measured_and_the_median_lies_among_them():
    figures = run_repeated("calm", SMALL, repeat=3, backend="revm")
    pairs = figures["pairs"]
    assert len(pairs) == 3
    ratios = sorted(p["ratio_to_ceiling"] for p in pairs)
    assert figures["ratio_to_ceiling_min"] == ratios[0]
    assert figures["ratio_to_ceiling_max"] == ratios[-1]
    assert figures["ratio_to_ceiling_median"] == pytest.approx(ratios[1], abs=1e-3)
    # The last pair's figures are the top-level ones.
    assert figures["ratio_to_ceiling"] == pairs[-1]["ratio_to_ceiling"]
    assert all(
        set(p) == {"engine_seconds", "raw_ceiling_seconds", "ratio_to_ceiling"} for p in pairs
    )


def test_one_pair_is_the_plain_benchmark_and_zero_is_refused():
    figures = run_repeated("calm", SMALL, repeat=1, backend="revm")
    assert "pairs" not in figures and figures["ratio_to_ceiling"] is not None
    with pytest.raises(PerpsimError, match="--repeat must be at least 1"):
        run_repeated("calm", SMALL, repeat=0, backend="revm")
