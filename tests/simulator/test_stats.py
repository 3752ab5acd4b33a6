"""Comparison statistics on known inputs: bootstrap intervals that respect the metric's support,
percentiles, tables and renderers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from simulator.stats import (
    DEFAULT_METRICS,
    StatsError,
    compare_stats,
    compare_table,
    format_compare_table,
    markdown_table,
    mean_interval,
    metric_stats,
    render_compare_table,
    tail_figures,
)


def test_interval_on_known_values_lies_within_the_sample_and_around_the_mean():
    s = metric_stats([1.0, 2.0, 3.0])
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)
    assert 1.0 <= s.ci_low < 2.0 < s.ci_high <= 3.0
    two = metric_stats([0.0, 1e6])  # two paths: the resampled means are 0, 0.5M and 1M
    assert (two.ci_low, two.ci_high) == (0.0, 1e6)


def test_two_paths_of_a_loss_no_longer_get_a_negative_bound():
    """Issue 11: with 2 paths the t interval showed a non-negative metric as 43.7M [-64.2M,
    152M]."""
    s = metric_stats([10.0e6, 77.4e6])
    assert s.ci_low >= 0.0 and s.ci_low <= s.mean <= s.ci_high


# non-negative samples like a loss over paths: many exact zeros, ordinary amounts, one outlier
# (USD: up to a quadrillion, the outlier up to 1000x the largest ordinary amount)
_amounts = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)
_losses = st.builds(
    lambda zeros, amounts, outlier: np.array([0.0] * zeros + amounts + outlier),
    st.integers(0, 40),
    st.lists(_amounts, max_size=12),
    st.lists(st.floats(min_value=1e12, max_value=1e15), max_size=1),
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(_losses, st.sampled_from([0.8, 0.95, 0.99]), st.integers(0, 2**32 - 1))
# Found at random by a CI run: the subnormal value became 0 in x / max(x), so the lower bound
# came back as 0.0, below the sample's minimum.
@example(np.array([2.2250738585e-313, 1e12]), 0.95, 0)
def test_a_non_negative_metric_never_gets_a_negative_bound(x, confidence, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NaN or degenerate-data warnings either
        s = metric_stats(x, confidence, seed=seed)
    if len(x) < 2:
        assert math.isnan(s.ci_low) and math.isnan(s.ci_high)
        return
    assert math.isfinite(s.ci_low) and math.isfinite(s.ci_high)
    assert 0.0 <= s.ci_low <= s.ci_high
    assert x.min() <= s.ci_low and s.ci_high <= x.max()


def test_a_bounded_ratio_stays_in_its_range():
    s = metric_stats([1.0, 1.0, 1.0, 1.6, 2.4])
    assert 1.0 <= s.ci_low and s.ci_high <= 2.4


def test_the_interval_is_the_same_for_the_same_values_and_seed():
    x = np.array([0.0] * 17 + [3.1e6, 4.2e5, 9.9e7])
    assert mean_interval(x, seed=7) == mean_interval(x.copy(), seed=7)
    a = compare_table({"a": [{"bad_debt_usd": v} for v in x]}, ["bad_debt_usd"], seed=11)
    b = compare_table({"a": [{"bad_debt_usd": v} for v in x]}, ["bad_debt_usd"], seed=11)
    assert a.equals(b)
    assert mean_interval(x, seed=7) != mean_interval(x, seed=8)  # the seed is what resamples


def test_other_confidence_levels_narrow_the_interval():
    wide, narrow = metric_stats([1, 2, 3, 4, 7], 0.99), metric_stats([1, 2, 3, 4, 7], 0.8)
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low
    with pytest.raises(StatsError):
        metric_stats([1, 2], 1.0)


def test_constant_values_have_a_zero_width_interval():
    s = metric_stats([5.0] * 4)
    assert (s.ci_low, s.mean, s.ci_high, s.p95, s.p99) == (5.0,) * 5
    zero = metric_stats([0.0] * 6)
    assert (zero.ci_low, zero.mean, zero.ci_high, zero.std) == (0.0, 0.0, 0.0, 0.0)


def test_a_near_constant_sample_still_gets_a_finite_interval():
    x = np.array([0.3] * 9 + [np.nextafter(0.3, 1.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = mean_interval(x)
    assert 0.3 <= low <= high <= np.nextafter(0.3, 1.0)


def test_tiny_and_huge_amounts_get_an_interval():
    for scale in (1e-300, 1e300):
        low, high = mean_interval(np.array([0.0, 0.0, 1.0, 3.0]) * scale)
        assert 0.0 <= low < high <= 3.0 * scale


def test_one_or_no_value_leaves_the_interval_undefined():
    one = metric_stats([7.0])
    assert one.n == 1 and one.mean == 7.0 and math.isnan(one.ci_low) and one.p99 == 7.0
    assert math.isnan(one.std)
    none = metric_stats([])
    assert none.n == 0 and math.isnan(none.mean)


def test_none_and_non_finite_values_are_left_out():
    s = metric_stats([1.0, None, float("nan"), 3.0, float("inf")])
    assert s.n == 2 and s.mean == 2.0


def test_interval_covers_the_true_mean_about_95_percent_of_the_time():
    """Normal values on 30 paths: near the nominal 95% (measured 0.925; the bootstrap covers a
    little less than its level with few paths, as the docstring of mean_interval says)."""
    rng = np.random.default_rng(0)
    trials = 400
    intervals = (mean_interval(rng.normal(10.0, 3.0, 30), seed=i) for i in range(trials))
    hits = sum(low <= 10.0 <= high for low, high in intervals)
    assert 0.9 <= hits / trials <= 0.98


def test_a_skewed_loss_is_covered_at_least_as_well_as_by_the_t_interval():
    """A loss that is 0 on 70% of paths, lognormal otherwise, 30 paths: BCa covers its mean
    about as often as the t interval did (measured 0.87 and 0.83), without negative bounds."""
    rng = np.random.default_rng(1)
    mu, trials, n = 0.3 * math.exp(0.5), 400, 30
    bca = t = 0
    for i in range(trials):
        x = rng.lognormal(0.0, 1.0, n) * (rng.random(n) < 0.3)
        low, high = mean_interval(x, seed=i)
        bca += low <= mu <= high
        half = 2.045229642132703 * x.std(ddof=1) / math.sqrt(n)  # t(0.975, 29)
        t += x.mean() - half <= mu <= x.mean() + half
    assert bca >= t - 0.02 * trials and bca / trials >= 0.84


def test_tail_figures_are_percentiles_over_paths():
    runs = [
        {"bad_debt_usd": float(i), "system_loss_usd": 3.0 * i, "liquidated_notional_usd": 10.0 * i}
        for i in range(101)
    ]
    tails = tail_figures(runs)
    assert tails == {
        "var95_bad_debt_usd": 95.0,
        "evar99_bad_debt_usd": 99.0,
        "var95_system_loss_usd": 285.0,
        "evar99_system_loss_usd": 297.0,
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
        "var95_system_loss_usd",
        "evar99_system_loss_usd",
        "lar95_liquidated_notional_usd",
        "n_paths",
    ]
    assert list(table.columns.get_level_values("control").unique()) == ["baseline", "leverage_cap"]
    assert table.loc["bad_debt_usd", ("baseline", "mean")] == 20.0
    assert table.loc["bad_debt_usd", ("leverage_cap", "ci_high")] > 1.0
    assert table.loc["price_amplification", ("baseline", "mean")] == 1.5  # None left out
    assert table.loc["var95_bad_debt_usd", ("baseline", "mean")] == pytest.approx(29.0)
    assert table.loc["n_paths", ("leverage_cap", "mean")] == 2
    assert table.loc["bad_debt_usd", ("baseline", "n")] == 2
    assert table.loc["price_amplification", ("baseline", "n")] == 1
    assert table.loc["system_loss_usd", ("baseline", "n")] == 0  # no summary has it
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
    amplification = format_compare_table(compare_table(RESULTS, metrics=["price_amplification"]))
    assert amplification.loc["price_amplification", "baseline"] == "1.5 (n=1)"
    assert amplification.loc["price_amplification", "leverage_cap"].endswith("]")  # both paths


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
