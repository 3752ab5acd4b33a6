"""What the pages show of a run and of a comparison: figures, tables, charts, downloads."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from simulator.results import SUMMARY_KEYS
from simulator.stats import MARKET_METRICS, TAIL_TEXT, format_compare_table

from . import charts
from .results import STOPPED, CompareData, RunData, folder_files

#: The scenario pickers' option for the scenario as edited on the Scenario page.
FROM_SCENARIO_PAGE = "scenario-page"


def scenario_choice(
    key: str, purpose: str, preset: Callable[[str], Any], preferred: Sequence[str] = ()
) -> Any:
    """A page's scenario picker (selectbox ``key``): the Scenario page's edited scenario, or a
    preset at demo size (``preset(name)``). A stale or missing choice becomes the first of
    ``preferred`` (options such as ``"preset:oct-2025"`` or :data:`FROM_SCENARIO_PAGE`) that
    is offered, else the first option; ``purpose`` ends the help text ("compare on it")."""
    from simulator.scenario import available_presets

    edited = st.session_state.get("scenario.current")
    options = [f"preset:{name}" for name in available_presets()]
    if edited is not None:
        options.insert(0, FROM_SCENARIO_PAGE)
    if st.session_state.get(key) not in options:
        st.session_state[key] = next((o for o in preferred if o in options), options[0])

    def label(option: str) -> str:
        if option == FROM_SCENARIO_PAGE:
            return f"{edited.name} as edited on the Scenario page ({edited.steps} steps)"
        return f"{option.removeprefix('preset:')} (preset, demo size)"

    choice = st.selectbox(
        "Scenario", options, key=key, format_func=label,
        help=f"Edit a scenario on the Scenario page to {purpose}; presets run at demo size.",
    )  # fmt: skip
    if choice == FROM_SCENARIO_PAGE:
        return edited
    return preset(choice.removeprefix("preset:"))


#: Summary figures: key -> (label, unit). Units as in ``simulator.results``.
SUMMARY_LABELS: dict[str, tuple[str, str]] = {
    "traders": ("Traders", "count"),
    "flow_accounts": ("Order-flow accounts", "count"),
    "steps": ("Steps", "step"),
    "transactions": ("Transactions", "count"),
    "wall_seconds": ("Wall time", "s"),
    "liquidated_notional_usd": ("Liquidated notional", "USD"),
    "liquidated_notional_long_usd": ("Liquidated notional, longs", "USD"),
    "liquidated_notional_short_usd": ("Liquidated notional, shorts", "USD"),
    "liquidated_accounts": ("Accounts liquidated", "count"),
    "bad_debt_usd": ("Bad debt", "USD"),
    "bad_debt_final_usd": ("Bad debt written off as final", "USD"),
    "insurance_fund_drawdown_usd": ("Insurance fund drawdown", "USD"),
    "backstop_pnl_usd": ("Backstop vault PnL", "USD"),
    "adl_haircut_usd": ("ADL haircuts", "USD"),
    "adl_overshoot_usd": ("ADL overshoot", "USD"),
    "backstop_lp_loss_usd": ("Backstop LPs' loss", "USD"),
    "mm_vault_capital_usd": ("Market-making vault capital", "USD"),
    "mm_vault_equity_end_usd": ("Market-making vault equity, end", "USD"),
    "mm_vault_lp_loss_usd": ("Market-making vault LPs' loss", "USD"),
    "system_loss_usd": ("System loss", "USD"),
    "start_price": ("Start price", "USD"),
    "exogenous_min_price": ("Exogenous min price", "USD"),
    "min_price": ("Min oracle price", "USD"),
    "price_amplification": ("Price amplification", "x"),
    "fees_usd": ("Fees", "USD"),
    "insurance_payout_usd": ("Insurance payouts", "USD"),
    "adl_notional_usd": ("ADL notional closed", "USD"),
    "oi_long_start_usd": ("Open interest long, start", "USD"),
    "oi_short_start_usd": ("Open interest short, start", "USD"),
    "oi_long_end_usd": ("Open interest long, end", "USD"),
    "oi_short_end_usd": ("Open interest short, end", "USD"),
    # A comparison's tail rows (simulator.stats.TAIL_ROWS) and its number of paths.
    "var95_bad_debt_usd": ("Bad debt, VaR95", "USD"),
    "evar99_bad_debt_usd": ("Bad debt, EVaR99", "USD"),
    "var95_system_loss_usd": ("System loss, VaR95", "USD"),
    "evar99_system_loss_usd": ("System loss, EVaR99", "USD"),
    "lar95_liquidated_notional_usd": ("Liquidated notional, LaR95", "USD"),
    "n_paths": ("Paths", "count"),
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
    "system_loss_usd",
    "min_price",
    "price_amplification",
    "fees_usd",
)
#: The headline figures of one market (its entry of ``summary.json``'s ``markets``), in order:
#: the figures a comparison breaks down per market.
MARKET_CARDS: tuple[str, ...] = MARKET_METRICS
#: Columns of the per-market table of a run (:func:`markets_frame`).
MARKET_COLUMNS: tuple[str, ...] = (
    "liquidated_notional_usd",
    "liquidated_accounts",
    "bad_debt_usd",
    "bad_debt_final_usd",
    "insurance_payout_usd",
    "adl_haircut_usd",
    "adl_notional_usd",
    "system_loss_usd",
    "start_price",
    "min_price",
    "price_amplification",
    "fees_usd",
)
#: Value of a market selector that shows the venue: totals over every market.
ALL_MARKETS = "ALL"
CARD_HELP = {
    "liquidated_notional_usd": "Notional of positions liquidated or taken over by the backstop, "
    "longs + shorts (USD).",
    "liquidated_accounts": "Distinct accounts liquidated (partly or fully) or taken over.",
    "bad_debt_usd": "Losses that no buffer covered (USD).",
    "bad_debt_final_usd": "The part of the bad debt written off as final: no ADL call could "
    "clear it (USD; included in the bad debt).",
    "insurance_fund_drawdown_usd": "Largest fall of the insurance fund from its running peak.",
    "backstop_pnl_usd": "PnL of the backstop vault's starting LP capital (USD).",
    "adl_haircut_usd": "Profit taken from winners by auto-deleveraging (USD).",
    "adl_overshoot_usd": "ADL haircuts beyond the deficit they covered (USD).",
    "min_price": "Lowest oracle price: what the protocol acted on (USD).",
    "price_amplification": "(start - min oracle) / (start - min exogenous): 1 means forced "
    "selling added nothing to the fall; empty when the exogenous path never fell.",
    "fees_usd": "Trading and liquidation fees collected (USD).",
    "insurance_payout_usd": "What the insurance fund paid for this market's deficits (USD).",
    "adl_notional_usd": "Notional of the winners' positions closed by ADL in this market (USD).",
    "backstop_lp_loss_usd": "Loss of the backstop vault's starting LP capital (USD; 0 when it "
    "gained).",
    "system_loss_usd": "What the run cost everyone but the liquidated traders (USD): insurance "
    "fund drawdown + ADL haircuts + bad debt + backstop LPs' loss; a market's: its ADL haircuts "
    "+ bad debt (the fund and the vault are venue-wide).",
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
        "bad_debt_final_usd",
        "insurance_fund_drawdown_usd",
        "adl_haircut_usd",
        "adl_overshoot_usd",
        "backstop_lp_loss_usd",
        "system_loss_usd",
        "price_amplification",
        "var95_bad_debt_usd",
        "evar99_bad_debt_usd",
        "var95_system_loss_usd",
        "evar99_system_loss_usd",
        "lar95_liquidated_notional_usd",
        "insurance_payout_usd",
        "adl_notional_usd",
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


def markets_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """Each market's figures of ``summary.json`` side by side: one row per market (in the
    scenario's order), columns :data:`MARKET_COLUMNS` (exact values, NaN for null)."""
    rows = []
    for symbol, figures in (summary.get("markets") or {}).items():
        row = {"market": symbol}
        for name in MARKET_COLUMNS:
            value = (figures or {}).get(name)
            row[name] = float("nan") if _missing(value) else float(value)
        rows.append(row)
    return pd.DataFrame(rows, columns=["market", *MARKET_COLUMNS])


def market_selector(markets: Sequence[str], key: str) -> str | None:
    """A market selector (widget key ``{key}.market``): "All markets" (the venue's totals) and
    each market. Returns the chosen symbol, or ``None`` for all markets. A choice that the
    shown run or comparison does not hold (another one was open before) goes back to all."""
    options = [ALL_MARKETS, *markets]
    widget = f"{key}.market"
    if st.session_state.get(widget) not in options:
        st.session_state[widget] = ALL_MARKETS
    choice = st.segmented_control(
        "Market", options, key=widget, required=True,
        format_func=lambda m: "All markets" if m == ALL_MARKETS else m,
        help="All markets: the venue's totals (and each market side by side); a market: its "
        "own figures, charts, events and positions. The insurance fund and the backstop vault "
        "are one for the whole venue.",
    )  # fmt: skip
    return None if choice in (None, ALL_MARKETS) else str(choice)


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


#: What the app shows for a figure no path has (the venue's min price when it has several
#: markets); ``format_compare_table``'s ``-`` would render as a Markdown bullet in ``st.table``.
NO_VALUE = "n/a"


def marked_table(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`simulator.stats.format_compare_table` cells, the best of each row prefixed ★, a
    figure no path has shown as :data:`NO_VALUE`."""
    cells = format_compare_table(table).replace("-", NO_VALUE)
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


def summary_cards(summary: dict[str, Any], key: str, market: str | None = None) -> None:
    """The headline figures as metric cards (the venue's, or one market's entry of
    ``markets``), and every figure in a table; for all markets of a run of several, each
    market's figures side by side."""
    several = len(summary.get("markets") or {}) > 1
    if market is None:
        figures, cards = summary, CARDS
        if several:
            st.caption("Venue totals: every market together.")
    elif market in (summary.get("markets") or {}):
        figures, cards = summary["markets"][market] or {}, MARKET_CARDS
        st.caption(f"{market}'s figures (`summary.json` → `markets` → `{market}`).")
    else:  # a one-market run of the format perpsim-run/1: its figures are the venue's
        figures, cards = summary, CARDS
        st.caption(f"{market} is the run's only market: its figures are the venue's.")
    for row in range(0, len(cards), 5):
        columns = st.columns(5)
        for column, name in zip(columns, cards[row : row + 5], strict=False):
            column.metric(
                SUMMARY_LABELS[name][0], format_value(name, figures.get(name)),
                help=CARD_HELP.get(name),
            )  # fmt: skip
    if market is None and several:
        st.dataframe(
            markets_frame(summary), key=f"{key}.markets", hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(
                    SUMMARY_LABELS[name][0], format="%.6g",
                    help=f"`{name}` ({SUMMARY_LABELS[name][1]})")
                for name in MARKET_COLUMNS
            },
        )  # fmt: skip
    with st.expander("All summary figures (summary.json)"):
        st.dataframe(
            summary_frame(summary),
            key=f"{key}.summary",
            hide_index=True,
            column_config={"value": st.column_config.NumberColumn(format="%.6g")},
        )


def run_charts(steps: pd.DataFrame, key: str, market: str | None = None) -> None:
    """The six charts of a run, two per row: the venue's (every market's prices) or one
    market's."""
    if steps is None or not len(steps):
        st.info("No step rows to chart.")
        return
    steps = steps.sort_values("step", kind="stable")
    for row in range(0, len(charts.RUN_CHARTS), 2):
        columns = st.columns(2)
        for column, (name, build) in zip(columns, charts.RUN_CHARTS[row : row + 2], strict=False):
            with column:
                st.plotly_chart(build(steps, market), key=f"{key}.chart.{name}", **charts.SHOW)


def _of_market(frame: pd.DataFrame, market: str | None) -> pd.DataFrame:
    """The rows of ``frame`` about ``market`` (every row for all markets)."""
    if market is None or "market" not in frame:
        return frame
    return frame[frame["market"] == market]


def run_events(data: RunData, key: str, market: str | None = None) -> None:
    """Event counts by kind and the event log (first rows), of every market or one."""
    events = _of_market(data.events, market)
    where = "" if market is None else f" of {market}"
    with st.expander(f"Events{where} ({len(events):,d})"):
        if not len(events):
            st.write("No events.")
            return
        counts = events.groupby("kind").size().rename("events").reset_index()
        st.dataframe(counts, key=f"{key}.event_counts", hide_index=True)
        st.dataframe(events.head(2000), key=f"{key}.events", hide_index=True)


def run_positions(data: RunData, key: str, market: str | None = None) -> None:
    """The positions table (``positions.parquet``: one row per position, several per cross
    account), of every market or one, with each market's count."""
    positions = data.positions
    if positions is None:
        return
    shown = _of_market(positions, market)
    where = "" if market is None else f" in {market}"
    with st.expander(f"Positions{where} ({len(shown):,d})"):
        if market is None and "market" in positions and positions["market"].nunique() > 1:
            counts = (
                positions.groupby(["market", "outcome"], sort=False).size().unstack(fill_value=0)
            )
            st.dataframe(counts.reset_index(), key=f"{key}.position_counts", hide_index=True)
        st.dataframe(shown.head(5000), key=f"{key}.positions", hide_index=True)


def render_run(data: RunData, key: str) -> None:
    """Everything about one run: status, a market selector (all markets or one), figures,
    charts, events and positions."""
    run_status(data)
    market = market_selector(data.markets, key) if data.markets else None
    if data.summary is not None:
        summary_cards(data.summary, key, market)
    run_charts(data.steps, key, market)
    if len(data.events):
        run_events(data, key, market)
    run_positions(data, key, market)


# ----------------------------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------------------------


def _market_table(data: CompareData, market: str) -> pd.DataFrame | None:
    """One market's rows of the comparison (index metric), or ``None`` if it has none."""
    table = data.market_table
    if table is None or market not in table.index.get_level_values("market"):
        return None
    return table.loc[market]


def market_cells(data: CompareData) -> pd.DataFrame:
    """Every market's rows of the comparison as :func:`marked_table` cells (best marked per
    market and row), with ``market`` and ``metric`` columns first."""
    blocks = []
    for symbol in data.markets:
        table = _market_table(data, symbol)
        if table is None:
            continue
        cells = marked_table(table)
        cells.insert(0, "metric", cells.index)
        cells.insert(0, "market", symbol)
        blocks.append(cells.reset_index(drop=True))
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame()


def compare_table_view(data: CompareData, key: str, market: str | None = None) -> None:
    """The table: one column per control set, mean [95% interval] per metric, best marked; the
    venue's figures (and, for several markets, every market's below them) or one market's."""
    if data.table is None:
        st.info("No run of this comparison finished.")
        return
    n = sorted({len(v) for v in data.results.values()})
    paths = f"over {', '.join(map(str, n))} path(s) per control set ((n=k): a figure fewer have)"
    if market is not None and _market_table(data, market) is not None:
        st.markdown(f"**{market}**: the market's own figures (`summary.json` `markets`)")
        st.table(marked_table(_market_table(data, market)).style.map(_highlight))
        st.caption(
            f"Mean [95% bootstrap interval of the mean] {paths} (no interval with one path). "
            f"{BEST} marks the best mean of a row."
        )
        return
    if len(data.markets) > 1:
        st.markdown("**Venue totals** (every market together)")
    st.table(marked_table(data.table).style.map(_highlight))
    st.caption(
        f"Mean [95% bootstrap interval of the mean] {paths} (no interval with one path). "
        f"{TAIL_TEXT}. {BEST} marks the best mean of a row: the lowest for losses, liquidations, "
        "haircuts and amplification; the highest for backstop PnL, min price and fees."
    )
    if len(data.markets) > 1:
        st.markdown(
            f"**Per market** (each market's figures {paths}; choose a market above for its charts)"
        )
        cells = market_cells(data)
        st.dataframe(cells.style.map(_highlight), key=f"{key}.market_table", hide_index=True,
                     height=min(600, 38 + 35 * len(cells)))  # fmt: skip


def compare_charts(data: CompareData, key: str, market: str | None = None) -> None:
    """A bar chart of one metric across control sets, and the path-0 time series: the venue's
    (every market's prices) or one market's."""
    if data.table is None:
        return
    table = data.table if market is None else _market_table(data, market)
    if table is None:
        return
    metrics = [m for m in table.index if m != "n_paths"]
    metric_key = f"{key}.metric"
    if st.session_state.get(metric_key) not in metrics:
        st.session_state[metric_key] = "bad_debt_usd" if "bad_debt_usd" in metrics else metrics[0]
    metric = st.selectbox(
        "Metric", metrics, key=metric_key,
        format_func=lambda m: f"{SUMMARY_LABELS.get(m, (m,))[0]} ({m})",
    )  # fmt: skip
    label = SUMMARY_LABELS.get(metric, (metric,))[0]
    if market is not None:
        label = f"{market}: {label}"
    figures = [("metric", charts.metric_bars(table, metric, label))]
    if data.steps:
        figures.append(("prices", charts.compare_prices(data.steps, data.no_feedback, market)))
        for name, column, title, cumulative, per_market in charts.COMPARE_CHARTS:
            where = (market or "venue") if per_market else "venue-wide"
            figures.append(
                (
                    name,
                    charts.compare_lines(
                        data.steps, column, f"{title} ({where}, path 0)", cumulative=cumulative,
                        market=market if per_market else None,
                    ),
                )
            )  # fmt: skip
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
    market = market_selector(data.markets, key) if data.markets else None
    compare_table_view(data, key, market)
    compare_charts(data, key, market)
    latency_view(data.out_dir, key)


def latency_view(out_dir: str | Path, key: str) -> None:
    """A latency sweep's table and chart (``latency.csv``, :mod:`simulator.latency`), when the
    comparison is one (``perpsim compare --latency``)."""
    from simulator.latency import LATENCY_METRICS, latency_cell, latency_figure, latency_markdown

    path = Path(out_dir) / "latency.csv"
    if not path.is_file():
        return
    table = pd.read_csv(path)
    saved = Path(out_dir) / "latency.json"
    change = json.loads(saved.read_text(encoding="utf-8")).get("change", {})
    st.subheader("Cost of governance latency")
    st.markdown(latency_markdown(table, change).split("\n\n")[0])
    cells = pd.DataFrame(
        {
            "in force": table["in_force"].tolist(),
            **{m: [latency_cell(r, m) for _, r in table.iterrows()] for m in LATENCY_METRICS},
            "n": table["n"].astype(int).tolist(),
        },
        index=pd.Index(table["delay"].tolist(), name="delay"),
    )
    st.table(cells)
    st.plotly_chart(latency_figure(table), key=f"{key}.chart.latency", **charts.SHOW)


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
