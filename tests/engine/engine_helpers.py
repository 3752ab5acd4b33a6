"""Small scenarios for engine tests: seconds, not minutes, on chain."""

from __future__ import annotations

from simulator.scenario import load_scenario


def small_oct(**overrides):
    """oct-2025 scaled down: 150 traders, 60 steps, an 18% fall at step 10 over 20 steps, on a
    shallower AMM so that forced selling shows."""
    base = {
        "traders.count": 150,
        "steps": 60,
        "price_path.shocks": [
            {
                "step": 10,
                "fall_fraction": 0.18,
                "over_steps": 20,
                "recovery_fraction": 0.5,
                "recovery_steps": 20,
            }
        ],
        "amm.liquidity_usd": 60_000_000,
        "arbitrageurs.capital_usd": 2_000_000,
    }
    base.update(overrides)
    return load_scenario("oct-2025", base)
