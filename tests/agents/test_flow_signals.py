"""The order-flow kernel's market signals (simulator.agents.flow.market_signals) give, bit for
bit, what numpy's ``std`` / ``diff`` / ``max`` formulation gives: the kernel computes the
standard deviations with the same float operations without ``np.std``'s per-call overhead."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.agents import flow


def signals_reference(history: np.ndarray, lookback: int, reference: int):
    """The signals written with ``np.std``, ``np.diff`` and ``np.max`` (ret, drawdown,
    vol_excess)."""
    p = np.asarray(history, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    now = p[-1]
    w = min(lookback, len(p) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = now / p[-1 - w] - 1.0 if w > 0 else np.zeros(p.shape[1])
        drawdown = 1.0 - now / np.max(p[len(p) - 1 - w :], axis=0)
        logret = np.diff(np.log(p[max(0, len(p) - 1 - reference) :]), axis=0)
        short = logret[-lookback:]
        if len(short) >= 2:
            excess = np.where(
                logret.std(axis=0) > 0, short.std(axis=0) / logret.std(axis=0) - 1.0, 0.0
            )
        else:
            excess = np.zeros(p.shape[1])
    clean = lambda x: np.where(np.isfinite(x), x, 0.0)  # noqa: E731
    return clean(ret), np.maximum(clean(drawdown), 0.0), np.maximum(clean(excess), 0.0)


@pytest.mark.parametrize("shape", [(2, 5), (3, 1), (31, 5), (240, 3), (1000, 7)])
def test_std_rows_is_numpys_std_bit_for_bit(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 8, shape[1])
    assert np.array_equal(flow._std_rows(x), x.std(axis=0))
    x[0, 0], x[-1, -1] = np.nan, np.inf  # non-finite entries propagate alike
    with np.errstate(invalid="ignore"):
        assert np.array_equal(flow._std_rows(x), x.std(axis=0), equal_nan=True)


@pytest.mark.parametrize("rows", [1, 2, 3, 20, 31, 32, 241, 500])
def test_market_signals_equal_the_numpy_formulation(rows):
    rng = np.random.default_rng(rows)
    history = 100.0 * np.exp(np.cumsum(0.01 * rng.standard_normal((rows, 4)), axis=0))
    history[:, 3] = 50.0  # a flat market: no volatility at all
    if rows > 5:
        history[rows // 2, 2] = np.nan  # a missing print: no signal from it
    got = flow.market_signals(history, 30, 240)
    want = signals_reference(history, 30, 240)
    for name, a, b in zip(("ret", "drawdown", "vol_excess"), (got.ret, got.drawdown, got.vol_excess), want, strict=True):  # fmt: skip
        assert np.array_equal(a, b), name
