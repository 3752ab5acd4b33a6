"""What the pages show of a run and of a comparison: figures, tables, charts, downloads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from simulator.results import SUMMARY_KEYS
from simulator.stats import format_compare_table

from . import charts
from .results import STOPPED, CompareData, RunData, folder_files

#: Summary figures: key -> (label, unit). Units as in ``simulator.results``.
SUMMARY_LABELS: dict[str, tuple[str, str]] = {
    "traders": ("Traders", "count"),
    "steps": ("Steps", "step"),
    "transactions": ("Transactions", "count"),
    "wall_seconds": ("Wall time", "s"),
    "liquidated_notional_usd": ("Liquidated notional", "USD"),
    "liquidated_notional_long_usd": ("Liquidated notional, longs", "USD"),
    "liquidated_notional_short_usd": ("Liquidated notional, shorts", "USD"),
    "liquidated_accounts": ("Accounts liquidated", "count"),
    "bad_debt_usd": ("Bad debt", "USD"),
    "insurance_fund_drawdown_usd": ("Insurance fund drawdown", "USD"),
    "backstop_pnl_usd": ("Backstop vault PnL", "USD"),
    "adl_haircut_usd": ("ADL haircuts", "USD"),
    "adl_overshoot_usd": ("ADL overshoot", "USD"),
    "start_price": ("Start price", "USD"),
    "exogenous_min_price": ("Exogenous min price", "USD"),
    "min_price": ("Min oracle price", "USD"),
    "price_amplification": ("Price amplification", "x"),
    "fees_usd": ("Fees", "USD"),
}
#: The headline figures shown as metric cards, in order.
CARDS: tuple[str, ...] = (
    "liquidated_notional_usd",
    "liquidated_accounts",
    "bad_debt_usd",
    "insurance_fund_drawdown_usd",
    "backstop_pnl_usd",
    "adl_haircut_usd",
    "adl_overshoot_usd",
    "min_price",
    "price_amplification",
    "fees_usd",
)
CARD_HELP = {
    "liquidated_notional_usd": "Notional of positions liquidated or taken over by the backstop, "
    "longs + shorts (USD).",
    "liquidated_accounts": "Distinct accounts liquidated (partly or fully) or taken over.",
    "bad_debt_usd": "Losses that no buffer covered (USD).",
    "insurance_fund_drawdown_usd": "Largest fall of the insurance fund from its running peak.",
    "backstop_pnl_usd": "PnL of the backstop vault's starting LP capital (USD).",
    "adl_haircut_usd": "Profit taken from winners by auto-deleveraging (USD).",
    "adl_overshoot_usd": "ADL haircuts beyond the deficit they covered (USD).",
    "min_price": "Lowest oracle price: what the protocol acted on (USD).",
    "price_amplification": "(start - min oracle) / (start - min exogenous): 1 means forced "
    "selling added nothing to the fall; empty when the exogenous path never fell.",
    "fees_usd": "Trading and liquidation fees collected (USD).",
}

#: Comparison rows where the smallest mean is best; the rest of :data:`HIGHER_IS_BETTER` the
#: largest; rows in neither (``n_paths``) are not marked.
LOWER_IS_BETTER = frozenset(
    {
        "liquidated_notional_usd",
        "liquidated_notional_long_usd",
        "liquidated_notional_short_usd",
        "liquidated_accounts",
        "bad_debt_usd",
        "insurance_fund_drawdown_usd",
        "adl_haircut_usd",
        "adl_overshoot_usd",
        "price_amplification",
        "var95_bad_debt_usd",
        "evar99_bad_debt_usd",
        "lar95_liquidated_notional_usd",
    }
)
HIGHER_IS_BETTER = frozenset({"backstop_pnl_usd", "min_price", "fees_usd"})
BEST = "★"


# ----------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(key: str, value: Any) -> str:
    """A summary figure as the metric cards show it (``$1,234``, ``12``, ``1.023x``, ``n/a``)."""
    if _missing(value):
        return "n/a"
    unit = SUMMARY_LABELS.get(key, ("", ""))[1]
    if unit == "USD":
        sign = "-" if value < 0 else ""
        digits = 0 if abs(value) >= 1000 or value == 0 else 2
        return f"{sign}${abs(value):,.{digits}f}"
    if unit == "count" or unit == "step":
        return f"{int(value):,d}"
    if unit == "x":
        return f"{value:.3f}x"
    if unit == "s":
        return f"{value:.1f} s"
    return str(value)


def summary_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """``summary.json`` as a table: figure, value (exact, NaN for null), unit, key. The venue's
    figures first, then each market's (``markets``) with key ``SYMBOL:figure`` and the label
    prefixed by the symbol."""
    keys = [k for k in SUMMARY_KEYS if k in summary] + [k for k in summary if k not in SUMMARY_KEYS]
    items = []
    for key in keys:
        if key == "markets":
            for symbol, figures in (summary[key] or {}).items():
                items += [(f"{symbol}:{k}", f"{symbol}: ", k, v) for k, v in figures.items()]
        else:
            items.append((key, "", key, summary[key]))
    rows = []
    for key, prefix, name, value in items:
        label, unit = SUMMARY_LABELS.get(name, (name, ""))
        number = float("nan") if _missing(value) or isinstance(value, str) else float(value)
        rows.append({"figure": prefix + label, "value": number, "unit": unit, "key": key})
    return pd.DataFrame(rows, columns=["figure", "value", "unit", "key"])


def best_controls(table: pd.DataFrame, metric: str) -> list[str]:
    """The control sets with the best mean of ``metric`` (none when all are equal or it has no
    direction)."""
    if metric in LOWER_IS_BETTER:
        pick = min
    elif metric in HIGHER_IS_BETTER:
        pick = max
    else:
        return []
    controls = list(dict.fromkeys(table.columns.get_level_values("control")))
    means = {c: float(table.loc[metric, (c, "mean")]) for c in controls}
    means = {c: v for c, v in means.items() if not math.isnan(v)}
    if not means:
        return []
    best = pick(means.values())
    # Values equal but for floating-point noise (sums in another order) are ties.
    tolerance = 1e-9 * max(abs(v) for v in means.values()) + 1e-9
    winners = [c for c, v in means.items() if abs(v - best) <= tolerance]
    return [] if len(winners) == len(means) else winners


def marked_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`simulator.stats.format_compare_table` cells, the best of each row prefixed ★."""
    cells = format_compare_table(table)
    for metric in cells.index:
        for control in best_controls(table, metric):
            cells.loc[metric, control] = f"{BEST} {cells.loc[metric, control]}"
    cells.columns.name = None
    return cells


def _highlight(cell: Any) -> str:
    if isinstance(cell, str) and cell.startswith(BEST):
        return "background-color: rgba(44, 160, 44, 0.18); font-weight: 600"
    return ""


#: Colours of the chips of a multiselect (the chosen control sets): dark text on a light tint,
#: instead of Streamlit's white on the primary red (WCAG contrast 7:1 and more; see
#: :func:`contrast_ratio`).
CHIP_BACKGROUND = "#dbe7f5"
CHIP_TEXT = "#102a43"


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21; 4.5 is AA for text).

    >>> round(contrast_ratio("#000000", "#ffffff"), 1)
    21.0
    """
    high, low = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable_chips() -> None:
    """Style the page's multiselect chips as :data:`CHIP_TEXT` on :data:`CHIP_BACKGROUND`,
    never cut: a chip is as wide as its label (Streamlit marks a chip ``data-tag``)."""
    chip = ".stMultiSelect [data-tag]"
    st.html(
        "<style>"
        f"{chip} {{background-color: {CHIP_BACKGROUND} !important; color: {CHIP_TEXT} !important;"
        " max-width: none !important;}"
        f" {chip} span {{color: {CHIP_TEXT} !important; max-width: none !important;"
        " overflow: visible !important; text-overflow: clip !important;}"
        f" {chip} svg, {chip} [role='button'] {{color: {CHIP_TEXT} !important;"
        f" fill: {CHIP_TEXT} !important;}}"
        "</style>"
    )


# ----------------------------------------------------------------------------------------------
# One run
# ----------------------------------------------------------------------------------------------


def run_status(data: RunData) -> None:
    """One line about the folder, and a warning when the run did not finish."""
    manifest = data.manifest
    scenario = manifest.get("scenario") or {}
    bits = [
        f"run folder `{data.run_dir}`",
        f"scenario **{manifest.get('scenario_name') or scenario.get('name')}**",
        f"seed {manifest.get('seed')}",
        f"{scenario.get('steps')} steps",
    ]
    if data.summary is not None:
        bits.append(f"{data.summary.get('wall_seconds', 0):.1f} s")
    st.caption(" · ".join(bits))
    if not data.complete:
        reason = str(manifest.get("incomplete_reason") or "the run did not finish")
        if reason.isdigit():  # a signal's exit status (the run was stopped)
            reason = f"the process was stopped (exit status {reason})"
        writer = (manifest.get("writer") or {}).get("pid")
        if data.status == STOPPED:
            reason = (
                f"its manifest says running, but the process that wrote it ({writer}) is gone; "
                "resume it to finish"
            )
        elif data.status == "running":
            reason = f"process {writer} is writing it"
        if data.last_step is not None:
            kept = (
                f"Showing the {len(data.venue_steps)} steps saved up to its last checkpoint "
                f"(step {data.last_step} of {scenario.get('steps')})."
            )
        else:
            kept = "No steps were saved before it stopped."
        st.warning(f"Run {data.status}: {reason}. {kept}", icon=":material/warning:")


def summary_cards(summary: dict[str, Any], key: str) -> None:
    """The headline figures as metric cards, and every figure in a table."""
    for row in range(0, len(CARDS), 5):
        columns = st.columns(5)
        for column, name in zip(columns, CARDS[row : row + 5], strict=False):
            column.metric(
                SUMMARY_LABELS[name][0], format_value(name, summary.get(name)),
                help=CARD_HELP.get(name),
            )  # fmt: skip
    with st.expander("All summary figures (summary.json)"):
        st.dataframe(
            summary_frame(summary),
            key=f"{key}.summary",
            hide_index=True,
            column_config={"value": st.column_config.NumberColumn(format="%.6g")},
        )


def run_charts(steps: pd.DataFrame, key: str) -> None:
    """The six charts of a run, two per row."""
    if steps is None or not len(steps):
        st.info("No step rows to chart.")
        return
    steps = steps.sort_values("step")
    for row in range(0, len(charts.RUN_CHARTS), 2):
        columns = st.columns(2)
        for column, (name, build) in zip(columns, charts.RUN_CHARTS[row : row + 2], strict=False):
            with column:
                st.plotly_chart(build(steps), key=f"{key}.chart.{name}", **charts.SHOW)


def run_events(data: RunData, key: str) -> None:
    """Event counts by kind and the event log (first rows)."""
    events = data.events
    with st.expander(f"Events ({len(events):,d})"):
        if not len(events):
            st.write("No events.")
            return
        counts = events.groupby("kind").size().rename("events").reset_index()
        st.dataframe(counts, key=f"{key}.event_counts", hide_index=True)
        st.dataframe(events.head(2000), key=f"{key}.events", hide_index=True)


def render_run(data: RunData, key: str) -> None:
    """Everything about one run: status, figures, charts, events."""
    run_status(data)
    if data.summary is not None:
        summary_cards(data.summary, key)
    run_charts(data.steps, key)
    if len(data.events):
        run_events(data, key)


# ----------------------------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------------------------


def compare_table_view(data: CompareData, key: str) -> None:
    """The table: one column per control set, mean [95% interval] per metric, best marked."""
    if data.table is None:
        st.info("No run of this comparison finished.")
        return
    cells = marked_table(data.table)
    st.table(cells.style.map(_highlight))
    n = sorted({len(v) for v in data.results.values()})
    st.caption(
        f"Mean [95% interval of the mean] over {', '.join(map(str, n))} path(s) per control set "
        "(no interval with one path). VaR95 / EVaR99: 95th / 99th percentile of bad debt over "
        f"paths; LaR95: 95th percentile of liquidated notional. {BEST} marks the best mean of a "
        "row: the lowest for losses, liquidations, haircuts and amplification; the highest for "
        "backstop PnL, min price and fees."
    )


def compare_charts(data: CompareData, key: str) -> None:
    """A bar chart of one metric across control sets, and the path-0 time series."""
    if data.table is None:
        return
    metrics = [m for m in data.table.index if m != "n_paths"]
    metric_key = f"{key}.metric"
    if st.session_state.get(metric_key) not in metrics:
        st.session_state[metric_key] = "bad_debt_usd" if "bad_debt_usd" in metrics else metrics[0]
    metric = st.selectbox(
        "Metric", metrics, key=metric_key,
        format_func=lambda m: f"{SUMMARY_LABELS.get(m, (m,))[0]} ({m})",
    )  # fmt: skip
    figures = [
        ("metric", charts.metric_bars(data.table, metric, SUMMARY_LABELS.get(metric, (metric,))[0]))
    ]
    if data.steps:
        figures.append(("prices", charts.compare_prices(data.steps, data.no_feedback)))
        for name, column, title, cumulative in charts.COMPARE_CHARTS:
            figures.append(
                (
                    name,
                    charts.compare_lines(
                        data.steps, column, f"{title} (path 0)", cumulative=cumulative
                    ),
                )  # fmt: skip
            )
    for row in range(0, len(figures), 2):
        columns = st.columns(2)
        for column, (name, fig) in zip(columns, figures[row : row + 2], strict=False):
            with column:
                st.plotly_chart(fig, key=f"{key}.chart.{name}", **charts.SHOW)


def render_compare(data: CompareData, key: str) -> None:
    """Everything about one comparison: what ran, the table, the charts."""
    described = "; ".join(f"**{c}**: {what}" for c, what in data.controls.items())
    st.caption(
        f"Folder `{data.out_dir}` · scenario **{data.scenario.get('name', '?')}** · "
        f"{data.paths} path(s) per control set · {described}"
    )
    if not data.complete:
        missing = ", ".join(data.missing) if data.missing else "the report"
        st.warning(
            f"Comparison incomplete: not finished: {missing}. Showing the runs that finished.",
            icon=":material/warning:",
        )
    compare_table_view(data, key)
    compare_charts(data, key)


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


MIME = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".md": "text/markdown",
    ".yaml": "application/yaml",
    ".png": "image/png",
    ".parquet": "application/vnd.apache.parquet",
    ".npz": "application/octet-stream",
}


def download_buttons(folder: str | Path, key: str, names: Sequence[str] | None = None) -> None:
    """One download button per file of the folder (or the named ones), in rows of four."""
    files = [p for p in folder_files(folder) if names is None or p.name in names]
    if not files:
        return
    for row in range(0, len(files), 4):
        columns = st.columns(4)
        for column, path in zip(columns, files[row : row + 4], strict=False):
            column.download_button(
                f"{path.name} ({_size(path.stat().st_size)})",
                data=path.read_bytes(),
                file_name=path.name,
                mime=MIME.get(path.suffix, "application/octet-stream"),
                key=f"{key}.download.{path.name}",
                on_click="ignore",
                icon=":material/download:",
            )
