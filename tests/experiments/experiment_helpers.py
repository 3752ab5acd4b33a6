"""A small scenario for experiment tests: seconds per run on revm."""

from __future__ import annotations

from pathlib import Path

import yaml

from simulator.scenario import load_scenario

#: oct-2025 on its BTC market alone: 40 accounts, 20 steps, an 18% fall at step 5.
SMALL = {
    "traders.count": 40,
    "steps": 20,
    "amm.liquidity_usd": 60_000_000,
    "arbitrageurs.capital_usd": 2_000_000,
    "markets": [{"symbol": "BTC", "path": {"beta": 1.0, "vol_per_year": 0.5}}],
    "traders.market_weights": None,
    "traders.markets_per_account": {1: 1.0},
    "price_path.shocks": [
        {"step": 5, "fall_fraction": 0.18, "over_steps": 10, "recovery_fraction": 0.5,
         "recovery_steps": 5}
    ],
}  # fmt: skip


def small_scenario(**overrides):
    """The small scenario (:data:`SMALL`), with more overrides."""
    return load_scenario("oct-2025", {**SMALL, **overrides})


def small_scenario_file(folder: Path, **overrides) -> Path:
    """The small scenario written as a YAML file in ``folder`` (for the CLI)."""
    path = Path(folder) / "small.yaml"
    path.write_text(yaml.safe_dump(small_scenario(**overrides).to_dict(), sort_keys=False))
    return path
