"""The mirror's source median of a step (:func:`simulator.mirror.sim.oracle.source_median_usd`:
the venues' prices and the median in one compiled call after numpy's draws) held bit for bit
to the form it replaced (:func:`old_source_median`: a fresh generator of the step, numpy's
:func:`~simulator.prices.sources.venue_prices` and the weighted median), over every step of
oct-2025's oracle (lagged venues with noise) and on drawn models (lags past the run's start,
no noise, no venue, NaN sources)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.engine.oracle import OracleModel, oracle_model
from simulator.mirror.sim.oracle import source_median_usd
from simulator.prices.sources import lower_weighted_median_columns, venue_prices
from simulator.scenario import load_scenario
from simulator.scenario.randomness import oracle_step_generator


def old_source_median(
    model: OracleModel, history: np.ndarray, amm: np.ndarray, t: int
) -> np.ndarray:
    """The source median as the engines computed it before session 27."""
    k, n_markets = len(model.lag_steps), history.shape[1]
    draws = None
    if (model.noise_bps > 0).any():
        draws = oracle_step_generator(model.stream, t).standard_normal((k, n_markets))
    values = np.empty((k + 1, n_markets))
    values[:k] = venue_prices(history, t, model.lag_steps, model.noise_bps, draws)
    values[k] = amm
    if np.isnan(values).any():
        raise ValueError("a source value is NaN")
    return lower_weighted_median_columns(values, model.weights, model.total_weight)


def test_every_step_of_oct_2025s_oracle_equals_the_old_form():
    model = oracle_model(load_scenario("oct-2025"))
    rng = np.random.default_rng(27)
    steps, n_markets = 1_441, 5
    history = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, (steps, n_markets)), axis=0))
    for t in range(steps):
        amm = history[t] * (1 + rng.normal(0, 0.0005, n_markets))
        got = source_median_usd(model, history, amm, t)
        assert got.tobytes() == old_source_median(model, history, amm, t).tobytes(), t


def test_drawn_models_equal_the_old_form_and_refuse_a_nan_source_alike():
    rng = np.random.default_rng(2705)
    base = oracle_model(load_scenario("oct-2025"))
    checked = refused = 0
    for n in range(1_500):
        k, m = int(rng.integers(0, 7)), int(rng.integers(1, 6))
        weights = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], k + 1)
        if not weights.sum() > 0:
            weights[int(rng.integers(0, k + 1))] = 1.0
        noise = rng.choice([0.0, 2.0, 8.0, 40.0], k) if n % 4 else np.zeros(k)
        model = replace(
            base,
            lag_steps=rng.integers(0, 12, k).astype(np.int64),
            noise_bps=noise.astype(np.float64),
            weights=weights,
            total_weight=float(weights.sum()),
            stream=np.random.SeedSequence(int(rng.integers(0, 2**32)), spawn_key=(3,)),
        )
        t = int(rng.integers(0, 20))
        history = np.where(
            rng.random((t + 1, m)) < 0.3,
            rng.choice([1.0, 100.0, 100.5, np.inf], (t + 1, m)),
            rng.lognormal(4, 1, (t + 1, m)),
        )
        amm = rng.lognormal(4, 1, m)
        if n % 9 == 0:
            if k and n % 2:
                history[int(rng.integers(0, t + 1)), int(rng.integers(0, m))] = np.nan
            else:
                amm[int(rng.integers(0, m))] = np.nan
        with np.errstate(invalid="ignore", over="ignore"):
            try:
                want = old_source_median(model, history, amm, t)
            except ValueError:
                with pytest.raises(ValueError, match="NaN"):
                    source_median_usd(model, history, amm, t)
                refused += 1
                continue
            got = source_median_usd(model, history, amm, t)
        assert got.tobytes() == want.tobytes(), n
        checked += 1
    assert checked > 1_200 and refused > 20
