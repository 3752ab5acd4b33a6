"""``summary.json``: the headline figures of a run, computed from its tables (see "Summary" in
:mod:`simulator.results`)."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from simulator.results.atomic import _jsonable
from simulator.results.schema import (
    EVENT_COLUMNS,
    LIQUIDATION_EVENT_KINDS,
    MARKET_SYSTEM_LOSS_TERMS,
    NONDETERMINISTIC_SUMMARY_KEYS,
    STEP_COLUMNS,
    SYSTEM_LOSS_TERMS,
    Column,
)
from simulator.results.views import market_steps, step_markets, venue_steps


def _col_sum(frame: pd.DataFrame, name: str) -> float:
    return float(frame[name].sum()) if name in frame and len(frame) else 0.0


def _liquidated_accounts(events_df: pd.DataFrame, steps_df: pd.DataFrame) -> int:
    """Distinct accounts with a liquidation event; the sum of ``accounts_liquidated`` when
    there is none."""
    if len(events_df) and "kind" in events_df:
        liq = events_df[events_df["kind"].isin(LIQUIDATION_EVENT_KINDS)]
        if len(liq):
            return int(liq["account"].dropna().nunique())
    return int(_col_sum(steps_df, "accounts_liquidated"))


def _event_sum(events_df: pd.DataFrame, kind: str, column: str) -> float:
    """Sum of ``column`` over the events of ``kind`` (0 when there is none)."""
    if not len(events_df) or "kind" not in events_df or column not in events_df:
        return 0.0
    return float(events_df.loc[events_df["kind"] == kind, column].fillna(0.0).sum())


def _prices(rows: pd.DataFrame, start: float | None) -> dict[str, float | None]:
    """``start_price``, ``exogenous_min_price``, ``min_price``, ``price_amplification`` of one
    market's rows (USD; see "Summary")."""
    if not (len(rows) and "price_exogenous_usd" in rows):
        return price_figures(start, None, None, None)
    exogenous = rows["price_exogenous_usd"]
    exo_min = float(exogenous.min())
    oracle = rows["price_oracle_usd"] if "price_oracle_usd" in rows else None
    seen_min = float(oracle.min()) if oracle is not None else exo_min
    return price_figures(start, float(exogenous.iloc[0]), exo_min, seen_min)


def price_figures(
    start: float | None, first: float | None, exo_min: float | None, seen_min: float | None
) -> dict[str, float | None]:
    """The price keys of a market's summary from its reductions (USD): ``start`` given (or
    None: ``first``, the first row's exogenous price, stands in), the minimum exogenous price
    and the minimum price seen (the oracle's); the last three None when the rows hold no
    price. ``price_amplification`` is the seen fall over the exogenous fall (None when the
    exogenous price did not fall)."""
    amplification = None
    if exo_min is not None:
        if start is None:
            start = first
        exogenous_fall = start - exo_min
        if exogenous_fall > 1e-12 * max(abs(start), 1.0):
            amplification = (start - seen_min) / exogenous_fall
    return {
        "start_price": start,
        "exogenous_min_price": exo_min,
        "min_price": seen_min,
        "price_amplification": amplification,
    }


def system_loss(figures: Mapping[str, Any], terms: Sequence[str] = SYSTEM_LOSS_TERMS) -> float:
    """What a run cost everyone but the liquidated traders (USD, >= 0): the sum of ``terms``.

    The venue's terms (:data:`SYSTEM_LOSS_TERMS`) are the summary's
    ``insurance_fund_drawdown_usd`` (largest fall of the fund from its running peak),
    ``adl_haircut_usd`` (profit taken from winners by ADL, in full: the overshoot beyond the
    deficit goes to the fund, whose gain is not netted), ``bad_debt_usd`` (deficits no buffer
    covered, left at the end) and ``backstop_lp_loss_usd`` (the backstop vault's LPs' loss,
    ``max(0, −backstop_pnl_usd)``: a vault profit is the liquidated traders' money and offsets
    nothing) and ``mm_vault_lp_loss_usd`` (the market-making vault's LPs' loss,
    :func:`mm_vault_lp_loss`; 0 without that vault). A market's
    (:data:`MARKET_SYSTEM_LOSS_TERMS`) are its ADL haircuts and bad debt only: the fund and
    the vaults are venue-wide.

    Parameters
    ----------
    figures : mapping
        A summary, or one market's entry of its ``markets``.
    terms : sequence of str
        The keys to add up (each an amount in USD, >= 0 by construction).

    Returns
    -------
    float
        The sum in USD; NaN when a term is (e.g. a fund column with gaps).

    Examples
    --------
    >>> system_loss({"insurance_fund_drawdown_usd": 100.0, "adl_haircut_usd": 20.0,
    ...              "bad_debt_usd": 3.0, "backstop_lp_loss_usd": 0.0,
    ...              "mm_vault_lp_loss_usd": 0.0})
    123.0
    >>> system_loss({"adl_haircut_usd": 20.0, "bad_debt_usd": 3.0}, MARKET_SYSTEM_LOSS_TERMS)
    23.0
    """
    return float(sum(float(figures[term]) for term in terms))


def _last(frame: pd.DataFrame, name: str) -> float | None:
    """The last non-null value of a column (None when there is none)."""
    if name not in frame or not len(frame):
        return None
    values = frame[name].dropna()
    return float(values.iloc[-1]) if len(values) else None


def mm_vault_lp_loss(capital_usd: float, equity_end_usd: float | None) -> float:
    """The market-making vault's LPs' loss: ``max(0, capital in − final equity)`` (USD; 0
    without a vault). The vault's profit (the spread and skew it earned) offsets nothing, as
    the backstop vault's does not.

    >>> mm_vault_lp_loss(1_000.0, 800.0), mm_vault_lp_loss(1_000.0, 1_200.0)
    (200.0, 0.0)
    """
    if equity_end_usd is None:
        return 0.0
    return max(0.0, float(capital_usd) - float(equity_end_usd))


def _market_summary(
    rows: pd.DataFrame, events_df: pd.DataFrame, given: Mapping[str, Any]
) -> dict[str, Any]:
    """One market's entry of ``markets`` (keys :data:`MARKET_SUMMARY_KEYS`)."""

    def level(name: str, at: int) -> float | None:
        return float(rows[name].iloc[at]) if len(rows) and name in rows else None

    start = given.get("start_price")
    sums = {name: _col_sum(rows, name) for name in MARKET_SUM_COLUMNS}
    figures = {
        "liquidated_accounts": _liquidated_accounts(events_df, rows),
        "insurance_payout_usd": _event_sum(events_df, "insurance_payout", "amount_usd"),
        "adl_notional_usd": _event_sum(events_df, "adl_fill", "notional_usd"),
        "oi_long_start_usd": level("oi_long_usd", 0),
        "oi_short_start_usd": level("oi_short_usd", 0),
        "oi_long_end_usd": level("oi_long_usd", -1),
        "oi_short_end_usd": level("oi_short_usd", -1),
    }
    prices = _prices(rows, None if start is None else float(start))
    return market_entry(sums, figures, prices, given)


#: The step columns a market's entry sums.
MARKET_SUM_COLUMNS = (
    "liquidated_notional_long_usd",
    "liquidated_notional_short_usd",
    "bad_debt_usd",
    "bad_debt_final_usd",
    "adl_haircut_usd",
    "adl_overshoot_usd",
    "fees_usd",
)


def market_entry(
    sums: Mapping[str, float],
    figures: Mapping[str, Any],
    prices: Mapping[str, Any],
    given: Mapping[str, Any],
) -> dict[str, Any]:
    """One market's entry of ``markets`` from its reductions: ``sums`` (USD, the sums of
    :data:`MARKET_SUM_COLUMNS`), ``figures`` (its liquidated accounts, insurance payouts, ADL
    notional and open interest at the start and the end), ``prices`` (:func:`price_figures`);
    a value of ``given`` replaces the computed one."""
    long_usd = sums["liquidated_notional_long_usd"]
    short_usd = sums["liquidated_notional_short_usd"]
    out: dict[str, Any] = {
        "liquidated_notional_usd": long_usd + short_usd,
        "liquidated_notional_long_usd": long_usd,
        "liquidated_notional_short_usd": short_usd,
        "liquidated_accounts": figures["liquidated_accounts"],
        "bad_debt_usd": sums["bad_debt_usd"],
        "bad_debt_final_usd": sums["bad_debt_final_usd"],
        "insurance_payout_usd": figures["insurance_payout_usd"],
        "adl_haircut_usd": sums["adl_haircut_usd"],
        "adl_overshoot_usd": sums["adl_overshoot_usd"],
        "adl_notional_usd": figures["adl_notional_usd"],
        "system_loss_usd": None,  # from the final terms, below
        "fees_usd": sums["fees_usd"],
        "oi_long_start_usd": figures["oi_long_start_usd"],
        "oi_short_start_usd": figures["oi_short_start_usd"],
        "oi_long_end_usd": figures["oi_long_end_usd"],
        "oi_short_end_usd": figures["oi_short_end_usd"],
        **prices,
    }
    for key, value in given.items():
        out[key] = _jsonable(value)
    out["system_loss_usd"] = system_loss(out, MARKET_SYSTEM_LOSS_TERMS)
    return out


def summarize(
    steps_df: pd.DataFrame,
    events_df: pd.DataFrame,
    positions_df: pd.DataFrame,
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """The headline figures of a run, computed from its tables (see "Summary" above).

    Parameters
    ----------
    steps_df, events_df, positions_df : pandas.DataFrame
        The run's tables (long format, columns as documented; ``positions_df`` is not used yet
        but is part of the signature so figures can come from it later).
    meta : mapping
        ``traders`` (int), ``steps`` (int) and ``wall_seconds`` (float) are required. A value
        for any other summary key replaces the computed one (for figures the engine knows
        better, e.g. ``backstop_pnl_usd`` when LPs deposited or withdrew during the run).
        ``start_price`` (USD) is the configured price at step 0 of a single-market run (step 0's
        exogenous price; a table without step 0's rows does not hold it); it is also the start
        of ``price_amplification``. Without it, the first row's exogenous price stands in.
        ``bad_debt_usd`` (USD), when given, is the bad debt left uncovered at the end as the
        chain's ledger holds it (exact: 0 when ADL covered everything); without it, the sum
        of the step column stands in (a sum of float differences, off by about 1e-11 USD
        where it should be 0). ``markets`` (``{symbol: {key: value}}``), when given, replaces
        per-market figures the same way (e.g. each market's ``start_price`` and ledger
        ``bad_debt_usd``).

    Returns
    -------
    dict
        Keys :data:`SUMMARY_KEYS` in that order (plus any extra keys of ``meta`` after them,
        except ``traders``/``steps``/``wall_seconds`` which are in the list). Money in USD;
        the prices and ``price_amplification`` are ``None`` for a run with no steps and for a
        venue of several markets (read them in ``markets``).

    Examples
    --------
    >>> steps = pd.DataFrame({"step": [1, 1, 2, 2], "market": ["BTC", "ALL"] * 2,
    ...                       "price_exogenous_usd": [90.0, None, 95, None],
    ...                       "price_oracle_usd": [85.0, None, 95, None]})
    >>> s = summarize(steps, pd.DataFrame(), pd.DataFrame(),
    ...               {"traders": 1, "steps": 2, "wall_seconds": 0.1, "start_price": 100.0})
    >>> s["start_price"], s["price_amplification"], s["markets"]["BTC"]["min_price"]
    (100.0, 1.5, 85.0)
    """
    for key in ("traders", "steps", "wall_seconds"):
        if key not in meta:
            raise ValueError(f"summarize: meta lacks {key!r}")
    if "kind" in events_df:  # the kinds it reads, and only them (what summary_columns relies on)
        events_df = events_df[events_df["kind"].isin(SUMMARY_EVENT_KINDS)]
    symbols = step_markets(steps_df) if len(steps_df) else ()
    venue = venue_steps(steps_df) if len(steps_df) else steps_df
    given_markets = markets_given(meta, symbols)
    markets = {}
    for symbol in symbols:
        if "market" in events_df:
            market_events = events_df[events_df["market"] == symbol]
        else:
            market_events = events_df
        markets[symbol] = _market_summary(
            market_steps(steps_df, symbol), market_events, given_markets.get(symbol, {})
        )
    unknown = sorted(set(given_markets) - set(markets))
    if unknown:
        raise ValueError(f"summarize: meta names markets the steps do not hold: {unknown}")

    drawdown = 0.0
    if "insurance_fund_usd" in venue and len(venue):
        drawdown = fund_drawdown(venue["insurance_fund_usd"].to_numpy(dtype=float))

    backstop_pnl = 0.0
    if {"backstop_equity_usd", "backstop_share_price"} <= set(venue) and len(venue):
        backstop_pnl = backstop_figure(
            float(venue["backstop_equity_usd"].iloc[0]),
            float(venue["backstop_share_price"].iloc[0]),
            float(venue["backstop_share_price"].iloc[-1]),
        )
    figures = {
        "transactions": int(_col_sum(venue, "transactions")),
        "liquidated_accounts": _liquidated_accounts(events_df, venue),
        "insurance_fund_drawdown_usd": drawdown,
        "backstop_pnl_usd": backstop_pnl,
        "mm_vault_equity_end_usd": _last(venue, "mm_vault_equity_usd"),
    }
    sums = {name: _col_sum(venue, name) for name in MARKET_SUM_COLUMNS}
    return venue_summary(meta, markets, sums, figures)


def markets_given(meta: Mapping[str, Any], symbols: Sequence[str]) -> dict[str, dict]:
    """``meta["markets"]``'s figures by market; a single market also takes the venue's
    ``start_price`` and ``bad_debt_usd`` of ``meta`` (where its own entry lacks them)."""
    given_markets = dict(meta.get("markets") or {})
    if len(symbols) == 1:  # a single market's step-0 price and ledger bad debt are the venue's
        given = dict(given_markets.get(symbols[0], {}))
        for key in ("start_price", "bad_debt_usd"):
            if meta.get(key) is not None:
                given.setdefault(key, float(meta[key]))
        given_markets[symbols[0]] = given
    return given_markets


def fund_drawdown(fund_usd: np.ndarray) -> float:
    """The largest fall of the insurance fund from its running peak (USD; NaN in, NaN out)."""
    return float(np.max(np.maximum.accumulate(fund_usd) - fund_usd))


def backstop_figure(equity0_usd: float, share0: float, share1: float) -> float:
    """The backstop vault's PnL (USD): the share price's change on the first row's equity
    (0 without a vault at the start)."""
    if equity0_usd > 0 and share0 > 0:
        return (share1 / share0 - 1.0) * equity0_usd
    return 0.0


def venue_summary(
    meta: Mapping[str, Any],
    markets: dict[str, dict[str, Any]],
    sums: Mapping[str, float],
    figures: Mapping[str, Any],
) -> dict[str, Any]:
    """The summary (:func:`summarize`'s dict) from the venue's reductions: ``sums`` (USD, the
    venue rows' sums of :data:`MARKET_SUM_COLUMNS`) and ``figures`` (``transactions``,
    ``liquidated_accounts``, ``insurance_fund_drawdown_usd``, ``backstop_pnl_usd``,
    ``mm_vault_equity_end_usd``), the markets' entries, and ``meta``."""
    symbols = tuple(markets)
    long_usd = sums["liquidated_notional_long_usd"]
    short_usd = sums["liquidated_notional_short_usd"]
    price_keys = ("start_price", "exogenous_min_price", "min_price", "price_amplification")
    if len(symbols) == 1:
        prices = {k: markets[symbols[0]][k] for k in price_keys}
    else:  # several markets (or none): a venue has no one price
        prices = dict.fromkeys(price_keys)
        if not symbols and meta.get("start_price") is not None:
            prices["start_price"] = float(meta["start_price"])

    summary: dict[str, Any] = {
        "traders": int(meta["traders"]),
        "flow_accounts": int(meta.get("flow_accounts", 0)),
        "steps": int(meta["steps"]),
        "transactions": figures["transactions"],
        "wall_seconds": float(meta["wall_seconds"]),
        "liquidated_notional_usd": long_usd + short_usd,
        "liquidated_notional_long_usd": long_usd,
        "liquidated_notional_short_usd": short_usd,
        "liquidated_accounts": figures["liquidated_accounts"],
        "bad_debt_usd": (
            float(meta["bad_debt_usd"])
            if meta.get("bad_debt_usd") is not None
            else sums["bad_debt_usd"]
        ),
        "bad_debt_final_usd": sums["bad_debt_final_usd"],
        "insurance_fund_drawdown_usd": figures["insurance_fund_drawdown_usd"],
        "backstop_pnl_usd": figures["backstop_pnl_usd"],
        "adl_haircut_usd": sums["adl_haircut_usd"],
        "adl_overshoot_usd": sums["adl_overshoot_usd"],
        "backstop_lp_loss_usd": None,  # from the final terms, below
        "mm_vault_capital_usd": 0.0,
        "mm_vault_equity_end_usd": figures["mm_vault_equity_end_usd"],
        "mm_vault_lp_loss_usd": None,
        "system_loss_usd": None,
        **prices,
        "fees_usd": sums["fees_usd"],
        "markets": markets,
    }
    for key, value in meta.items():
        if key != "markets":
            summary[key] = _jsonable(value)
    # derived after meta, which may replace backstop_pnl_usd or bad_debt_usd
    summary["backstop_lp_loss_usd"] = max(0.0, -float(summary["backstop_pnl_usd"]))
    summary["mm_vault_lp_loss_usd"] = mm_vault_lp_loss(
        summary["mm_vault_capital_usd"], summary["mm_vault_equity_end_usd"]
    )
    summary["system_loss_usd"] = system_loss(summary)
    return summary


def deterministic_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary without the keys that vary between identical runs (``wall_seconds``)."""
    return {k: v for k, v in summary.items() if k not in NONDETERMINISTIC_SUMMARY_KEYS}


#: The step columns :func:`summarize` reads (the others it never looks at).
SUMMARY_STEP_COLUMNS = (
    "step",
    "market",
    "price_exogenous_usd",
    "price_oracle_usd",
    "oi_long_usd",
    "oi_short_usd",
    "liquidated_notional_long_usd",
    "liquidated_notional_short_usd",
    "accounts_liquidated",
    "insurance_fund_usd",
    "backstop_equity_usd",
    "backstop_share_price",
    "adl_haircut_usd",
    "adl_overshoot_usd",
    "bad_debt_usd",
    "bad_debt_final_usd",
    "fees_usd",
    "transactions",
    "mm_vault_equity_usd",
)
#: The event columns :func:`summarize` reads.
SUMMARY_EVENT_COLUMNS = ("kind", "market", "account", "amount_usd", "notional_usd")
#: The event kinds :func:`summarize` reads: it drops every other kind's rows first, so a frame
#: of only these (:func:`summary_columns`) gives the same figures by construction.
SUMMARY_EVENT_KINDS = frozenset((*LIQUIDATION_EVENT_KINDS, "insurance_payout", "adl_fill"))


_NUMBER_TYPES = frozenset({type(None), float, int, np.float64, np.int64})
_TEXT_TYPES = frozenset({type(None), str})


def _summary_column(values: list, col: Column) -> np.ndarray | None:
    """One column as the run folder's table gives it to pandas (Arrow's ``to_pandas``): a float
    column float64 with NaN for null; an integer column int64, or float64 when it holds a null;
    a text column an object array of ``str`` and ``None``. None when a value is not plainly of
    the column's type (the schema's general path then decides)."""
    kinds = set(map(type, values))
    if col.dtype == pa.string():
        if not kinds <= _TEXT_TYPES:
            return None
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    if not kinds <= _NUMBER_TYPES:
        return None
    if type(None) in kinds and not col.nullable:
        return None
    # fromiter: the same per-value conversion as np.array (None to NaN), without its list pass
    floats = np.fromiter(values, np.float64, len(values))
    if col.dtype == pa.float64():
        return floats
    missing = np.isnan(floats)
    has_missing = bool(missing.any())
    if has_missing and not col.nullable:
        return None
    whole = floats[~missing] if has_missing else floats
    if not (np.all(np.abs(whole) < 2.0**53) and np.all(whole == np.floor(whole))):
        return None
    return floats if has_missing else floats.astype(np.int64)


def _columns_of(rows: list, names: tuple[str, ...]) -> dict[str, Sequence]:
    """Each name's values over ``rows`` (``row.get(name)``), as sequences in row order."""
    if not set(map(type, rows)) <= {dict}:
        return {name: [row.get(name) for row in rows] for name in names}
    out: dict[str, Sequence] = {}
    if rows:  # the names the first row holds, taken row by row in C (when every row has them)
        held = tuple(name for name in names if name in rows[0])
        if len(held) > 1:
            try:
                out = dict(
                    zip(held, zip(*map(operator.itemgetter(*held), rows), strict=True), strict=True)
                )
            except KeyError:
                out = {}
    for name in names:
        if name not in out:  # dict.get mapped in C: a third of a comprehension's time
            out[name] = list(map(dict.get, rows, itertools.repeat(name)))
    return out


def _summary_columns(
    rows: list, columns: tuple[Column, ...], names: tuple[str, ...]
) -> dict[str, np.ndarray] | None:
    by_name = {c.name: c for c in columns}
    values = _columns_of(rows, names)
    data = {}
    for name in names:
        array = _summary_column(values[name], by_name[name])
        if array is None:
            return None
        data[name] = array
    return data


def summary_columns(
    step_rows: Sequence[Mapping[str, Any]], event_rows: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """The columns :func:`summarize` reads, built straight from a run's rows, as numpy arrays
    by name (steps: :data:`SUMMARY_STEP_COLUMNS`; events: :data:`SUMMARY_EVENT_COLUMNS` of the
    events of :data:`SUMMARY_EVENT_KINDS`), with the values and dtypes the run folder's Arrow
    tables give to pandas: the cheap way to a summary when no folder is written (a tuning
    evaluation, :func:`~simulator.results.summary_arrays.summarize_columns`). None when a
    value is not plainly of its column's type (a number in a text column, a fraction in an
    integer one, ...): build the schema's tables instead
    (:func:`~simulator.results.schema._to_table`), which convert it or name what is wrong."""
    events = summary_event_columns(event_rows)
    if events is None:
        return None
    steps = _summary_columns(list(step_rows), STEP_COLUMNS, SUMMARY_STEP_COLUMNS)
    if steps is None:
        return None
    return steps, events


def summary_event_columns(
    event_rows: Sequence[Mapping[str, Any]],
) -> dict[str, np.ndarray] | None:
    """:func:`summary_columns`' event columns alone (for step columns made another way, e.g.
    :class:`~simulator.engine.metrics.StepFigures`); None as it gives None."""
    event_rows = list(event_rows)
    kinds = _columns_of(event_rows, ("kind",))["kind"]
    if not set(map(type, kinds)) <= {str}:
        return None
    # Only the kinds summarize reads (the rest it filters out itself: same rows, same order).
    read = list(itertools.compress(event_rows, map(SUMMARY_EVENT_KINDS.__contains__, kinds)))
    return _summary_columns(read, EVENT_COLUMNS, SUMMARY_EVENT_COLUMNS)
