"""The summary's frames built straight from a run's rows (``summary_frames``, what a tuning
evaluation's ``summary_of`` uses) give the run folder's summary: ``summarize`` of the frames
equals ``summarize`` of the schema's Arrow tables, key for key and bit for bit, on a mirror
run of oct-2025 (a shortened one: flow, AMMs, vaults, backstop, several markets) and on drawn
rows (nulls, NaN, numpy scalars, integers with gaps, no events); rows with a value the schema
converts or refuses are left to the schema (``None``), so the folder's message still names
them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from summary_reference import summary_frames

from simulator.mirror.run import simulate_mirror, summary_of
from simulator.results.schema import (
    EVENT_COLUMNS,
    POSITION_COLUMNS,
    STEP_COLUMNS,
    _to_table,
    venue_total_row,
)
from simulator.results.summary import SUMMARY_EVENT_KINDS, summarize
from simulator.scenario import load_scenario


def _folder_summary(rows, events, positions, meta) -> dict:
    """The run folder's way (``RunWriter.finish``): Arrow tables, then pandas."""
    return summarize(
        _to_table(rows, STEP_COLUMNS, "steps").to_pandas(),
        _to_table(events, EVENT_COLUMNS, "events").to_pandas(),
        _to_table(positions, POSITION_COLUMNS, "positions").to_pandas(),
        meta,
    )


def _same(a, b) -> bool:
    """Equal dicts, NaN equal to NaN (and floats compared by bits)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a.hex() == b.hex()
    return type(a) is type(b) and a == b


def test_a_mirror_runs_summary_is_the_folders():
    scenario = load_scenario("oct-2025").with_overrides(["steps=660"])
    engine, rows, events, wall = simulate_mirror(scenario)
    assert summary_frames(rows, events) is not None  # the cheap path is the one taken
    got = summary_of(engine, rows, events, wall)
    want = _folder_summary(rows, events, engine.positions(), engine.summary_meta(wall))
    assert got == want
    assert _same(got, want)
    assert got["liquidated_notional_usd"] > 0 and len(got["markets"]) > 1


def _drawn_rows(rng: np.random.Generator, steps: int, symbols: list[str]):
    """Long-format step rows and event rows with what the engines write: Python and numpy
    numbers, ints in float columns, NaN, nulls in the nullable columns."""

    def number(scale: float):
        pick = rng.integers(0, 6)
        if pick == 0:
            return 0  # an int in a float column
        if pick == 1:
            return np.float64(rng.normal() * scale)
        if pick == 2 and scale < 1e6:
            return float("nan")
        return float(rng.normal() * scale)

    rows, events = [], []
    for step in range(steps):
        market_rows = []
        for symbol in symbols:
            row = {"step": step, "timestamp_s": 60 * step, "market": symbol}
            for col in STEP_COLUMNS[3:]:
                row[col.name] = number(1e3)
            row["accounts_liquidated"] = int(rng.integers(0, 3))
            for name in ("insurance_fund_usd", "backstop_equity_usd", "backstop_share_price",
                         "transactions", "mm_vault_equity_usd"):  # fmt: skip
                row.pop(name)
            for name in ("oi_long_usd", "oi_short_usd", "bad_debt_usd", "fees_usd"):
                row[name] = float(abs(rng.normal()) * 1e5)
            if rng.random() < 0.3:
                row["price_amm_usd"] = None
            market_rows.append(row)
        venue = {
            "insurance_fund_usd": float(1e6 + rng.normal() * 1e4),
            "backstop_equity_usd": float(abs(rng.normal()) * 1e5),
            "backstop_share_price": float("nan") if step == 0 else 1.0 + rng.normal() * 0.01,
            "transactions": int(rng.integers(0, 50)) if rng.random() < 0.9 else np.int64(7),
            "mm_vault_equity_usd": None if rng.random() < 0.2 else float(rng.normal() * 1e5),
        }
        total = venue_total_row(market_rows, accounts_liquidated=0, venue=venue)
        rows.extend(market_rows + [total])
        for _ in range(int(rng.integers(0, 4))):
            kind = str(rng.choice(["liquidation", "adl_fill", "insurance_payout", "open"]))
            events.append({
                "step": step, "kind": kind, "market": str(rng.choice(symbols)),
                "account": None if rng.random() < 0.2 else f"0x{int(rng.integers(0, 9)):040x}",
                "side": "long", "size_base": 1.0, "price_usd": 100.0,
                "notional_usd": None if rng.random() < 0.2 else np.float64(rng.normal() * 1e4),
                "amount_usd": float("nan") if rng.random() < 0.1 else float(rng.normal() * 1e3),
                "detail": "",
            })  # fmt: skip
    return rows, events


@pytest.mark.parametrize("seed", range(12))
def test_drawn_rows_give_the_folders_summary(seed):
    rng = np.random.default_rng(seed)
    symbols = ["BTC", "ETH", "SOL"][: 1 + seed % 3]
    steps = [1, 2, 17, 60][seed % 4]
    rows, events = _drawn_rows(rng, steps, symbols)
    if seed % 5 == 0:
        events = []
    meta = {"traders": 3, "steps": steps, "wall_seconds": 0.5}
    if seed % 2:
        meta["start_price"] = 100.0
        meta["bad_debt_usd"] = 0.0
    frames = summary_frames(rows, events)
    assert frames is not None
    got = summarize(*frames, pd.DataFrame(), meta)
    want = _folder_summary(rows, events, [], meta)
    assert _same(got, want)


def test_the_frames_hold_the_folders_dtypes():
    rng = np.random.default_rng(5)
    rows, events = _drawn_rows(rng, 9, ["BTC", "ETH"])
    steps, events_df = summary_frames(rows, events)
    folder_steps = _to_table(rows, STEP_COLUMNS, "steps").to_pandas()
    folder_events = _to_table(events, EVENT_COLUMNS, "events").to_pandas()
    read = folder_events["kind"].isin(SUMMARY_EVENT_KINDS)  # the kinds the summary reads
    assert 0 < read.sum() < len(folder_events)
    folder_events = folder_events[read].reset_index(drop=True)
    for mine, folder in ((steps, folder_steps), (events_df, folder_events)):
        for name in mine.columns:
            assert mine[name].dtype == folder[name].dtype, name
            pd.testing.assert_series_equal(mine[name], folder[name], check_exact=True)


@pytest.mark.parametrize(
    "column, value",
    [
        ("fees_usd", "12.5"),  # text in a float column: Arrow refuses it
        ("fees_usd", True),  # a bool
        ("accounts_liquidated", 2.5),  # a fraction in an integer column
        ("step", None),  # a missing step
        ("market", 3),  # a number in a text column
        ("oi_long_usd", None),  # null in a non-nullable float column
    ],
)
def test_a_value_the_schema_converts_or_refuses_is_left_to_it(column, value):
    rows, events = _drawn_rows(np.random.default_rng(1), 3, ["BTC"])
    rows[0][column] = value
    assert summary_frames(rows, events) is None
    events[0]["kind"] = 7  # a kind the summary does not read, and not text
    rows[0][column] = 0 if column != "market" else "BTC"
    assert summary_frames(rows, events) is None
