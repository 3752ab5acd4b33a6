"""Interactive charts (plotly) of one run and of a comparison.

Every figure takes the step table of a run folder (``steps.parquet``, per-market long format;
columns and units in :mod:`simulator.results`) and plots money in USD against the step (one
step = one block): the price charts one market's rows (the first market unless named), the
others the venue totals, both selected with :mod:`simulator.results.views`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

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


def _market(steps: pd.DataFrame, market: str | None = None) -> tuple[str, pd.DataFrame]:
    """A market's symbol and rows (default the first market; an empty table as it is)."""
    if not len(steps):
        return market or "", steps
    market = market or step_markets(steps)[0]
    return market, market_steps(steps, market)


# ----------------------------------------------------------------------------------------------
# One run
# ----------------------------------------------------------------------------------------------


def prices(steps: pd.DataFrame, market: str | None = None) -> go.Figure:
    """A market's exogenous, oracle, mark and spot AMM prices (default the first market)."""
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


def liquidations(steps: pd.DataFrame) -> go.Figure:
    """The venue's liquidated notional per step, longs and shorts."""
    steps = _venue(steps)
    fig = go.Figure()
    fig.add_bar(x=steps["step"], y=_col(steps, "liquidated_notional_long_usd"), name="long",
                marker_color=LONG)  # fmt: skip
    fig.add_bar(x=steps["step"], y=_col(steps, "liquidated_notional_short_usd"), name="short",
                marker_color=SHORT)  # fmt: skip
    fig.update_layout(barmode="stack")
    return _layout(fig, "Liquidated notional per step", "USD")


def insurance_fund(steps: pd.DataFrame) -> go.Figure:
    """Insurance fund balance."""
    steps = _venue(steps)
    fig = go.Figure()
    fig.add_scatter(x=steps["step"], y=_col(steps, "insurance_fund_usd"), name="insurance fund",
                    fill="tozeroy")  # fmt: skip
    return _layout(fig, "Insurance fund", "USD")


def backstop(steps: pd.DataFrame) -> go.Figure:
    """Backstop vault equity."""
    steps = _venue(steps)
    fig = go.Figure()
    fig.add_scatter(x=steps["step"], y=_col(steps, "backstop_equity_usd"), name="backstop equity",
                    fill="tozeroy", line={"color": PALETTE[4]})  # fmt: skip
    return _layout(fig, "Backstop vault equity", "USD")


def adl(steps: pd.DataFrame) -> go.Figure:
    """The venue's ADL haircuts per step and the part of them beyond the deficit they covered."""
    steps = _venue(steps)
    fig = go.Figure()
    fig.add_bar(x=steps["step"], y=_col(steps, "adl_haircut_usd"), name="haircut",
                marker_color=PALETTE[1])  # fmt: skip
    fig.add_bar(x=steps["step"], y=_col(steps, "adl_overshoot_usd"), name="overshoot",
                marker_color=PALETTE[3])  # fmt: skip
    fig.update_layout(barmode="group")
    return _layout(fig, "ADL haircuts per step", "USD")


def bad_debt(steps: pd.DataFrame) -> go.Figure:
    """The venue's new bad debt per step and its running total."""
    steps = _venue(steps)
    fig = go.Figure()
    per_step = _col(steps, "bad_debt_usd")
    fig.add_bar(x=steps["step"], y=per_step, name="per step", marker_color=PALETTE[3])
    fig.add_scatter(x=steps["step"], y=per_step.cumsum(), name="cumulative",
                    line={"color": PALETTE[7]})  # fmt: skip
    return _layout(fig, "Bad debt", "USD")


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
) -> go.Figure:
    """One line per control set (path 0): the venue total's ``column`` or its running total
    against the step."""
    fig = go.Figure()
    for i, (control, frame) in enumerate(steps.items()):
        frame = _venue(frame)
        y = _col(frame, column)
        fig.add_scatter(x=frame["step"], y=y.cumsum() if cumulative else y, name=control,
                        line={"color": _colour(i)})  # fmt: skip
    for control, frame in (extra or {}).items():
        frame = _venue(frame)
        y = _col(frame, column)
        fig.add_scatter(x=frame["step"], y=y.cumsum() if cumulative else y,
                        name=f"{control} (no feedback)", line={"dash": "dot", "color": "#444"})  # fmt: skip
    return _layout(fig, title, "USD", money=money)


def compare_prices(
    steps: Mapping[str, pd.DataFrame],
    no_feedback: Mapping[str, pd.DataFrame],
    market: str | None = None,
) -> go.Figure:
    """A market's oracle price per control set (default the first market), with the exogenous
    path and the no-feedback run."""
    first = next(iter(steps.values()), pd.DataFrame())
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


#: Time-series charts of a comparison: (key, column, title, cumulative).
COMPARE_CHARTS = (
    ("liquidations", ("liquidated_notional_long_usd", "liquidated_notional_short_usd"),
     "Liquidated notional, cumulative", True),
    ("insurance_fund", "insurance_fund_usd", "Insurance fund", False),
    ("bad_debt", "bad_debt_usd", "Bad debt, cumulative", True),
    ("adl", "adl_haircut_usd", "ADL haircuts, cumulative", True),
    ("backstop", "backstop_equity_usd", "Backstop vault equity", False),
)  # fmt: skip
