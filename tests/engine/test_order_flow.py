"""Order flow on chain (simulator.engine.flow): slots open mid-run after a fall and close,
every open and close is in events.parquet with market and account, positions.parquet keeps
each slot's last open and its number of opens, a refused open is counted and leaves the slot
idle, and the same scenario and seed give identical files."""

from __future__ import annotations

import json

import pandas as pd
from engine_helpers import small_oct

from simulator.runner import run_scenario
from simulator.scenario.flow import FLOW_KINDS

#: Small pools and short holding times, so that slots close and enter again within the run.
FLOW = {
    "order_flow": {
        "momentum": {"slots_per_market": 15, "hold_minutes": 5, "cooldown_minutes": 2},
        "dip_buyers": {"slots_per_market": 15, "hold_minutes": 5, "cooldown_minutes": 2},
        "short_sellers": {"slots_per_market": 15, "hold_minutes": 5, "cooldown_minutes": 2},
        "reentry": {"slots_per_market": 10, "hold_minutes": 5, "cooldown_minutes": 2},
        "funding_arbitrage": {"slots_per_market": 5},
    }
}


def test_flow_opens_mid_run_after_the_fall_and_runs_are_reproducible(tmp_path):
    scenario = small_oct(steps=40, **FLOW)  # BTC falls 18% from step 10 over 20 steps
    a = run_scenario(scenario, tmp_path / "a")
    events = pd.read_parquet(tmp_path / "a" / "events.parquet")
    # The opening book's orders are step 0's opens (detail "book"); the flow's are the rest.
    book_opens = events[(events.kind == "open") & (events.detail == "book")]
    opens = events[(events.kind == "open") & (events.detail != "book")]
    closes = events[events.kind == "close"]
    assert len(book_opens) > 0 and (book_opens.step == 0).all()
    assert len(opens) > 10 and opens.step.nunique() > 5
    assert opens.market.notna().all() and opens.account.notna().all()
    after_fall = opens[opens.step > 12]
    kinds = set(after_fall.detail)
    assert {"dip_buyers", "short_sellers"} <= kinds
    assert set(after_fall[after_fall.detail == "dip_buyers"].side) == {"long"}
    assert set(after_fall[after_fall.detail == "short_sellers"].side) == {"short"}
    # Nobody buys the dip or sells into the fall before it (steps 1-10 are calm).
    before = opens[opens.step <= 10]
    assert not {"dip_buyers", "short_sellers"} & set(before.detail)
    flow_accounts = set(opens.account)
    assert set(closes[closes.account.isin(flow_accounts)].detail) >= {"hold_expired"}

    positions = pd.read_parquet(tmp_path / "a" / "positions.parquet")
    slots = positions[positions.account.isin(flow_accounts) | (positions.outcome == "idle")]
    assert len(slots) == 60  # 15 + 15 + 15 + 10 + 5 slots in the one market
    assert slots.opens.sum() == len(opens)
    assert slots.opens.max() >= 2  # a slot closed and entered again
    # Each slot's row shows its last open: the side of its last "open" event.
    last = opens.groupby("account").last()
    opened = slots[slots.opens > 0].set_index("account")
    assert (opened.side == last.side.loc[opened.index]).all()
    assert set(opened.side) == {"long", "short"}
    again = slots[slots.opens >= 2].iloc[0]
    assert again.opened_step > 0 and again.size_base > 0
    book_rows = positions[~positions.index.isin(slots.index)]
    assert (book_rows.opens <= 1).all() and book_rows.opens.sum() == len(book_opens)
    assert set(book_opens.account) == set(book_rows[book_rows.opens == 1].account)

    b = run_scenario(scenario, tmp_path / "b")
    assert a.summary["transactions"] == b.summary["transactions"]
    for table in ("steps.parquet", "events.parquet", "positions.parquet"):
        assert (tmp_path / "a" / table).read_bytes() == (tmp_path / "b" / table).read_bytes()


def test_a_refused_open_is_counted_and_leaves_the_slot_idle(tmp_path):
    # An OI cap of 100 USD: every flow open is over it and the venue refuses it.
    flow = {"order_flow": {"reentry": {"slots_per_market": 5, "rate_per_hour": 600}}}
    scenario = small_oct(steps=12, **flow, **{"controls.oi_cap_usd": 100})
    run_scenario(scenario, tmp_path / "run")
    events = pd.read_parquet(tmp_path / "run" / "events.parquet")
    refused = events[events.kind == "open_reverted"]
    # The opening book's refused orders are step 0's, one per refused position row.
    book = refused[refused.detail.str.startswith("book: ")]
    positions = pd.read_parquet(tmp_path / "run" / "positions.parquet")
    assert (book.step == 0).all() and len(book) == (positions.outcome == "refused").sum() > 0
    refused = refused.drop(book.index)
    assert len(refused) > 0 and (events.kind == "open").sum() == 0
    assert refused.market.eq("BTC").all() and refused.account.notna().all()
    assert refused.detail.str.contains("OpenInterestCapExceeded").all()
    assert set(refused.detail.str.split(":").str[0]) <= set(FLOW_KINDS)
    assert "reentry" in set(refused.detail.str.split(":").str[0])
    idle = positions[positions.outcome == "idle"]
    assert set(refused.account) <= set(idle.account)
    assert (idle.opens == 0).all() and idle.opened_step.isna().all()


def test_unfilled_arrivals_are_counted(tmp_path):
    flow = {"order_flow": {"reentry": {"slots_per_market": 1, "rate_per_hour": 1200}}}
    run_scenario(small_oct(steps=12, **flow), tmp_path / "run")
    events = pd.read_parquet(tmp_path / "run" / "events.parquet")
    unfilled = events[events.kind == "order_flow_unfilled"]
    assert len(unfilled) > 0
    detail = json.loads(unfilled.detail.iloc[0])
    assert detail["kind"] == "reentry" and detail["unfilled"] >= 1
