"""perpsim facts: the October 10-11, 2025 facts measured on a run's or a comparison's paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from engine_helpers import small_oct  # noqa: E402

from simulator import facts as facts_module  # noqa: E402
from simulator.compare import run_compare  # noqa: E402
from simulator.facts import FACTS, FactsError, run_facts  # noqa: E402


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """A real comparison: the five-market small oct-2025, 2 paths of the baseline."""
    out = tmp_path_factory.mktemp("facts") / "cmp"
    scenario = small_oct(all_markets=True, steps=40)
    run_compare(scenario, ["baseline"], 2, out, workers=2, backend="revm")
    return out


def _copy(comparison: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "cmp"
    shutil.copytree(comparison, copy)
    return copy


def _runs(folder: Path) -> list[Path]:
    return [folder / "runs" / "baseline" / f"path-{i}" for i in range(2)]


def test_facts_on_a_comparison_has_every_fact_n_and_holds(comparison, tmp_path):
    folder = _copy(comparison, tmp_path)
    table, what = run_facts(folder)
    assert list(table.index) == [f.key for f in FACTS]
    assert what["kind"] == "compare" and what["control"] == "baseline"
    assert set(table["n"]) <= {0, 1, 2} and table.loc["long_share", "n"] == 2
    for key, row in table.iterrows():
        if row["n"]:
            assert row["holds"] in (True, False), key
            assert row["ci_low"] <= row["mean"] <= row["ci_high"] or row["n"] < 2, key
        else:  # never a made-up number: the reason instead
            assert row["holds"] is None and row["not_measured"], key
    saved = json.loads((folder / "facts.json").read_text())
    assert [f["key"] for f in saved["facts"]] == [f.key for f in FACTS]
    assert saved["read"]["runs"] == ["runs/baseline/path-0", "runs/baseline/path-1"]
    text = (folder / "facts.md").read_text()
    assert "| fact | October | simulated mean [95% interval] | n | tolerance | holds |" in text


def _edit_summaries(folder: Path, **figures: float) -> None:
    for run in _runs(folder):
        path = run / "summary.json"
        summary = json.loads(path.read_text())
        summary.update(figures)
        path.write_text(json.dumps(summary))


def test_the_long_share_holds_or_not_as_the_data_says(comparison, tmp_path):
    folder = _copy(comparison, tmp_path)
    _edit_summaries(folder, liquidated_notional_long_usd=91.0, liquidated_notional_short_usd=9.0)
    table, _ = run_facts(folder)
    assert table.loc["long_share", "mean"] == pytest.approx(0.91)
    assert table.loc["long_share", "holds"] is True
    _edit_summaries(folder, liquidated_notional_long_usd=50.0, liquidated_notional_short_usd=50.0)
    table, _ = run_facts(folder)
    assert table.loc["long_share", "holds"] is False
    _edit_summaries(folder, liquidated_notional_long_usd=0.0, liquidated_notional_short_usd=0.0)
    table, _ = run_facts(folder)
    assert table.loc["long_share", "n"] == 0 and table.loc["long_share", "holds"] is None
    assert "nothing was liquidated (2 of 2 paths)" in table.loc["long_share", "not_measured"]


def _set_btc_oracle(run: Path, fall: float) -> None:
    """BTC's oracle at its start price, then ``fall`` below it from the middle of the run."""
    path = run / "steps.parquet"
    table = pq.read_table(path)
    frame = table.to_pandas()
    start = json.loads((run / "summary.json").read_text())["markets"]["BTC"]["start_price"]
    btc = frame["market"] == "BTC"
    middle = frame.loc[btc, "step"].median()
    frame.loc[btc, "price_oracle_usd"] = start
    frame.loc[btc & (frame["step"] > middle), "price_oracle_usd"] = start * (1 - fall)
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), path)


def test_a_price_fall_holds_within_its_tolerance_only(comparison, tmp_path):
    folder = _copy(comparison, tmp_path)
    for run in _runs(folder):
        _set_btc_oracle(run, 0.12)
    table, _ = run_facts(folder)
    assert table.loc["fall_btc", "mean"] == pytest.approx(0.12)
    assert table.loc["fall_btc", "holds"] is True
    for run in _runs(folder):
        _set_btc_oracle(run, 0.30)
    table, _ = run_facts(folder)
    assert table.loc["fall_btc", "mean"] == pytest.approx(0.30)
    assert table.loc["fall_btc", "holds"] is False


def test_a_single_run_folder_is_one_path_without_interval(comparison, tmp_path, perpsim_cmd):
    run = _runs(_copy(comparison, tmp_path))[0]
    proc = subprocess.run([perpsim_cmd, "facts", str(run)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "n=1: no interval" in proc.stdout
    saved = json.loads((run / "facts.json").read_text())
    assert saved["read"]["kind"] == "run"
    measured = [f for f in saved["facts"] if f["n"]]
    assert measured and all(f["n"] == 1 and f["ci_low"] is None for f in measured)


@pytest.mark.parametrize("kind", ["empty", "file", "missing", "control"])
def test_bad_input_is_one_line_and_writes_nothing(comparison, tmp_path, perpsim_cmd, kind):
    target = tmp_path / "x"
    args = [str(target)]
    if kind == "empty":
        target.mkdir()
    elif kind == "file":
        target.write_text("not a folder")
    elif kind == "control":
        target = _copy(comparison, tmp_path)
        args = [str(target), "--control", "leverage_cap"]
    proc = subprocess.run([perpsim_cmd, "facts", *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert not (target / "facts.md").exists() if target.is_dir() else True


def test_a_comparison_run_that_is_missing_is_refused(comparison, tmp_path):
    folder = _copy(comparison, tmp_path)
    shutil.rmtree(_runs(folder)[1])
    with pytest.raises(FactsError, match="path-1"):
        run_facts(folder)
    assert not (folder / "facts.md").exists()


def _add_adl_fills(run: Path, fills: list[tuple]) -> None:
    """The run's ``adl_fill`` rows replaced by one per (account, step, market[, size_base,
    price_usd]) (size and price 1 unless given)."""
    path = run / "events.parquet"
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame = frame[frame["kind"] != "adl_fill"]
    rows = []
    for account, step, market, *rest in fills:
        size, price = rest if rest else (1.0, 1.0)
        rows.append({"step": step, "kind": "adl_fill", "market": market, "account": account,
                     "side": "short", "size_base": size, "price_usd": price,
                     "notional_usd": size * price, "amount_usd": 1.0, "detail": ""})  # fmt: skip
    frame = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), path)


def _add_event(run: Path, row: dict) -> None:
    """One more row in the run's events (the other columns empty)."""
    path = run / "events.parquet"
    table = pq.read_table(path)
    frame = pd.concat([table.to_pandas(), pd.DataFrame([row])], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), path)


def _set_vault_fills(
    run: Path, vault: str, fills: list[tuple[int, str, str, float, float]]
) -> None:
    """The vault's ``mm_vault_fill`` rows replaced by (step, market, side, size_base, price_usd),
    each with a fee (``amount_usd``) of 1 USD."""
    path = run / "events.parquet"
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame = frame[frame["kind"] != "mm_vault_fill"]
    rows = [
        {"step": step, "kind": "mm_vault_fill", "market": market, "account": vault, "side": side,
         "size_base": size, "price_usd": price, "notional_usd": size * price, "amount_usd": 1.0,
         "detail": '{"order": "quote"}'}
        for step, market, side, size, price in fills
    ]  # fmt: skip
    frame = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), path)


def test_the_adl_leverage_counts_the_market_making_vault(comparison, tmp_path):
    # Before session 20 the ADL'd accounts were read from positions.parquet only, where the
    # vault has no row. Now its ADL fill is measured like every fill, the ADL'd position over
    # its cash-only value, replayed from its own fills.
    folder = _copy(comparison, tmp_path)
    for run in _runs(folder):
        events = pd.read_parquet(run / "events.parquet")
        vault = events.loc[events["kind"] == "mm_vault_fill", "account"].dropna().iloc[0]
        # Sells 30 BTC at 100, buys 10 back at 90 (realizes +100 USD), shorts 10 ETH at 50;
        # three fees of 1 USD. At step 20 ADL closes its 20 BTC at 80: 1,600 USD of notional on
        # capital + 100 - 3 of cash (its ETH short and its BTC profit unrealized: left out).
        _set_vault_fills(run, vault, [(5, "BTC", "short", 30.0, 100.0),
                                      (8, "BTC", "long", 10.0, 90.0),
                                      (9, "ETH", "short", 10.0, 50.0)])  # fmt: skip
        _add_adl_fills(run, [(vault, 20, "BTC", 20.0, 80.0)])
        capital = json.loads((run / "summary.json").read_text())["mm_vault_capital_usd"]
    table, _ = run_facts(folder)
    assert table.loc["adl_leverage_median", "n"] == 2
    assert table.loc["adl_leverage_median", "mean"] == pytest.approx(1_600.0 / (capital + 97.0))
    assert table.loc["adl_leverage_median", "holds"] is True


def test_an_adl_fill_the_run_cannot_measure_is_not_left_out(comparison, tmp_path):
    folder = _copy(comparison, tmp_path)
    for run in _runs(folder):
        _add_adl_fills(run, [("0x000000000000000000000000000000000000dEaD", 20, "BTC")])
    table, _ = run_facts(folder)
    assert table.loc["adl_leverage_median", "n"] == 0
    assert "1 of 1 ADL fills have no position" in table.loc["adl_leverage_median", "not_measured"]


def test_an_order_flow_slot_is_measured_from_its_events(comparison, tmp_path):
    # A slot's positions.parquet row holds only its last open; ADL'd at the step of that open
    # and at its entry price, its leverage from the events (the position over its deposit less
    # the open's fee) is the row's own (notional at entry over the deposit), within the fee.
    folder = _copy(comparison, tmp_path)
    expected = []
    for run in _runs(folder):
        positions = pd.read_parquet(run / "positions.parquet")
        slots = positions[(positions["opens"] == 1) & (positions["opened_step"] > 0)]
        slot = slots.sort_values("leverage").iloc[len(slots) // 2]
        _add_adl_fills(run, [(slot["account"], int(slot["opened_step"]), slot["market"],
                              float(slot["size_base"]), float(slot["entry_price_usd"]))])  # fmt: skip
        expected.append(float(slot["leverage"]))
    table, _ = run_facts(folder)
    assert table.loc["adl_leverage_median", "n"] == 2
    assert table.loc["adl_leverage_median", "mean"] == pytest.approx(np.mean(expected), rel=0.005)


def test_adl_leverage_is_the_adl_d_position_over_cash_as_october_measures_it(comparison, tmp_path):
    # October's figure (REFERENCES.md: the reconstruction of the 34,983 ADL events) is one
    # value per ADL fill: the ADL'd position's notional at the fill price over the account's
    # cash-only value (deposits, top-ups and realized PnL; unrealized PnL left out). Before,
    # facts.py took each account once, all its markets' notional at the oracle price over its
    # equity with unrealized PnL: here that read the two-market trader at its total leverage
    # and counted it once beside the other trader, so the median was the other's.
    folder = _copy(comparison, tmp_path)
    expected = []
    for run in _runs(folder):
        positions = pd.read_parquet(run / "positions.parquet")
        events = pd.read_parquet(run / "events.parquet")
        busy = set(events.loc[events["kind"] != "open", "account"].dropna())  # top-ups...
        book = positions[(positions["opened_step"] == 0) & (positions["outcome"] == "open")]
        book = book[~book["account"].isin(busy)]
        counts = book.groupby("account")["market"].nunique()
        two = book[book["account"] == counts[counts >= 2].index[0]]
        one = book[book["account"] == counts[counts == 1].index[0]].iloc[0]
        cash = float(two["collateral_usd"].sum())
        row = two.iloc[0]
        price = float(row["entry_price_usd"]) * 0.9
        # The two-market trader ADL'd twice in one market, at 0.9 of its entry; the other
        # trader once, far above.
        _add_adl_fills(run, [(row["account"], 20, row["market"], 1e-9, price),
                             (row["account"], 21, row["market"], 1e-9, price),
                             (one["account"], 20, one["market"], float(one["size_base"]) * 100,
                              float(one["entry_price_usd"]))])  # fmt: skip
        # Three fills: the median is the first fill's (the second finds the position 1e-9
        # smaller; the third is far above both).
        expected.append(float(row["size_base"]) * price / cash)
    table, _ = run_facts(folder)
    assert table.loc["adl_leverage_median", "n"] == 2
    assert table.loc["adl_leverage_median", "mean"] == pytest.approx(np.mean(expected), rel=1e-9)


def test_an_opening_book_trader_is_measured_from_its_position_not_as_a_flow_slot(
    comparison, tmp_path
):
    # Since step 0 is a block, the opening book's positions are `open` events too (detail
    # "book"). Before, that made every book trader an order-flow slot for the ADL leverage,
    # measured from its events, which give up after a partial liquidation: the fact was then
    # "not measured". A book trader is measured from positions.parquet, as its row says.
    from simulator.engine.opening import BOOK_DETAIL

    assert BOOK_DETAIL == facts_module.BOOK_OPEN_DETAIL
    folder = _copy(comparison, tmp_path)
    for run in _runs(folder):
        positions = pd.read_parquet(run / "positions.parquet")
        book = positions[(positions["opened_step"] == 0) & (positions["outcome"] == "open")]
        trader = book.iloc[0]
        events = pd.read_parquet(run / "events.parquet")
        own = events[events["account"] == trader["account"]]
        assert (own["detail"] == "book").any()
        # A partial liquidation of that account before its ADL fill.
        _add_event(run, {"step": 10, "kind": "partial_liquidation", "market": trader["market"],
                         "account": trader["account"]})  # fmt: skip
        _add_adl_fills(run, [(trader["account"], 11, trader["market"])])
    table, _ = run_facts(folder)
    assert table.loc["adl_leverage_median", "n"] == 2
