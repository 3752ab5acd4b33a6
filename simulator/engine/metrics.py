"""From the levels read after a block and its event rows to the step's ``steps.parquet`` rows
(per-market long format: one row per market, then the venue-total row).

A pure function: no chain access, no engine state. Levels are floats of USD and base units,
per market arrays of shape (M,) (:mod:`simulator.engine.levels`); the columns are documented
in :mod:`simulator.results`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from simulator.engine.events import ADL_KINDS, LIQUIDATION_KINDS
from simulator.protocol.venue_contracts import VenueBackstopVault
from simulator.results import SUMMED_STEP_COLUMNS
from simulator.results.schema import VENUE, venue_total_row_of

#: Decimals of a backstop vault share: the asset's 6 plus the vault's virtual-share offset.
VAULT_SHARE_DECIMALS = VenueBackstopVault.SHARE_DECIMALS


def step_rows(
    step: int,
    step_seconds: int,
    symbols: Sequence[str],
    exogenous_usd: np.ndarray,
    levels: dict[str, Any],
    events: Iterable[dict[str, Any]],
    transactions: int,
    *,
    previous_bad_debt_usd: np.ndarray,
    previous_fees_usd: np.ndarray,
    outside_usd: np.ndarray | None = None,
    figures: StepFigures | None = None,
) -> list[dict[str, Any]]:
    """The step's ``steps.parquet`` rows from the levels read after the block and its event
    rows: one row per market of ``symbols`` (in order), then the venue-total (``"ALL"``) row
    (:func:`~simulator.results.venue_total_row`'s row, its sums made here as the rows are:
    :func:`~simulator.results.schema.venue_total_row_of`).

    Flows per market: liquidated notional and accounts (liquidations, partial ones and
    backstop takeovers of that market's positions), ADL haircuts and overshoot, the change of
    the market's bad debt (outstanding and final), the bad debt written off as final in the
    step (its ``bad_debt_final`` rows: no ADL call can clear it), and its fees (the change of
    its ledger's trading fees plus liquidation penalties: an ADL overshoot sent to the
    insurance fund is a haircut and is not in them). Venue-wide levels (insurance fund,
    backstop vault) and the block's transactions go on the venue-total row, whose
    ``accounts_liquidated`` counts an account liquidated in several markets once.
    ``outside_usd``: each market's outside price of the step (USD; the ``price_outside_usd``
    column, null when not given). ``figures``: a :class:`StepFigures` that also takes the
    step's figures the summary reads (the rows are the same with or without it; with one of
    ``rows=False`` the step's rows are not built and the list is empty).
    """
    liquidations, liquidations_of, adl_of, final_of = _grouped(events)

    vault_equity = _mm_vault_equity(levels)
    # The per-market values as one float64 table (each row converted as ``np.asarray(x,
    # float64)`` converts it; a column not filled this step holds the exogenous prices, unread),
    # then Python floats in one ``tolist``: per market its column.
    table = np.array(
        [
            exogenous_usd,
            levels["index_usd"],
            exogenous_usd if outside_usd is None else outside_usd,
            levels["mark_usd"],
            levels["amm_price_usd"],
            levels["oi_long_base"],
            levels["oi_short_base"],
            levels["bad_debt_usd"] - previous_bad_debt_usd,
            levels["funding_rate_per_hour"],
            levels["fees_cum_usd"] - previous_fees_usd,
            # the vault's signed size per market (base units), None without one
            exogenous_usd if vault_equity is None else levels["mm_vault_size_base"],
        ],
        dtype=np.float64,
    )
    if figures is not None:
        figures.table[step] = table
        if not figures.rows:  # a tuning path: the figures alone, no row dicts
            _keep_figures(figures, step, symbols, liquidations, liquidations_of, adl_of, final_of,
                          _venue_of(levels, vault_equity, transactions))  # fmt: skip
            return []
    columns = zip(symbols, table.T.tolist(), strict=True)
    no_outside, no_size = outside_usd is None, vault_equity is None
    timestamp_s = step * step_seconds
    rows = []
    # The venue-total row's sums, market by market in order from 0.0 (as
    # :func:`~simulator.results.venue_total_row` adds them): open interest, bad debt and fees
    # here, the flows' from the rows after the loop (only a market with events has any).
    oi_long_total = oi_short_total = bad_debt_total = fees_total = 0.0
    for symbol, (exo, index, outside, mark, amm, oi_long, oi_short, bad_debt, rate, fees,
                 size) in columns:  # fmt: skip
        oi_long_usd, oi_short_usd = oi_long * index, oi_short * index
        oi_long_total += oi_long_usd
        oi_short_total += oi_short_usd
        bad_debt_total += bad_debt
        fees_total += fees
        row = {
            "step": step,
            "timestamp_s": timestamp_s,
            "market": symbol,
            "price_exogenous_usd": exo,
            "price_oracle_usd": index,
            "price_outside_usd": None if no_outside else outside,
            "price_mark_usd": mark,
            "price_amm_usd": amm,
            "oi_long_usd": oi_long_usd,
            "oi_short_usd": oi_short_usd,
            # The flows below: the sums of an empty market (int 0, as ``sum`` of nothing).
            "liquidated_notional_long_usd": 0,
            "liquidated_notional_short_usd": 0,
            "accounts_liquidated": 0,
            "adl_haircut_usd": 0,
            "adl_overshoot_usd": 0,
            "bad_debt_usd": bad_debt,
            "bad_debt_final_usd": 0,
            "funding_rate": rate,
            "fees_usd": fees,
            "mm_vault_size_base": None if no_size else size,
        }
        mine = liquidations_of.get(symbol) if liquidations_of else None
        if mine:
            row["liquidated_notional_long_usd"] = sum(
                e["notional_usd"] or 0 for e in mine if e["side"] == "long"
            )
            row["liquidated_notional_short_usd"] = sum(
                e["notional_usd"] or 0 for e in mine if e["side"] == "short"
            )
            row["accounts_liquidated"] = len({e["account"] for e in mine})
        adl = adl_of.get(symbol) if adl_of else None
        if adl:
            row["adl_haircut_usd"] = sum(e["amount_usd"] or 0 for e in adl)
            row["adl_overshoot_usd"] = sum(json.loads(e["detail"])["overshoot_usd"] for e in adl)
        final = final_of.get(symbol) if final_of else None
        if final:
            row["bad_debt_final_usd"] = sum(e["amount_usd"] for e in final)
        if figures is not None and (mine or adl or final):
            figures.flows[step, len(rows)] = [row[name] for name in _MARKET_FLOW_COLUMNS]
        rows.append(row)
    flows = [0.0] * len(_FLOW_COLUMNS)  # each from 0.0, a market's int 0 adding nothing
    if liquidations_of or adl_of or final_of:
        for row in rows:
            for i, name in enumerate(_FLOW_COLUMNS):
                flows[i] += row[name]
    l_long, l_short, haircut, overshoot, final_total = flows
    sums = (oi_long_total, oi_short_total, l_long, l_short, haircut, overshoot, bad_debt_total,
            final_total, fees_total)  # fmt: skip
    venue = _venue_of(levels, vault_equity, transactions)
    accounts = len({e["account"] for e in liquidations})
    if figures is not None:
        figures.venue[step] = (*(venue[name] for name in _VENUE_FIGURES), accounts)
        figures.filled[step] = True
    return rows + [venue_total_row_of(rows, sums, accounts_liquidated=accounts, venue=venue)]


def _grouped(events: Iterable[dict[str, Any]]) -> tuple[list, dict, dict, dict]:
    """One pass over the events: the liquidations, and each market's liquidations, ADL
    summaries and final bad debt rows, in event order (the sums add them in that order). One
    dict lookup per event names its group."""
    liquidations: list[dict[str, Any]] = []
    liquidations_of: dict[Any, list[dict[str, Any]]] = {}
    adl_of: dict[Any, list[dict[str, Any]]] = {}
    final_of: dict[Any, list[dict[str, Any]]] = {}
    for e in events:
        kind = e["kind"]
        if kind not in _GROUP_OF_KIND:
            continue
        g = _GROUP_OF_KIND[kind]
        if g == _LIQUIDATION:
            liquidations.append(e)
            liquidations_of.setdefault(e.get("market"), []).append(e)
        elif g == _ADL:
            adl_of.setdefault(e.get("market"), []).append(e)
        else:
            final_of.setdefault(e.get("market"), []).append(e)
    return liquidations, liquidations_of, adl_of, final_of


def keep_event_figures(figures: StepFigures, step: int, events: Iterable[dict[str, Any]]) -> None:
    """Step ``step``'s flows and liquidated accounts in ``figures`` from its event rows, as
    :func:`step_rows` keeps them on a tuning path (``rows=False``): for a step whose other
    figures were kept without it (:func:`simulator.mirror.sim.block_levels.end_block`, which
    leaves no flows and no accounts)."""
    liquidations, liquidations_of, adl_of, final_of = _grouped(events)
    _keep_flows(figures, step, figures.symbols, liquidations_of, adl_of, final_of)
    figures.venue[step, _VENUE_AT["accounts_liquidated"]] = len(
        {e["account"] for e in liquidations}
    )


def _venue_of(levels: dict[str, Any], vault_equity: float | None, transactions: int) -> dict:
    """The venue-total row's own levels (:data:`_VENUE_FIGURES`' columns)."""
    vault_assets, supply = levels["vault_assets_usd"], levels["vault_supply"]
    return {
        "insurance_fund_usd": levels["insurance_fund_usd"],
        "backstop_equity_usd": vault_assets,
        # ERC-4626 shares carry the asset's 6 decimals plus the vault's offset: USD per share.
        "backstop_share_price": (
            vault_assets / (supply / 10**VAULT_SHARE_DECIMALS) if supply else math.nan
        ),
        "transactions": transactions,
        "mm_vault_equity_usd": vault_equity,
    }


def _keep_figures(
    figures: StepFigures,
    step: int,
    symbols: Sequence[str],
    liquidations: list[dict[str, Any]],
    liquidations_of: dict[Any, list[dict[str, Any]]],
    adl_of: dict[Any, list[dict[str, Any]]],
    final_of: dict[Any, list[dict[str, Any]]],
    venue: dict[str, Any],
) -> None:
    """:func:`step_rows`' figures of step ``step`` without its rows: a market's flows (only
    a market with events has any), summed as its row sums them, and the venue's levels."""
    _keep_flows(figures, step, symbols, liquidations_of, adl_of, final_of)
    accounts = len({e["account"] for e in liquidations})
    figures.venue[step] = (*(venue[name] for name in _VENUE_FIGURES), accounts)
    figures.filled[step] = True


def _keep_flows(
    figures: StepFigures,
    step: int,
    symbols: Sequence[str],
    liquidations_of: dict[Any, list[dict[str, Any]]],
    adl_of: dict[Any, list[dict[str, Any]]],
    final_of: dict[Any, list[dict[str, Any]]],
) -> None:
    """A market's flows of step ``step`` (only a market with events has any), summed as its
    row sums them."""
    if liquidations_of or adl_of or final_of:
        for m, symbol in enumerate(symbols):
            mine = liquidations_of.get(symbol) or ()
            adl = adl_of.get(symbol) or ()
            final = final_of.get(symbol) or ()
            if mine or adl or final:
                figures.flows[step, m] = (
                    sum(e["notional_usd"] or 0 for e in mine if e["side"] == "long"),
                    sum(e["notional_usd"] or 0 for e in mine if e["side"] == "short"),
                    sum(e["amount_usd"] or 0 for e in adl),
                    sum(json.loads(e["detail"])["overshoot_usd"] for e in adl),
                    sum(e["amount_usd"] for e in final),
                    len({e["account"] for e in mine}),
                )


#: The flows' step columns, in :data:`~simulator.results.SUMMED_STEP_COLUMNS`' order.
_FLOW_COLUMNS = ("liquidated_notional_long_usd", "liquidated_notional_short_usd",
                 "adl_haircut_usd", "adl_overshoot_usd", "bad_debt_final_usd")  # fmt: skip
assert SUMMED_STEP_COLUMNS == ("oi_long_usd", "oi_short_usd", *_FLOW_COLUMNS[:4],
                               "bad_debt_usd", _FLOW_COLUMNS[4], "fees_usd")  # fmt: skip


#: A market row's flows :class:`StepFigures` keeps (``flows``' columns, in this order).
_MARKET_FLOW_COLUMNS = (*_FLOW_COLUMNS, "accounts_liquidated")
#: The venue row's levels :class:`StepFigures` keeps (``venue``'s columns, in this order,
#: then the venue's ``accounts_liquidated``).
_VENUE_FIGURES = ("insurance_fund_usd", "backstop_equity_usd", "backstop_share_price",
                  "transactions", "mm_vault_equity_usd")  # fmt: skip
_FLOW_AT = {name: i for i, name in enumerate(_MARKET_FLOW_COLUMNS)}
_VENUE_AT = {name: i for i, name in enumerate((*_VENUE_FIGURES, "accounts_liquidated"))}
#: ``step_rows``' per-market table's row of each column the summary reads (market rows).
_TABLE_AT = {"price_exogenous_usd": 0, "price_oracle_usd": 1, "bad_debt_usd": 7, "fees_usd": 9}


#: The key of a run's :class:`StepFigures` in ``ctx.memo`` (the mirror's step passes it to
#: :func:`step_rows`; a tuning path puts one there, a run folder's path none).
FIGURES_MEMO = "step_figures"


class StepFigures:
    """The step rows' figures that the run's summary reads, kept as :func:`step_rows` builds
    the rows (``figures=``; or in their stead, ``rows=False``), in float64 arrays by step,
    without reading them back out of row dicts: :meth:`columns` gives them as the long-format
    columns :func:`~simulator.results.summary.summary_columns` makes of the same rows (the
    summary step columns, :data:`~simulator.results.summary.SUMMARY_STEP_COLUMNS`).

    ``table`` (steps + 1, 11, markets): each step's per-market table (USD, base units);
    ``flows`` (steps + 1, markets, 6): the market rows' flows (USD) and liquidated accounts,
    written only for a market with events (else 0, the rows' int 0); ``venue`` (steps + 1, 6):
    the venue-total row's fund, backstop equity (USD), share price (USD a share),
    transactions, market-making vault equity (USD, NaN for none) and liquidated accounts.
    The venue row's sums are made in :meth:`columns` as :func:`step_rows` makes them (from
    0.0, market by market, in order: the same floats).
    """

    def __init__(self, steps: int, symbols: Sequence[str], *, rows: bool = True):
        n, m = steps + 1, len(symbols)
        self.symbols = tuple(symbols)
        self.rows = rows
        """Whether :func:`step_rows` still builds the rows (False: the figures alone, and
        it returns no rows: a tuning path, whose summary is all it reads of them)."""
        self.table = np.full((n, 11, m), np.nan)
        self.flows = np.zeros((n, m, len(_MARKET_FLOW_COLUMNS)))
        self.venue = np.full((n, len(_VENUE_AT)), np.nan)
        self.filled = np.zeros(n, dtype=bool)
        """Whether step ``t``'s rows were built (:meth:`columns` needs every step's)."""

    def add_opening_transactions(self, count: int) -> None:
        """Step 0's venue row's ``transactions`` with the opening book's orders added
        (:func:`~simulator.engine.opening.with_opening`)."""
        self.venue[0, _VENUE_AT["transactions"]] += count

    def columns(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The step columns ``names`` in long format (per step its market rows in order, then
        the venue-total row), as the rows' :func:`~simulator.results.summary.summary_columns`
        gives them: ``step`` int64, ``market`` an object array of ``str``, every other column
        float64 (NaN where the row holds null; an integer column's whole numbers as floats,
        which :func:`~simulator.results.summary_arrays.summarize_columns` reads as integers).

        Raises
        ------
        ValueError
            When a step's rows were not built, or a column is not one of the summary's.
        """
        if not self.filled.all():
            raise ValueError(f"step figures: step {int(np.argmin(self.filled))} was not built")
        n, m = len(self.filled), len(self.symbols)
        market_rows = {}
        for name, at in _TABLE_AT.items():
            market_rows[name] = self.table[:, at, :]
        index = self.table[:, 1, :]
        for name, at in _FLOW_AT.items():
            market_rows[name] = self.flows[:, :, at]
        venue_rows = {name: self.venue[:, at] for name, at in _VENUE_AT.items()}
        with np.errstate(invalid="ignore", over="ignore"):  # inf * 0, as Python's floats: NaN
            market_rows["oi_long_usd"] = self.table[:, 5, :] * index
            market_rows["oi_short_usd"] = self.table[:, 6, :] * index
            for name in SUMMED_STEP_COLUMNS:
                total = np.zeros(n)
                for k in range(m):  # from 0.0, market by market, as step_rows adds them
                    total = total + market_rows[name][:, k]
                venue_rows[name] = total
        out: dict[str, np.ndarray] = {}
        for name in names:
            if name == "step":
                out[name] = np.repeat(np.arange(n, dtype=np.int64), m + 1)
            elif name == "market":
                out[name] = np.tile(np.array([*self.symbols, VENUE], dtype=object), n)
            elif name in market_rows or name in venue_rows:
                both = np.full((n, m + 1), np.nan)
                if name in market_rows:
                    both[:, :m] = market_rows[name]
                if name in venue_rows:
                    both[:, m] = venue_rows[name]
                out[name] = both.ravel()
            else:
                raise ValueError(f"step figures: no column {name!r}")
        return out


#: :func:`step_rows`' groups of event kinds: liquidations, ADL summaries, final bad debt.
_LIQUIDATION, _ADL, _FINAL = 1, 2, 3
_GROUP_OF_KIND = {
    **{kind: _LIQUIDATION for kind in LIQUIDATION_KINDS},
    **{kind: _ADL for kind in ADL_KINDS},
    "bad_debt_final": _FINAL,
}
#: The event kinds :func:`step_rows` reads (the rest of a step's events do not move its rows).
STEP_EVENT_KINDS = frozenset(_GROUP_OF_KIND)


def _mm_vault_equity(levels: dict[str, Any]) -> float | None:
    """The market-making vault's cross equity (USD); None without one."""
    equity = levels.get("mm_vault_equity_usd")
    return None if equity is None or math.isnan(equity) else float(equity)
