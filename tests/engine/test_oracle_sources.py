"""On chain: the oracle is a weighted median of outside venues and the local AMM, so an exogenous
crash reaches it with default agents (issue 11, "Done when"), a CSV replay reaches its level,
and the outside price is moved by the hedger's forced selling through the impact law."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.chain import open_chain
from simulator.results import market_steps
from simulator.runner import run_in_memory, run_node_config
from simulator.scenario import load_scenario

#: The crash: from step 5, over 3 steps, never recovered.
CRASH_STEP, CRASH_STEPS = 5, 3
#: Largest gap between the oracle and the outside price at the bottom: the median of venues
#: with 2-8 bps of noise (a few noise deviations).
NOISE_TOLERANCE = 0.003
#: Largest extra fall the impact law may add on this small book (log-price units): 150
#: accounts' forced sales against BTC's scaled daily volume move the outside price well under
#: this.
IMPACT_TOLERANCE = 0.05


def crash_scenario(fall: float, **overrides):
    """oct-2025's BTC market with its default agents (arbitrageurs' capital, the $500M pool,
    the oracle's default sources), 150 accounts, 20 steps, a crash of ``fall`` at step 5."""
    base = {
        "traders.count": 150,
        "steps": 20,
        "markets": [{"symbol": "BTC", "path": {"beta": 1.0, "vol_per_year": 0.5},
                     "amm": {"liquidity_usd": 500_000_000}}],
        "traders.market_weights": None,
        "traders.markets_per_account": {1: 1.0},
        "price_path.shocks": [{"step": CRASH_STEP, "fall_fraction": fall,
                               "over_steps": CRASH_STEPS}],
    }  # fmt: skip
    base.update(overrides)
    return load_scenario("oct-2025", base)


def run_steps(scenario):
    with open_chain(anvil=run_node_config()) as chain:
        _, steps, _ = run_in_memory(chain, scenario)
    return market_steps(steps).set_index("step")


@pytest.mark.parametrize("fall", [0.3, 0.9])
def test_an_exogenous_crash_of_x_percent_moves_the_oracle_by_about_x_percent(fall):
    # Before: the oracle read only the local AMM, which the arbitrageurs' $6M a block could
    # move a few percent: a 30% (90%) crash moved it about 7%.
    steps = run_steps(crash_scenario(fall))
    start = steps["price_exogenous_usd"].iloc[0]
    bottom = steps.loc[CRASH_STEP + CRASH_STEPS :]  # lag 0: the venues post the same step
    assert bottom["price_exogenous_usd"].max() <= start * (1 - fall) * 1.02  # it did crash
    oracle = bottom["price_oracle_usd"]
    oracle_fall = 1 - oracle.iloc[0] / start
    assert fall - NOISE_TOLERANCE < oracle_fall < fall + IMPACT_TOLERANCE
    # Why: the oracle posts the outside venues' median, the outside price within the noise...
    exo, outside = bottom["price_exogenous_usd"], bottom["price_outside_usd"]
    assert np.all(np.abs(oracle / outside - 1) < NOISE_TOLERANCE), (oracle / outside).describe()
    # ... and the outside price is the crashed exogenous price moved only by the hedger's
    # flow (forced selling deepens the fall; the order flow's dip buyers after it make the
    # hedger buy back), by less than the impact tolerance either way.
    log_impact = np.log(outside / exo)
    assert (np.abs(log_impact) < IMPACT_TOLERANCE).all(), log_impact.describe()


def test_an_oracle_fault_still_acts_on_what_the_oracle_posts():
    stale = {"kind": "stale", "start_step": CRASH_STEP, "end_step": CRASH_STEP + 6}
    steps = run_steps(crash_scenario(0.3, oracle_faults=[stale]))
    held = steps.loc[CRASH_STEP : CRASH_STEP + 5, "price_oracle_usd"]
    assert (held == steps.loc[CRASH_STEP - 1, "price_oracle_usd"]).all()
    after = steps.loc[CRASH_STEP + 6, ["price_oracle_usd", "price_outside_usd"]]
    assert abs(after.iloc[0] / after.iloc[1] - 1) < NOISE_TOLERANCE


def test_the_hedgers_forced_selling_moves_the_outside_price_by_the_impact_law():
    # A crash deep enough to liquidate the 40x longs: the pool's hedger sells, and the outside
    # price falls below the exogenous path, more with a larger Y and not at all with Y = 0.
    gaps = {}
    for y in (0.0, 1.0, 4.0):
        steps = run_steps(crash_scenario(0.3, **{"outside_market.impact_y": y}))
        gaps[y] = float(np.log(steps["price_outside_usd"] / steps["price_exogenous_usd"]).min())
    assert gaps[0.0] == 0.0
    assert gaps[4.0] < gaps[1.0] < 0.0


def test_a_csv_replay_from_100k_to_80k_reaches_80k(tmp_path: Path):
    # Before: the oracle followed BTC's $500M AMM only as far as the arbitrageurs' $6M a block
    # reached, a step or more behind the replay.
    steps_n = 12
    rows = [(60 * t, 100_000.0 if t < 3 else 80_000.0) for t in range(steps_n + 1)]
    csv = tmp_path / "prices.csv"
    csv.write_text("timestamp,price\n" + "".join(f"{t},{p!r}\n" for t, p in rows))
    scenario = load_scenario(
        "oct-2025",
        {"traders.count": 100, "steps": steps_n,
         "markets": [{"symbol": "BTC", "amm": {"liquidity_usd": 500_000_000}}],
         "traders.market_weights": None, "traders.markets_per_account": {1: 1.0},
         "price_path": {"kind": "csv", "path": str(csv)}},
    )  # fmt: skip
    steps = run_steps(scenario)
    assert (steps.loc[3:, "price_exogenous_usd"] == 80_000.0).all()
    oracle = steps.loc[3:, "price_oracle_usd"]
    assert (oracle < 80_000 * (1 + NOISE_TOLERANCE)).all()
    assert (oracle > 80_000 * (1 - IMPACT_TOLERANCE)).all()
