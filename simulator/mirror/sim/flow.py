"""Phase 1d on the mirror: the order flow (``order_flow:``, arriving traders), planned by the
chain engine's own phase (:func:`simulator.engine.flow.plan_flow`: the slots' take-profit,
stop-loss and holding-time closes, the step's Poisson arrivals into idle slots past their
cooldown, drawn from the flow stream as on chain), executed on the venue in block order after
the traders' closes and top-ups (``closePosition`` / ``trade``, :mod:`~simulator.mirror.sim.
planned`: :func:`~simulator.mirror.sim.planned.execute_many`, compiled batches in fast mode),
and decoded by the engine's decoders from what each call did: the slots' sizes and entries
(:func:`simulator.engine.events.decode_positions`, :func:`~simulator.engine.events.
decode_block`'s branch for them, when the block is decoded) and the ``open`` / ``close`` /
``open_reverted`` / ``close_reverted`` rows with the slots' opens and outcomes
(:func:`simulator.engine.flow.record_flow_calls`, :func:`~simulator.engine.flow.record_flow`
from the calls' fields, after the block's other rows, as the chain engine appends them).
``order_flow_unfilled`` rows are the plan's.

Fast mode goes from the plan's arrays (:func:`simulator.engine.flow.plan_arrays`) to the venue
and back without a per-call object, in a few compiled calls a step: the block in one
(:func:`~simulator.mirror.sim.jit_calls.flow_batch`: the opens' WAD deltas, the calls as
:func:`planned.execute_many` runs them, the pool, the fund and the ``_open`` moves, over the
slots' account and market indices, :class:`SlotCalls`, into the run's :class:`BlockBuffers`;
a call the batch stops at made alone through :func:`planned.execute`, its
:class:`planned.Planned` built then), the slots' decode in one (:func:`_decode_slots`) and
their state with the count of rows to build in one (:func:`simulator.engine.flow.
record_flow_slots`; rows only for the kinds the run keeps, :class:`ArrayBlock`). Exact mode
(and ``FlowRun.array_calls`` False) takes the Actions' path,
which ``tests/mirror/test_mirror_flow_arrays.py`` holds the arrays' path to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from simulator.engine import events
from simulator.engine import flow as engine_flow
from simulator.engine.context import Action, Context
from simulator.engine.flow import FlowPlan, FlowRun
from simulator.engine.state import EngineState
from simulator.jit import kernel
from simulator.mirror.sim import jit_calls, planned
from simulator.mirror.sim.venue import VenueState
from simulator.units import to_wad


@dataclass
class FlowBlock:
    """This block's flow calls and what the venue did with them (:class:`planned.Executed`:
    arrays, no transaction objects)."""

    actions: list[Action] = field(default_factory=list)
    executed: planned.Executed | None = None

    @property
    def count(self) -> int:
        """The number of venue calls."""
        return len(self.actions)

    @property
    def rows(self) -> list[int]:
        """The book rows (slots) the calls concern (their margin units are touched)."""
        return [a.who for a in self.actions]

    def decoder(self, ctx: Context, s: EngineState, t: int) -> Callable[[], None]:
        """The decode of the calls' ``PositionModified`` fields into the slots' sizes and
        entries (:func:`simulator.engine.events.decode_positions`, what
        :func:`~simulator.engine.events.decode_block` does with them; it writes no row for a
        flow call), to run when the block is decoded."""

        def decode() -> None:
            if self.actions:
                events.decode_positions(ctx, s, self.executed.modified)

        return decode


def plan(
    ctx: Context, s: EngineState, t: int, last: dict, run: FlowRun | None, venue: VenueState
) -> tuple[list[Action] | FlowPlan, list[dict]]:
    """Step ``t``'s flow calls and its ``order_flow_unfilled`` rows (``last``: the last
    block's levels, for the funding rates): fast mode the plan's arrays
    (:func:`simulator.engine.flow.plan_arrays`), else the Actions of
    :func:`simulator.engine.flow.plan_flow`."""
    unfilled: list[dict] = []
    if run is not None and run.array_calls and not venue.exact_mode:
        return engine_flow.plan_arrays(ctx, s, t, last, run, unfilled), unfilled
    return engine_flow.plan_flow(ctx, s, t, last, run, unfilled), unfilled


def execute(
    ctx: Context, venue: VenueState, calls: list[Action] | FlowPlan, run: FlowRun | None = None
) -> FlowBlock | ArrayBlock:
    """The flow calls on the venue, in order: a plan's arrays by :func:`execute_arrays`,
    Actions by :func:`planned.execute_many` (in fast mode compiled batches)."""
    if isinstance(calls, FlowPlan):
        return execute_arrays(ctx, venue, calls, run)
    return FlowBlock(calls, planned.execute_many(ctx, venue, [a.call for a in calls]))


def record(ctx: Context, s: EngineState, block: FlowBlock | ArrayBlock, t: int,
           run: FlowRun | None):  # fmt: skip
    """The block's flow rows (``open``, ``close`` and their reverts) and the slots' opens and
    outcomes, by :func:`simulator.engine.flow.record_flow_calls` (:func:`~simulator.engine.
    flow.record_flow` over the calls' arrays; after the block was decoded), or for an
    :class:`ArrayBlock` :func:`simulator.engine.flow.record_flow_slots`."""
    if isinstance(block, ArrayBlock):
        return engine_flow.record_flow_slots(ctx, s, t, run, block.slots, block.opens_from,
                                             block.ok, block.errors, block.fields())  # fmt: skip
    if not block.actions:
        return engine_flow.record_flow_calls(ctx, s, [], [], [], [], t, run)
    done = block.executed
    return engine_flow.record_flow_calls(ctx, s, block.actions, done.ok, done.errors,
                                         done.modified, t, run)  # fmt: skip


@dataclass
class SlotCalls:
    """Per flow slot (aligned with :class:`FlowRun`'s ``rows``; fixed for the run): what its
    venue calls take and what their decode writes."""

    account: np.ndarray
    """The venue's account index of the slot's account (int64; -1: not the venue's, a call
    the batch leaves to :func:`planned.execute`)."""
    market: np.ndarray
    """The slot's market index (int64)."""
    market_id: list[int]
    """The venue's market id of the slot's market."""
    decode_row: np.ndarray
    """The book row the slot's ``PositionModified`` writes (:meth:`Context.row` of its
    account and market id; -1: none)."""
    tab: np.ndarray
    """(slots, 2) int64: the slot's account index (-1: not the venue's) and market, as
    :func:`jit_calls.flow_batch` reads them (``slot_tab``)."""
    buffers: BlockBuffers
    """The block's arrays, made once a run and written by each step's :func:`execute_arrays`
    (an :class:`ArrayBlock` holds views of them until the next step's block)."""


@dataclass
class BlockBuffers:
    """A flow block's arrays as :func:`jit_calls.flow_batch` writes them, one row per call
    (a step's calls are at most one per slot; grown for a longer block): each call's slot,
    each open's WAD delta, the batch's ``outs``, whether each call succeeded, the calls'
    ``moves``, and the pool and the fund through the batch (``acc``)."""

    slots: np.ndarray
    deltas: np.ndarray
    outs: np.ndarray
    ok: np.ndarray
    moves: np.ndarray
    acc: np.ndarray

    @classmethod
    def of(cls, n: int) -> BlockBuffers:
        """Buffers for blocks of up to ``n`` calls."""
        return cls(slots=np.zeros(n, dtype=np.int64), deltas=np.zeros(n),
                   outs=np.zeros((n, jit_calls.N_BATCH_OUT)), ok=np.zeros(n, dtype=bool),
                   moves=np.zeros((n, 3), dtype=np.int64), acc=np.zeros(2))  # fmt: skip


def slot_calls(ctx: Context, run: FlowRun) -> SlotCalls:
    """The run's :class:`SlotCalls` (kept in ``run.slot_calls``: built once a run)."""
    if run.slot_calls is not None:
        return run.slot_calls
    market_ids = ctx.market_ids
    ids = [int(market_ids[m]) for m in run.market_list]
    index = [ctx.index(a) for a in run.accounts]
    rows = [ctx.row(a, mid) for a, mid in zip(run.accounts, ids, strict=True)]
    account = np.array([-1 if a is None else a for a in index], dtype=np.int64)
    market = np.array([ctx.market_index(mid) for mid in ids], dtype=np.int64)
    tab = SlotCalls(
        account=account,
        market=market,
        market_id=ids,
        decode_row=np.array([-1 if r is None else r for r in rows], dtype=np.int64),
        tab=np.stack([account, market], axis=1),
        buffers=BlockBuffers.of(len(ids)),
    )
    run.slot_calls = tab
    return tab


@dataclass
class ArrayBlock:
    """This block's flow calls as arrays (fast mode): the calls' slots (the closes, then from
    ``opens_from`` the opens), whether each succeeded (``ok``), the reverts' texts by call
    (``errors``) and the batch's ``outs`` (``values``: :data:`jit_calls.T_DELTA`,
    :data:`~jit_calls.T_FILL` ...; a call made alone written there too). From
    :func:`execute_arrays` these are views of the run's :class:`BlockBuffers`: valid until
    the next block is executed."""

    slots: np.ndarray
    opens_from: int
    ok: np.ndarray
    errors: dict[int, str]
    values: np.ndarray
    run: FlowRun | None = None

    @property
    def count(self) -> int:
        """The number of venue calls."""
        return len(self.slots)

    def fields(self) -> np.ndarray:
        """Per call its ``PositionModified``'s ``sizeDelta``, ``fill``, ``newSize``,
        ``entryPrice``, ``realizedPnl``, ``fee``, ``funding`` (columns of ``values``)."""
        return self.values[:, _FIELDS]

    @property
    def rows(self) -> list[int]:
        """The book rows (slots) the calls concern (their margin units are touched)."""
        if self.run is None:
            return []
        return self.run.rows[self.slots].tolist()

    def decoder(self, ctx: Context, s: EngineState, t: int) -> Callable[[], None]:
        """The decode of the calls' new sizes and entries into the slots' rows, in call order
        (:func:`simulator.engine.events.decode_positions` from the batch's arrays, compiled:
        :func:`_decode_slots`)."""
        if not len(self.slots):
            return _nothing
        slots, ok, values = self.slots, self.ok, self.values
        decode_row, tr = slot_calls(ctx, self.run).decode_row, s.trader

        def decode() -> None:
            _decode_slots(slots, ok, values, jit_calls.T_SIZE, jit_calls.T_ENTRY, decode_row,
                          tr.size_base, tr.entry_price_usd)  # fmt: skip

        return decode


_EMPTY_SLOTS = np.zeros(0, dtype=np.int64)
_FIELDS = [jit_calls.T_DELTA, jit_calls.T_FILL, jit_calls.T_SIZE, jit_calls.T_ENTRY,
           jit_calls.T_REALIZED, jit_calls.T_FEE, jit_calls.T_FUNDING]  # fmt: skip


def execute_arrays(
    ctx: Context, venue: VenueState, plan: FlowPlan, run: FlowRun | None
) -> ArrayBlock:
    """``plan``'s calls (its closes' ``closePosition``, then its opens' cross ``trade`` of
    ``side * to_wad(round(size, 12))``) on the venue in order, as :func:`planned.
    execute_many` runs their :class:`planned.Planned` calls in fast mode: one compiled batch
    (:meth:`~simulator.mirror.sim.venue_trades.TradesMixin.flow_batch`: the opens' WAD deltas,
    the calls, the results into the run's :class:`BlockBuffers`), a call the batch stops at
    made alone by :func:`planned.execute` (its ``Planned`` built only then), the batch resumed
    after it. The deltas the batch does not convert (:func:`jit_calls.wad_of_size`: sizes of
    ``2**13`` base units and more) are written first, by :func:`wad_delta`."""
    close_slots, open_slots = plan.close_slots, plan.open_slots
    n_close = len(close_slots)
    n = n_close + len(open_slots)
    if n == 0 or run is None:
        return ArrayBlock(_EMPTY_SLOTS, 0, np.zeros(0, dtype=bool), {},
                          np.zeros((0, jit_calls.N_BATCH_OUT)), run)  # fmt: skip
    tab = run.slot_calls if run.slot_calls is not None else slot_calls(ctx, run)
    buf = tab.buffers
    if n > buf.ok.shape[0]:
        buf = tab.buffers = BlockBuffers.of(n)  # a block longer than the slots (tests)
    open_side, open_size = plan.open_side, plan.open_size
    deltas = buf.deltas
    big = (~(np.abs(open_size) < jit_calls.WAD_SIZE_MAX)).nonzero()[0]
    if big.shape[0]:
        for j, side, size in zip((big + n_close).tolist(), open_side[big].tolist(),
                                 open_size[big].tolist(), strict=True):  # fmt: skip
            deltas[j] = wad_delta(side, size)
    slots, outs, ok = buf.slots, buf.outs, buf.ok
    errors: dict[int, str] = {}
    i = 0
    while i < n:
        stop = venue.flow_batch(i, n_close, close_slots, open_slots, open_side, open_size,
                                tab.tab, slots, deltas, outs, ok, buf.moves, buf.acc)  # fmt: skip
        if stop >= n:
            break
        slot = int(slots[stop])
        sender, market_id = run.accounts[slot], tab.market_id[slot]
        if stop < n_close:
            call = planned.Planned("closePosition", sender, market_id)
        else:
            j = stop - n_close
            wad = to_wad(round(float(open_size[j]), 12))
            call = planned.Planned("trade", sender, market_id, int(open_side[j]) * wad)
        planned.execute_into(ctx, venue, call, stop, outs, ok, errors)
        i = stop + 1
    return ArrayBlock(slots[:n], n_close, ok[:n], errors, outs[:n], run)


def wad_delta(side: int, size: float) -> float:
    """``float(side * to_wad(round(size, 12)))`` (an open's WAD delta) for a size
    :func:`jit_calls.wad_of_size` leaves: from ``2**13`` base units up ``round(size, 12)`` is
    ``size`` (its neighbours are more than 1e-12 apart, so the nearest multiple of 1e-12
    rounds back to it), and ``to_wad`` of it is its ``repr`` (at most 13 decimals there) times
    ``10**18``, an integer whose float is that of the decimal ``repr(size) + "e18"`` (both
    correctly rounded). Python's form as it is for anything else (a smaller size, an
    exponent, NaN or an infinity: its errors)."""
    text = repr(size)
    if abs(size) < jit_calls.WAD_SIZE_MAX or "e" in text or "n" in text:
        return float(side * to_wad(round(size, 12)))
    return side * float(text + "e18")


def _nothing() -> None:
    """The decode of an empty block."""


@kernel
def _decode_slots(slots, ok, values, size_col, entry_col, decode_row, size_base, entry_usd):
    """:func:`simulator.engine.events.decode_positions` of the batch's calls, in call order:
    call ``k`` on slot ``slots[k]``, if it succeeded (``ok[k]``), writes its new size
    (absolute) and entry (``values[k, size_col]``, ``values[k, entry_col]``: the batch's
    :data:`jit_calls.T_SIZE`, :data:`~jit_calls.T_ENTRY`, WAD) into the slot's book row
    (``decode_row``; -1: none)."""
    for k in range(slots.shape[0]):
        if ok[k]:
            row = decode_row[slots[k]]
            if row >= 0:  # from_wad: the same division
                size_base[row] = abs(values[k, size_col] / 1e18)
                entry_usd[row] = values[k, entry_col] / 1e18
