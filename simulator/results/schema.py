"""The run folder's file names and the column definitions of its tables (``steps``,
``events``, ``positions``: name, Arrow type, unit, nullability; documented in
:mod:`simulator.results`), the summary's keys, and rows validated into Arrow tables of exactly
those types."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
STEPS = "steps.parquet"
EVENTS = "events.parquet"
POSITIONS = "positions.parquet"
CHECKPOINT = "checkpoint.npz"
_RUN_FILES = (MANIFEST, SUMMARY, STEPS, EVENTS, POSITIONS, CHECKPOINT)
_FORMAT = "perpsim-run/2"
"""Format of the run folder: ``perpsim-run/2`` holds its tables in per-market long format
(``perpsim-run/1``, one market without a ``market`` column, is read by :class:`RunReader`)."""
_LEGACY_FORMAT = "perpsim-run/1"


@dataclass(frozen=True)
class Column:
    """One column of a run table."""

    name: str
    """Column name."""
    dtype: pa.DataType
    """Arrow type in the Parquet file."""
    unit: str
    """Unit (``USD``, ``base``, ``step``, ``s``, ``count``, ``1/h``, ``x``, ``-``)."""
    nullable: bool = False
    """Whether rows may leave it out (stored as null)."""


def _cols(spec: str, dtypes: Mapping[str, pa.DataType], nullable: Iterable[str] = ()):
    nullable = set(nullable)
    out = []
    for line in spec.split():
        name, unit = line.split(":")
        out.append(Column(name, dtypes.get(name, pa.float64()), unit, name in nullable))
    return tuple(out)


_I, _S = pa.int64(), pa.string()

#: ``market`` of the venue-total rows of ``steps.parquet`` (no market may take this symbol).
VENUE = "ALL"

#: Step columns that only a market row fills: per-market prices and the funding rate (a rate
#: does not add up over markets). Null on the venue-total (``ALL``) row.
MARKET_ONLY_STEP_COLUMNS = (
    "price_exogenous_usd",
    "price_oracle_usd",
    "price_outside_usd",
    "price_mark_usd",
    "price_amm_usd",
    "funding_rate",
    "mm_vault_size_base",
)
#: Step columns that only the venue-total row fills: venue-wide levels and flows (the shared
#: insurance fund, the backstop vault, the block's transactions). Null on market rows.
VENUE_ONLY_STEP_COLUMNS = (
    "insurance_fund_usd",
    "backstop_equity_usd",
    "backstop_share_price",
    "transactions",
    "mm_vault_equity_usd",
)
#: Step columns filled on every row; on the venue-total row they are the sum over the step's
#: market rows (open interest and the flows of each market).
SUMMED_STEP_COLUMNS = (
    "oi_long_usd",
    "oi_short_usd",
    "liquidated_notional_long_usd",
    "liquidated_notional_short_usd",
    "adl_haircut_usd",
    "adl_overshoot_usd",
    "bad_debt_usd",
    "bad_debt_final_usd",
    "fees_usd",
)
# ``accounts_liquidated`` is filled on every row too, but the venue-total row counts distinct
# accounts (a cross account liquidated in two markets is one account): at most the sum.

#: Columns of ``steps.parquet`` (documented in the module docstring).
STEP_COLUMNS: tuple[Column, ...] = _cols(
    """step:step timestamp_s:s market:- price_exogenous_usd:USD price_oracle_usd:USD
    price_outside_usd:USD
    price_mark_usd:USD price_amm_usd:USD oi_long_usd:USD oi_short_usd:USD
    liquidated_notional_long_usd:USD liquidated_notional_short_usd:USD accounts_liquidated:count
    insurance_fund_usd:USD backstop_equity_usd:USD backstop_share_price:USD adl_haircut_usd:USD
    adl_overshoot_usd:USD bad_debt_usd:USD bad_debt_final_usd:USD funding_rate:1/h fees_usd:USD transactions:count
    mm_vault_size_base:base mm_vault_equity_usd:USD""",
    {"step": _I, "timestamp_s": _I, "market": _S, "accounts_liquidated": _I, "transactions": _I},
    nullable=MARKET_ONLY_STEP_COLUMNS + VENUE_ONLY_STEP_COLUMNS,
)
#: Columns of ``events.parquet``.
EVENT_COLUMNS: tuple[Column, ...] = _cols(
    """step:step kind:- market:- account:- side:- size_base:base price_usd:USD notional_usd:USD
    amount_usd:USD detail:-""",
    {"step": _I, "kind": _S, "market": _S, "account": _S, "side": _S, "detail": _S},
    nullable=(
        "market",
        "account",
        "side",
        "size_base",
        "price_usd",
        "notional_usd",
        "amount_usd",
        "detail",
    ),  # fmt: skip
)
#: Columns of ``positions.parquet``.
POSITION_COLUMNS: tuple[Column, ...] = _cols(
    """account:- market:- side:- collateral_usd:USD size_base:base entry_price_usd:USD
    leverage:x liquidation_price_at_open_usd:USD opened_step:step outcome:- outcome_step:step
    realized_pnl_usd:USD opens:-""",
    {
        "account": _S,
        "market": _S,
        "side": _S,
        "opened_step": _I,
        "outcome": _S,
        "outcome_step": _I,
        "opens": _I,
    },  # fmt: skip
    nullable=("outcome_step", "realized_pnl_usd", "opened_step", "opens"),
)

#: Event kinds that count an account as liquidated in the summary.
LIQUIDATION_EVENT_KINDS = ("liquidation", "partial_liquidation", "backstop_takeover")
#: Allowed values of ``positions.outcome``.
POSITION_OUTCOMES = ("open", "closed", "liquidated", "backstopped", "adl", "refused", "idle")
#: Keys of ``summary.json``, in order.
SUMMARY_KEYS = (
    "traders",
    "flow_accounts",
    "steps",
    "transactions",
    "wall_seconds",
    "liquidated_notional_usd",
    "liquidated_notional_long_usd",
    "liquidated_notional_short_usd",
    "liquidated_accounts",
    "bad_debt_usd",
    "bad_debt_final_usd",
    "insurance_fund_drawdown_usd",
    "backstop_pnl_usd",
    "adl_haircut_usd",
    "adl_overshoot_usd",
    "backstop_lp_loss_usd",
    "mm_vault_capital_usd",
    "mm_vault_equity_end_usd",
    "mm_vault_lp_loss_usd",
    "system_loss_usd",
    "start_price",
    "exogenous_min_price",
    "min_price",
    "price_amplification",
    "fees_usd",
    "markets",
)
#: Keys of each market's entry in ``summary.json``'s ``markets``, in order.
MARKET_SUMMARY_KEYS = (
    "liquidated_notional_usd",
    "liquidated_notional_long_usd",
    "liquidated_notional_short_usd",
    "liquidated_accounts",
    "bad_debt_usd",
    "bad_debt_final_usd",
    "insurance_payout_usd",
    "adl_haircut_usd",
    "adl_overshoot_usd",
    "adl_notional_usd",
    "system_loss_usd",
    "fees_usd",
    "oi_long_start_usd",
    "oi_short_start_usd",
    "oi_long_end_usd",
    "oi_short_end_usd",
    "start_price",
    "exogenous_min_price",
    "min_price",
    "price_amplification",
)
#: The venue's ``system_loss_usd`` is the sum of these summary figures (USD, each >= 0): what
#: the run cost everyone but the liquidated traders (the market-making vault's LP loss is 0
#: in a run without that vault).
SYSTEM_LOSS_TERMS = (
    "insurance_fund_drawdown_usd",
    "adl_haircut_usd",
    "bad_debt_usd",
    "backstop_lp_loss_usd",
    "mm_vault_lp_loss_usd",
)
#: A market's ``system_loss_usd`` is the sum of these figures of its ``markets`` entry: the
#: insurance fund and the backstop vault are venue-wide, so a market's sum leaves them out.
MARKET_SYSTEM_LOSS_TERMS = ("adl_haircut_usd", "bad_debt_usd")
#: Summary keys that differ between two runs of the same scenario and seed.
NONDETERMINISTIC_SUMMARY_KEYS = ("wall_seconds",)


def _side_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    if value in (1, -1):
        return "long" if value == 1 else "short"
    raise ValueError(f"side must be 'long', 'short', +1 or -1 (got {value!r})")


def _as_columns(rows: Any, table: str) -> dict[str, list]:
    """Rows (a mapping, a list of mappings, a DataFrame or a mapping of columns) as columns."""
    if isinstance(rows, pd.DataFrame):
        return {str(c): rows[c].tolist() for c in rows.columns}
    if isinstance(rows, Mapping):
        values = list(rows.values())
        if values and all(isinstance(v, Sequence | np.ndarray | pd.Series) and
                          not isinstance(v, str) for v in values):  # fmt: skip
            lengths = {len(v) for v in values}
            if len(lengths) > 1:
                raise ValueError(f"{table}: columns have different lengths {sorted(lengths)}")
            return {str(k): list(np.asarray(v).tolist()) for k, v in rows.items()}
        return {str(k): [v] for k, v in rows.items()}
    rows = list(rows)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(map(str, row)))
    return {name: [row.get(name) for row in rows] for name in names}


def _py(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _clean(value: Any, col: Column) -> Any:
    """A Python value for ``col``: NaN / NA mean "missing" except in non-nullable floats, and
    integral floats (ints that went through a pandas float column) become ints."""
    value = _py(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return value if col.dtype == pa.float64() and not col.nullable else None
    if col.dtype == pa.int64() and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _check_whole(values: list, col: Column, table: str) -> None:
    """Refuse a fraction in an integer column (Arrow would truncate 3.5 to 3 without a word).

    >>> _check_whole([1, 2.0, None], Column("step", pa.int64(), "step"), "events")
    >>> _check_whole([1, 2.5], Column("step", pa.int64(), "step"), "events")
    Traceback (most recent call last):
    ...
    ValueError: events: column step: 2.5 is not a whole number
    """
    for value in values:
        if isinstance(value, float | np.floating) and math.isfinite(value):
            if not float(value).is_integer():
                raise ValueError(f"{table}: column {col.name}: {value!r} is not a whole number")


def _direct_array(values: list, col: Column) -> pa.Array | None:
    """A column as Arrow in one call: what :func:`_clean` of each value and then ``pa.array``
    give (None, NaN and ``pd.NA`` are null in a nullable column, NaN stays NaN in a
    non-nullable float column, numpy scalars become Python values, integral floats ints),
    without a Python call per value. None when a value needs the general path (a type Arrow
    refuses without the conversions of that path, such as a number in a text column, or a
    missing value in a non-nullable column): that path then gives its value or its message."""
    try:
        array = pa.array(values, type=col.dtype, from_pandas=col.nullable)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    if not col.nullable and array.null_count:
        return None
    return array


def _to_table(rows: Any, columns: tuple[Column, ...], table: str) -> pa.Table:
    """Validate rows against a schema and build an Arrow table with exactly its types."""
    data = _as_columns(rows, table)
    known = {c.name for c in columns}
    n = len(next(iter(data.values()))) if data else 0
    missing = [c.name for c in columns if c.name not in data and not c.nullable]
    if missing and n:
        raise ValueError(f"{table}: rows lack the columns {', '.join(missing)}")
    arrays, fields_ = [], []
    for col in columns:
        raw = data.get(col.name, [None] * n)
        if col.dtype == pa.int64():
            _check_whole(raw, col, table)
        fast = None if col.name == "side" else _direct_array(raw, col)
        if fast is not None:
            arrays.append(fast)
            fields_.append(pa.field(col.name, col.dtype, nullable=col.nullable))
            continue
        values = [_clean(v, col) for v in raw]
        if col.name == "side":
            values = [_side_text(v) for v in values]
        if col.dtype == pa.string():
            values = [None if v is None else str(v) for v in values]
        if not col.nullable and any(v is None for v in values):
            raise ValueError(f"{table}: column {col.name} has missing values")
        try:
            arrays.append(pa.array(values, type=col.dtype))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise ValueError(f"{table}: column {col.name}: {exc}") from None
        fields_.append(pa.field(col.name, col.dtype, nullable=col.nullable))
    for name in sorted(set(data) - known):
        try:
            arrays.append(pa.array([_py(v) for v in data[name]], type=pa.float64()))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise ValueError(f"{table}: extra column {name} must be numeric: {exc}") from None
        fields_.append(pa.field(name, pa.float64()))
    if table == "steps" and n:
        check_step_rule({c.name: a.to_pylist() for c, a in zip(columns, arrays, strict=False)})
    if table == "positions" and n:
        bad = set(arrays[[c.name for c in columns].index("outcome")].to_pylist()) - set(
            POSITION_OUTCOMES
        )
        if bad:
            raise ValueError(f"positions: unknown outcome {sorted(bad)[0]!r}")
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields_))


def _empty_table(columns: tuple[Column, ...]) -> pa.Table:
    return pa.Table.from_arrays(
        [pa.array([], type=c.dtype) for c in columns],
        schema=pa.schema([pa.field(c.name, c.dtype, nullable=c.nullable) for c in columns]),
    )


def _concat(tables: list[pa.Table], columns: tuple[Column, ...]) -> pa.Table:
    if not tables:
        return _empty_table(columns)
    try:
        merged = pa.concat_tables(tables, promote_options="default")
    except pa.ArrowInvalid as exc:
        raise ValueError(f"rows do not share one schema: {exc}") from None
    return merged.combine_chunks()


def venue_total_row(
    market_rows: Sequence[Mapping[str, Any]],
    *,
    accounts_liquidated: int,
    venue: Mapping[str, Any],
) -> dict[str, Any]:
    """The venue-total (``market = "ALL"``) row of one step from its market rows: the one place
    the long-format rule is applied (the rule is in :mod:`simulator.results`, "steps.parquet").

    Parameters
    ----------
    market_rows : sequence of mappings
        The step's market rows (same ``step`` and ``timestamp_s``), in market order.
    accounts_liquidated : int
        Distinct accounts liquidated in the step over all markets (count).
    venue : mapping
        The :data:`VENUE_ONLY_STEP_COLUMNS` values (USD, count).

    Returns
    -------
    dict
        :data:`SUMMED_STEP_COLUMNS` summed over ``market_rows`` in their order,
        :data:`MARKET_ONLY_STEP_COLUMNS` null, ``venue``'s columns as given.

    Examples
    --------
    >>> rows = [{"step": 3, "timestamp_s": 180, "market": m, "oi_long_usd": oi}
    ...         for m, oi in (("BTC", 5.0), ("ETH", 2.0))]
    >>> row = venue_total_row(rows, accounts_liquidated=0, venue={"transactions": 4})
    >>> row["market"], row["oi_long_usd"], row["price_oracle_usd"], row["transactions"]
    ('ALL', 7.0, None, 4)
    """
    if not market_rows:
        raise ValueError("a venue-total row needs at least one market row")
    first = market_rows[0]
    row: dict[str, Any] = {"step": first["step"], "timestamp_s": first["timestamp_s"]}
    row["market"] = VENUE
    for name in MARKET_ONLY_STEP_COLUMNS:
        row[name] = None
    for name in SUMMED_STEP_COLUMNS:
        total = 0.0
        for r in market_rows:
            total += r.get(name) or 0.0
        row[name] = total
    row["accounts_liquidated"] = int(accounts_liquidated)
    for name in VENUE_ONLY_STEP_COLUMNS:
        row[name] = venue.get(name)
    return row


def venue_total_row_of(
    market_rows: Sequence[Mapping[str, Any]],
    sums: Sequence[float] | None,
    *,
    accounts_liquidated: int,
    venue: Mapping[str, Any],
) -> dict[str, Any]:
    """:func:`venue_total_row` with the sums made by the caller: ``sums`` holds
    :data:`SUMMED_STEP_COLUMNS`' sums over ``market_rows`` in that order (Python floats, each
    as :func:`venue_total_row` adds it: from 0.0, the rows in their order, a null as 0.0). The
    same row, keys in the same order."""
    if not market_rows:
        raise ValueError("a venue-total row needs at least one market row")
    first = market_rows[0]
    row: dict[str, Any] = {"step": first["step"], "timestamp_s": first["timestamp_s"]}
    row["market"] = VENUE
    row.update(_NULL_MARKET_ONLY)
    row.update(zip(SUMMED_STEP_COLUMNS, sums, strict=True))
    row["accounts_liquidated"] = int(accounts_liquidated)
    for name in VENUE_ONLY_STEP_COLUMNS:
        row[name] = venue.get(name)
    return row


_NULL_MARKET_ONLY = dict.fromkeys(MARKET_ONLY_STEP_COLUMNS)
""":data:`MARKET_ONLY_STEP_COLUMNS`, each null (the venue-total row's)."""


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def check_step_rule(columns: Mapping[str, Sequence[Any]]) -> None:
    """Refuse step rows that break the long-format rule: every step has exactly one venue-total
    row and at least one market row, no market twice; market-only columns are null on the
    venue-total row and venue-only columns null on market rows; the venue-total row's summed
    columns are the sums of its market rows (to 1e-9 relative) and its ``accounts_liquidated``
    at most their sum.

    Raises
    ------
    ValueError
        Naming the step and what is wrong.
    """
    steps, markets = columns["step"], columns["market"]
    by_step: dict[int, list[int]] = {}
    for i, step in enumerate(steps):
        by_step.setdefault(step, []).append(i)
    for step, rows in by_step.items():
        names = [markets[i] for i in rows]
        totals = [i for i in rows if markets[i] == VENUE]
        market_rows = [i for i in rows if markets[i] != VENUE]
        if len(totals) != 1 or not market_rows:
            raise ValueError(
                f"steps: step {step} needs one {VENUE!r} row and at least one market row "
                f"(got markets {names})"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"steps: step {step} lists a market twice ({names})")
        (total,) = totals
        for name in MARKET_ONLY_STEP_COLUMNS:
            if _present(columns[name][total]):
                raise ValueError(f"steps: step {step}: {name} is per market, null on {VENUE!r}")
        for name in VENUE_ONLY_STEP_COLUMNS:
            for i in market_rows:
                if _present(columns[name][i]):
                    raise ValueError(
                        f"steps: step {step}: {name} is venue-wide, null on market {markets[i]!r}"
                    )
        for name in SUMMED_STEP_COLUMNS:
            parts = sum(columns[name][i] for i in market_rows)
            got = columns[name][total]
            if math.isnan(got) and math.isnan(parts):
                continue
            if not math.isclose(got, parts, rel_tol=1e-9, abs_tol=1e-9):
                raise ValueError(
                    f"steps: step {step}: {VENUE!r} {name} is {got!r}, not the sum over its "
                    f"markets {parts!r}"
                )
        accounts = columns["accounts_liquidated"]
        if accounts[total] > sum(accounts[i] for i in market_rows):
            raise ValueError(
                f"steps: step {step}: {VENUE!r} accounts_liquidated {accounts[total]} exceeds "
                "the sum over its markets"
            )
