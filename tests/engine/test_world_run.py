"""The contagion world in a run (issue 13): deployed at setup, driven in the venue's blocks,
its figures in steps.parquet and summary.json, its graph snapshots, resume and determinism."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from world_helpers import SMALL_WORLD, small_world

from simulator.chain import open_chain
from simulator.contagion.graph import holdings_graph
from simulator.contagion.graph_io import read_graph, run_graph_paths
from simulator.engine.defi import STEP_COLUMNS
from simulator.results import RunWriter, deterministic_summary
from simulator.runner import (
    _summary_meta,
    bytecode_hashes,
    resume_run,
    run_node_config,
    run_scenario,
    simulate,
)
from simulator.scenario import load_scenario

CENT = 0.005


def _files(run_dir):
    start, end = run_graph_paths(run_dir)
    names = ("steps.parquet", "events.parquet", "positions.parquet")
    out = {n: (run_dir / n).read_bytes() for n in names}
    out["graph_start"] = start.read_bytes()
    out["graph_end"] = end.read_bytes()
    return out


@pytest.fixture(scope="module")
def crash_run(tmp_path_factory):
    """The small world through an 18% BTC fall (its backstop vault loses on takeovers)."""
    out = tmp_path_factory.mktemp("world") / "run"
    return run_scenario(small_world(), out, backend="revm")


def test_the_world_deploys_runs_and_reports_its_columns(crash_run):
    steps, w = crash_run.steps, crash_run.summary["world"]
    venue = steps[steps.market == "ALL"]
    markets = steps[steps.market != "ALL"]
    for col in STEP_COLUMNS:
        assert col in steps.columns, col
        assert markets[col].isna().all(), col  # venue-wide: null on market rows
        assert venue[col].notna().all(), col
    assert len(venue) == 61
    assert w["borrowers"] == 20
    # every figure of the world block is the ALL row's at the end (or over the run)
    assert w["pool_bad_debt_usd"] == venue.pool_bad_debt_usd.iloc[-1]
    assert w["pool_liquidations"] == int(venue.pool_liquidations.sum())
    assert w["synth_backing_ratio_min"] == pytest.approx(venue.synth_backing_ratio.min())
    assert w["synth_amm_price_min"] == pytest.approx(venue.synth_amm_price.min())
    assert w["vault_share_price_min"] == pytest.approx(venue.vault_share_price.min())
    assert w["synth_supply_start_usd"] == pytest.approx(venue.synth_supply_usd.iloc[0])
    # a world call that reverted is an event row naming its error: here only a borrower whose
    # health factor recovered (the vault's share price ticked up) between the keeper's read and
    # its block
    reverted = crash_run.events[crash_run.events.kind.str.startswith("pool_liquidate_rev")]
    assert w["reverted_calls"] == len(reverted)
    assert reverted.detail.str.startswith("NotLiquidatable").all()
    # the vault's share price is its convertToAssets: 1 at the start, below after takeovers
    assert venue.vault_share_price.iloc[0] == pytest.approx(1.0, abs=1e-6)


def test_the_pool_liquidates_and_records_bad_debt_when_collateral_crashes(crash_run):
    """The backstop vault's takeover losses lower its share price; borrowers against its
    shares fall below HF 1 and are liquidated with the bonus; those whose collateral runs out
    leave bad debt, written off against the pool's suppliers (its share price falls)."""
    steps, w = crash_run.steps, crash_run.summary["world"]
    venue = steps[steps.market == "ALL"]
    assert w["vault_share_price_drop"] > 0.05
    assert w["pool_liquidations"] > 10
    assert w["pool_bad_debt_usd"] > 1_000
    # liquidations follow the vault's fall: none before its share price moved
    first_drop = int(venue.step[venue.vault_share_price < 0.999].iloc[0])
    first_liq = int(venue.step[venue.pool_liquidations > 0].iloc[0])
    assert first_liq > first_drop
    # bad debt only grows and the suppliers carry it
    assert np.all(np.diff(venue.pool_bad_debt_usd.to_numpy()) >= 0)
    assert w["pool_supply_share_price_end"] < w["pool_supply_share_price_start"]


def test_the_graph_files_are_the_chain_at_step_0_and_at_the_end(crash_run):
    start, end = run_graph_paths(crash_run.run_dir)
    G0, s0 = read_graph(start)
    G1, s1 = read_graph(end)
    assert (s0, s1) == (0, 60)
    w = crash_run.summary["world"]
    assert set(G1) == {"venue", "insurance_fund", "backstop_vault", "mm_vault", "lending_pool",
                       "synthetic_dollar"}  # fmt: skip
    for holder, issuer in (("lending_pool", "backstop_vault"), ("lending_pool", "synthetic_dollar"),
                           ("synthetic_dollar", "venue")):  # fmt: skip
        assert G0.has_edge(holder, issuer), (holder, issuer)
    assert abs(G1.nodes["lending_pool"]["bad_debt_usd"] - w["pool_bad_debt_usd"]) < CENT
    assert G0.nodes["lending_pool"]["bad_debt_usd"] == 0
    assert abs(G1.nodes["synthetic_dollar"]["backing_ratio"] - w["synth_backing_ratio_end"]) < 1e-9
    # the vault lost: the pool's claim on it shrank with the share price
    assert G1.nodes["backstop_vault"]["equity_usd"] < G0.nodes["backstop_vault"]["equity_usd"]


def test_graph_end_equals_a_fresh_read_of_the_chain(tmp_path):
    scenario = small_world(steps=20)
    out = tmp_path / "run"
    with open_chain(anvil=run_node_config(), backend="revm") as chain:
        writer = RunWriter(out, scenario=scenario, seed=scenario.seed, chain_id=chain.chain_id,
                           bytecode_hashes=bytecode_hashes(), extra={})  # fmt: skip
        with writer:
            engine, _, _ = simulate(chain, scenario, writer=writer, checkpoint_every=0)
            fresh = holdings_graph(chain, engine.world.defi.deployment)
            writer.finish(engine.positions(), meta=_summary_meta(engine, 0.0))
    saved, step = read_graph(run_graph_paths(out)[1])
    assert step == 20
    assert dict(saved.nodes(data=True)) == dict(fresh.nodes(data=True))
    assert sorted(saved.edges(data=True)) == sorted(fresh.edges(data=True))


def test_the_synthetic_dollars_backing_falls_when_its_hedge_is_hit(tmp_path):
    """BTC rises 12% (the short loses its thin reserve: the world's keeper liquidates it at
    the venue, and the manager cannot re-hedge without margin), then falls 30%: the unhedged
    spot loses and the backing ratio falls below 1; the holders run and the AMM depegs."""
    world = json.loads(json.dumps(SMALL_WORLD))
    world["synthetic_dollar"]["reserve_usd"] = 40_000
    shocks = [
        {"step": 5, "fall_fraction": -0.12, "over_steps": 5},
        {"step": 20, "fall_fraction": 0.3, "over_steps": 10},
    ]
    scenario = small_world(world, **{"price_path.shocks": shocks, "steps": 40})
    r = run_scenario(scenario, tmp_path / "run", backend="revm")
    w = r.summary["world"]
    assert w["synth_hedge_liquidations"] >= 1
    assert w["synth_backing_ratio_start"] > 1
    assert w["synth_backing_ratio_min"] < 0.95
    assert w["synth_amm_price_min"] < 0.99
    # the venue's liquidation of the hedge is an ordinary liquidation row of the run
    G, _ = read_graph(run_graph_paths(r.run_dir)[1])
    synth = G.nodes["synthetic_dollar"]["address"]
    liq = r.events[r.events.kind.isin(["liquidation", "partial_liquidation"])]
    assert (liq.account.str.lower() == synth.lower()).any()


def test_same_seed_same_files(crash_run, tmp_path):
    again = run_scenario(small_world(), tmp_path / "again", backend="revm")
    assert _files(tmp_path / "again") == _files(crash_run.run_dir)
    assert deterministic_summary(again.summary) == deterministic_summary(crash_run.summary)


def test_a_resumed_world_run_equals_the_straight_run(crash_run, tmp_path):
    cut = tmp_path / "cut"
    stopped = run_scenario(small_world(), cut, backend="revm", checkpoint_every=10, stop_after=25)
    assert stopped.summary["status"] == "incomplete"
    start_written = run_graph_paths(cut)[0].read_bytes()
    resumed = resume_run(cut, checkpoint_every=10)
    assert deterministic_summary(resumed.summary) == deterministic_summary(crash_run.summary)
    assert _files(cut) == _files(crash_run.run_dir)
    assert run_graph_paths(cut)[0].read_bytes() == start_written


def test_a_scenario_without_a_world_is_unchanged():
    s = load_scenario("oct-2025")
    assert s.world is None and "world" not in s.to_dict()
    # The fingerprint hashes the fields as they were before the world section existed (every
    # field but name and description, with no "world" key): computed here by hand from the
    # fields other than world, it must be the scenario's. (At commit 77829d0, before the
    # section, oct-2025's was 04deed6a...; the preset's calibration has changed it since.)
    fields = s.model_dump(mode="json", exclude={"name", "description"})
    assert "world" not in fields
    others = set(type(s).model_fields) - {"name", "description", "world"}
    payload = {k: v for k, v in fields.items() if k in others}
    text = json.dumps({"perpsim_scenario": 1, **payload}, sort_keys=True, separators=(",", ":"))
    assert s.fingerprint() == hashlib.sha256(text.encode()).hexdigest()
    w = load_scenario("oct-2025-world")
    assert w.world is not None and w.fingerprint() != s.fingerprint()
    assert not math.isnan(w.world.lending_pool.supply_usd)
