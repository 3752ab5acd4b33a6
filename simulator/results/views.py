"""Reading the per-market long format: the venue totals and one market's rows of a
``steps.parquet`` table (:func:`venue_steps`, :func:`market_steps`, :func:`step_markets`), and
one-market tables of format ``perpsim-run/1`` brought to the long format
(:func:`upgrade_legacy_tables`).

Every reader of step tables (compare, report, stats, the app, ``perpsim show``) selects rows
through these functions (or :class:`~simulator.results.RunReader`'s methods built on them), so
none filters the ``market`` column by hand.
"""

from __future__ import annotations

import pandas as pd

from simulator.results.errors import ResultsError
from simulator.results.schema import (
    MARKET_ONLY_STEP_COLUMNS,
    STEP_COLUMNS,
    VENUE,
    VENUE_ONLY_STEP_COLUMNS,
)

_INT_COLUMNS = tuple(c.name for c in STEP_COLUMNS if str(c.dtype) == "int64")


def _need_market(steps: pd.DataFrame) -> None:
    if "market" not in steps:
        raise ResultsError(
            "steps table has no market column (a perpsim-run/1 table: read it with RunReader)"
        )


def step_markets(steps: pd.DataFrame) -> tuple[str, ...]:
    """The market symbols of a long-format step table, in the order of their first row (the
    scenario's market order), without the venue-total ``"ALL"``."""
    _need_market(steps)
    return tuple(m for m in pd.unique(steps["market"]) if m != VENUE)


def _rows(steps: pd.DataFrame, market: str, drop: tuple[str, ...]) -> pd.DataFrame:
    frame = steps[steps["market"] == market].drop(columns=[c for c in drop if c in steps])
    frame = frame.sort_values("step", kind="stable").reset_index(drop=True)
    for name in _INT_COLUMNS:  # nullable ints come back as float64 when other rows held null
        if name in frame and frame[name].notna().all() and frame[name].dtype != "int64":
            frame[name] = frame[name].astype("int64")
    return frame


def venue_steps(steps: pd.DataFrame) -> pd.DataFrame:
    """The venue totals: one row per step (the ``"ALL"`` rows), sorted by step, without the
    per-market-only columns (prices, funding rate) and with ``transactions`` as int64.

    Examples
    --------
    >>> steps = pd.DataFrame({"step": [1, 1], "market": ["BTC", "ALL"],
    ...                       "price_oracle_usd": [9.0, None], "oi_long_usd": [5.0, 5.0]})
    >>> venue_steps(steps).columns.tolist(), float(venue_steps(steps)["oi_long_usd"].iloc[0])
    (['step', 'market', 'oi_long_usd'], 5.0)
    """
    _need_market(steps)
    return _rows(steps, VENUE, MARKET_ONLY_STEP_COLUMNS)


def market_steps(steps: pd.DataFrame, symbol: str | None = None) -> pd.DataFrame:
    """One market's rows, sorted by step, without the venue-only columns (insurance fund,
    backstop vault, transactions).

    Parameters
    ----------
    steps : pandas.DataFrame
        A long-format step table.
    symbol : str, optional
        The market; default the first market of the table (the scenario's first market; the
        only one of a single-market run).

    Raises
    ------
    ResultsError
        ``symbol`` is not a market of the table (the message lists those it has).
    """
    markets = step_markets(steps)
    if symbol is None:
        if not markets:
            return _rows(steps, "", VENUE_ONLY_STEP_COLUMNS)
        symbol = markets[0]
    if symbol not in markets:
        listed = ", ".join(markets) or "none"
        raise ResultsError(f"no market {symbol!r} in the steps table (markets: {listed})")
    return _rows(steps, symbol, VENUE_ONLY_STEP_COLUMNS)


def upgrade_legacy_tables(
    steps: pd.DataFrame, events: pd.DataFrame, positions: pd.DataFrame, symbol: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Tables of a ``perpsim-run/1`` folder (one market, no ``market`` column) in the long
    format: every row gets ``market = symbol``, and each step a venue-total row (the summed
    columns and ``accounts_liquidated`` copied from its one market row, the venue-only columns
    moved to it). Events and positions get ``market = symbol``."""
    steps = steps.copy()
    market = steps.copy()
    market.insert(min(2, len(market.columns)), "market", symbol)
    for name in VENUE_ONLY_STEP_COLUMNS:
        if name in market:
            market[name] = float("nan")
    total = steps.copy()
    total.insert(min(2, len(total.columns)), "market", VENUE)
    for name in MARKET_ONLY_STEP_COLUMNS:
        if name in total:
            total[name] = float("nan")
    both = pd.concat([market, total], ignore_index=True)
    both["_order"] = [0] * len(market) + [1] * len(total)
    both = both.sort_values(["step", "_order"], kind="stable").drop(columns="_order")
    events = events.copy()
    if "market" not in events:
        events.insert(min(2, len(events.columns)), "market", symbol)
    positions = positions.copy()
    if "market" not in positions:
        positions.insert(min(1, len(positions.columns)), "market", symbol)
    return both.reset_index(drop=True), events, positions
