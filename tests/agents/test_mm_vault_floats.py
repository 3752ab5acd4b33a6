"""The market-making vault's kernel, compiled (:func:`simulator.agents.mm_vault.plan_trades`,
:func:`simulator.engine.mm_vault_jit.plan_trades`), held to its vectorized numpy formulation
(``tests/engine/mm_vault_reference.py``'s :func:`plan_trades_arrays`) bit for bit on drawn
inputs: skews on both sides, positions over their limits, no skew scale, zero quotes, scarce
and negative free margin, trades below the minimum, one market to past numpy's pairwise-sum
block, NaN skews and an empty venue."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.agents.mm_vault import VaultQuoteParams, plan_trades

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from mm_vault_reference import plan_trades_arrays  # noqa: E402


def drawn_case(rng: np.random.Generator):
    m = int(rng.choice([1, 2, 3, 5, 7, 8, 9, 12, 20]))
    price = rng.choice([1.0, 3.7, 150.0, 3500.0, 1e5], m) * rng.uniform(0.5, 1.5, m)
    scale = np.where(rng.random(m) < 0.2, 0.0, rng.uniform(10.0, 1e6, m) / price)
    quote = np.where(rng.random(m) < 0.2, 0.0, rng.uniform(1e-5, 2e-3, m))
    params = VaultQuoteParams(
        participation=float(rng.choice([0.0, 0.3, 0.5, 1.0])),
        limit_usd=rng.choice([1e4, 1e6, 5e7], m),
        max_trade_usd=float(rng.choice([50.0, 1e5, 1e7])),
        quote_fraction=quote if rng.random() < 0.7 else np.float64(quote[0]),
        skew_scale_base=scale,
        max_leverage=rng.choice([3.0, 10.0, 40.0], m),
    )
    crowd = rng.normal(0, 1, m) * 10.0 ** rng.integers(-2, 7, m) / price
    size = np.where(
        rng.random(m) < 0.3, 0.0, rng.normal(0, 1, m) * 10.0 ** rng.integers(0, 8, m) / price
    )
    skew = crowd + size + np.where(rng.random(m) < 0.3, rng.normal(0, 1, m) * 1e3 / price, 0.0)
    if rng.random() < 0.03:
        skew[rng.integers(m)] = np.nan
    free = float(rng.choice([-1e3, 0.0, 50.0, 1e4, 1e6, 1e9]))
    return crowd, size, skew, price, free, params


def test_the_compiled_kernel_equals_the_vectorized_one_bit_for_bit():
    rng = np.random.default_rng(2026_12_05)
    traded = unwound = 0
    for _ in range(5_000):
        crowd, size, skew, price, free, params = drawn_case(rng)
        trade, unwind = plan_trades(crowd, size, skew, price, free, params)
        with np.errstate(all="ignore"):
            ref_trade, ref_unwind = plan_trades_arrays(crowd, size, skew, price, free, params)
        assert trade.dtype == ref_trade.dtype and unwind.dtype == ref_unwind.dtype
        assert trade.tobytes() == ref_trade.tobytes()
        assert unwind.tobytes() == ref_unwind.tobytes()
        traded += int((trade != 0).sum())
        unwound += int(unwind.sum())
    assert traded > 1_000 and unwound > 100  # the draws reach both kinds of trade


def test_plan_trades_on_no_market_plans_nothing():
    params = VaultQuoteParams(0.5, np.zeros(0), 1e5, np.zeros(0), np.zeros(0), np.zeros(0))
    trade, unwind = plan_trades(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), 1e6, params)
    assert trade.shape == unwind.shape == (0,) and unwind.dtype == bool


def test_plan_trades_refuses_prices_that_are_not_one_per_market():
    params = VaultQuoteParams(0.5, np.ones(2), 1e5, np.ones(2), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="one price per market"):
        plan_trades(np.zeros(2), np.zeros(2), np.zeros(2), np.ones((2, 2)), 1e6, params)
