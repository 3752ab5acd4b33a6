"""Run scenarios on the mirror engine (:class:`~simulator.mirror.sim.MirrorEngine`): many seeds
into summaries (:func:`run_paths`, what tuning calls), or one scenario into a run folder with
the chain's schema (:func:`run_mirror`, what ``perpsim run --engine mirror`` calls).

A mirror run folder is written by the same :class:`~simulator.results.RunWriter` as a chain
run, its tables and ``summary.json`` computed by the same
:func:`~simulator.results.summary.summarize`; its manifest's ``extra`` says
``engine: mirror`` and the mode, so that :func:`~simulator.results.check_same_run` never takes a
chain run folder for a mirror one, nor the reverse. A scenario feature the mirror does not model
is refused before any folder exists (:class:`~simulator.mirror.sim.NotMirrored`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.engine.metrics import FIGURES_MEMO, STEP_EVENT_KINDS, StepFigures
from simulator.mirror.sim import MODES, MirrorEngine, NotMirrored
from simulator.results import RunWriter
from simulator.results.schema import (
    EVENT_COLUMNS,
    POSITION_COLUMNS,
    STEP_COLUMNS,
    _empty_table,
    _to_table,
)
from simulator.results.summary import (
    SUMMARY_EVENT_KINDS,
    SUMMARY_STEP_COLUMNS,
    summarize,
    summary_columns,
    summary_event_columns,
)
from simulator.results.summary_arrays import summarize_columns
from simulator.scenario import Scenario

#: ``manifest.json``'s ``extra.engine`` of a mirror run (a chain run's is absent or ``chain``).
ENGINE = "mirror"
#: The ``events`` rows a path of :func:`run_paths` keeps: the kinds its summary reads
#: (:data:`~simulator.results.summary.SUMMARY_EVENT_KINDS`) and those the step rows read
#: (:data:`~simulator.engine.metrics.STEP_EVENT_KINDS`). A run folder keeps every row.
EVALUATION_EVENT_KINDS = SUMMARY_EVENT_KINDS | STEP_EVENT_KINDS


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise NotMirrored(f"mirror mode must be one of {', '.join(MODES)}, not {mode!r}")


def simulate_mirror(
    scenario: Scenario,
    *,
    mode: str = "fast",
    on_step: Callable[[Any], None] | None = None,
    event_kinds: frozenset[str] | None = None,
) -> tuple[MirrorEngine, list[dict], list[dict], float]:
    """Run ``scenario`` on the mirror: (engine, step rows, event rows, wall seconds); with
    ``on_step`` the rows go to it instead of the lists. ``event_kinds``: the event rows to
    keep, by kind (None: all; the others are not built, nothing else changes)."""
    _check_mode(mode)
    started = time.perf_counter()
    engine = MirrorEngine(scenario, mode=mode, event_kinds=event_kinds)
    rows: list[dict] = []
    events: list[dict] = []

    def collect(outcome) -> None:
        if on_step is not None:
            on_step(outcome)
        else:
            rows.extend(outcome.rows)
            events.extend(outcome.events)

    engine.run(on_step=collect)
    return engine, rows, events, time.perf_counter() - started


def summary_of(engine: MirrorEngine, rows: list[dict], events: list[dict], wall: float) -> dict:
    """The run's ``summary.json`` dict, the run folder's (:func:`summarize` of its tables).

    The columns :func:`summarize` reads are taken straight from the rows
    (:func:`~simulator.results.summary.summary_columns`: the values and dtypes of the folder's
    tables, without Arrow and without the positions, which it does not read) and reduced with
    numpy (:func:`~simulator.results.summary_arrays.summarize_columns`, pandas' figures to the
    bit); columns it leaves to pandas are summarized as frames, and rows it cannot take
    plainly go through the folder's schema, which converts them or names what is wrong."""
    meta = engine.summary_meta(wall)
    columns = summary_columns(rows, events)
    if columns is None:
        steps = _to_table(rows, STEP_COLUMNS, "steps").to_pandas()
        events_df = _to_table(events, EVENT_COLUMNS, "events").to_pandas()
        positions = _to_table(engine.positions(), POSITION_COLUMNS, "positions").to_pandas()
        return summarize(steps, events_df, positions, meta)
    summary = summarize_columns(*columns, meta)
    if summary is not None:
        return summary
    steps, events_df = (pd.DataFrame(c, copy=False) for c in columns)
    return summarize(steps, events_df, _empty_table(POSITION_COLUMNS).to_pandas(), meta)


def evaluate_path(scenario: Scenario, *, mode: str = "fast") -> dict:
    """One path of :func:`run_paths`: ``scenario`` on the mirror into its summary, the one a
    run folder of it has (:func:`summary_of` of its rows; ``wall_seconds`` aside).

    The path keeps only the event rows of :data:`EVALUATION_EVENT_KINDS`, and builds no step
    rows: the step figures the summary reads are kept in arrays instead
    (:class:`~simulator.engine.metrics.StepFigures` of ``rows=False``, in ``ctx.memo``), and
    the summary reduces those (:func:`summary_of_figures`)."""
    _check_mode(mode)
    started = time.perf_counter()
    engine = MirrorEngine(scenario, mode=mode, event_kinds=EVALUATION_EVENT_KINDS)
    figures = StepFigures(scenario.steps, engine.symbols, rows=False)
    engine.ctx.memo[FIGURES_MEMO] = figures
    events: list[dict] = []
    engine.run(events=events)  # each step's event rows into the list, no outcome built
    # step 0's venue row takes the opening book's orders (with_opening, on the rows)
    figures.add_opening_transactions(engine.world.opening_transactions)
    return summary_of_figures(engine, figures, events, time.perf_counter() - started)


def summary_of_figures(
    engine: MirrorEngine, figures: StepFigures, events: list[dict], wall: float
) -> dict:
    """:func:`summary_of` from the run's step figures (:meth:`StepFigures.columns
    <simulator.engine.metrics.StepFigures.columns>`) instead of its step rows: the same
    summary. Event rows that are not plainly typed go through the folder's schema, and
    columns :func:`summarize_columns` leaves to pandas are summarized as frames."""
    meta = engine.summary_meta(wall)
    steps = figures.columns(SUMMARY_STEP_COLUMNS)
    events_columns = summary_event_columns(events)
    if events_columns is not None:
        summary = summarize_columns(steps, events_columns, meta)
        if summary is not None:
            return summary
        events_df = pd.DataFrame(events_columns, copy=False)
    else:
        events_df = _to_table(events, EVENT_COLUMNS, "events").to_pandas()
    steps_df = pd.DataFrame(steps, copy=False)
    return summarize(steps_df, events_df, _empty_table(POSITION_COLUMNS).to_pandas(), meta)


def run_paths(scenario: Scenario, seeds: Sequence[int], *, mode: str = "fast") -> list[dict]:
    """For each seed, the summary (the keys of a chain run's ``summary.json``) of
    ``scenario.with_overrides(seed=seed)`` on the mirror, in ``seeds`` order.

    Each seed draws its own book and price paths (the scenario's random streams), so the
    seeds run one after the other; within a run the mirror is vectorized over traders. A path
    builds only the event rows its summary and step rows read (:data:`EVALUATION_EVENT_KINDS`):
    the summary is the one a run folder of the same path has (:func:`evaluate_path`).
    Raises :class:`~simulator.mirror.sim.NotMirrored` for a feature the mirror does not model.
    """
    _check_mode(mode)
    return [evaluate_path(scenario.with_seed(int(seed)), mode=mode) for seed in seeds]


def run_mirror(
    scenario: Scenario,
    run_dir: str | Path,
    *,
    mode: str = "fast",
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """Run ``scenario`` on the mirror into the run folder ``run_dir`` (the chain's schema;
    manifest ``extra.engine: mirror``); return the :class:`~simulator.runner.RunResult`.

    The mode, the scenario's data files, the folder and the scenario's features are checked
    and the whole run is made before the folder is written, so a refusal or a failure leaves
    no folder."""
    from simulator.runner import RunResult, _result, bytecode_hashes

    _check_mode(mode)
    scenario.check_data_files()
    RunWriter.check_folder(run_dir, overwrite=overwrite)
    steps = scenario.steps

    def tick(outcome) -> None:
        rows.append(outcome.rows)
        events.extend(outcome.events)
        if progress is not None:
            progress(len(rows) - 1, steps)

    rows: list[list[dict]] = []
    events: list[dict] = []
    # The whole run first (a refusal or a failure leaves no folder), then the folder at once.
    engine, _, _, wall = simulate_mirror(scenario, mode=mode, on_step=tick)
    writer = RunWriter(
        run_dir,
        scenario=scenario,
        seed=scenario.seed,
        bytecode_hashes=bytecode_hashes(),
        extra={"input_notes": scenario.input_notes(), "engine": ENGINE, "mirror_mode": mode},
        overwrite=overwrite,
    )
    with writer:
        for step_rows in rows:
            writer.add_step(step_rows)
        writer.add_events(events)
        summary = writer.finish(engine.positions(), meta=engine.summary_meta(wall))
    result: RunResult = _result(Path(run_dir), summary)
    return result


__all__ = [
    "ENGINE",
    "EVALUATION_EVENT_KINDS",
    "evaluate_path",
    "run_mirror",
    "run_paths",
    "simulate_mirror",
    "summary_of",
    "summary_of_figures",
]
