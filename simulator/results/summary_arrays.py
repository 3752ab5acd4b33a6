"""The summary from plain column arrays (:func:`summarize_columns`): the same dict as
:func:`~simulator.results.summary.summarize` of the frames those columns make, without pandas,
for a tuning evaluation (:func:`~simulator.mirror.run.summary_of`), where the frames' per-market
selections and reductions cost more than the run's summary is worth.

Each reduction is the float operation pandas makes, in the same order, so the figures are
equal to the bit: a sum is numpy's (pairwise) sum of the column with NaN set to 0 (pandas'
``nansum``), an integer column's sum is an int64 sum, a minimum is numpy's of the column with
NaN set to +inf (NaN when every value is), rows are selected by market and stably sorted by
step as :func:`~simulator.results.views.market_steps` does, integer columns come back as
int64 when the selection holds no NaN. Input that takes pandas' less common paths (no step
rows, a missing market) gives None: summarize the frames instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from simulator.results.schema import LIQUIDATION_EVENT_KINDS, STEP_COLUMNS, VENUE
from simulator.results.summary import (
    MARKET_SUM_COLUMNS,
    SUMMARY_EVENT_KINDS,
    backstop_figure,
    fund_drawdown,
    market_entry,
    markets_given,
    price_figures,
    venue_summary,
)

Columns = Mapping[str, np.ndarray]

_INT_COLUMNS = frozenset(c.name for c in STEP_COLUMNS if str(c.dtype) == "int64")


def _sum(values: np.ndarray) -> float:
    """pandas' ``Series.sum`` as a float: NaN counts 0; empty gives 0.0."""
    if not len(values):
        return 0.0
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        if missing.any():
            values = np.where(missing, 0.0, values)
    return float(values.sum())


def _min(values: np.ndarray) -> float:
    """pandas' ``Series.min`` of a non-empty float column as a float: NaN skipped (NaN when
    every value is)."""
    missing = np.isnan(values)
    if missing.all():
        return float("nan")
    if missing.any():
        values = np.where(missing, np.inf, values)
    return float(values.min())


def _select(steps: Columns, market: np.ndarray, symbol: str, names) -> dict[str, np.ndarray]:
    """The columns ``names`` of one market's rows (or the venue's), stably sorted by step, an
    integer column int64 when the rows hold no NaN (:func:`~simulator.results.views._rows`)."""
    at = np.flatnonzero(market == symbol)
    at = at[np.argsort(steps["step"][at], kind="stable")]
    out = {}
    for name in names:
        values = steps[name][at]
        if name in _INT_COLUMNS and values.dtype != np.int64 and not np.isnan(values).any():
            values = values.astype(np.int64)
        out[name] = values
    return out


def _liquidated_accounts(events: Columns, accounts_liquidated: np.ndarray) -> int:
    """Distinct accounts with a liquidation event; the sum of ``accounts_liquidated`` when
    there is none."""
    liquidations = [kind in LIQUIDATION_EVENT_KINDS for kind in events["kind"]]
    if any(liquidations):
        held = events["account"][np.array(liquidations, dtype=bool)]
        return len({account for account in held if account is not None})
    return int(_sum(accounts_liquidated))


def _event_sum(events: Columns, kind: str, column: str) -> float:
    """Sum of ``column`` over the events of ``kind`` (NaN counts 0)."""
    if not len(events["kind"]):
        return 0.0
    return _sum(events[column][events["kind"] == kind])


_MARKET_READS = (
    *MARKET_SUM_COLUMNS,
    "accounts_liquidated",
    "oi_long_usd",
    "oi_short_usd",
    "price_exogenous_usd",
    "price_oracle_usd",
)
_VENUE_READS = (
    *MARKET_SUM_COLUMNS,
    "accounts_liquidated",
    "transactions",
    "insurance_fund_usd",
    "backstop_equity_usd",
    "backstop_share_price",
    "mm_vault_equity_usd",
)


def _market(
    steps: Columns, market: np.ndarray, symbol: str, events: Columns, given: Mapping[str, Any]
) -> dict[str, Any]:
    rows = _select(steps, market, symbol, _MARKET_READS)
    mine = events["market"] == symbol
    events = {name: values[mine] for name, values in events.items()}
    exogenous = rows["price_exogenous_usd"]
    start = given.get("start_price")
    n = len(exogenous)
    figures = {
        "liquidated_accounts": _liquidated_accounts(events, rows["accounts_liquidated"]),
        "insurance_payout_usd": _event_sum(events, "insurance_payout", "amount_usd"),
        "adl_notional_usd": _event_sum(events, "adl_fill", "notional_usd"),
        "oi_long_start_usd": float(rows["oi_long_usd"][0]) if n else None,
        "oi_short_start_usd": float(rows["oi_short_usd"][0]) if n else None,
        "oi_long_end_usd": float(rows["oi_long_usd"][-1]) if n else None,
        "oi_short_end_usd": float(rows["oi_short_usd"][-1]) if n else None,
    }
    if n:
        prices = price_figures(
            None if start is None else float(start),
            float(exogenous[0]),
            _min(exogenous),
            _min(rows["price_oracle_usd"]),
        )
    else:
        prices = price_figures(None if start is None else float(start), None, None, None)
    sums = {name: _sum(rows[name]) for name in MARKET_SUM_COLUMNS}
    return market_entry(sums, figures, prices, given)


def summarize_columns(
    steps: Columns, events: Columns, meta: Mapping[str, Any]
) -> dict[str, Any] | None:
    """:func:`~simulator.results.summary.summarize` of the frames of
    :func:`~simulator.results.summary.summary_columns`' arrays, computed on the arrays.

    Parameters
    ----------
    steps, events : mapping of str to numpy.ndarray
        The columns :func:`~simulator.results.summary.summary_columns` gives (all of
        :data:`~simulator.results.summary.SUMMARY_STEP_COLUMNS` and
        :data:`~simulator.results.summary.SUMMARY_EVENT_COLUMNS`, the events of
        :data:`~simulator.results.summary.SUMMARY_EVENT_KINDS` only).
    meta : mapping
        As :func:`~simulator.results.summary.summarize` takes it.

    Returns
    -------
    dict or None
        The summary, equal to the frames' key for key and bit for bit; None for no step rows
        or a step row without a market (summarize the frames).
    """
    for key in ("traders", "steps", "wall_seconds"):
        if key not in meta:
            raise ValueError(f"summarize: meta lacks {key!r}")
    market = steps["market"]
    if not len(market):
        return None
    order = dict.fromkeys(market.tolist())
    if None in order:
        return None
    kinds = events["kind"]
    if not all(kind in SUMMARY_EVENT_KINDS for kind in kinds):
        return None
    symbols = tuple(symbol for symbol in order if symbol != VENUE)
    given_markets = markets_given(meta, symbols)
    markets = {
        symbol: _market(steps, market, symbol, events, given_markets.get(symbol, {}))
        for symbol in symbols
    }
    unknown = sorted(set(given_markets) - set(markets))
    if unknown:
        raise ValueError(f"summarize: meta names markets the steps do not hold: {unknown}")

    venue = _select(steps, market, VENUE, _VENUE_READS)
    n = len(venue["transactions"])
    drawdown = fund_drawdown(venue["insurance_fund_usd"].astype(float)) if n else 0.0
    backstop_pnl = 0.0
    if n:
        backstop_pnl = backstop_figure(
            float(venue["backstop_equity_usd"][0]),
            float(venue["backstop_share_price"][0]),
            float(venue["backstop_share_price"][-1]),
        )
    vault = venue["mm_vault_equity_usd"]
    vault = vault[~np.isnan(vault)]
    figures = {
        "transactions": int(_sum(venue["transactions"])),
        "liquidated_accounts": _liquidated_accounts(events, venue["accounts_liquidated"]),
        "insurance_fund_drawdown_usd": drawdown,
        "backstop_pnl_usd": backstop_pnl,
        "mm_vault_equity_end_usd": float(vault[-1]) if len(vault) else None,
    }
    sums = {name: _sum(venue[name]) for name in MARKET_SUM_COLUMNS}
    return venue_summary(meta, markets, sums, figures)


__all__ = ["summarize_columns"]
