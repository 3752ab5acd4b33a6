"""``perpsim compare``: the same price paths under several risk-control sets, side by side.

Path ``i`` of a comparison is the scenario with seed ``path_seeds(seed, N)[i]`` (its price path
and its trader population); every control set runs on the same N paths, so differences between
columns come from the controls alone. Each run is a complete run folder under
``OUT/runs/<control>/path-<i>/``; a comparison that was interrupted resumes by skipping the runs
whose folder is complete. Runs execute in parallel worker processes, each with its own anvil.

Outputs in ``OUT/``: ``compare.csv`` (the table: rows metrics, columns control × mean / 95%
interval), ``compare.md`` (the same, with the tail figures), ``compare.json`` (every run's
summary), and ``report.md`` with PNG charts (price with and without feedback, liquidations per
step, insurance fund, bad debt, ADL haircuts) for path 0 of each control set.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import PerpsimError
from simulator.report import write_report
from simulator.results import RunReader, atomic_write_json, atomic_write_text
from simulator.scenario import CONTROL_SETS, Scenario, control_set, path_seeds
from simulator.stats import compare_table, markdown_table


class CompareError(PerpsimError):
    """A comparison cannot run (unknown control set, no paths)."""


@dataclass(frozen=True)
class RunSpec:
    control: str
    path: int
    feedback: bool
    scenario: dict
    run_dir: str
    backend: str = "anvil"
    """Chain backend of the run (``anvil`` or ``revm``)."""


def _run_dir(out: Path, control: str, path: int, feedback: bool) -> Path:
    name = f"path-{path}" + ("" if feedback else "-no-feedback")
    return out / "runs" / control / name


def _worker_init() -> None:
    """A worker dies with the comparison that started it, and its anvil nodes with it.

    The kernel sends the worker SIGTERM when the comparison dies; the worker then stops its
    nodes and exits at once (a SystemExit would be caught by the pool's worker loop, which
    would go on to the next run)."""
    from simulator.chain.node import _die_with_parent, _stop_all_nodes

    def stop(signum, frame):
        _stop_all_nodes()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    _die_with_parent()


def _execute(spec: RunSpec) -> tuple[RunSpec, dict | str]:
    """Worker: one complete run into its folder (resumed if it has a checkpoint).

    A user-caused failure comes back as its one-line message (exceptions with extra
    constructor arguments do not survive the trip between processes)."""
    try:
        return spec, _execute_run(spec)
    except PerpsimError as exc:
        return spec, f"{spec.control} path {spec.path}: {exc}"


def _execute_run(spec: RunSpec) -> dict:
    from simulator.runner import resume_run, run_scenario
    from simulator.scenario import parse_scenario

    run_dir = Path(spec.run_dir)
    manifest = run_dir / "manifest.json"
    if manifest.exists():
        status = json.loads(manifest.read_text()).get("status")
        if status == "complete":
            return RunReader(run_dir).summary
        return resume_run(run_dir, backend=spec.backend).summary
    scenario = parse_scenario(spec.scenario, label=f"{spec.control} path {spec.path}")
    return run_scenario(scenario, run_dir, backend=spec.backend).summary


def plan(
    scenario: Scenario, controls: Sequence[str], paths: int, out: Path, backend: str = "anvil"
) -> list[RunSpec]:
    """Every run of a comparison: controls × paths, plus path 0 of the baseline without feedback."""
    unknown = [c for c in controls if c not in CONTROL_SETS]
    if unknown:
        raise CompareError(
            f"--controls: unknown control set {unknown[0]!r}; known: {', '.join(CONTROL_SETS)}"
        )
    if paths < 1:
        raise CompareError(f"--paths must be >= 1, got {paths}")
    seeds = path_seeds(scenario.seed, paths)
    specs = []
    for control in controls:
        variant = control_set(scenario, control)
        for i, seed in enumerate(seeds):
            s = variant.with_overrides(seed=seed)
            specs.append(
                RunSpec(
                    control, i, True, s.to_dict(), str(_run_dir(out, control, i, True)), backend
                )
            )
    off = control_set(scenario, controls[0]).with_overrides(
        {"controls.feedback": False}, seed=seeds[0]
    )
    off_dir = str(_run_dir(out, controls[0], 0, False))
    specs.append(RunSpec(controls[0], 0, False, off.to_dict(), off_dir, backend))
    return specs


def run_compare(
    scenario: Scenario,
    controls: Sequence[str],
    paths: int,
    out: str | Path,
    *,
    workers: int = 2,
    progress: Callable[[int, int, RunSpec], None] | None = None,
    backend: str = "anvil",
) -> dict[str, Any]:
    """Run the comparison; write the table and report; return ``{"table": DataFrame, ...}``.

    Every run uses the chain ``backend`` (``anvil``, or ``revm`` in process)."""
    from simulator.chain.connect import check_backend

    check_backend(backend)
    if backend == "revm":
        from simulator.chain.revm_chain import require_pyrevm

        require_pyrevm()  # one clear error here rather than one per worker
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = plan(scenario, controls, paths, out, backend)
    summaries: dict[tuple[str, int, bool], dict] = {}
    done = 0
    failures: list[str] = []

    def record(spec: RunSpec, outcome: dict | str) -> None:
        nonlocal done
        if isinstance(outcome, str):
            failures.append(outcome)
        else:
            summaries[(spec.control, spec.path, spec.feedback)] = outcome
        done += 1
        if progress:
            progress(done, len(specs), spec)

    if workers <= 1:
        for spec in specs:
            record(*_execute(spec))
            if failures:
                break
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
            futures = [pool.submit(_execute, spec) for spec in specs]
            for future in as_completed(futures):
                record(*future.result())
                if failures:
                    for f in futures:
                        f.cancel()
                    break
    if failures:
        raise CompareError(
            f"{failures[0]} (finished runs are kept; run the same command to resume)"
        )

    results = {c: [summaries[(c, i, True)] for i in range(paths)] for c in controls}
    table = compare_table(results)
    table.to_csv(out / "compare.csv.tmp")
    (out / "compare.csv.tmp").replace(out / "compare.csv")
    atomic_write_json(
        out / "compare.json",
        {
            "scenario": scenario.to_dict(),
            "controls": {c: CONTROL_SETS[c] for c in controls},
            "paths": paths,
            "runs": {c: results[c] for c in controls},
        },
    )
    atomic_write_text(
        out / "compare.md",
        f"# {scenario.name}: {paths} path(s) per control set\n\n{markdown_table(table)}\n",
    )
    runs = {c: RunReader(_run_dir(out, c, 0, True)).steps for c in controls}
    no_feedback = {controls[0]: RunReader(_run_dir(out, controls[0], 0, False)).steps}
    write_report(
        out,
        runs,
        title=f"perpsim compare: {scenario.name}",
        no_feedback=no_feedback,
        table=table,
        summaries={c: results[c][0] for c in controls},
        description=(
            f"{paths} price path(s) per control set, seed {scenario.seed}; charts show path 0. "
            f"Control sets: " + "; ".join(f"**{c}**: {CONTROL_SETS[c]}" for c in controls) + "."
        ),
    )
    return {"table": table, "results": results, "out": out}


__all__ = ["run_compare", "plan", "CompareError"]
