"""CSV inputs of a scenario: a ``timestamp,price`` price file (the one-column form; the
multi-column ``timestamp,<SYMBOL>,...`` file is read by :mod:`simulator.prices.factor`) and a
``side,collateral_usd,size_base[,behaviour][,account][,market][,isolated]`` explicit book, read
and checked row by row (errors name the file and line), cached per file version, and whether a
price file covers a run."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import PerpsimError
from simulator.scenario.messages import ScenarioError, _plain, _utc

if TYPE_CHECKING:
    from simulator.scenario.models import ExplicitPosition


def csv_rows(
    path: Path, error: type[PerpsimError] = ScenarioError
) -> Iterator[tuple[int, list[str]]]:
    """Read a CSV file as ``(line_number, cells)``: first the header row (line 1, cells
    stripped), then every non-blank row with as many cells as the header (stripped).

    A missing or unreadable file, an empty file, a row of the wrong length and malformed CSV
    raise ``error`` with one line naming the file (and the line).
    """
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"CSV file not found: {path}") from None
    except OSError as exc:
        raise error(f"cannot read CSV file {path}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise error(f"{path}: empty CSV file (expected a header row)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise error(f"{path}:1: malformed CSV: {exc}") from None
        yield 1, header
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise error(f"{path}:{line}: expected {len(header)} fields, got {len(row)}")
                yield line, [cell.strip() for cell in row]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise error(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None


def _open_csv(path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    """Open a CSV file and check its header; yield ``(line_number, row_dict)``."""
    rows = csv_rows(path)
    _, header = next(rows)
    header = [h.lower() for h in header]
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required + optional]
    if missing or unknown:
        expected = ",".join(required) + "".join(f"[,{c}]" for c in optional)
        raise ScenarioError(
            f"{path}:1: header must be {expected} (got {','.join(header) or 'nothing'})"
        )
    for line, cells in rows:
        yield line, dict(zip(header, cells, strict=True))


def positive_float_cell(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"{path}:{line}: {column} must be a number (got {text!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise ScenarioError(f"{path}:{line}: {column} must be a positive number (got {text!r})")
    return value


def timestamp_cell_seconds(path: Path, line: int, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise ScenarioError(
                f"{path}:{line}: timestamp must be UNIX seconds or ISO 8601 (got {text!r})"
            ) from None
        return stamp.timestamp()
    if not math.isfinite(value):
        raise ScenarioError(f"{path}:{line}: timestamp must be finite (got {text!r})")
    return value


def read_price_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``timestamp,price`` CSV file.

    Parameters
    ----------
    path : str or Path
        CSV file with header ``timestamp,price``; timestamps are UNIX seconds or ISO 8601 (naive
        times are local time: prefer an explicit offset or ``Z``), strictly increasing.

    Returns
    -------
    timestamps_s : numpy.ndarray
        Timestamps (seconds since the UNIX epoch), float64.
    prices_usd : numpy.ndarray
        Prices (USD), float64, all positive.

    Raises
    ------
    ScenarioError
        The file is missing, empty, has a wrong header, or a row is malformed (names the line).
    """
    path = Path(path)
    times: list[float] = []
    prices: list[float] = []
    for line, row in _open_csv(path, ("timestamp", "price")):
        t = timestamp_cell_seconds(path, line, row["timestamp"])
        if times and t <= times[-1]:
            raise ScenarioError(f"{path}:{line}: timestamps must be strictly increasing")
        times.append(t)
        prices.append(positive_float_cell(path, line, "price", row["price"]))
    if not times:
        raise ScenarioError(f"{path}: no price rows after the header")
    return np.asarray(times, dtype=float), np.asarray(prices, dtype=float)


def read_positions_csv(path: str | Path) -> list[ExplicitPosition]:
    """Read an explicit book from a ``side,collateral_usd,size_base[,behaviour]`` CSV file.

    Raises
    ------
    ScenarioError
        The file is missing, empty, has a wrong header, or a row is malformed (names the line).
    """
    return [position for _, position in _read_positions_rows(Path(path))]


#: Optional columns of an explicit book's CSV file.
POSITION_CSV_OPTIONAL = ("behaviour", "account", "market", "isolated")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0", "")


def _read_positions_rows(path: Path) -> list[tuple[int, ExplicitPosition]]:
    """The positions of a book CSV with the file line of each (1-based)."""
    from simulator.scenario.models import BEHAVIOURS, ExplicitPosition  # models import this

    rows: list[tuple[int, ExplicitPosition]] = []
    for line, row in _open_csv(
        path, ("side", "collateral_usd", "size_base"), POSITION_CSV_OPTIONAL
    ):
        side = row["side"].lower()
        if side not in ("long", "short"):
            raise ScenarioError(f"{path}:{line}: side must be long or short (got {row['side']!r})")
        behaviour = (row.get("behaviour") or "").lower() or None
        if behaviour is not None and behaviour not in BEHAVIOURS:
            raise ScenarioError(
                f"{path}:{line}: behaviour must be one of {', '.join(BEHAVIOURS)} "
                f"(got {row['behaviour']!r})"
            )
        isolated = (row.get("isolated") or "").lower()
        if isolated not in _TRUE + _FALSE:
            raise ScenarioError(
                f"{path}:{line}: isolated must be true or false (got {row['isolated']!r})"
            )
        position = ExplicitPosition(
            side=side,
            collateral_usd=positive_float_cell(path, line, "collateral_usd", row["collateral_usd"]),
            size_base=positive_float_cell(path, line, "size_base", row["size_base"]),
            behaviour=behaviour,
            account=row.get("account") or None,
            market=(row.get("market") or "").upper() or None,
            isolated=isolated in _TRUE,
        )
        rows.append((line, position))
    if not rows:
        raise ScenarioError(f"{path}: no positions after the header")
    return rows


def _file_key(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return str(path), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=32)
def _price_csv_by_key(key: tuple[str, int, int]) -> tuple[np.ndarray, np.ndarray]:
    times, prices = read_price_csv(key[0])
    times.setflags(write=False)
    prices.setflags(write=False)
    return times, prices


@lru_cache(maxsize=32)
def _csv_header_by_key(key: tuple[str, int, int]) -> tuple[str, ...]:
    return tuple(_csv_header(Path(key[0])))


def _csv_header(path: Path) -> list[str]:
    rows = csv_rows(path)
    _, header = next(rows)
    rows.close()
    return header


def _csv_header_cached(path: Path) -> tuple[str, ...]:
    """The header cells of a CSV file, read once per file version; ScenarioError when the
    file is missing or empty."""
    key = _file_key(path)
    return tuple(_csv_header(path)) if key is None else _csv_header_by_key(key)


def _price_csv_cached(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_price_csv`, read once per file version (path, mtime, size); read-only."""
    key = _file_key(path)
    return read_price_csv(path) if key is None else _price_csv_by_key(key)


@lru_cache(maxsize=32)
def _positions_csv_by_key(key: tuple[str, int, int]) -> tuple[tuple[int, ExplicitPosition], ...]:
    return tuple(_read_positions_rows(Path(key[0])))


def _positions_rows_cached(path: Path) -> tuple[tuple[int, ExplicitPosition], ...]:
    key = _file_key(path)
    return tuple(_read_positions_rows(path)) if key is None else _positions_csv_by_key(key)


def csv_coverage_problem(
    path: Path, timestamps_s: np.ndarray, steps: int, step_seconds: float
) -> str | None:
    """Why a CSV price file does not cover a run of ``steps`` × ``step_seconds``, or None.

    The run needs prices up to ``t0 + steps·step_seconds`` (``t0`` = the first timestamp);
    the file covers up to its last timestamp.
    """
    t0, t_last = float(timestamps_s[0]), float(timestamps_s[-1])
    need = int(steps) * float(step_seconds)
    have = t_last - t0
    if have >= need:
        return None
    return (
        f"{path} covers {_plain(have)} s ({len(timestamps_s):,} rows from {_utc(t0)} to "
        f"{_utc(t_last)}) but the run needs {_plain(need)} s ({int(steps):,} steps × "
        f"{_plain(step_seconds)} s); add rows, lower steps, or set price_path.hold_last: true "
        "to hold the last price"
    )
