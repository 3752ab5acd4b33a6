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

Reuse
-----
A run folder is reused (read as finished, or resumed) only if it holds the same run: the same
scenario fingerprint, the same :func:`code_hash` (the package's sources) and the same contract
bytecode hashes. :func:`check_same_run` is that one check; a mismatch raises
:class:`RunMismatchError` naming what differs (the first differing scenario key with both
values, the code hash, the contracts) and the way out. :meth:`RunWriter.resume` also refuses,
before it touches the folder, a manifest without its scenario or whose scenario no longer
matches its recorded fingerprint (edited), a checkpoint that is unreadable or truncated, and a
checkpoint that the manifest records but that is gone. A fresh run that fails before its first
step removes the folder it created (nothing in it is worth resuming), so the corrected command
is not blocked by it.

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
import zipfile
import zlib
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
    "RunMismatchError",
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
    "git_commit",
    "check_same_run",
    "recorded_scenario",
    "read_manifest",
    "refuse_live_writer",
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


class RunMismatchError(ResultsError):
    """A run folder holds another run than the one asked for (scenario, code or contracts
    differ), or its manifest no longer matches itself (scenario missing or edited)."""


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


_PACKAGE_ROOT = Path(__file__).resolve().parent
_SOURCE_SUFFIXES = (".py", ".yaml")


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """Identity of the code that runs: ``sha256:<hex>`` of the package's sources.

    Every ``simulator/**/*.py`` and ``simulator/**/*.yaml`` file (code, venue presets, scenario
    presets), sorted by path relative to the package, each hashed as its relative path, its
    length in bytes and its bytes. Only an edit of those files changes it: a commit that touches
    the README does not, an edited library file does. Contracts are identified separately by
    their bytecode hashes; the git commit is recorded beside it as :func:`git_commit`.

    Examples
    --------
    >>> code_hash().startswith("sha256:") and len(code_hash()) == 7 + 64
    True
    """
    files = sorted(
        (path.relative_to(_PACKAGE_ROOT).as_posix(), path)
        for path in _PACKAGE_ROOT.rglob("*")
        if path.suffix in _SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file()
    )
    digest = hashlib.sha256()
    for relative, path in files:
        data = path.read_bytes()
        digest.update(f"{relative}\0{len(data)}\0".encode() + data)
    return f"sha256:{digest.hexdigest()}"


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The checkout's ``HEAD`` commit, with ``+dirty`` when ``simulator/`` or ``contracts/``
    have uncommitted changes; ``None`` outside a git checkout. Informational only: reuse checks
    use :func:`code_hash` and the bytecode hashes."""
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
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}{'+dirty' if dirty else ''}" if head else None


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
        ``bad_debt_usd`` (USD), when given, is the bad debt left uncovered at the end as the
        chain's ledger holds it (exact: 0 when ADL covered everything); without it, the sum
        of the step column stands in (a sum of float differences, off by about 1e-11 USD
        where it should be 0).

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
        "bad_debt_usd": (
            float(meta["bad_debt_usd"])
            if meta.get("bad_debt_usd") is not None
            else _col_sum(steps_df, "bad_debt_usd")
        ),
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
# Reuse checks
# ----------------------------------------------------------------------------------------------

#: How :func:`check_same_run` ends its message unless told otherwise.
DEFAULT_WAY_OUT = "use --overwrite to replace it, or another --out"
_ABSENT = object()


def _value_text(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(_jsonable(value), separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_difference(old: Any, new: Any, key: str = "") -> tuple[str, Any, Any] | None:
    """The first dotted key (``a.b[2].c``) where two scenario dicts differ, with both values.

    ``name`` and ``description`` are skipped at the top level: they are not part of what a
    scenario simulates (nor of its fingerprint)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for k in [*old, *(k for k in new if k not in old)]:
            if not key and k in ("name", "description"):
                continue
            sub = f"{key}.{k}" if key else str(k)
            if k not in old or k not in new:
                return sub, old.get(k, _ABSENT), new.get(k, _ABSENT)
            found = _first_difference(old[k], new[k], sub)
            if found is not None:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found = _first_difference(a, b, f"{key}[{i}]")
            if found is not None:
                return found
        return None
    same = old == new and type(old) is type(new)
    return None if same else (key or "(the scenario)", old, new)


def _short(digest: Any) -> str:
    text = str(digest)
    return text if len(text) <= 19 else text[:19] + "..."


def check_same_run(
    manifest: Mapping[str, Any],
    scenario: Any,
    code_hash: str | None,
    bytecode_hashes: Mapping[str, str] | None,
    *,
    prefix: str = "the run folder holds a different run",
    way_out: str = DEFAULT_WAY_OUT,
) -> None:
    """Refuse to reuse a run folder that holds another run than the one asked for.

    The one reuse check of run folders: compare's finished runs, ``perpsim run --resume`` and
    compare's resume, and the app's cache all call it. Stable signature.

    Parameters
    ----------
    manifest : mapping
        The folder's ``manifest.json``.
    scenario : Scenario or mapping
        The scenario asked for; its fingerprint must equal ``manifest["scenario_fingerprint"]``.
    code_hash : str or None
        :func:`code_hash` of the code that would run (``None``: not checked).
    bytecode_hashes : mapping or None
        ``{contract: hash}`` of the contracts that would run (``None``: not checked).
    prefix : str
        How the message starts, e.g. ``"runs/x holds a different run"``.
    way_out : str
        How the message ends: what the user can do instead.

    Raises
    ------
    RunMismatchError
        One line naming every kind of difference: the first differing scenario key with both
        values (``traders.count: 20 -> 30``), the code hashes, the contracts whose bytecode
        differs.

    Examples
    --------
    >>> m = {"scenario": {"seed": 1, "steps": 20}, "code_hash": "sha256:1"}
    >>> m["scenario_fingerprint"] = _scenario_facts(m["scenario"])[1]
    >>> check_same_run(m, {"seed": 1, "steps": 20}, "sha256:1", None)  # same run: no error
    >>> check_same_run(m, {"seed": 1, "steps": 30}, "sha256:1", None)
    Traceback (most recent call last):
    ...
    simulator.results.RunMismatchError: the run folder holds a different run: scenario steps: ...
    """
    differences = []
    data, fingerprint, _, _ = _scenario_facts(scenario)
    if manifest.get("scenario_fingerprint") != fingerprint:
        recorded = manifest.get("scenario")
        found = _first_difference(recorded, data) if isinstance(recorded, Mapping) else None
        if not isinstance(recorded, Mapping):
            differences.append("its manifest records no scenario")
        elif found is None:
            differences.append(
                "same scenario settings but another fingerprint (a data file it reads changed, "
                "or the manifest was edited)"
            )
        else:
            key, old, new = found
            differences.append(f"scenario {key}: {_value_text(old)} -> {_value_text(new)}")
    recorded_code = manifest.get("code_hash")
    if code_hash is not None and recorded_code != code_hash:
        differences.append(
            f"the code changed (code hash {_short(recorded_code)} -> {_short(code_hash)})"
        )
    if bytecode_hashes is not None:
        recorded_bytecode = manifest.get("bytecode_hashes") or {}
        changed = sorted(
            k for k in set(recorded_bytecode) | set(bytecode_hashes)
            if recorded_bytecode.get(k) != bytecode_hashes.get(k)
        )  # fmt: skip
        if changed:
            more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            differences.append(f"contract bytecode changed ({', '.join(changed[:5])}{more})")
    if differences:
        raise RunMismatchError(f"{prefix}: {'; '.join(differences)}; {way_out}")


def recorded_scenario(manifest: Mapping[str, Any], *, where: str | Path = "run folder") -> Any:
    """The scenario a manifest records, checked against the fingerprint it records beside it.

    Returns a :class:`~simulator.scenario.Scenario` for a run of the engine, or the plain mapping
    for a run written with a plain-mapping scenario (as the tests' toy engine does).

    Raises
    ------
    RunMismatchError
        The manifest has no scenario, its scenario does not validate, or it no longer matches
        the recorded fingerprint (edited after the run started, or a data file it reads
        changed or is gone).
    """
    data = manifest.get("scenario")
    way_out = "start the run again with --overwrite"
    if not isinstance(data, Mapping) or not data:
        raise RunMismatchError(f"{where}: its manifest records no scenario; {way_out}")
    recorded = manifest.get("scenario_fingerprint")
    if _scenario_facts(data)[1] == recorded:
        return dict(data)
    from simulator.scenario import parse_scenario

    try:
        scenario = parse_scenario(data, label="the scenario in its manifest")
        fingerprint = scenario.fingerprint()
    except PerpsimError as exc:
        raise RunMismatchError(
            f"{where}: the scenario in its manifest does not match the recorded fingerprint and "
            f"does not validate ({exc}); {way_out}"
        ) from None
    if fingerprint != recorded:
        raise RunMismatchError(
            f"{where}: the scenario in its manifest does not match the recorded fingerprint "
            f"(the manifest was edited, or a data file the scenario reads changed); {way_out}"
        )
    return scenario


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


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The folder's ``manifest.json`` (``None`` if it has none).

    Raises
    ------
    ResultsError
        The manifest is unreadable or is not a perpsim run manifest.
    """
    return _read_manifest(Path(folder))


def refuse_live_writer(folder: str | Path, manifest: Mapping[str, Any] | None) -> None:
    """Raise :class:`RunExistsError` if a live process on this host is writing the run."""
    _refuse_live_writer(Path(folder), manifest)


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


def _is_temp_file(path: Path) -> bool:
    return path.name.startswith(".") and ".tmp-" in path.name


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
        self._created, self._was_empty = self._prepare_folder(overwrite)
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
            "git_commit": git_commit(),
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
        self._resumed = False
        self._wrote_rows = False
        self._checkpoint: Checkpoint | None = None
        self._scenario: Any = scenario
        try:
            self._write_manifest()
        except BaseException:
            self._discard()
            raise

    # -- construction ---------------------------------------------------------------------

    @staticmethod
    def check_folder(run_dir: str | Path, *, overwrite: bool = False) -> None:
        """Check, without creating or changing anything, that a new run may be written into
        ``run_dir`` (call it before starting a node, so a refusal costs nothing).

        Raises
        ------
        RunExistsError
            ``run_dir`` is a file; holds a complete or unfinished run (without ``overwrite``),
            a run another live process is writing, or other files (with or without
            ``overwrite``: only run folders are replaced).
        ResultsError
            The manifest there is unreadable.
        """
        folder = Path(run_dir)
        if folder.exists() and not folder.is_dir():
            raise RunExistsError(f"{folder} exists and is not a folder")
        if not folder.is_dir():
            return
        manifest = _read_manifest(folder)
        _refuse_live_writer(folder, manifest)
        if manifest is None:
            others = [p for p in folder.iterdir() if not _is_temp_file(p)]
            if others:
                raise RunExistsError(
                    f"{folder} is not empty and is not a run folder (no {MANIFEST}); "
                    "--overwrite replaces only run folders: choose another --out"
                )
            return
        if overwrite:
            return
        if manifest["status"] == "complete":
            raise RunExistsError(
                f"run folder {folder} already holds a complete run; choose another "
                "output folder or overwrite it (--overwrite)"
            )
        step = manifest.get("checkpoint_step")
        at = f" (last checkpoint at step {step})" if step is not None else ""
        raise RunExistsError(
            f"run folder {folder} holds an unfinished run{at}; resume it with "
            f"--resume {folder} or overwrite it (--overwrite)"
        )

    def _prepare_folder(self, overwrite: bool) -> tuple[list[Path], bool]:
        """Check the folder, create it; return (the folders created, deepest first; whether
        the folder held nothing before)."""
        folder = self.run_dir
        self.check_folder(folder, overwrite=overwrite)
        created = []
        for parent in (folder, *folder.parents):
            if parent.exists():
                break
            created.append(parent)
        was_empty = not folder.is_dir() or not any(not _is_temp_file(p) for p in folder.iterdir())
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"cannot create run folder {folder}: {exc.strerror}") from None
        _remove_stale_temp_files(folder)
        for name in _RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        return created, was_empty

    def _discard(self) -> bool:
        """Remove what this writer created, if the folder held nothing before and no step was
        written yet (a run that failed while its world was built): the corrected command then
        finds no half-made folder in its way. Return whether it did; a resumed run, a run with
        rows, or a folder that held a run before are never removed."""
        if self._resumed or self._wrote_rows or self._finished or not self._was_empty:
            return False
        for name in _RUN_FILES:
            with contextlib.suppress(OSError):
                (self.run_dir / name).unlink()
        _remove_stale_temp_files(self.run_dir)
        for folder in self._created:
            try:
                folder.rmdir()
            except OSError:
                break  # not empty (another run's folder appeared in it): keep it and its parents
        return True

    @property
    def kept_on_failure(self) -> bool:
        """Whether a failure now would leave the folder (``incomplete``, resumable) rather than
        remove it (:meth:`_discard`)."""
        return self._resumed or self._wrote_rows or not self._was_empty

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        *,
        chain_id: int | None = None,
        bytecode_hashes: Mapping[str, str] | None = None,
        scenario: Any = None,
    ) -> RunWriter:
        """Reopen an unfinished run folder at its last checkpoint.

        Everything is checked before the folder is touched; a refusal leaves it as it was
        (``incomplete`` stays ``incomplete``). The rows saved with the checkpoint are restored;
        rows written after it are dropped (the engine recomputes them). :attr:`checkpoint` is
        the checkpoint to restart from, or ``None`` when the run died before its first one
        (restart from step 0). :attr:`scenario` is the scenario the manifest records.

        Parameters
        ----------
        run_dir : str or Path
            The run folder.
        chain_id : int, optional
            Chain id of the node the run continues on (recorded; also :meth:`record_chain`).
        bytecode_hashes : mapping, optional
            Hashes of the contracts that would run; must equal the manifest's.
        scenario : Scenario or mapping, optional
            The scenario the caller means to continue (e.g. a comparison's planned run); must
            be the recorded one.

        Raises
        ------
        RunNotFoundError
            No run folder there.
        RunExistsError
            The run is complete (nothing to resume), or a live process is still writing it.
        RunMismatchError
            The manifest has no scenario or its scenario was edited (fingerprint mismatch);
            ``scenario`` is another one; the code (:func:`code_hash`) or the bytecode changed
            since the run started.
        CheckpointError
            The checkpoint is unreadable or truncated, or the manifest records a checkpoint that
            is gone.
        """
        folder = Path(run_dir)
        manifest = _read_manifest(folder) if folder.is_dir() else None
        if manifest is None:
            raise RunNotFoundError(f"cannot resume {folder}: not a run folder (no {MANIFEST})")
        if manifest["status"] == "complete":
            raise RunExistsError(f"cannot resume {folder}: the run is already complete")
        _refuse_live_writer(folder, manifest)
        where = f"cannot resume {folder}"
        recorded = recorded_scenario(manifest, where=where)
        check_same_run(
            manifest, recorded if scenario is None else scenario, code_hash(), bytecode_hashes,
            prefix=f"{where}: it holds a different run" if scenario is not None else where,
            way_out="start it again with --overwrite (or write to another --out)",
        )  # fmt: skip
        self = cls.__new__(cls)
        self.run_dir = folder
        self._manifest = manifest
        self._steps, self._events = [], []
        self._finished = False
        self._resumed, self._wrote_rows = True, False
        self._created, self._was_empty = [], False
        self._scenario = recorded
        try:
            self._checkpoint = self.load_checkpoint()
        except CheckpointError as exc:
            raise CheckpointError(f"{where}: {exc}; start it again with --overwrite") from None
        expected = manifest.get("checkpoint_step")
        if expected is not None and self._checkpoint is None:
            raise CheckpointError(
                f"{where}: its manifest records a checkpoint at step {expected} but "
                f"{CHECKPOINT} is gone; start it again with --overwrite"
            )
        if expected is not None and self._checkpoint.step < int(expected):
            raise CheckpointError(
                f"{where}: {CHECKPOINT} is at step {self._checkpoint.step} but the manifest "
                f"records a later one (step {expected}); start it again with --overwrite"
            )
        # Every check passed: only now is the folder changed.
        _remove_stale_temp_files(folder)
        manifest["resumed_from_steps"] = [
            *manifest.get("resumed_from_steps", []),
            self._checkpoint.step if self._checkpoint is not None else None,
        ]
        if chain_id is not None:
            manifest["chain_id"] = chain_id
        manifest["status"] = "running"
        manifest["incomplete_reason"] = None
        manifest["writer"] = _writer_identity()
        self._write_manifest()
        return self

    def record_chain(self, chain_id: int) -> None:
        """Record the chain id of the node the run continues on."""
        self._manifest["chain_id"] = int(chain_id)
        self._write_manifest()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and not self._finished:
            if self._discard():
                return
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
    def scenario(self) -> Any:
        """The scenario of the run (for a resumed run: the one its manifest records, checked
        against its fingerprint; a Scenario, or a mapping for plain-mapping runs)."""
        return self._scenario

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
            self._wrote_rows = True

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
        self._wrote_rows = True
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
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error,
                pa.ArrowException) as exc:  # fmt: skip
            raise CheckpointError(f"{path}: unreadable checkpoint: {exc}") from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT or "step" not in header:
            raise CheckpointError(f"{path}: unreadable checkpoint: not a {_FORMAT} checkpoint")
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
