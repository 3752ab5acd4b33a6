"""The run folder's per-market long format: the venue-total rule, the reader's venue and market
views, the summary's per-market breakdown, and folders of the one-market format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.results import (
    MARKET_SUMMARY_KEYS,
    STEP_COLUMNS,
    SUMMARY_KEYS,
    VENUE_ONLY_STEP_COLUMNS,
    ResultsError,
    RunReader,
    RunWriter,
    market_steps,
    step_markets,
    summarize,
    venue_steps,
    venue_total_row,
)


def market_row(step: int, symbol: str, **values) -> dict:
    row = {c.name: 0.0 for c in STEP_COLUMNS if c.name not in VENUE_ONLY_STEP_COLUMNS}
    row.update(step=step, timestamp_s=60 * step, market=symbol, accounts_liquidated=0)
    row.update(values)
    return row


def two_market_step(step: int, btc: dict, eth: dict, accounts: int = 0, **venue) -> list[dict]:
    rows = [market_row(step, "BTC", **btc), market_row(step, "ETH", **eth)]
    venue = {"insurance_fund_usd": 100.0, "backstop_equity_usd": 50.0,
             "backstop_share_price": 1.0, "transactions": 3, **venue}  # fmt: skip
    return [*rows, venue_total_row(rows, accounts_liquidated=accounts, venue=venue)]


def two_market_frame() -> pd.DataFrame:
    rows = two_market_step(
        1,
        {"price_exogenous_usd": 100.0, "price_oracle_usd": 99.0, "oi_long_usd": 10.0,
         "liquidated_notional_long_usd": 4.0, "accounts_liquidated": 1, "fees_usd": 0.5},
        {"price_exogenous_usd": 10.0, "price_oracle_usd": 9.0, "oi_long_usd": 5.0,
         "liquidated_notional_short_usd": 2.0, "accounts_liquidated": 1, "bad_debt_usd": 3.0},
        accounts=1, insurance_fund_usd=120.0,
    ) + two_market_step(
        2,
        {"price_exogenous_usd": 90.0, "price_oracle_usd": 80.0, "oi_long_usd": 8.0},
        {"price_exogenous_usd": 6.0, "price_oracle_usd": 5.0, "oi_long_usd": 1.0,
         "adl_haircut_usd": 7.0, "adl_overshoot_usd": 1.0},
        insurance_fund_usd=90.0, transactions=4,
    )  # fmt: skip
    return pd.DataFrame(rows)


# -- the rule --------------------------------------------------------------------------------


def test_venue_total_row_sums_flows_and_oi_and_nulls_prices():
    steps = two_market_frame()
    total = venue_steps(steps)
    assert total["step"].tolist() == [1, 2]
    assert total["oi_long_usd"].tolist() == [15.0, 9.0]
    assert total["liquidated_notional_long_usd"].tolist() == [4.0, 0.0]
    assert total["liquidated_notional_short_usd"].tolist() == [2.0, 0.0]
    assert total["accounts_liquidated"].tolist() == [1, 0]  # one cross account, two markets
    assert total["transactions"].tolist() == [3, 4] and total["transactions"].dtype == np.int64
    assert "price_oracle_usd" not in total and "funding_rate" not in total
    eth = market_steps(steps, "ETH")
    assert eth["price_oracle_usd"].tolist() == [9.0, 5.0]
    assert "insurance_fund_usd" not in eth and "transactions" not in eth
    assert step_markets(steps) == ("BTC", "ETH")
    assert market_steps(steps)["market"].tolist() == ["BTC", "BTC"]  # default: the first
    with pytest.raises(ResultsError, match=r"no market 'SOL' .*markets: BTC, ETH"):
        market_steps(steps, "SOL")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows[2].update(price_oracle_usd=1.0), "price_oracle_usd is per market"),
        (lambda rows: rows[0].update(transactions=2), "transactions is venue-wide"),
        (lambda rows: rows[2].update(fees_usd=9.0), "'ALL' fees_usd is 9.0, not the sum"),
        (lambda rows: rows[2].update(accounts_liquidated=3), "accounts_liquidated 3 exceeds"),
        (lambda rows: rows.pop(2), "needs one 'ALL' row"),
        (lambda rows: rows[1].update(market="BTC"), "lists a market twice"),
    ],
)
def test_rows_that_break_the_rule_are_refused(tmp_path, change, message):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    rows = two_market_step(1, {"fees_usd": 1.0}, {"fees_usd": 2.0})
    change(rows)
    with pytest.raises(ValueError, match=message):
        writer.add_step(rows)
    assert writer.steps_written == 0


def test_add_step_takes_the_rows_of_one_step(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    with pytest.raises(ValueError, match="rows of one step"):
        writer.add_step(two_market_step(1, {}, {}) + two_market_step(2, {}, {}))
    writer.add_steps(two_market_step(1, {}, {}) + two_market_step(2, {}, {}))
    assert writer.steps_written == 2


# -- summary -----------------------------------------------------------------------------------


def test_summary_has_venue_totals_and_a_per_market_breakdown():
    events = pd.DataFrame({"step": [1, 1, 1], "market": ["BTC", "ETH", "ETH"],
                           "account": ["a", "a", "b"],
                           "kind": ["liquidation", "partial_liquidation", "adl_fill"]})  # fmt: skip
    meta = {"traders": 2, "steps": 2, "wall_seconds": 0.0,
            "markets": {"BTC": {"start_price": 100.0}, "ETH": {"start_price": 10.0}}}  # fmt: skip
    s = summarize(two_market_frame(), events, pd.DataFrame(), meta)
    assert s["liquidated_notional_usd"] == 6.0 and s["liquidated_accounts"] == 1
    assert s["transactions"] == 7 and s["bad_debt_usd"] == 3.0 and s["adl_haircut_usd"] == 7.0
    assert s["insurance_fund_drawdown_usd"] == 30.0
    assert s["start_price"] is None and s["min_price"] is None  # several markets: no one price
    assert list(s["markets"]) == ["BTC", "ETH"]
    btc, eth = s["markets"]["BTC"], s["markets"]["ETH"]
    assert list(btc) == list(MARKET_SUMMARY_KEYS)
    assert (btc["liquidated_notional_long_usd"], btc["fees_usd"]) == (4.0, 0.5)
    assert (btc["oi_long_start_usd"], btc["oi_long_end_usd"]) == (10.0, 8.0)
    assert (btc["min_price"], btc["price_amplification"]) == (80.0, 2.0)
    assert (eth["liquidated_notional_short_usd"], eth["bad_debt_usd"]) == (2.0, 3.0)
    assert (eth["adl_haircut_usd"], eth["adl_overshoot_usd"]) == (7.0, 1.0)
    assert eth["liquidated_accounts"] == 1 and eth["price_amplification"] == pytest.approx(1.25)
    with pytest.raises(ValueError, match="markets the steps do not hold: \\['SOL'\\]"):
        summarize(two_market_frame(), events, pd.DataFrame(),
                  {**meta, "markets": {"SOL": {"start_price": 1.0}}})  # fmt: skip


def test_the_bad_debt_written_off_as_final_is_summed_per_market_and_for_the_venue():
    rows = two_market_step(
        1, {"bad_debt_usd": 5.0, "bad_debt_final_usd": 2.0}, {"bad_debt_usd": 1.0}
    ) + two_market_step(2, {}, {"bad_debt_usd": 4.0, "bad_debt_final_usd": 4.0})
    s = summarize(pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame(),
                  {"traders": 2, "steps": 2, "wall_seconds": 0.0})  # fmt: skip
    assert (s["bad_debt_usd"], s["bad_debt_final_usd"]) == (10.0, 6.0)
    assert list(s)[: len(SUMMARY_KEYS)] == list(SUMMARY_KEYS)
    btc, eth = s["markets"]["BTC"], s["markets"]["ETH"]
    assert (btc["bad_debt_usd"], btc["bad_debt_final_usd"]) == (5.0, 2.0)
    assert (eth["bad_debt_usd"], eth["bad_debt_final_usd"]) == (5.0, 4.0)


def test_each_markets_insurance_payouts_and_adl_notional_come_from_its_events():
    events = pd.DataFrame({
        "step": [1, 1, 2, 2, 2], "market": ["BTC", "ETH", "ETH", "ETH", "BTC"],
        "account": ["a", "b", "c", "d", "e"],
        "kind": ["insurance_payout", "insurance_payout", "adl_fill", "adl_fill", "liquidation"],
        "notional_usd": [None, None, 30.0, 12.5, 400.0],
        "amount_usd": [20.0, 5.0, 4.0, 3.0, 8.0],
    })  # fmt: skip
    meta = {"traders": 2, "steps": 2, "wall_seconds": 0.0}
    markets = summarize(two_market_frame(), events, pd.DataFrame(), meta)["markets"]
    assert (markets["BTC"]["insurance_payout_usd"], markets["ETH"]["insurance_payout_usd"]) == (
        20.0,
        5.0,
    )
    assert (markets["BTC"]["adl_notional_usd"], markets["ETH"]["adl_notional_usd"]) == (0.0, 42.5)


def test_single_market_summary_keeps_the_top_level_prices():
    rows = [market_row(1, "BTC", price_exogenous_usd=90.0, price_oracle_usd=85.0)]
    steps = pd.DataFrame([*rows, venue_total_row(rows, accounts_liquidated=0, venue={})])
    s = summarize(steps, pd.DataFrame(), pd.DataFrame(),
                  {"traders": 1, "steps": 1, "wall_seconds": 0, "start_price": 100.0})  # fmt: skip
    assert (s["start_price"], s["min_price"], s["price_amplification"]) == (100.0, 85.0, 1.5)
    assert s["markets"]["BTC"]["price_amplification"] == 1.5


def test_a_two_market_run_folder_reads_back(tmp_path):
    writer = RunWriter(tmp_path / "r", scenario={"name": "x"})
    frame = two_market_frame()
    for step in (1, 2):
        writer.add_step(frame[frame["step"] == step].to_dict("records"))
    summary = writer.finish([], meta={"traders": 0, "steps": 2, "wall_seconds": 0})
    reader = RunReader(tmp_path / "r")
    assert reader.markets == ("BTC", "ETH")
    assert reader.venue_steps["insurance_fund_usd"].tolist() == [120.0, 90.0]
    assert reader.market_steps("ETH")["oi_long_usd"].tolist() == [5.0, 1.0]
    assert reader.summary["markets"] == json.loads(json.dumps(summary["markets"]))


# -- the one-market format perpsim-run/1 ---------------------------------------------------------

LEGACY_STEP = {
    "step": [1, 2], "timestamp_s": [60, 120], "price_exogenous_usd": [100.0, 90.0],
    "price_oracle_usd": [100.0, 85.0], "price_mark_usd": [100.0, 85.0],
    "price_amm_usd": [100.0, 86.0], "oi_long_usd": [10.0, 6.0], "oi_short_usd": [9.0, 8.0],
    "liquidated_notional_long_usd": [0.0, 4.0], "liquidated_notional_short_usd": [0.0, 0.0],
    "accounts_liquidated": [0, 1], "insurance_fund_usd": [50.0, 40.0],
    "backstop_equity_usd": [0.0, 0.0], "backstop_share_price": [1.0, 1.0],
    "adl_haircut_usd": [0.0, 0.0], "adl_overshoot_usd": [0.0, 0.0], "bad_debt_usd": [0.0, 1.0],
    "funding_rate": [0.0, 1e-5], "fees_usd": [0.1, 0.2], "transactions": [5, 6],
}  # fmt: skip


def write_legacy_folder(folder, scenario: dict) -> None:
    folder.mkdir()
    manifest = {"format": "perpsim-run/1", "status": "complete", "scenario": scenario}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "summary.json").write_text(json.dumps({"traders": 1, "min_price": 85.0}))
    pq.write_table(pa.table(LEGACY_STEP), folder / "steps.parquet")
    pq.write_table(pa.table({"step": [2], "kind": ["liquidation"], "account": ["0x1"]}),
                   folder / "events.parquet")  # fmt: skip
    pq.write_table(pa.table({"account": ["0x1"], "side": ["long"]}), folder / "positions.parquet")


@pytest.mark.parametrize(("scenario", "symbol"), [
    ({"name": "old", "market": {"preset": "gmx-like"}}, "BTC"),
    ({"name": "old", "market": {"symbol": "PEPE"}}, "PEPE"),
])  # fmt: skip
def test_a_one_market_folder_is_read_as_its_scenarios_market(tmp_path, scenario, symbol):
    write_legacy_folder(tmp_path / "old", scenario)
    reader = RunReader(tmp_path / "old")
    assert reader.legacy and reader.markets == (symbol,)
    assert reader.steps["market"].tolist() == [symbol, "ALL", symbol, "ALL"]
    venue = reader.venue_steps
    assert venue["insurance_fund_usd"].tolist() == [50.0, 40.0]
    assert venue["liquidated_notional_long_usd"].tolist() == [0.0, 4.0]
    assert venue["transactions"].tolist() == [5, 6]
    market = reader.market_steps()
    assert market["price_oracle_usd"].tolist() == [100.0, 85.0]
    assert "insurance_fund_usd" not in market
    assert reader.events["market"].tolist() == [symbol]
    assert reader.positions["market"].tolist() == [symbol]
    assert reader.summary == {"traders": 1, "min_price": 85.0}  # as written
