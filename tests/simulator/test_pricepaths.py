"""Exogenous price paths, scheduled shocks, CSV replay, path sampling and oracle faults."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.pricepaths import (
    SECONDS_PER_YEAR,
    OracleFaultSchedule,
    PricePathError,
    _apply_oracle_faults_python,
    _gbm_draws,
    _gbm_from_draws,
    _gbm_from_draws_python,
    _resample_forward_fill_python,
    _shock_log_multipliers_python,
    apply_oracle_faults,
    exogenous_prices,
    resample_forward_fill,
    sample_paths,
    shock_log_multipliers,
)
from simulator.scenario import (
    BadPrintFault,
    CsvPath,
    GbmPath,
    LagFault,
    ListPath,
    ScenarioError,
    Shock,
    StaleFault,
    load_scenario,
    path_seeds,
    random_streams,
)


def gbm(**kw) -> GbmPath:
    return GbmPath(kind="gbm", **{"start_price_usd": 100.0, **kw})


# -- GBM ---------------------------------------------------------------------------------------


def test_gbm_path_has_steps_plus_one_positive_prices_starting_at_the_start_price():
    prices = exogenous_prices(gbm(vol_per_year=1.0), 500, 60, np.random.default_rng(0))
    assert prices.shape == (501,)
    assert prices[0] == 100.0
    assert np.all(prices > 0)


def test_same_seed_gives_identical_paths_and_other_seeds_differ():
    spec = gbm(vol_per_year=0.8, jump_intensity_per_day=10, jump_std=0.02)
    a = exogenous_prices(spec, 300, 60, np.random.default_rng(42))
    b = exogenous_prices(spec, 300, 60, np.random.default_rng(42))
    c = exogenous_prices(spec, 300, 60, np.random.default_rng(43))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_zero_volatility_path_is_the_drift_exactly():
    prices = exogenous_prices(gbm(vol_per_year=0.0, drift_per_year=0.5), 10, 3600, None or
                              np.random.default_rng(0))  # fmt: skip
    k = np.arange(11)
    expected = 100.0 * np.exp(0.5 * k * 3600 / SECONDS_PER_YEAR)
    np.testing.assert_allclose(prices, expected, rtol=1e-12)


def test_gbm_volatility_matches_the_spec():
    step_seconds = 60
    prices = exogenous_prices(gbm(vol_per_year=0.6), 200_000, step_seconds,
                              np.random.default_rng(1))  # fmt: skip
    log_returns = np.diff(np.log(prices))
    expected = 0.6 * math.sqrt(step_seconds / SECONDS_PER_YEAR)
    assert log_returns.std() == pytest.approx(expected, rel=0.02)


def test_jumps_arrive_at_the_given_intensity():
    spec = gbm(vol_per_year=0.0, jump_intensity_per_day=24.0, jump_mean=-0.01, jump_std=0.0)
    prices = exogenous_prices(spec, 100_000, 60, np.random.default_rng(2))
    jumps = np.sum(np.diff(np.log(prices)) < -0.005)
    expected = 24.0 * 100_000 * 60 / 86_400  # about 1,667 (a few steps have two jumps)
    assert jumps == pytest.approx(expected, rel=0.06)


def test_gbm_kernel_agrees_with_the_python_reference():
    spec = gbm(
        vol_per_year=0.9,
        drift_per_year=0.3,
        jump_intensity_per_day=50,
        jump_mean=-0.01,
        jump_std=0.02,
        shocks=[
            Shock(step=10, fall_fraction=0.3, over_steps=5, recovery_fraction=0.4,
                  recovery_steps=7),
            Shock(step=40, fall_fraction=-0.2, over_steps=3),
        ],
    )  # fmt: skip
    draws = _gbm_draws(spec, 60, 300, np.random.default_rng(3))
    fast = _gbm_from_draws(spec, 300, *draws)
    slow = _gbm_from_draws_python(spec, 300, *draws)
    np.testing.assert_allclose(fast, slow, rtol=1e-10)
    assert draws[1].sum() > 0  # the draw really contained jumps


def test_gbm_without_generator_is_an_error():
    with pytest.raises(PricePathError, match="needs a numpy Generator"):
        exogenous_prices(gbm(), 5, 60, None)


def test_overflowing_gbm_is_a_one_line_error():
    spec = gbm(drift_per_year=100, vol_per_year=0)
    with pytest.raises(PricePathError, match="overflowed"):
        exogenous_prices(spec, 100_000, 86_400, np.random.default_rng(0))


@pytest.mark.parametrize(("steps", "step_seconds"), [(0, 60), (5, 0), (-1, 60)])
def test_bad_grid_is_an_error(steps, step_seconds):
    with pytest.raises(PricePathError):
        exogenous_prices(gbm(), steps, step_seconds, np.random.default_rng(0))


# -- shocks ------------------------------------------------------------------------------------


def test_shock_falls_then_partially_recovers():
    shock = Shock(step=10, fall_fraction=0.2, over_steps=5, recovery_fraction=0.5,
                  recovery_steps=10)  # fmt: skip
    m = np.exp(shock_log_multipliers([shock], 40))
    assert m[10] == 1.0
    assert m[15] == pytest.approx(0.8)
    assert np.all(np.diff(m[10:16]) < 0)
    assert m[25] == pytest.approx(0.9)  # half of the 20% fall recovered
    assert np.all(m[25:] == pytest.approx(0.9))


def test_negative_fall_is_a_rise():
    m = np.exp(shock_log_multipliers([Shock(step=0, fall_fraction=-0.5, over_steps=2)], 3))
    assert m.tolist() == pytest.approx([1.0, math.sqrt(1.5), 1.5, 1.5])


def test_shock_multipliers_agree_with_the_python_reference():
    rng = np.random.default_rng(4)
    for _ in range(30):
        shocks = [
            Shock(
                step=int(rng.integers(0, 50)),
                fall_fraction=float(rng.uniform(-0.9, 0.9)) or 0.1,
                over_steps=int(rng.integers(1, 20)),
                recovery_fraction=float(rng.uniform(0, 1)),
                recovery_steps=int(rng.integers(1, 30)),
            )
            for _ in range(int(rng.integers(1, 4)))
        ]
        np.testing.assert_allclose(
            shock_log_multipliers(shocks, 80), _shock_log_multipliers_python(shocks, 80),
            atol=1e-12,
        )  # fmt: skip


def test_oct_2025_paths_fall_by_each_assets_october_move_within_45_minutes_then_recover_partly():
    from simulator.pricepaths import scenario_prices

    scenario = load_scenario("oct-2025")
    prices = scenario_prices(scenario, random_streams(0).price)
    assert prices.shape == (scenario.steps + 1, 5)
    step = scenario.price_path.shocks[0].step
    before = prices[step]
    bottom = prices[step : step + 46].min(axis=0)
    fall = 1 - bottom / before
    # BTC -12%, ETH -16%, SOL -31%, DOGE -70%, ALT -85%, give or take the market's own noise
    np.testing.assert_allclose(fall, [0.12, 0.16, 0.31, 0.70, 0.85], atol=0.04)
    assert np.all(bottom < prices[-1]) and np.all(prices[-1] < before)


# -- CSV and list paths ------------------------------------------------------------------------


def test_csv_path_is_forward_filled_onto_the_step_grid(write):
    path = write("p.csv", "timestamp,price\n1000,10\n1030,11\n1130,12\n1200,13\n")
    prices = exogenous_prices(CsvPath(kind="csv", path=path, hold_last=True), 5, 60, None)
    # grid: 1000 1060 1120 1180 1240 1300 -> last observation at or before each (the file
    # ends at 1200: hold_last holds 13 for the last two steps)
    assert prices.tolist() == [10.0, 11.0, 11.0, 12.0, 13.0, 13.0]


def test_csv_resampling_agrees_with_the_python_reference():
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.uniform(1, 200, 300))
    prices = rng.uniform(1, 100, 300)
    for step_seconds in (7, 60, 450):
        np.testing.assert_array_equal(
            resample_forward_fill(times, prices, 120, step_seconds),
            _resample_forward_fill_python(times, prices, 120, step_seconds),
        )


def test_missing_csv_path_is_a_one_line_error(tmp_path):
    with pytest.raises(ScenarioError, match="CSV file not found"):
        exogenous_prices(CsvPath(kind="csv", path=tmp_path / "x.csv"), 3, 60, None)


def test_list_path_is_truncated_to_steps_plus_one():
    spec = ListPath(kind="list", prices_usd=[5, 4, 3, 2, 1])
    assert exogenous_prices(spec, 2, 60, None).tolist() == [5.0, 4.0, 3.0]
    with pytest.raises(PricePathError, match="needs at least 6"):
        exogenous_prices(spec, 5, 60, None)


# -- sample_paths ------------------------------------------------------------------------------


def test_sample_paths_rows_are_the_runs_of_the_path_seeds():
    spec = gbm(vol_per_year=1.0)
    paths = sample_paths(spec, 5, 50, 60, seed=9)
    assert paths.shape == (5, 51)
    for i, child in enumerate(path_seeds(9, 5)):
        expected = exogenous_prices(spec, 50, 60, random_streams(child).price)
        np.testing.assert_array_equal(paths[i], expected)
    assert len({row.tobytes() for row in paths}) == 5
    np.testing.assert_array_equal(paths, sample_paths(spec, 5, 50, 60, seed=9))


def test_sample_paths_of_a_deterministic_path_repeat_it():
    spec = ListPath(kind="list", prices_usd=[3, 2, 1])
    assert sample_paths(spec, 3, 2, 60, seed=0).tolist() == [[3.0, 2.0, 1.0]] * 3
    with pytest.raises(PricePathError):
        sample_paths(spec, 0, 2, 60, seed=0)


# -- oracle faults -----------------------------------------------------------------------------


PRICES = np.arange(1.0, 11.0)  # 10 step boundaries: 1, 2, ..., 10


def test_no_faults_feed_the_price_unchanged():
    oracle, mask = apply_oracle_faults(PRICES, [])
    assert oracle.tolist() == PRICES.tolist()
    assert mask.all()


def test_lag_posts_the_price_of_k_steps_ago_within_its_window():
    fault = LagFault(kind="lag", steps=2, start_step=3, end_step=6)
    oracle, mask = apply_oracle_faults(PRICES, [fault])
    assert oracle.tolist() == [1, 2, 3, 2, 3, 4, 7, 8, 9, 10]
    assert mask.all()


def test_lag_from_the_start_clamps_at_step_zero():
    oracle, _ = apply_oracle_faults(PRICES, [LagFault(kind="lag", steps=3)])
    assert oracle.tolist() == [1, 1, 1, 1, 2, 3, 4, 5, 6, 7]


def test_stale_window_holds_the_last_posted_price():
    oracle, mask = apply_oracle_faults(PRICES, [StaleFault(kind="stale", start_step=4, end_step=7)])
    assert oracle.tolist() == [1, 2, 3, 4, 4, 4, 4, 8, 9, 10]
    assert mask.tolist() == [True] * 4 + [False] * 3 + [True] * 3


def test_bad_print_is_one_wrong_price():
    oracle, mask = apply_oracle_faults(
        PRICES, [BadPrintFault(kind="bad_print", step=5, price_usd=0.5)]
    )
    assert oracle.tolist() == [1, 2, 3, 4, 5, 0.5, 7, 8, 9, 10]
    assert mask.all()


def test_bad_print_inside_a_stale_window_is_not_posted_but_one_before_is_held():
    faults = [
        BadPrintFault(kind="bad_print", step=3, price_usd=99.0),
        BadPrintFault(kind="bad_print", step=5, price_usd=0.1),
        StaleFault(kind="stale", start_step=4, end_step=6),
    ]
    oracle, _ = apply_oracle_faults(PRICES, faults)
    assert oracle.tolist() == [1, 2, 3, 99, 99, 99, 7, 8, 9, 10]


def test_step_zero_is_always_posted():
    oracle, mask = apply_oracle_faults(PRICES, [StaleFault(kind="stale", start_step=0,
                                                           end_step=3)])  # fmt: skip
    assert mask.tolist()[:4] == [True, False, False, True]
    assert oracle.tolist()[:4] == [1, 1, 1, 4]


def test_oracle_faults_agree_with_the_python_reference_on_random_fault_sets():
    rng = np.random.default_rng(6)
    prices = rng.uniform(50, 150, 61)
    for _ in range(50):
        faults = []
        for _ in range(int(rng.integers(1, 5))):
            kind = rng.choice(["lag", "stale", "bad_print"])
            a = int(rng.integers(0, 55))
            if kind == "lag":
                end = None if rng.random() < 0.3 else a + int(rng.integers(1, 20))
                faults.append(LagFault(kind="lag", steps=int(rng.integers(1, 8)),
                                       start_step=a, end_step=end))  # fmt: skip
            elif kind == "stale":
                faults.append(StaleFault(kind="stale", start_step=a,
                                         end_step=a + int(rng.integers(1, 10))))  # fmt: skip
            else:
                faults.append(BadPrintFault(kind="bad_print", step=a,
                                            price_usd=float(rng.uniform(1, 500))))  # fmt: skip
        fast_oracle, fast_mask = apply_oracle_faults(prices, faults)
        slow_oracle, slow_mask = _apply_oracle_faults_python(prices, faults)
        np.testing.assert_array_equal(fast_oracle, slow_oracle)
        np.testing.assert_array_equal(fast_mask, slow_mask)


def test_schedule_feed_step_by_step_matches_the_whole_path():
    faults = [
        LagFault(kind="lag", steps=2, start_step=2, end_step=8),
        StaleFault(kind="stale", start_step=5, end_step=7),
        BadPrintFault(kind="bad_print", step=8, price_usd=42.0),
    ]
    schedule = OracleFaultSchedule.from_faults(faults, len(PRICES) - 1)
    oracle, mask = apply_oracle_faults(PRICES, faults)
    held = None
    for step in range(len(PRICES)):
        # The engine only knows the source prices up to the current step.
        posted = schedule.feed(step, PRICES[: step + 1])
        assert (posted is not None) == mask[step]
        held = posted if posted is not None else held
        assert held == oracle[step]
    assert schedule.steps == 9
    assert not schedule.updates.flags.writeable


def test_oracle_faults_need_a_path():
    with pytest.raises(PricePathError):
        apply_oracle_faults(np.array([1.0]), [])


# -- CSV aggregation and coverage ------------------------------------------------------------


@pytest.mark.parametrize("aggregate", ["last", "min", "max", "mean"])
def test_csv_aggregation_agrees_with_the_python_reference(aggregate):
    from simulator.pricepaths import _resample_csv_python, resample_csv

    rng = np.random.default_rng(11)
    times = np.cumsum(rng.uniform(0.5, 200, 400))
    prices = rng.uniform(1, 100, 400)
    for step_seconds in (7, 60, 450):
        steps = int((times[-1] - times[0]) // step_seconds) + 3  # a little past the end
        np.testing.assert_allclose(
            resample_csv(times, prices, steps, step_seconds, aggregate),
            _resample_csv_python(times, prices, steps, step_seconds, aggregate),
            rtol=1e-12,
        )


def test_csv_last_is_the_forward_fill():
    from simulator.pricepaths import resample_csv

    rng = np.random.default_rng(12)
    times = np.cumsum(rng.uniform(1, 200, 300))
    prices = rng.uniform(1, 100, 300)
    for step_seconds in (7, 60, 450):
        np.testing.assert_array_equal(
            resample_csv(times, prices, 120, step_seconds, "last"),
            resample_forward_fill(times, prices, 120, step_seconds),
        )


def test_csv_rows_inside_a_step_follow_the_rule(write):
    # Rows every 10 s, steps of 60 s: step 1 holds 10..60 s, with a dip to 70 at 30 s.
    rows = [(10 * k, 100.0) for k in range(13)]
    rows[3] = (30, 70.0)
    rows[9] = (90, 130.0)
    path = write("p.csv", "timestamp,price\n" + "".join(f"{t},{p}\n" for t, p in rows))

    def prices(aggregate):
        spec = CsvPath(kind="csv", path=path, aggregate=aggregate)
        return exogenous_prices(spec, 2, 60, None).tolist()

    assert prices("last") == [100.0, 100.0, 100.0]
    assert prices("min") == [100.0, 70.0, 100.0]
    assert prices("max") == [100.0, 100.0, 130.0]
    assert prices("mean") == [100.0, 95.0, 105.0]


def test_a_csv_shorter_than_the_run_is_a_price_path_error(write):
    from simulator.pricepaths import PricePathError

    path = write("p.csv", "timestamp,price\n0,10\n60,11\n120,12\n")
    with pytest.raises(PricePathError) as excinfo:
        exogenous_prices(CsvPath(kind="csv", path=path), 3, 60, None)
    text = str(excinfo.value)
    assert "covers 120 s (3 rows" in text and "needs 180 s (3 steps × 60 s)" in text
    assert "hold_last" in text
    held = exogenous_prices(CsvPath(kind="csv", path=path, hold_last=True), 3, 60, None)
    assert held.tolist() == [10.0, 11.0, 12.0, 12.0]
    assert exogenous_prices(CsvPath(kind="csv", path=path), 2, 60, None).tolist() == [10, 11, 12]
