"""The outputs of ``perpsim tune``: ``tune.json`` (schema: :mod:`simulator.experiments.tune`),
``tune.md``, ``pareto.csv``, ``trials.csv`` and the plots."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from simulator.experiments.report import (
    HEADLINE_METRICS,
    cell,
    figure_lines,
    markdown,
    number,
    write_figures,
)
from simulator.experiments.store import EXPERIMENT, ExperimentFolder
from simulator.experiments.study import ERROR, rank_trials
from simulator.results import atomic_write_json, atomic_write_text


def _trials_table(request: Any, folder: ExperimentFolder, study: Any) -> list[dict[str, Any]]:
    from simulator.experiments.tune import study_records

    saved = study_records(folder, study, request.tuning_seeds)
    ranks = {r["number"]: r for r in rank_trials(list(saved.values()), request.objectives)}
    rows = []
    for trial in study.get_trials(deepcopy=False):
        record = saved.get(trial.number) if trial.state.name == "COMPLETE" else None
        rank = ranks.get(trial.number)
        rows.append({
            "number": trial.number,
            "state": trial.state.name,
            "params": dict(trial.params),
            "values": record["values"] if record else None,
            "constraints": record["constraints"] if record else None,
            "feasible": record["feasible"] if record else None,
            "pareto": bool(rank and rank["front"] == 0),
            "rank": rank["rank"] if rank else None,
            "error": trial.user_attrs.get(ERROR),
            "file": record["file"] if record else None,
        })  # fmt: skip
    return rows


def _recommend(candidates: Sequence[Mapping[str, Any]], verified: bool) -> tuple[dict | None, str]:
    if not candidates:
        return None, "no trial finished that meets every constraint on the tuning paths"
    for c in candidates:
        if not verified:
            return ({"label": c["label"], "trial": c["trial"]},
                    "the best-ranked candidate on the tuning paths (no held-out verification "
                    "was run: --verify-paths 0)")  # fmt: skip
        if c["held_out"] and c["held_out"]["feasible"]:
            first = c is candidates[0]
            why = ("the best-ranked candidate, and it meets every constraint on the held-out "
                   "paths on chain") if first else (
                   f"the best-ranked candidate that meets every constraint on the held-out "
                   f"paths on chain ({candidates[0]['label']} does not)")  # fmt: skip
            return {"label": c["label"], "trial": c["trial"]}, why
    return None, "no candidate meets every constraint on the held-out paths on chain"


def _plots(request: Any, study: Any, current: Mapping[str, Any],
           candidates: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """Optuna's visualizations where they apply, and the tuning-vs-held-out chart."""
    import optuna.visualization as vis
    import plotly.graph_objects as go

    labels = [o.label for o in request.objectives]
    figures: dict[str, Any] = {}
    notes: list[str] = []
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]

    def attempt(name: str, build: Any) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                figures[name] = build()
        except Exception as exc:  # a plot that does not apply to this study is left out
            notes.append(f"{name}: not drawn ({' '.join(str(exc).split())[:120]})")

    if not complete:
        return figures, ["no complete trial: no plot"]
    if 2 <= len(labels) <= 3:
        attempt("pareto-front", lambda: vis.plot_pareto_front(study, target_names=labels))
    for i, label in enumerate(labels):
        attempt(f"history-{i + 1}", lambda i=i, label=label: vis.plot_optimization_history(
            study, target=lambda t: t.values[i], target_name=label))  # fmt: skip
    attempt("parallel-coordinate", lambda: vis.plot_parallel_coordinate(
        study, target=lambda t: t.values[0], target_name=labels[0]))  # fmt: skip
    if len(request.params) >= 2 and len(complete) >= 4:
        attempt("param-importances", lambda: vis.plot_param_importances(
            study, target=lambda t: t.values[0], target_name=labels[0]))  # fmt: skip
    sets = [current, *candidates]
    if sets and sets[0].get("held_out") is not None:
        fig = go.Figure()
        for phase, name in (("tuning", f"tuning ({request.engine}, {request.paths} paths)"),
                            ("held_out", f"held-out (chain, {request.verify_paths} paths)")):  # fmt: skip
            fig.add_bar(name=name, x=[s["label"] for s in sets],
                        y=[s[phase]["objectives"].get(labels[0]) for s in sets])  # fmt: skip
        fig.update_layout(barmode="group", title=f"{labels[0]}: tuning vs held-out paths",
                          yaxis_title=labels[0], template="plotly_white")  # fmt: skip
        figures["tuning-vs-held-out"] = fig
    return figures, notes


def write_outputs(request: Any, folder: ExperimentFolder, study: Any, current: Mapping[str, Any],
                  candidates: Sequence[Mapping[str, Any]], *, study_info: Mapping[str, Any],
                  executor: str, own_db: bool,
                  timing: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Write ``trials.csv``, ``pareto.csv``, the plots, ``tune.md`` and ``tune.json``."""
    from simulator.experiments.tune import SCHEMA_VERSION

    out = request.out
    labels = [o.label for o in request.objectives]
    cons = [c.label for c in request.constraints]
    table = _trials_table(request, folder, study)
    verified = request.verify_paths > 0
    recommended, reason = _recommend(candidates, verified)
    names = [p.name for p in request.params]

    def flat(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"number": row["number"], "state": row["state"], "rank": row["rank"],
                "pareto": row["pareto"], "feasible": row["feasible"],
                **{n: row["params"].get(n) for n in names},
                **{lab: (row["values"] or {}).get(lab) for lab in labels},
                **{lab: (row["constraints"] or {}).get(lab) for lab in cons},
                "error": row["error"]}  # fmt: skip

    frame = pd.DataFrame([flat(r) for r in table])
    pareto_rows = sorted((r for r in table if r["pareto"]), key=lambda r: r["rank"])
    for name, rows in (("trials.csv", table), ("pareto.csv", pareto_rows)):
        tmp = out / f".{name}.tmp"
        (frame if name == "trials.csv" else pd.DataFrame([flat(r) for r in rows],
                                                         columns=frame.columns)).to_csv(tmp, index=False)  # fmt: skip
        tmp.replace(out / name)
    if request.verify_paths:
        write_verify_comparison(request, [current, *candidates])
    figures, plot_notes = _plots(request, study, current, candidates)
    written = write_figures(figures, out / "plots")
    counts = {
        "requested": request.trials,
        "complete": sum(r["state"] == "COMPLETE" for r in table),
        "failed": sum(r["state"] == "FAIL" for r in table),
        "feasible": sum(bool(r["feasible"]) for r in table),
        "pareto": len(pareto_rows),
    }
    held = request.held_out_seeds
    result = {
        "schema_version": SCHEMA_VERSION,
        "kind": "tune",
        "scenario": {"name": request.scenario.name, "seed": request.scenario.seed,
                     "fingerprint": request.scenario.fingerprint(),
                     "data": request.scenario.to_dict()},
        "engine": request.engine,
        "backend": request.backend if request.engine == "chain" else None,
        "executor": executor,
        "study": dict(study_info),
        "params": [p.to_dict() for p in request.params],
        "max_change_pct": request.max_change_pct,
        "objectives": [o.to_dict() for o in request.objectives],
        "constraints": [c.to_dict() for c in request.constraints],
        "tuning": {"paths": request.paths, "seeds": request.tuning_seeds},
        "held_out": {"paths": len(held), "seeds": held, "engine": "chain",
                     "backend": request.verify_backend, "rule": "path_seeds(seed, K+H)[K:]",
                     "disjoint": not (set(held) & set(request.tuning_seeds))},
        "trials": counts,
        "trials_table": table,
        "pareto": [r["number"] for r in pareto_rows],
        "current": dict(current),
        "candidates": [dict(c) for c in candidates],
        "recommended": {**recommended, "reason": reason} if recommended else None,
        "recommended_reason": reason,
        "timing": dict(timing or {}),
        "plots": written,
        "files": {"report": "tune.md", "pareto_csv": "pareto.csv", "trials_csv": "trials.csv",
                  "experiment": EXPERIMENT, "trials_dir": "trials", "verify_dir": "verify",
                  "verify_compare": "verify/compare.json" if verified else None,
                  "study_db": "study.db" if own_db else None},
    }  # fmt: skip
    atomic_write_text(out / "tune.md", _markdown(request, result, written, plot_notes))
    atomic_write_json(out / "tune.json", result)
    return {**result, "out": out}


def write_verify_comparison(request: Any, sets: Sequence[Mapping[str, Any]]) -> None:
    """``OUT/verify/compare.json``: the verification runs as a finished comparison (the current
    set and each candidate as its "control sets", the held-out paths as its paths), in the
    format ``perpsim compare`` writes, so the app's Compare view opens ``OUT/verify`` whole.

    Its ``paths`` are the held-out ones (``held_out_seeds``), not ``path_seeds(seed, N)`` of a
    comparison; ``plan`` records each run's folder and scenario fingerprint."""
    from simulator.results import RunReader, code_hash
    from simulator.runner import bytecode_hashes
    from simulator.stats import (
        DEFAULT_METRICS,
        FIELDS,
        compare_table,
        comparison_rows,
        market_compare_table,
        run_markets,
    )

    folder = request.out / "verify"
    seed = request.scenario.seed
    runs = {s["label"]: [RunReader(request.out / r).summary for r in s["runs"]] for s in sets}
    rows = comparison_rows(compare_table(runs, DEFAULT_METRICS, seed=seed),
                           market_compare_table(runs, seed=seed))  # fmt: skip
    labels = [s["label"] for s in sets]

    def describe(s: Mapping[str, Any]) -> str:
        if s["trial"] is None:
            return "the scenario's own parameters (current set)"
        values = ", ".join(f"{k}={v}" for k, v in s["params"].items())
        return f"tune candidate {s['rank']} (trial {s['trial']}): {values}"

    plan = []
    for s in sets:
        for i, run in enumerate(s["runs"]):
            manifest = RunReader(request.out / run).manifest
            plan.append({"control": s["label"], "path": i, "feedback": True,
                         "run_dir": f"runs/{s['label']}/path-{i}",
                         "scenario_fingerprint": manifest.get("scenario_fingerprint")})  # fmt: skip
    atomic_write_json(folder / "compare.json", {
        "scenario": request.scenario.to_dict(),
        "controls": {s["label"]: describe(s) for s in sets},
        "paths": request.verify_paths,
        "held_out_seeds": request.held_out_seeds,
        "runs": runs,
        "markets": list(run_markets(runs)),
        "table": [{"market": market, "metric": metric, "control": label,
                   **{f: rows.loc[(market, metric), (label, f)] for f in FIELDS}}
                  for (market, metric) in rows.index for label in labels],
        "code_hash": code_hash(),
        "bytecode_hashes": bytecode_hashes(),
        "plan": plan,
    })  # fmt: skip


def _set_rows(request: Any, sets: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The side-by-side table: one row per figure, for each set its tuning and held-out cells."""
    header = ["figure"]
    for s in sets:
        header += [f"{s['label']} tuning", f"{s['label']} held-out"]
    rows: list[list[str]] = []
    for p in request.params:
        row = [f"`{p.name}`"]
        for s in sets:
            row += [number(s["params"].get(p.name)), ""]
        rows.append(row)
    for key, kind in ([(o.label, "objectives") for o in request.objectives]
                      + [(c.label, "constraints") for c in request.constraints]):  # fmt: skip
        row = [f"{key} ({'objective' if kind == 'objectives' else 'constraint'})"]
        for s in sets:
            for phase in ("tuning", "held_out"):
                row.append(
                    number((s.get(phase) or {}).get(kind, {}).get(key)) if s.get(phase) else "-"
                )
        rows.append(row)
    row = ["meets every constraint"]
    for s in sets:
        for phase in ("tuning", "held_out"):
            row.append(("yes" if s[phase]["feasible"] else "no") if s.get(phase) else "-")
    rows.append(row)
    metrics = list(dict.fromkeys((*HEADLINE_METRICS, *(o.metric for o in request.objectives),
                                  *(c.metric for c in request.constraints))))  # fmt: skip
    for m in metrics:
        row = [f"{m} mean [95% CI]"]
        for s in sets:
            for phase in ("tuning", "held_out"):
                row.append(cell(s[phase]["metrics"].get(m, {})) if s.get(phase) else "-")
        rows.append(row)
    return header, rows


def _markdown(request: Any, result: Mapping[str, Any], written: Mapping[str, Any],
              plot_notes: Sequence[str]) -> str:  # fmt: skip
    sc = request.scenario
    counts = result["trials"]
    held = result["held_out"]
    engine = f"chain ({request.backend})" if request.engine == "chain" else "mirror"
    lines = [
        f"# perpsim tune: {sc.name}",
        "",
        "## Method",
        "",
        "- Parameters: "
        + "; ".join(
            f"`{p.describe()}`"
            + (
                f" (current {number(p.current)}"
                + (
                    f", narrowed by --max-change {request.max_change_pct:g}% "
                    f"from [{number(p.given[0])}, {number(p.given[1])}])"
                    if p.narrowed
                    else ")"
                )
            )
            for p in request.params
        )
        + ".",  # fmt: skip
        "- Objectives: "
        + "; ".join(f"{o.direction} `{o.label}`" for o in request.objectives)
        + ". Constraints: "
        + ("; ".join(f"`{c.label}`" for c in request.constraints) or "none")
        + ". Statistics are over paths (varQ and evarQ: the Q-th percentile, the project's "
        "definition).",
        f"- Search: Optuna study `{result['study']['name']}` ({result['study']['storage']}), "
        f"sampler {request.sampler}; {counts['complete']} of {counts['requested']} trials "
        f"complete, {counts['failed']} failed, {counts['feasible']} meet every constraint, "
        f"{counts['pareto']} on the Pareto front. Each trial ran on the same {request.paths} "
        f"tuning path(s) (seeds `path_seeds({sc.seed}, {request.paths})`) on the {engine} "
        f"engine; {result['executor']}.",
    ]
    timing = result.get("timing") or {}
    if timing.get("trials_run"):
        lines.append(
            f"- Wall time of this invocation: the search {timing['search_seconds']:.1f} s for "
            f"{timing['trials_run']} trial(s) x {request.paths} path(s) "
            f"({timing['seconds_per_evaluation']:.2f} s an evaluation); the verification "
            f"{timing['verify_seconds']:.1f} s."
        )
    if held["paths"]:
        lines.append(
            f"- Verification: the current set and the top {len(result['candidates'])} "
            f"candidate(s) re-run on chain ({held['backend']}) on {held['paths']} held-out "
            f"path(s), seeds `path_seeds({sc.seed}, {request.paths}+{held['paths']})"
            f"[{request.paths}:]` = {', '.join(map(str, held['seeds']))}: SeedSequence "
            f"children {request.paths}..{request.paths + held['paths'] - 1}, disjoint from the "
            f"tuning paths (children 0..{request.paths - 1}). Runs: `verify/runs/<set>/path-<i>`."
        )
    else:
        lines.append("- Verification: none (--verify-paths 0).")
    lines += ["", "## Recommended set", ""]
    rec = result["recommended"]
    lines.append(
        f"**{rec['label']}** (trial {rec['trial']}): {result['recommended_reason']}."
        if rec
        else f"None: {result['recommended_reason']}."  # fmt: skip
    )
    lines += [
        "",
        "Side by side: the current set (the scenario as given) and each candidate, on the "
        f"tuning paths ({engine}, {request.paths}) and on the held-out paths (chain, "
        f"{held['paths']}). Cells `mean [95% bootstrap interval of the mean]`; money in USD.",
        "",
    ]
    header, rows = _set_rows(request, [result["current"], *result["candidates"]])
    lines.append(markdown(header, rows))
    lines += ["## Pareto front", "",
              f"The feasible, non-dominated trials ({counts['pareto']}), ranked by distance to "
              "the front's ideal point (objectives scaled to [0, 1]); every trial: "
              "`trials.csv`.", ""]  # fmt: skip
    front = [r for r in result["trials_table"] if r["pareto"]]
    front.sort(key=lambda r: r["rank"])
    p_header = ["rank", "trial", *(f"`{p.name}`" for p in request.params),
                *(o.label for o in request.objectives),
                *(c.label for c in request.constraints)]  # fmt: skip
    p_rows = [[r["rank"], r["number"], *(number(r["params"].get(p.name)) for p in request.params),
               *(number(r["values"].get(o.label)) for o in request.objectives),
               *(number(r["constraints"].get(c.label)) for c in request.constraints)]
              for r in front]  # fmt: skip
    lines.append(markdown(p_header, p_rows) if p_rows else "No feasible trial.\n")
    lines += ["## Plots", "", *figure_lines(written, "plots"),
              *(f"- {note}" for note in plot_notes)]  # fmt: skip
    return "\n".join(lines) + "\n"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


__all__ = ["write_outputs", "write_verify_comparison"]
