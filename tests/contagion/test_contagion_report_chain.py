"""The contagion report on graphs read from chain (revm): a small world is deployed as in
``test_graph_chain.py``; the synthetic dollar's hedge is liquidated (its backing loses the
penalty and, unhedged, the price's fall back: it depegs) and the backstop vault takes over a
long and loses money as the price falls; ``holdings_graph`` before and after are the run folder's graph files, and the run's
summary carries the vault's loss measured on chain. The report's chain figures equal the
contracts' numbers; the models propagate the vault's loss to the pool through the vault shares
it holds as collateral; ``perpsim contagion`` writes its files on it."""

from __future__ import annotations

import subprocess

import pytest
from contagion_report_helpers import PERPSIM, make_base_run, world_run
from test_graph_chain import BORROWER, TRADERS, WAD, _deploy_world, _post_vault_shares, send

from simulator.chain import open_chain
from simulator.contagion.graph import holdings_graph
from simulator.contagion.report import REPORT_FILES, contagion_report

LONG = TRADERS[9]
"""A long of 10 ETH on 100 USD of margin: taken over by the backstop vault at 91."""


@pytest.fixture(scope="module")
def chain_graphs():
    """``(graph_start, graph_end, figures)`` of the world around the losses, on revm."""
    from perp_helpers import KEEPER  # on sys.path once test_graph_chain is imported

    with open_chain(backend="revm") as chain:
        w = _deploy_world(chain)
        mv = w.vv.mv
        shares = _post_vault_shares(w, BORROWER, 1_000 * 10**6)
        mv.setup(LONG, 100, [(1, 10)])
        start = holdings_graph(chain, w.deployment)
        backing_start = w.synth.read("backing")[0]

        mv.push(1, 108)  # the hedge (short 10 ETH, 100 USD reserve) lost 80: below maintenance
        hedge = w.synth.read("backing")[0]
        send(chain, mv.venue.liquidate(KEEPER, w.synth.address))
        penalty = (hedge - w.synth.read("backing")[0]) / WAD
        mv.push(1, 91)  # LONG: equity 10 < 2/3 of its maintenance; the spot unhedged falls
        send(chain, mv.venue.backstop_takeover(KEEPER, LONG))
        mv.push(1, 85)  # the vault's taken-over long loses 60 more
        end = holdings_graph(chain, w.deployment)
        figures = {
            "penalty_usd": penalty,
            "backing_start_usd": backing_start / WAD,
            "backing_end_usd": w.synth.read("backing")[0] / WAD,
            "vault_assets_end_usd": w.vault.read("totalAssets") / 10**6,
            "pool_vault_value_end_usd": w.vault.read("convertToAssets", shares) / 10**6,
        }
    return start, end, figures


@pytest.fixture(scope="module")
def run_dir(chain_graphs, tmp_path_factory):
    start, end, _ = chain_graphs
    base = make_base_run(tmp_path_factory.mktemp("base") / "run")
    vault_loss = (
        start.nodes["backstop_vault"]["equity_usd"] - end.nodes["backstop_vault"]["equity_usd"]
    )
    losses = {
        "adl_haircut_usd": 0.0, "bad_debt_usd": 0.0, "insurance_fund_drawdown_usd": 0.0,
        "backstop_lp_loss_usd": vault_loss, "mm_vault_lp_loss_usd": 0.0,
        "system_loss_usd": vault_loss,
    }  # fmt: skip
    return world_run(base, tmp_path_factory.mktemp("world") / "run", (start, end), losses)


def test_the_losses_happened_on_chain(chain_graphs):
    start, end, f = chain_graphs
    vault0, vault1 = start.nodes["backstop_vault"], end.nodes["backstop_vault"]
    # the takeover lost money: the vault took the long over at 91 with its equity of about
    # 100 - 10 x 9 = 10 USD, then lost 10 x 6 = 60 USD to 85: about 50 USD
    assert vault0["equity_usd"] - vault1["equity_usd"] == pytest.approx(50, abs=0.5)
    assert vault1["equity_usd"] == pytest.approx(f["vault_assets_end_usd"], abs=0.005)
    assert end.edges["lending_pool", "backstop_vault"]["exposure_usd"] == pytest.approx(
        f["pool_vault_value_end_usd"], abs=0.005
    )
    synth0, synth1 = start.nodes["synthetic_dollar"], end.nodes["synthetic_dollar"]
    assert f["penalty_usd"] > 0
    assert synth1["backing_ratio"] < 1 < synth0["backing_ratio"]  # depegged: unhedged at 85
    assert synth0["backing_usd"] == pytest.approx(f["backing_start_usd"], abs=0.005)
    assert synth1["backing_usd"] == pytest.approx(f["backing_end_usd"], abs=0.005)


def test_report_puts_the_models_beside_the_chain(chain_graphs, run_dir):
    start, end, f = chain_graphs
    r = contagion_report(run_dir)
    vault = r.row("backstop_vault")
    e0 = start.nodes["backstop_vault"]["equity_usd"]
    loss = e0 - end.nodes["backstop_vault"]["equity_usd"]
    # the vault's chain-measured loss is its shock, h0 = loss / E0 (nothing else lost)
    assert vault["h0"] == pytest.approx(loss / e0) and vault["chain_loss_usd"] == loss
    assert r.row("venue")["h0"] == 0 and r.row("insurance_fund")["h0"] == 0
    # DebtRank: the pool holds A = its vault shares' value; h_pool = min(1, A / E_pool) x h0
    a = start.edges["lending_pool", "backstop_vault"]["exposure_usd"]
    e_pool = start.nodes["lending_pool"]["equity_usd"]
    pool = r.row("lending_pool")
    assert pool["debtrank_h"] == pytest.approx(min(1.0, a / e_pool) * vault["h0"], rel=1e-12)
    assert pool["debtrank_loss_usd"] > 0
    # the chain: the pool wrote off nothing; the synthetic dollar's net backing (backing -
    # supply) fell by the liquidation penalty and the fall of its then unhedged spot
    assert pool["chain_loss_usd"] == 0
    synth = r.row("synthetic_dollar")
    fall = (f["backing_start_usd"] - start.nodes["synthetic_dollar"]["supply_usd"]) - (
        f["backing_end_usd"] - end.nodes["synthetic_dollar"]["supply_usd"]
    )
    assert fall > f["penalty_usd"] > 0
    assert synth["chain_loss_usd"] == pytest.approx(fall, abs=0.01)
    assert synth["backing_ratio_end"] < synth["backing_ratio_start"]
    # the venue's losses do not reach the synthetic dollar in the models (no venue shock)
    assert synth["debtrank_h"] == 0
    assert r.totals["chain_systemic_loss_usd"] == pytest.approx(loss + synth["chain_loss_usd"])


def test_the_cli_reports_the_chain_world(run_dir):
    proc = subprocess.run(
        [PERPSIM, "contagion", str(run_dir), "--shock-scale", "3"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert all((run_dir / "contagion" / name).is_file() for name in REPORT_FILES)
    assert "lending_pool" in proc.stdout and "synthetic_dollar" in proc.stdout
