"""What every phase of a step shares: the run's fixed setup (:class:`Context`) and the typed
transaction a phase plans (:class:`Action`).

A phase reads the :class:`~simulator.engine.state.EngineState` and the views the loop read
for it, and returns the :class:`Action` list it wants in the step's block; the loop
(:mod:`simulator.engine.loop`) submits them in order, mines the block once and hands each
transaction's result back with its action.

Indices: a *row* is a position of the trader book (``world.book``), an *account* an entry of
``world.accounts``, a *unit* a margin unit (:class:`~simulator.engine.margin.MarginUnits`: a
cross account or an isolated position), a *market* an index into ``world.symbols`` (the venue's
market id is ``market_ids[market]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from simulator.chain.base import Chain
from simulator.chain.types import Call
from simulator.engine.margin import MarginUnits
from simulator.pricepaths import OracleFaultSchedule
from simulator.protocol.venue_deploy import MultiVenue
from simulator.scenario import Scenario
from simulator.world import World


class Action(NamedTuple):
    """One transaction of the step's block as a phase planned it."""

    call: Call
    kind: str
    """What it is, e.g. ``oracle``, ``close``, ``liquidate``, ``adl``, ``hedge``; the event
    decoder (:mod:`simulator.engine.events`) reads results by it."""
    who: int = -1
    """The book row (position) it concerns (the arbitrageur for ``arb``), -1 for none."""
    market: int = -1
    """The market (index into ``world.symbols``) it concerns, -1 for none or several."""
    unit: int = -1
    """The margin unit it concerns (cross account or isolated position), -1 for none."""


@dataclass
class Context:
    """The run's fixed setup, read by every phase (nothing here changes during a run)."""

    chain: Chain
    """The chain, for the phases' batched reads (submitting and mining is the loop's)."""
    world: World
    scenario: Scenario
    venue: MultiVenue
    accounts: list[str]
    """Trader accounts (index ``a`` is account ``a`` of the book)."""
    units: MarginUnits
    rng: np.random.Generator
    """The agents' random stream (traders' decisions)."""
    exogenous_usd: np.ndarray
    """Exogenous price of every market at every step, shape (steps + 1, M), USD."""
    faults: OracleFaultSchedule
    feedback: bool
    """The oracles read the spot AMMs (True) or the exogenous prices (False)."""
    full_health_every_step: bool
    """Confirm every open position on chain each step (no off-chain watch list)."""
    keeper_reward_fraction: np.ndarray
    """Per market: keeper's reward per liquidated notional, penalty × keeper share."""
    backstop_fraction: np.ndarray | None
    """Per market: backstop threshold (fraction of maintenance), ``None`` without a vault."""
    adl_policy: list[str]
    """Per market: the venue's ADL policy (``VenueAdlPolicy`` value)."""
    max_adl_accounts: np.ndarray
    """Per market: most accounts one ``adl`` call takes."""
    amm_fee: np.ndarray
    """Per market: spot AMM fee (fraction)."""
    vault_address: str | None
    """The backstop vault (its venue account), None without one."""
    event_kinds: frozenset[str] | None = None
    """The ``events`` rows the run keeps, by ``kind`` (None: every row, as a run folder has
    them). A tuning evaluation keeps only what its summary and the step rows read
    (:data:`simulator.mirror.run.EVALUATION_EVENT_KINDS`); the busiest phases then skip
    building the rows of other kinds (:meth:`keeps`), and change nothing else."""
    memo: dict[str, Any] = field(default_factory=dict, repr=False)
    """Values a phase derives from this context once and reads every step (the spot kernel's
    constants, the vault's quote parameters, ...): kept with the run, so that nothing outlives
    it (a module-level cache of the last context would keep its chain alive after the run)."""
    _index_of: dict[str, int] = field(default_factory=dict, repr=False)
    _row_of: dict[tuple[str, int], int] = field(default_factory=dict, repr=False)
    _market_of: dict[int, int] = field(default_factory=dict, repr=False)
    _rows_of_account: list[list[int]] = field(default_factory=list, repr=False)
    _market_ids: list[int] | None = field(default=None, repr=False)

    def keeps(self, kind: str) -> bool:
        """Whether the run keeps ``events`` rows of ``kind`` (:attr:`event_kinds`)."""
        return self.event_kinds is None or kind in self.event_kinds

    @property
    def symbols(self) -> list[str]:
        return self.world.symbols

    @property
    def market_ids(self) -> list[int]:
        if self._market_ids is None:  # fixed once the venue is deployed; read on every call
            self._market_ids = self.world.market_ids
        return self._market_ids

    @property
    def n_markets(self) -> int:
        return len(self.world.symbols)

    def index(self, account: str) -> int | None:
        """Account index of ``account``; ``None`` for any other address (the vault, say)."""
        if not self._index_of:
            self._index_of.update({a: i for i, a in enumerate(self.accounts)})
        return self._index_of.get(account)

    def market_index(self, market_id: int) -> int:
        """Index in ``symbols`` of the venue's market id ``market_id``."""
        if not self._market_of:
            self._market_of.update({mid: m for m, mid in enumerate(self.market_ids)})
        return self._market_of[int(market_id)]

    def row(self, account: str, market_id: int) -> int | None:
        """Book row of ``account``'s position in the venue's market ``market_id`` (None: not a
        trader's, or no such row)."""
        if not self._row_of:
            book, ids = self.world.book, self.market_ids
            self._row_of.update(
                {
                    (self.accounts[a], ids[m]): r
                    for r, (a, m) in enumerate(zip(book.account, book.market, strict=True))
                }
            )
        return self._row_of.get((account, int(market_id)))

    def rows_of_account(self, account: int) -> list[int]:
        """Book rows of account index ``account``."""
        if not self._rows_of_account:
            rows: list[list[int]] = [[] for _ in self.accounts]
            for r, a in enumerate(self.world.book.account):
                rows[int(a)].append(r)
            self._rows_of_account.extend(rows)
        return self._rows_of_account[account]

    def keeper(self, n: int = 0) -> str:
        """The ``n``-th keeper (round robin), or the deployer when the scenario has none."""
        keepers = self.world.keepers or [self.venue.deployer]
        return keepers[n % len(keepers)]
