"""Multi-asset exogenous paths: the factor model, per-asset shocks, the multi-column CSV."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.pricepaths import PricePathError, exogenous_prices, sample_paths
from simulator.prices import (
    AssetPathSpec,
    FactorModelPaths,
    MultiAssetCsvPath,
    factor_model_prices,
    multi_asset_csv_notes,
    multi_asset_csv_prices,
    parse_factor_model,
    sample_factor_model_paths,
    theoretical_log_return_correlation,
)
from simulator.prices.factor import _factor_model_prices_python
from simulator.scenario import GbmPath, Shock, random_streams

THREE = {
    "factor": {"vol_per_year": 0.5},
    "assets": [
        {"symbol": "BTC", "start_price_usd": 100_000.0, "beta": 1.0, "vol_per_year": 0.55},
        {"symbol": "ETH", "start_price_usd": 4_000.0, "beta": 1.3, "vol_per_year": 0.75},
        {"symbol": "ALT", "start_price_usd": 2.0, "beta": 1.5, "vol_per_year": 1.4},
    ],
}


def test_same_inputs_and_seed_give_identical_arrays_and_another_seed_does_not():
    spec = parse_factor_model(THREE)
    a = factor_model_prices(spec, 50, 60, random_streams(4).price, n_paths=3)
    b = factor_model_prices(spec, 50, 60, random_streams(4).price, n_paths=3)
    c = factor_model_prices(spec, 50, 60, random_streams(5).price, n_paths=3)
    assert a.shape == (3, 3, 51)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(a[:, :, 0] == [100_000.0, 4_000.0, 2.0])


def test_one_asset_with_beta_zero_is_todays_gbm_path_bit_for_bit():
    gbm = GbmPath(
        kind="gbm",
        start_price_usd=100.0,
        drift_per_year=0.3,
        vol_per_year=0.8,
        jump_intensity_per_day=40.0,
        jump_mean=-0.05,
        jump_std=0.1,
        shocks=[Shock(step=10, fall_fraction=0.3, over_steps=5, recovery_fraction=0.5,
                      recovery_steps=10)],
    )  # fmt: skip
    spec = FactorModelPaths(
        factor={"vol_per_year": 0.6, "jump_intensity_per_day": 5, "jump_std": 0.1},
        assets=[AssetPathSpec.from_gbm(gbm, "BTC")],
    )
    today = exogenous_prices(gbm, 400, 60, random_streams(11).price)
    multi = factor_model_prices(spec, 400, 60, random_streams(11).price)
    assert multi.shape == (1, 1, 401)
    assert today.tobytes() == multi[0, 0].tobytes()
    sampled = sample_factor_model_paths(spec, 4, 100, 60, seed=3)
    assert sampled[:, 0].tobytes() == sample_paths(gbm, 4, 100, 60, seed=3).tobytes()


def test_the_kernel_agrees_with_the_one_step_at_a_time_reference():
    spec = parse_factor_model(
        {
            **THREE,
            "factor": {"vol_per_year": 0.5, "jump_intensity_per_day": 30, "jump_mean": -0.02,
                       "jump_std": 0.05},
            "idiosyncratic_correlations": [{"assets": ["ETH", "ALT"], "correlation": 0.4}],
            "shocks": [{"step": 5, "fall_fraction": {"BTC": 0.1, "ALT": 0.8}, "over_steps": 3}],
        }
    )  # fmt: skip
    steps = 30
    fast = factor_model_prices(spec, steps, 60, random_streams(2).price)[0]
    rng = random_streams(2).price
    shape = (3, steps)
    rates = np.array([0.0, 0.0, 0.0])
    draws = (
        rng.standard_normal(shape),
        rng.poisson(rates[:, None], shape),
        rng.standard_normal(shape),
        rng.standard_normal(steps),
        rng.poisson(30 * 60 / 86_400, steps),
        rng.standard_normal(steps),
    )
    reference = _factor_model_prices_python(spec, steps, 60, draws)
    np.testing.assert_allclose(fast, reference, rtol=1e-12)


def test_sample_correlation_of_log_returns_matches_the_factor_structure():
    spec = parse_factor_model(THREE)
    n = 200_000  # one path of n steps: n log returns per asset
    prices = factor_model_prices(spec, n, 60, random_streams(1).price)[0]
    returns = np.diff(np.log(prices), axis=1)
    sample = np.corrcoef(returns)
    theory = theoretical_log_return_correlation(spec)
    assert theory[0, 1] == pytest.approx(1.0 * 1.3 * 0.25 / (0.55 * 0.75))
    # Standard error of a sample correlation: (1 - rho²)/√n; allow five of them.
    tolerance = 5 * (1 - theory**2) / math.sqrt(n) + 1e-12
    assert np.all(np.abs(sample - theory) <= tolerance), (sample, theory)


def test_idiosyncratic_correlation_adds_to_the_factor_correlation():
    data = {**THREE, "idiosyncratic_correlations": [{"assets": ["BTC", "ETH"],
                                                     "correlation": -0.5}]}  # fmt: skip
    spec = parse_factor_model(data)
    n = 200_000
    prices = factor_model_prices(spec, n, 60, random_streams(8).price)[0]
    sample = np.corrcoef(np.diff(np.log(prices), axis=1))
    theory = theoretical_log_return_correlation(spec)
    idio = spec.idiosyncratic_vol_per_year()
    expected = (1.3 * 0.25 - 0.5 * idio[0] * idio[1]) / (0.55 * 0.75)
    assert theory[0, 1] == pytest.approx(expected)
    assert abs(sample[0, 1] - theory[0, 1]) <= 5 * (1 - theory[0, 1] ** 2) / math.sqrt(n)


def test_shocks_per_asset_and_common_hit_their_targets():
    # No randomness: vol 0, so the path is the shock schedule alone.
    spec = parse_factor_model(
        {
            "factor": {"vol_per_year": 0.0},
            "assets": [
                {"symbol": s, "start_price_usd": p, "vol_per_year": 0.0}
                for s, p in (("BTC", 100.0), ("ETH", 10.0), ("SOL", 5.0), ("ALT", 1.0))
            ],
            "shocks": [
                # October 10, 2025 within 45 one-minute steps, half recovered over an hour.
                {"step": 100, "over_steps": 45, "recovery_fraction": 0.5, "recovery_steps": 60,
                 "fall_fraction": {"BTC": 0.12, "ETH": 0.16, "SOL": 0.31, "ALT": 0.8}},
                {"step": 10, "fall_fraction": 0.05, "over_steps": 2},  # every asset
            ],
        }
    )  # fmt: skip
    prices = factor_model_prices(spec, 300, 60, random_streams(0).price)[0]
    start = np.array([100.0, 10.0, 5.0, 1.0])
    falls = np.array([0.12, 0.16, 0.31, 0.8])
    np.testing.assert_allclose(prices[:, 9], start)
    np.testing.assert_allclose(prices[:, 12], start * 0.95)
    np.testing.assert_allclose(prices[:, 145], start * 0.95 * (1 - falls))
    np.testing.assert_allclose(prices[:, 300], start * 0.95 * (1 - falls * 0.5))


def test_an_asset_s_own_shock_leaves_the_others_alone():
    spec = parse_factor_model(
        {
            "factor": {"vol_per_year": 0.0},
            "assets": [
                {"symbol": "BTC", "start_price_usd": 100.0, "vol_per_year": 0.0},
                {"symbol": "SOL", "start_price_usd": 5.0, "vol_per_year": 0.0,
                 "shocks": [{"step": 3, "fall_fraction": 0.31, "over_steps": 2}]},
            ],
        }
    )  # fmt: skip
    prices = factor_model_prices(spec, 10, 60, random_streams(0).price)[0]
    assert np.all(prices[0] == 100.0)
    assert prices[1, 5] == pytest.approx(5.0 * 0.69)


def _csv(write, text):
    return write("prices.csv", text)


def test_csv_replay_has_one_column_per_asset_and_aggregates_like_the_single_csv(write):
    path = _csv(
        write,
        "timestamp,btc,ETH,DOGE\n0,100,10,1\n30,90,11,1\n60,95,9,1\n90,80,12,1\n120,85,8,1\n",
    )
    spec = MultiAssetCsvPath(kind="csv", path=path, aggregate="min")
    prices = multi_asset_csv_prices(spec, ["BTC", "ETH"], 2, 60)
    assert prices.tolist() == [[100.0, 90.0, 80.0], [10.0, 9.0, 8.0]]
    notes = multi_asset_csv_notes(spec, ["BTC", "ETH"], 2, 60)
    assert any(n.startswith("price_paths BTC:") and "by min" in n for n in notes)
    assert notes[-1].endswith("columns DOGE of " + str(path) + " are not used")


def test_csv_shorter_than_the_run_needs_hold_last(write):
    path = _csv(write, "timestamp,BTC,ETH\n0,100,10\n60,90,9\n")
    with pytest.raises(PricePathError, match="hold_last"):
        multi_asset_csv_prices(MultiAssetCsvPath(kind="csv", path=path), ["BTC", "ETH"], 3, 60)
    held = multi_asset_csv_prices(
        MultiAssetCsvPath(kind="csv", path=path, hold_last=True), ["BTC", "ETH"], 3, 60
    )
    assert held.tolist() == [[100.0, 90.0, 90.0, 90.0], [10.0, 9.0, 9.0, 9.0]]


def test_csv_missing_an_asset_s_column_is_named(write):
    path = _csv(write, "timestamp,BTC,ETH\n0,100,10\n60,90,9\n")
    with pytest.raises(PricePathError, match=r"no column for asset SOL \(header: timestamp,BTC"):
        multi_asset_csv_prices(MultiAssetCsvPath(kind="csv", path=path), ["BTC", "SOL"], 1, 60)


@pytest.mark.parametrize(
    "text, message",
    [
        ("timestamp,BTC,btc\n0,1,2\n", "column BTC appears twice"),
        ("timestamp,BTC\n0,1\n60,-2\n", ":3: BTC must be a positive number"),
        ("timestamp,BTC\n0,1\n0,2\n", ":3: timestamps must be strictly increasing"),
        ("time,BTC\n0,1\n", "no timestamp column"),
    ],
)
def test_bad_csv_cells_and_headers_are_named(write, text, message):
    path = _csv(write, text)
    with pytest.raises(Exception, match=message) as info:
        multi_asset_csv_prices(MultiAssetCsvPath(kind="csv", path=path), ["BTC"], 1, 60)
    assert getattr(info.value, "exit_code", None) == 2


def test_csv_asset_listed_twice_is_refused(write):
    path = _csv(write, "timestamp,BTC\n0,1\n60,2\n")
    with pytest.raises(PricePathError, match="asset BTC is listed twice"):
        multi_asset_csv_prices(MultiAssetCsvPath(kind="csv", path=path), ["BTC", "BTC"], 1, 60)


def _asset(symbol, **extra):
    return {"symbol": symbol, "start_price_usd": 1.0, **extra}


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"factor": {"vol_per_year": 0.5},
             "assets": [_asset("BTC", beta=2.0, vol_per_year=0.6)]},
            "asset BTC: beta 2 is out of range",
        ),
        ({"assets": [_asset("BTC", beta=11.0, vol_per_year=50)]}, "beta 11 is out of range"),
        (
            {"assets": [_asset("BTC"), _asset("ETH")],
             "idiosyncratic_correlations": [{"assets": ["BTC", "ETH"], "correlation": 1.2}]},
            r"idiosyncratic_correlations\[0\].correlation must be <= 1",
        ),
        (
            {"assets": [_asset("A"), _asset("B"), _asset("C")],
             "idiosyncratic_correlations": [
                 {"assets": ["A", "B"], "correlation": 0.9},
                 {"assets": ["B", "C"], "correlation": 0.9},
                 {"assets": ["A", "C"], "correlation": -0.9}]},
            "not positive semi-definite",
        ),
        (
            {"assets": [_asset("BTC")],
             "idiosyncratic_correlations": [{"assets": ["BTC", "SOL"], "correlation": 0.1}]},
            "unknown asset SOL",
        ),
        ({"assets": [_asset("BTC"), _asset("BTC")]}, "asset BTC is listed twice"),
        (
            {"assets": [_asset("BTC")],
             "shocks": [{"step": 1, "fall_fraction": {"SOL": 0.3}}]},
            r"shocks\[0\]: unknown asset SOL",
        ),
        ({"assets": [_asset("BTC", vol_per_year=-0.1)]}, r"assets\[0\].vol_per_year must be >= 0"),
        ({"factor": {"vol_per_year": -1}, "assets": [_asset("BTC")]}, r"factor.vol_per_year must be >= 0"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_naming_it(data, message):
    with pytest.raises(PricePathError, match=message) as info:
        parse_factor_model(data)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


# -- a scenario's prices: (steps + 1, M) -------------------------------------------------------


def _scenario(**extra):
    from simulator.scenario import parse_scenario

    data = {
        "name": "m",
        "seed": 11,
        "steps": 40,
        "markets": [
            {"symbol": "BTC", "path": {"start_price_usd": 100.0, "beta": 1.0, "vol_per_year": 0.6}},
            {"symbol": "SOL", "path": {"start_price_usd": 20.0, "beta": 1.4, "vol_per_year": 0.9,
                                       "shocks": [{"step": 10, "fall_fraction": 0.3}]}},
            {"symbol": "ALT"},
        ],
        "traders": {"kind": "random", "count": 5},
        "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.5},
                       "shocks": [{"step": 20, "fall_fraction": {"BTC": 0.1}}]},
        **extra,
    }  # fmt: skip
    return parse_scenario(data)


def test_scenario_prices_of_a_factor_model_are_its_assets_as_columns():
    from simulator.pricepaths import scenario_prices

    scenario = _scenario()
    prices = scenario_prices(scenario, random_streams(3).price)
    assert prices.shape == (41, 3)
    expected = factor_model_prices(scenario.factor_model(), 40, 60, random_streams(3).price)[0]
    np.testing.assert_array_equal(prices, expected.T)
    assert prices[0].tolist() == [100.0, 20.0, 1.0]  # ALT: the preset's price
    # SOL's own shock and BTC's common shock, on top of the noise
    assert prices[11, 1] / prices[10, 1] < 0.75 and prices[21, 0] / prices[20, 0] < 0.93


def test_a_one_market_gbm_scenario_gives_todays_path_as_one_column():
    from simulator.pricepaths import scenario_prices
    from simulator.scenario import load_scenario

    scenario = load_scenario("calm", ["steps=50"])
    prices = scenario_prices(scenario, random_streams(4).price)
    assert prices.shape == (51, 1)
    np.testing.assert_array_equal(
        prices[:, 0], exogenous_prices(scenario.price_path, 50, 60, random_streams(4).price)
    )


def test_sample_scenario_paths_row_i_is_the_run_of_path_seed_i():
    from simulator.pricepaths import sample_scenario_paths, scenario_prices
    from simulator.scenario import path_seeds

    scenario = _scenario()
    paths = sample_scenario_paths(scenario, 3)
    assert paths.shape == (3, 41, 3)
    for i, seed in enumerate(path_seeds(scenario.seed, 3)):
        np.testing.assert_array_equal(
            paths[i], scenario_prices(scenario, random_streams(seed).price)
        )
    assert not np.array_equal(paths[0], paths[1])
    with pytest.raises(PricePathError, match="n_paths must be >= 1"):
        sample_scenario_paths(scenario, 0)


def test_scenario_prices_of_a_multi_column_csv(write):
    from simulator.pricepaths import scenario_prices

    path = write("p.csv", "timestamp,ALT,BTC,SOL\n" + "".join(
        f"{60 * k},{1 + k},{100 + k},{20 - k / 10}\n" for k in range(41)))  # fmt: skip
    scenario = _scenario(price_path={"kind": "csv", "path": str(path)},
                         markets=[{"symbol": "BTC"}, {"symbol": "SOL"}, {"symbol": "ALT"}])  # fmt: skip
    prices = scenario_prices(scenario, None)
    assert prices.shape == (41, 3)
    assert prices[5].tolist() == [105.0, 19.5, 6.0]  # market order, not file order


def test_oracle_faults_per_market_give_one_column_each():
    from simulator.pricepaths import OracleFaultSchedule
    from simulator.scenario import BadPrintFault, LagFault, StaleFault

    faults = [
        StaleFault(kind="stale", start_step=2, end_step=4, market="SOL"),
        LagFault(kind="lag", steps=2, start_step=5, end_step=7),
        BadPrintFault(kind="bad_print", step=8, price_usd=1.0, market="BTC"),
    ]
    s = OracleFaultSchedule.from_faults(faults, 10, ["BTC", "SOL"])
    assert s.lag_steps.shape == s.updates.shape == s.bad_print_usd.shape == (11, 2)
    assert s.updates[:, 0].all() and s.updates[2:4, 1].tolist() == [False, False]
    assert s.lag_steps[5:7].tolist() == [[2, 2], [2, 2]]  # market None: every market
    assert s.bad_print_usd[8, 0] == 1.0 and np.isnan(s.bad_print_usd[8, 1])
    source = np.column_stack([np.arange(11.0) + 100, np.arange(11.0) + 20])
    assert np.isnan(s.feed_markets(3, source)[1]) and s.feed_markets(3, source)[0] == 103
    assert s.feed_markets(6, source).tolist() == [104.0, 24.0]
    assert s.feed_markets(8, source).tolist() == [1.0, 28.0]
    # one column per market agrees with the one-feed schedule of that market's faults
    for m, symbol in enumerate(["BTC", "SOL"]):
        own = [f for f in faults if f.market in (None, symbol)]
        one = OracleFaultSchedule.from_faults(own, 10)
        for t in range(11):
            fed = one.feed(t, source[:, m])
            assert (fed is None and np.isnan(s.feed_markets(t, source)[m])) or (
                fed == s.feed_markets(t, source)[m]
            )
    with pytest.raises(PricePathError, match="market ETH, which is not listed"):
        OracleFaultSchedule.from_faults(
            [StaleFault(kind="stale", start_step=1, end_step=2, market="ETH")], 5, ["BTC"]
        )
