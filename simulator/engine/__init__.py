"""The engine: runs a deployed :class:`~simulator.world.World` step by step, one block per step.

Modules, one concept each:

- :mod:`~simulator.engine.loop` -- :class:`Engine`: per step, asks each phase for its actions,
  submits them, mines the block once, collects events, the metrics row and the invariants.
- :mod:`~simulator.engine.state` -- :class:`EngineState` (carried from step to step,
  checkpointed), :class:`StepOutcome`, position outcome codes.
- :mod:`~simulator.engine.context` -- the run's fixed setup shared by the phases and the typed
  :class:`~simulator.engine.context.Action` a phase plans.
- :mod:`~simulator.engine.margin` -- margin units (cross accounts, isolated positions): the
  venue's health reads and the traders' per-position view of them.
- Phases, each planning actions from the state and the views read for it:
  :mod:`~simulator.engine.oracle` (every market's price push, the controller's poke),
  :mod:`~simulator.engine.governance` (scheduled parameter change),
  :mod:`~simulator.engine.traders` (closes, top-ups; the traders' view of their accounts),
  :mod:`~simulator.engine.lps` (LP withdrawals), :mod:`~simulator.engine.keepers`
  (liquidations, backstop takeovers), :mod:`~simulator.engine.adl` (auto-deleveraging),
  :mod:`~simulator.engine.spot` (vault unwind, arbitrage, hedging on the spot AMM).
- After mining: :mod:`~simulator.engine.levels` (the venue's levels, read and parsed),
  :mod:`~simulator.engine.events` (results to event rows and position outcomes),
  :mod:`~simulator.engine.metrics` (the steps row), :mod:`~simulator.engine.invariants`
  (accounting checks), :mod:`~simulator.engine.positions` (positions rows).

Conversions between the contracts' integers and floats are in :mod:`simulator.units`.
"""

from simulator.engine.invariants import INVARIANT_TOLERANCE_USD, InvariantViolation
from simulator.engine.keepers import FULL_REFRESH_STEPS, WATCH_MARGIN_RATIO
from simulator.engine.loop import Engine
from simulator.engine.spot import HEDGE_RATIO, VAULT_UNWIND_SHARE_PER_STEP
from simulator.engine.state import (
    ADL,
    BACKSTOPPED,
    CLOSED,
    LIQUIDATED,
    OPEN,
    OUTCOME_NAMES,
    REFUSED,
    EngineState,
    StepOutcome,
)

__all__ = [
    "ADL",
    "BACKSTOPPED",
    "CLOSED",
    "FULL_REFRESH_STEPS",
    "HEDGE_RATIO",
    "INVARIANT_TOLERANCE_USD",
    "LIQUIDATED",
    "OPEN",
    "OUTCOME_NAMES",
    "REFUSED",
    "VAULT_UNWIND_SHARE_PER_STEP",
    "WATCH_MARGIN_RATIO",
    "Engine",
    "EngineState",
    "InvariantViolation",
    "StepOutcome",
]
