"""A worker that ran a mirror task keeps its long-lived objects out of later full collections
(:func:`simulator.experiments.evaluate.freeze_long_lived_heap`), and its results do not change.

Run in a spawned worker, as tune and sweep run their tasks: freezing the test process's own
heap would change how every later test's garbage is collected."""

from __future__ import annotations

import gc
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from experiment_helpers import small_scenario

from simulator.experiments.evaluate import evaluate, split
from simulator.mirror.run import run_paths


def _frozen_count(_: object = None) -> int:
    return gc.get_freeze_count()


def test_a_worker_freezes_its_heap_once_after_its_first_mirror_task():
    scenario = small_scenario(steps=8)
    (first,) = split({}, [11], "mirror", scenario.to_dict())
    (second,) = split({}, [12], "mirror", scenario.to_dict())
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        before = pool.submit(_frozen_count).result()
        a = pool.submit(evaluate, first).result()
        frozen = pool.submit(_frozen_count).result()
        b = pool.submit(evaluate, second).result()
        after = pool.submit(_frozen_count).result()
    assert before == 0
    assert frozen > 10_000  # the modules and kernels a mirror task imports and loads
    # Once a process: the second task's objects are not frozen (a frozen object its last
    # reference left is still freed, so the count can only fall).
    assert frozen - 1_000 < after <= frozen
    # The same figures as a process that never froze anything (this one, through run_paths).
    unfrozen = [{k: v for k, v in s.items() if k != "wall_seconds"}
                for s in run_paths(scenario, [11, 12], mode="fast")]  # fmt: skip
    assert [*a["summaries"], *b["summaries"]] == unfrozen
    assert gc.get_freeze_count() == 0
