"""The feedback loop deepens the fall; the same scenario and seed give the same results."""

from __future__ import annotations

import json

from engine_helpers import small_oct

from simulator.chain import open_chain
from simulator.results import RunReader, deterministic_summary, market_steps
from simulator.runner import run_in_memory, run_node_config, run_scenario


def test_feedback_on_deepens_the_fall_and_the_liquidations_on_the_same_path():
    scenario = small_oct()
    figures = {}
    for feedback in (True, False):
        with open_chain(anvil=run_node_config()) as chain:
            _, steps, _ = run_in_memory(chain, scenario, feedback=feedback)
            steps = market_steps(steps)
        liquidated = (
            steps["liquidated_notional_long_usd"].sum()
            + steps["liquidated_notional_short_usd"].sum()
        )
        figures[feedback] = (
            steps["price_oracle_usd"].min(),
            liquidated,
            steps["price_exogenous_usd"].min(),
        )
    (min_on, liq_on, exo_on), (min_off, liq_off, exo_off) = figures[True], figures[False]
    assert exo_on == exo_off  # the same exogenous path
    assert min_on < min_off  # forced selling pushed the index below the exogenous low
    assert liq_on > liq_off


def test_same_scenario_and_seed_give_identical_summaries_and_tables(tmp_path):
    scenario = small_oct(steps=40, all_markets=True)
    a = run_scenario(scenario, tmp_path / "a")
    b = run_scenario(scenario, tmp_path / "b")
    assert deterministic_summary(a.summary) == deterministic_summary(b.summary)
    assert a.summary["liquidated_accounts"] > 0
    assert len(a.summary["markets"]) == 5
    for table in ("steps.parquet", "events.parquet", "positions.parquet"):
        assert (tmp_path / "a" / table).read_bytes() == (tmp_path / "b" / table).read_bytes()
    on_disk = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert deterministic_summary(on_disk) == deterministic_summary(
        RunReader(tmp_path / "b").summary
    )


def test_another_seed_gives_another_run(tmp_path):
    a = run_scenario(small_oct(steps=30), tmp_path / "a")
    b = run_scenario(small_oct(steps=30, seed=99), tmp_path / "b")
    assert deterministic_summary(a.summary) != deterministic_summary(b.summary)


def test_keepers_watch_list_gives_the_same_run_as_reading_every_position():
    """Keepers confirm on chain only positions near liquidation; reading every open position
    every block must give the same run."""
    import pandas as pd

    from simulator.engine import Engine
    from simulator.runner import GENESIS_TIMESTAMP_S
    from simulator.scenario import load_scenario
    from simulator.world import build_world

    # The five markets of oct-2025 with their own AMMs and population mix, all falling 18%:
    # cross accounts of several positions, whose estimated margin drifts from the chain's
    # (tiers, funding). Before the traders' view was kept apart from the keepers' reads, the
    # full read made one more trader top up at step 15 than the watch list did.
    shock = {"step": 10, "fall_fraction": 0.18, "over_steps": 20, "recovery_fraction": 0.5,
             "recovery_steps": 20}  # fmt: skip
    scenario = load_scenario(
        "oct-2025",
        {"traders.count": 150, "steps": 45, "price_path.shocks": [shock],
         "amm.liquidity_usd": 60_000_000, "arbitrageurs.capital_usd": 2_000_000},
    )  # fmt: skip
    tables = {}
    for full in (False, True):
        with open_chain(anvil=run_node_config()) as chain:
            chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
            engine = Engine(chain, build_world(chain, scenario), full_health_every_step=full)
            rows: list[dict] = []
            engine.run(on_step=lambda outcome, rows=rows: rows.extend(outcome.rows))
        tables[full] = pd.DataFrame(rows)
    assert tables[False]["accounts_liquidated"].sum() > 0
    pd.testing.assert_frame_equal(tables[False], tables[True])


def test_the_impact_law_of_forced_selling_deepens_the_fall_further():
    """A larger prefactor Y of the outside market's square-root impact law (0: forced selling
    does not move the outside price) gives a lower oracle low on the same path."""
    lows = {}
    for y in (0.0, 2.0):
        with open_chain(anvil=run_node_config()) as chain:
            _, steps, _ = run_in_memory(chain, small_oct(**{"outside_market.impact_y": y}))
            steps = market_steps(steps)
        lows[y] = steps["price_oracle_usd"].min()
    assert lows[2.0] < lows[0.0]
