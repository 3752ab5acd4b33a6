"""Interactive charts (plotly) of one run and of a comparison.

Every figure takes the step table of a run folder (``steps.parquet``, per-market long format;
columns and units in :mod:`simulator.results`) and plots money in USD against the step (one
step = one block). A chart of a flow (liquidations, ADL, bad debt) takes ``market``: ``None``
plots the venue totals (the ``ALL`` rows), a symbol that market's rows (selected with
:mod:`simulator.results.views`); the insurance fund and the backstop vault are venue-wide. The
price charts show one market, or every market of the run (:func:`price_index`, and one panel
per market in :func:`compare_prices`) when none is named and the run has several.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator.results import market_steps, step_markets, venue_steps

#: Colours: longs red (they were liquidated in October 2025), shorts green, buffers blue.
LONG, SHORT = "#d62728", "#2ca02c"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
HEIGHT = 360
#: How the pages show a figure: full width, plotly's tool bar only while the mouse is over it.
SHOW = {"width": "stretch", "config": {"displayModeBar": "hover", "displaylogo": False}}


def _layout(fig: go.Figure, title: str, y_title: str, money: bool = True) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=HEIGHT,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0},
        hovermode="x unified",
        xaxis_title="step",
        yaxis_title=y_title,
    )
    if money:
        fig.update_yaxes(tickprefix="$", separatethousands=True)
    return fig


def _col(steps: pd.DataFrame, name: str | tuple[str, ...]) -> pd.Series:
    """A column (0 where the table lacks it); a tuple of names is their sum."""
    if isinstance(name, tuple):
        return sum((_col(steps, n) for n in name), pd.Series(0.0, index=steps.index))
    if name in steps:
        return steps[name]
    return pd.Series(0.0, index=steps.index)


def _venue(steps: pd.DataFrame) -> pd.DataFrame:
    """The venue totals of a step table (an empty table as it is)."""
    return venue_steps(steps) if len(steps) else steps


def _rows(steps: pd.DataFrame, market: str | None) -> pd.DataFrame:
    """The venue totals (``market`` None) or one market's rows of a step table."""
    return _venue(steps) if market is None else _market(steps, market)[1]


def _where(market: str | None) -> str:
    return "venue" if market is None else market


def markets(steps: pd.DataFrame) -> tuple[str, ...]:
    """The market symbols of a step table (none for an empty one)."""
    return step_markets(steps) if len(steps) else ()


def _market(steps: pd.DataFrame, market: str | None = None) -> tuple[str, pd.DataFrame]:
    """A market's symbol and rows (default the first market; an empty table as it is)."""
    if not len(steps):
        return market or "", steps
    market = market or step_markets(steps)[0]
    return market, market_steps(steps, market)


# ----------------------------------------------------------------------------------------------
# One run
# ----------------------------------------------------------------------------------------------


def price_index(steps: pd.DataFrame) -> go.Figure:
    """Every market's oracle price (solid) and exogenous price (dotted) relative to its first
    exogenous price (1 = the start), one colour per market: falls of assets priced 100,000 and
    0.25 USD on one axis."""
    fig = go.Figure()
    for i, symbol in enumerate(markets(steps)):
        rows = _market(steps, symbol)[1]
        start = float(rows["price_exogenous_usd"].iloc[0]) if len(rows) else float("nan")
        if not start or math.isnan(start):
            continue
        fig.add_scatter(x=rows["step"], y=rows["price_oracle_usd"] / start, name=symbol,
                        legendgroup=symbol, line={"color": _colour(i)})  # fmt: skip
        fig.add_scatter(x=rows["step"], y=rows["price_exogenous_usd"] / start,
                        name=f"{symbol} exogenous", legendgroup=symbol, showlegend=False,
                        line={"color": _colour(i), "dash": "dot"})  # fmt: skip
    _layout(fig, "Prices relative to the start: oracle (solid), exogenous (dotted)",
            "price / first exogenous price", money=False)  # fmt: skip
    return fig


def prices(steps: pd.DataFrame, market: str | None = None) -> go.Figure:
    """A market's exogenous, oracle, mark and spot AMM prices; with no market named, every
    market's (:func:`price_index`) when the run has several, else its one market's."""
    if market is None and len(markets(steps)) > 1:
        return price_index(steps)
    market, steps = _market(steps, market)
    fig = go.Figure()
    for name, label, dash in (
        ("price_exogenous_usd", "exogenous", "dot"),
        ("price_oracle_usd", "oracle", "solid"),
        ("price_mark_usd", "mark", "solid"),
        ("price_amm_usd", "spot AMM", "dash"),
    ):
        if name in steps:
            fig.add_scatter(x=steps["step"], y=steps[name], name=label, line={"dash": dash})
    return _layout(fig, f"{market} price: exogenous, oracle, mark", "USD")


def liquidations(steps: pd.DataFrame, market: str | None = None) -> go.Figure:
    """Liquidated notional per step, longs and shorts: the venue's, or one market's."""
    where, steps = _where(market), _rows(steps, market)
    fig = go.Figure()
    fig.add_bar(x=steps["step"], y=_col(steps, "liquidated_notional_long_usd"), name="long",
                marker_color=LONG)  # fmt: skip
    fig.add_bar(x=steps["step"], y=_col(steps, "liquidated_notional_short_usd"), name="short",
                marker_color=SHORT)  # fmt: skip
    fig.update_layout(barmode="stack")
    return _layout(fig, f"Liquidated notional per step ({where})", "USD")


def insurance_fund(steps: pd.DataFrame, market: str | None = None) -> go.Figure:
    """Insurance fund balance (venue-wide: one fund for every market, whatever ``market``)."""
    steps = _venue(steps)
    fig = go.Figure()
    fig.add_scatter(x=steps["step"], y=_col(steps, "insurance_fund_usd"), name="insurance fund",
                    fill="tozeroy")  # fmt: skip
    return _layout(fig, "Insurance fund (venue-wide)", "USD")


def backstop(steps: pd.DataFrame, market: str | None = None) -> go.Figure:
    """Backstop vault equity (venue-wide, whatever ``market``)."""
    steps = _venue(steps)
    fig = go.Figure()
    fig.add_scatter(x=steps["step"], y=_col(steps, "backstop_equity_usd"), name="backstop equity",
                    fill="tozeroy", line={"color": PALETTE[4]})  # fmt: skip
    return _layout(fig, "Backstop vault equity (venue-wide)", "USD")


def adl(steps: pd.DataFrame, market: str | None = None) -> go.Figure:
    """ADL haircuts per step and the part of them beyond the deficit they covered: the venue's,
    or one market's."""
    where, steps = _where(market), _rows(steps, market)
    fig = go.Figure()
    fig.add_bar(x=steps["step"], y=_col(steps, "adl_haircut_usd"), name="haircut",
                marker_color=PALETTE[1])  # fmt: skip
    fig.add_bar(x=steps["step"], y=_col(steps, "adl_overshoot_usd"), name="overshoot",
                marker_color=PALETTE[3])  # fmt: skip
    fig.update_layout(barmode="group")
    return _layout(fig, f"ADL haircuts per step ({where})", "USD")


def bad_debt(steps: pd.DataFrame, market: str | None = None) -> go.Figure:
    """New bad debt per step and its running total, with the running total of the part written
    off as final when there is any: the venue's, or one market's."""
    where, steps = _where(market), _rows(steps, market)
    fig = go.Figure()
    per_step = _col(steps, "bad_debt_usd")
    fig.add_bar(x=steps["step"], y=per_step, name="per step", marker_color=PALETTE[3])
    fig.add_scatter(x=steps["step"], y=per_step.cumsum(), name="cumulative",
                    line={"color": PALETTE[7]})  # fmt: skip
    final = _col(steps, "bad_debt_final_usd").fillna(0.0)
    if bool((final != 0).any()):  # a run with final write-offs shows that part of the total
        fig.add_scatter(x=steps["step"], y=final.cumsum(), name="written off as final, cumulative",
                        line={"color": PALETTE[5], "dash": "dot"})  # fmt: skip
    return _layout(fig, f"Bad debt ({where})", "USD")


#: The charts of one run, in display order: (key, figure builder).
RUN_CHARTS = (
    ("prices", prices),
    ("liquidations", liquidations),
    ("insurance_fund", insurance_fund),
    ("backstop", backstop),
    ("adl", adl),
    ("bad_debt", bad_debt),
)


# ----------------------------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------------------------


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def compare_lines(
    steps: Mapping[str, pd.DataFrame],
    column: str | tuple[str, ...],
    title: str,
    *,
    cumulative: bool = False,
    money: bool = True,
    extra: Mapping[str, pd.DataFrame] | None = None,
    market: str | None = None,
) -> go.Figure:
    """One line per control set (path 0): ``column`` or its running total against the step, of
    the venue totals (``market`` None) or of one market's rows."""
    fig = go.Figure()
    for i, (control, frame) in enumerate(steps.items()):
        frame = _rows(frame, market)
        y = _col(frame, column)
        fig.add_scatter(x=frame["step"], y=y.cumsum() if cumulative else y, name=control,
                        line={"color": _colour(i)})  # fmt: skip
    for control, frame in (extra or {}).items():
        frame = _rows(frame, market)
        y = _col(frame, column)
        fig.add_scatter(x=frame["step"], y=y.cumsum() if cumulative else y,
                        name=f"{control} (no feedback)", line={"dash": "dot", "color": "#444"})  # fmt: skip
    return _layout(fig, title, "USD", money=money)


def compare_prices(
    steps: Mapping[str, pd.DataFrame],
    no_feedback: Mapping[str, pd.DataFrame],
    market: str | None = None,
) -> go.Figure:
    """A market's oracle price per control set, with the exogenous path and the no-feedback
    run; with no market named, every market's, one panel each, when the runs have several
    (:func:`compare_prices_by_market`), else the one market's."""
    first = next(iter(steps.values()), pd.DataFrame())
    if market is None and len(markets(first)) > 1:
        return compare_prices_by_market(steps, no_feedback)
    market = market or _market(first)[0]
    fig = go.Figure()
    for i, (control, frame) in enumerate(steps.items()):
        frame = _market(frame, market)[1]
        fig.add_scatter(x=frame["step"], y=_col(frame, "price_oracle_usd"), name=control,
                        line={"color": _colour(i)})  # fmt: skip
    for control, frame in (no_feedback or {}).items():
        frame = _market(frame, market)[1]
        fig.add_scatter(x=frame["step"], y=_col(frame, "price_oracle_usd"),
                        name=f"{control} (no feedback)", line={"dash": "dot", "color": "#444"})  # fmt: skip
    _layout(fig, f"{market} oracle price (path 0)", "USD")
    if steps:
        first = _market(first, market)[1]
        if "price_exogenous_usd" in first:
            fig.add_scatter(x=first["step"], y=first["price_exogenous_usd"], name="exogenous",
                            line={"dash": "dash", "color": "#999"})  # fmt: skip
    return fig


#: Panels per row of :func:`compare_prices_by_market`.
PANELS_PER_ROW = 3


def compare_prices_by_market(
    steps: Mapping[str, pd.DataFrame], no_feedback: Mapping[str, pd.DataFrame]
) -> go.Figure:
    """One panel per market of the first run (at most :data:`PANELS_PER_ROW` a row): the oracle
    price of each control set's path 0 (one colour per set), the exogenous path (dashed) and
    the no-feedback run (dotted)."""
    first = next(iter(steps.values()), pd.DataFrame())
    symbols = markets(first)
    columns = min(len(symbols), PANELS_PER_ROW) or 1
    rows = max(math.ceil(len(symbols) / columns), 1)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=list(symbols),
                        horizontal_spacing=0.08, vertical_spacing=0.2)  # fmt: skip
    for n, symbol in enumerate(symbols):
        at = {"row": n // columns + 1, "col": n % columns + 1}
        for i, (control, frame) in enumerate(steps.items()):
            rows_of = _market(frame, symbol)[1]
            fig.add_scatter(x=rows_of["step"], y=_col(rows_of, "price_oracle_usd"), name=control,
                            legendgroup=control, showlegend=n == 0,
                            line={"color": _colour(i)}, **at)  # fmt: skip
        for control, frame in (no_feedback or {}).items():
            rows_of = _market(frame, symbol)[1]
            fig.add_scatter(x=rows_of["step"], y=_col(rows_of, "price_oracle_usd"),
                            name=f"{control} (no feedback)", legendgroup="no feedback",
                            showlegend=n == 0, line={"dash": "dot", "color": "#444"}, **at)  # fmt: skip
        rows_of = _market(first, symbol)[1]
        if "price_exogenous_usd" in rows_of:
            fig.add_scatter(x=rows_of["step"], y=rows_of["price_exogenous_usd"], name="exogenous",
                            legendgroup="exogenous", showlegend=n == 0,
                            line={"dash": "dash", "color": "#999"}, **at)  # fmt: skip
    _layout(fig, "Oracle price per market (path 0)", "USD")
    fig.update_layout(height=max(HEIGHT, 300 * rows), yaxis_title=None, xaxis_title=None)
    return fig


def metric_bars(table: pd.DataFrame, metric: str, label: str | None = None) -> go.Figure:
    """Mean of ``metric`` per control set with its 95% interval as error bars."""
    controls = list(dict.fromkeys(table.columns.get_level_values("control")))
    means = [float(table.loc[metric, (c, "mean")]) for c in controls]
    lows = [float(table.loc[metric, (c, "ci_low")]) for c in controls]
    highs = [float(table.loc[metric, (c, "ci_high")]) for c in controls]
    has_ci = not all(math.isnan(v) for v in lows + highs)
    error = None
    if has_ci:
        error = {
            "type": "data",
            "symmetric": False,
            "array": [0 if math.isnan(h) else h - m for h, m in zip(highs, means, strict=True)],
            "arrayminus": [
                0 if math.isnan(lo) else m - lo for lo, m in zip(lows, means, strict=True)
            ],
        }
    fig = go.Figure(
        go.Bar(
            x=controls,
            y=means,
            error_y=error,
            marker_color=[_colour(i) for i in range(len(controls))],
        )  # fmt: skip
    )
    caption = "mean and 95% interval over paths" if has_ci else "one path, no interval"
    fig = _layout(fig, f"{label or metric} ({caption})", metric, money=metric.endswith("_usd"))
    fig.update_layout(xaxis_title="control set", hovermode="closest")
    return fig


#: Time-series charts of a comparison: (key, column, title, cumulative, per market). A chart
#: per market plots the chosen market's rows (the venue totals for all markets); the others
#: are venue-wide.
COMPARE_CHARTS = (
    ("liquidations", ("liquidated_notional_long_usd", "liquidated_notional_short_usd"),
     "Liquidated notional, cumulative", True, True),
    ("insurance_fund", "insurance_fund_usd", "Insurance fund", False, False),
    ("bad_debt", "bad_debt_usd", "Bad debt, cumulative", True, True),
    ("adl", "adl_haircut_usd", "ADL haircuts, cumulative", True, True),
    ("backstop", "backstop_equity_usd", "Backstop vault equity", False, False),
)  # fmt: skip
