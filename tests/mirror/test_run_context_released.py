"""Nothing keeps a run's context alive after the run: the phases' per-run values live in the
context (``Context.memo``), not in module-level caches of the last context. A context kept
after its run keeps its world (and, on chain, its chain) alive; every later garbage collection
in the process then walks it, which made the mirror's benchmark loop ~50% slower after a chain
run in the same process."""

from __future__ import annotations

import gc
import weakref

from simulator.mirror.sim import MirrorEngine
from simulator.scenario import load_scenario


def test_a_mirror_runs_context_is_freed_with_its_engine():
    # oct-2025 has every phase that derives per-run values: the spot agents, the
    # market-making vault, the order flow, the oracle's sources
    scenario = load_scenario("oct-2025", ["steps=12", "price_path.shocks=[]"])
    engine = MirrorEngine(scenario, mode="fast")
    engine.run()
    assert engine.ctx.memo  # the phases kept their values in the context
    ctx, world = weakref.ref(engine.ctx), weakref.ref(engine.world)
    del engine
    gc.collect()
    assert ctx() is None
    assert world() is None
