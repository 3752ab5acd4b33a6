"""The metaorder form of the square-root law one step at a time in Python floats, as
:mod:`simulator.prices.impact` held it before the spot phase was compiled (session 27:
:func:`simulator.engine.jit_spot.plan_step` carries it for every market in one call): the
reference its tests hold it to, and the law's properties are checked on."""

from __future__ import annotations

import math

import numpy as np

from simulator.prices.impact import decay_per_step


def carry_metaorder(
    permanent_log: np.ndarray,
    metaorder_usd: np.ndarray,
    net_sale_usd: np.ndarray,
    y: float,
    sigma_daily: np.ndarray | float,
    volume_daily_usd: np.ndarray | float,
    persistent_share: float,
    half_life_steps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The metaorder form of the law (:mod:`simulator.prices.impact`'s docstring), one step, per market.

    Parameters
    ----------
    permanent_log : array (M,)
        The persistent log impact so far (log-price units).
    metaorder_usd : array (M,)
        The remembered net sale ``S`` after the last step (USD; positive: sold).
    net_sale_usd : array (M,)
        This step's net sale ``q`` (USD; positive: sold, negative: bought).
    y, sigma_daily, volume_daily_usd
        The law's prefactor, daily volatility (fraction), daily volume (USD, > 0), as
        :func:`sqrt_impact_log`.
    persistent_share : float
        Share of each step's marginal impact that stays for the run (fraction).
    half_life_steps : float
        Half-life of the transient impact of a sale left alone (steps).

    Returns
    -------
    (permanent_log, transient_log, metaorder_usd)
        In effect at the next step: the persistent log impact, the transient
        ``(1 − persistent_share)·I(S)``, and ``S``.

    Examples
    --------
    One sale of 4M, or 1M in each of four steps with no decay in between, move the price alike
    (by ``I`` of 4M, twice the move of 1M):

    >>> args = dict(y=1.0, sigma_daily=0.02, volume_daily_usd=1e8, persistent_share=0.5,
    ...             half_life_steps=float("inf"))
    >>> p, tr, s = carry_metaorder(np.zeros(1), np.zeros(1), np.array([4e6]), **args)
    >>> round(float(p[0] + tr[0]), 6)
    -0.004
    >>> p, s = np.zeros(1), np.zeros(1)
    >>> for _ in range(4):
    ...     p, tr, s = carry_metaorder(p, s, np.array([1e6]), **args)
    >>> round(float(p[0] + tr[0]), 6), round(float(s[0]))
    (-0.004, 4000000)
    """
    # Per market in Python floats: the same IEEE operations, in the same order, as the array
    # form (``sqrt_impact_log`` of the kept and the total sale; tests/engine hold it to it), at
    # a fraction of the cost of a dozen numpy calls on (M,) arrays every step.
    d2 = decay_per_step(half_life_steps) ** 2
    metaorder = np.asarray(metaorder_usd, dtype=np.float64).tolist()
    n = len(metaorder)
    sales, sigmas = _per_market(net_sale_usd, n), _per_market(sigma_daily, n)
    volumes = _per_market(volume_daily_usd, n)
    permanent = np.asarray(permanent_log, dtype=np.float64).tolist()
    share, rest = persistent_share, 1.0 - persistent_share
    transient, totals = [], []
    for m in range(n):
        kept = metaorder[m] * d2
        total = kept + sales[m]
        before = _impact(kept, y, sigmas[m], volumes[m])
        after = _impact(total, y, sigmas[m], volumes[m])
        permanent[m] = permanent[m] + share * (after - before)
        transient.append(rest * after)
        totals.append(total)
    return np.array(permanent), np.array(transient), np.array(totals)


def _per_market(x: np.ndarray | float, n: int) -> list[float]:
    """``x`` (float or array (n,)) as ``n`` Python floats, as numpy broadcasts it."""
    a = np.asarray(x, dtype=np.float64)
    return a.tolist() if a.shape == (n,) else np.broadcast_to(a, n).tolist()


def _impact(q: float, y: float, sigma: float, v: float) -> float:
    """:func:`sqrt_impact_log` of one market in Python floats: ``−sign(q)·y·σ·sqrt(|q|/v)``
    with numpy's sign (``−0.0`` at ``q = 0``, NaN for NaN) and its float division (a zero
    volume, which the scenario refuses, divides as numpy does)."""
    neg_sign = -1.0 if q > 0 else 1.0 if q < 0 else -0.0 if q == 0 else q
    ratio = abs(q) / v if v != 0 else float(np.divide(abs(q), np.float64(v)))
    return neg_sign * y * sigma * math.sqrt(ratio)
