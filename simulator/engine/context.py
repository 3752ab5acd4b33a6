"""What every phase of a step shares: the run's fixed setup (:class:`Context`) and the typed
transaction a phase plans (:class:`Action`).

A phase reads the :class:`~simulator.engine.state.EngineState` and the views the loop read
for it, and returns the :class:`Action` list it wants in the step's block; the loop
(:mod:`simulator.engine.loop`) submits them in order, mines the block once and hands each
transaction's result back with its action's ``kind`` and ``who``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from simulator.chain.base import Chain
from simulator.chain.types import Call
from simulator.pricepaths import OracleFaultSchedule
from simulator.protocol.deploy import Venue
from simulator.scenario import Scenario
from simulator.world import World


class Action(NamedTuple):
    """One transaction of the step's block as a phase planned it."""

    call: Call
    kind: str
    """What it is, e.g. ``oracle``, ``close``, ``liquidate``, ``adl``, ``hedge``; the event
    decoder (:mod:`simulator.engine.events`) reads results by it."""
    who: int = -1
    """Index of the trader it concerns (of the arbitrageur for ``arb``), -1 for none."""


@dataclass
class Context:
    """The run's fixed setup, read by every phase (nothing here changes during a run)."""

    chain: Chain
    """The chain, for the phases' batched reads (submitting and mining is the loop's)."""
    world: World
    scenario: Scenario
    venue: Venue
    accounts: list[str]
    """Trader accounts in population order (index ``i`` is trader ``i``)."""
    rng: np.random.Generator
    """The agents' random stream (traders' decisions)."""
    exogenous_usd: np.ndarray
    """Exogenous price of every step, 0..steps (USD)."""
    faults: OracleFaultSchedule
    feedback: bool
    """The oracle reads the spot AMM (True) or the exogenous price (False)."""
    full_health_every_step: bool
    """Confirm every open position on chain each step (no off-chain watch list)."""
    keeper_reward_fraction: float
    """Keeper's reward per liquidated notional: penalty × keeper share (fraction)."""
    backstop_fraction: float | None
    """Market's backstop threshold (fraction), ``None`` without a backstop vault."""
    adl_policy: str
    max_adl_accounts: int
    amm_fee: float
    """Spot AMM fee (fraction)."""
    vault_address: str
    _index_of: dict[str, int] = field(default_factory=dict, repr=False)

    def index(self, account: str) -> int | None:
        """Trader index of ``account``; ``None`` for any other address (the vault, say)."""
        if not self._index_of:
            self._index_of.update({a: i for i, a in enumerate(self.accounts)})
        return self._index_of.get(account)

    def keeper(self, n: int = 0) -> str:
        """The ``n``-th keeper (round robin), or the deployer when the scenario has none."""
        keepers = self.world.keepers or [self.venue.deployer]
        return keepers[n % len(keepers)]
