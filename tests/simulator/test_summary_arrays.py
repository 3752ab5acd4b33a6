"""The summary a tuning evaluation computes without pandas equals the one pandas computes.

``summarize_columns`` (numpy reductions over ``summary_columns``' arrays, what ``summary_of``
uses) is held to its old form, ``summarize`` of ``summary_frames``' pandas frames, and
``summary_columns``' row-by-row extraction to its old form (``row.get`` per column), key for
key and bit for bit (``json.dumps`` identical, floats compared by their bits), on drawn rows
(NaN and nulls in sums, minima and integer columns, all-NaN prices, shuffled steps, markets
without rows, events of every summary kind, null accounts, no events) and on mirror runs of the
presets (shortened)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from summary_reference import summary_frames

from simulator.mirror.run import simulate_mirror, summary_of
from simulator.results.schema import EVENT_COLUMNS, STEP_COLUMNS
from simulator.results.summary import (
    SUMMARY_EVENT_COLUMNS,
    SUMMARY_STEP_COLUMNS,
    summarize,
    summary_columns,
)
from simulator.results.summary_arrays import summarize_columns
from simulator.scenario import load_scenario


def _same(a, b) -> bool:
    """Equal values of the same types, floats equal by their bits (NaN equal to NaN)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a.hex() == b.hex()
    return type(a) is type(b) and a == b


def _old_summary(rows, events, meta) -> dict:
    """The old form: pandas frames, then ``summarize``."""
    steps, events_df = summary_frames(rows, events)
    return summarize(steps, events_df, pd.DataFrame(), meta)


def _old_column(values: list, col) -> np.ndarray | None:
    """The old conversion of one column (``np.array`` of the list)."""
    kinds = set(map(type, values))
    if col.dtype == pa.string():
        if not kinds <= {type(None), str}:
            return None
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    if not kinds <= {type(None), float, int, np.float64, np.int64}:
        return None
    floats = np.array(values, dtype=np.float64)
    if type(None) in kinds and not col.nullable:
        return None
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


def _old_columns(rows, columns, names) -> dict:
    """The old extraction: each column's values by ``row.get``, one column at a time."""
    by_name = {c.name: c for c in columns}
    data = {}
    for name in names:
        array = _old_column([row.get(name) for row in rows], by_name[name])
        if array is None:
            return None
        data[name] = array
    return data


def _drawn_rows(rng: np.random.Generator, steps: int, symbols: list[str]):
    """Long-format step rows (market rows without the venue-only keys, as the engines write
    them) and events of the summary's kinds and others."""

    def number(scale: float, nan: float = 0.15):
        pick = rng.random()
        if pick < nan:
            return float("nan")
        if pick < 0.3:
            return 0  # an int in a float column
        if pick < 0.45:
            return np.float64(rng.normal() * scale)
        return float(rng.normal() * scale)

    sums = ("liquidated_notional_long_usd", "liquidated_notional_short_usd", "adl_haircut_usd",
            "adl_overshoot_usd", "bad_debt_usd", "bad_debt_final_usd", "fees_usd")  # fmt: skip
    all_nan = set(rng.choice(symbols, size=int(rng.integers(0, 2)), replace=False).tolist())
    rows, events = [], []
    for step in range(steps):
        for symbol in symbols:
            row = {"step": step, "market": symbol}
            for name in sums:
                row[name] = number(1e3)
            for name in ("oi_long_usd", "oi_short_usd"):
                row[name] = float(abs(rng.normal()) * 1e5)
            for name in ("price_exogenous_usd", "price_oracle_usd"):
                nan = 1.0 if symbol in all_nan else 0.1
                row[name] = None if rng.random() < 0.05 else abs(number(100.0, nan))
            row["accounts_liquidated"] = int(rng.integers(0, 3))
            rows.append(row)
        venue = {"step": step, "market": "ALL", "price_exogenous_usd": None}
        for name in sums:
            venue[name] = number(1e3)
        venue.update({
            "price_oracle_usd": None,
            "oi_long_usd": 1.0, "oi_short_usd": 2.0,
            "accounts_liquidated": np.int64(rng.integers(0, 5)),
            "insurance_fund_usd": number(1e6, 0.05),
            "backstop_equity_usd": float(abs(rng.normal()) * 1e5) if step else rng.choice([0, 5e4]),
            "backstop_share_price": 1.0 + rng.normal() * 0.01 if rng.random() < 0.9 else None,
            "transactions": None if rng.random() < 0.1 else int(rng.integers(0, 50)),
            "mm_vault_equity_usd": None if rng.random() < 0.3 else float(rng.normal() * 1e5),
        })  # fmt: skip
        rows.append(venue)
        for _ in range(int(rng.integers(0, 5))):
            kind = str(rng.choice(["liquidation", "partial_liquidation", "backstop_takeover",
                                   "adl_fill", "insurance_payout", "open"]))  # fmt: skip
            events.append({
                "step": step, "kind": kind,
                "market": None if rng.random() < 0.05 else str(rng.choice(symbols)),
                "account": None if rng.random() < 0.2 else f"0x{int(rng.integers(0, 9)):040x}",
                "notional_usd": None if rng.random() < 0.2 else np.float64(rng.normal() * 1e4),
                "amount_usd": float("nan") if rng.random() < 0.1 else float(rng.normal() * 1e3),
            })  # fmt: skip
    if rng.random() < 0.5:  # steps out of order: the summary sorts each market's rows by step
        rows = [rows[i] for i in rng.permutation(len(rows))]
    return rows, events


def _meta(rng: np.random.Generator, symbols: list[str], steps: int) -> dict:
    meta = {"traders": 3, "steps": steps, "wall_seconds": 0.5}
    if rng.random() < 0.5:
        meta["start_price"] = 100.0
        meta["bad_debt_usd"] = 0.0
    if rng.random() < 0.5:
        meta["markets"] = {s: {"start_price": float(rng.integers(50, 150))} for s in symbols[:2]}
    if rng.random() < 0.3:
        meta["mm_vault_capital_usd"] = 1e5
    if rng.random() < 0.3:
        meta["backstop_pnl_usd"] = -12.5
    return meta


@pytest.mark.parametrize("seed", range(40))
def test_drawn_rows_give_pandas_summary(seed):
    rng = np.random.default_rng(seed)
    symbols = ["BTC", "ETH", "SOL"][: 1 + seed % 3]
    steps = [1, 2, 9, 40, 150][seed % 5]
    rows, events = _drawn_rows(rng, steps, symbols)
    if seed % 7 == 0:
        events = []
    meta = _meta(rng, symbols, steps)
    columns = summary_columns(rows, events)
    assert columns is not None
    got = summarize_columns(*columns, meta)
    want = _old_summary(rows, events, meta)
    assert _same(got, want)
    assert json.dumps(got) == json.dumps(want)


@pytest.mark.parametrize("seed", range(8))
def test_drawn_rows_give_the_old_columns(seed):
    rng = np.random.default_rng(100 + seed)
    rows, events = _drawn_rows(rng, [0, 1, 5, 30][seed % 4], ["BTC", "ETH"][: 1 + seed % 2])
    if rows and seed % 3 == 1:  # a row without a key the first row holds: the per-column way
        rows[-1] = {k: v for k, v in rows[-1].items() if k != "price_oracle_usd"}
    if rows and seed % 4 == 2:  # numbers at the edges of float64's conversion
        rows[0]["fees_usd"] = 2**70
        rows[-1]["oi_long_usd"] = np.float64(-0.0)
        rows[-1]["accounts_liquidated"] = np.int64(2**52 + 1)
    if rows and seed % 4 == 3:  # a null in a non-nullable column: both give None
        rows[-1]["fees_usd"] = None
        assert summary_columns(rows, events) is None
        assert _old_columns(rows, STEP_COLUMNS, SUMMARY_STEP_COLUMNS) is None
        return
    if seed % 3 == 2:  # rows that are mappings but not dicts
        rows = [pd.Series(row, dtype=object) for row in rows]
    got = summary_columns(rows, events)
    want_steps = _old_columns(rows, STEP_COLUMNS, SUMMARY_STEP_COLUMNS)
    read = [e for e in events if e["kind"] != "open"]
    want_events = _old_columns(read, EVENT_COLUMNS, SUMMARY_EVENT_COLUMNS)
    for mine, old in zip(got, (want_steps, want_events), strict=True):
        assert list(mine) == list(old)
        for name in old:
            assert mine[name].dtype == old[name].dtype, name
            assert np.array_equal(mine[name], old[name], equal_nan=mine[name].dtype != object)


def test_no_step_rows_and_null_markets_are_left_to_pandas():
    meta = {"traders": 1, "steps": 0, "wall_seconds": 0.0}
    columns = summary_columns([], [])
    assert summarize_columns(*columns, meta) is None
    rows, events = _drawn_rows(np.random.default_rng(3), 4, ["BTC"])
    rows[0]["market"] = None
    assert summarize_columns(*summary_columns(rows, events), meta) is None


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("oct-2025", ["steps=660"]),
        ("calm", ["steps=300"]),
        ("short-squeeze", ["steps=420"]),
    ],
)
def test_mirror_runs_give_pandas_summary(name, overrides):
    engine, rows, events, wall = simulate_mirror(load_scenario(name, overrides))
    meta = engine.summary_meta(wall)
    columns = summary_columns(rows, events)
    assert columns is not None
    got = summarize_columns(*columns, meta)
    assert got is not None  # the numpy way is the one summary_of takes
    want = _old_summary(rows, events, meta)
    assert _same(got, want) and json.dumps(got) == json.dumps(want)
    assert _same(summary_of(engine, rows, events, wall), want)


def test_an_integer_column_with_gaps_elsewhere_sums_as_integers():
    """``transactions`` is float64 over all rows (the market rows lack it), int64 over the
    venue's: large counts sum exactly, as pandas' int64 sum does, not as float adds."""
    rows, events = _drawn_rows(np.random.default_rng(9), 7, ["BTC", "ETH"])
    for row in rows:
        if row["market"] == "ALL":
            row["transactions"] = 2**52 + 1
    columns = summary_columns(rows, events)
    assert columns[0]["transactions"].dtype == np.float64
    meta = {"traders": 1, "steps": 7, "wall_seconds": 0.0}
    got = summarize_columns(*columns, meta)
    assert got["transactions"] == int(float(7 * (2**52 + 1)))  # float(): pandas' _col_sum
    assert _same(got, _old_summary(rows, events, meta))
