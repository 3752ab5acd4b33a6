"""``perpsim bench setup``: how long building a run's world takes, and where the time goes.

For each backend, a fresh node (the configuration ``perpsim run`` uses, fixed clock) builds the
scenario's world with ``traders`` traders (:func:`simulator.world.build_world`: deploy, native
gas balances, funding — mint, approve, deposit per trader —, the opening trades, the market
makers, the accounts read back), timed as a whole and by phase (``World.setup_seconds``).

With ``compare_unlimited`` the same world is also built with the setup's blocks bounded by the
block gas limit alone (``SETUP_BLOCK_CALLS = None``, how the setup sent before blocks were
bounded at ``SETUP_BLOCK_CALLS`` calls): the before/after of the same build in one process.
Both builds must end with the same positions, or the benchmark fails.

Each build also reports its CPU seconds (``cpu_seconds``): this process's (``python``; the
calling thread's alone, ``python_main_thread``: the setup's Python on its critical path, the
rest runs on ``RpcChain``'s results worker beside the node) and the anvil nodes' (``node``,
read from ``/proc``; ``None`` where there is none). On a shared machine the wall seconds follow
the load; the CPU seconds much less: on an idle 2-core machine the wall time is about the
node's CPU plus the calling thread's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import simulator.world as world_module
from simulator.chain.connect import open_chain
from simulator.errors import PerpsimError
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.scenario import load_scenario


def _node_cpu_seconds() -> float | None:
    """CPU seconds (user + system) of this process's child processes so far (the anvil nodes:
    a run's node is a fork of an empty second one); ``None`` without ``/proc``."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    me, ticks, total = os.getpid(), os.sysconf("SC_CLK_TCK"), 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == me:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def _build(scenario, backend: str, block_calls: int | None) -> dict:
    """Build the world once with ``SETUP_BLOCK_CALLS = block_calls``; its figures."""
    saved = world_module.SETUP_BLOCK_CALLS
    world_module.SETUP_BLOCK_CALLS = block_calls
    try:
        with open_chain(anvil=run_node_config(), backend=backend) as chain:
            chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
            blocks_before = chain.stats.blocks
            node_before = _node_cpu_seconds()
            cpu, main_cpu = time.process_time(), time.thread_time()
            start = time.perf_counter()
            world = world_module.build_world(chain, scenario)
            seconds = time.perf_counter() - start
            cpu, main_cpu = time.process_time() - cpu, time.thread_time() - main_cpu
            node_after = _node_cpu_seconds()
            blocks = chain.stats.blocks - blocks_before
    finally:
        world_module.SETUP_BLOCK_CALLS = saved
    return {
        "block_calls": block_calls,
        "seconds": round(seconds, 2),
        "phases_seconds": {k: round(v, 2) for k, v in world.setup_seconds.items()},
        "cpu_seconds": {
            "python": round(cpu, 2),
            "python_main_thread": round(main_cpu, 2),
            "node": round(node_after - node_before, 2)
            if backend == "anvil" and node_before is not None
            else None,
        },
        "transactions": world.setup_transactions,
        "blocks": blocks,
        "opened": int(world.opened.sum()),
        "_state": (
            world.opened_size_base,
            world.entry_price_usd,
            world.liquidation_price_usd,
            world.collateral_in_usd,
        ),
        "_start": world.start_timestamp_s,
    }


def run(
    scenario_name: str = "oct-2025",
    traders: int = 10_000,
    overrides: list[str] | None = None,
    *,
    backend: str = "anvil",
    compare_unlimited: bool = True,
    progress: Callable[[str], None] = lambda m: None,
) -> dict:
    """The figures of one backend (seconds; ``before`` is ``None`` without
    ``compare_unlimited``)."""
    scenario = load_scenario(scenario_name, [*(overrides or []), f"traders.count={traders}"])
    limit = world_module.SETUP_BLOCK_CALLS
    progress(f"{backend}: {scenario.name}, {traders:,} traders, blocks of {limit} calls")
    after = _build(scenario, backend, limit)
    before = None
    if compare_unlimited:
        progress(f"{backend}: the same world in blocks bounded by gas alone")
        before = _build(scenario, backend, None)
        same = all(
            np.array_equal(a, b, equal_nan=True)
            for a, b in zip(before["_state"], after["_state"], strict=True)
        )
        if not same or before["_start"] != after["_start"]:
            raise PerpsimError(
                "bench setup: the two builds ended with different positions, deposits or start "
                "times"
            )
    for figures in (after, before):
        if figures is not None:
            del figures["_state"], figures["_start"]
    return {
        "benchmark": "setup",
        "backend": backend,
        "scenario": scenario.name,
        "traders": traders,
        "after": after,
        "before": before,
        "speedup": round(before["seconds"] / after["seconds"], 2)
        if before and after["seconds"]
        else None,
    }


def run_backends(
    scenario_name: str = "oct-2025",
    traders: int = 10_000,
    overrides: list[str] | None = None,
    backends: list[str] = ("anvil", "revm"),
    *,
    compare_unlimited: bool = True,
    progress: Callable[[str], None] = lambda m: None,
) -> dict:
    """:func:`run` on each backend in turn, in this process."""
    figures = {
        backend: run(
            scenario_name,
            traders,
            overrides,
            backend=backend,
            compare_unlimited=compare_unlimited,
            progress=progress,
        )
        for backend in backends
    }
    return {"benchmark": "setup", "traders": traders, "backends": figures}
