"""``perpsim bench sweep``: sweep throughput on 1 and 2 local worker processes and on a Dask
LocalCluster of 2 workers, side by side in one run.

The workload is a sweep's: ``points`` values of ``controls.insurance_fund_usd`` (a grid axis
whose values change what the runs compute, not how long they take) x ``paths`` price paths,
each a separate evaluation (:func:`simulator.experiments.evaluate.evaluate`) run through
:func:`simulator.experiments.executors.run_all`, the loop ``perpsim sweep`` and ``perpsim
tune`` use. Each executor is started and warmed up first (every worker runs one short
evaluation: imports, contract artifacts), so the timed part is throughput, not start-up; the
start-up is reported beside it.

Targets (issue 12): 2 workers >= 1.6x the runs per second of 1 worker; the Dask LocalCluster
no slower than the 2-worker pool by more than 10%. The machine has 2 cores, shared with
whatever else runs: the figures say what this run measured, not a ceiling.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from simulator.experiments.evaluate import check_engine, evaluate, split
from simulator.experiments.executors import open_executor, run_all
from simulator.scenario import load_scenario, path_seeds

#: The bench scenario's default overrides: oct-2025 (five markets) cut to a few seconds per
#: run on revm: 300 accounts, 120 steps, its two shocks at step 30 over 15 steps, recovering
#: over 30.
DEFAULT_OVERRIDES = (
    "steps=120",
    "traders.count=300",
    *(f"price_path.shocks[{i}].{key}={value}" for i in (0, 1)
      for key, value in (("step", 30), ("over_steps", 15), ("recovery_steps", 30))),
)  # fmt: skip
#: The configurations measured: (name, workers, dask address).
CONFIGURATIONS = (("pool-1", 1, None), ("pool-2", 2, None), ("dask-local-2", 2, "local"))
TARGET_SPEEDUP, TARGET_DASK_SLOWDOWN = 1.6, 1.10


def _tasks(scenario: Any, points: int, paths: int, engine: str, backend: str) -> list[Any]:
    data = scenario.to_dict()
    seeds = path_seeds(scenario.seed, paths)
    tasks = []
    for p in range(points):
        fund = 250_000.0 * (p + 1)
        tasks += split({"controls.insurance_fund_usd": fund}, seeds, engine, data, backend,
                       key=(p,))  # fmt: skip
    return tasks


def _measure(name: str, workers: int, dask: str | None, warmup: Sequence[Any],
             tasks: Sequence[Any]) -> dict[str, Any]:  # fmt: skip
    start = time.perf_counter()
    executor = open_executor(workers, dask)
    try:
        run_all(executor, evaluate, list(warmup[:workers]), lambda r: None)
        ready = time.perf_counter()
        errors: list[str] = []
        run_all(executor, evaluate, list(tasks),
                lambda r: errors.append(r["error"]) if "error" in r else None)  # fmt: skip
        seconds = time.perf_counter() - ready
    finally:
        executor.close()
    if errors:
        from simulator.experiments import ExperimentError

        raise ExperimentError(f"bench sweep ({name}): {errors[0]}")
    runs = sum(len(t.seeds) for t in tasks)
    return {
        "workers": workers,
        "executor": executor.description,
        "startup_seconds": round(ready - start, 3),
        "seconds": round(seconds, 3),
        "runs": runs,
        "runs_per_s": round(runs / seconds, 3),
    }


def run(
    scenario: str = "oct-2025",
    overrides: Sequence[str] = (),
    points: int = 4,
    paths: int = 4,
    engine: str = "chain",
    backend: str = "revm",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure every configuration of :data:`CONFIGURATIONS` on the same tasks.

    Returns
    -------
    dict
        ``scenario``, ``overrides``, ``points``, ``paths``, ``engine``, ``backend``,
        ``configurations`` (name -> ``workers``, ``executor``, ``startup_seconds``, ``seconds``,
        ``runs``, ``runs_per_s``), ``speedup_2_over_1`` (runs/s ratio), ``dask_over_pool``
        (the LocalCluster's seconds / the 2-worker pool's), and whether each target is met.
    """
    check_engine(engine, backend)
    sc = load_scenario(scenario, [*DEFAULT_OVERRIDES, *overrides])
    tasks = _tasks(sc, points, paths, engine, backend)
    short = sc.with_overrides({"steps": 35, "traders.count": 20})
    warmup = _tasks(short, 2, 1, engine, backend)
    figures: dict[str, Any] = {}
    for name, workers, dask in CONFIGURATIONS:
        if progress:
            progress(f"{name}: {len(tasks)} evaluations ({points} points x {paths} paths)")
        figures[name] = _measure(name, workers, dask, warmup, tasks)
    speedup = figures["pool-2"]["runs_per_s"] / figures["pool-1"]["runs_per_s"]
    dask_ratio = figures["dask-local-2"]["seconds"] / figures["pool-2"]["seconds"]
    return {
        "scenario": sc.name,
        "overrides": [*DEFAULT_OVERRIDES, *overrides],
        "points": points,
        "paths": paths,
        "engine": engine,
        "backend": backend if engine == "chain" else None,
        "configurations": figures,
        "speedup_2_over_1": round(speedup, 3),
        "dask_over_pool": round(dask_ratio, 3),
        "speedup_target": TARGET_SPEEDUP,
        "speedup_target_met": speedup >= TARGET_SPEEDUP,
        "dask_target": TARGET_DASK_SLOWDOWN,
        "dask_target_met": dask_ratio <= TARGET_DASK_SLOWDOWN,
    }


__all__ = ["DEFAULT_OVERRIDES", "CONFIGURATIONS", "run"]
