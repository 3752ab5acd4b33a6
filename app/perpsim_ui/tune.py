"""The Tune page's model: what ``perpsim tune`` is asked (checked by the CLI's own parsers), the
background job that runs it, and what the page shows of a tune folder (``tune.json``).

Inputs are checked with :func:`simulator.experiments.tune.build_request`, the function the
CLI calls, so a bad range, objective or constraint gets the CLI's one-line message, word for
word. A tune started here is ``perpsim tune ... --progress jsonl`` run by
:mod:`perpsim_ui.jobs`, in ``<app dir>/tune-<scenario>-<key>``: the key is a digest of
everything that determines the trials and their verification except ``--trials``, so asking
the same tune again with more trials continues its study (the CLI keeps the finished trials),
and asking it with as many or fewer reads the folder without starting anything.

The folder's ``tune.json`` (schema version 1, documented in
:mod:`simulator.experiments.tune`) is the only thing the results views read; its on-chain
verification runs (``OUT/verify/runs/<label>/path-<i>``) have the layout of a comparison's
runs, so the Compare page opens ``OUT/verify`` (:func:`compare_state`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from simulator.errors import PerpsimError
from simulator.experiments.report import HEADLINE_METRICS, cell, number
from simulator.scenario import Scenario

from . import charts, jobs, state

TUNE_JSON = "tune.json"
EXPERIMENT_JSON = "experiment.json"
#: The ``tune.json`` schema this page reads.
SCHEMA_VERSION = 1
#: Scenario control keys offered as parameters (``controls.<name>``); every other override key
#: can be typed in.
CONTROL_KEYS = ("insurance_fund_usd", "backstop_vault_usd", "backstop_unwind_share_per_step",
                "leverage_cap", "oi_cap_usd", "circuit_breaker_max_move_bps", "adl_policy",
                "adl_price_mode", "dynamic_margin")  # fmt: skip
#: Objectives offered (any ``[min:|max:]STAT:METRIC`` can be typed in).
OBJECTIVE_CHOICES = tuple(
    f"{stat}:{metric}" for metric in HEADLINE_METRICS for stat in ("mean", "var95", "cvar95")
)
#: Factors of the current value tried, in turn, for a parameter's suggested range.
_RANGE_FACTORS = ((0.5, 1.5), (0.75, 1.25), (0.9, 1.1))


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TuneForm:
    """What the page asks ``perpsim tune`` to do (its options, as typed)."""

    scenario: Scenario
    params: tuple[str, ...]
    """``--param`` items: ``NAME=LOW..HIGH`` or ``NAME=a|b|c``."""
    objectives: tuple[str, ...]
    constraints: tuple[str, ...]
    trials: int
    paths: int
    """Tuning paths per trial."""
    engine: str
    """``mirror`` or ``chain``."""
    backend: str
    """Chain backend of ``--engine chain`` (``revm``/``anvil``)."""
    max_change_pct: float | None
    candidates: int
    verify_paths: int
    workers: int
    verify_backend: str = "revm"
    """Chain backend of the held-out verification (``--verify-backend``: the CLI's default,
    revm, where this build has it)."""

    def request(self, out: Path):
        """The CLI's checked request (:func:`simulator.experiments.tune.build_request`).

        Raises
        ------
        PerpsimError
            Any bad input, with the CLI's one-line message.
        """
        from simulator.experiments.tune import build_request

        return build_request(
            self.scenario, list(self.params), list(self.objectives), list(self.constraints),
            trials=self.trials, paths=self.paths, out=out, engine=self.engine,
            backend=self.backend, max_change_pct=self.max_change_pct, candidates=self.candidates,
            verify_paths=self.verify_paths, verify_backend=self.verify_backend, workers=self.workers,
        )  # fmt: skip

    def options(self) -> list[str]:
        """The command line's options (everything after ``perpsim tune SCENARIO``)."""
        argv: list[str] = []
        for flag, items in (("--param", self.params), ("--objective", self.objectives),
                            ("--constraint", self.constraints)):  # fmt: skip
            for item in items:
                argv.append(f"{flag}={item}")  # `=`: a value may start with `-` or `max:`
        argv += ["--trials", str(self.trials), "--paths", str(self.paths),
                 "--engine", self.engine, "--backend", self.backend,
                 "--candidates", str(self.candidates), "--verify-paths", str(self.verify_paths),
                 "--verify-backend", self.verify_backend, "--workers", str(self.workers)]  # fmt: skip
        if self.max_change_pct is not None:
            argv += ["--max-change", f"{self.max_change_pct:g}"]
        return argv


def check(form: TuneForm) -> str | None:
    """The CLI's one-line message for the form's first bad input, ``None`` when all are good."""
    try:
        form.request(Path("."))
    except PerpsimError as exc:
        return str(exc)
    return None


def split_lines(text: str) -> tuple[str, ...]:
    """Non-empty stripped lines of a text area (one constraint per line)."""
    return tuple(line.strip() for line in str(text or "").splitlines() if line.strip())


def tunable_keys(scenario: Scenario) -> list[str]:
    """Override keys offered as parameters: the scenario's controls (:data:`CONTROL_KEYS`) and
    every scalar parameter of each market (``markets.<SYMBOL>.overrides.<name>``)."""
    from simulator.protocol.params import MarketParams

    keys = [f"controls.{name}" for name in CONTROL_KEYS]
    fields = [
        name for name, info in MarketParams.model_fields.items()
        if "tuple" not in str(info.annotation)
    ]  # fmt: skip
    for symbol in scenario.symbols:
        keys += [f"markets.{symbol}.overrides.{name}" for name in fields]
    return keys


def _number_text(value: float, integer: bool) -> str:
    return str(int(round(value))) if integer else f"{value:.6g}"


def _choices_of(name: str, current: Any) -> list[str] | None:
    """The values a non-numeric key can take (its enum's, or true/false), ``None`` if unknown."""
    from simulator.protocol.params import MarketParams
    from simulator.scenario.models import Controls

    field = name.rsplit(".", 1)[-1]
    model = Controls if name.startswith("controls.") else MarketParams
    info = model.model_fields.get(field)
    annotation = getattr(info, "annotation", None)
    for kind in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(kind, type) and issubclass(kind, Enum):
            return [str(member.value) for member in kind]
    if isinstance(current, bool) or annotation is bool:
        return ["true", "false"]
    return None


def suggested_range(scenario: Scenario, name: str) -> str:
    """A range for parameter ``name`` that the scenario accepts, as the ``--param`` text after
    ``=``: the current value x0.5..x1.5 (narrower when that is refused), every choice of a
    choice-valued key, ``""`` when there is nothing to suggest (no current value)."""
    from simulator.experiments.params import check_params, current_value, parse_param

    try:
        current = current_value(scenario, name)
    except PerpsimError:
        return ""
    choices = _choices_of(name, current)
    if choices is not None or isinstance(current, str):
        return "|".join(choices or [str(current)])
    if current is None or not isinstance(current, int | float) or current <= 0:
        return ""
    integer = isinstance(current, int)
    for low, high in _RANGE_FACTORS:
        text = f"{_number_text(current * low, integer)}..{_number_text(current * high, integer)}"
        try:
            check_params(scenario, [parse_param(f"{name}={text}")])
        except PerpsimError:
            continue
        return text
    return ""


def engine_problem(engine: str, backend: str, scenario: Scenario | None = None) -> str | None:
    """Why ``engine`` cannot run here, or cannot run ``scenario`` (the mirror refuses the
    features it does not model), in the CLI's words; ``None`` when it can."""
    from simulator.experiments.evaluate import check_engine

    try:
        check_engine(engine, backend)
        if engine == "mirror" and scenario is not None:
            from simulator.mirror.sim.features import check_mirrored

            check_mirrored(scenario)
    except PerpsimError as exc:
        return str(exc)
    return None


# ----------------------------------------------------------------------------------------------
# Folders and the background job
# ----------------------------------------------------------------------------------------------


def tune_key(form: TuneForm) -> str:
    """Digest of what determines a tune's trials and verification, ``--trials`` aside.

    Raises
    ------
    PerpsimError
        A bad input (:meth:`TuneForm.request`).
    """
    spec = form.request(Path(".")).spec()
    spec["verify"] = [form.candidates, form.verify_paths, form.verify_backend]
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def tune_folder(form: TuneForm, root: Path) -> Path:
    """The app's folder for a tune: ``<root>/tune-<scenario>-<key[:12]>``."""
    return root / f"tune-{form.scenario.name}-{tune_key(form)[:12]}"


def read_tune(folder: Path) -> dict[str, Any] | None:
    """``folder/tune.json`` if it is a tune of this schema, else ``None``.

    Raises
    ------
    ValueError
        The file is there but unreadable, not a tune's, or of another schema version.
    """
    path = Path(folder) / TUNE_JSON
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != "tune":
        raise ValueError(f"{path} is not a tune's report")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(
            f"{path} has schema version {data.get('schema_version')!r}; this app reads "
            f"version {SCHEMA_VERSION}"
        )
    return data


def finished_trials(folder: Path) -> int:
    """Trials written so far (``trials/trial-*.json``), finished tune or not."""
    return len(list((Path(folder) / "trials").glob("trial-*.json")))


def is_done(folder: Path, trials: int) -> bool:
    """True when ``folder`` holds a finished tune with at least ``trials`` complete trials."""
    try:
        data = read_tune(folder)
    except ValueError:
        return False
    return data is not None and int(data["trials"]["complete"]) >= trials


def start_tune(form: TuneForm, root: Path) -> tuple[Path, jobs.Job | None]:
    """The tune's folder and the job filling it (``None``: it already finished).

    The scenario goes to ``<root>/.scenarios/<fingerprint>.yaml`` (the tune folder accepts no
    files of its own); the CLI continues a stopped tune in the same folder.
    """
    out = tune_folder(form, root)
    if is_done(out, form.trials):
        return out, None
    current = jobs.find(out)
    if current is not None and current.running:
        return out, current
    spec = root / ".scenarios" / f"{form.scenario.fingerprint()}.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(form.scenario.to_yaml(), encoding="utf-8")
    command = [*state.perpsim_command(), "tune", str(spec), *form.options(), "--out", str(out),
               "--progress", "jsonl"]  # fmt: skip
    return out, jobs.submit("tune", out, command, f"tune {form.scenario.name}")


def progress_text(job: jobs.Job, trials: int) -> str:
    """What a running tune is doing: its search (trial d of N), then its verification runs."""
    if not job.total:
        return f"{job.label}: starting ({job.elapsed_s:.0f} s)"
    # The phase as the tune says it ("verification", "verify <label>" once the search is
    # done); an older line without it: the trial files in the folder.
    verifying = job.detail.startswith("verif") if job.detail else (
        finished_trials(job.out_dir) >= trials)  # fmt: skip
    if verifying:
        return (f"{job.label}: verification on chain, {job.done} of {job.total} evaluations "
                f"({job.elapsed_s:.0f} s)")  # fmt: skip
    return f"{job.label}: search, trial {job.done} of {job.total} ({job.elapsed_s:.0f} s)"


def list_tunes(root: Path) -> list[Path]:
    """Tune folders under ``root`` (an ``experiment.json`` of kind ``tune``), newest first;
    hidden folders and the insides of a tune or comparison are not searched."""
    found = []
    root = Path(root)
    if not root.is_dir():
        return []
    stack = [root]
    while stack:
        folder = stack.pop()
        marker = folder / EXPERIMENT_JSON
        if marker.is_file():
            try:
                kind = json.loads(marker.read_text(encoding="utf-8")).get("spec", {}).get("kind")
            except (OSError, ValueError, AttributeError):
                kind = None
            if kind == "tune":
                found.append(folder)
            continue
        if (folder / "manifest.json").is_file() or (folder / "runs").is_dir():
            continue  # a run or a comparison
        try:
            stack += [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            continue
    return sorted(found, key=lambda p: (p / EXPERIMENT_JSON).stat().st_mtime, reverse=True)


# ----------------------------------------------------------------------------------------------
# What the page shows of a finished tune
# ----------------------------------------------------------------------------------------------


def sets(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The current set and each verified candidate, by label (``current``, ``candidate-1``...)."""
    return {s["label"]: s for s in [data["current"], *data.get("candidates", [])]}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def trials_frame(data: Mapping[str, Any]) -> pd.DataFrame:
    """One row per trial of the study: state, feasible, on the Pareto front, rank, the
    parameters, the objectives' and constraints' values (their units), the error if it failed."""
    params = [p["name"] for p in data["params"]]
    objectives = [o["label"] for o in data["objectives"]]
    constraints = [c["label"] for c in data["constraints"]]
    rows = []
    for t in data["trials_table"]:
        values, cons = t.get("values") or {}, t.get("constraints") or {}
        rows.append({
            "trial": t["number"], "state": t["state"], "feasible": t.get("feasible"),
            "pareto": bool(t.get("pareto")), "rank": t.get("rank"),
            **{p: (t.get("params") or {}).get(p) for p in params},
            **{o: values.get(o) for o in objectives},
            **{c: cons.get(c) for c in constraints},
            "error": t.get("error"),
        })  # fmt: skip
    columns = ["trial", "state", "feasible", "pareto", "rank", *params, *objectives,
               *constraints, "error"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns).set_index("trial")


def _direction(data: Mapping[str, Any], label: str) -> str:
    for o in data["objectives"]:
        if o["label"] == label:
            return "lower is better" if o["direction"] == "minimize" else "higher is better"
    return ""


def _hover(data: Mapping[str, Any], x: str, y: str) -> str:
    """Hover text of a trial: its number, parameters and the two plotted figures."""
    lines = ["trial %{customdata[0]}"]
    lines += [f"{p['name']}: %{{customdata[{i + 1}]}}" for i, p in enumerate(data["params"])]
    lines += [f"{x}: %{{x:,.4g}}", f"{y}: %{{y:,.4g}}"]
    return "<br>".join(lines) + "<extra>%{fullData.name}</extra>"


def pareto_figure(data: Mapping[str, Any], x: str, y: str | None) -> go.Figure:
    """The trials in objective space: feasible and infeasible trials, the feasible Pareto front
    (a line through it, in ``x`` order), the verified candidates (stars, labelled), the current
    set (its figures on the tuning paths). With one objective (``y`` is ``None``) the x axis is
    the trial number and the objective is on y."""
    frame = trials_frame(data)
    done = frame[frame["state"] == "COMPLETE"]
    params = [p["name"] for p in data["params"]]

    def xy(rows: pd.DataFrame) -> tuple[list, list]:
        if y is None:
            return rows.index.tolist(), rows[x].tolist()
        return rows[x].tolist(), rows[y].tolist()

    def custom(rows: pd.DataFrame) -> list[list]:
        return [[n, *(number(r[p]) for p in params)] for n, r in rows.iterrows()]

    hover = _hover(data, "trial" if y is None else x, x if y is None else y)
    fig = go.Figure()
    groups = (
        ("feasible", done[(done["feasible"] == True) & ~done["pareto"]],  # noqa: E712
         {"color": charts.PALETTE[0], "symbol": "circle", "size": 8, "opacity": 0.6}),
        ("infeasible", done[done["feasible"] != True],  # noqa: E712
         {"color": "#7f7f7f", "symbol": "x", "size": 8, "opacity": 0.7}),
        ("Pareto front", done[done["pareto"]],
         {"color": charts.PALETTE[1], "symbol": "circle", "size": 11}),
    )  # fmt: skip
    for name, rows, marker in groups:
        if name == "Pareto front" and y is not None:
            rows = rows.sort_values(x)
        xs, ys = xy(rows)
        mode = "lines+markers" if name == "Pareto front" and y is not None else "markers"
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode=mode, marker=marker,
                                 line={"color": marker["color"], "dash": "dot"},
                                 customdata=custom(rows), hovertemplate=hover))  # fmt: skip
    chosen = [c for c in data.get("candidates", []) if c.get("trial") in done.index]
    if chosen:
        rows = done.loc[[c["trial"] for c in chosen]]
        xs, ys = xy(rows)
        recommended = (data.get("recommended") or {}).get("label")
        texts = [c["label"] + (" (recommended)" if c["label"] == recommended else "")
                 for c in chosen]  # fmt: skip
        fig.add_trace(go.Scatter(
            x=xs, y=ys, name="candidates", mode="markers+text", text=texts,
            textposition="top center", customdata=custom(rows), hovertemplate=hover,
            marker={"color": charts.PALETTE[3], "symbol": "star", "size": 16,
                    "line": {"color": "black", "width": 1}},
        ))  # fmt: skip
    current = (data.get("current") or {}).get("tuning", {}).get("objectives", {})
    if y is not None and _finite(current.get(x)) and _finite(current.get(y)):
        fig.add_trace(go.Scatter(
            x=[current[x]], y=[current[y]], name="current set", mode="markers+text",
            text=["current"], textposition="bottom center",
            marker={"color": "black", "symbol": "diamond", "size": 12},
            hovertemplate="current set<br>%{x:,.4g}, %{y:,.4g}<extra></extra>",
        ))  # fmt: skip
    K = data["tuning"]["paths"]
    title = (f"Pareto front: {data['trials']['complete']} complete trials, each on the same {K} "
             "tuning path(s)")  # fmt: skip
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"}, height=charts.HEIGHT + 120,
        margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0},
        xaxis_title="trial" if y is None else f"{x} ({_direction(data, x)})",
        yaxis_title=f"{(x if y is None else y)} ({_direction(data, x if y is None else y)})",
    )  # fmt: skip
    return fig


def metric_names(data: Mapping[str, Any]) -> list[str]:
    """The metrics every set has intervals of (headline metrics, objectives', constraints')."""
    names: list[str] = []
    for s in sets(data).values():
        for phase in ("tuning", "held_out"):
            for m in (s.get(phase) or {}).get("metrics") or {}:
                if m not in names:
                    names.append(m)
    return names


def set_table(data: Mapping[str, Any], labels: Sequence[str]) -> pd.DataFrame:
    """Sets side by side: for each set in ``labels``, its tuning and held-out columns.

    Rows: each parameter's value, each objective and constraint value, whether the set meets
    the constraints, then each metric's mean over the paths with its 95% interval
    (``mean [low, high]``, the metric's unit), and the number of paths. Held-out figures are
    the on-chain verification on fresh paths (``-`` when the tune skipped it).
    """
    chosen = sets(data)
    K, H = data["tuning"]["paths"], data["held_out"]["paths"]
    rows: dict[str, dict[str, str]] = {}
    columns = []
    for label in labels:
        s = chosen[label]
        for phase, paths in (("tuning", K), ("held_out", H)):
            column = f"{label} · {'tuning' if phase == 'tuning' else 'held-out'} ({paths} paths)"
            columns.append(column)
            figures = s.get(phase) or {}
            for p in data["params"]:
                rows.setdefault(f"param: {p['name']}", {})[column] = number(
                    s["params"].get(p["name"])
                )
            for o in data["objectives"]:
                value = (figures.get("objectives") or {}).get(o["label"])
                rows.setdefault(f"objective: {o['label']}", {})[column] = number(value)
            for c in data["constraints"]:
                value = (figures.get("constraints") or {}).get(c["label"])
                rows.setdefault(f"constraint: {c['label']}", {})[column] = number(value)
            if data["constraints"]:
                ok = figures.get("feasible")
                rows.setdefault("meets the constraints", {})[column] = (
                    "-" if ok is None else ("yes" if ok else "no")
                )
            metrics = figures.get("metrics") or {}
            for m in metric_names(data):
                rows.setdefault(f"{m} (mean [95% CI])", {})[column] = (
                    cell(metrics[m]) if m in metrics else "-"
                )
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    frame.index.name = "figure"
    return frame.fillna("-")


def compare_state(data: Mapping[str, Any], folder: Path) -> tuple[str, tuple[str, ...], int]:
    """The Compare page's ``compare.out_dir`` for the tune's verification runs: the folder
    ``OUT/verify``, the sets (current first, then the candidates by rank), the held-out paths.

    Raises
    ------
    ValueError
        The tune verified nothing on chain (``--verify-paths 0``).
    """
    held = int(data["held_out"]["paths"])
    verify = Path(folder) / data["files"].get("verify_dir", "verify")
    if held < 1 or not (verify / "runs").is_dir():
        raise ValueError("this tune has no verification runs (it ran with --verify-paths 0)")
    return str(verify), tuple(sets(data)), held
