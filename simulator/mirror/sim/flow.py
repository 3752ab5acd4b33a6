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
and back without a per-call object, in two compiled calls a step: the block in one
(:func:`~simulator.mirror.sim.jit_calls.flow_step`: the opens' WAD deltas, the calls as
:func:`planned.execute_many` runs them, the pool, the fund and the ``_open`` moves, over the
slots' account and market indices, :class:`SlotCalls`, into the run's :class:`BlockBuffers`;
a call the batch stops at made alone through :func:`planned.execute`, its
:class:`planned.Planned` built then), the slots' decode and their state in the other
(:func:`_record_block`, from :func:`record`: the decode waits for it when no other decoder
follows the flow's in the block, see :class:`ArrayBlock`), rows only for the kinds the run
keeps (then :func:`simulator.engine.flow.record_flow_slots`). Exact mode
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
from simulator.engine.state import CLOSED, OPEN, EngineState
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
    decoded: list | None = None
    """The step's list of decoders (set by the step; this block's decodes at its place)."""

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
    if type(calls) is FlowPlan:
        return execute_arrays(ctx, venue, calls, run)
    return FlowBlock(calls, planned.execute_many(ctx, venue, [a.call for a in calls]))


def record(ctx: Context, s: EngineState, block: FlowBlock | ArrayBlock, t: int,
           run: FlowRun | None):  # fmt: skip
    """The block's flow rows (``open``, ``close`` and their reverts) and the slots' opens and
    outcomes, by :func:`simulator.engine.flow.record_flow_calls` (:func:`~simulator.engine.
    flow.record_flow` over the calls' arrays; after the block was decoded), or for an
    :class:`ArrayBlock` in one compiled call with the decode when it was left here
    (:func:`_record_block`; rows to build: :func:`record_rows`)."""
    if type(block) is ArrayBlock:
        if run is None or not block.count:
            return []
        tab = run.slot_calls if run.slot_calls is not None else slot_calls(ctx, run)
        keeps = tab.keeps
        if keeps is None or keeps[0] is not ctx.event_kinds:
            keeps = tab.keeps = (ctx.event_kinds, _record_consts(ctx))
        tr = s.trader
        if _record_block(block.pending, block.slots, block.ok, block.values, block.opens_from,
                         t, tab.decode_row, run.rows, keeps[1], tr.size_base,
                         tr.entry_price_usd, s.opens, s.opened_step, s.outcome,
                         s.outcome_step, s.realized_pnl_usd, s.flow_open_size_base,
                         s.flow_open_entry_usd):  # fmt: skip
            return record_rows(ctx, s, block, t, run)
        block.pending = False
        return []
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
    :func:`jit_calls.flow_step` reads them (``slot_tab``)."""
    buffers: BlockBuffers
    """The block's arrays, made once a run and written by each step's :func:`execute_arrays`
    (an :class:`ArrayBlock` holds views of them until the next step's block)."""
    block: ArrayBlock | None = None
    """The run's :class:`ArrayBlock`, filled again by each step's :func:`execute_arrays`."""
    keeps: tuple | None = None
    """(the run's ``event_kinds``, :func:`_record_block`'s ``consts``): read again when
    ``event_kinds`` is replaced."""


@dataclass
class BlockBuffers:
    """A flow block's arrays as :func:`jit_calls.flow_step` writes them, one row per call
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
    book, accounts = ctx.world.book, ctx.accounts
    pairs = book.account.astype(np.int64) * len(market_ids) + book.market
    if (len(set(accounts)) == len(accounts) and len(set(market_ids)) == len(market_ids)
            and np.unique(pairs).shape[0] == pairs.shape[0]):  # fmt: skip
        # Every address, market id and (account, market) row distinct: a slot's account index
        # (Context.index) is its book account, its market index its market, and its
        # PositionModified's row (Context.row) its own.
        account = book.account[run.rows].astype(np.int64)
        market = run.market.astype(np.int64)
        decode_row = run.rows.astype(np.int64)
    else:
        index = [ctx.index(a) for a in run.accounts]
        rows = [ctx.row(a, mid) for a, mid in zip(run.accounts, ids, strict=True)]
        account = np.array([-1 if a is None else a for a in index], dtype=np.int64)
        market = np.array([ctx.market_index(mid) for mid in ids], dtype=np.int64)
        decode_row = np.array([-1 if r is None else r for r in rows], dtype=np.int64)
    tab = SlotCalls(
        account=account,
        market=market,
        market_id=ids,
        decode_row=decode_row,
        tab=np.stack([account, market], axis=1),
        buffers=BlockBuffers.of(len(ids)),
    )
    buf = tab.buffers
    tab.block = ArrayBlock(buf.slots[:0], 0, buf.ok[:0], {}, buf.outs[:0], run)
    run.slot_calls = tab
    return tab


@dataclass
class ArrayBlock:
    """This block's flow calls as arrays (fast mode): the calls' slots (the closes, then from
    ``opens_from`` the opens), whether each succeeded (``ok``), the reverts' texts by call
    (``errors``) and the batch's ``outs`` (``values``: :data:`jit_calls.T_DELTA`,
    :data:`~jit_calls.T_FILL` ...; a call made alone written there too). From
    :func:`execute_arrays` these are views of the run's :class:`BlockBuffers`, in the run's
    one block (:attr:`SlotCalls.block`, filled again each step): valid until the next block
    is executed.

    Its decode (:meth:`decoder`) runs at its place among the step's decoders (``decoded``,
    set by the step), unless it is the last of them: then nothing after it reads or writes
    the slots' sizes before :func:`record` (the step's rows only are expanded in between),
    which decodes them first, in the same compiled call as the slots' state
    (:func:`_record_block`; ``pending`` until then)."""

    slots: np.ndarray
    opens_from: int
    ok: np.ndarray
    errors: dict[int, str]
    values: np.ndarray
    run: FlowRun | None = None
    count: int = field(init=False, default=0)
    """The number of venue calls."""
    rows: list[int] = field(init=False, default_factory=list)
    """The book rows (slots) the calls concern (their margin units are touched)."""
    decoded: list | None = field(init=False, default=None)
    """The step's list of decoders (set by the step), or None: decode at its place."""
    pending: bool = field(init=False, default=False)
    """Its decode was left to :func:`record` (it was the step's last decoder)."""
    state: EngineState | None = field(init=False, default=None)
    """The state its decode writes (:meth:`decoder`'s)."""

    def __post_init__(self) -> None:
        self.count = len(self.slots)
        self.rows = [] if self.run is None else self.run.rows[self.slots].tolist()

    def fields(self) -> np.ndarray:
        """Per call its ``PositionModified``'s ``sizeDelta``, ``fill``, ``newSize``,
        ``entryPrice``, ``realizedPnl``, ``fee``, ``funding`` (columns of ``values``)."""
        return self.values[:, _FIELDS]

    def decoder(self, ctx: Context, s: EngineState, t: int) -> Callable[[], None]:
        """The decode of the calls' new sizes and entries into the slots' rows, in call order
        (:func:`simulator.engine.events.decode_positions` from the batch's arrays, compiled:
        :func:`_decode_slots`), at its place among the step's decoders or, the last of them,
        in :func:`record`'s compiled call (see the class)."""
        if not self.count:
            return _nothing
        self.state = s
        if self.run is not None and self.run.slot_calls is None:
            slot_calls(ctx, self.run)
        return self.decode

    def decode(self) -> None:
        """:meth:`decoder`'s decode: now, or left to :func:`record` when no decoder follows
        it in ``decoded``."""
        decoded = self.decoded
        if decoded is not None and decoded[-1] == self.decode:
            self.pending = True
            return
        self.decode_now()

    def decode_now(self) -> None:
        """The decode (:func:`_decode_slots`), at once."""
        tr = self.state.trader
        _decode_slots(self.slots, self.ok, self.values, jit_calls.T_SIZE, jit_calls.T_ENTRY,
                      self.run.slot_calls.decode_row, tr.size_base, tr.entry_price_usd)  # fmt: skip
        self.pending = False


_EMPTY_SLOTS = np.zeros(0, dtype=np.int64)
_FIELDS = [jit_calls.T_DELTA, jit_calls.T_FILL, jit_calls.T_SIZE, jit_calls.T_ENTRY,
           jit_calls.T_REALIZED, jit_calls.T_FEE, jit_calls.T_FUNDING]  # fmt: skip


def execute_arrays(
    ctx: Context, venue: VenueState, plan: FlowPlan, run: FlowRun | None
) -> ArrayBlock:
    """``plan``'s calls (its closes' ``closePosition``, then its opens' cross ``trade`` of
    ``side * to_wad(round(size, 12))``) on the venue in order, as :func:`planned.
    execute_many` runs their :class:`planned.Planned` calls in fast mode: one compiled call
    (:meth:`~simulator.mirror.sim.venue_trades.TradesMixin.flow_step`: the opens' WAD deltas,
    the calls, the results into the run's :class:`BlockBuffers`), a call the batch stops at
    made alone by :func:`planned.execute` (its ``Planned`` built only then), the batch resumed
    after it. The deltas the kernel does not convert (sizes of 1e16 base units and more, an
    infinity, NaN) are written by :func:`wad_delta` and the batch called again. The run's
    :class:`ArrayBlock` filled with the block."""
    if run is None:
        return ArrayBlock(_EMPTY_SLOTS, 0, np.zeros(0, dtype=bool), {},
                          np.zeros((0, jit_calls.N_BATCH_OUT)), run)  # fmt: skip
    close_slots, open_slots = plan.close_slots, plan.open_slots
    n_close = close_slots.shape[0]
    n = n_close + open_slots.shape[0]
    tab = run.slot_calls if run.slot_calls is not None else slot_calls(ctx, run)
    block, buf = tab.block, tab.buffers
    errors: dict[int, str] = {}
    if n:
        if n > buf.ok.shape[0]:
            buf = tab.buffers = BlockBuffers.of(n)  # a block longer than the slots (tests)
        open_side, open_size, deltas = plan.open_side, plan.open_size, buf.deltas
        stop = venue.flow_step(True, 0, n_close, close_slots, open_slots, open_side,
                               open_size, tab.tab, buf.slots, deltas, buf.outs, buf.ok,
                               buf.moves, buf.acc)  # fmt: skip
        if stop < 0:  # deltas left to Python (NaN): written, then the calls
            for j in np.flatnonzero(np.isnan(deltas[n_close:n])).tolist():
                deltas[n_close + j] = wad_delta(int(open_side[j]), float(open_size[j]))
            stop = venue.flow_step(False, 0, n_close, close_slots, open_slots, open_side,
                                   open_size, tab.tab, buf.slots, deltas, buf.outs, buf.ok,
                                   buf.moves, buf.acc)  # fmt: skip
        slots, outs, ok = buf.slots, buf.outs, buf.ok
        while stop < n:
            slot = int(slots[stop])
            sender, market_id = run.accounts[slot], tab.market_id[slot]
            if stop < n_close:
                call = planned.Planned("closePosition", sender, market_id)
            else:
                j = stop - n_close
                wad = to_wad(round(float(open_size[j]), 12))
                call = planned.Planned("trade", sender, market_id, int(open_side[j]) * wad)
            planned.execute_into(ctx, venue, call, stop, outs, ok, errors)
            stop = venue.flow_step(False, stop + 1, n_close, close_slots, open_slots,
                                   open_side, open_size, tab.tab, slots, deltas, outs, ok,
                                   buf.moves, buf.acc)  # fmt: skip
    block.slots, block.opens_from, block.ok = buf.slots[:n], n_close, buf.ok[:n]
    block.errors, block.values, block.count = errors, buf.outs[:n], n
    block.rows = run.rows[block.slots].tolist() if n else []
    block.decoded, block.pending = None, False
    return block


def record_rows(ctx: Context, s: EngineState, block: ArrayBlock, t: int,
                run: FlowRun) -> list[dict]:  # fmt: skip
    """:func:`record` of an :class:`ArrayBlock` with a row of a kind the run keeps (``open``,
    ``close``, ``open_reverted``, ``close_reverted``; :func:`_record_block` wrote nothing):
    the decode, if it was left here (``block.pending``), then :func:`simulator.engine.flow.
    record_flow_slots` (the rows and the state)."""
    if block.pending:
        block.state = s
        block.decode_now()
    return engine_flow.record_flow_slots(ctx, s, t, run, block.slots, block.opens_from,
                                         block.ok, block.errors, block.fields())  # fmt: skip


(C_KEEP_OPEN, C_KEEP_CLOSE, C_KEEP_OPEN_REVERTED, C_KEEP_CLOSE_REVERTED, C_OPEN, C_CLOSED,
 C_SIZE, C_ENTRY) = range(8)  # fmt: skip
"""Entries of :func:`_record_block`'s ``consts``: whether the run keeps ``open``, ``close``,
``open_reverted``, ``close_reverted`` rows, the outcome codes ``OPEN`` and ``CLOSED``, the
columns of the new size and entry in the batch's ``outs``."""


def _record_consts(ctx: Context) -> np.ndarray:
    """:func:`_record_block`'s ``consts`` for the run's ``event_kinds``."""
    consts = np.zeros(8, dtype=np.int64)
    for at, kind in ((C_KEEP_OPEN, "open"), (C_KEEP_CLOSE, "close"),
                     (C_KEEP_OPEN_REVERTED, "open_reverted"),
                     (C_KEEP_CLOSE_REVERTED, "close_reverted")):  # fmt: skip
        consts[at] = ctx.keeps(kind)
    consts[C_OPEN], consts[C_CLOSED] = OPEN, CLOSED
    consts[C_SIZE], consts[C_ENTRY] = jit_calls.T_SIZE, jit_calls.T_ENTRY
    return consts


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


@kernel
def _record_block(decode, slots, ok, values, opens_from, t, decode_row, slot_rows, consts,
                  size_base, entry_usd, opens, opened_step, outcome, outcome_step,
                  realized_pnl_usd, flow_open_size_base, flow_open_entry_usd):  # fmt: skip
    """:func:`record`'s compiled call for an :class:`ArrayBlock`: first whether the block has a row of a kind the
    run keeps (``consts``: :data:`C_KEEP_OPEN` ...): a failed call's ``open_reverted`` /
    ``close_reverted``, a made open's ``open``, a made close to size 0's ``close``; if so
    True, nothing written (the caller's Python builds the rows). Else, if ``decode``, the
    slots' decode (:func:`_decode_slots`: call ``k`` on slot ``slots[k]``, made, writes its
    new size, absolute, and entry, WAD / 1e18, into its book row ``decode_row``), then
    :func:`simulator.engine.flow.record_flow_slots`' state writes call by call in order (an
    open made counts, its step, outcome open, PnL NaN, its size and entry kept; a close made
    to size 0 ends the slot at ``t``, PnL NaN), and False."""
    size_col, entry_col = consts[C_SIZE], consts[C_ENTRY]
    n = slots.shape[0]
    for k in range(n):
        if not ok[k]:
            if consts[C_KEEP_OPEN_REVERTED if k >= opens_from else C_KEEP_CLOSE_REVERTED]:
                return True
        elif k >= opens_from:
            if consts[C_KEEP_OPEN]:
                return True
        elif values[k, size_col] == 0.0 and consts[C_KEEP_CLOSE]:
            return True
    if decode:
        for k in range(n):
            if ok[k]:
                row = decode_row[slots[k]]
                if row >= 0:  # from_wad: the same division
                    size_base[row] = abs(values[k, size_col] / 1e18)
                    entry_usd[row] = values[k, entry_col] / 1e18
    open_code, closed_code = consts[C_OPEN], consts[C_CLOSED]
    for k in range(n):
        if not ok[k]:
            continue
        r = slot_rows[slots[k]]
        if k >= opens_from:
            opens[r] += 1
            opened_step[r] = t
            outcome[r] = open_code
            outcome_step[r] = -1
            realized_pnl_usd[r] = np.nan
            flow_open_size_base[r] = abs(values[k, size_col] / 1e18)
            flow_open_entry_usd[r] = values[k, entry_col] / 1e18
        elif values[k, size_col] == 0.0:
            outcome[r] = closed_code
            outcome_step[r] = t
            realized_pnl_usd[r] = np.nan
    return False
