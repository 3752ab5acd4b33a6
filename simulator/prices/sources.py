"""The oracle as a weighted median of price sources (pure numpy, no chain, no scenario).

Hyperliquid's validators publish a weighted median of spot prices on Binance, OKX, Bybit,
Kraken, Kucoin, Gate, MEXC and Hyperliquid's own spot, weights 3, 2, 2, 1, 1, 1, 1, 1
(shared/REFERENCES.md, "Oracle and mark"). perpsim's oracle does the same per market: each
outside venue posts the *outside* price (the exogenous path moved by forced selling,
:mod:`simulator.prices.impact`) of ``lag`` steps ago times its own noise, the local spot AMM
posts its last price, and the oracle is their :func:`lower_weighted_median`.

**Lower weighted median.** Sort the values ascending (ties in value keep their source order);
with weights ``w`` (each >= 0, their sum ``W`` > 0) and cumulative weights ``c_i = w_(1) + ...
+ w_(i)`` in that order, the lower weighted median is the value ``v_(i)`` of the *first* ``i``
with ``2 c_i >= W``. When some ``c_i`` equals exactly ``W / 2`` (an even split, e.g. two
sources of equal weight) the lower of the two middle values is taken, never their average: the
oracle posts a price one of its sources posted. A zero-weight source never decides the median
(its ``c_i`` equals its predecessor's, which reached the half first).
"""

from __future__ import annotations

import numpy as np


def lower_weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The lower weighted median (see the module docstring) along axis 0.

    Parameters
    ----------
    values : array (K,) or (K, M)
        K sources' values (USD), one column per market; no NaN.
    weights : array (K,)
        The sources' weights (>= 0, sum > 0; any unit, only ratios matter).

    Returns
    -------
    float or array (M,)
        Per column, the value of the first sorted source whose cumulative weight reaches half
        of the total.

    Raises
    ------
    ValueError
        A negative, NaN or all-zero weight, a NaN value, or shapes that do not match.

    Examples
    --------
    >>> float(lower_weighted_median(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4)))  # even split
    2.0
    >>> float(lower_weighted_median(np.array([10.0, 1.0, 2.0]), np.array([3.0, 1.0, 1.0])))
    10.0
    """
    values = np.asarray(values, dtype=np.float64)
    weights = checked_weights(weights)
    if weights.ndim != 1 or len(weights) != values.shape[0]:
        raise ValueError(
            f"weights of shape {weights.shape} do not match values of shape {values.shape}"
        )
    if np.isnan(values).any():
        raise ValueError("a source value is NaN")
    if values.ndim == 2:
        return lower_weighted_median_columns(values, weights, float(weights.sum()))
    order = np.argsort(values, axis=0, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=0)
    cumulative = np.cumsum(weights[order], axis=0)
    first = np.argmax(2.0 * cumulative >= weights.sum(), axis=0)
    return np.take_along_axis(sorted_values, np.expand_dims(first, 0), axis=0)[0]


def checked_weights(weights: np.ndarray) -> np.ndarray:
    """``weights`` as float64, after the checks :func:`lower_weighted_median` makes of them.

    Raises
    ------
    ValueError
        A negative or NaN weight, or all of them 0.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if np.isnan(weights).any() or (weights < 0).any() or not weights.sum() > 0:
        raise ValueError("weights must be >= 0, not NaN, and not all 0")
    return weights


def lower_weighted_median_columns(
    values: np.ndarray, weights: np.ndarray, total_weight: float
) -> np.ndarray:
    """:func:`lower_weighted_median` of a (K, M) float64 array without its checks: the
    oracle's kernel, called every step with weights checked once (:func:`checked_weights`,
    ``total_weight`` their sum) on values it knows to be free of NaN. The same sort (stable),
    cumulative sum and comparison, gathered by plain indexing instead of
    ``np.take_along_axis`` (whose Python wrapper costs more than the sort on a few sources).
    ``tests/engine/test_oracle_kernels.py`` holds it to the checked function bit for bit.

    Parameters
    ----------
    values : array (K, M)
        K sources' values (USD), one column per market; no NaN.
    weights : array (K,)
        The sources' weights, checked.
    total_weight : float
        ``weights.sum()``.
    """
    order = values.argsort(axis=0, kind="stable")  # the array methods np.argsort & co. call
    columns = np.arange(values.shape[1])
    cumulative = weights[order].cumsum(axis=0)
    first = (2.0 * cumulative >= total_weight).argmax(axis=0)
    return values[order[first, columns], columns]


def lagged_rows(t: int, lag_steps: np.ndarray) -> np.ndarray:
    """The step each source reads at step ``t``: ``t - lag``, and step 0 for a lag reaching
    before the run (the price before the run is the step-0 price)."""
    return np.maximum(int(t) - np.asarray(lag_steps, dtype=np.int64), 0)


def venue_prices(
    outside_history_usd: np.ndarray,
    t: int,
    lag_steps: np.ndarray,
    noise_bps: np.ndarray,
    normal_draws: np.ndarray | None,
) -> np.ndarray:
    """The outside venues' prices at step ``t``, shape (K, M) (USD).

    Venue ``k`` posts the outside price of step ``t - lag_steps[k]`` (clamped at step 0) of
    every market times ``exp(noise_bps[k] / 1e4 · z[k, m])``: its noise is lognormal, the
    standard deviation of its log deviation from the outside price being ``noise_bps[k]``
    basis points, one standard normal draw ``z`` per venue and market per step
    (``normal_draws``, shape (K, M); ``None`` when every ``noise_bps`` is 0).

    Parameters
    ----------
    outside_history_usd : array (steps + 1, M)
        The outside price of every market up to step ``t`` (USD); later rows are not read.
    """
    rows = lagged_rows(t, lag_steps)
    prices = outside_history_usd[rows]  # (K, M)
    if normal_draws is None:
        return prices
    noise = np.asarray(noise_bps, dtype=np.float64)[:, None] / 1e4
    return prices * np.exp(noise * normal_draws)
