"""The outside market's response to forced selling: the square-root impact law applied to the
metaorder in progress, with a persistent and a decaying part (pure numpy).

The outside price of a market at step ``t`` is its exogenous path times ``exp(L_t)``, where
``L_t`` (log-price units) is the impact of the hedger's forced trades so far. The square-root
law (shared/REFERENCES.md "Oracle and mark") prices a sale of ``Q`` USD at

    I(Q) = −sign(Q) · Y · σ_daily · sqrt(|Q| / V_daily)

(Y of order 1, ``σ_daily`` the asset's daily volatility as a fraction, ``V_daily`` its daily
traded volume in USD; a purchase is a negative ``Q`` and lifts the price).

**Metaorder form.** The law is about a metaorder: a sale executed over time moves the price by
``I`` of its *total* size, not by the sum of ``I`` of its pieces (a sale of ``Q`` spread over
``N`` steps would otherwise move the price ``sqrt(N)`` times more than the same sale at once).
The market remembers the recent net sale ``S`` (USD): each step the hedger's net sale ``q`` is
added, ``S ← S·d² + q``, where ``d = 0.5 ** (1 / half_life_steps)`` (:func:`decay_per_step`), so
the impact ``I(S)`` of a sale left alone halves every ``half_life_steps`` steps. The log impact
in effect is

    L = P + (1 − persistent_share) · I(S)

with ``P`` the persistent part: each step adds ``persistent_share · (I(S·d² + q) − I(S·d²))``,
the step's sale's marginal impact on top of the metaorder in progress (the propagator view:
transient impact relaxes as liquidity refills, ``persistent_share`` of it stays for the run).
A sale done at once and the same sale spread over a few steps (faster than the memory fades)
move the price alike, by ``I`` of the sum; sales spaced far apart each meet the law anew.

The carry runs compiled with the spot phase's plan, every market in one call a step
(:func:`simulator.engine.jit_spot.plan_step`); its per-step Python form, ``carry_metaorder``,
is the reference its tests hold it to (``tests/prices/impact_reference.py``).
"""

from __future__ import annotations

import numpy as np


def sqrt_impact_log(
    net_sale_usd: np.ndarray | float,
    y: float,
    sigma_daily: np.ndarray | float,
    volume_daily_usd: np.ndarray | float,
) -> np.ndarray:
    """``ΔL = −sign(Q)·Y·σ_daily·sqrt(|Q|/V_daily)`` per market (log-price units).

    Parameters
    ----------
    net_sale_usd : float or array (M,)
        The step's net sale (USD; positive: sold, negative: bought).
    y : float
        The law's prefactor (dimensionless, of order 1).
    sigma_daily : float or array (M,)
        Daily volatility (fraction, e.g. 0.026 for 50% a year).
    volume_daily_usd : float or array (M,)
        Daily traded volume (USD, > 0).

    Examples
    --------
    >>> round(float(sqrt_impact_log(1e6, 1.0, 0.02, 1e8)), 6)  # 1% of a day's volume
    -0.002
    >>> round(float(sqrt_impact_log(-4e6, 1.0, 0.02, 1e8)), 6)  # 4x the size, 2x the move
    0.004
    """
    q = np.asarray(net_sale_usd, dtype=np.float64)
    return -np.sign(q) * y * np.asarray(sigma_daily) * np.sqrt(np.abs(q) / volume_daily_usd)


def decay_per_step(half_life_steps: float) -> float:
    """The factor the transient impact keeps per step: ``0.5 ** (1 / half_life_steps)`` (the
    remembered sale keeps its square)."""
    return float(0.5 ** (1.0 / half_life_steps))
