"""Comparison statistics on known inputs: t intervals, percentiles, tables and renderers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console

from simulator.stats import (
    DEFAULT_METRICS,
    StatsError,
    compare_stats,
    compare_table,
    format_compare_table,
    markdown_table,
    metric_stats,
    render_compare_table,
    tail_figures,
)


def test_t_interval_on_known_values():
    s = metric_stats([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) * s / sqrt(n), s = 1
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)
    assert s.ci_low == pytest.approx(2 - half) and s.ci_high == pytest.approx(2 + half)


def test_other_confidence_levels_narrow_the_interval():
    wide, narrow = metric_stats([1, 2, 3, 4], 0.99), metric_stats([1, 2, 3, 4], 0.8)
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low
    with pytest.raises(StatsError):
        metric_stats([1, 2], 1.0)


def test_constant_values_have_a_zero_width_interval():
    s = metric_stats([5.0] * 4)
    assert (s.ci_low, s.mean, s.ci_high, s.p95, s.p99) == (5.0,) * 5


def test_one_or_no_value_leaves_the_interval_undefined():
    one = metric_stats([7.0])
    assert one.n == 1 and one.mean == 7.0 and math.isnan(one.ci_low) and one.p99 == 7.0
    none = metric_stats([])
    assert none.n == 0 and math.isnan(none.mean)


def test_none_and_non_finite_values_are_left_out():
    s = metric_stats([1.0, None, float("nan"), 3.0, float("inf")])
    assert s.n == 2 and s.mean == 2.0


def test_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    hits = 0
    trials = 2000
    for _ in range(trials):
        s = metric_stats(rng.normal(10.0, 3.0, 12))
        hits += s.ci_low <= 10.0 <= s.ci_high
    assert hits / trials == pytest.approx(0.95, abs=0.015)


def test_tail_figures_are_percentiles_over_paths():
    runs = [{"bad_debt_usd": float(i), "liquidated_notional_usd": 10.0 * i} for i in range(101)]
    tails = tail_figures(runs)
    assert tails == {
        "var95_bad_debt_usd": 95.0,
        "evar99_bad_debt_usd": 99.0,
        "lar95_liquidated_notional_usd": 950.0,
        "n_paths": 101,
    }


def test_tail_figures_interpolate_linearly_with_few_paths():
    runs = [{"bad_debt_usd": v, "liquidated_notional_usd": 0.0} for v in (0.0, 10.0)]
    assert tail_figures(runs)["var95_bad_debt_usd"] == pytest.approx(9.5)
    assert math.isnan(tail_figures([{}])["var95_bad_debt_usd"])


RESULTS = {
    "baseline": [
        {"bad_debt_usd": 10.0, "liquidated_notional_usd": 1e6, "price_amplification": 1.5},
        {"bad_debt_usd": 30.0, "liquidated_notional_usd": 3e6, "price_amplification": None},
    ],
    "leverage_cap": [
        {"bad_debt_usd": 0.0, "liquidated_notional_usd": 2e5, "price_amplification": 1.1},
        {"bad_debt_usd": 2.0, "liquidated_notional_usd": 4e5, "price_amplification": 1.3},
    ],
}


def test_compare_table_has_metrics_as_rows_and_control_sets_as_columns():
    table = compare_table(RESULTS)
    assert list(table.index) == [
        *DEFAULT_METRICS,
        "var95_bad_debt_usd",
        "evar99_bad_debt_usd",
        "lar95_liquidated_notional_usd",
        "n_paths",
    ]
    assert list(table.columns.get_level_values("control").unique()) == ["baseline", "leverage_cap"]
    assert table.loc["bad_debt_usd", ("baseline", "mean")] == 20.0
    assert table.loc["bad_debt_usd", ("leverage_cap", "ci_high")] > 1.0
    assert table.loc["price_amplification", ("baseline", "mean")] == 1.5  # None left out
    assert table.loc["var95_bad_debt_usd", ("baseline", "mean")] == pytest.approx(29.0)
    assert table.loc["n_paths", ("leverage_cap", "mean")] == 2
    assert math.isnan(table.loc["fees_usd", ("baseline", "mean")])  # absent from summaries


def test_compare_stats_is_a_long_numeric_table():
    long = compare_stats(RESULTS, metrics=["bad_debt_usd"])
    assert list(long["control"]) == ["baseline", "leverage_cap"]
    assert list(long["mean"]) == [20.0, 1.0]
    assert {"n", "ci_low", "ci_high", "std", "p95", "p99"} <= set(long.columns)


def test_compare_needs_control_sets_with_runs():
    with pytest.raises(StatsError, match="no control sets"):
        compare_table({})
    with pytest.raises(StatsError, match="control set b has no runs"):
        compare_table({"a": [{}], "b": []})


def test_formatted_cells_show_mean_and_interval():
    cells = format_compare_table(compare_table(RESULTS, metrics=["bad_debt_usd"]))
    assert cells.loc["bad_debt_usd", "baseline"].startswith("20 [")
    assert cells.loc["n_paths", "baseline"] == "2"
    assert cells.loc["lar95_liquidated_notional_usd", "baseline"] == "2.9M"


def test_rich_table_renders_every_control_set():
    console = Console(record=True, width=160)
    console.print(render_compare_table(compare_table(RESULTS), title="oct-2025"))
    text = console.export_text()
    assert "baseline" in text and "leverage_cap" in text and "oct-2025" in text
    assert "var95_bad_debt_usd" in text and "over 2 paths" in text


def test_markdown_table_escapes_pipes():
    import pandas as pd

    text = markdown_table(pd.DataFrame({"a|b": ["x|y"]}, index=["row"]), index_label="m")
    assert text.splitlines()[0] == "| m | a\\|b |"
    assert text.splitlines()[2] == "| row | x\\|y |"


def _venue_summary(btc: float, eth: float) -> dict:
    return {"bad_debt_usd": btc + eth,
            "markets": {"BTC": {"bad_debt_usd": btc, "min_price": 90.0},
                        "ETH": {"bad_debt_usd": eth, "min_price": 3.0}}}  # fmt: skip


def test_each_market_is_compared_with_the_venues_statistics():
    from simulator.stats import MARKET_METRICS, market_compare_table, run_markets

    results = {"baseline": [_venue_summary(1.0, 2.0), _venue_summary(3.0, 6.0)],
               "cap": [_venue_summary(0.0, 1.0), _venue_summary(0.0, 3.0)]}  # fmt: skip
    assert run_markets(results) == ("BTC", "ETH")
    table = market_compare_table(results)
    assert table.index.names == ["market", "metric"]
    assert table.index.tolist() == [(m, k) for m in ("BTC", "ETH") for k in MARKET_METRICS]
    eth = metric_stats([2.0, 6.0])
    assert table.loc[("ETH", "bad_debt_usd"), ("baseline", "mean")] == 4.0
    assert table.loc[("ETH", "bad_debt_usd"), ("baseline", "ci_low")] == eth.ci_low
    assert table.loc[("ETH", "bad_debt_usd"), ("baseline", "ci_high")] == eth.ci_high
    assert table.loc[("BTC", "bad_debt_usd"), ("cap", "mean")] == 0.0
    assert table.loc[("BTC", "min_price"), ("cap", "mean")] == 90.0
    assert math.isnan(table.loc[("BTC", "fees_usd"), ("cap", "mean")])  # no path has it


def test_a_market_missing_from_some_paths_is_averaged_over_the_paths_that_have_it():
    from simulator.stats import market_compare_table

    results = {"a": [_venue_summary(1.0, 2.0),
                     {"markets": {"BTC": {"bad_debt_usd": 5.0}, "SOL": {"bad_debt_usd": 7.0}}}]}  # fmt: skip
    table = market_compare_table(results, ["bad_debt_usd"])
    assert table.index.get_level_values("market").tolist() == ["BTC", "ETH", "SOL"]
    assert table[("a", "mean")].tolist() == [3.0, 2.0, 7.0]


def test_comparison_rows_put_the_venue_first_under_market_all():
    from simulator.stats import VENUE, comparison_rows, market_compare_table

    results = {"baseline": [_venue_summary(1.0, 2.0), _venue_summary(3.0, 6.0)]}
    rows = comparison_rows(compare_table(results), market_compare_table(results))
    markets = list(dict.fromkeys(rows.index.get_level_values("market")))
    assert markets == [VENUE, "BTC", "ETH"] and VENUE == "ALL"
    assert rows.loc[(VENUE, "bad_debt_usd"), ("baseline", "mean")] == 6.0
    assert rows.loc[(VENUE, "n_paths"), ("baseline", "mean")] == 2
    assert rows.loc[("BTC", "bad_debt_usd"), ("baseline", "mean")] == 2.0
    one = {"baseline": [{"bad_debt_usd": 1.0}]}  # no markets: the venue's rows alone
    assert comparison_rows(compare_table(one), market_compare_table(one)).equals(
        comparison_rows(compare_table(one))
    )


def test_the_market_table_names_a_control_sets_change_beside_that_markets_rows():
    from simulator.stats import (
        CHANGES_ROW,
        market_compare_table,
        market_markdown,
        render_market_table,
    )

    results = {"baseline": [_venue_summary(1.0, 2.0)], "eth_cap": [_venue_summary(1.0, 0.5)]}
    table = market_compare_table(results, ["bad_debt_usd"])
    changes = {"ETH": {"eth_cap": "overrides.max_leverage=5"}}
    lines = market_markdown(table, changes).splitlines()
    assert lines[0] == "| market | metric | baseline | eth_cap |"
    assert lines[2:] == [
        "| BTC | bad_debt_usd | 1 | 1 |",
        f"| ETH | {CHANGES_ROW} | - | overrides.max_leverage=5 |",
        "| ETH | bad_debt_usd | 2 | 0.5 |",
    ]
    console = Console(width=160, record=True)
    console.print(render_market_table(table, "per market", changes))
    text = console.export_text()
    assert "overrides.max_leverage=5" in text and "eth_cap" in text
    assert text.count("bad_debt_usd") == 2
