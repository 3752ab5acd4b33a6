"""perpsim: an on-chain risk simulator for DeFi perpetual futures.

The Python API is the CLI's, underneath::

    import simulator
    result = simulator.run("oct-2025", overrides=["traders.count=200", "steps=300"])
    result.summary["liquidated_notional_usd"], result.steps  # summary dict, steps DataFrame
    simulator.resume("runs/oct-2025-seed20251010")           # continue a stopped run
    outcome = simulator.compare_controls("oct-2025", ["baseline", "adl_pro_rata"], paths=2)
    outcome["table"]                                         # metrics x control sets
    simulator.run("oct-2025", backend="revm")                # the same contracts, in process

A run folder is reused only when it holds the same run (scenario fingerprint, code hash,
contract bytecode): see :func:`simulator.results.check_same_run`.

Heavy modules are imported on first use, so ``import simulator`` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _scenario(scenario: Any, overrides: Any):
    from simulator.scenario import Scenario, load_scenario

    if isinstance(scenario, Scenario):
        return scenario.with_overrides(overrides) if overrides else scenario
    return load_scenario(scenario, overrides or ())


def run(scenario: Any, out_dir: str | Path | None = None, *, overrides: Any = (), **kwargs: Any):
    """Run a scenario (a :class:`~simulator.scenario.Scenario`, a preset key or a YAML path)
    into a run folder (default ``runs/<name>-seed<seed>``); return the
    :class:`~simulator.runner.RunResult`. ``kwargs`` go to
    :func:`~simulator.runner.run_scenario` (``rpc_url``, ``fork_url``, ``overwrite``,
    ``backend="anvil"|"revm"``...)."""
    from simulator.runner import run_scenario

    sc = _scenario(scenario, overrides)
    return run_scenario(sc, out_dir or Path("runs") / f"{sc.name}-seed{sc.seed}", **kwargs)


def resume(run_dir: str | Path, **kwargs: Any):
    """Continue a stopped run from its last checkpoint, exactly as its manifest records it;
    return the :class:`~simulator.runner.RunResult`. ``kwargs`` go to
    :func:`~simulator.runner.resume_run` (``rpc_url``, ``progress``...). Refused (one-line
    :class:`~simulator.errors.PerpsimError`) when the code, the contracts or the recorded
    scenario changed since the run started, or its checkpoint is gone or unreadable."""
    from simulator.runner import resume_run

    return resume_run(run_dir, **kwargs)


def compare_controls(
    scenario: Any,
    controls,
    paths: int = 4,
    out_dir: str | Path | None = None,
    *,
    overrides: Any = (),
    **kwargs: Any,
):
    """The same ``paths`` price paths under each control set into ``out_dir`` (default
    ``runs/compare-<name>``); see :func:`simulator.compare.run_compare`. ``kwargs`` go to it:
    ``workers``, ``progress``, ``resume=True`` (reuse and continue the same comparison's runs),
    ``overwrite=True`` (replace the comparison there), ``backend="anvil"|"revm"``."""
    from simulator.compare import run_compare

    sc = _scenario(scenario, overrides)
    return run_compare(
        sc, list(controls), paths, out_dir or Path("runs") / f"compare-{sc.name}", **kwargs
    )


__all__ = ["run", "resume", "compare_controls"]
