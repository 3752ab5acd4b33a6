"""Tables and plots of sweeps and tunes.

Every figure of a table is a statistic over paths, and every table says how many paths it rests
on. ``mean [low, high]`` cells are the mean over paths with its 95% BCa bootstrap interval
(:func:`simulator.stats.metric_stats`, seeded from the scenario's seed): an interval of a
non-negative amount never goes below 0. Plots are plotly figures written as HTML (the
plotly.js bundle beside them, ``plotly.min.js``, so they open offline) and PNG (kaleido, in
one batch); a PNG that cannot be written (no Chrome for kaleido) is reported, not hidden.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulator.experiments.objectives import metric_value
from simulator.stats import _fmt, metric_stats

#: Metrics every sweep table and tune report shows (besides the objectives' and constraints').
HEADLINE_METRICS: tuple[str, ...] = (
    "system_loss_usd",
    "bad_debt_usd",
    "adl_overshoot_usd",
    "liquidated_notional_usd",
    "fees_usd",
    "oi_start_usd",
)
#: Fields of an interval cell in CSV and JSON.
INTERVAL_FIELDS = ("mean", "ci_low", "ci_high", "n")


def interval(summaries: Sequence[Mapping[str, Any]], metric: str, seed: int) -> dict[str, Any]:
    """``{"mean", "ci_low", "ci_high", "n"}`` of ``metric`` over the paths' summaries (metric
    unit; NaN where undefined: no path, or one path for the interval)."""
    stats = metric_stats([metric_value(s, metric) for s in summaries], seed=seed)
    return {"mean": stats.mean, "ci_low": stats.ci_low, "ci_high": stats.ci_high, "n": stats.n}


def cell(stats: Mapping[str, Any]) -> str:
    """``1.2M [0.9M, 1.6M]`` (``-`` for no value; no interval from one path)."""
    mean = stats.get("mean")
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    low, high = stats.get("ci_low"), stats.get("ci_high")
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return _fmt(mean)
    return f"{_fmt(mean)} [{_fmt(low)}, {_fmt(high)}]"


def number(value: Any) -> str:
    """A compact number (``1.23M``), ``-`` for none."""
    if value is None:
        return "-"
    if isinstance(value, bool | str):
        return str(value)
    return _fmt(float(value))


def markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (``|`` escaped; first column left-aligned)."""

    def text(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(text(h) for h in header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(text(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_figures(figures: Mapping[str, Any], folder: Path) -> dict[str, dict[str, Any]]:
    """Write each plotly figure as ``folder/<name>.html`` and ``<name>.png``.

    Returns
    -------
    dict
        ``{name: {"html": file name, "png": file name or None, "png_error": None or why}}``
        (names relative to ``folder``).
    """
    import plotly.io as pio

    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, dict[str, Any]] = {}
    for name, fig in figures.items():
        fig.write_html(folder / f"{name}.html", include_plotlyjs="directory", full_html=True)
        written[name] = {"html": f"{name}.html", "png": None, "png_error": None}
    if not figures:
        return written
    names = list(figures)
    try:
        pio.write_images([figures[n] for n in names], [folder / f"{n}.png" for n in names])
        # A batch that returns may still have left a file out (seen on a loaded machine): each
        # missing one is tried once more alone, and one still missing is reported, never linked.
        for n in names:
            png = folder / f"{n}.png"
            if not _written(png):
                with contextlib.suppress(Exception):
                    pio.write_image(figures[n], png)
            if _written(png):
                written[n]["png"] = png.name
            else:
                written[n]["png_error"] = "kaleido returned without writing the file"
    except Exception as exc:  # kaleido needs Chrome; say why, keep the HTML
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        for n in names:
            written[n]["png_error"] = reason
    return written


def _written(path: Path) -> bool:
    """Whether ``path`` is a non-empty file."""
    return path.is_file() and path.stat().st_size > 0


def figure_lines(written: Mapping[str, Mapping[str, Any]], prefix: str) -> list[str]:
    """Markdown lines linking the plots (``prefix``: their folder relative to the report)."""
    lines = []
    for name, files in written.items():
        if files.get("png"):
            lines.append(
                f"![{name}]({prefix}/{files['png']}) ([interactive]({prefix}/{files['html']}))"
            )
        else:
            lines.append(
                f"- [{name}]({prefix}/{files['html']}) (PNG not written: {files.get('png_error')})"
            )
        lines.append("")
    return lines


def heatmap(
    title: str,
    x_name: str,
    x_values: Sequence[Any],
    y_name: str | None,
    y_values: Sequence[Any],
    z: Sequence[Sequence[float | None]],
    text: Sequence[Sequence[str]],
    colorbar: str,
) -> Any:
    """A plotly heatmap: ``z[i][j]`` at ``(x_values[j], y_values[i])``, each cell labelled."""
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Heatmap(
            x=[str(v) for v in x_values],
            y=[str(v) for v in y_values],
            z=[[float("nan") if v is None else v for v in row] for row in z],
            text=[list(row) for row in text],
            texttemplate="%{text}",
            colorscale="Viridis",
            colorbar={"title": {"text": colorbar}},
        )
    )
    fig.update_layout(
        title=title,
        xaxis={"title": {"text": x_name}, "type": "category"},
        yaxis={"title": {"text": y_name or ""}, "type": "category"},
        template="plotly_white",
        width=900,
        height=max(360, 120 + 60 * len(y_values)),
    )
    return fig


__all__ = [
    "HEADLINE_METRICS",
    "INTERVAL_FIELDS",
    "interval",
    "cell",
    "number",
    "markdown",
    "write_figures",
    "figure_lines",
    "heatmap",
]
