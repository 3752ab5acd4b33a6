"""Small scenarios for engine tests: seconds, not minutes, on chain."""

from __future__ import annotations

from simulator.scenario import load_scenario

#: The fall of :func:`small_oct`: 18% at step 10 over 20 steps, half of it back over 20.
SMALL_SHOCK = {
    "step": 10,
    "fall_fraction": 0.18,
    "over_steps": 20,
    "recovery_fraction": 0.5,
    "recovery_steps": 20,
}


def small_oct(*, all_markets: bool = False, **overrides):
    """oct-2025 scaled down: 150 trader accounts, 60 steps, an 18% fall at step 10 over 20
    steps, on shallower AMMs so that forced selling shows.

    By default on its BTC market alone (every account one BTC position: the one-market engine
    behaviour these tests pin down); ``all_markets=True`` keeps the five markets, their
    population mix and the alts' own crash moved into the run, with every AMM as shallow.
    """
    base = {
        "traders.count": 150,
        "steps": 60,
        "amm.liquidity_usd": 60_000_000,
        "arbitrageurs.capital_usd": 2_000_000,
    }
    if all_markets:
        scenario = load_scenario("oct-2025")
        base["markets"] = [m.model_dump(mode="json", exclude={"amm"}) for m in scenario.markets]
        base["price_path.shocks"] = [
            {**SMALL_SHOCK, "fall_fraction": {"BTC": 0.18, "ETH": 0.22, "SOL": 0.3}},
            {**SMALL_SHOCK, "fall_fraction": {"DOGE": 0.5, "ALT": 0.6}},
        ]
    else:
        base["markets"] = [{"symbol": "BTC", "path": {"beta": 1.0, "vol_per_year": 0.5}}]
        base["traders.market_weights"] = None
        base["traders.markets_per_account"] = {1: 1.0}
        base["price_path.shocks"] = [SMALL_SHOCK]
    base.update(overrides)
    return load_scenario("oct-2025", base)
