"""Markdown report with PNG charts for one run or a comparison of control sets.

The functions take the ``steps`` tables (:mod:`simulator.results`, per-market long format) of
the runs to plot, keyed by a label (a control set name). A plot of a flow (liquidations, bad
debt, ADL) takes ``market``: ``None`` (the default) plots the venue totals (the ``ALL`` rows,
:func:`~simulator.results.venue_steps`), a symbol that market's rows
(:func:`~simulator.results.market_steps`); the insurance fund is venue-wide. The price chart
shows every market, one panel each (or the one market named). Charts are drawn with
matplotlib's object API (``Figure``, Agg renderer), so no pyplot state or GUI backend is
involved and reports can be written from any thread. Every file is written atomically.

Charts written by :func:`write_report`:

- ``price.png``: per market, its exogenous price, the oracle price of each run, and the oracle
  price of the runs without feedback when given (the feedback loop's effect); one panel per
  market (at most three a row);
- ``liquidations.png``: the venue's liquidated notional per step (long + short);
- ``insurance_fund.png``: insurance fund balance;
- ``bad_debt.png``: the venue's cumulative bad debt;
- ``adl.png``: the venue's cumulative ADL haircuts (solid) and overshoot (dashed);
- for runs of several markets (:data:`MARKET_CHARTS`), ``liquidations_by_market.png`` and
  ``bad_debt_by_market.png``: each market's cumulative liquidated notional and bad debt, one
  panel per market.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from simulator.errors import PerpsimError
from simulator.results import (
    ResultsError,
    atomic_write_bytes,
    atomic_write_text,
    market_steps,
    step_markets,
    venue_steps,
)
from simulator.stats import (
    CHANGES_ROW,
    TAIL_TEXT,
    format_compare_table,
    markdown_table,
    market_markdown,
    paths_text,
)

__all__ = [
    "ReportError",
    "CHARTS",
    "MARKET_CHARTS",
    "plot_price",
    "plot_by_market",
    "market_changes",
    "price_market",
    "plot_liquidations",
    "plot_insurance_fund",
    "plot_bad_debt",
    "plot_adl",
    "save_figure",
    "write_report",
    "usd_tick",
    "scenario_differences",
    "provenance_markdown",
]


class ReportError(PerpsimError):
    """A report cannot be written (no runs, missing columns, unwritable folder)."""


_FIGSIZE = (9.0, 4.0)
_DPI = 110


def usd_tick(value: float, _pos: Any = None) -> str:
    """Axis label of an amount in USD with a k / M / B suffix (no ``1e6`` offset).

    Examples
    --------
    >>> [usd_tick(v) for v in (0, 950, 2_500, 100_000, 1_250_000, -3e9)]
    ['0', '950', '2.5k', '100k', '1.25M', '-3B']
    """
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.6g}{suffix}"
    return f"{value:.6g}"


def _style(ax: Any, title: str, ylabel: str) -> None:
    """Title, labels, grid, and a USD y axis labelled with k/M suffixes."""
    ax.set_title(title)
    ax.set_xlabel("step (one block)")
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(FuncFormatter(usd_tick))
    ax.grid(True, alpha=0.3)


def _figure(title: str, ylabel: str) -> tuple[Figure, Any]:
    """A figure whose y axis is an amount in USD, labelled with k/M suffixes."""
    fig = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    _style(ax, title, ylabel)
    return fig, ax


#: Panels per row of a chart with one panel per market.
_PANELS_PER_ROW = 3


def _panels(title: str, symbols: Sequence[str], ylabel: str) -> tuple[Figure, list[Any]]:
    """A figure with one panel per market (at most :data:`_PANELS_PER_ROW` a row), each titled
    with its symbol; unused cells of the grid are hidden."""
    columns = min(len(symbols), _PANELS_PER_ROW) or 1
    rows = max(math.ceil(len(symbols) / columns), 1)
    size = _FIGSIZE if len(symbols) <= 1 else (4.2 * columns, 3.0 * rows + 0.5)
    fig = Figure(figsize=size, dpi=_DPI, layout="constrained")
    grid = fig.subplots(rows, columns, squeeze=False)
    cells = [ax for row in grid for ax in row]
    for ax, symbol in zip(cells, symbols, strict=False):
        _style(ax, symbol if len(symbols) > 1 else title, ylabel)
    for ax in cells[len(symbols) :]:
        ax.set_visible(False)
    if len(symbols) > 1:
        fig.suptitle(title)
    return fig, cells[: len(symbols)]


def scenario_differences(base: Any, variant: Any, prefix: str = "") -> dict[str, Any]:
    """Where ``variant`` differs from ``base``: ``{dotted key: variant's value}``.

    Keys are written as ``--set`` takes them (``controls.leverage_cap``,
    ``price_path.shocks[0].step``); a key the variant lacks maps to None. Scenarios are
    compared through their plain data (``to_dict``); ``name`` and ``description`` are left out.

    Examples
    --------
    >>> scenario_differences({"controls": {"leverage_cap": None, "adl_policy": "queue"}},
    ...                      {"controls": {"leverage_cap": 10.0, "adl_policy": "queue"}})
    {'controls.leverage_cap': 10.0}
    """
    if hasattr(base, "to_dict") and hasattr(variant, "to_dict"):
        base, variant = base.to_dict(), variant.to_dict()
        for data in (base, variant):
            data.pop("name", None)
            data.pop("description", None)
    if isinstance(base, Mapping) and isinstance(variant, Mapping):
        out: dict[str, Any] = {}
        for key in list(base) + [k for k in variant if k not in base]:
            where = f"{prefix}.{key}" if prefix else str(key)
            out.update(scenario_differences(base.get(key), variant.get(key), where))
        return out
    if _by_symbol(base) is not None and _by_symbol(variant) is not None:
        # a list of markets: keyed by symbol (markets.SOL.overrides.max_leverage), not position
        return scenario_differences(_by_symbol(base), _by_symbol(variant), prefix)
    if isinstance(base, list) and isinstance(variant, list) and len(base) == len(variant):
        out = {}
        for i, (a, b) in enumerate(zip(base, variant, strict=True)):
            out.update(scenario_differences(a, b, f"{prefix}[{i}]"))
        return out
    return {} if base == variant else {prefix: variant}


def _by_symbol(items: Any) -> dict[str, Any] | None:
    """``{symbol: item}`` of a list of mappings that each name a distinct ``symbol`` (a
    scenario's ``markets``); ``None`` for any other value."""
    if not isinstance(items, list) or not items:
        return None
    if not all(isinstance(i, Mapping) and isinstance(i.get("symbol"), str) for i in items):
        return None
    keyed = {i["symbol"]: i for i in items}
    return keyed if len(keyed) == len(items) else None


def market_changes(controls: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """What each control set changes of one market's parameters, by market.

    Parameters
    ----------
    controls : mapping of str to {dotted key: value}
        Each control set's :func:`scenario_differences` from the scenario.

    Returns
    -------
    dict
        ``{symbol: {control set: "key=value, ..."}}`` for the keys under ``markets.SYMBOL.``
        (the key shown without that prefix); markets and control sets that change none are
        left out.

    Examples
    --------
    >>> market_changes({"baseline": {}, "sol_cap": {"markets.SOL.overrides.max_leverage": 5}})
    {'SOL': {'sol_cap': 'overrides.max_leverage=5'}}
    """
    out: dict[str, dict[str, list[str]]] = {}
    for control, changes in controls.items():
        for key, value in changes.items():
            parts = key.split(".", 2)
            if len(parts) == 3 and parts[0] == "markets":
                texts = out.setdefault(parts[1], {}).setdefault(control, [])
                texts.append(f"{parts[2]}={_value_text(value)}")
    return {m: {c: ", ".join(t) for c, t in by.items()} for m, by in out.items()}


def _value_text(value: Any) -> str:
    from simulator.scenario import format_override_value

    return format_override_value(value)


def provenance_markdown(
    scenario: Any,
    *,
    controls: Mapping[str, Mapping[str, Any]] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[str]:
    """Markdown lines saying what produced the numbers: the scenario and its fingerprint, the
    ``--set`` overrides it was loaded with, and for a comparison each control set's changes
    (dotted keys with values) and the seeds of the paths.

    Parameters
    ----------
    scenario : Scenario
        The scenario as run (overrides applied; for a comparison, before any control set).
    controls : mapping of str to {dotted key: value}, optional
        Each control set's differences from ``scenario`` (:func:`scenario_differences`).
    seeds : sequence of int, optional
        Seeds of the price paths (path ``i`` is ``perpsim run ... --seed seeds[i]``).
    """
    from simulator.scenario import OVERRIDES_NOTE, overrides_in_description

    prose = scenario.description.split(OVERRIDES_NOTE)[0].strip()
    lines = ["## What ran", ""]
    lines.append(
        f"Scenario **{scenario.name}** (fingerprint `{scenario.fingerprint()[:16]}`), "
        f"{scenario.steps} steps of {scenario.step_seconds} s, seed {scenario.seed}."
        + (f" {prose}" if prose else "")
    )
    lines.append("")
    overrides = overrides_in_description(scenario.description)
    if overrides:
        lines += ["Overrides of the scenario file (`--set`):", ""]
        lines += [f"- `{item}`" for item in overrides]
    else:
        lines.append("Overrides of the scenario file (`--set`): none.")
    lines.append("")
    if controls is not None:
        lines += ["Control sets, as changes of the scenario above:", ""]
        for name, changes in controls.items():
            text = ", ".join(f"`{k}={_value_text(v)}`" for k, v in changes.items())
            lines.append(f"- **{name}**: {text or 'no change (the scenario as it is)'}")
        lines.append("")
    if seeds is not None:
        listed = ", ".join(f"path {i}: {seed}" for i, seed in enumerate(seeds))
        lines += [f"Seeds of the price paths ({listed}); `perpsim run` with `--seed` reproduces "
                  "a path.", ""]  # fmt: skip
    return lines


def _need(frame: pd.DataFrame, label: str, *columns: str) -> None:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ReportError(f"steps of run {label!r} lack the columns {', '.join(missing)}")


def _as_runs(runs: Mapping[str, pd.DataFrame] | pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    if runs is None:
        return {}
    if isinstance(runs, pd.DataFrame):
        return {"run": runs}
    return dict(runs)


def _venue(label: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The venue totals of a run's steps (one row per step, sorted)."""
    try:
        return venue_steps(frame)
    except ResultsError as exc:
        raise ReportError(f"steps of run {label!r}: {exc}") from None


def _market(label: str, frame: pd.DataFrame, market: str | None) -> pd.DataFrame:
    """One market's rows of a run's steps (default its first market)."""
    try:
        return market_steps(frame, market)
    except ResultsError as exc:
        raise ReportError(f"steps of run {label!r}: {exc}") from None


def price_market(runs: Mapping[str, pd.DataFrame], market: str | None = None) -> str | None:
    """The market the price chart shows: ``market``, or the first run's first market."""
    if market is not None or not runs:
        return market
    markets = _symbols(runs)
    return markets[0] if markets else None


def _symbols(runs: Mapping[str, pd.DataFrame]) -> tuple[str, ...]:
    """The first run's market symbols (the runs of a report are of one scenario)."""
    if not runs:
        return ()
    label, frame = next(iter(runs.items()))
    try:
        return step_markets(frame)
    except ResultsError as exc:
        raise ReportError(f"steps of run {label!r}: {exc}") from None


def _rows(label: str, frame: pd.DataFrame, market: str | None) -> pd.DataFrame:
    """The venue totals (``market`` None) or one market's rows of a run's steps."""
    return _venue(label, frame) if market is None else _market(label, frame, market)


def run_markets_of(market_table: pd.DataFrame) -> tuple[str, ...]:
    """The markets of a :func:`simulator.stats.market_compare_table`, in order."""
    return tuple(dict.fromkeys(market_table.index.get_level_values("market")))


def _where(market: str | None) -> str:
    return "venue" if market is None else market


def plot_price(
    runs: Mapping[str, pd.DataFrame],
    no_feedback: Mapping[str, pd.DataFrame] | pd.DataFrame | None = None,
    market: str | None = None,
) -> Figure:
    """Each market's exogenous price, oracle price per run, and oracle price without feedback
    (dotted): one panel per market, or the one market named.

    Parameters
    ----------
    runs : mapping of str to DataFrame
        Steps tables of the runs with feedback on.
    no_feedback : mapping or DataFrame, optional
        Steps tables of the same runs with ``controls.feedback: false``.
    market : str, optional
        One market's symbol (its chart alone, titled ``SYMBOL: price with and without
        feedback``); default every market of the first run, one panel each (a run of one
        market: its chart alone).
    """
    symbols = (market,) if market is not None else _symbols(runs)
    title = (f"{symbols[0]}: price with and without feedback" if len(symbols) == 1
             else "Price with and without feedback, per market")  # fmt: skip
    fig, axes = _panels(title, symbols, "price (USD)")
    for ax, symbol in zip(axes, symbols, strict=True):
        first = True
        for label, frame in runs.items():
            frame = _market(label, frame, symbol)
            _need(frame, label, "step", "price_exogenous_usd", "price_oracle_usd")
            if first:
                ax.plot(frame["step"], frame["price_exogenous_usd"], "k--", lw=1.2,
                        label="exogenous")  # fmt: skip
                first = False
            ax.plot(frame["step"], frame["price_oracle_usd"], lw=1.2, label=f"{label}: oracle")
        for label, frame in _as_runs(no_feedback).items():
            frame = _market(label, frame, symbol)
            _need(frame, label, "step", "price_oracle_usd")
            ax.plot(frame["step"], frame["price_oracle_usd"], ":", lw=1.5,
                    label=f"{label}: oracle, no feedback")  # fmt: skip
    _legend(fig, axes)
    return fig


def _legend(fig: Figure, axes: Sequence[Any]) -> None:
    """One legend: in the panel of a one-panel chart, below the panels of a chart of several."""
    if not axes or not axes[0].lines:
        return
    if len(axes) == 1:
        axes[0].legend(fontsize="small")
    else:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4),
                   fontsize="small")  # fmt: skip


def _plot_per_run(runs, title, ylabel, value, market: str | None = None) -> Figure:
    fig, ax = _figure(f"{title} ({_where(market)})", ylabel)
    for label, frame in runs.items():
        frame = _rows(label, frame, market)
        ax.plot(frame["step"], value(label, frame), lw=1.2, label=label)
    if runs:
        ax.legend(fontsize="small")
    return fig


def _liquidated(label: str, frame: pd.DataFrame) -> pd.Series:
    _need(frame, label, "step", "liquidated_notional_long_usd", "liquidated_notional_short_usd")
    return frame["liquidated_notional_long_usd"] + frame["liquidated_notional_short_usd"]


def _bad_debt(label: str, frame: pd.DataFrame) -> pd.Series:
    _need(frame, label, "step", "bad_debt_usd")
    return frame["bad_debt_usd"].cumsum()


def plot_liquidations(runs: Mapping[str, pd.DataFrame], market: str | None = None) -> Figure:
    """Liquidated notional per step (long + short), one line per run: the venue's (default) or
    one market's."""
    return _plot_per_run(runs, "Liquidations per step", "liquidated notional (USD)", _liquidated,
                         market)  # fmt: skip


def plot_insurance_fund(runs: Mapping[str, pd.DataFrame]) -> Figure:
    """Insurance fund balance per step, one line per run (the fund is venue-wide: one for all
    markets)."""

    def value(label, frame):
        _need(frame, label, "step", "insurance_fund_usd")
        return frame["insurance_fund_usd"]

    return _plot_per_run(runs, "Insurance fund", "balance (USD)", value)


def plot_bad_debt(runs: Mapping[str, pd.DataFrame], market: str | None = None) -> Figure:
    """Cumulative bad debt, one line per run: the venue's (default) or one market's."""
    return _plot_per_run(runs, "Bad debt (cumulative)", "bad debt (USD)", _bad_debt, market)


def plot_adl(runs: Mapping[str, pd.DataFrame], market: str | None = None) -> Figure:
    """Cumulative ADL haircuts (solid) and overshoot (dashed) per run: the venue's (default) or
    one market's."""
    fig, ax = _figure(f"ADL haircuts (cumulative, {_where(market)})", "USD")
    for label, frame in runs.items():
        frame = _rows(label, frame, market)
        _need(frame, label, "step", "adl_haircut_usd", "adl_overshoot_usd")
        (line,) = ax.plot(frame["step"], frame["adl_haircut_usd"].cumsum(), lw=1.2,
                          label=f"{label}: haircut")  # fmt: skip
        ax.plot(frame["step"], frame["adl_overshoot_usd"].cumsum(), "--", lw=1.0,
                color=line.get_color(), label=f"{label}: overshoot")  # fmt: skip
    if runs:
        ax.legend(fontsize="small")
    return fig


def plot_by_market(runs: Mapping[str, pd.DataFrame], what: str) -> Figure:
    """One panel per market of the first run, one line per run: ``what`` is
    ``"liquidations"`` (cumulative liquidated notional, long + short) or ``"bad_debt"``
    (cumulative bad debt), in USD."""
    titles = {"liquidations": ("Liquidated notional per market (cumulative)", "USD"),
              "bad_debt": ("Bad debt per market (cumulative)", "USD")}  # fmt: skip
    if what not in titles:
        raise ReportError(f"plot_by_market: unknown chart {what!r}; known: {', '.join(titles)}")
    symbols = _symbols(runs)
    title, ylabel = titles[what]
    fig, axes = _panels(title, symbols, ylabel)
    for ax, symbol in zip(axes, symbols, strict=True):
        for label, frame in runs.items():
            frame = _market(label, frame, symbol)
            if what == "liquidations":
                y = _liquidated(label, frame).cumsum()
            else:
                y = _bad_debt(label, frame)
            ax.plot(frame["step"], y, lw=1.2, label=label)
    _legend(fig, axes)
    return fig


#: Charts of the report: (file name, heading, plotting function of the runs).
CHARTS = (
    ("liquidations.png", "Liquidations per step", plot_liquidations),
    ("insurance_fund.png", "Insurance fund", plot_insurance_fund),
    ("bad_debt.png", "Bad debt", plot_bad_debt),
    ("adl.png", "ADL haircuts and overshoot", plot_adl),
)
#: Charts of the report for runs of several markets: (file name, heading, what
#: :func:`plot_by_market` plots).
MARKET_CHARTS = (
    ("liquidations_by_market.png", "Liquidated notional per market", "liquidations"),
    ("bad_debt_by_market.png", "Bad debt per market", "bad_debt"),
)


def save_figure(fig: Figure, path: str | Path) -> None:
    """Render ``fig`` as PNG and write it atomically (no timestamp or software metadata)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())


def write_report(
    out_dir: str | Path,
    runs: Mapping[str, pd.DataFrame] | pd.DataFrame,
    *,
    title: str = "perpsim report",
    no_feedback: Mapping[str, pd.DataFrame] | pd.DataFrame | None = None,
    table: pd.DataFrame | None = None,
    market_table: pd.DataFrame | None = None,
    changes: Mapping[str, Mapping[str, str]] | None = None,
    summaries: Mapping[str, Mapping[str, Any]] | None = None,
    description: str = "",
    provenance: Sequence[str] = (),
    sections: Sequence[str] = (),
) -> Path:
    """Write ``report.md`` and its PNG charts into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created if missing); existing report files are replaced.
    runs : mapping of str to DataFrame, or one DataFrame
        Steps tables to plot, keyed by label (for a comparison, one path per control set).
    title : str
        Heading of the report.
    no_feedback : mapping or DataFrame, optional
        Steps tables of the same runs with the feedback loop off (drawn on the price chart).
    table : DataFrame, optional
        Output of :func:`simulator.stats.compare_table`, shown as the comparison table.
    market_table : DataFrame, optional
        Output of :func:`simulator.stats.market_compare_table`, shown as the per-market
        comparison when it holds several markets (one market's figures are the venue's).
    changes : mapping, optional
        What each control set changes of one market's parameters (:func:`market_changes`),
        shown beside that market's rows of ``market_table``.
    summaries : mapping of str to summary dict, optional
        Summaries of the plotted runs, shown as a table of the venue's headline figures, and
        (for runs of several markets) a table of each market's figures.
    description : str
        Paragraph under the heading (scenario, paths, seed, ...).
    provenance : sequence of str
        Markdown lines saying what produced the numbers (:func:`provenance_markdown`), put
        right under the description.
    sections : sequence of str
        More Markdown lines, put after the comparison tables (why a control set gives the
        baseline's figures, a latency sweep's table and chart).

    Returns
    -------
    Path
        The path of ``report.md``.

    Raises
    ------
    ReportError
        No runs, a steps table without the needed columns, or an unwritable folder.
    """
    runs = _as_runs(runs)
    if not runs:
        raise ReportError("no runs to report on")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create report folder {out}: {exc.strerror}") from None

    lines = [f"# {title}", ""]
    if description:
        lines += [description.strip(), ""]
    lines += list(provenance)
    if table is not None:
        lines += [
            "## Comparison",
            "",
            f"Mean {paths_text(table)} with the 95% bootstrap confidence interval of the mean "
            f"in brackets; `(n=k)`: a figure fewer paths have. {TAIL_TEXT}. `system_loss_usd`: "
            "insurance-fund drawdown + ADL haircuts + bad debt + backstop LPs' loss. Money in "
            "USD.",
            "",
            markdown_table(format_compare_table(table)),
        ]
    if market_table is not None and len(run_markets_of(market_table)) > 1:
        lines += [
            "## Comparison per market",
            "",
            f"Each market's figures (`summary.json` `markets`): mean {paths_text(market_table)} "
            "with the 95% bootstrap confidence interval of the mean in brackets. A market's "
            "`system_loss_usd` is its ADL haircuts and bad debt (the fund and the backstop vault "
            "are venue-wide). Money in USD. A control set that changes a market's parameters "
            f"names the change in that market's `{CHANGES_ROW}` row.",
            "",
            market_markdown(market_table, changes),
        ]
    lines += list(sections)
    if summaries:
        venue = {label: {k: v for k, v in s.items() if k != "markets"}
                 for label, s in summaries.items()}  # fmt: skip
        frame = pd.DataFrame({label: pd.Series(s) for label, s in venue.items()})
        lines += ["## Summaries", "", markdown_table(frame, index_label="figure")]
        per_market = {
            label: {f"{m}: {k}": v for m, figures in s["markets"].items()
                    for k, v in figures.items()}
            for label, s in summaries.items() if len(s.get("markets") or {}) > 1
        }  # fmt: skip
        if per_market:
            frame = pd.DataFrame({label: pd.Series(s) for label, s in per_market.items()})
            lines += ["## Per market", "", markdown_table(frame, index_label="market: figure")]
    lines += ["## Charts", ""]

    symbols = _symbols(runs)
    heading = (f"{symbols[0]}: price with and without feedback" if len(symbols) == 1
               else "Price with and without feedback, per market")  # fmt: skip
    charts = [("price.png", heading, plot_price(runs, no_feedback))]
    charts += [(name, heading, plot(runs)) for name, heading, plot in CHARTS]
    if len(symbols) > 1:
        charts += [(name, heading, plot_by_market(runs, what))
                   for name, heading, what in MARKET_CHARTS]  # fmt: skip
    try:
        for name, heading, fig in charts:
            save_figure(fig, out / name)
            lines += [f"### {heading}", "", f"![{heading}]({name})", ""]
        path = out / "report.md"
        atomic_write_text(path, "\n".join(lines).rstrip() + "\n")
    except ResultsError as exc:
        raise ReportError(str(exc)) from None
    return path
