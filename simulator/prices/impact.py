"""The outside market's response to forced selling: a square-root impact law with a persistent
and a decaying part (pure numpy).

The outside price of a market at step ``t`` is its exogenous path times ``exp(L_t)``, where
``L_t`` (log-price units) is the impact of the hedger's forced trades so far. A net sale of
``Q`` USD in one step moves the log price by

    ΔL = −sign(Q) · Y · σ_daily · sqrt(|Q| / V_daily)

(the square-root law, shared/REFERENCES.md "Oracle and mark": Y of order 1, ``σ_daily`` the
asset's daily volatility as a fraction, ``V_daily`` its daily traded volume in USD; a purchase
is a negative ``Q`` and lifts the price). A share ``persistent_share`` of each ``ΔL`` stays for
the rest of the run; the rest decays geometrically with a half-life of ``half_life_steps``
steps (the propagator view of impact: transient impact relaxes as liquidity refills).

Each step's sale is priced by the law on its own, so a sale split over several steps moves the
price more than the same sale in one step (the law's concavity), less the decay in between.
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
    """The factor the transient impact keeps per step: ``0.5 ** (1 / half_life_steps)``."""
    return float(0.5 ** (1.0 / half_life_steps))


def carry_impact(
    permanent_log: np.ndarray,
    transient_log: np.ndarray,
    delta_log: np.ndarray,
    persistent_share: float,
    half_life_steps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The (permanent, transient) log impact in effect at the next step, after this step's
    ``delta_log``: ``permanent + share·Δ`` and ``transient·d + (1 − share)·Δ`` with ``d`` the
    per-step decay (:func:`decay_per_step`). A step's impact is felt in full at the next step
    and its transient part decays from there."""
    decay = decay_per_step(half_life_steps)
    return (
        permanent_log + persistent_share * delta_log,
        transient_log * decay + (1.0 - persistent_share) * delta_log,
    )
