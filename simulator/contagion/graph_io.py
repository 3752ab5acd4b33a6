"""The exposure graphs a run keeps in its folder (issue 13, run integration).

A run whose scenario deploys the contagion world writes two snapshots of
:func:`simulator.contagion.graph.holdings_graph` into ``RUN_DIR/contagion/``:

- ``graph_start.json``: after step 0's block (the opening book is in, no shock yet);
- ``graph_end.json``: after the run's last block.

Both are JSON objects ``{"format": FORMAT, "step": int, "graph": ...}`` where ``graph`` is
``networkx.node_link_data(G, edges="edges")``: every node and edge attribute of the graph
(``equity_usd``, ``external_assets_usd``, ``exposure_usd``, ``type``, ...) survives the round
trip, so a report reads back the very numbers the chain held. The files are written atomically
(:func:`simulator.results.atomic.atomic_write_json`).

>>> import networkx as nx, tempfile, pathlib
>>> G = nx.DiGraph()
>>> G.add_node("pool", type="lending_pool", equity_usd=10.0, external_assets_usd=4.0)
>>> G.add_node("vault", type="vault", equity_usd=6.0, external_assets_usd=6.0)
>>> G.add_edge("pool", "vault", exposure_usd=5.0)
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_graph(d / "g.json", G, step=0)
>>> H, step = read_graph(d / "g.json")
>>> step, H.edges["pool", "vault"]["exposure_usd"], H.nodes["vault"]["type"]
(0, 5.0, 'vault')
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx

from simulator.errors import ContagionError
from simulator.results.atomic import atomic_write_json

CONTAGION_DIR = "contagion"
"""The run folder's subfolder holding the graphs."""
GRAPH_START = "graph_start.json"
"""The graph after step 0's block."""
GRAPH_END = "graph_end.json"
"""The graph after the run's last block."""
FORMAT = "perpsim-contagion-graph/1"
"""The ``format`` tag of a graph file; a file with another tag is refused."""
NODE_NAMES = (
    "venue",
    "insurance_fund",
    "backstop_vault",
    "mm_vault",
    "lending_pool",
    "synthetic_dollar",
    "second_venue",
    "second_insurance_fund",
    "second_backstop_vault",
)
"""Every node :func:`simulator.contagion.graph.holdings_graph` can give: the world's protocols
a scenario's ``world.cross_holdings`` and ``perpsim contagion --shock`` may name."""


def write_graph(path: str | Path, graph: nx.DiGraph, *, step: int) -> None:
    """Write `graph` (read from chain at the end of `step`'s block) to `path`, atomically."""
    if not isinstance(graph, nx.DiGraph):
        raise ContagionError(
            f"write_graph: expected a networkx DiGraph, got {type(graph).__name__}"
        )
    if step < 0:
        raise ContagionError(f"write_graph: step must be >= 0, got {step}")
    atomic_write_json(
        path,
        {"format": FORMAT, "step": int(step), "graph": nx.node_link_data(graph, edges="edges")},
    )


def read_graph(path: str | Path) -> tuple[nx.DiGraph, int]:
    """Read a graph file written by :func:`write_graph`: ``(graph, step)``.

    A missing file, a file that is not JSON, or one of another format is a
    :class:`~simulator.errors.ContagionError` naming the path (one line, exit code 2).
    """
    p = Path(path)
    if not p.is_file():
        raise ContagionError(f"contagion graph file not found: {p}")
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ContagionError(f"contagion graph file {p} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ContagionError(f"contagion graph file {p} has format {found!r}, expected {FORMAT!r}")
    try:
        graph = nx.node_link_graph(data["graph"], directed=True, edges="edges")
        step = int(data["step"])
    except (KeyError, TypeError, ValueError, nx.NetworkXError) as exc:
        raise ContagionError(f"contagion graph file {p} is malformed: {exc!r}") from None
    return nx.DiGraph(graph), step


def run_graph_paths(run_dir: str | Path) -> tuple[Path, Path]:
    """``(graph_start.json, graph_end.json)`` paths of a run folder (they may not exist)."""
    base = Path(run_dir) / CONTAGION_DIR
    return base / GRAPH_START, base / GRAPH_END
