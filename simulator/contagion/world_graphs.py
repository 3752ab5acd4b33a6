"""The run's exposure-graph snapshots (issue 13, item 4, chain side).

A run with a contagion world (scenario ``world:``) writes
:func:`~simulator.contagion.graph.holdings_graph` of its deployment into the run folder
(:func:`~simulator.contagion.graph_io.run_graph_paths`) while it runs, before it is complete:

- ``contagion/graph_start.json`` right after step 0's block (the opening book and the world in
  place, no shock yet). A resumed run never mines step 0 again (step 0 is never a checkpoint),
  so the file the run wrote at its start stays; a run resumed from no checkpoint starts over
  and writes it again from the same chain state;
- ``contagion/graph_end.json`` right after the last step's block.

Both are read from the chain's latest block, the one the step just mined.
"""

from __future__ import annotations

from pathlib import Path

from simulator.chain.base import Chain
from simulator.contagion.graph import holdings_graph
from simulator.contagion.graph_io import run_graph_paths, write_graph


def write_world_graph(chain: Chain, defi, run_dir: str | Path, step: int, last_step: int) -> None:
    """Write the graph file of ``step`` (0: ``graph_start.json``; ``last_step``:
    ``graph_end.json``; a one-step run writes both) for the world ``defi``
    (:class:`~simulator.contagion.world_setup.DefiWorld`)."""
    start, end = run_graph_paths(run_dir)
    targets = ([start] if step == 0 else []) + ([end] if step == last_step else [])
    if not targets:
        return
    start.parent.mkdir(parents=True, exist_ok=True)
    graph = holdings_graph(chain, defi.deployment)
    for path in targets:
        write_graph(path, graph, step=step)
