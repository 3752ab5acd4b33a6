"""A second perp venue in the contagion world (issue 13, item 1: ``world.second_venue``):
deployed on the run's stablecoin with its fund, vault and book, its oracles pushed the first
venue's prices, its book and the synthetic dollar's hedge liquidated there by the world's
keeper, its nodes in the exposure graph with their on-chain figures, and its bad input."""

from __future__ import annotations

import copy

import pytest
from second_venue_helpers import SECOND_WORLD, second_world
from test_world_input import _scenario_file
from world_helpers import assert_run_refused

from simulator.chain import open_chain
from simulator.contagion.graph import (
    ContagionDeployment,
    ContagionDeploymentError,
    holdings_graph,
)
from simulator.contagion.graph_io import read_graph, run_graph_paths
from simulator.contagion.report import contagion_report
from simulator.results import deterministic_summary
from simulator.runner import resume_run, run_node_config, run_scenario, simulate
from simulator.scenario import load_scenario
from simulator.units import WAD

CENT = 0.005


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory):
    """:data:`SECOND_WORLD` through the small oct-2025's 18% BTC fall."""
    out = tmp_path_factory.mktemp("second") / "run"
    return run_scenario(second_world(), out, backend="revm")


def test_the_second_venue_runs_and_its_keeper_liquidates_its_book(crash_run):
    w = crash_run.summary["world"]
    assert w["second_venue_traders"] == 20
    assert w["synth_hedge_venue"] == "second_venue"
    # the 16 longs at 10x are liquidated (dYdX-like: 10% of a position a block) and taken
    # over by its vault below half their maintenance margin; no call of it reverted
    assert w["second_venue_liquidations"] > 0
    assert w["second_venue_takeovers"] > 0
    reverted = crash_run.events[crash_run.events.kind.str.startswith("second_")]
    assert len(reverted) == 0, reverted.detail.tolist()


def test_its_nodes_are_in_the_graphs_and_its_vault_loses(crash_run):
    start, end = (read_graph(p)[0] for p in run_graph_paths(crash_run.run_dir))
    for node, kind in (
        ("second_venue", "perp_venue"),
        ("second_insurance_fund", "insurance_fund"),
        ("second_backstop_vault", "vault"),
    ):
        assert start.nodes[node]["type"] == kind
    assert start.has_edge("synthetic_dollar", "second_venue")
    assert not start.has_edge("synthetic_dollar", "venue")
    assert start.has_edge("lending_pool", "second_backstop_vault")
    assert start.has_edge("second_backstop_vault", "second_venue")
    assert start.nodes["second_insurance_fund"]["equity_usd"] == pytest.approx(100_000, abs=CENT)
    # the vault took the book's bankrupt longs over in the fall: its LPs lost
    assert end.nodes["second_backstop_vault"]["equity_usd"] < (
        start.nodes["second_backstop_vault"]["equity_usd"] - 100
    )


def test_the_report_takes_the_second_venues_losses_from_the_graphs(crash_run):
    """summary.json's loss terms are the first venue's: the second vault's loss is its
    equity's fall between the graphs, in the initial shock and in the chain's systemic loss."""
    start, end = (read_graph(p)[0] for p in run_graph_paths(crash_run.run_dir))
    report = contagion_report(crash_run.run_dir)
    lost = (
        start.nodes["second_backstop_vault"]["equity_usd"]
        - end.nodes["second_backstop_vault"]["equity_usd"]
    )
    row = report.row("second_backstop_vault")
    assert row["chain_loss_usd"] == pytest.approx(lost, abs=1e-9)
    assert row["h0"] == pytest.approx(lost / start.nodes["second_backstop_vault"]["equity_usd"])
    # a fund that gained and a venue with no shortfall lost nothing
    assert report.row("second_insurance_fund")["chain_loss_usd"] == 0.0
    assert report.row("second_venue")["chain_loss_usd"] == 0.0
    others = sum(
        r["chain_loss_usd"] or 0.0
        for r in report.nodes
        if r["node"] not in ("venue", "insurance_fund", "backstop_vault", "mm_vault")
    )
    assert report.totals["chain_systemic_loss_usd"] == pytest.approx(
        crash_run.summary["system_loss_usd"] + others
    )
    assert not [n for n in report.notes if "second" in n]


def test_the_graph_reads_the_second_venue_from_chain_and_a_holding_moves_its_edge(tmp_path):
    """On a live chain after a short run: every second-venue figure is its contract's view,
    its oracles hold the first venue's prices, and shares of its vault given to the pool (or
    stablecoin sent to its fund) move the edges by what they are worth."""
    scenario = second_world(steps=15)
    with open_chain(anvil=run_node_config(), backend="revm") as chain:
        engine, _, _ = simulate(chain, scenario, checkpoint_every=0)
        defi = engine.world.defi
        v1, v2 = engine.world.venue, defi.second
        G = holdings_graph(chain, defi.deployment)
        fund = chain.read_one(v2.fund.view("balance"))
        assets = chain.read_one(v2.vault.view("totalAssets"))
        equity = chain.read_one(v2.venue.account_health(v2.vault.address))[0]
        pool = chain.read_one(v2.venue.accounting())[1]
        assert G.nodes["second_insurance_fund"]["equity_usd"] == fund / 1e6
        assert G.nodes["second_backstop_vault"]["equity_usd"] == assets / 1e6
        assert G.nodes["second_backstop_vault"]["venue_equity_usd"] == equity / WAD
        assert G.nodes["second_venue"]["pool_usd"] == pool / WAD
        assert G["second_insurance_fund"]["second_venue"]["exposure_usd"] == fund / 1e6
        hedge = chain.read_one(defi.synth.backing())[3]
        assert G["synthetic_dollar"]["second_venue"]["exposure_usd"] == hedge / WAD
        btc1, btc2 = v1.ids["BTC"], v2.ids["BTC"]
        p1 = chain.read_one(v1.oracles[btc1].view("lastPrice"))
        p2 = chain.read_one(v2.oracles[btc2].view("lastPrice"))
        assert p1 == p2

        # a holding changes: 50,000 USD of the second vault's shares to the pool, and
        # 25,000 USD sent to the second venue's fund
        before = G["lending_pool"].get("second_backstop_vault", {}).get("exposure_usd", 0.0)
        who, units = defi.holder, 50_000 * 10**6
        stable = v1.collateral
        shares_before = chain.read_one(v2.vault.view("balanceOf", who))
        results = chain.execute(
            [
                stable.mint(v1.deployer, who, units),
                stable.approve(who, v2.vault.address, units),
                v2.vault.deposit(who, units, who),
                stable.mint(v1.deployer, v1.deployer, 25_000 * 10**6),
                stable.transfer(v1.deployer, v2.fund.address, 25_000 * 10**6),
            ]
        )
        assert all(r.ok for r in results), [r.error for r in results]
        shares = chain.read_one(v2.vault.view("balanceOf", who)) - shares_before
        chain.execute([v2.vault.call(who, "transfer", defi.pool.address, shares)])
        worth = chain.read_one(v2.vault.view("convertToAssets", shares)) / 1e6
        H = holdings_graph(chain, defi.deployment)
        after = H["lending_pool"]["second_backstop_vault"]["exposure_usd"]
        assert after - before == pytest.approx(worth, abs=CENT)
        assert worth == pytest.approx(50_000, rel=1e-3)
        assert H["second_insurance_fund"]["second_venue"]["exposure_usd"] == pytest.approx(
            fund / 1e6 + 25_000, abs=CENT
        )
        # the second venue's fund or vault without the second venue is refused, one line
        lone = ContagionDeployment(
            venue=v1.venue.address,
            stablecoin=stable.address,
            second_insurance_fund=v2.fund.address,
        )
        with pytest.raises(ContagionDeploymentError, match="need second_venue"):
            holdings_graph(chain, lone)
        # the second venue's fund given as the first's: it does not belong to the venue
        swapped = ContagionDeployment(
            venue=v1.venue.address, stablecoin=stable.address, insurance_fund=v2.fund.address
        )
        with pytest.raises(ContagionDeploymentError, match="insurance_fund"):
            holdings_graph(chain, swapped)


def _files(run_dir):
    start, end = run_graph_paths(run_dir)
    names = ("steps.parquet", "events.parquet", "positions.parquet")
    out = {n: (run_dir / n).read_bytes() for n in names}
    out["graph_start"] = start.read_bytes()
    out["graph_end"] = end.read_bytes()
    return out


def test_same_seed_same_files_and_a_resumed_run_equals_the_straight_run(crash_run, tmp_path):
    """The second venue's setup and its keeper's counters (in the engine checkpoint) leave a
    run deterministic and resumable."""
    again = run_scenario(second_world(), tmp_path / "again", backend="revm")
    assert _files(again.run_dir) == _files(crash_run.run_dir)
    cut = tmp_path / "cut"
    stopped = run_scenario(second_world(), cut, backend="revm", checkpoint_every=10, stop_after=25)
    assert stopped.summary["status"] == "incomplete"
    resumed = resume_run(cut, checkpoint_every=10)
    assert deterministic_summary(resumed.summary) == deterministic_summary(crash_run.summary)
    assert _files(cut) == _files(crash_run.run_dir)


def test_the_world_keeper_liquidates_the_hedge_at_the_second_venue(tmp_path):
    """BTC rises 12%: the synthetic dollar's short at the second venue loses its thin
    reserve and the world's keeper liquidates it there (not at the first venue)."""
    world = copy.deepcopy(SECOND_WORLD)
    world["synthetic_dollar"]["reserve_usd"] = 30_000
    shocks = [{"step": 5, "fall_fraction": -0.12, "over_steps": 5}]
    run = run_scenario(
        second_world(world, steps=25, **{"price_path.shocks": shocks}),
        tmp_path / "run",
        backend="revm",
    )
    w = run.summary["world"]
    assert w["synth_hedge_liquidations"] > 0
    start, end = (read_graph(p)[0] for p in run_graph_paths(run.run_dir))
    hedge = [g.nodes["synthetic_dollar"]["hedge_equity_usd"] for g in (start, end)]
    assert hedge[1] < hedge[0]


def _second(**changes):
    w = copy.deepcopy(SECOND_WORLD)
    w["second_venue"].update(changes)
    return w


BAD = [
    (_second(preset="okx-like"), ["world.second_venue.preset", "unknown venue preset 'okx-like'"]),
    (_second(markets=["BTC", "ETH"]), ["world.second_venue.markets[1]", "'ETH' is not a market"]),
]


@pytest.mark.parametrize(("world", "needles"), BAD)
def test_bad_second_venue_is_one_line_exit_2_and_no_folder(tmp_path, world, needles):
    path = _scenario_file(tmp_path, world, {"controls.backstop_vault_usd": 500_000})
    out = tmp_path / "run"
    assert_run_refused(path, out, needles)


def test_the_good_second_venue_file_loads(tmp_path):
    """The file the bad cases start from is valid (each case fails on its own change)."""
    path = _scenario_file(tmp_path, SECOND_WORLD, {"controls.backstop_vault_usd": 500_000})
    s = load_scenario(path)
    assert s.world.second_venue.preset == "dydx-like"
    assert s.world.synthetic_dollar.venue == "second_venue"
