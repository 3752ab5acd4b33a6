"""The oracle's per-step kernels held to the formulations they replaced, bit for bit on drawn
inputs: the weighted median's unchecked column kernel
(:func:`simulator.prices.sources.lower_weighted_median_columns`) and the source median of a
step (:func:`simulator.engine.oracle.source_median_usd`)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine.oracle import oracle_model, source_median_usd
from simulator.prices.sources import (
    checked_weights,
    lower_weighted_median,
    lower_weighted_median_columns,
    venue_prices,
)
from simulator.scenario import load_scenario
from simulator.scenario.randomness import oracle_step_generator


def take_along_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted median as :func:`lower_weighted_median` computed it before the column
    kernel (``np.take_along_axis`` gathers, the total summed per call)."""
    order = np.argsort(values, axis=0, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=0)
    cumulative = np.cumsum(weights[order], axis=0)
    first = np.argmax(2.0 * cumulative >= weights.sum(), axis=0)
    return np.take_along_axis(sorted_values, np.expand_dims(first, 0), axis=0)[0]


def drawn_cases(n: int):
    """``n`` (values, weights) draws: 1-9 sources, 1-6 columns, ties in value and in
    cumulative weight (values on a coarse grid, weights of a few levels, zeros included)."""
    rng = np.random.default_rng(20261205)
    for _ in range(n):
        k, m = int(rng.integers(1, 10)), int(rng.integers(1, 7))
        if rng.random() < 0.5:
            values = rng.integers(1, 5, size=(k, m)).astype(np.float64) * 25.0
        else:
            values = rng.lognormal(4.0, 0.5, size=(k, m))
        weights = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], size=k)
        if not weights.sum() > 0:
            weights[int(rng.integers(k))] = 1.0
        yield values, weights


def test_the_column_kernel_equals_the_take_along_formulation_bit_for_bit():
    for values, weights in drawn_cases(2_000):
        expected = take_along_median(values, weights)
        w = checked_weights(weights)
        got = lower_weighted_median_columns(values, w, float(w.sum()))
        assert got.tobytes() == expected.tobytes()
        assert lower_weighted_median(values, weights).tobytes() == expected.tobytes()


def test_the_checked_median_still_refuses_bad_weights_and_nan_values():
    with pytest.raises(ValueError, match="weights"):
        checked_weights(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="NaN"):
        lower_weighted_median(np.array([[1.0], [np.nan]]), np.ones(2))


def test_the_source_median_equals_the_vstack_formulation_and_refuses_an_empty_pool():
    scenario = load_scenario("oct-2025")
    model = oracle_model(scenario)
    rng = np.random.default_rng(5)
    n_markets = 5
    history = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (50, n_markets)), axis=0))
    for t in range(50):
        amm = history[t] * (1 + rng.normal(0, 0.002, n_markets))
        draws = oracle_step_generator(model.stream, t).standard_normal(
            (len(model.lag_steps), n_markets)
        )
        venues = venue_prices(history, t, model.lag_steps, model.noise_bps, draws)
        expected = take_along_median(np.vstack([venues, amm[None, :]]), model.weights)
        got = source_median_usd(model, history, amm, t)
        assert got.tobytes() == expected.tobytes()
    amm[2] = np.nan  # an empty pool's price
    with pytest.raises(ValueError, match="NaN"):
        source_median_usd(model, history, amm, 10)
