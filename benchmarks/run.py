"""``perpsim bench run``: a scenario end to end on chain, against the raw ceiling of its blocks.

1. **engine**: the scenario runs as ``perpsim run`` does (fresh anvil, deploy, fund, open,
   every step with its reads, keepers, agents, metrics and invariant checks), timed from the
   first step to the last; the deployment and opening book are timed separately.
2. **raw ceiling**: on a fresh anvil, the same world is built again (deployment is
   deterministic) and the *same transactions* the engine sent are replayed block by block
   through the batched sender with nothing else: no reads, no decisions, no metrics. That is the
   fastest the chain can execute this run's blocks; ``engine tx/s ÷ ceiling tx/s`` is the share
   of the chain's capacity the engine keeps. The replay must reproduce every status.

Both use the same node configuration, in the same process, one after the other.

``backend="revm"`` does both on the in-process EVM instead of anvil (its memory is then this
process's). :func:`run_backends` runs the whole benchmark on several backends one after the
other in one process and reports the speed-up of the engine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from simulator.chain.connect import open_chain
from simulator.engine import Engine
from simulator.errors import PerpsimError
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.scenario import load_scenario
from simulator.world import build_world


def _peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process (VmHWM), MB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


def peak_memory_mb() -> dict[str, float]:
    """Peak resident memory of this process and of its child processes (the anvil nodes)."""
    me = os.getpid()
    nodes = sum(_peak_rss_mb(c) for c in _children(me))
    python = _peak_rss_mb(me)
    return {
        "python_peak_mb": round(python, 1),
        "nodes_peak_mb": round(nodes, 1),
        "total_peak_mb": round(python + nodes, 1),
    }


def run(
    scenario_name: str = "oct-2025",
    overrides: list[str] | None = None,
    *,
    progress: Callable[[str], None] = lambda m: None,
    backend: str = "anvil",
) -> dict:
    """The figures of one backend (times in seconds, rates in transactions per second)."""
    scenario = load_scenario(scenario_name, overrides or [])
    progress(
        f"engine: {scenario.name}, {scenario.traders.count if hasattr(scenario.traders, 'count') else 'book'} traders, {scenario.steps} steps"
    )
    with open_chain(anvil=run_node_config(), backend=backend) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        t0 = time.perf_counter()
        world = build_world(chain, scenario)
        setup_s = time.perf_counter() - t0
        engine = Engine(chain, world, record_calls=True)
        t1 = time.perf_counter()
        engine_blocks_before = chain.stats.blocks
        engine.run()
        engine_s = time.perf_counter() - t1
        memory = peak_memory_mb()  # before the nodes stop
        blocks = chain.stats.blocks - engine_blocks_before
        transactions = engine.state.transactions
        recorded = engine.recorded_calls or []

    progress(f"raw ceiling: replaying {transactions} transactions in {len(recorded)} blocks")
    with open_chain(anvil=run_node_config(), backend=backend) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        world2 = build_world(chain, scenario)
        if world2.traders != world.traders or world2.venue.addresses() != world.venue.addresses():
            raise PerpsimError(
                "replay world differs from the engine's world (deployment not deterministic)"
            )
        t2 = time.perf_counter()
        replayed = 0
        statuses = []
        for step, calls in enumerate(recorded, start=1):
            chain.set_next_block_timestamp(world2.start_timestamp_s + step * scenario.step_seconds)
            results = chain.execute(calls)
            statuses.append([r.ok for r in results])
            replayed += len(results)
        raw_s = time.perf_counter() - t2
        if statuses != engine.recorded_statuses:
            raise PerpsimError("the replay did not reproduce the engine's transaction statuses")

    engine_rate = transactions / engine_s if engine_s else 0.0
    raw_rate = replayed / raw_s if raw_s else 0.0
    return {
        "benchmark": "run",
        "backend": backend,
        "scenario": scenario.name,
        "traders": len(world.traders),
        "steps": scenario.steps,
        "blocks": blocks,
        "transactions": transactions,
        "setup_seconds": round(setup_s, 2),
        "engine_seconds": round(engine_s, 2),
        "wall_seconds": round(setup_s + engine_s, 2),
        "engine_tx_per_s": round(engine_rate, 1),
        "raw_ceiling_seconds": round(raw_s, 2),
        "raw_ceiling_tx_per_s": round(raw_rate, 1),
        "ratio_to_ceiling": round(engine_rate / raw_rate, 3) if raw_rate else None,
        "engine_ms_per_step": round(1000 * engine_s / max(scenario.steps, 1), 2),
        "raw_ms_per_block": round(1000 * raw_s / max(len(recorded), 1), 2),
        **memory,
    }


def run_backends(
    scenario_name: str = "oct-2025",
    overrides: list[str] | None = None,
    backends: list[str] = ("anvil", "revm"),
    *,
    progress: Callable[[str], None] = lambda m: None,
) -> dict:
    """:func:`run` on each backend in turn, in this process; the engine's speed-up of revm over
    anvil (engine seconds, both measured in the same run on the same machine)."""
    figures = {}
    for backend in backends:
        progress(f"backend {backend}")
        figures[backend] = run(scenario_name, overrides, progress=progress, backend=backend)
    speedup = None
    if {"anvil", "revm"} <= figures.keys() and figures["revm"]["engine_seconds"]:
        speedup = round(figures["anvil"]["engine_seconds"] / figures["revm"]["engine_seconds"], 2)
    return {
        "benchmark": "run",
        "scenario": figures[backends[0]]["scenario"],
        "backends": figures,
        "speedup_revm_over_anvil": speedup,
        "note": "peak memory is per process: python_peak_mb of a later backend includes the "
        "earlier ones' peak (VmHWM never goes down)",
    }
