"""The market-making vault on real runs (issue 11, item 2): it takes the other side of the
crowd within its inventory limits, keepers liquidate it when it is under maintenance, ADL hits
it when it is the top-ranked winner, its LPs' loss joins the system loss, and the same scenario
and seed give the same files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_helpers import small_oct
from multi_helpers import three_market_inputs

from simulator.chain import open_chain
from simulator.engine import Engine
from simulator.engine.levels import mm_vault_views, parse_mm_vault
from simulator.results import SYSTEM_LOSS_TERMS, RunReader, deterministic_summary
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config, run_scenario
from simulator.scenario.models import MMVaultSpec
from simulator.world import build_world

BTC, ETH, SOL = range(3)
CAPITAL_USD, MAX_TRADE_USD = 500_000.0, 100_000.0


def _vault_scenario():
    """The small five-market October fall with a $500k vault quoting at a zero half-spread (the
    small book's skew premium is under 2 bps in most markets), $100k per step."""
    return small_oct(
        all_markets=True,
        **{
            "mm_vault.capital_usd": CAPITAL_USD,
            "mm_vault.quoting": True,
            "mm_vault.half_spread_bps": 0,
            "mm_vault.max_trade_usd": MAX_TRADE_USD,
        },
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("mm")
    scenario = _vault_scenario()
    for name in ("a", "b"):
        run_scenario(scenario, out / name)
    return out


def test_the_vault_trades_against_the_crowd_within_its_inventory_limit(runs):
    run = RunReader(runs / "a")
    steps, events = run.steps, run.events
    fills = events[events["kind"] == "mm_vault_fill"]
    assert len(fills) > 0
    markets = steps[steps["market"] != "ALL"]
    # Tolerance: the limit ($500k, = capital) holds at the oracle price it traded at, plus one
    # step's largest trade for a price move within the step that it sells down the next one.
    notional = (markets["mm_vault_size_base"] * markets["price_oracle_usd"]).abs()
    assert notional.max() <= CAPITAL_USD + MAX_TRADE_USD
    assert notional.max() > 0.5 * CAPITAL_USD  # the limit is reached, not idle
    # The vault's first position in every market is against the crowd's net OI of step 1.
    first = markets[markets["step"] == 1].set_index("market")
    crowd = (
        first["oi_long_usd"]
        - first["oi_short_usd"]
        - first["mm_vault_size_base"] * first["price_oracle_usd"]
    )
    held = first["mm_vault_size_base"][first["mm_vault_size_base"] != 0]
    assert len(held) > 0
    assert (np.sign(held) == -np.sign(crowd[held.index])).all()
    # Each fill's size: at most one step's max trade at the oracle; the fill price is the
    # oracle's plus the skew premium (under 1% in this book).
    assert (fills["notional_usd"] <= MAX_TRADE_USD * 1.01).all()
    # Equity on the venue row, null on market rows; the summary's LP loss from it.
    venue = steps[steps["market"] == "ALL"]
    assert venue["mm_vault_equity_usd"].notna().all()
    assert markets["mm_vault_equity_usd"].isna().all()
    s = run.summary
    assert s["mm_vault_capital_usd"] == pytest.approx(CAPITAL_USD)
    assert s["mm_vault_equity_end_usd"] == pytest.approx(venue["mm_vault_equity_usd"].iloc[-1])
    assert s["mm_vault_lp_loss_usd"] == max(0.0, CAPITAL_USD - s["mm_vault_equity_end_usd"])
    assert "mm_vault_lp_loss_usd" in SYSTEM_LOSS_TERMS
    assert s["system_loss_usd"] == pytest.approx(sum(s[t] for t in SYSTEM_LOSS_TERMS))


def test_the_same_scenario_and_seed_give_identical_files_with_the_vault(runs):
    a, b = RunReader(runs / "a"), RunReader(runs / "b")
    assert deterministic_summary(a.summary) == deterministic_summary(b.summary)
    for table in ("steps.parquet", "events.parquet", "positions.parquet"):
        assert (runs / "a" / table).read_bytes() == (runs / "b" / table).read_bytes()


def _run(scenario, inputs):
    """Run on anvil; after every block, the vault's sizes the engine carries from the block's
    events (:meth:`Levels.track`) must equal ``positionsOf`` on chain."""
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world = build_world(chain, scenario, inputs)
        engine = Engine(chain, world)
        rows, events = [], []

        def on_step(outcome):
            rows.extend(outcome.rows)
            events.extend(outcome.events)
            positions = chain.read(mm_vault_views(engine.ctx)[:1])
            on_chain = parse_mm_vault(engine.ctx, positions + [(0, 0, 0)])["mm_vault_size_wad"]
            assert list(engine.levels.mm_vault_size_wad) == list(on_chain), engine.state.step

        engine.run(on_step=on_step)
    return world, pd.DataFrame(rows), pd.DataFrame(events)


def _with_vault(scenario, **spec):
    return scenario.model_copy(update={"mm_vault": MMVaultSpec(quoting=True, **spec)})


def test_keepers_liquidate_the_vault_when_it_is_under_maintenance():
    """A $20k vault shorts $600k of BTC (30x) against a 10 BTC long, then BTC rises 2% a step:
    keepers liquidate the vault's account."""
    rows = [{"account": 0, "market": BTC, "side": "long", "collateral_usd": 200_000,
             "size_base": 10.0}]  # fmt: skip
    rise = [1.0, 1.0, 1.02, 1.04, 1.06, 1.08, 1.10, 1.12]
    scenario, inputs = three_market_inputs(rows, moves={"BTC": rise}, steps=7)
    scenario = _with_vault(
        scenario, capital_usd=20_000, inventory_limit_usd={"BTC": 600_000},
        participation=1.0, max_trade_usd=1e7, half_spread_bps=0,
    )  # fmt: skip
    world, steps, events = _run(scenario, inputs)
    vault = world.mm_vault
    mine = events[events["account"] == vault]
    fills = mine[mine["kind"] == "mm_vault_fill"]
    quotes = fills[fills["detail"] == '{"order": "quote"}']
    assert len(quotes) == 1 and set(quotes["side"]) == {"short"}
    assert quotes["notional_usd"].sum() == pytest.approx(600_000, rel=0.01)
    # As BTC rises its short grows past the limit: it buys back down toward it.
    assert set(fills[fills["detail"] == '{"order": "unwind"}']["side"]) <= {"long"}
    liquidations = mine[mine["kind"].isin(["liquidation", "partial_liquidation"])]
    assert len(liquidations) >= 1 and set(liquidations["market"]) == {"BTC"}
    first = int(liquidations["step"].min())
    # Under maintenance (BTC MM 1.25% of $600k = $7.5k) once BTC is up more than ~2%.
    assert 2 <= first <= 4
    # Its notional counts in the step's liquidated notional (it is an account like any other).
    btc = steps[(steps["market"] == "BTC") & (steps["step"] == first)]
    assert btc["liquidated_notional_short_usd"].iloc[0] > 0


@pytest.mark.parametrize("policy", ["profit_queue", "contracts_queue"])
def test_adl_hits_the_vault_when_it_is_the_top_ranked_winner(policy):
    """An 18x SOL long goes bankrupt when SOL gaps 12%, with no insurance fund; the vault took
    the other side of it at step 1 and is SOL's only winner: ADL haircuts the vault (under the
    contracts queue, closing the contracts that offset the bankrupt position: its size falls,
    which the engine carries from the ``AdlHaircut`` event)."""
    rows = [{"account": 0, "market": SOL, "side": "long", "collateral_usd": 1_000,
             "size_base": 18_000 / 220}]  # fmt: skip
    scenario, inputs = three_market_inputs(
        rows, moves={"SOL": [1.0, 1.0, 0.88, 0.88, 0.88]}, steps=4, adl_policy=policy
    )
    scenario = _with_vault(
        scenario, capital_usd=50_000, participation=1.0, max_trade_usd=1e6, half_spread_bps=0
    )
    world, steps, events = _run(scenario, inputs)
    vault = world.mm_vault
    assert (events["kind"] == "bad_debt").any()
    fills = events[events["kind"] == "adl_fill"]
    assert len(fills) >= 1
    assert set(fills["account"]) == {vault} and set(fills["market"]) == {"SOL"}
    assert fills["amount_usd"].sum() > 0
    # The haircut is the market's: the step column and the fills agree.
    assert steps[steps["market"] == "SOL"]["adl_haircut_usd"].sum() == pytest.approx(
        fills["amount_usd"].sum()
    )
