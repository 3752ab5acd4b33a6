"""The market-making vault's kernel on a few markets, market by market in Python floats
(:func:`simulator.agents.mm_vault._plan_trades_floats`), held to the vectorized formulation
(:func:`~simulator.agents.mm_vault._plan_trades_arrays`) bit for bit on drawn inputs: skews
on both sides, positions over their limits, no skew scale, zero quotes, scarce and negative
free margin, trades below the minimum."""

from __future__ import annotations

import numpy as np

from simulator.agents.mm_vault import (
    VaultQuoteParams,
    _plan_trades_arrays,
    _plan_trades_floats,
    plan_trades,
)


def drawn_case(rng: np.random.Generator):
    m = int(rng.integers(1, 8))
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
    free = float(rng.choice([-1e3, 0.0, 50.0, 1e4, 1e6, 1e9]))
    return crowd, size, skew, price, free, params


def test_the_float_kernel_equals_the_vectorized_one_bit_for_bit():
    rng = np.random.default_rng(2026_12_05)
    traded = unwound = 0
    for _ in range(5_000):
        crowd, size, skew, price, free, params = drawn_case(rng)
        trade, unwind = _plan_trades_floats(crowd, size, skew, price, free, params)
        with np.errstate(all="ignore"):
            ref_trade, ref_unwind = _plan_trades_arrays(crowd, size, skew, price, free, params)
        assert trade.dtype == ref_trade.dtype and unwind.dtype == ref_unwind.dtype
        assert trade.tobytes() == ref_trade.tobytes()
        assert unwind.tobytes() == ref_unwind.tobytes()
        traded += int((trade != 0).sum())
        unwound += int(unwind.sum())
    assert traded > 1_000 and unwound > 100  # the draws reach both kinds of trade


def test_plan_trades_takes_the_vectorized_path_beyond_seven_markets():
    rng = np.random.default_rng(9)
    m = 9
    params = VaultQuoteParams(0.5, np.full(m, 1e6), 1e5, np.full(m, 7e-4), np.full(m, 1e5),
                              np.full(m, 40.0))  # fmt: skip
    crowd = rng.normal(0, 100, m)
    price = np.full(m, 1e4)
    trade, unwind = plan_trades(crowd, np.zeros(m), crowd, price, 1e6, params)
    ref = _plan_trades_arrays(crowd, np.zeros(m), crowd, price, 1e6, params)
    assert trade.tobytes() == ref[0].tobytes() and unwind.tobytes() == ref[1].tobytes()
