"""Compile the simulator's numba kernels into their on-disk cache ahead of any run.

``make setup`` runs ``python -m simulator.warmup`` after installing the project (and again after
any edit under ``simulator/``): it runs one oct-2025 path on the mirror in fast mode, as a tune
evaluates it, and a few steps of it in exact mode. Every kernel the engines call compiles on its
first call (:mod:`simulator.jit`, ``cache=True``) and is written next to its module, so the
processes that come later -- the tests, ``perpsim tune``'s and ``perpsim sweep``'s workers, the
app's jobs -- load machine code instead of compiling it.

Why ahead: compiling every kernel from a cold cache costs ~45 s of one core on this machine
kind, and a tune's workers each pay it at once when none is cached. A test that starts a tune
under a time limit (the Tune page's AppTest) would spend that limit compiling on a busy machine.
With the cache warm, the same call costs the run itself (~2 s). The figures a warm-up prints
are its own wall times: nothing it runs is kept.
"""

from __future__ import annotations

import sys
import time

#: The scenario a warm-up runs (a preset: every feature a tune's path exercises).
WARMUP_SCENARIO = "oct-2025"
#: Steps of the exact-mode run, its first ones (most of its kernels are the fast mode's, on the
#: same dtypes; a few steps reach the exact forms' own).
EXACT_STEPS = 20


def warm_kernels() -> list[tuple[str, float]]:
    """Run the warm-up; return (what ran, wall seconds) for each part."""
    from simulator.mirror.run import evaluate_path
    from simulator.mirror.sim import MirrorEngine
    from simulator.scenario import load_scenario

    scenario = load_scenario(WARMUP_SCENARIO, [])
    timings: list[tuple[str, float]] = []
    started = time.perf_counter()
    evaluate_path(scenario, mode="fast")
    timings.append((f"{WARMUP_SCENARIO} on the mirror, fast mode", time.perf_counter() - started))
    started = time.perf_counter()
    engine = MirrorEngine(scenario, mode="exact")
    for _ in range(EXACT_STEPS):
        engine.step()
    timings.append(
        (f"{WARMUP_SCENARIO}, {EXACT_STEPS} steps, exact mode", time.perf_counter() - started)
    )
    return timings


def main() -> int:
    for what, seconds in warm_kernels():
        print(f"kernels warm: {what} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
