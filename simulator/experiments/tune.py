"""``perpsim tune``: an Optuna search for parameter sets that trade off objectives over price
paths, under constraints, then the best candidates verified on chain on held-out paths.

Method
------
1. **Search.** Each trial is a parameter set (:mod:`~simulator.experiments.params`) evaluated on
   the same K tuning paths (seeds ``path_seeds(seed, K)``) on the tuning engine (``mirror``,
   or ``chain`` on revm); its objective values are statistics over those paths
   (:mod:`~simulator.experiments.objectives`). Optuna's TPE sampler (multi-objective, with
   each trial's constraints; ``--sampler nsga2`` for NSGA-II) proposes the trials, ``--workers``
   of them at a time (constant liar for the ones in flight). ``--max-change PCT`` narrows
   each range to the scenario's current value +- PCT%.
2. **Storage and resume.** The study lives in an Optuna RDB storage: ``OUT/study.db`` (SQLite)
   by default, or any SQLAlchemy URL (``--storage``). Its name is ``<scenario>-<spec hash>``
   (``--study-name`` to choose), so the same command re-opens it: finished trials are kept;
   trials left running by a process that died are marked failed (or, when their result file
   was written, told); only the missing trials run. A locked or unreadable database is one
   line (exit 2). Each finished trial is written to ``OUT/trials/trial-NNNNN.json`` before it
   is told to the study, and its figures (the file without the per-path summaries) are kept
   in the study too: tunes that share a ``--storage`` (one per machine, say) run only the
   trials still missing, and each ranks, reports and verifies among all the study's trials.
3. **Pareto front and candidates.** Among the complete trials that meet every constraint, the
   Pareto front (non-dominated under the objectives' directions) is ranked by distance to its
   ideal point (each objective scaled to [0, 1] over the front); the top ``--candidates``
   (default 3) are verified. Fewer on the front: the next fronts fill in.
4. **Verification on held-out paths.** The current set (the scenario as given) and each
   candidate run on chain (revm by default) on H fresh paths (``--verify-paths``, default 8):
   seeds ``path_seeds(seed, K + H)[K:]``, children K..K+H-1 of the scenario's
   ``SeedSequence``, disjoint from the tuning paths (children 0..K-1). The run folders are
   kept under ``OUT/verify/runs/<label>/path-<i>/`` (the layout of a comparison's runs, so
   the app's Compare view opens ``OUT/verify``, whose ``compare.json`` holds them as a finished
   comparison of the sets). The recommended set is the best-ranked
   candidate that meets every constraint on the held-out paths too.

Outputs in ``OUT/``
-------------------
``experiment.json`` (the spec), ``study.db``, ``trials/`` (one file per finished trial, plus
``current.json``: the current set on the tuning paths), ``verify/`` (``scenario.yaml``,
``compare.json`` and ``runs/``), ``pareto.csv``, ``trials.csv``, ``tune.md`` (the report), ``tune.json``, ``plots/``
(Optuna's Pareto front, optimization history per objective, parallel coordinates and
parameter importances where they apply, and the tuning-vs-held-out chart; each as HTML and
PNG).

``tune.json`` schema (version 1)
--------------------------------
Everything the app's Tune page reads. Numbers are in their metric's unit (USD for ``*_usd``);
a value that does not exist is ``null``. Paths are relative to ``OUT``.

- ``schema_version``: 1.
- ``kind``: ``"tune"``.
- ``scenario``: ``{"name", "seed", "fingerprint", "data"}`` (``data``: the scenario as
  plain data, as ``perpsim show`` prints it).
- ``engine``: ``"mirror"`` or ``"chain"`` (the tuning engine); ``backend``: the tuning chain
  backend (``"revm"``/``"anvil"``) or ``null`` on the mirror; ``executor``: what ran the
  evaluations (text).
- ``study``: ``{"name", "storage", "sampler", "directions"}`` (``storage``: the SQLAlchemy
  URL, password masked; ``directions``: ``"minimize"``/``"maximize"`` per objective).
- ``params``: list, one per parameter: ``{"name", "kind"`` (``"float"``, ``"int"``,
  ``"choice"``), ``"low", "high", "log", "choices", "current"`` (the scenario's value or
  ``null``), ``"narrowed"`` (by ``--max-change``), ``"given"`` (``[low, high]`` as given)``}``.
- ``max_change_pct``: the ``--max-change`` percentage or ``null``.
- ``objectives``: list of ``{"label", "statistic", "metric", "direction"}``; ``label`` is
  ``STAT:METRIC`` (``"var95:system_loss_usd"``), the key of every ``values`` mapping below.
- ``constraints``: list of ``{"label", "statistic", "metric", "op", "bound"}`` (``op``
  ``"<="``/``">="``; ``label`` like ``"evar99:bad_debt_usd<=1e+06"``), the key of every
  ``constraints`` mapping below.
- ``tuning``: ``{"paths": K, "seeds": [...]}``.
- ``held_out``: ``{"paths": H, "seeds": [...], "engine": "chain", "backend", "rule":
  "path_seeds(seed, K+H)[K:]", "disjoint": true}``; ``paths`` 0 when verification was
  skipped.
- ``trials``: ``{"requested": N, "complete", "failed", "feasible", "pareto"}`` (counts).
- ``trials_table``: list, one per trial of the study: ``{"number", "state"`` (Optuna's:
  ``"COMPLETE"``, ``"FAIL"``, ``"RUNNING"``...)``, "params": {name: value}, "values": {label:
  value} | null, "constraints": {label: value} | null, "feasible": bool | null, "pareto":
  bool, "rank": int | null`` (rank among the feasible trials, 1 = best), ``"error": str |
  null, "file": "trials/trial-NNNNN.json" | null}`` (``file`` is ``null`` for a trial another
  tune on the same ``--storage`` ran: its figures come from the study).
- ``pareto``: the trial numbers of the feasible Pareto front, best-ranked first.
- ``current`` and each item of ``candidates``: ``{"label"`` (``"current"``,
  ``"candidate-1"``...)``, "rank"`` (``null`` for current)``, "trial"`` (number or ``null``)``,
  "params": {name: value}`` (current: the scenario's values)``, "tuning": {"objectives":
  {label: value}, "constraints": {label: value}, "feasible": bool, "metrics": {metric:
  {"mean", "ci_low", "ci_high", "n"}}}, "held_out": {...the same four keys...} | null,
  "runs": ["verify/runs/<label>/path-0", ...]}``. ``metrics`` covers the headline metrics
  (:data:`~simulator.experiments.report.HEADLINE_METRICS`) and every objective's and
  constraint's metric; ``ci_low``/``ci_high`` are the 95% BCa bootstrap interval of the mean
  over the paths (``n`` of them).
- ``recommended``: ``{"label", "trial", "reason"}`` or ``null`` (no candidate met the
  constraints on the held-out paths; ``reason`` then says so in ``recommended_reason``).
- ``recommended_reason``: one sentence, always present.
- ``timing``: what this invocation of ``perpsim tune`` took (a resumed tune counts only
  what it ran): ``{"search_seconds", "trials_run", "evaluations_run"`` (trials x tuning
  paths)``, "seconds_per_evaluation"`` (search wall time over evaluations, ``null`` when no
  trial ran)``, "verify_seconds"}``.
- ``plots``: ``{name: {"html", "png", "png_error"}}``, file names under ``plots/``.
- ``files``: ``{"report": "tune.md", "pareto_csv", "trials_csv", "experiment", "trials_dir",
  "verify_dir", "verify_compare"`` (``"verify/compare.json"``, the verification runs as a
  comparison the Compare view opens; ``null`` without verification)``, "study_db"``
  (``null`` with another storage)``}``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.experiments import ExperimentError
from simulator.experiments.evaluate import (
    check_engine,
    evaluate,
    guided_bounds,
    largest_first,
    split,
)
from simulator.experiments.executors import Executor, open_executor, run_all
from simulator.experiments.objectives import (
    Constraint,
    Objective,
    check_objectives,
    parse_constraint,
    parse_objective,
)
from simulator.experiments.params import Param, check_params, narrow, parse_param
from simulator.experiments.report import HEADLINE_METRICS, interval
from simulator.experiments.store import ExperimentFolder, spec_hash
from simulator.experiments.study import (
    ERROR,
    OWNER,
    RECORD,
    SAMPLERS,
    close_storage,
    default_storage,
    feasible,
    make_sampler,
    masked,
    open_storage,
    open_study,
    owner,
    rank_trials,
    set_constraints,
    settle_stale_trials,
    storage_errors,
    suggest,
)
from simulator.results import code_hash
from simulator.scenario import Scenario, path_seeds

SCHEMA_VERSION = 1
#: The files SQLite may keep beside ``study.db`` while it is open (rollback journal, write-ahead
#: log and its index): the folder's own outputs too.
SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")
TUNE_OUTPUTS = ("study.db", *(f"study.db{e}" for e in SQLITE_SIDE_FILES), "verify",
                "pareto.csv", "trials.csv", "tune.md", "tune.json", "plots")  # fmt: skip
#: Consecutive failed trials after which a tune stops (a systemic failure, not a bad corner).
MAX_FAILURES_IN_A_ROW = 3


@dataclass(frozen=True)
class TuneRequest:
    """Everything a tune is asked to do (the CLI's options, checked)."""

    scenario: Scenario
    params: tuple[Param, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...]
    trials: int
    paths: int
    out: Path
    engine: str = "mirror"
    backend: str = "revm"
    max_change_pct: float | None = None
    storage: str | None = None
    study_name: str | None = None
    sampler: str = "tpe"
    candidates: int = 3
    verify_paths: int = 8
    verify_backend: str = "revm"
    workers: int = 2
    dask: str | None = None

    @property
    def tuning_seeds(self) -> list[int]:
        return path_seeds(self.scenario.seed, self.paths)

    @property
    def held_out_seeds(self) -> list[int]:
        """``path_seeds(seed, K + H)[K:]``: the SeedSequence children after the tuning ones."""
        if self.verify_paths < 1:
            return []
        return path_seeds(self.scenario.seed, self.paths + self.verify_paths)[self.paths :]

    def spec(self) -> dict[str, Any]:
        """What determines the study's trials (``--trials`` may grow between runs)."""
        return {
            "kind": "tune",
            "scenario_fingerprint": self.scenario.fingerprint(),
            "params": [p.to_dict() for p in self.params],
            "objectives": [o.to_dict() for o in self.objectives],
            "constraints": [c.to_dict() for c in self.constraints],
            "paths": self.paths,
            "seeds": self.tuning_seeds,
            "engine": self.engine,
            "backend": self.backend if self.engine == "chain" else None,
            "sampler": self.sampler,
            "code_hash": code_hash(),
        }


def build_request(
    scenario: Scenario,
    params: Sequence[str],
    objectives: Sequence[str],
    constraints: Sequence[str] = (),
    *,
    trials: int,
    paths: int,
    out: str | Path,
    **options: Any,
) -> TuneRequest:
    """Parse and check every input against the scenario; nothing is written.

    Raises
    ------
    ExperimentError
        Any bad input: parameter (unknown key, empty or inverted range), objective, constraint
        (unknown metric), counts, engine, sampler, ``--max-change``.
    """
    symbols = list(scenario.symbols)
    parsed = check_params(scenario, [parse_param(p) for p in params])
    if options.get("max_change_pct") is not None:
        parsed = narrow(parsed, float(options["max_change_pct"]))
    objs = [parse_objective(o, symbols) for o in objectives]
    check_objectives(objs)
    cons = [parse_constraint(c, symbols) for c in constraints]
    for name, value, low in (("--trials", trials, 1), ("--paths", paths, 1),
                             ("--candidates", options.get("candidates", 3), 1),
                             ("--verify-paths", options.get("verify_paths", 8), 0)):  # fmt: skip
        if value < low:
            raise ExperimentError(f"{name} must be >= {low} (got {value})")
    if options.get("sampler", "tpe") not in SAMPLERS:
        raise ExperimentError(
            f"--sampler: unknown sampler {options['sampler']!r} (known: {', '.join(SAMPLERS)})"
        )
    request = TuneRequest(scenario, tuple(parsed), tuple(objs), tuple(cons), int(trials),
                          int(paths), Path(out), **options)  # fmt: skip
    check_engine(request.engine, request.backend, [scenario])
    if request.verify_paths:
        check_engine("chain", request.verify_backend)
    overlap = set(request.tuning_seeds) & set(request.held_out_seeds)
    if overlap:  # distinct SeedSequence children; a shared integer would be a 2**-53 accident
        raise ExperimentError(f"held-out seed {overlap.pop()} is also a tuning seed")
    return request


def _trial_name(number: int) -> str:
    return f"trial-{number:05d}"


def _figures(request: TuneRequest, summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Objectives, constraints (values and violations) and metric intervals over paths."""
    values = {o.label: o.value(summaries) for o in request.objectives}
    cons = {c.label: c.value(summaries) for c in request.constraints}
    violations = [c.violation(cons[c.label]) for c in request.constraints]
    metrics = dict.fromkeys((*HEADLINE_METRICS, *(o.metric for o in request.objectives),
                             *(c.metric for c in request.constraints)))  # fmt: skip
    return {
        "objectives": values,
        "constraints": cons,
        "violations": violations,
        "feasible": feasible(violations),
        "metrics": {m: interval(summaries, m, request.scenario.seed) for m in metrics},
    }


def run_tune(
    request: TuneRequest, progress: Callable[[int, int, str], None] | None = None
) -> dict[str, Any]:
    """Search, verify and report (see the module docstring); continue the tune in ``out``.

    Returns
    -------
    dict
        ``tune.json``'s content plus ``out``.

    Raises
    ------
    ExperimentError
        The folder holds another experiment; the study database is locked or unreadable; a
        Dask scheduler does not answer; trials keep failing (the message names the first).
    """
    from simulator.experiments.tune_report import write_outputs

    out = request.out
    spec = request.spec()
    folder = ExperimentFolder(out, "tune", spec, TUNE_OUTPUTS, "trials")
    folder.check()
    url = request.storage or default_storage(out)
    study_name = request.study_name or f"{request.scenario.name}-{spec_hash(spec)}"
    own_db = request.storage is None
    own_file = out / "study.db" if own_db else None
    if not own_db:
        storage = open_storage(url)
    elif own_file.exists():
        storage = open_storage(url, own_file=True)
    else:
        storage = None  # created with the folder, after every check
    storage_is_new = storage is None
    try:
        executor = open_executor(request.workers, request.dask)
    except BaseException:
        close_storage(storage, own_file)
        raise
    try:
        folder.create({"scenario": request.scenario.to_dict()})
        if storage is None:
            storage = open_storage(url, own_file=True)
        sampler = make_sampler(request.sampler, request.scenario.seed, executor.workers > 1)
        study = open_study(storage, url, study_name, request.objectives, sampler)
        study.set_user_attr("perpsim_spec", spec)
        try:
            started = time.perf_counter()
            trials_run = _search(request, folder, study, executor, progress)
            searched = time.perf_counter()
            current, candidates = _verify(request, folder, study, executor, progress)
            timing = {
                "search_seconds": round(searched - started, 3),
                "trials_run": trials_run,
                "evaluations_run": trials_run * request.paths,
                "seconds_per_evaluation": round(
                    (searched - started) / (trials_run * request.paths), 4
                )
                if trials_run
                else None,
                "verify_seconds": round(time.perf_counter() - searched, 3),
            }
        except storage_errors() as exc:
            from simulator.experiments.study import _storage_error

            raise _storage_error(url, exc) from None
    except BaseException:
        new_db = own_db and storage_is_new
        close_storage(storage, None if new_db else own_file)  # a new study's files then go
        db = out / "study.db"
        folder.abandon([db, *(db.with_name(db.name + e) for e in SQLITE_SIDE_FILES)]
                       if new_db else [])  # fmt: skip
        raise
    finally:
        executor.close()
    try:
        return write_outputs(
            request, folder, study, current, candidates,
            study_info={"name": study_name, "storage": masked(url), "sampler": request.sampler,
                        "directions": [o.direction for o in request.objectives]},
            executor=executor.description, own_db=own_db, timing=timing,
        )  # fmt: skip
    finally:
        close_storage(storage, own_file)


def _saved_trials(folder: ExperimentFolder) -> dict[int, dict[str, Any]]:
    saved = {}
    for path in sorted(folder.items_dir.glob("trial-*.json")):
        record = folder.read_item(path.stem)
        if record and isinstance(record.get("number"), int):
            saved[record["number"]] = record
    return saved


def study_records(
    folder: ExperimentFolder, study: Any, seeds: Sequence[int] | None = None
) -> dict[int, dict[str, Any]]:
    """Every complete trial's record (trial number -> record): this folder's files, and for a
    trial another ``perpsim tune`` on the same ``--storage`` ran, the figures it kept in the
    study (:data:`~simulator.experiments.study.RECORD`; ``"file"`` is then ``None``: its
    per-path summaries are in that tune's folder). With ``seeds``, another tune's trial counts
    only when it ran on these tuning paths."""
    import optuna

    saved = {n: {**r, "file": f"trials/{_trial_name(n)}.json"}
             for n, r in _saved_trials(folder).items()}  # fmt: skip
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    numbers = {t.number for t in complete}
    records = {n: r for n, r in saved.items() if n in numbers}
    for trial in complete:
        shared = trial.user_attrs.get(RECORD)
        if trial.number in records or not shared or shared.get("number") != trial.number:
            continue
        if seeds is None or list(shared.get("seeds") or []) == list(seeds):
            records[trial.number] = {**shared, "file": None}
    return records


@dataclass
class _Progress:
    """What a search has done so far (shared by its batches)."""

    done: int
    failures_in_row: int = 0
    first_error: str | None = None


def _search(
    request: TuneRequest,
    folder: ExperimentFolder,
    study: Any,
    executor: Executor,
    progress: Callable[[int, int, str], None] | None,
) -> int:
    """Run trials until ``request.trials`` are complete, ``executor.workers`` at a time;
    return how many this call ran."""
    import optuna

    settle_stale_trials(study, _saved_trials(folder), [c.label for c in request.constraints])
    state = _Progress(len(study.get_trials(deepcopy=False,
                                           states=(optuna.trial.TrialState.COMPLETE,))))  # fmt: skip
    first = state.done
    if progress:
        progress(state.done, request.trials, "search")
    while state.done < request.trials:
        batch = [study.ask() for _ in range(min(executor.workers, request.trials - state.done))]
        _run_batch(request, folder, study, executor, batch, state, progress)
        if state.failures_in_row >= MAX_FAILURES_IN_A_ROW:
            raise ExperimentError(
                f"{MAX_FAILURES_IN_A_ROW} trials in a row failed; the first: {state.first_error} "
                "(finished trials are kept; fix the cause and run the same command to continue)"
            )
    return state.done - first


def _run_batch(
    request: TuneRequest,
    folder: ExperimentFolder,
    study: Any,
    executor: Executor,
    batch: Sequence[Any],
    state: _Progress,
    progress: Callable[[int, int, str], None] | None,
) -> None:
    """Evaluate a batch of asked trials; write and tell each as its last path finishes."""
    import optuna

    seeds = request.tuning_seeds
    data = request.scenario.to_dict()
    labels = [c.label for c in request.constraints]
    trials = {t.number: t for t in batch}
    sets: dict[int, dict[str, Any]] = {}
    tasks = []
    # each set's paths in shrinking tasks, the batch's queued largest first (guided_bounds)
    bounds = guided_bounds(len(seeds), executor.workers / len(batch))
    for trial in batch:
        trial.set_user_attr(OWNER, owner())
        sets[trial.number] = suggest(trial, request.params)
        tasks += split(sets[trial.number], seeds, request.engine, data, request.backend,
                       key=(trial.number,), bounds=bounds)  # fmt: skip
    tasks = largest_first(tasks)
    parts: dict[int, dict[int, list[dict[str, Any]]]] = {}
    failed: set[int] = set()

    def fail(number: int, message: str) -> bool:
        failed.add(number)
        state.first_error = state.first_error or f"trial {number}: {message}"
        trials[number].set_user_attr(ERROR, message)
        study.tell(trials[number], state=optuna.trial.TrialState.FAIL)
        state.failures_in_row += 1
        return state.failures_in_row >= MAX_FAILURES_IN_A_ROW

    def on_result(result: dict[str, Any]) -> bool:
        number, first = result["key"]
        if number in failed:
            return False
        if "error" in result:
            return fail(number, result["error"])
        got = parts.setdefault(number, {})
        got[first] = result["summaries"]
        if sum(len(v) for v in got.values()) < len(seeds):
            return False
        summaries = [s for i in sorted(got) for s in got[i]]
        figures = _figures(request, summaries)
        values = [figures["objectives"][o.label] for o in request.objectives]
        missing = [o.label for o, v in zip(request.objectives, values, strict=True)
                   if not math.isfinite(v)]  # fmt: skip
        if missing:
            return fail(number, f"objective {missing[0]} has no value on any path")
        record = {"number": number, "params": sets[number], "seeds": list(seeds),
                  "engine": request.engine, "values": figures["objectives"],
                  "values_list": values, "constraints": figures["constraints"],
                  "violations": figures["violations"], "feasible": figures["feasible"],
                  "metrics": figures["metrics"], "summaries": summaries}  # fmt: skip
        folder.write_item(_trial_name(number), record)
        trials[number].set_user_attr(RECORD, {k: v for k, v in record.items() if k != "summaries"})
        set_constraints(trials[number], labels, figures["violations"])
        study.tell(trials[number], values)
        state.failures_in_row = 0
        state.done += 1
        if progress:
            progress(state.done, request.trials, f"trial {number}")
        return False

    try:
        run_all(executor, evaluate, tasks, on_result)
    finally:
        for trial in batch:  # stopped early (or interrupted): these are not kept
            if study._storage.get_trial(trial._trial_id).state.name == "RUNNING":
                study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _verify(
    request: TuneRequest,
    folder: ExperimentFolder,
    study: Any,
    executor: Executor,
    progress: Callable[[int, int, str], None] | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The current set on the tuning paths, then the current set and the top candidates on
    chain on the held-out paths. Returns ``(current, candidates)`` as ``tune.json`` has them."""
    saved = study_records(folder, study, request.tuning_seeds)
    ranked = rank_trials(list(saved.values()), request.objectives)
    chosen = ranked[: request.candidates]
    sets: list[tuple[str, int | None, int | None, dict[str, Any]]] = [("current", None, None, {})]
    sets += [(f"candidate-{r['rank']}", r["rank"], r["number"], saved[r["number"]]["params"])
             for r in chosen]  # fmt: skip
    data = request.scenario.to_dict()
    seeds, held = request.tuning_seeds, request.held_out_seeds
    verify_root = request.out / "verify" / "runs"
    current_tuning = folder.read_item("current")
    tasks = []
    if not (current_tuning and current_tuning.get("seeds") == list(seeds)):
        current_tuning = None
        tasks += split({}, seeds, request.engine, data, request.backend, key=("tuning", "current"),
                       bounds=guided_bounds(len(seeds), executor.workers))  # fmt: skip
    for label, _, _, params in sets:
        dirs = [str(verify_root / label / f"path-{i}") for i in range(len(held))]
        tasks += split(params, held, "chain", data, request.verify_backend,
                       key=("held_out", label), keep_dirs=dirs)  # fmt: skip
    parts: dict[tuple[str, str], dict[int, list[dict[str, Any]]]] = {}
    errors: list[str] = []
    total = len(tasks)
    done = 0
    if progress and total:
        progress(0, total, "verification")

    def on_result(result: dict[str, Any]) -> bool:
        nonlocal done
        phase, label, first = result["key"]
        if "error" in result:
            errors.append(f"verification of {label} ({phase} paths): {result['error']}")
            return True
        parts.setdefault((phase, label), {})[first] = result["summaries"]
        done += 1
        if progress:
            progress(done, total, f"verify {label}")
        return False

    if tasks:
        run_all(executor, evaluate, tasks, on_result)
    if errors:
        raise ExperimentError(
            f"{errors[0]} (finished trials and runs are kept; run the same command to continue)"
        )

    def joined(phase: str, label: str) -> list[dict[str, Any]]:
        got = parts.get((phase, label), {})
        return [s for i in sorted(got) for s in got[i]]

    if current_tuning is None:
        summaries = joined("tuning", "current")
        current_tuning = {"seeds": list(seeds), "summaries": summaries,
                          **_figures(request, summaries)}  # fmt: skip
        folder.write_item("current", current_tuning)
    if held:
        _write_verify_scenario(request)
    from simulator.experiments.params import current_value

    out = []
    for label, rank, number, params in sets:
        if label == "current":
            tuning = {k: current_tuning[k] for k in ("objectives", "constraints", "feasible",
                                                     "metrics")}  # fmt: skip
            shown = {p.name: current_value(request.scenario, p.name) for p in request.params}
        else:
            record = saved[number]
            tuning = {"objectives": record["values"], "constraints": record["constraints"],
                      "feasible": record["feasible"], "metrics": record["metrics"]}  # fmt: skip
            shown = dict(params)
        held_out = None
        if held:
            figures = _figures(request, joined("held_out", label))
            held_out = {k: figures[k] for k in ("objectives", "constraints", "feasible", "metrics")}
        out.append({
            "label": label, "rank": rank, "trial": number, "params": shown, "tuning": tuning,
            "held_out": held_out,
            "runs": [f"verify/runs/{label}/path-{i}" for i in range(len(held))],
        })  # fmt: skip
    return out[0], out[1:]


def _write_verify_scenario(request: TuneRequest) -> None:
    """``OUT/verify/scenario.yaml``: the base scenario, so the app lists ``verify/`` as a
    comparison of the current set and the candidates."""
    import yaml

    from simulator.results import atomic_write_text

    folder = request.out / "verify"
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(request.scenario.to_dict(), sort_keys=False, allow_unicode=True)
    atomic_write_text(folder / "scenario.yaml", text)


__all__ = [
    "SCHEMA_VERSION",
    "TUNE_OUTPUTS",
    "TuneRequest",
    "build_request",
    "run_tune",
    "study_records",
]
