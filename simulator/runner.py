"""Run a scenario end to end into a run folder, and resume a run that stopped.

``run_scenario`` is what ``perpsim run`` and ``simulator.run`` call: reach a chain, build the
world, step the engine, write every row and event, checkpoint every ``checkpoint_every`` steps
(engine state plus the chain's state dump, atomically), and finish the folder. A run that dies
(killed, a node that stopped answering) keeps its last checkpoint; ``resume_run`` rebuilds the
world on a fresh node (deployment is deterministic), loads the saved chain state over it,
restores the engine and carries on, ending with the same files as an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulator.agents.traders import TraderState
from simulator.chain.artifacts import load_artifacts
from simulator.chain.base import Chain
from simulator.chain.connect import open_chain
from simulator.chain.node import AnvilConfig
from simulator.contagion.world_graphs import write_world_graph
from simulator.engine import Engine, EngineState, StepOutcome
from simulator.errors import ChainError, PerpsimError
from simulator.results import RunMismatchError, RunReader, RunWriter
from simulator.scenario import Scenario
from simulator.world import World, build_world

#: Timestamp of the first block a run mines (2025-10-10 00:00 UTC); every later block is
#: stamped from it, so runs do not depend on the wall clock.
GENESIS_TIMESTAMP_S = 1_760_054_400
#: Steps between checkpoints of a run folder.
DEFAULT_CHECKPOINT_EVERY = 100

_TRADER_ARRAYS = tuple(f.name for f in dataclasses.fields(TraderState))


@dataclass
class RunResult:
    """A finished run: its folder and headline figures."""

    run_dir: Path | None
    summary: dict[str, Any]
    steps: Any = None
    """steps table as a pandas DataFrame."""
    events: Any = None
    positions: Any = None


def run_node_config() -> AnvilConfig:
    """The embedded node of a run: genesis a day before the run's first block, split state
    (no state root per block: mining a large state twice as fast), and a bounded history
    (memory stays flat however many blocks a run mines)."""
    return AnvilConfig(
        genesis_timestamp_s=GENESIS_TIMESTAMP_S - 86_400, split_state=True, history_states=8
    )


def bytecode_hashes() -> dict[str, str]:
    """SHA-256 of every compiled contract's runtime bytecode (for the manifest)."""
    artifacts = load_artifacts()
    return {
        name: hashlib.sha256(ct.runtime_bytecode).hexdigest()
        for name, ct in sorted(artifacts.contract_types.items())
        if ct.runtime_bytecode
    }


def _engine_checkpoint(
    engine: Engine, chain: Chain, wall_seconds: float = 0.0
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    s = engine.state
    arrays = {f"trader_{k}": np.asarray(getattr(s.trader, k)) for k in _TRADER_ARRAYS}
    arrays.update({k: np.asarray(getattr(s, k)) for k in EngineState.ARRAYS})
    arrays["feed_prices_usd"] = np.asarray(s.feed_prices_usd, dtype=np.float64)
    arrays["chain_state"] = np.frombuffer(chain.dump_state(), dtype=np.uint8)
    meta = {k: getattr(s, k) for k in EngineState.SCALARS}
    meta.update(
        rng=engine.rng.bit_generator.state,
        clock_s=chain.latest_timestamp(),
        wall_seconds=wall_seconds,
        start_timestamp_s=engine.world.start_timestamp_s,
    )
    if engine.defi is not None:  # the contagion world's counters (its levels are read again)
        meta["world"] = engine.defi.checkpoint()
    return arrays, meta


def _restore_engine(
    engine: Engine, chain: Chain, arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> None:
    chain.load_state(arrays["chain_state"].tobytes())
    # Later blocks continue the saved chain's clock, whatever node the run resumes on.
    engine.world.start_timestamp_s = int(meta["start_timestamp_s"])
    s: EngineState = engine.state
    for k in _TRADER_ARRAYS:
        setattr(s.trader, k, np.array(arrays[f"trader_{k}"]))
    for k in EngineState.ARRAYS:
        setattr(s, k, np.array(arrays[k]))
    s.feed_prices_usd = np.array(arrays["feed_prices_usd"], dtype=np.float64)
    for k in EngineState.SCALARS:
        setattr(s, k, meta[k])
    engine.rng.bit_generator.state = meta["rng"]
    engine.refresh_levels()  # the levels of the saved chain, not of the rebuilt world
    if engine.defi is not None:
        engine.defi.restore(meta["world"])


def simulate(
    chain: Chain,
    scenario: Scenario,
    *,
    writer: RunWriter | None = None,
    feedback: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    stop_after: int | None = None,
    world: World | None = None,
    wall_offset_s: float = 0.0,
) -> tuple[Engine, list[dict], list[dict]]:
    """Build the world (unless given) and run the engine on ``chain``.

    Rows and events go to ``writer`` if given (with checkpoints), else are returned.
    """
    started = time.perf_counter()
    chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
    world = world or build_world(chain, scenario)
    engine = Engine(chain, world, feedback=feedback)
    rows: list[dict] = []
    events: list[dict] = []
    if writer is not None and writer.checkpoint is not None:
        cp = writer.checkpoint
        _restore_engine(engine, chain, cp.state, cp.meta)

    def on_step(outcome: StepOutcome) -> None:
        if writer is not None:
            writer.add_step(outcome.rows)
            writer.add_events(outcome.events)
            step = engine.state.step
            if engine.defi is not None and step in (0, scenario.steps):
                write_world_graph(chain, engine.world.defi, writer.run_dir, step, scenario.steps)
            # Step 0 (the opening block) is never a checkpoint: resuming it is starting again.
            if checkpoint_every and 0 < step < scenario.steps and step % checkpoint_every == 0:
                arrays, meta = _engine_checkpoint(
                    engine, chain, wall_offset_s + time.perf_counter() - started
                )
                writer.write_checkpoint(step, arrays, meta)
        else:
            rows.extend(outcome.rows)
            events.extend(outcome.events)
        if progress is not None:
            progress(engine.state.step, scenario.steps)

    engine.run(until_step=stop_after, on_step=on_step)
    return engine, rows, events


def _accounts(engine: Engine, *, flow: bool) -> int:
    """Trader accounts of the order flow's slots (``flow``) or of the opening book."""
    book = engine.world.book
    return len(np.unique(book.account[book.start_flat == flow]))


def _summary_meta(engine: Engine, wall_seconds: float) -> dict[str, Any]:
    world = {"world": engine.defi.summary()} if engine.defi is not None else {}
    return world | {
        # the opening book's trader accounts, and the order flow's slot accounts apart
        "traders": _accounts(engine, flow=False),
        "flow_accounts": _accounts(engine, flow=True),
        "steps": engine.scenario.steps,
        "wall_seconds": round(wall_seconds, 3),
        # the configured step-0 price of the first market (USD)
        "start_price": float(engine.exogenous_usd[0, 0]),
        # uncovered bad debt at the end as the ledgers hold it (WAD integers / 1e18): the sum
        # of the step column's float differences leaves ~1e-11 USD where it should be 0
        "bad_debt_usd": float(np.sum(engine.state.last_bad_debt_usd)),
        # collateral the venue credited to the market-making vault at setup (USD)
        "mm_vault_capital_usd": engine.world.mm_vault_capital_usd,
        "markets": {
            symbol: {
                "start_price": float(engine.exogenous_usd[0, m]),
                "bad_debt_usd": float(engine.state.last_bad_debt_usd[m]),
            }
            for m, symbol in enumerate(engine.symbols)
        },
    }


def run_scenario(
    scenario: Scenario,
    out_dir: str | Path,
    *,
    rpc_url: str | None = None,
    fork_url: str | None = None,
    fork_block: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    stop_after: int | None = None,
    backend: str = "anvil",
) -> RunResult:
    """Run ``scenario`` on a chain into ``out_dir``; return the summary.

    Everything that can be checked without a chain is checked before a node starts or a folder
    is made: the scenario's data files, the output folder (see :meth:`RunWriter.check_folder`),
    the compiled contracts. A run that fails before its first step (a deployment that reverts,
    a node that does not start) leaves no folder it created. ``backend`` is ``"anvil"`` (the
    reference) or ``"revm"`` (in process, several times faster; recorded in the manifest's
    ``extra.backend``). ``stop_after`` ends the run early (after that step's checkpoint) and
    leaves the folder resumable; tests use it to interrupt a run deterministically.
    """
    scenario.check_data_files()
    RunWriter.check_folder(out_dir, overwrite=overwrite)
    hashes = bytecode_hashes()
    start = time.perf_counter()
    with open_chain(
        rpc_url, fork_url, fork_block, anvil=run_node_config(), backend=backend
    ) as chain:
        writer = RunWriter(
            out_dir,
            scenario=scenario,
            seed=scenario.seed,
            chain_id=chain.chain_id,
            bytecode_hashes=hashes,
            extra={"input_notes": scenario.input_notes(), "backend": chain.backend},
            overwrite=overwrite,
        )
        with writer:
            engine = _run_into(writer, chain, scenario, progress, checkpoint_every, stop_after)
            if engine.state.step < scenario.steps:
                arrays, meta = _engine_checkpoint(engine, chain)
                writer.write_checkpoint(engine.state.step, arrays, meta)
                writer.mark_incomplete(
                    f"stopped after step {engine.state.step} of {scenario.steps}"
                )
                return RunResult(Path(out_dir), {"status": "incomplete", "step": engine.state.step})
            summary = writer.finish(
                engine.positions(), meta=_summary_meta(engine, time.perf_counter() - start)
            )
    return _result(Path(out_dir), summary)


def _run_into(
    writer, chain, scenario, progress, checkpoint_every, stop_after, wall_offset_s=0.0
) -> Engine:
    try:
        engine, _, _ = simulate(
            chain, scenario, writer=writer, progress=progress,
            checkpoint_every=checkpoint_every, stop_after=stop_after, wall_offset_s=wall_offset_s,
        )  # fmt: skip
    except ChainError as exc:
        if not writer.kept_on_failure:
            raise  # no step ran: the folder this run created is removed, nothing to resume
        raise ChainError(
            f"{exc} (the run folder {writer.run_dir} is resumable with --resume)"
        ) from None
    return engine


def resume_run(
    run_dir: str | Path,
    *,
    rpc_url: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    scenario: Scenario | None = None,
    backend: str | None = None,
) -> RunResult:
    """Continue a stopped run from its last checkpoint (or from the start if it has none).

    The run continues exactly as recorded in its manifest. Before the folder is touched (it
    stays ``incomplete`` on a refusal) :meth:`RunWriter.resume` checks that the manifest holds
    its scenario and that the scenario matches its recorded fingerprint, that the code hash and
    the contracts' bytecode are the ones the run started with, and that the checkpoint the
    manifest records is there and readable. ``scenario``, when given (a comparison's planned
    run), must be the recorded one. A failure after that marks the run ``incomplete`` with the
    reason. The run continues on the backend it ran on (``backend=None``; another one refuses
    the saved chain state).

    Raises
    ------
    RunNotFoundError, RunExistsError, RunMismatchError, CheckpointError
        See :meth:`RunWriter.resume`.
    """
    start = time.perf_counter()
    run_dir = Path(run_dir)
    backend = backend or _manifest_backend(run_dir)
    if scenario is not None:
        scenario.check_data_files()
    writer = RunWriter.resume(run_dir, bytecode_hashes=bytecode_hashes(), scenario=scenario)
    with writer:  # from here on a failure marks the run incomplete with its reason
        recorded = writer.scenario
        if not isinstance(recorded, Scenario):
            raise RunMismatchError(
                f"cannot resume {run_dir}: its manifest's scenario is not an engine scenario"
            )
        meta = writer.checkpoint.meta if writer.checkpoint else {}
        elapsed = float(meta.get("wall_seconds", 0.0))
        recorded.check_data_files()
        with open_chain(rpc_url, anvil=run_node_config(), backend=backend) as chain:
            writer.record_chain(chain.chain_id)
            engine = _run_into(writer, chain, recorded, progress, checkpoint_every, None, elapsed)
            wall = elapsed + time.perf_counter() - start
            summary = writer.finish(engine.positions(), meta=_summary_meta(engine, wall))
    return _result(run_dir, summary)


def _manifest_backend(run_dir: Path) -> str:
    """The backend a run folder was written on (``anvil`` for folders that do not say)."""
    import json

    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return "anvil"  # RunWriter.resume reports the missing or broken manifest
    extra = manifest.get("extra") if isinstance(manifest, dict) else None
    return (extra or {}).get("backend") or "anvil"


def _result(run_dir: Path, summary: dict) -> RunResult:
    reader = RunReader(run_dir)
    return RunResult(run_dir, summary, reader.steps, reader.events, reader.positions)


def run_in_memory(
    chain: Chain, scenario: Scenario, *, feedback: bool | None = None
) -> tuple[Engine, Any, Any]:
    """Run without a folder (for comparisons and tests): the engine, steps and events frames."""
    import pandas as pd

    engine, rows, events = simulate(chain, scenario, feedback=feedback, checkpoint_every=0)
    return engine, pd.DataFrame(rows), pd.DataFrame(events)


__all__ = ["RunResult", "run_scenario", "resume_run", "simulate", "run_in_memory", "PerpsimError"]
