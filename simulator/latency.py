"""The cost of governance latency: the same mid-shock parameter change with several delays
between its decision and its effect, on the same price paths (``perpsim compare SCENARIO
--latency 0,60,900,3600,21600,86400``).

The change is the scenario's ``controls.governance_change`` when it has one, else the
``governance_timelock`` control set's (``max_leverage`` -> 10 in the first listed market,
submitted at the first shock). A delay of 0 is the guardian (``path: guardian``, in force in the
block it is submitted); a delay ``d > 0`` goes through the timelock deployed with a minimum
delay of ``d`` seconds (``venue.timelock_delay_s``), executed in the first block at least ``d``
seconds after the one that scheduled it. Each delay is one run set of the comparison
(:func:`latency_label`), beside ``baseline`` (no change).

Outputs (:func:`write_latency`): ``latency.csv``, ``latency.json``, ``latency.md`` (one row per
delay: the step the change took effect, or "after the run"; liquidated notional and
``system_loss_usd``, mean [95% bootstrap interval of the mean] over paths; n) and
``latency.png`` (both against the delay), shown in ``report.md``; :func:`latency_figure` is the
same chart in plotly for the app.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.errors import PerpsimError
from simulator.results import RunReader, atomic_write_json, atomic_write_text
from simulator.scenario import Scenario, control_set
from simulator.stats import markdown_table, metric_stats

__all__ = [
    "LatencyError",
    "LATENCY_FILES",
    "LATENCY_METRICS",
    "parse_latency",
    "latency_label",
    "delay_text",
    "latency_change",
    "latency_variant",
    "executed_step",
    "latency_table",
    "latency_cell",
    "latency_markdown",
    "plot_latency",
    "latency_figure",
    "write_latency",
]

#: Files a latency sweep writes at the top of the comparison folder.
LATENCY_FILES = ("latency.csv", "latency.json", "latency.md", "latency.png")
#: The figures compared against the delay (summary keys, USD).
LATENCY_METRICS = ("liquidated_notional_usd", "system_loss_usd")
#: Text of a change that took effect after the last step.
AFTER_THE_RUN = "after the run"


class LatencyError(PerpsimError):
    """A bad ``--latency`` list (empty, negative, unsorted, not whole seconds)."""


def parse_latency(text: str) -> tuple[int, ...]:
    """``--latency 0,60,900`` as delays in seconds, strictly increasing, each >= 0.

    Raises
    ------
    LatencyError
        Empty, not whole seconds, negative, or not in increasing order (the message names it).

    Examples
    --------
    >>> parse_latency("0, 60,3600")
    (0, 60, 3600)
    """
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise LatencyError("--latency: give delays in seconds, e.g. 0,60,900 (got none)")
    delays = []
    for part in parts:
        try:
            delay = int(part)
        except ValueError:
            raise LatencyError(f"--latency: {part!r} is not a whole number of seconds") from None
        if delay < 0:
            raise LatencyError(f"--latency: {delay} is negative (delays are seconds >= 0)")
        delays.append(delay)
    for before, after in zip(delays, delays[1:], strict=False):
        if after <= before:
            raise LatencyError(
                f"--latency: {after} after {before}: give the delays once each, in increasing order"
            )
    return tuple(delays)


def latency_label(delay_s: int) -> str:
    """The run set (and folder) name of a delay: ``delay-900s``.

    >>> latency_label(0), latency_label(3600)
    ('delay-0s', 'delay-3600s')
    """
    return f"delay-{int(delay_s)}s"


def delay_text(delay_s: int) -> str:
    """``guardian (immediate)``, ``1 min``, ``6 h``, ``90 s``.

    >>> [delay_text(d) for d in (0, 60, 900, 3600, 21600, 86400, 90)]
    ['guardian (immediate)', '1 min', '15 min', '1 h', '6 h', '24 h', '90 s']
    """
    if delay_s == 0:
        return "guardian (immediate)"
    if delay_s % 3600 == 0:
        return f"{delay_s // 3600} h"
    if delay_s % 60 == 0:
        return f"{delay_s // 60} min"
    return f"{delay_s} s"


def latency_change(scenario: Scenario) -> dict[str, Any]:
    """The change swept: the scenario's ``controls.governance_change``, else the
    ``governance_timelock`` control set's (as plain data, without its path)."""
    change = scenario.controls.governance_change
    if change is None:
        change = control_set(scenario, "governance_timelock").controls.governance_change
    data = change.model_dump(mode="json")
    data.pop("path", None)
    return data


def latency_variant(scenario: Scenario, delay_s: int) -> Scenario:
    """The scenario with the change in force ``delay_s`` seconds after it is submitted: the
    guardian for 0, else the timelock with that minimum delay."""
    change = latency_change(scenario)
    if delay_s == 0:
        return scenario.with_overrides(
            {"controls.governance_change": {**change, "path": "guardian"}}
        )
    return scenario.with_overrides(
        {
            "controls.governance_change": {**change, "path": "timelock"},
            "venue.timelock_delay_s": int(delay_s),
        }
    )


def executed_step(run_dir: str | Path) -> int | None:
    """The first step at which a run's governance change took effect (its first
    ``governance_executed`` event), or ``None`` when it never did within the run."""
    events = RunReader(run_dir).events
    done = events[events["kind"] == "governance_executed"]
    return int(done["step"].min()) if len(done) else None


def _in_force(steps: Sequence[int | None]) -> str:
    known = sorted({s for s in steps if s is not None})
    if not known:
        return AFTER_THE_RUN
    text = f"step {known[0]}" if len(known) == 1 else f"steps {known[0]}-{known[-1]}"
    missing = sum(s is None for s in steps)
    return text + (f" ({AFTER_THE_RUN} on {missing} paths)" if missing else "")


def latency_table(
    delays: Sequence[int],
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    executed: Mapping[str, Sequence[int | None]],
    seed: int = 0,
) -> pd.DataFrame:
    """One row per delay, in the order given: ``delay_s``, ``delay``, ``in_force`` (the step
    the change took effect, or "after the run"), each :data:`LATENCY_METRICS` figure's
    ``mean``, ``ci_low``, ``ci_high`` (USD, 95% BCa bootstrap interval of the mean over paths,
    seeded) and ``n`` (paths).

    Parameters
    ----------
    results : mapping
        ``{latency_label(d): [summary of path 0, ...]}``.
    executed : mapping
        ``{latency_label(d): [executed step of path 0 or None, ...]}``.
    """
    rows = []
    for delay in delays:
        label = latency_label(delay)
        runs = results[label]
        row: dict[str, Any] = {
            "delay_s": int(delay),
            "delay": delay_text(delay),
            "in_force": _in_force(executed[label]),
        }
        for metric in LATENCY_METRICS:
            stats = metric_stats((r.get(metric) for r in runs), seed=seed)
            row[f"{metric}_mean"] = stats.mean
            row[f"{metric}_ci_low"] = stats.ci_low
            row[f"{metric}_ci_high"] = stats.ci_high
        row["n"] = len(runs)
        rows.append(row)
    return pd.DataFrame(rows)


def _usd(value: float) -> str:
    from simulator.stats import _fmt

    return _fmt(value)


def latency_cell(row: Mapping[str, Any], metric: str) -> str:
    """``mean [low, high]`` of one figure of a :func:`latency_table` row (USD, compact)."""
    mean, low, high = (row[f"{metric}_{f}"] for f in ("mean", "ci_low", "ci_high"))
    text = _usd(mean)
    if not (math.isnan(low) or math.isnan(high)):
        text += f" [{_usd(low)}, {_usd(high)}]"
    return text


def latency_markdown(table: pd.DataFrame, change: Mapping[str, Any]) -> str:
    """``latency.md``: what changed, then the table (one row per delay)."""
    cells = pd.DataFrame(
        {
            "delay": table["delay"],
            "in force": table["in_force"],
            **{m: [latency_cell(r, m) for _, r in table.iterrows()] for m in LATENCY_METRICS},
            "n": table["n"].astype(str),
        }
    ).set_index("delay")
    where = change.get("market") or "every market"
    return (
        f"The change: `{change['parameter']}` -> {change['value']} in {where}, submitted at step "
        f"{change['step']}; in force after each delay (the guardian at once, the timelock after "
        "its minimum delay). Mean [95% bootstrap interval of the mean] over n paths, USD.\n\n"
        + markdown_table(cells)
    )


def plot_latency(table: pd.DataFrame) -> Figure:
    """Liquidated notional and system loss (USD, mean and interval) against the delay."""
    from simulator.report import usd_tick

    fig = Figure(figsize=(9, 4))
    x = np.arange(len(table))
    for i, metric in enumerate(LATENCY_METRICS):
        ax = fig.add_subplot(1, 2, i + 1)
        mean = table[f"{metric}_mean"].to_numpy(float)
        low = table[f"{metric}_ci_low"].to_numpy(float)
        high = table[f"{metric}_ci_high"].to_numpy(float)
        err = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
        ax.errorbar(x, mean, yerr=err, marker="o", capsize=3)
        ax.set_xticks(x, list(table["delay"]), rotation=30, ha="right", fontsize=8)
        ax.set_title(metric, fontsize=10)
        ax.yaxis.set_major_formatter(usd_tick)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.suptitle("Cost of governance latency (mean and 95% interval over paths)")
    fig.tight_layout()
    return fig


def latency_figure(table: pd.DataFrame) -> Any:
    """The same chart as :func:`plot_latency` in plotly (the app's Compare page)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(LATENCY_METRICS), subplot_titles=LATENCY_METRICS)
    for i, metric in enumerate(LATENCY_METRICS):
        mean = table[f"{metric}_mean"]
        fig.add_trace(
            go.Scatter(
                x=list(table["delay"]),
                y=mean,
                mode="lines+markers",
                name=metric,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (table[f"{metric}_ci_high"] - mean).fillna(0),
                    "arrayminus": (mean - table[f"{metric}_ci_low"]).fillna(0),
                },
            ),
            row=1,
            col=i + 1,
        )
    fig.update_yaxes(title_text="USD", rangemode="tozero")
    fig.update_layout(title="Cost of governance latency", showlegend=False)
    return fig


def write_latency(out: str | Path, table: pd.DataFrame, change: Mapping[str, Any]) -> list[str]:
    """Write ``latency.csv``, ``latency.json``, ``latency.md`` and ``latency.png`` into
    ``out``; return the report's lines for the table and chart."""
    from simulator.report import save_figure

    out = Path(out)
    atomic_write_text(out / "latency.csv", table.to_csv(index=False))
    records = json.loads(table.to_json(orient="records"))
    atomic_write_json(out / "latency.json", {"change": dict(change), "table": records})
    text = latency_markdown(table, change)
    atomic_write_text(out / "latency.md", "# Cost of governance latency\n\n" + text)
    save_figure(plot_latency(table), out / "latency.png")
    return [
        "## Cost of governance latency",
        "",
        text,
        "![Cost of governance latency](latency.png)",
        "",
    ]
