"""The oracle's sources (weighted median, venue noise) and the outside market's impact law: pure
functions, and the scenario keys that configure them."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simulator.engine.oracle import oracle_model, source_median_usd
from simulator.prices.impact import decay_per_step, sqrt_impact_log
from simulator.prices.sources import lower_weighted_median, venue_prices
from simulator.scenario import ScenarioError, load_scenario
from simulator.scenario.randomness import oracle_step_generator, random_streams

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "prices"))
from impact_reference import carry_metaorder  # noqa: E402  (the law's per-step form)


def reference_lower_weighted_median(values: list[float], weights: list[float]) -> float:
    """The definition, one column at a time: sort, accumulate, first to reach half."""
    pairs = sorted(zip(values, weights, strict=True), key=lambda p: p[0])
    total, cumulative = sum(weights), 0.0
    for value, weight in pairs:
        cumulative += weight
        if 2 * cumulative >= total:
            return value
    raise AssertionError("unreachable: the weights sum to a positive total")


# -- the weighted median -----------------------------------------------------------------------


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=9).flatmap(
        lambda k: st.tuples(
            arrays(np.float64, (k, 3), elements=st.floats(1e-3, 1e6)),
            arrays(np.float64, (k,), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])),
        )
    )
)
def test_the_weighted_median_matches_the_sort_based_reference(case):
    values, weights = case
    if not weights.sum() > 0:
        weights[0] = 1.0
    got = lower_weighted_median(values, weights)
    for m in range(values.shape[1]):
        assert got[m] == reference_lower_weighted_median(list(values[:, m]), list(weights))


def test_an_even_split_takes_the_lower_middle_value_never_an_average():
    assert lower_weighted_median(np.array([4.0, 1.0, 3.0, 2.0]), np.ones(4)) == 2.0
    assert lower_weighted_median(np.array([10.0, 20.0]), np.array([1.0, 1.0])) == 10.0


def test_the_hyperliquid_weights_let_binance_okx_and_bybit_decide_against_the_rest():
    # 3 + 2 + 2 = 7 of 12: the three big venues at 80k outvote five sources at 100k.
    values = np.array([80.0, 80.0, 80.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    weights = np.array([3, 2, 2, 1, 1, 1, 1, 1], dtype=float)
    assert lower_weighted_median(values, weights) == 80.0
    # ... and the local AMM alone (weight 1) cannot hold the median up after a crash.
    crashed = np.array([10.0] * 7 + [95.0])
    assert lower_weighted_median(crashed, weights) == 10.0


def test_a_zero_weight_source_never_decides_the_median():
    values = np.array([1.0, 2.0, 3.0])
    assert lower_weighted_median(values, np.array([1.0, 0.0, 1.0])) == 1.0
    assert lower_weighted_median(values, np.array([0.0, 0.0, 1.0])) == 3.0


@pytest.mark.parametrize(
    "weights", [[1.0, -1.0], [0.0, 0.0], [1.0, np.nan]], ids=["negative", "zero", "nan"]
)
def test_bad_weights_are_refused(weights):
    with pytest.raises(ValueError, match="weights"):
        lower_weighted_median(np.array([1.0, 2.0]), np.array(weights))


# -- the venues' lag and noise -----------------------------------------------------------------


def test_a_venue_posts_the_outside_price_of_its_lag_clamped_at_step_zero():
    history = np.array([[100.0], [90.0], [80.0], [np.nan]])  # steps 0..2 known
    got = venue_prices(history, 2, np.array([0, 1, 5]), np.zeros(3), None)
    assert got[:, 0].tolist() == [80.0, 90.0, 100.0]


def test_the_noise_is_the_same_for_one_seed_and_step_and_differs_across_steps_and_seeds():
    scenario = load_scenario("oct-2025")
    model = oracle_model(scenario)
    history = np.full((scenario.steps + 1, 5), 100.0)
    amm = np.full(5, 100.0)
    a = source_median_usd(model, history, amm, 7)
    b = source_median_usd(model, history, amm, 7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, source_median_usd(model, history, amm, 8))
    other = oracle_model(scenario.with_overrides(seed=1))
    assert not np.array_equal(a, source_median_usd(other, history, amm, 7))
    # The noise moves the median by a few bps only (2-8 bps venues, 12 weights).
    assert np.all(np.abs(a / 100.0 - 1) < 30e-4)


def test_a_venues_noise_has_the_stated_standard_deviation_in_bps():
    draws = oracle_step_generator(random_streams(3).oracle, 4).standard_normal((1, 20_000))
    prices = venue_prices(np.array([[100.0]]), 0, np.array([0]), np.array([10.0]), draws.T[:, :1])
    assert prices.shape == (20_000, 1)
    assert np.std(np.log(prices / 100.0)) * 1e4 == pytest.approx(10.0, rel=0.03)


def test_the_oracle_stream_is_child_three_and_does_not_move_the_other_streams():
    streams = random_streams(11)
    assert streams.oracle.spawn_key == (3,)
    before = np.random.default_rng(np.random.SeedSequence(11).spawn(3)[0]).random(4)
    assert np.array_equal(streams.price.random(4), before)


# -- the impact law ------------------------------------------------------------------------------


def test_a_sale_lowers_the_price_a_purchase_lifts_it_and_nothing_moves_nothing():
    got = sqrt_impact_log(np.array([1e6, -1e6, 0.0]), 1.0, 0.03, 1e8)
    assert got[0] < 0 < got[1] and got[2] == 0.0
    assert got[0] == pytest.approx(-0.03 * 0.1)


def test_the_impact_grows_with_the_square_root_of_the_size_and_linearly_in_y_and_sigma():
    base = float(sqrt_impact_log(1e6, 1.0, 0.02, 1e9))
    assert float(sqrt_impact_log(4e6, 1.0, 0.02, 1e9)) == pytest.approx(2 * base)
    assert float(sqrt_impact_log(100e6, 1.0, 0.02, 1e9)) == pytest.approx(10 * base)
    assert float(sqrt_impact_log(1e6, 1.0, 0.02, 4e9)) == pytest.approx(base / 2)
    assert float(sqrt_impact_log(1e6, 0.5, 0.04, 1e9)) == pytest.approx(base)


#: The law's inputs of the metaorder tests: 1% of a day's volume moves the price 0.2%.
LAW = {"y": 1.0, "sigma_daily": 0.02, "volume_daily_usd": 1e8}


def _metaorder(sales, share=0.25, half_life=10.0):
    """The (permanent, transient, remembered sale) after ``sales`` (USD, one per step)."""
    p, t, s = np.zeros(1), np.zeros(1), np.zeros(1)
    for q in sales:
        p, t, s = carry_metaorder(p, s, np.array([float(q)]), **LAW, persistent_share=share,
                                  half_life_steps=half_life)  # fmt: skip
    return float(p[0]), float(t[0]), float(s[0])


def test_the_persistent_share_stays_and_the_rest_halves_every_half_life():
    permanent, transient, _ = _metaorder([1e6])
    whole = float(sqrt_impact_log(1e6, **LAW))
    assert permanent == pytest.approx(0.25 * whole) and transient == pytest.approx(0.75 * whole)
    permanent, transient, _ = _metaorder([1e6] + [0] * 10)  # ten quiet steps: one half-life
    assert permanent == pytest.approx(0.25 * whole)
    assert transient == pytest.approx(0.75 * whole / 2)
    assert decay_per_step(1.0) == 0.5


def test_a_sale_spread_over_steps_moves_the_price_like_one_sale_of_the_sum():
    # Before (each step's sale priced alone): ten sales of 1M moved the price sqrt(10) times
    # as far as one sale of 10M.
    once = sum(_metaorder([10e6], half_life=math.inf)[:2])
    spread = sum(_metaorder([1e6] * 10, half_life=math.inf)[:2])
    assert spread == pytest.approx(once) and once == pytest.approx(sqrt_impact_log(10e6, **LAW))
    # With the memory fading in between, each piece meets the law partly anew: more stays
    # (the persistent part is larger) but the whole moves less than the pieces priced alone.
    p_once, _, _ = _metaorder([1e6] * 10, half_life=math.inf)
    p_fading, t_fading, _ = _metaorder([1e6] * 10, half_life=5.0)
    alone = 10 * float(sqrt_impact_log(1e6, **LAW))
    assert p_fading < p_once < 0
    assert alone < p_fading + t_fading < 0


def test_a_purchase_after_a_sale_nets_against_it():
    # Buying back at once what was sold leaves the metaorder flat and no impact: a round trip
    # does not move the price (the marginal impacts telescope).
    permanent, transient, remembered = _metaorder([4e6, -4e6], half_life=math.inf)
    assert remembered == pytest.approx(0.0) and transient == pytest.approx(0.0)
    assert permanent == pytest.approx(0.0)


# -- the scenario keys ---------------------------------------------------------------------------


def test_oct_2025_sigma_defaults_to_the_paths_volatility_and_volume_is_scaled():
    scenario = load_scenario("oct-2025")
    sigma = scenario.outside_sigma_daily()
    assert sigma[0] == pytest.approx(0.35 / np.sqrt(365))  # BTC's path: 35% a year
    over = scenario.with_overrides({"outside_market.markets.BTC.sigma_daily": 0.05})
    assert over.outside_sigma_daily()[0] == 0.05
    assert scenario.outside_volume_daily_usd()[0] == pytest.approx(40e9 * 0.004)


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("oracle_sources.venues[0].weight=-1", "oracle_sources.venues[0].weight"),
        ("oracle_sources.venues[2].lag_steps=-1", "oracle_sources.venues[2].lag_steps"),
        ("oracle_sources.venues[1].noise_bps=.nan", "oracle_sources.venues[1].noise_bps"),
        (
            "oracle_sources={venues: [{name: a, weight: 0}], amm_weight: 0}",
            "must not all be 0",
        ),
        ("outside_market.markets.NOPE.sigma_daily=0.1", "outside_market.markets.NOPE"),
        ("outside_market.half_life_steps=0", "outside_market.half_life_steps"),
        ("amm.permanent_impact=0.5", "outside_market.impact_y"),
        ("markets.BTC.amm.permanent_impact=0.5", "outside_market.impact_y"),
    ],
)
def test_bad_oracle_and_impact_keys_are_one_line_exit_2(perpsim_cmd, tmp_path, override, needle):
    with pytest.raises(ScenarioError, match=needle.replace("[", r"\[").replace(".", r"\.")):
        load_scenario("oct-2025", [override])
    out = tmp_path / "run"
    proc = subprocess.run(
        [perpsim_cmd, "run", "oct-2025", "--out", str(out), "--set", override],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines
    assert not out.exists()
