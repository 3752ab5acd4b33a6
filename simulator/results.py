"""The run folder: manifest, summary, step metrics, event log, positions, checkpoints.

A run folder holds::

    manifest.json      what ran: scenario, seed, versions, hashes, chain id, status
    summary.json       headline figures of the run (see "Summary" below)
    steps.parquet      one row per step
    events.parquet     one row per event (liquidation, backstop takeover, ADL fill, ...)
    positions.parquet  one row per position, with its liquidation price at open and outcome
    checkpoint.npz     engine state and the rows so far, while the run is not complete

Every file is written atomically (a temporary file in the same folder, fsync, ``os.replace``,
fsync of the folder), so a crash leaves either the old file or the new one, never a part.
``manifest.json`` carries ``"status"``: ``"running"`` while the engine works, ``"incomplete"``
after an error (with ``"incomplete_reason"``), ``"complete"`` only after every other file has
been written by :meth:`RunWriter.finish`. A killed run keeps status ``running``; both resume
from the last checkpoint (:meth:`RunWriter.resume`) and end with files identical to an
uninterrupted run's (``summary.json`` differs only in ``wall_seconds``). The manifest records
the writing process; a folder that a live process on this host is still writing is neither
resumed nor overwritten.

steps.parquet
-------------
One row per step (one step = one block). *Level* columns are the state at the end of the step;
*flow* columns are what happened during the step (sum them over steps for totals).

==============================  =======  =====  ===================================================
column                          type     unit   meaning
==============================  =======  =====  ===================================================
step                            int64    step   step index (0 = state after deployment, if written)
timestamp_s                     int64    s      simulated time since the start: step × step_seconds
price_exogenous_usd             float64  USD    exogenous price of the scenario's path (level)
price_oracle_usd                float64  USD    price the oracle holds after the step (level)
price_mark_usd                  float64  USD    mark price of the perp market (level)
price_amm_usd                   float64  USD    spot AMM price (level)
oi_long_usd                     float64  USD    long open interest at the oracle price (level)
oi_short_usd                    float64  USD    short open interest at the oracle price (level)
liquidated_notional_long_usd    float64  USD    notional of longs liquidated or taken over (flow)
liquidated_notional_short_usd   float64  USD    notional of shorts liquidated or taken over (flow)
accounts_liquidated             int64    count  accounts liquidated (partly or fully) or taken
                                                over by the backstop in the step (flow)
insurance_fund_usd              float64  USD    insurance fund balance (level)
backstop_equity_usd             float64  USD    backstop vault equity at the mark price (level)
backstop_share_price            float64  USD    backstop vault equity per LP share (level)
adl_haircut_usd                 float64  USD    profit taken from winners by ADL (flow)
adl_overshoot_usd               float64  USD    ADL haircuts minus the deficit they covered (flow)
bad_debt_usd                    float64  USD    change of uncovered bad debt: deficits the insurance
                                                fund could not pay, minus what ADL covered (flow;
                                                the sum is what is left uncovered)
funding_rate                    float64  1/h    funding rate in effect, fraction of notional per
                                                hour; positive: longs pay shorts (level)
fees_usd                        float64  USD    trading and liquidation fees collected (flow)
transactions                    int64    count  transactions sent in the step's block (flow)
==============================  =======  =====  ===================================================

Extra numeric columns are allowed; they are stored as float64 after these, sorted by name.

events.parquet
--------------
===============  =======  =====  ===========================================================
column           type     unit   meaning
===============  =======  =====  ===========================================================
step             int64    step   step of the event
kind             string   -      event kind, see below
account          string   -      account address (or trader id) concerned; null if none
side             string   -      ``long`` / ``short`` of the position concerned; null if none
size_base        float64  base   size closed, taken over or filled; null if none
price_usd        float64  USD    execution price (fill, takeover or ADL price); null if none
notional_usd     float64  USD    size × price; null if none
amount_usd       float64  USD    the kind's amount (see below); null if none
detail           string   -      free text (JSON or a short note); empty if none
===============  =======  =====  ===========================================================

Kinds (others may be added) and their ``amount_usd``: ``liquidation`` and
``partial_liquidation`` (penalty charged), ``backstop_takeover`` (margin taken over),
``adl_fill`` (haircut: profit taken from the winner), ``bad_debt`` (bad debt recorded),
``insurance_payout`` (paid by the insurance fund), ``socialized_loss`` (loss charged through
funding), ``top_up`` (margin added), ``close`` (realized PnL; ``detail`` says why:
take_profit / stop_loss / panic / end), ``lp_withdrawal`` (amount withdrawn),
``circuit_breaker`` (null), ``governance_submitted`` / ``governance_executed`` (null; ``detail``
names the parameter and value).

positions.parquet
-----------------
==============================  =======  =====  ===================================================
column                          type     unit   meaning
==============================  =======  =====  ===================================================
account                         string   -      account address (or trader id)
side                            string   -      ``long`` or ``short``
collateral_usd                  float64  USD    collateral posted at open (as the market credited it)
size_base                       float64  base   size at open, as the chain holds it (0 if refused)
entry_price_usd                 float64  USD    entry (fill) price on chain (NaN if refused)
leverage                        float64  x      notional at entry / collateral (NaN if refused)
liquidation_price_at_open_usd   float64  USD    the market's liquidation price at open (NaN if
                                                refused)
opened_step                     int64    step   step the position was opened
outcome                         string   -      open / closed / liquidated / backstopped / adl /
                                                refused (the venue reverted the open)
outcome_step                    int64    step   step of the outcome; null while open
realized_pnl_usd                float64  USD    realized PnL incl. fees and funding; null while open
==============================  =======  =====  ===================================================

Pandas reads a nullable int64 column holding nulls (``outcome_step``) as float64 with NaN.

Summary
-------
``summary.json`` (:func:`summarize`), in this order: ``traders``, ``steps``, ``transactions``
(sum of ``transactions``), ``wall_seconds``, ``liquidated_notional_usd`` (long + short),
``liquidated_notional_long_usd``, ``liquidated_notional_short_usd`` (sums of the step columns),
``liquidated_accounts`` (distinct accounts with a ``liquidation``, ``partial_liquidation`` or
``backstop_takeover`` event; the sum of ``accounts_liquidated`` when there is none),
``bad_debt_usd`` (sum), ``insurance_fund_drawdown_usd`` (largest fall of the fund from its running
peak), ``backstop_pnl_usd`` (``(share price end / share price start − 1) × equity start``: the
PnL of the starting LP capital), ``adl_haircut_usd``, ``adl_overshoot_usd`` (sums), ``start_price``
(the configured price at step 0: GBM ``start_price_usd``, a list's first price, a CSV's first
row; passed by the engine in ``meta``), ``exogenous_min_price`` (min of ``price_exogenous_usd``), ``min_price``
(min of ``price_oracle_usd``, what the protocol acted on), ``price_amplification``, ``fees_usd``
(sum). All money in USD.

``price_amplification = (start_price − min_price) / (start_price − exogenous_min_price)``: the
fall the protocol saw over the exogenous fall; 1 means forced selling added nothing, 1.5 means
the fall was half again as deep. It is ``null`` when the exogenous path never fell below its
start (no fall to amplify).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import math
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.errors import PerpsimError
from simulator.paths import PROJECT_ROOT

__all__ = [
    "ResultsError",
    "RunExistsError",
    "RunNotFoundError",
    "RunIncompleteError",
    "CheckpointError",
    "Column",
    "STEP_COLUMNS",
    "EVENT_COLUMNS",
    "POSITION_COLUMNS",
    "SUMMARY_KEYS",
    "NONDETERMINISTIC_SUMMARY_KEYS",
    "LIQUIDATION_EVENT_KINDS",
    "POSITION_OUTCOMES",
    "MANIFEST",
    "SUMMARY",
    "STEPS",
    "EVENTS",
    "POSITIONS",
    "CHECKPOINT",
    "Checkpoint",
    "RunWriter",
    "RunReader",
    "summarize",
    "deterministic_summary",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_parquet",
    "code_hash",
    "package_version",
]

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
STEPS = "steps.parquet"
EVENTS = "events.parquet"
POSITIONS = "positions.parquet"
CHECKPOINT = "checkpoint.npz"
_RUN_FILES = (MANIFEST, SUMMARY, STEPS, EVENTS, POSITIONS, CHECKPOINT)
_FORMAT = "perpsim-run/1"


class ResultsError(PerpsimError):
    """A run folder cannot be written or read."""


class RunExistsError(ResultsError):
    """The run folder already holds a run (complete, or incomplete and resumable)."""


class RunNotFoundError(ResultsError):
    """The folder is missing or is not a run folder."""


class RunIncompleteError(ResultsError):
    """The run folder holds a run that did not finish."""


class CheckpointError(ResultsError):
    """A checkpoint is missing, unreadable, or does not match the run."""


# ----------------------------------------------------------------------------------------------
# Schemas
# ----------------------------------------------------------------------------------------------


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

#: Columns of ``steps.parquet`` (documented in the module docstring).
STEP_COLUMNS: tuple[Column, ...] = _cols(
    """step:step timestamp_s:s price_exogenous_usd:USD price_oracle_usd:USD price_mark_usd:USD
    price_amm_usd:USD oi_long_usd:USD oi_short_usd:USD liquidated_notional_long_usd:USD
    liquidated_notional_short_usd:USD accounts_liquidated:count insurance_fund_usd:USD
    backstop_equity_usd:USD backstop_share_price:USD adl_haircut_usd:USD adl_overshoot_usd:USD
    bad_debt_usd:USD funding_rate:1/h fees_usd:USD transactions:count""",
    {"step": _I, "timestamp_s": _I, "accounts_liquidated": _I, "transactions": _I},
)
#: Columns of ``events.parquet``.
EVENT_COLUMNS: tuple[Column, ...] = _cols(
    """step:step kind:- account:- side:- size_base:base price_usd:USD notional_usd:USD
    amount_usd:USD detail:-""",
    {"step": _I, "kind": _S, "account": _S, "side": _S, "detail": _S},
    nullable=("account", "side", "size_base", "price_usd", "notional_usd", "amount_usd", "detail"),
)
#: Columns of ``positions.parquet``.
POSITION_COLUMNS: tuple[Column, ...] = _cols(
    """account:- side:- collateral_usd:USD size_base:base entry_price_usd:USD leverage:x
    liquidation_price_at_open_usd:USD opened_step:step outcome:- outcome_step:step
    realized_pnl_usd:USD""",
    {"account": _S, "side": _S, "opened_step": _I, "outcome": _S, "outcome_step": _I},
    nullable=("outcome_step", "realized_pnl_usd"),
)

#: Event kinds that count an account as liquidated in the summary.
LIQUIDATION_EVENT_KINDS = ("liquidation", "partial_liquidation", "backstop_takeover")
#: Allowed values of ``positions.outcome``.
POSITION_OUTCOMES = ("open", "closed", "liquidated", "backstopped", "adl", "refused")
#: Keys of ``summary.json``, in order.
SUMMARY_KEYS = (
    "traders",
    "steps",
    "transactions",
    "wall_seconds",
    "liquidated_notional_usd",
    "liquidated_notional_long_usd",
    "liquidated_notional_short_usd",
    "liquidated_accounts",
    "bad_debt_usd",
    "insurance_fund_drawdown_usd",
    "backstop_pnl_usd",
    "adl_haircut_usd",
    "adl_overshoot_usd",
    "start_price",
    "exogenous_min_price",
    "min_price",
    "price_amplification",
    "fees_usd",
)
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
        values = [_clean(v, col) for v in data.get(col.name, [None] * n)]
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


# ----------------------------------------------------------------------------------------------
# Atomic writes
# ----------------------------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, replace.

    Raises
    ------
    ResultsError
        The file cannot be written (permissions, disk full, ...); ``path`` is unchanged.
    """
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ResultsError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically; numpy scalars become numbers, NaN and infinities ``null``."""
    text = json.dumps(_jsonable(data), indent=2, allow_nan=False, ensure_ascii=False)
    atomic_write_text(path, text + "\n")


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()


def atomic_write_parquet(path: str | Path, table: pa.Table | pd.DataFrame) -> None:
    """Write a Parquet file atomically (a DataFrame is written without its index)."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    atomic_write_bytes(path, _parquet_bytes(table))


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _read_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


# ----------------------------------------------------------------------------------------------
# Provenance
# ----------------------------------------------------------------------------------------------


def package_version() -> str:
    """Installed version of the ``perpsim`` package, or ``"unknown"``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("perpsim")
    except PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """Identity of the code that runs: ``git:<HEAD>`` (``+dirty`` when ``simulator/`` or
    ``contracts/`` have uncommitted changes), else ``sha256:<hash of simulator/ sources>``."""
    try:
        head = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--", "simulator",
             "contracts"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        if head:
            return f"git:{head}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        pass
    digest = hashlib.sha256()
    root = PROJECT_ROOT / "simulator"
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return f"sha256:{digest.hexdigest()}"


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ----------------------------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------------------------


def _col_sum(frame: pd.DataFrame, name: str) -> float:
    return float(frame[name].sum()) if name in frame and len(frame) else 0.0


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
        The run's tables (columns as documented; ``positions_df`` is not used yet but is part
        of the signature so figures can come from it later).
    meta : mapping
        ``traders`` (int), ``steps`` (int) and ``wall_seconds`` (float) are required. A value
        for any other summary key replaces the computed one (for figures the engine knows
        better, e.g. ``backstop_pnl_usd`` when LPs deposited or withdrew during the run).
        ``start_price`` (USD) is the configured price at step 0, which ``steps.parquet`` does
        not hold (its first row is step 1's); it is also the start of
        ``price_amplification``. Without it, the first row's exogenous price stands in.

    Returns
    -------
    dict
        Keys :data:`SUMMARY_KEYS` in that order (plus any extra keys of ``meta`` after them,
        except ``traders``/``steps``/``wall_seconds`` which are in the list). Money in USD;
        ``price_amplification`` and the prices are ``None`` for a run with no steps.

    Examples
    --------
    >>> steps = pd.DataFrame({"step": [1, 2], "price_exogenous_usd": [90.0, 95],
    ...                       "price_oracle_usd": [85.0, 95]})
    >>> s = summarize(steps, pd.DataFrame(), pd.DataFrame(),
    ...               {"traders": 1, "steps": 2, "wall_seconds": 0.1, "start_price": 100.0})
    >>> s["start_price"], s["price_amplification"]
    (100.0, 1.5)
    """
    for key in ("traders", "steps", "wall_seconds"):
        if key not in meta:
            raise ValueError(f"summarize: meta lacks {key!r}")
    steps_df = steps_df.sort_values("step") if "step" in steps_df else steps_df
    long_usd = _col_sum(steps_df, "liquidated_notional_long_usd")
    short_usd = _col_sum(steps_df, "liquidated_notional_short_usd")

    if len(events_df) and "kind" in events_df:
        liq = events_df[events_df["kind"].isin(LIQUIDATION_EVENT_KINDS)]
    else:
        liq = pd.DataFrame()
    if len(liq):
        liquidated_accounts = int(liq["account"].dropna().nunique())
    else:
        liquidated_accounts = int(_col_sum(steps_df, "accounts_liquidated"))

    drawdown = 0.0
    if "insurance_fund_usd" in steps_df and len(steps_df):
        fund = steps_df["insurance_fund_usd"].to_numpy(dtype=float)
        drawdown = float(np.max(np.maximum.accumulate(fund) - fund))

    backstop_pnl = 0.0
    if {"backstop_equity_usd", "backstop_share_price"} <= set(steps_df) and len(steps_df):
        equity0 = float(steps_df["backstop_equity_usd"].iloc[0])
        share0 = float(steps_df["backstop_share_price"].iloc[0])
        share1 = float(steps_df["backstop_share_price"].iloc[-1])
        if equity0 > 0 and share0 > 0:
            backstop_pnl = (share1 / share0 - 1.0) * equity0

    start = exo_min = seen_min = amplification = None
    if meta.get("start_price") is not None:
        start = float(meta["start_price"])
    if len(steps_df) and "price_exogenous_usd" in steps_df:
        if start is None:
            start = float(steps_df["price_exogenous_usd"].iloc[0])
        exo_min = float(steps_df["price_exogenous_usd"].min())
        oracle = steps_df["price_oracle_usd"] if "price_oracle_usd" in steps_df else None
        seen_min = float(oracle.min()) if oracle is not None else exo_min
        exogenous_fall = start - exo_min
        if exogenous_fall > 1e-12 * max(abs(start), 1.0):
            amplification = (start - seen_min) / exogenous_fall

    summary: dict[str, Any] = {
        "traders": int(meta["traders"]),
        "steps": int(meta["steps"]),
        "transactions": int(_col_sum(steps_df, "transactions")),
        "wall_seconds": float(meta["wall_seconds"]),
        "liquidated_notional_usd": long_usd + short_usd,
        "liquidated_notional_long_usd": long_usd,
        "liquidated_notional_short_usd": short_usd,
        "liquidated_accounts": liquidated_accounts,
        "bad_debt_usd": _col_sum(steps_df, "bad_debt_usd"),
        "insurance_fund_drawdown_usd": drawdown,
        "backstop_pnl_usd": backstop_pnl,
        "adl_haircut_usd": _col_sum(steps_df, "adl_haircut_usd"),
        "adl_overshoot_usd": _col_sum(steps_df, "adl_overshoot_usd"),
        "start_price": start,
        "exogenous_min_price": exo_min,
        "min_price": seen_min,
        "price_amplification": amplification,
        "fees_usd": _col_sum(steps_df, "fees_usd"),
    }
    for key, value in meta.items():
        summary[key] = _jsonable(value)
    return summary


def deterministic_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary without the keys that vary between identical runs (``wall_seconds``)."""
    return {k: v for k, v in summary.items() if k not in NONDETERMINISTIC_SUMMARY_KEYS}


# ----------------------------------------------------------------------------------------------
# Writer
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """Engine state saved at the end of a step."""

    step: int
    """Last step whose rows are included."""
    state: dict[str, np.ndarray]
    """Engine arrays (numeric or bool, no objects)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """JSON-able engine data (chain snapshot ids, counters, elapsed wall seconds, ...)."""


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: unreadable manifest: {exc}") from None
    if not isinstance(data, dict) or "status" not in data:
        raise ResultsError(f"{path}: not a perpsim run manifest (no status)")
    return data


def _writer_identity() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _live_writer(manifest: Mapping[str, Any]) -> int | None:
    """PID of another live process on this host that is writing the run, if any."""
    writer = manifest.get("writer") or {}
    pid = writer.get("pid")
    if manifest.get("status") != "running" or not isinstance(pid, int) or pid == os.getpid():
        return None
    if writer.get("host") != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _refuse_live_writer(folder: Path, manifest: Mapping[str, Any] | None) -> None:
    pid = _live_writer(manifest) if manifest is not None else None
    if pid is not None:
        raise RunExistsError(f"run folder {folder} is still being written by process {pid}")


def _remove_stale_temp_files(folder: Path) -> None:
    for tmp in folder.glob(".*.tmp-*"):
        with contextlib.suppress(OSError):
            tmp.unlink()


class RunWriter:
    """Writes one run folder: manifest first, rows as they come, checkpoints, then results.

    Parameters
    ----------
    run_dir : str or Path
        Folder of the run (created if missing).
    scenario : Scenario or mapping
        The scenario that runs (stored in the manifest with its fingerprint).
    seed : int, optional
        Seed of the run (default: the scenario's).
    chain_id : int, optional
        EIP-155 chain id of the node.
    bytecode_hashes : mapping, optional
        ``{contract name: hex hash of its deployed bytecode}``.
    extra : mapping, optional
        More JSON-able manifest entries (node URL, fork block, ...).
    overwrite : bool
        Replace the run files of a folder that already holds a run.

    Raises
    ------
    RunExistsError
        The folder holds a complete run, or an incomplete one (resume it instead), or other
        files, and ``overwrite`` is false.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "run"
    >>> with RunWriter(folder, scenario={"name": "demo"}, seed=1) as w:
    ...     w.add_step({c.name: 0 for c in STEP_COLUMNS})
    ...     _ = w.finish([], meta={"traders": 0, "steps": 1, "wall_seconds": 0.0})
    >>> RunReader(folder).status
    'complete'
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        scenario: Any,
        seed: int | None = None,
        chain_id: int | None = None,
        bytecode_hashes: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ):
        self.run_dir = Path(run_dir)
        self._prepare_folder(overwrite)
        scenario_dict, fingerprint, name, scenario_seed = _scenario_facts(scenario)
        now = _utc_now()
        self._manifest: dict[str, Any] = {
            "format": _FORMAT,
            "status": "running",
            "created_utc": now,
            "updated_utc": now,
            "scenario_name": name,
            "scenario_fingerprint": fingerprint,
            "seed": seed if seed is not None else scenario_seed,
            "package_version": package_version(),
            "code_hash": code_hash(),
            "bytecode_hashes": dict(bytecode_hashes or {}),
            "chain_id": chain_id,
            "checkpoint_step": None,
            "resumed_from_steps": [],
            "incomplete_reason": None,
            "writer": _writer_identity(),
            "extra": dict(extra or {}),
            "scenario": scenario_dict,
        }
        self._steps: list[pa.Table] = []
        self._events: list[pa.Table] = []
        self._finished = False
        self._checkpoint: Checkpoint | None = None
        self._write_manifest()

    # -- construction ---------------------------------------------------------------------

    def _prepare_folder(self, overwrite: bool) -> None:
        folder = self.run_dir
        if folder.exists() and not folder.is_dir():
            raise RunExistsError(f"{folder} exists and is not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"cannot create run folder {folder}: {exc.strerror}") from None
        manifest = _read_manifest(folder)
        _refuse_live_writer(folder, manifest)
        _remove_stale_temp_files(folder)
        if not overwrite:
            if manifest is not None and manifest["status"] == "complete":
                raise RunExistsError(
                    f"run folder {folder} already holds a complete run; choose another "
                    "output folder or overwrite it"
                )
            if manifest is not None:
                step = manifest.get("checkpoint_step")
                at = f" (last checkpoint at step {step})" if step is not None else ""
                raise RunExistsError(
                    f"run folder {folder} holds an unfinished run{at}; resume it with "
                    f"--resume {folder} or overwrite it"
                )
            if any(folder.iterdir()):
                raise RunExistsError(f"{folder} is not empty and is not a run folder")
        for name in _RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        *,
        chain_id: int | None = None,
        bytecode_hashes: Mapping[str, str] | None = None,
    ) -> RunWriter:
        """Reopen an unfinished run folder at its last checkpoint.

        The rows saved with the checkpoint are restored; rows written after it are dropped (the
        engine recomputes them). :attr:`checkpoint` is the checkpoint to restart from, or
        ``None`` when the run died before its first one (restart from step 0).

        Raises
        ------
        RunNotFoundError
            No run folder there.
        RunExistsError
            The run is complete: nothing to resume.
        CheckpointError
            The bytecode hashes differ from the manifest's, or the checkpoint is unreadable.
        """
        folder = Path(run_dir)
        manifest = _read_manifest(folder) if folder.is_dir() else None
        if manifest is None:
            raise RunNotFoundError(f"cannot resume {folder}: not a run folder (no {MANIFEST})")
        if manifest["status"] == "complete":
            raise RunExistsError(f"cannot resume {folder}: the run is already complete")
        _refuse_live_writer(folder, manifest)
        recorded = manifest.get("bytecode_hashes") or {}
        if bytecode_hashes is not None and recorded and dict(bytecode_hashes) != recorded:
            changed = sorted(
                k for k in set(recorded) | set(bytecode_hashes)
                if recorded.get(k) != bytecode_hashes.get(k)
            )  # fmt: skip
            raise CheckpointError(
                f"cannot resume {folder}: contract bytecode changed since the run started "
                f"({', '.join(changed)})"
            )
        _remove_stale_temp_files(folder)
        self = cls.__new__(cls)
        self.run_dir = folder
        self._manifest = manifest
        self._steps, self._events = [], []
        self._finished = False
        self._checkpoint = self.load_checkpoint()
        if self._checkpoint is not None:
            manifest["resumed_from_steps"] = [
                *manifest.get("resumed_from_steps", []),
                self._checkpoint.step,
            ]
        else:
            manifest["resumed_from_steps"] = [*manifest.get("resumed_from_steps", []), None]
        if chain_id is not None:
            manifest["chain_id"] = chain_id
        if bytecode_hashes is not None and not recorded:
            manifest["bytecode_hashes"] = dict(bytecode_hashes)
        manifest["status"] = "running"
        manifest["incomplete_reason"] = None
        manifest["writer"] = _writer_identity()
        manifest["resumed_code_hash"] = code_hash()
        self._write_manifest()
        return self

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and not self._finished:
            if isinstance(exc, KeyboardInterrupt):
                reason = "interrupted"
            elif isinstance(exc, SystemExit):
                reason = f"the process was stopped (exit status {exc.code})"
            else:
                reason = str(exc)
            with contextlib.suppress(ResultsError):
                self.mark_incomplete(reason or type(exc).__name__)

    # -- properties -----------------------------------------------------------------------

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the manifest as last written."""
        return json.loads(json.dumps(_jsonable(self._manifest)))

    @property
    def checkpoint(self) -> Checkpoint | None:
        """Checkpoint the run resumed from (``None`` for a fresh run or no checkpoint)."""
        return self._checkpoint

    @property
    def steps_written(self) -> int:
        """Number of step rows held so far."""
        return sum(t.num_rows for t in self._steps)

    # -- rows -----------------------------------------------------------------------------

    def add_step(self, row: Mapping[str, Any]) -> None:
        """Append one step row (all of :data:`STEP_COLUMNS`; extra numeric columns allowed)."""
        self._add(self._steps, row, STEP_COLUMNS, "steps")

    def add_steps(self, rows: Any) -> None:
        """Append several step rows (list of mappings, DataFrame, or mapping of columns)."""
        self._add(self._steps, rows, STEP_COLUMNS, "steps")

    def add_events(self, rows: Any) -> None:
        """Append event rows (list of mappings, DataFrame, or mapping of columns)."""
        self._add(self._events, rows, EVENT_COLUMNS, "events")

    def _add(self, buffer: list[pa.Table], rows: Any, columns, name: str) -> None:
        if self._finished:
            raise ResultsError(f"run {self.run_dir} is already finished")
        table = _to_table(rows, columns, name)
        if table.num_rows:
            buffer.append(table)

    def steps_table(self) -> pa.Table:
        """Step rows so far, as one Arrow table."""
        return _concat(self._steps, STEP_COLUMNS)

    def events_table(self) -> pa.Table:
        """Event rows so far, as one Arrow table."""
        return _concat(self._events, EVENT_COLUMNS)

    # -- checkpoints ----------------------------------------------------------------------

    def write_checkpoint(
        self, step: int, state: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None
    ) -> None:
        """Save the engine state at the end of ``step`` with all rows so far, atomically.

        Parameters
        ----------
        step : int
            Last step whose rows have been added.
        state : mapping of str to numpy.ndarray
            Engine arrays (numeric or bool; object arrays are refused).
        meta : mapping, optional
            JSON-able engine data needed to resume.
        """
        steps, events = self.steps_table(), self.events_table()
        if steps.num_rows and max(steps.column("step").to_pylist()) > step:
            raise ValueError(f"checkpoint at step {step} but rows up to a later step were added")
        payload: dict[str, np.ndarray] = {}
        for key, array in state.items():
            array = np.asarray(array)
            if array.dtype == object:
                raise ValueError(f"checkpoint state {key!r} is an object array")
            payload[f"state/{key}"] = array
        header = {"format": _FORMAT, "step": int(step), "meta": _jsonable(dict(meta or {}))}
        payload["_header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        payload["_steps"] = np.frombuffer(_ipc_bytes(steps), dtype=np.uint8)
        payload["_events"] = np.frombuffer(_ipc_bytes(events), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **payload)
        atomic_write_bytes(self.run_dir / CHECKPOINT, buffer.getvalue())
        self._manifest["checkpoint_step"] = int(step)
        self._write_manifest()

    def load_checkpoint(self) -> Checkpoint | None:
        """Read the last checkpoint and restore the rows saved with it (``None`` if none).

        Raises
        ------
        CheckpointError
            The checkpoint file is unreadable.
        """
        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                header = json.loads(archive["_header"].tobytes().decode())
                steps = _read_ipc(archive["_steps"].tobytes())
                events = _read_ipc(archive["_events"].tobytes())
                state = {
                    key.removeprefix("state/"): archive[key]
                    for key in archive.files
                    if key.startswith("state/")
                }
        except (OSError, ValueError, KeyError, json.JSONDecodeError, pa.ArrowException) as exc:
            raise CheckpointError(f"{path}: unreadable checkpoint: {exc}") from None
        self._steps = [steps] if steps.num_rows else []
        self._events = [events] if events.num_rows else []
        return Checkpoint(step=int(header["step"]), state=state, meta=header.get("meta", {}))

    # -- ending ---------------------------------------------------------------------------

    def mark_incomplete(self, reason: str) -> None:
        """Record that the run stopped early (one-line ``reason``); it stays resumable."""
        self._manifest["status"] = "incomplete"
        self._manifest["incomplete_reason"] = " ".join(str(reason).split())
        self._write_manifest()

    def finish(
        self,
        positions: Any,
        summary: Mapping[str, Any] | None = None,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the tables and the summary, then mark the run complete.

        Parameters
        ----------
        positions : list of mappings, DataFrame or mapping of columns
            Every position (:data:`POSITION_COLUMNS`).
        summary : mapping, optional
            The summary to write; computed with :func:`summarize` from the tables and ``meta``
            when omitted.
        meta : mapping, optional
            Passed to :func:`summarize` (needs ``traders``, ``steps``, ``wall_seconds``).

        Returns
        -------
        dict
            The summary written.
        """
        steps, events = self.steps_table(), self.events_table()
        positions_table = _to_table(positions, POSITION_COLUMNS, "positions")
        if summary is None:
            if meta is None:
                raise ValueError("finish needs a summary or the meta to compute it")
            summary = summarize(
                steps.to_pandas(), events.to_pandas(), positions_table.to_pandas(), meta
            )
        atomic_write_parquet(self.run_dir / STEPS, steps)
        atomic_write_parquet(self.run_dir / EVENTS, events)
        atomic_write_parquet(self.run_dir / POSITIONS, positions_table)
        atomic_write_json(self.run_dir / SUMMARY, summary)
        self._manifest["status"] = "complete"
        self._manifest["incomplete_reason"] = None
        self._manifest["finished_utc"] = _utc_now()
        self._write_manifest()
        self._finished = True
        with contextlib.suppress(FileNotFoundError):
            (self.run_dir / CHECKPOINT).unlink()
        return dict(summary)

    def _write_manifest(self) -> None:
        self._manifest["updated_utc"] = _utc_now()
        atomic_write_json(self.run_dir / MANIFEST, self._manifest)


def _scenario_facts(scenario: Any) -> tuple[dict[str, Any], str | None, str | None, int | None]:
    """(dict, fingerprint, name, seed) of a Scenario model or a plain mapping."""
    if hasattr(scenario, "fingerprint") and hasattr(scenario, "to_dict"):
        return scenario.to_dict(), scenario.fingerprint(), scenario.name, scenario.seed
    if isinstance(scenario, Mapping):
        data = _jsonable(dict(scenario))
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return data, hashlib.sha256(text.encode()).hexdigest(), data.get("name"), data.get("seed")
    raise TypeError(f"scenario must be a Scenario or a mapping (got {type(scenario).__name__})")


# ----------------------------------------------------------------------------------------------
# Reader
# ----------------------------------------------------------------------------------------------


class RunReader:
    """Reads a run folder back (tables as pandas DataFrames, loaded on first use).

    Parameters
    ----------
    run_dir : str or Path
        The run folder.
    require_complete : bool
        Refuse a run whose manifest is not ``complete`` (default), so a half-written result
        is never taken for a finished one.

    Raises
    ------
    RunNotFoundError
        No folder or no manifest there.
    RunIncompleteError
        The run did not finish and ``require_complete`` is true.
    """

    def __init__(self, run_dir: str | Path, *, require_complete: bool = True):
        self.run_dir = Path(run_dir)
        if not self.run_dir.is_dir():
            raise RunNotFoundError(f"run folder not found: {self.run_dir}")
        manifest = _read_manifest(self.run_dir)
        if manifest is None:
            raise RunNotFoundError(f"{self.run_dir} is not a run folder (no {MANIFEST})")
        self.manifest: dict[str, Any] = manifest
        if require_complete and manifest["status"] != "complete":
            step = manifest.get("checkpoint_step")
            at = f", last checkpoint at step {step}" if step is not None else ""
            raise RunIncompleteError(
                f"run {self.run_dir} is not complete (status {manifest['status']}{at}); "
                f"resume it with --resume {self.run_dir}"
            )
        self._cache: dict[str, Any] = {}

    @property
    def status(self) -> str:
        """``running``, ``incomplete`` or ``complete``."""
        return str(self.manifest["status"])

    @property
    def complete(self) -> bool:
        """True when the run finished and every file was written."""
        return self.status == "complete"

    @property
    def scenario(self) -> dict[str, Any]:
        """The scenario as stored in the manifest (plain data)."""
        return self.manifest.get("scenario", {})

    def _table(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            path = self.run_dir / name
            if not path.is_file():
                raise RunNotFoundError(f"{path} is missing")
            try:
                self._cache[name] = pq.read_table(path).to_pandas()
            except (OSError, pa.ArrowException) as exc:
                raise ResultsError(f"{path}: unreadable Parquet file: {exc}") from None
        return self._cache[name]

    @property
    def summary(self) -> dict[str, Any]:
        """``summary.json``."""
        if SUMMARY not in self._cache:
            path = self.run_dir / SUMMARY
            try:
                self._cache[SUMMARY] = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise RunNotFoundError(f"{path} is missing") from None
            except (OSError, json.JSONDecodeError) as exc:
                raise ResultsError(f"{path}: unreadable summary: {exc}") from None
        return self._cache[SUMMARY]

    @property
    def steps(self) -> pd.DataFrame:
        """``steps.parquet``."""
        return self._table(STEPS)

    @property
    def events(self) -> pd.DataFrame:
        """``events.parquet``."""
        return self._table(EVENTS)

    @property
    def positions(self) -> pd.DataFrame:
        """``positions.parquet``."""
        return self._table(POSITIONS)
