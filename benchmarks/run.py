"""``perpsim bench run``: a scenario end to end on chain, against the raw ceiling of its blocks.

1. **engine**: the scenario runs as ``perpsim run`` does (fresh anvil, deploy, fund, open,
   every step with its reads, keepers, agents, metrics and invariant checks), timed from the
   first step to the last; the deployment and opening book are timed separately.
2. **raw ceiling**: on a fresh anvil, the same world is built again (deployment is
   deterministic) and the *same transactions* the engine sent are replayed block by block
   through the batched sender with nothing else: no reads, no decisions, no metrics. That is the
   fastest the chain can execute this run's blocks; ``engine tx/s ÷ ceiling tx/s`` is the share
   of the chain's capacity the engine keeps. The replay must reproduce every status.

Both use the same node configuration, in the same process, one after the other. The figures
end with the order flow's plan time per step for 1k and 10k flow slots
(:func:`flow_plan_timing`: the engines' plan phase on synthetic state, no chain).

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
        **flow_plan_timing(),
    }


def run_repeated(
    scenario_name: str = "oct-2025",
    overrides: list[str] | None = None,
    repeat: int = 1,
    *,
    progress: Callable[[str], None] = lambda m: None,
    backend: str = "anvil",
) -> dict:
    """:func:`run` ``repeat`` times in this process, each an engine run and its ceiling replay
    side by side: the last run's figures, plus every pair's (``pairs``: engine and ceiling
    seconds, ratio) and the median, lowest and highest ratio. On a shared machine the ceiling
    alone varies by a third between runs, so one pair is a noisy figure; the median of several
    is the steadier one."""
    if repeat < 1:
        raise PerpsimError(f"--repeat must be at least 1, got {repeat}")
    pairs, figures = [], {}
    for i in range(repeat):
        if repeat > 1:
            progress(f"pair {i + 1} of {repeat}")
        figures = run(scenario_name, overrides, progress=progress, backend=backend)
        pairs.append(
            {k: figures[k] for k in ("engine_seconds", "raw_ceiling_seconds", "ratio_to_ceiling")}
        )
    if repeat == 1:
        return figures
    ratios = sorted(p["ratio_to_ceiling"] for p in pairs)
    mid = len(ratios) // 2
    median = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    return {
        **figures,
        "pairs": pairs,
        "ratio_to_ceiling_median": round(median, 3),
        "ratio_to_ceiling_min": ratios[0],
        "ratio_to_ceiling_max": ratios[-1],
    }


#: Flow slots of the order-flow plan timing (:func:`flow_plan_timing`).
FLOW_PLAN_SLOTS = (1_000, 10_000)


def flow_plan_timing(
    slots: tuple[int, ...] = FLOW_PLAN_SLOTS, steps: int = 200, markets: int = 5
) -> dict[str, float]:
    """The order flow's plan time per step (ms, median over ``steps`` steps) for each number
    of flow slots: the engines' phase up to the venue calls,
    :func:`simulator.engine.flow.plan_arrays` (its two compiled passes around the step's
    draws: closes, signals over a 4-hour window, intensity, Poisson arrivals, slot picking,
    opens), on synthetic state, no chain and no venue: the slots spread over the five kinds
    and ``markets`` markets, each its own margin unit, half of them holding a position, on a
    random-walk feed; the default ``order_flow``. Nothing executes the plan, so the state
    moves only by the plan's own writes. Keys ``flow_plan_ms_per_step_<n>_slots``."""
    import numpy as np

    from simulator.engine.flow import plan_arrays
    from simulator.scenario.flow import OrderFlow

    rng = np.random.default_rng(0)
    feed = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, (300 + steps, markets)), axis=0))
    levels = {"funding_rate_per_hour": rng.normal(0, 1e-4, markets)}
    out = {}
    for n in slots:
        ctx, s, run = _synthetic_flow(OrderFlow(), n, markets, feed, rng)
        times = []
        for t in range(300, 300 + steps):
            start = time.perf_counter()
            plan_arrays(ctx, s, t, levels, run, [])
            times.append(time.perf_counter() - start)
        out[f"flow_plan_ms_per_step_{n}_slots"] = round(1000 * float(np.median(times)), 3)
    return out


def _synthetic_flow(spec, n: int, markets: int, feed, rng):
    """A context, engine state and :class:`~simulator.engine.flow.FlowRun` of ``n`` flow
    slots alone (the book's rows 0..n-1, kinds and markets in turn, each its own account and
    margin unit), half of them open at a random price, for :func:`flow_plan_timing`."""
    from types import SimpleNamespace

    import numpy as np

    from simulator.agents import flow as flow_agents
    from simulator.engine.flow import FlowRun
    from simulator.engine.state import IDLE, OPEN
    from simulator.scenario.flow import FLOW_KINDS

    rows = np.arange(n)
    kind = rows % len(FLOW_KINDS)
    market = (rows // len(FLOW_KINDS)) % markets
    holding = rng.random(n) < 0.5
    price = feed[300, market]
    trader = SimpleNamespace(
        read_price_usd=price * rng.uniform(0.97, 1.03, n),
        side=np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8),
        size_base=np.where(holding, rng.uniform(0.1, 1.0, n), 0.0),
        equity_usd=rng.uniform(100, 10_000, n),
        maintenance_usd=np.where(holding, 5.0, 0.0),
    )
    s = SimpleNamespace(
        trader=trader, oracle_price_usd=feed[300].copy(), feed_prices_usd=feed,
        outcome=np.where(holding, OPEN, IDLE).astype(np.int8), outcome_step=np.full(n, -1),
        opens=holding.astype(np.int64), flow_open_equity_usd=trader.equity_usd.copy(),
        flow_exit_step=np.full(n, 10**9),
    )  # fmt: skip
    ctx = SimpleNamespace(
        n_markets=markets, world=SimpleNamespace(book=SimpleNamespace(market=market)),
        symbols=[f"M{m}" for m in range(markets)], keeps=lambda kind: True,
    )  # fmt: skip
    params = flow_agents.FlowParams.from_spec(spec, 60)
    stream = np.random.default_rng(1)
    run = FlowRun(
        params=params, rows=rows, kind=kind, stream=stream, max_leverage=np.full(markets, 20.0),
        market=market, market_list=market.tolist(), row_list=rows.tolist(),
        ticket_usd=trader.equity_usd.copy(), unit_rows=rows, unit_slot=rows,
        slot_in_unit_rows=rows, slot_unit=rows, own_units=True, at=slice(0, n),
        cooldown_steps=params.cooldown_steps[kind], accounts=[f"0x{i:040x}" for i in rows],
        group=flow_agents.slot_groups(kind, market, markets),
        steps=flow_agents.step_generators(stream),
    )  # fmt: skip
    return ctx, s, run


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


#: Path parameters of a market the scaling bench adds when the scenario does not list it
#: (assumption: an alt moving a little more than the market factor).
ADDED_MARKET_PATH = {"beta": 1.3, "vol_per_year": 0.8}


def market_variant(scenario_name: str, symbols: list[str], overrides: list[str] | None = None):
    """The scenario on ``symbols`` only, with the same accounts and steps: the cost per step
    of ``k`` markets at a fixed number of traders.

    Markets the scenario lists keep their settings; a symbol it does not list (from the venue
    preset's table, e.g. XRP for a sixth market) gets :data:`ADDED_MARKET_PATH`. Every account
    holds exactly one position (``markets_per_account = {1: 1}``) on a market drawn with equal
    weights, so every variant has the same number of positions spread over its markets; common
    shocks, oracle faults and a governance change keep only the listed markets.
    """
    base = load_scenario(scenario_name, overrides or [])
    data = base.to_dict()
    listed = {m["symbol"]: m for m in data["markets"]}
    data["markets"] = [
        listed.get(s, {"symbol": s, "path": dict(ADDED_MARKET_PATH)}) for s in symbols
    ]
    traders = data["traders"]
    if traders.get("kind") != "random":
        raise PerpsimError(f"{scenario_name}: the market scaling bench needs a random population")
    traders["markets_per_account"] = {1: 1.0}
    traders["market_weights"] = None
    path = data["price_path"]
    if path.get("kind") == "factor":
        for shock in path.get("shocks", []):
            if isinstance(shock.get("fall_fraction"), dict):
                shock["fall_fraction"] = {
                    s: f for s, f in shock["fall_fraction"].items() if s in symbols
                }
        path["shocks"] = [s for s in path.get("shocks", []) if s.get("fall_fraction") != {}]
        correlations = path.get("idiosyncratic_correlations") or []
        path["idiosyncratic_correlations"] = [
            c for c in correlations if all(s in symbols for s in c.get("assets", []))
        ]
    elif len(symbols) > 1:
        raise PerpsimError(
            f"{scenario_name}: a {path.get('kind')} price path describes one market; the "
            "market scaling bench needs a factor-model scenario"
        )
    data["oracle_faults"] = [
        f for f in data.get("oracle_faults", []) if f.get("market") in (None, *symbols)
    ]
    change = (data.get("controls") or {}).get("governance_change")
    if change and change.get("market") not in (None, *symbols):
        data["controls"]["governance_change"] = None
    from simulator.scenario import parse_scenario

    return parse_scenario(data, label=f"{scenario_name} on {', '.join(symbols)}")


def market_scaling(
    scenario_name: str = "oct-2025",
    market_counts: tuple[int, ...] = (1, 3, 6),
    overrides: list[str] | None = None,
    *,
    progress: Callable[[str], None] = lambda m: None,
    backend: str = "anvil",
) -> dict:
    """The engine's cost per step on 1, 3, 6 ... markets of the same accounts, in one process
    one after the other (:func:`market_variant`): each variant is built on a fresh node and run
    end to end as ``perpsim run`` does; the ratios are to the first count."""
    from simulator.protocol.venue_params import preset_symbols

    base = load_scenario(scenario_name, overrides or [])
    order = list(base.symbols)
    order += [s for s in preset_symbols(base.venue.preset) if s not in order]
    if max(market_counts) > len(order):
        raise PerpsimError(
            f"{max(market_counts)} markets asked; the scenario and its venue preset list "
            f"{len(order)} ({', '.join(order)})"
        )
    rows = []
    for k in market_counts:
        scenario = market_variant(scenario_name, order[:k], overrides)
        progress(f"{k} market(s): {', '.join(scenario.symbols)}")
        with open_chain(anvil=run_node_config(), backend=backend) as chain:
            chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
            t0 = time.perf_counter()
            world = build_world(chain, scenario)
            setup_s = time.perf_counter() - t0
            engine = Engine(chain, world)
            t1 = time.perf_counter()
            blocks_before = chain.stats.blocks
            engine.run()
            engine_s = time.perf_counter() - t1
            blocks = chain.stats.blocks - blocks_before
        rows.append(
            {
                "markets": k,
                "symbols": list(scenario.symbols),
                "accounts": world.book.n_accounts,
                "positions": int(world.book.count),
                "steps": scenario.steps,
                "blocks": blocks,
                "transactions": engine.state.transactions,
                "setup_seconds": round(setup_s, 2),
                "engine_seconds": round(engine_s, 2),
                "engine_ms_per_step": round(1000 * engine_s / max(scenario.steps, 1), 2),
            }
        )
    first = rows[0]["engine_ms_per_step"]
    for row in rows:
        row["per_step_ratio"] = round(row["engine_ms_per_step"] / first, 3) if first else None
        row["markets_ratio"] = round(row["markets"] / rows[0]["markets"], 3)
    return {
        "benchmark": "run-markets",
        "backend": backend,
        "scenario": base.name,
        "rows": rows,
        "note": "same accounts and steps in every row, one position per account on a market "
        "drawn with equal weights; the cost per step grows less than linearly with markets "
        "when per_step_ratio < markets_ratio",
    }
