"""A run folder with a contagion world's graph files, for the report, CLI, compare and app tests.

:func:`base_run` is a real small run (``perpsim run`` on revm, 8 steps); :func:`world_run`
copies it and adds ``contagion/graph_start.json`` and ``graph_end.json`` (the hand-made pair of
:func:`hand_graphs`, or graphs read from chain) and sets the summary's loss terms, so the
report reads exactly the files a run with a world holds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx

from simulator.contagion.graph_io import run_graph_paths, write_graph

PERPSIM = str(Path(sys.executable).with_name("perpsim"))

#: The venue's loss terms of :func:`hand_graphs`' run: venue 100 + 50, fund 100, vault 50.
HAND_LOSSES = {
    "adl_haircut_usd": 100.0,
    "bad_debt_usd": 50.0,
    "insurance_fund_drawdown_usd": 100.0,
    "backstop_lp_loss_usd": 50.0,
    "mm_vault_lp_loss_usd": 0.0,
    "system_loss_usd": 300.0,
}


def hand_graphs() -> tuple[nx.DiGraph, nx.DiGraph]:
    """``(graph_start, graph_end)`` of a six-node world, figures in USD.

    Start: venue E 1,000 (external 1,050); fund E 400 -> venue 400; vault E 500 (external 300)
    -> venue 200; mm E 200 -> venue 200; synth E 100 (external 900, backing 1,100, supply
    1,000) -> venue 200; pool E 1,000 (external 600, bad debt 0) -> vault 250, -> synth 150.
    End: the pool's bad debt is 20, the synthetic dollar's backing 1,020 for 1,000 supply.
    """
    G = nx.DiGraph()
    G.add_node("venue", type="perp_venue", equity_usd=1000.0, external_assets_usd=1050.0)
    G.add_node("insurance_fund", type="insurance_fund", equity_usd=400.0, external_assets_usd=0.0)
    G.add_node("backstop_vault", type="vault", equity_usd=500.0, external_assets_usd=300.0)
    G.add_node("mm_vault", type="venue_account", equity_usd=200.0, external_assets_usd=0.0)
    G.add_node(
        "synthetic_dollar", type="synthetic_dollar", equity_usd=100.0, external_assets_usd=900.0,
        backing_usd=1100.0, supply_usd=1000.0, backing_ratio=1.1,
    )  # fmt: skip
    G.add_node(
        "lending_pool", type="lending_pool", equity_usd=1000.0, external_assets_usd=600.0,
        debt_usd=400.0, bad_debt_usd=0.0,
    )  # fmt: skip
    for holder, issuer, x in [
        ("insurance_fund", "venue", 400.0),
        ("backstop_vault", "venue", 200.0),
        ("mm_vault", "venue", 200.0),
        ("synthetic_dollar", "venue", 200.0),
        ("lending_pool", "backstop_vault", 250.0),
        ("lending_pool", "synthetic_dollar", 150.0),
    ]:
        G.add_edge(holder, issuer, exposure_usd=x)
    H = G.copy()
    H.nodes["venue"]["equity_usd"] = 900.0
    H.nodes["insurance_fund"]["equity_usd"] = 300.0
    H.edges["insurance_fund", "venue"]["exposure_usd"] = 300.0
    H.nodes["backstop_vault"]["equity_usd"] = 450.0
    H.nodes["mm_vault"]["equity_usd"] = 210.0
    H.nodes["synthetic_dollar"].update(
        equity_usd=20.0, backing_usd=1020.0, supply_usd=1000.0, backing_ratio=1.02
    )
    H.nodes["lending_pool"].update(equity_usd=980.0, bad_debt_usd=20.0)
    return G, H


def make_base_run(folder: Path) -> Path:
    """A real small run folder (oct-2025, 40 traders, 8 steps, no shock, revm)."""
    proc = subprocess.run(
        [
            PERPSIM, "run", "oct-2025", "--set", "traders.count=40", "--set",
            "price_path.shocks=[]", "--steps", "8", "--progress", "none", "--backend", "revm",
            "--out", str(folder), "--json",
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return folder


def world_run(
    base: Path,
    folder: Path,
    graphs: tuple[nx.DiGraph, nx.DiGraph] | None = None,
    losses: dict[str, float] | None = None,
    *,
    steps: tuple[int, int] = (0, 7),
) -> Path:
    """A copy of the run folder `base` at `folder` with the contagion graph files and the
    summary's loss terms replaced by `losses` (default :data:`HAND_LOSSES`)."""
    shutil.copytree(base, folder)
    start, end = graphs or hand_graphs()
    p_start, p_end = run_graph_paths(folder)
    p_start.parent.mkdir()
    write_graph(p_start, start, step=steps[0])
    write_graph(p_end, end, step=steps[1])
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(HAND_LOSSES if losses is None else losses)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return folder
