"""``perpsim bench mirror``: the mirror engine (fast mode) and the chain engine on the same
scenario in one run, their trader-steps per second and the ratio.

The scenario is one the mirror models (:data:`DEFAULT_SCENARIO`: 10,000 traders over three
markets, cross and isolated, half of them acting -- take-profit, stop-loss, panic, top-up --,
a factor price path with a -15% shock, no feedback, order flow or vaults), or any scenario
file or preset with ``--set`` overrides. A trader-step is one trader account carried through
one step; the figure is accounts × steps over the wall seconds of the step loop, the world's
setup (deploying and opening the book on chain; opening it on the mirror) timed apart. Both
engines run on one core of this process (the chain on the in-process revm backend by
default).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from simulator.scenario import Scenario, load_scenario, parse_scenario

#: The default scenario of the benchmark (a dict of ``parse_scenario``).
DEFAULT_SCENARIO: dict[str, Any] = {
    "name": "bench-mirror",
    "seed": 7,
    "steps": 240,
    "step_seconds": 60,
    "venue": {"preset": "hyperliquid-like"},
    "markets": [
        {"symbol": "BTC", "path": {"beta": 1.0, "vol_per_year": 0.5}},
        {"symbol": "ETH", "path": {"beta": 1.2, "vol_per_year": 0.7}},
        {"symbol": "SOL", "path": {"beta": 1.4, "vol_per_year": 0.9}},
    ],
    "controls": {"adl_policy": "profit_queue", "insurance_fund_usd": 50_000_000,
                 "feedback": False},
    "traders": {
        "kind": "random",
        "count": 10_000,
        "leverage": {"min": 2, "max": 20},
        "markets_per_account": {1: 0.5, 2: 0.3, 3: 0.2},
        "isolated_share": 0.2,
        "behaviour": {"weights": {"hold": 0.5, "take_profit": 0.15, "stop_loss": 0.15,
                                  "top_up": 0.1, "panic": 0.1}},
    },
    "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.4},
                   "shocks": [{"step": 120, "fall_fraction": 0.15, "over_steps": 10}]},
    "keepers": {"count": 3, "max_liquidations_per_block": 20, "reaction_delay_steps": 1},
    "arbitrageurs": {"count": 0},
}  # fmt: skip


def bench_scenario(
    scenario: str | None, overrides: list[str], traders: int | None, steps: int | None
) -> Scenario:
    """The benchmark's scenario: ``scenario`` (a preset or file; default
    :data:`DEFAULT_SCENARIO`) with ``--set`` overrides, ``traders`` and ``steps``."""
    sc = parse_scenario(DEFAULT_SCENARIO) if scenario is None else load_scenario(scenario)
    updates = list(overrides)
    if traders is not None:
        updates.append(f"traders.count={traders}")
    if steps is not None:
        updates.append(f"steps={steps}")
    return sc.with_overrides(updates) if updates else sc


def _timed_run(engine: Any, t0: float) -> dict[str, Any]:
    """Run ``engine`` (set up since ``t0``) to its end: setup and loop seconds, accounts and
    liquidations (full and partial)."""
    t1 = time.perf_counter()
    liquidations = 0

    def count(outcome) -> None:
        nonlocal liquidations
        liquidations += sum(e["kind"] in ("liquidation", "partial_liquidation")
                            for e in outcome.events)  # fmt: skip

    engine.run(on_step=count)
    t2 = time.perf_counter()
    accounts = len(np.unique(engine.world.book.account))
    return {"setup_seconds": t1 - t0, "loop_seconds": t2 - t1, "accounts": accounts,
            "liquidations": liquidations}  # fmt: skip


def _mirror(sc: Scenario, mode: str) -> dict[str, Any]:
    from simulator.mirror.sim import MirrorEngine

    t0 = time.perf_counter()
    return _timed_run(MirrorEngine(sc, mode=mode), t0)


def _chain(sc: Scenario, backend: str) -> dict[str, Any]:
    from simulator.chain import open_chain
    from simulator.engine import Engine
    from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
    from simulator.world import build_world

    with open_chain(backend=backend, anvil=run_node_config()) as chain:
        t0 = time.perf_counter()
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        return _timed_run(Engine(chain, build_world(chain, sc)), t0)


def _median(values: list[float]) -> float:
    return float(np.median(values))


def bench_mirror(
    sc: Scenario,
    *,
    backend: str = "revm",
    chain: bool = True,
    mode: str = "fast",
    repeat: int = 1,
    progress: Callable[[str], None] = lambda m: None,
) -> dict[str, Any]:
    """Run ``sc`` on the mirror (``mode``) and, with ``chain``, on the chain engine
    (``backend``), ``repeat`` times each, alternated (a fresh engine every time); the figures
    (seconds, trader-steps per second, their ratio) of the median loop and setup, and each
    run's loop seconds (``*_loop_seconds_each``). A shared machine's load moves single runs by
    several percent: the median of a few is the steadier figure.

    Raises
    ------
    ValueError
        ``repeat`` < 1, or two runs of one engine that liquidate a different number of
        positions (the same scenario and seed must give the same run).
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    steps = sc.steps + 1  # step 0 is a step too
    traders = sc.traders.count if hasattr(sc.traders, "count") else ""
    mirror_runs: list[dict[str, Any]] = []
    chain_runs: list[dict[str, Any]] = []
    for i in range(repeat):
        run = f" (run {i + 1} of {repeat})" if repeat > 1 else ""
        progress(f"mirror ({mode}): {sc.name}, {traders} traders, {steps} steps{run}")
        mirror_runs.append(_mirror(sc, mode))
        if chain:
            progress(f"chain ({backend}){run}")
            chain_runs.append(_chain(sc, backend))
    for name, runs in (("mirror", mirror_runs), ("chain", chain_runs)):
        counts = sorted({r["liquidations"] for r in runs})
        if len(counts) > 1:
            raise ValueError(
                f"bench mirror: the {name} engine's runs liquidated {counts} positions"
            )
    m_loop = _median([r["loop_seconds"] for r in mirror_runs])
    m = mirror_runs[0]
    out: dict[str, Any] = {
        "scenario": sc.name,
        "traders": m["accounts"],
        "steps": steps,
        "markets": len(sc.venue_params().markets),
        "mirror_mode": mode,
        "repeat": repeat,
        "mirror_setup_seconds": round(_median([r["setup_seconds"] for r in mirror_runs]), 3),
        "mirror_loop_seconds": round(m_loop, 3),
        "mirror_loop_seconds_each": [round(r["loop_seconds"], 3) for r in mirror_runs],
        "mirror_trader_steps_per_second": round(m["accounts"] * steps / m_loop),
        "mirror_liquidations": m["liquidations"],
    }
    if chain:
        c_loop = _median([r["loop_seconds"] for r in chain_runs])
        c = chain_runs[0]
        out.update({
            "chain_backend": backend,
            "chain_setup_seconds": round(_median([r["setup_seconds"] for r in chain_runs]), 3),
            "chain_loop_seconds": round(c_loop, 3),
            "chain_loop_seconds_each": [round(r["loop_seconds"], 3) for r in chain_runs],
            "chain_trader_steps_per_second": round(c["accounts"] * steps / c_loop),
            "chain_liquidations": c["liquidations"],
        })  # fmt: skip
        out["ratio"] = round(c_loop / m_loop, 1)
    out["target_trader_steps_per_second"] = 20_000_000
    return out


__all__ = ["DEFAULT_SCENARIO", "bench_mirror", "bench_scenario"]
