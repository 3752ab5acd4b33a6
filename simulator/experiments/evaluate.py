"""One parameter set on K price paths on an engine -> one summary per path.

Path ``i`` of an experiment is the scenario with the parameter set applied and seed
``seeds[i]`` (:func:`simulator.scenario.path_seeds` of the scenario's seed, as ``perpsim
compare`` does): every parameter set of a sweep or a tune runs on the same paths, so
differences come from the parameters alone.

Engines:

- ``chain``: each path is a real run of the contracts (:func:`simulator.runner.run_scenario`,
  on the in-process revm backend by default, or anvil). The run folder goes to a temporary
  folder that is removed once its summary is read, unless the task names a folder to keep it
  in (the on-chain verification runs of ``perpsim tune``, which the app opens). A worker that
  starts anvil nodes stops them when the run ends.
- ``mirror``: the numpy mirror of the contract math (``simulator.mirror.run.run_paths``,
  vectorised over traders), the K paths in as many tasks as there are workers (one call of
  ``run_paths`` each: a mirror that vectorises over paths too gets them together).

:func:`evaluate` is the function every executor runs (a pool worker, a Dask worker): plain
data in (:class:`Evaluation`), plain data out, no exception crossing the process boundary for
a user-caused failure (its one-line message comes back instead).
"""

from __future__ import annotations

import gc
import math
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.errors import PerpsimError
from simulator.experiments import ExperimentError

if TYPE_CHECKING:
    from simulator.scenario import Scenario

ENGINES = ("mirror", "chain")
#: Summary keys left out of what an evaluation returns: they differ between two runs of the
#: same scenario and seed (:data:`simulator.results.schema.NONDETERMINISTIC_SUMMARY_KEYS`).
_DROPPED = ("wall_seconds",)


@dataclass(frozen=True)
class Evaluation:
    """One task: a parameter set on some paths."""

    scenario: dict[str, Any]
    """The base scenario as plain data (:meth:`Scenario.to_dict`)."""
    overrides: dict[str, Any]
    """The parameter set: override key -> value."""
    seeds: tuple[int, ...]
    """Seeds of the paths this task runs."""
    engine: str = "chain"
    """``chain`` or ``mirror``."""
    backend: str = "revm"
    """Chain backend (``revm`` or ``anvil``) of ``engine="chain"``."""
    keep_dirs: tuple[str, ...] | None = None
    """Run folder of each seed to keep (``None``: temporary folders, removed)."""
    key: tuple[Any, ...] = field(default=())
    """Caller's label of the task (trial number, path indices); returned as given."""


def check_engine(engine: str, backend: str = "revm", scenarios: Sequence[Scenario] = ()) -> None:
    """Refuse an unknown engine or backend, and the mirror engine for a scenario with a feature
    it does not model (``scenarios``: the ones the experiment will run; the first feature of
    the first such scenario is named), before anything runs.

    Raises
    ------
    ExperimentError
        ``engine`` not in :data:`ENGINES`, an unknown backend, pyrevm missing for revm, or
        ``mirror`` for a scenario it refuses.
    """
    if engine not in ENGINES:
        raise ExperimentError(f"--engine: unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    if engine == "mirror":
        from simulator.mirror.sim.features import NotMirrored, check_mirrored

        try:
            for scenario in scenarios:
                check_mirrored(scenario)
        except NotMirrored as exc:
            raise ExperimentError(f"--engine mirror: {exc}") from None
        return
    from simulator.chain.connect import check_backend

    check_backend(backend)
    if backend == "revm":
        from simulator.chain.revm_chain import require_pyrevm

        require_pyrevm()


def split(
    overrides: Mapping[str, Any],
    seeds: Sequence[int],
    engine: str,
    scenario: Mapping[str, Any],
    backend: str = "revm",
    key: tuple[Any, ...] = (),
    keep_dirs: Sequence[str] | None = None,
    chunks: int = 1,
    bounds: Sequence[int] | None = None,
) -> list[Evaluation]:
    """The tasks of one parameter set on ``seeds``: one per path on the chain (each a separate
    run, spread over the workers); on the mirror ``chunks`` tasks of consecutive paths (at most
    one per path), or with ``bounds`` the tasks of paths ``bounds[i]`` to ``bounds[i + 1]``
    (:func:`guided_bounds`). Each task's ``key`` is ``key + (index of its first path,)``."""
    seeds = [int(s) for s in seeds]
    if engine == "mirror":
        if bounds is None:
            n = max(1, min(int(chunks), len(seeds)))
            bounds = [len(seeds) * i // n for i in range(n + 1)]
        elif list(bounds[:1]) != [0] or bounds[-1] != len(seeds):
            raise ValueError(f"bounds {list(bounds)} do not cover {len(seeds)} paths")
        return [
            Evaluation(
                dict(scenario),
                dict(overrides),
                tuple(seeds[lo:hi]),
                engine,
                backend,
                None,
                (*key, lo),
            )  # fmt: skip
            for lo, hi in zip(bounds, bounds[1:], strict=False)
        ]
    return [
        Evaluation(
            dict(scenario),
            dict(overrides),
            (seed,),
            engine,
            backend,
            (keep_dirs[i],) if keep_dirs is not None else None,
            (*key, i),
        )  # fmt: skip
        for i, seed in enumerate(seeds)
    ]


def guided_bounds(paths: int, workers_per_set: float) -> list[int]:
    """Bounds of a parameter set's mirror tasks (:func:`split`'s ``bounds``) whose sizes
    shrink as the set's paths run out: each task takes ``ceil(left / (2 * workers_per_set))``
    of the ``left`` paths, at least one (guided self-scheduling). ``workers_per_set``: the
    workers per set evaluated at once (workers / sets in a batch, at least 1).

    A batch's tasks queued largest first (:func:`largest_first`) keep every worker busy to
    the batch's end: the last tasks are single paths, so the workers finish within about a
    path of each other, where one task per set left a worker idle for the difference between
    the sets' costs. Each path's summary is the same whichever task runs it. For 32 paths and
    one worker a set: ``[0, 16, 24, 28, 30, 31, 32]``."""
    share = 2.0 * max(1.0, float(workers_per_set))
    bounds, left = [0], int(paths)
    while left > 0:
        take = max(1, min(left, math.ceil(left / share)))
        left -= take
        bounds.append(bounds[-1] + take)
    return bounds


def largest_first(tasks: Sequence[Evaluation]) -> list[Evaluation]:
    """``tasks`` by number of paths, largest first; ties in their order (so the sets of a batch
    alternate): the queue :func:`guided_bounds`' tasks run best from."""
    return sorted(tasks, key=lambda task: -len(task.seeds))


def evaluate(task: Evaluation) -> dict[str, Any]:
    """Run a task: ``{"key", "seeds", "summaries"}`` (one summary per seed, in order), or
    ``{"key", "seeds", "error"}`` with a one-line message for a user-caused failure (a
    parameter set the contracts refuse, a node that does not start)."""
    try:
        summaries = _run(task)
    except PerpsimError as exc:
        return {"key": task.key, "seeds": list(task.seeds), "error": str(exc)}
    clean = [{k: v for k, v in s.items() if k not in _DROPPED} for s in summaries]
    return {"key": task.key, "seeds": list(task.seeds), "summaries": clean}


def _run(task: Evaluation) -> list[dict[str, Any]]:
    from simulator.scenario import parse_scenario

    base = parse_scenario(task.scenario, label="experiment scenario")
    scenario = base.with_overrides(task.overrides)
    if task.engine == "mirror":
        from simulator.mirror.run import run_paths

        summaries = [dict(s) for s in run_paths(scenario, list(task.seeds), mode="fast")]
        freeze_long_lived_heap()
        return summaries
    return [
        _chain_run(
            scenario.with_overrides(seed=seed),
            task.backend,
            task.keep_dirs[i] if task.keep_dirs else None,
        )  # fmt: skip
        for i, seed in enumerate(task.seeds)
    ]


def freeze_long_lived_heap() -> bool:
    """Once a process: collect, then move every object left (the imported modules, the
    compiled kernels loaded by a first task, the caches it filled) into the garbage
    collector's permanent generation (:func:`gc.freeze`); True the first time.

    An executor's worker runs many mirror paths, and each path allocates enough rows to set
    off full collections, which would otherwise walk the ~150,000 long-lived objects every time
    (0.1-0.15 s each on this machine kind, about one every four oct-2025 paths). Frozen
    objects are still freed when their last reference goes; only a cycle among them would
    wait for the process to end. The task's own objects are collected as before."""
    global _HEAP_FROZEN
    if _HEAP_FROZEN:
        return False
    gc.collect()
    gc.freeze()
    _HEAP_FROZEN = True
    return True


#: Whether :func:`freeze_long_lived_heap` ran in this process (a worker's state, not a cache).
_HEAP_FROZEN = False


def _chain_run(scenario: Any, backend: str, keep_dir: str | None) -> dict[str, Any]:
    """One run on chain; its summary. A kept folder holding the same complete run is read, not
    run again (a resumed tune's verification).

    No checkpoint is written before the last step: an evaluation is never resumed mid-run (an
    unfinished one is run again), and the checkpoints cost about a sixth of a run's CPU
    (oct-2025 on revm: 10.2 s with one every 100 steps, 8.4 s without)."""
    from simulator.runner import run_scenario

    every = max(int(scenario.steps), 1)
    if keep_dir is not None:
        reused = _finished_run(Path(keep_dir), scenario)
        if reused is not None:
            return reused
        return run_scenario(scenario, keep_dir, backend=backend, overwrite=True,
                            checkpoint_every=every).summary  # fmt: skip
    scratch = Path(tempfile.mkdtemp(prefix="perpsim-eval-"))
    try:
        return run_scenario(scenario, scratch / "run", backend=backend,
                            checkpoint_every=every).summary  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _finished_run(run_dir: Path, scenario: Any) -> dict[str, Any] | None:
    """The summary of a complete run of ``scenario`` (same fingerprint, code and contracts) in
    ``run_dir``, or ``None``."""
    from simulator.results import RunReader, check_same_run, code_hash, read_manifest
    from simulator.runner import bytecode_hashes

    try:
        manifest = read_manifest(run_dir) if run_dir.is_dir() else None
        if not manifest or manifest.get("status") != "complete":
            return None
        check_same_run(manifest, scenario, code_hash(), bytecode_hashes())
        return RunReader(run_dir).summary
    except PerpsimError:
        return None


__all__ = [
    "ENGINES",
    "Evaluation",
    "check_engine",
    "evaluate",
    "guided_bounds",
    "largest_first",
    "split",
]
