"""``perpsim compare``: the same price paths under several risk-control sets, side by side.

Path ``i`` of a comparison is the scenario with seed ``path_seeds(seed, N)[i]`` (its price path
and its trader population); every control set runs on the same N paths, so differences between
columns come from the controls alone. Each run is a complete run folder under
``OUT/runs/<control>/path-<i>/``. Runs execute in parallel worker processes, each with its own
anvil. ``OUT`` is reused only as asked: without a flag it must hold no comparison's runs;
``resume=True`` (``--resume``) reuses the complete run folders and resumes the unfinished ones,
each only if it holds the same run (:func:`simulator.results.check_same_run`: scenario
fingerprint, code hash, bytecode hashes), and starts the missing ones; ``overwrite=True``
(``--overwrite``) removes the runs and outputs it recognises first. Everything is checked before
``OUT`` is touched.

Outputs in ``OUT/`` (:func:`write_outputs`): ``compare.csv`` (the table: rows ``(market,
metric)``, first the venue's figures with ``market`` ``ALL``
(:data:`~simulator.stats.DEFAULT_METRICS`, the tail rows, ``n_paths``), then each market's
(:data:`~simulator.stats.MARKET_METRICS`);
columns control × :data:`~simulator.stats.FIELDS`: mean, 95% bootstrap interval seeded from the
scenario's seed, number of paths), ``compare.md`` (the venue's table with the tail figures
and, for runs of several markets, the per-market table, where a control set that changes one
market's parameters names the change in that market's rows; one header row of control-set
names, ``mean [low, high]`` cells), ``compare.json`` (every run's
summary, the markets, the table as records ``{market, metric, control, mean, ci_low,
ci_high, n}``, the plan: each run's folder and scenario fingerprint, the code and bytecode hashes),
and ``report.md`` with PNG charts (each market's price with and without feedback; the venue's
liquidations per step, insurance fund, bad debt, ADL haircuts; for several markets each
market's liquidations and bad debt) for path 0 of each control set; the report also says why
each control set that gives the baseline's headline figures does (:mod:`simulator.explain`).

A latency sweep (``latency=``, ``--latency``) runs ``baseline`` and the same governance change
with each delay instead of named control sets (:mod:`simulator.latency`) and adds
``latency.csv``, ``latency.json``, ``latency.md`` and ``latency.png``. ``perpsim facts`` writes
``facts.md`` and ``facts.json`` into the folder (:mod:`simulator.facts`); both are outputs the
folder may hold.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simulator.errors import PerpsimError
from simulator.latency import LATENCY_FILES
from simulator.report import (
    CHARTS,
    MARKET_CHARTS,
    market_changes,
    provenance_markdown,
    scenario_differences,
    write_report,
)
from simulator.results import (
    CHECKPOINT,
    MANIFEST,
    ResultsError,
    RunMismatchError,
    RunReader,
    atomic_write_json,
    atomic_write_text,
    check_same_run,
    code_hash,
    read_manifest,
    refuse_live_writer,
)
from simulator.scenario import CONTROL_SETS, Scenario, control_set, parse_scenario, path_seeds
from simulator.stats import (
    CHANGES_ROW,
    DEFAULT_METRICS,
    FIELDS,
    TAIL_TEXT,
    compare_table,
    comparison_rows,
    format_compare_table,
    markdown_table,
    market_compare_table,
    market_markdown,
    paths_text,
    run_markets,
)


class CompareError(PerpsimError):
    """A comparison cannot run (unknown control set, no paths, an output folder in the way)."""


#: What a run of a comparison does: start a new folder, reuse a complete one, resume one.
NEW, REUSE, RESUME = "new", "reuse", "resume"
#: Files a comparison writes at the top of its folder (besides ``runs/``). ``scenario.yaml`` is
#: the scenario file the app writes beside the comparison it starts.
COMPARE_OUTPUTS = (
    "compare.json",
    "compare.csv",
    "compare.md",
    "report.md",
    "price.png",
    *(name for name, _, _ in CHARTS),
    *(name for name, _, _ in MARKET_CHARTS),
    "facts.md",
    "facts.json",
    *LATENCY_FILES,
)
_COMPARE_INPUTS = ("scenario.yaml",)
_RUN_FILES = (MANIFEST, "summary.json", "steps.parquet", "events.parquet", "positions.parquet",
              CHECKPOINT, "facts.md", "facts.json")  # fmt: skip
_WAY_OUT = "--resume to reuse and continue it, --overwrite to replace it"


@dataclass(frozen=True)
class RunSpec:
    """One run of a comparison."""

    control: str
    """Control set name."""
    path: int
    """Path index (its seed is ``path_seeds(seed, N)[path]``)."""
    feedback: bool
    """Whether forced selling moves the price (False: the baseline's no-feedback twin)."""
    scenario: dict
    """The run's scenario as plain data."""
    run_dir: str
    """The run folder."""
    fingerprint: str = ""
    """The scenario's fingerprint."""
    action: str = NEW
    """:data:`NEW`, :data:`REUSE` or :data:`RESUME` (decided by :func:`run_compare`)."""
    rpc_url: str | None = None
    """Node to run on (``ape run compare``); ``None``: the run's own embedded anvil."""
    backend: str = "anvil"
    """Chain backend of a new run (``anvil`` or ``revm``); a resumed run continues on its own."""

    @property
    def label(self) -> str:
        """``baseline path 0`` (``(no feedback)`` for the twin)."""
        return f"{self.control} path {self.path}" + ("" if self.feedback else " (no feedback)")


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
    """Worker: one complete run into its folder (reused or resumed as planned).

    A user-caused failure comes back as its one-line message (exceptions with extra
    constructor arguments do not survive the trip between processes)."""
    try:
        return spec, _execute_run(spec)
    except PerpsimError as exc:
        return spec, f"{spec.label}: {exc}"


def _execute_run(spec: RunSpec) -> dict:
    from simulator.runner import resume_run, run_scenario

    run_dir = Path(spec.run_dir)
    if spec.action == REUSE:
        return RunReader(run_dir).summary  # checked by run_compare with check_same_run
    scenario = parse_scenario(spec.scenario, label=spec.label)
    if spec.action == RESUME:
        return resume_run(
            run_dir, scenario=scenario, rpc_url=spec.rpc_url
        ).summary  # checks it again
    return run_scenario(scenario, run_dir, rpc_url=spec.rpc_url, backend=spec.backend).summary


def plan(
    scenario: Scenario,
    controls: Sequence[str],
    paths: int,
    out: Path,
    backend: str = "anvil",
    variants: Mapping[str, Scenario] | None = None,
) -> list[RunSpec]:
    """Every run of a comparison: controls × paths, plus path 0 of the baseline without feedback.

    ``variants`` (``{name: scenario}``), when given, are the run sets instead of named control
    sets (a latency sweep's delays, :mod:`simulator.latency`); ``controls`` names them."""
    variant_of = (lambda c: variants[c]) if variants is not None else (
        lambda c: control_set(scenario, c)
    )  # fmt: skip
    unknown = [c for c in controls if c not in (variants or CONTROL_SETS)]
    if unknown:
        raise CompareError(
            f"--controls: unknown control set {unknown[0]!r}; known: {', '.join(CONTROL_SETS)}"
        )
    if not controls:
        raise CompareError("--controls: give at least one control set")
    if paths < 1:
        raise CompareError(f"--paths must be >= 1, got {paths}")
    out = Path(out)
    seeds = path_seeds(scenario.seed, paths)
    specs = []
    for control in controls:
        variant = variant_of(control)
        for i, seed in enumerate(seeds):
            s = variant.with_overrides(seed=seed)
            specs.append(
                RunSpec(
                    control,
                    i,
                    True,
                    s.to_dict(),
                    str(_run_dir(out, control, i, True)),
                    s.fingerprint(),
                    backend=backend,
                )  # fmt: skip
            )
    off = variant_of(controls[0]).with_overrides({"controls.feedback": False}, seed=seeds[0])
    specs.append(
        RunSpec(
            controls[0],
            0,
            False,
            off.to_dict(),
            str(_run_dir(out, controls[0], 0, False)),
            off.fingerprint(),
            backend=backend,
        )  # fmt: skip
    )
    return specs


# -- the output folder ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Holdings:
    """What a comparison folder holds."""

    run_dirs: tuple[Path, ...]
    """Run folders (with a manifest) under ``runs/<control>/``."""
    outputs: tuple[Path, ...]
    """Comparison outputs (:data:`COMPARE_OUTPUTS`) at the top."""


def _run_folders(out: Path) -> list[Path]:
    runs = out / "runs"
    if not runs.is_dir():
        return []
    return sorted(p.parent for p in runs.glob(f"*/*/{MANIFEST}"))


def _holdings(out: Path) -> _Holdings:
    """What ``out`` holds; refuse a file, a run folder, or a folder that is not a comparison's."""
    if out.exists() and not out.is_dir():
        raise CompareError(f"--out {out} exists and is not a folder")
    if not out.is_dir():
        return _Holdings((), ())
    if (out / MANIFEST).is_file():
        raise CompareError(
            f"--out {out} is a run folder, not a comparison folder; choose another --out"
        )
    known = {*COMPARE_OUTPUTS, *_COMPARE_INPUTS, "runs", "compare.csv.tmp"}
    foreign = sorted(p.name for p in out.iterdir() if p.name not in known and p.name[0] != ".")
    if foreign:
        raise CompareError(
            f"--out {out} is not empty and is not a comparison folder (it holds {foreign[0]}"
            + (f" and {len(foreign) - 1} more" if len(foreign) > 1 else "")
            + "); choose another --out"
        )
    outputs = tuple(out / n for n in COMPARE_OUTPUTS if (out / n).is_file())
    return _Holdings(tuple(_run_folders(out)), outputs)


def _describe(out: Path, held: _Holdings) -> str:
    """``holds a comparison of oct-2025 (7 of 19 runs finished)``."""
    name, finished, total = None, 0, len(held.run_dirs)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        saved = json.loads((out / "compare.json").read_text(encoding="utf-8"))
        name = (saved.get("scenario") or {}).get("name")
        total = max(total, len(saved.get("plan") or []))
    for run_dir in held.run_dirs:
        with contextlib.suppress(ResultsError):
            manifest = read_manifest(run_dir) or {}
            name = name or manifest.get("scenario_name")
            finished += manifest.get("status") == "complete"
    return f"holds a comparison of {name or 'an unnamed scenario'} ({finished} of {total} runs finished)"


def _clear(out: Path, held: _Holdings) -> None:
    """Remove the run folders and comparison outputs ``held`` names (and nothing else).

    Everything is checked first: a run another process is writing, or a run folder holding
    other files than a run's, refuses the whole removal."""
    for run_dir in held.run_dirs:
        refuse_live_writer(run_dir, read_manifest(run_dir))
        others = sorted(
            p.name for p in run_dir.iterdir() if p.name not in _RUN_FILES and ".tmp-" not in p.name
        )
        if others:
            raise CompareError(
                f"--overwrite: {run_dir} holds other files than a run's ({others[0]}); remove "
                "them or choose another --out"
            )
    for run_dir in held.run_dirs:
        for name in _RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (run_dir / name).unlink()
        for tmp in run_dir.glob(".*.tmp-*"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        for folder in (run_dir, run_dir.parent):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: anything else in it stays
    for path in held.outputs:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _decide(spec: RunSpec, code: str, bytecode: Mapping[str, str]) -> RunSpec:
    """How ``--resume`` treats a planned run: reuse, resume or start it (refuse another run)."""
    run_dir = Path(spec.run_dir)
    manifest = read_manifest(run_dir) if run_dir.is_dir() else None
    if manifest is None:
        if run_dir.is_dir() and any(run_dir.iterdir()):
            raise CompareError(
                f"{spec.label}: {run_dir} is not empty and is not a run folder; remove it or "
                "use --overwrite"
            )
        return replace(spec, action=NEW)
    refuse_live_writer(run_dir, manifest)
    scenario = parse_scenario(spec.scenario, label=spec.label)
    check_same_run(
        manifest, scenario, code, bytecode,
        prefix=f"{spec.label}: {run_dir} holds a different run",
        way_out="--overwrite to replace the comparison, or another --out",
    )  # fmt: skip
    return replace(spec, action=REUSE if manifest.get("status") == "complete" else RESUME)


def _relative(spec: RunSpec) -> str:
    """The run folder relative to the comparison folder: ``runs/<control>/path-<i>``."""
    return Path(*Path(spec.run_dir).parts[-3:]).as_posix()


def check_comparison(
    saved: Mapping[str, Any], specs: Sequence[RunSpec], code: str, bytecode: Mapping[str, str]
) -> None:
    """Check a finished comparison as a whole against the one asked for.

    ``saved`` is its ``compare.json``; ``specs`` the planned runs (:func:`plan`); ``code`` and
    ``bytecode`` the current :func:`~simulator.results.code_hash` and contract hashes.

    Raises
    ------
    RunMismatchError
        The comparison was planned differently (other runs, another scenario fingerprint for a
        run), or with other code or contracts; the message names the first difference.
    """
    recorded = {(r.get("run_dir"), r.get("scenario_fingerprint")) for r in saved.get("plan", [])}
    way_out = "--resume or --overwrite to run it again"
    for spec in specs:
        rel = _relative(spec)
        if (rel, spec.fingerprint) not in recorded:
            raise RunMismatchError(f"the comparison does not plan {spec.label} as asked; {way_out}")
    if len(recorded) != len(specs):
        raise RunMismatchError(
            f"the comparison planned {len(recorded)} runs, not {len(specs)}; {way_out}"
        )
    if saved.get("code_hash") != code:
        raise RunMismatchError(
            f"the comparison ran other code ({saved.get('code_hash')}); {way_out}"
        )
    if dict(saved.get("bytecode_hashes") or {}) != dict(bytecode):
        raise RunMismatchError(f"the comparison ran other contract bytecode; {way_out}")


def _remove_empty_tree(top: Path) -> None:
    """Remove ``top`` and the folders under it, where empty (bottom up); keep anything else."""
    if not top.is_dir():
        return
    for current, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(Path(w[0]).parts)):
        with contextlib.suppress(OSError):
            Path(current).rmdir()


def run_compare(
    scenario: Scenario,
    controls: Sequence[str],
    paths: int,
    out: str | Path,
    *,
    workers: int = 2,
    progress: Callable[[int, int, RunSpec], None] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    rpc_url: str | None = None,
    backend: str = "anvil",
    latency: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Run the comparison; write the table and report; return ``{"table": DataFrame, ...}``.

    Everything is checked before ``out`` is touched: the control sets, the paths, every run's
    scenario, and what ``out`` holds.

    Parameters
    ----------
    resume : bool
        Reuse the complete run folders under ``out`` and resume the unfinished ones; every
        planned run folder there must hold the same run (:func:`check_same_run`: scenario
        fingerprint, code hash, bytecode hashes). Run folders no planned run names are not
        read. On an empty or missing ``out`` the comparison simply starts.
    overwrite : bool
        Remove the run folders and outputs of the comparison in ``out`` first (only what it
        recognises), then start.
    rpc_url : str, optional
        Run every run on that node, one after another (``ape run compare``), instead of each
        on its own embedded anvil.
    backend : str
        Chain backend of every new run (``anvil``, or ``revm`` in process); a resumed run
        continues on the backend it ran on.
    latency : sequence of int, optional
        A latency sweep (``--latency``, seconds, increasing): the run sets are ``baseline`` and
        the same governance change with each delay (:mod:`simulator.latency`), instead of
        ``controls``; the outputs add ``latency.csv`` / ``.json`` / ``.md`` / ``.png``.

    Without either, ``out`` must hold no comparison's runs. In every case a non-empty ``out``
    that is not a comparison folder is refused.

    Raises
    ------
    CompareError
        Bad controls or paths, ``out`` in the way, both flags, or a run that failed (the
        message names it; finished runs are kept for ``--resume``).
    RunMismatchError
        With ``resume``: a run folder holds another run (the message names it and what
        differs).
    """
    from simulator.chain.connect import check_backend
    from simulator.runner import bytecode_hashes

    check_backend(backend)
    if backend == "revm":
        from simulator.chain.revm_chain import require_pyrevm

        require_pyrevm()  # one clear error here rather than one per worker
    out = Path(out)
    if resume and overwrite:
        raise CompareError("--resume and --overwrite cannot be combined: choose one")
    variants = None
    if latency is not None:
        variants = latency_variants(scenario, latency)
        controls = list(variants)
    specs = plan(scenario, controls, paths, out, backend, variants)
    scenario.check_data_files()
    held = _holdings(out)
    code, bytecode = code_hash(), bytecode_hashes()
    if held.run_dirs and not (resume or overwrite):
        raise CompareError(f"--out {out} {_describe(out, held)}; {_WAY_OUT}")
    if resume:
        specs = [_decide(spec, code, bytecode) for spec in specs]
    missing = [p for p in (out, *out.parents) if not p.exists()]  # what this call may create
    if overwrite:
        _clear(out, held)
    if rpc_url:
        specs = [dataclasses.replace(s, rpc_url=rpc_url) for s in specs]
        workers = 1
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

    try:
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
    finally:
        if missing and (failures or len(summaries) < len(specs)):
            _remove_empty_tree(missing[-1])  # the folders it made and left empty go
    if failures:
        raise CompareError(
            f"{failures[0]} (finished runs are kept; run the same command with --resume to "
            "continue)"
        )

    plan_record = [
        {
            "control": s.control,
            "path": s.path,
            "feedback": s.feedback,
            "run_dir": _relative(s),
            "scenario_fingerprint": s.fingerprint,
        }
        for s in specs
    ]
    results = {c: [summaries[(c, i, True)] for i in range(paths)] for c in controls}
    return write_outputs(
        out, scenario, controls, results, plan_record, code, bytecode, latency=latency
    )


def latency_variants(scenario: Scenario, delays: Sequence[int]) -> dict[str, Scenario]:
    """The run sets of a latency sweep: ``baseline`` (the scenario without a governance change),
    then the change with each delay (:func:`simulator.latency.latency_variant`), checked before anything runs."""
    from simulator.latency import latency_label, latency_variant, parse_latency

    delays = parse_latency(",".join(str(d) for d in delays))
    baseline = scenario.with_overrides({"controls.governance_change": None})
    return {"baseline": baseline} | {latency_label(d): latency_variant(scenario, d) for d in delays}


def _set_descriptions(
    scenario: Scenario, controls: Sequence[str], latency: Sequence[int] | None
) -> dict[str, str]:
    """What each run set is (``compare.json`` ``controls``, the report)."""
    if latency is None:
        return {c: CONTROL_SETS[c] for c in controls}
    from simulator.latency import delay_text, latency_change, latency_label

    change = latency_change(scenario)
    what = f"{change['parameter']} -> {change['value']} at step {change['step']}"
    out = {"baseline": "no change"}
    for d in latency:
        when = "at once (guardian)" if d == 0 else f"after {delay_text(d)} (timelock)"
        out[latency_label(d)] = f"{what}, in force {when}"
    return out


def write_outputs(
    out: str | Path,
    scenario: Scenario,
    controls: Sequence[str],
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    plan_record: Sequence[Mapping[str, Any]],
    code: str,
    bytecode: Mapping[str, str],
    latency: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Write a finished comparison's outputs (``compare.csv``, ``compare.md``,
    ``compare.json``, ``report.md`` and its charts) from its runs' summaries and run folders.

    Parameters
    ----------
    out : str or Path
        The comparison folder; path 0 of each control set, and the first set's path 0 without
        feedback, must be complete run folders under ``runs/`` (the report's charts).
    scenario : Scenario
        The scenario compared (before any control set).
    controls : sequence of str
        The control sets, in column order.
    results : mapping of str to list of summary dicts
        Each control set's run summaries, path 0 first.
    plan_record : sequence of dict
        The plan as ``compare.json`` records it (each run's folder and fingerprint).
    code, bytecode : str, mapping
        The code hash and contract bytecode hashes the runs were made with.
    latency : sequence of int, optional
        The delays of a latency sweep (its run sets are ``baseline`` and one per delay).

    Returns
    -------
    dict
        ``table`` (:func:`~simulator.stats.compare_table`: the venue's figures),
        ``market_table`` (:func:`~simulator.stats.market_compare_table`: each market's),
        ``changes`` (what each control set changes of one market's parameters,
        :func:`~simulator.report.market_changes`), ``results`` and ``out``.
    """
    out = Path(out)
    paths = len(next(iter(results.values()), []))
    results, metrics = _with_systemic_loss(out, results)
    table = compare_table(results, metrics, seed=scenario.seed)
    market_table = market_compare_table(results, seed=scenario.seed)
    rows = comparison_rows(table, market_table)
    rows.to_csv(out / "compare.csv.tmp")
    (out / "compare.csv.tmp").replace(out / "compare.csv")
    variants = latency_variants(scenario, latency) if latency is not None else None
    descriptions = _set_descriptions(scenario, controls, latency)
    # A latency sweep's sets differ from its baseline (the scenario without the change).
    reference = variants["baseline"] if variants is not None else scenario
    differences = {
        c: scenario_differences(
            reference, variants[c] if variants is not None else control_set(scenario, c)
        )
        for c in controls
    }
    changes = market_changes(differences)
    atomic_write_json(
        out / "compare.json",
        {
            "scenario": scenario.to_dict(),
            "controls": {c: descriptions[c] for c in controls},
            **({"latency_s": [int(d) for d in latency]} if latency is not None else {}),
            "paths": paths,
            "runs": {c: list(results[c]) for c in controls},
            "markets": list(run_markets(results)),
            "table": [
                {
                    "market": market,
                    "metric": metric,
                    "control": control,
                    **{f: rows.loc[(market, metric), (control, f)] for f in FIELDS},
                }
                for (market, metric) in rows.index
                for control in controls
            ],  # fmt: skip
            "code_hash": code,
            "bytecode_hashes": dict(bytecode),
            "plan": list(plan_record),
        },
    )
    provenance = provenance_markdown(
        scenario, controls=differences, seeds=path_seeds(scenario.seed, paths)
    )
    several = len(run_markets(results)) > 1
    per_market = (
        "\n## Comparison per market\n\nEach market's figures (`summary.json` `markets`), mean "
        f"[95% bootstrap interval of the mean] {paths_text(market_table)}; `(n=k)`: a figure "
        "fewer paths have. `system_loss_usd` here is the market's ADL haircuts and bad debt (the "
        "insurance fund and backstop vault are venue-wide). Money in USD. A control set that "
        "changes a "
        f"market's parameters names the change in that market's `{CHANGES_ROW}` row.\n\n"
        + market_markdown(market_table, changes)
        if several
        else ""
    )
    atomic_write_text(
        out / "compare.md",
        f"# {scenario.name}: {paths} path(s) per control set\n\n"
        + "\n".join(provenance)
        + "\n## Comparison\n\nThe venue's figures (all markets): mean [95% bootstrap interval "
        f"of the mean] {paths_text(table)}; `(n=k)`: a figure fewer paths have. {TAIL_TEXT}. "
        "Money in USD.\n\n" + f"{markdown_table(format_compare_table(table))}" + per_market + "\n",
    )
    sections = _why_sections(out, scenario, controls, results, differences, paths)
    if latency is not None:
        sections += _latency_section(out, scenario, latency, results, paths)
    runs = {c: RunReader(_run_dir(out, c, 0, True)).steps for c in controls}
    no_feedback = {controls[0]: RunReader(_run_dir(out, controls[0], 0, False)).steps}
    write_report(
        out,
        runs,
        title=f"perpsim compare: {scenario.name}",
        no_feedback=no_feedback,
        table=table,
        market_table=market_table,
        changes=changes,
        summaries={c: results[c][0] for c in controls},
        description=(
            f"{paths} price path(s) per control set, seed {scenario.seed}; charts show path 0. "
            f"Control sets: " + "; ".join(f"**{c}**: {descriptions[c]}" for c in controls) + "."
        ),
        provenance=provenance,
        sections=sections,
    )
    return {
        "table": table,
        "market_table": market_table,
        "changes": changes,
        "results": results,
        "out": out,
    }


def _with_systemic_loss(
    out: Path, results: Mapping[str, Sequence[Mapping[str, Any]]]
) -> tuple[dict[str, list[dict[str, Any]]], tuple[str, ...]]:
    """Each run's summary with ``systemic_loss_usd`` and ``systemic_loss_debtrank_usd``
    (:func:`simulator.contagion.report.systemic_loss_figures`) for the runs whose folder holds
    a contagion world, and the venue table's metrics: :data:`DEFAULT_METRICS`, plus those two
    rows when any run has them (a run without a world has no value there: ``-``, never 0)."""
    from simulator.contagion.report import SYSTEMIC_METRICS, systemic_loss_figures

    enriched: dict[str, list[dict[str, Any]]] = {}
    for control, runs in results.items():
        enriched[control] = []
        for path, summary in enumerate(runs):
            folder = _run_dir(out, control, path, True)
            figures = systemic_loss_figures(folder) if folder.is_dir() else {}
            enriched[control].append({**summary, **figures})
    found = any(m in s for runs in enriched.values() for s in runs for m in SYSTEMIC_METRICS)
    return enriched, (*DEFAULT_METRICS, *SYSTEMIC_METRICS) if found else DEFAULT_METRICS


def _why_sections(
    out: Path,
    scenario: Scenario,
    controls: Sequence[str],
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    differences: Mapping[str, Mapping[str, Any]],
    paths: int,
) -> list[str]:
    """The report's lines saying why each control set that gives the baseline's headline
    figures does (:func:`simulator.explain.same_as_baseline`); none when every set differs."""
    from simulator.explain import same_as_baseline

    if "baseline" not in controls:
        return []
    run_dirs = {c: [_run_dir(out, c, i, True) for i in range(paths)] for c in controls}
    reasons = same_as_baseline(scenario, results, run_dirs, differences)
    if not reasons:
        return []
    lines = [
        "## Control sets that give the baseline's figures",
        "",
        "These control sets give the baseline's headline figures on every path; why, measured "
        "from their runs:",
        "",
    ]
    lines += [f"- **{c}**: {why}" for c, why in reasons.items()]
    return [*lines, ""]


def _latency_section(
    out: Path,
    scenario: Scenario,
    latency: Sequence[int],
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    paths: int,
) -> list[str]:
    """Write the latency sweep's table and chart; return the report's lines for them."""
    from simulator.latency import (
        executed_step,
        latency_change,
        latency_label,
        latency_table,
        write_latency,
    )

    labels = [latency_label(d) for d in latency]
    executed = {c: [executed_step(_run_dir(out, c, i, True)) for i in range(paths)] for c in labels}
    table = latency_table(latency, results, executed, seed=scenario.seed)
    return write_latency(out, table, latency_change(scenario))


__all__ = [
    "run_compare",
    "write_outputs",
    "plan",
    "check_comparison",
    "latency_variants",
    "RunSpec",
    "CompareError",
]
