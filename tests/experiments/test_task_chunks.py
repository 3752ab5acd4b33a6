"""A tune batch's mirror tasks in shrinking chunks (:func:`~simulator.experiments.evaluate.
guided_bounds`, queued by :func:`~simulator.experiments.evaluate.largest_first`, session 30):
the bounds cover every path once, in order, each task at least a path and the last ones single
paths; the summaries joined from the chunks' results are those of one task of all the paths
(as a tune joins them: by first path index), for a small scenario on the mirror."""

from __future__ import annotations

import math

import numpy as np
import pytest
from experiment_helpers import small_scenario

from simulator.experiments import evaluate as evaluate_module
from simulator.experiments.evaluate import evaluate, guided_bounds, largest_first, split
from simulator.scenario import path_seeds


@pytest.mark.parametrize("paths", [1, 2, 3, 4, 7, 32, 33, 200])
@pytest.mark.parametrize("per_set", [0.5, 1, 1.5, 2, 4])
def test_guided_bounds_cover_every_path_in_shrinking_tasks(paths: int, per_set: float) -> None:
    bounds = guided_bounds(paths, per_set)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == paths
    assert (sizes >= 1).all()
    assert (np.diff(sizes) <= 0).all()  # never a larger task after a smaller one
    assert sizes[-1] == 1
    share = 2 * max(1.0, per_set)
    assert sizes[0] == max(1, math.ceil(paths / share))
    # about log(paths) tasks: far fewer than one per path for many paths
    assert len(sizes) <= 2 * share * (1 + math.log(max(paths, 1)))


def test_split_by_bounds_and_largest_first() -> None:
    assert guided_bounds(32, 1) == [0, 16, 24, 28, 30, 31, 32]  # two trials on two workers
    seeds = list(range(10, 42))
    bounds = guided_bounds(len(seeds), 1)
    a = split({"x": 1}, seeds, "mirror", {}, key=(0,), bounds=bounds)
    b = split({"x": 2}, seeds, "mirror", {}, key=(1,), bounds=bounds)
    assert [t.seeds for t in a] == [
        tuple(seeds[lo:hi]) for lo, hi in zip(bounds, bounds[1:], strict=False)
    ]
    assert [t.key for t in a] == [(0, lo) for lo in bounds[:-1]]
    queue = largest_first(a + b)
    assert [len(t.seeds) for t in queue] == sorted((len(t.seeds) for t in a + b), reverse=True)
    assert [t.key[0] for t in queue[:4]] == [0, 1, 0, 1]  # the sets alternate
    with pytest.raises(ValueError, match="bounds"):
        split({}, seeds, "mirror", {}, bounds=[0, 5])
    # the chain: one task per path whatever the bounds
    assert len(split({}, seeds[:3], "chain", {}, bounds=[0, 3])) == 3


def test_chunked_summaries_equal_one_task(monkeypatch) -> None:
    # not this test process's heap frozen (a worker's, test_worker_heap.py)
    monkeypatch.setattr(evaluate_module, "freeze_long_lived_heap", lambda: False)
    scenario = small_scenario()
    seeds = path_seeds(scenario.seed, 5)
    data = scenario.to_dict()
    overrides = {"controls.insurance_fund_usd": 2e5}
    (whole,) = split(overrides, seeds, "mirror", data, key=(0,))
    want = evaluate(whole)["summaries"]
    got: dict[int, list] = {}
    for task in largest_first(split(overrides, seeds, "mirror", data, key=(0,),
                                    bounds=guided_bounds(len(seeds), 1))):  # fmt: skip
        got[task.key[1]] = evaluate(task)["summaries"]
    assert [s for i in sorted(got) for s in got[i]] == want
