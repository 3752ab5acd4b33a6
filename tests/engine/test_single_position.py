"""One explicit long on a scripted falling path: liquidated exactly when the price crosses."""

from __future__ import annotations

import numpy as np

from simulator.results import RunReader, market_steps
from simulator.runner import run_scenario
from simulator.scenario import parse_scenario


def one_long_scenario(prices: list[float]) -> dict:
    return {
        "name": "one-long",
        "seed": 1,
        "steps": len(prices) - 1,
        "market": {
            "preset": "hyperliquid-like",
            "overrides": {"max_leverage": 50, "maintenance_margin_fraction": 0.01},
        },
        "controls": {"adl_policy": "queue", "insurance_fund_usd": 100_000, "feedback": False},
        "traders": {
            "kind": "explicit",
            "positions": [
                {"side": "long", "collateral_usd": 5_000, "size_base": 1.0, "behaviour": "hold"}
            ],
        },
        "price_path": {"kind": "list", "prices_usd": prices},
        "keepers": {"count": 1, "max_liquidations_per_block": 5, "reaction_delay_steps": 0},
        "arbitrageurs": {"count": 1, "capital_usd": 1_000_000},
        "lps": {"withdraw_on_drawdown": None},
    }


def test_liquidation_happens_at_the_first_step_past_the_liquidation_price(tmp_path):
    # 20x long at 100k: liquidation price near 96k. The index falls 0.5% per step.
    prices = [100_000 * (1 - 0.005 * k) for k in range(21)]
    scenario = parse_scenario(one_long_scenario(prices))
    result = run_scenario(scenario, tmp_path / "run")
    run = RunReader(tmp_path / "run")

    position = run.positions.iloc[0]
    liq_price = position["liquidation_price_at_open_usd"]
    assert position["outcome"] == "liquidated"
    # The reference formula (REFERENCES.md) at the position's entry, collateral and MM fraction.
    entry, collateral, mmf = position["entry_price_usd"], position["collateral_usd"], 0.01
    assert 94_000 < liq_price < 97_500
    assert (
        abs(liq_price - (entry - collateral / position["size_base"]) / (1 - mmf)) / liq_price
        < 0.002
    )

    steps = market_steps(run.steps).set_index("step")
    first_past = int(steps.index[steps["price_oracle_usd"] < liq_price][0])
    liquidations = run.events[run.events["kind"] == "liquidation"]
    assert list(liquidations["step"]) == [first_past]
    assert int(position["outcome_step"]) == first_past
    # Not before: every earlier step's index was at or above the liquidation price.
    assert np.all(steps.loc[: first_past - 1, "price_oracle_usd"] >= liq_price)
    assert result.summary["liquidated_accounts"] == 1
    assert result.summary["liquidated_notional_long_usd"] > 0
