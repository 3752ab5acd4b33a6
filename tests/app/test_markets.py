"""The market selector (AppTest): runs and comparisons of several markets show the venue's
totals and each market's figures, charts, events and positions; one-market runs offer their
market and All. The run folders are written without a chain (``tests/simulator/toy_venue.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import toy_venue
from streamlit.testing.v1 import AppTest

from app_helpers import chart_traces, dataframe_with, new_app, read_json
from perpsim_ui import views
from simulator.results import RunReader, market_steps, venue_steps
from simulator.stats import MARKET_METRICS, market_compare_table

MARKETS = list(toy_venue.MARKETS)


def _open(root, name: str) -> AppTest:
    at = new_app().run()
    at.switch_page("app_pages/runs.py").run()
    at.selectbox(key="runs.selected").set_value(name).run()
    assert not at.exception, at.exception
    return at


def _cards(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _liquidated(rows) -> list[float]:
    return (rows["liquidated_notional_long_usd"] + rows["liquidated_notional_short_usd"]).tolist()


def test_a_run_of_several_markets_shows_the_venue_and_each_market(runs_root):
    summary = toy_venue.write_run(runs_root / "venue")
    reader = RunReader(runs_root / "venue")
    at = _open(runs_root, "venue")
    selector = at.segmented_control(key="runs.market")
    assert selector.options == ["All markets", *MARKETS] and selector.value == views.ALL_MARKETS

    # All markets: the venue's cards, each market side by side, every market's prices
    cards = _cards(at)
    for name in views.CARDS:
        assert cards[views.SUMMARY_LABELS[name][0]] == views.format_value(name, summary[name])
    side_by_side = dataframe_with(at, "market", "insurance_payout_usd").set_index("market")
    assert side_by_side.index.tolist() == MARKETS
    for symbol in MARKETS:
        for name in views.MARKET_COLUMNS:
            assert side_by_side.loc[symbol, name] == summary["markets"][symbol][name]
    prices = chart_traces(at, "runs.chart.prices")
    assert [n for n in prices if n in MARKETS] == MARKETS  # one line per market, normalised
    sol = market_steps(reader.steps, "SOL")
    start = sol["price_exogenous_usd"].iloc[0]
    assert prices["SOL"]["y"] == pytest.approx((sol["price_oracle_usd"] / start).tolist())
    liquidations = chart_traces(at, "runs.chart.liquidations")
    assert liquidations["title"] == "Liquidated notional per step (venue)"
    venue = venue_steps(reader.steps)
    assert liquidations["long"]["y"] == venue["liquidated_notional_long_usd"].tolist()
    positions = dataframe_with(at, "account", "market", "outcome", "leverage")
    assert len(positions) == len(reader.positions) and set(positions["market"]) == set(MARKETS)

    # One market: its own figures, charts, events and positions
    at.segmented_control(key="runs.market").set_value("SOL").run()
    assert not at.exception, at.exception
    cards = _cards(at)
    for name in views.MARKET_CARDS:
        label = views.SUMMARY_LABELS[name][0]
        assert cards[label] == views.format_value(name, summary["markets"]["SOL"][name]), name
    assert cards["Insurance payouts"] != views.format_value("bad_debt_usd", 0.0)
    liquidations = chart_traces(at, "runs.chart.liquidations")
    assert liquidations["title"] == "Liquidated notional per step (SOL)"
    assert liquidations["long"]["y"] == sol["liquidated_notional_long_usd"].tolist()
    assert chart_traces(at, "runs.chart.bad_debt")["cumulative"]["y"] == pytest.approx(
        sol["bad_debt_usd"].cumsum().tolist()
    )
    prices = chart_traces(at, "runs.chart.prices")
    assert prices["title"] == "SOL price: exogenous, oracle, mark"
    assert prices["oracle"]["y"] == sol["price_oracle_usd"].tolist()
    assert chart_traces(at, "runs.chart.insurance_fund")["title"] == "Insurance fund (venue-wide)"
    positions = dataframe_with(at, "account", "market", "outcome", "leverage")
    expected = reader.positions[reader.positions["market"] == "SOL"]
    assert positions["market"].unique().tolist() == ["SOL"] and len(positions) == len(expected)
    events = dataframe_with(at, "kind", "market", "amount_usd")
    assert events["market"].unique().tolist() == ["SOL"]
    assert len(events) == int((reader.events["market"] == "SOL").sum())


def test_a_one_market_run_offers_its_market_and_all(runs_root):
    summary = toy_venue.write_run(runs_root / "btc", markets=["BTC"])
    at = _open(runs_root, "btc")
    selector = at.segmented_control(key="runs.market")
    assert selector.options == ["All markets", "BTC"]
    assert chart_traces(at, "runs.chart.prices")["title"] == "BTC price: exogenous, oracle, mark"
    assert not [d for d in at.dataframe if "insurance_payout_usd" in d.value.columns]
    selector.set_value("BTC").run()
    assert not at.exception, at.exception
    cards = _cards(at)
    for name in views.MARKET_CARDS:
        label = views.SUMMARY_LABELS[name][0]
        assert cards[label] == views.format_value(name, summary["markets"]["BTC"][name])
    assert len(at.get("plotly_chart")) == len(views.charts.RUN_CHARTS)


def test_a_one_market_run_of_the_old_format_shows_the_venues_figures_for_its_market(runs_root):
    from test_results_markets import LEGACY_STEP, write_legacy_folder

    runs_root.mkdir(parents=True)
    write_legacy_folder(runs_root / "old", {"name": "old", "market": {"symbol": "ETH"}})
    at = _open(runs_root, "old")
    at.segmented_control(key="runs.market").set_value("ETH").run()
    assert not at.exception, at.exception
    summary = read_json(runs_root / "old" / "summary.json")
    cards = _cards(at)
    assert (
        cards["Min oracle price"]
        == views.format_value("min_price", summary["min_price"])
        != ("n/a")
    )
    prices = chart_traces(at, "runs.chart.prices")
    assert prices["oracle"]["y"] == LEGACY_STEP["price_oracle_usd"]


def test_a_comparison_of_several_markets_has_a_market_selector(runs_root):
    toy_venue.write_comparison(runs_root / "cmp")
    at = _open(runs_root, "cmp")
    selector = at.segmented_control(key="runs.market")
    assert selector.options == ["All markets", *MARKETS]
    saved = read_json(runs_root / "cmp" / "compare.json")
    table = market_compare_table(saved["runs"])

    # All markets: the venue's table and every market's rows below it
    [venue] = at.table
    assert "var95_bad_debt_usd" in venue.value.index
    per_market = dataframe_with(at, "market", "metric", "baseline", "leverage_cap")
    assert per_market["market"].unique().tolist() == MARKETS
    assert per_market["metric"].tolist()[: len(MARKET_METRICS)] == list(MARKET_METRICS)

    # One market: its rows, its metric bars and its time series
    selector.set_value("DOGE").run()
    assert not at.exception, at.exception
    [shown] = at.table
    assert shown.value.index.tolist() == list(MARKET_METRICS)
    assert at.selectbox(key="runs.metric").options[0].endswith("(liquidated_notional_usd)")
    at.selectbox(key="runs.metric").set_value("insurance_payout_usd").run()
    bars = chart_traces(at, "runs.chart.metric")
    [bar] = [v for k, v in bars.items() if k != "title"]
    means = [table.loc[("DOGE", "insurance_payout_usd"), (c, "mean")] for c in bar["x"]]
    assert bar["y"] == pytest.approx(means) and not any(math.isnan(m) for m in means)
    lines = chart_traces(at, "runs.chart.liquidations")
    assert lines["title"] == "Liquidated notional, cumulative (DOGE, path 0)"
    doge = market_steps(RunReader(runs_root / "cmp" / "runs" / "leverage_cap" / "path-0").steps,
                        "DOGE")  # fmt: skip
    assert lines["leverage_cap"]["y"] == pytest.approx(np.cumsum(_liquidated(doge)).tolist())
    assert chart_traces(at, "runs.chart.prices")["title"] == "DOGE oracle price (path 0)"
    assert "venue-wide" in chart_traces(at, "runs.chart.insurance_fund")["title"]

    # All markets again: the oracle price of every market, one panel each
    at.segmented_control(key="runs.market").set_value(views.ALL_MARKETS).run()
    prices = chart_traces(at, "runs.chart.prices")
    assert prices["title"] == "Oracle price per market (path 0)"


def test_the_compare_page_has_the_market_selector_of_its_comparison(runs_root):
    out = runs_root / "app" / "cmp"
    toy_venue.write_comparison(out, controls=("baseline", "insurance_x10"), paths=1)
    at = new_app().run()
    at.session_state["compare.out_dir"] = (str(out), ("baseline", "insurance_x10"), 1)
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, at.exception
    selector = at.segmented_control(key="compare.market")
    assert selector.options == ["All markets", *MARKETS]
    assert dataframe_with(at, "market", "metric", "baseline", "insurance_x10")["market"].unique(
    ).tolist() == MARKETS  # fmt: skip
    selector.set_value("ETH").run()
    assert not at.exception, at.exception
    [shown] = at.table
    saved = read_json(out / "compare.json")
    eth = [r for r in saved["table"] if r["market"] == "ETH" and r["control"] == "baseline"]
    assert shown.value.index.tolist() == [r["metric"] for r in eth] == list(MARKET_METRICS)
    assert chart_traces(at, "compare.chart.bad_debt")["title"] == (
        "Bad debt, cumulative (ETH, path 0)"
    )


def test_a_figure_no_path_has_reads_n_a_not_a_bullet():
    from simulator.stats import compare_table

    table = compare_table({"a": [{"min_price": None, "fees_usd": 1.0}]}, ["min_price", "fees_usd"])
    cells = views.marked_table(table)
    assert cells.loc["min_price", "a"] == views.NO_VALUE and cells.loc["fees_usd", "a"] == "1"


def test_the_bad_debt_chart_shows_the_final_write_offs_only_when_a_run_has_them():
    import pandas as pd

    steps = pd.DataFrame({"step": [1, 2, 3], "market": ["BTC"] * 3,
                          "bad_debt_usd": [5.0, 0.0, 4.0],
                          "bad_debt_final_usd": [0.0, 0.0, 4.0]})  # fmt: skip
    fig = views.charts.bad_debt(steps, "BTC")
    assert [t.name for t in fig.data] == ["per step", "cumulative",
                                          "written off as final, cumulative"]  # fmt: skip
    assert list(fig.data[2].y) == [0.0, 0.0, 4.0]
    quiet = views.charts.bad_debt(steps.assign(bad_debt_final_usd=0.0), "BTC")
    assert [t.name for t in quiet.data] == ["per step", "cumulative"]
