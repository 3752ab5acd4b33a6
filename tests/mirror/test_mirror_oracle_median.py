"""The mirror's oracle median with feedback (:func:`simulator.mirror.sim.oracle.source_median_usd`,
the lower weighted median in one compiled call) held bit for bit to the numpy form it replaced,
:func:`simulator.engine.oracle.source_median_usd` (the chain engine's, unchanged), and to
:func:`simulator.prices.sources.lower_weighted_median` (the checked reference), on drawn
sources: ties (both zeros among them), infinities, zero weights, an even split, one source,
no venue, and a NaN source (refused by both)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.engine.oracle import OracleModel, source_median_usd
from simulator.mirror.sim.oracle import source_median_usd as source_median
from simulator.prices.sources import lower_weighted_median


def _model(rng: np.random.Generator, k: int, m: int) -> OracleModel:
    weights = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], k + 1)
    if not weights.sum() > 0:
        weights[int(rng.integers(0, k + 1))] = 1.0
    noise = rng.choice([0.0, 2.0, 8.0], k) if rng.random() < 0.7 else np.zeros(k)
    return OracleModel(
        lag_steps=rng.integers(0, 4, k).astype(np.int64),
        noise_bps=noise.astype(np.float64),
        weights=weights,
        total_weight=float(weights.sum()),
        stream=np.random.SeedSequence(int(rng.integers(0, 2**32)), spawn_key=(3,)),
        impact_y=0.5,
        persistent_share=0.5,
        half_life_steps=10.0,
        sigma_daily=np.full(m, 0.05),
        volume_daily_usd=np.full(m, 1e9),
    )


def _prices(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Prices with ties: a few levels, both zeros and infinities among them."""
    levels = np.array([0.0, -0.0, 1.0, 100.0, 100.5, 1e5, np.inf, -np.inf, 3e-7])
    x = np.where(rng.random(shape) < 0.5, rng.choice(levels, shape), rng.lognormal(4, 1, shape))
    return x.astype(np.float64)


def test_source_median_equals_the_numpy_form_on_drawn_sources():
    rng = np.random.default_rng(2605)
    checked = 0
    for n in range(3_000):
        k, m = int(rng.integers(0, 9)), int(rng.integers(1, 7))
        model = _model(rng, k, m)
        t = int(rng.integers(0, 6))
        history = _prices(rng, (t + 1, m))
        amm = _prices(rng, (m,))
        nan = n % 10 == 0
        if nan:  # a NaN source: an outside price the venues read, or the AMM's
            if k and rng.random() < 0.5:
                history[max(t - int(model.lag_steps[0]), 0), int(rng.integers(0, m))] = np.nan
            else:
                amm[int(rng.integers(0, m))] = np.nan
        with np.errstate(invalid="ignore", over="ignore"):
            try:
                want = source_median_usd(model, history, amm, t)
            except ValueError as exc:
                assert nan
                with pytest.raises(ValueError, match=str(exc)):
                    source_median(model, history, amm, t)
                continue
            got = source_median(model, history, amm, t)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes(), (n, got, want)
        checked += 1
    assert checked > 2_000


def test_the_median_equals_the_checked_reference_without_noise():
    rng = np.random.default_rng(7)
    for _ in range(2_000):
        k, m = int(rng.integers(0, 9)), int(rng.integers(1, 7))
        model = _model(rng, k, m)
        model = replace(model, noise_bps=np.zeros(k))
        history, amm = _prices(rng, (1, m)), _prices(rng, (m,))
        values = np.vstack([np.repeat(history, k, axis=0), amm[None, :]])
        want = lower_weighted_median(values, model.weights)
        assert source_median(model, history, amm, 0).tobytes() == want.tobytes()
