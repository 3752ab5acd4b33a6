"""Phase 1d: the order flow -- traders who arrive, trade and leave through the run.

The scenario's ``order_flow`` (:mod:`simulator.scenario.flow`) adds flow *slots* to the book:
rows that start flat, each its own cross account funded at setup. Every step, after the
traders of the opening book, :func:`plan_flow` runs the flow's decisions
(the model of :mod:`simulator.agents.flow`, compiled over the book-wide state:
:mod:`simulator.agents.flow_jit`) on the slots: open flow positions that reached
take-profit, stop-loss or the end of their holding time close (``closePosition``), and the
step's Poisson arrivals take idle slots and open (``trade``, cross) on at most the collateral
the slot deposited at setup (its ticket: a winner keeps its profit aside rather than
compounding it into ever larger orders). After the block,
:func:`record_flow` writes what the venue did: an ``open`` / ``close`` event per mined call
(market, account, side, size, fill; the open's fee or the close's realized PnL in
``amount_usd``; ``detail``: the kind that opened, the reason that closed), an
``open_reverted`` / ``close_reverted`` event per refused one (the slot stays as it was: a
refused open leaves it idle), and an ``order_flow_unfilled`` event per (market, kind) whose
arrivals found no idle slot (``detail``: kind, arrivals, unfilled). The row's size and entry
come from the venue's ``PositionModified`` (:mod:`simulator.engine.events`), its equity from
the health read of the touched units in the mining round trip.

A slot whose position ended (closed, liquidated, taken over, deleveraged to zero) may enter
again after its kind's cooldown; ``positions.parquet`` keeps its last open and outcome and the
number of its opens (``opens``).

:func:`plan_flow` is :func:`plan_arrays` (the decisions as arrays: :class:`FlowPlan`) then
:func:`flow_actions` (the venue calls). The fast mirror takes the arrays straight to its
compiled trade batch (:mod:`simulator.mirror.sim.flow`) and records from the batch's arrays
(:func:`record_flow_slots`, the same rows and state as :func:`record_flow_calls`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from simulator.agents import flow as flow_agents
from simulator.agents import flow_jit
from simulator.chain.types import TxResult
from simulator.engine.context import Action, Context
from simulator.engine.events import close_row_of, event_row
from simulator.engine.margin import MarginUnits
from simulator.engine.state import CLOSED, IDLE, OPEN, EngineState
from simulator.jit import kernel
from simulator.scenario.flow import FLOW_KINDS
from simulator.scenario.randomness import StepStream
from simulator.units import WAD, from_wad, to_wad


@dataclass
class FlowRun:
    """The order flow of a run: its parameters, its slots and its random stream."""

    params: flow_agents.FlowParams
    rows: np.ndarray
    """Book rows of the flow slots (int64, ascending)."""
    kind: np.ndarray
    """Kind of each slot (aligned with ``rows``; int64)."""
    stream: np.random.Generator
    """The scenario's ``flow`` stream (step ``t`` draws from :func:`flow_agents.step_rng`)."""
    max_leverage: np.ndarray
    """Per market: the venue's maximum leverage (times)."""
    closes: Any = None
    """This step's planned closes as :func:`plan_arrays` left them, ``(close_slots,
    close_reason)`` arrays, or a ``{row: reason}`` dict (read through :attr:`close_reasons`)."""
    planned_long_base: np.ndarray | None = None
    """Per market: this step's planned change of long open interest (opens less closes, base
    units; for :func:`spot_inputs_after_flow`)."""
    planned_short_base: np.ndarray | None = None
    """Per market: the same for short open interest."""
    market: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Market of each slot (aligned with ``rows``; fixed for the run)."""
    ticket_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Collateral each slot deposited at setup (USD, aligned with ``rows``; fixed)."""
    unit_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Every book row of the slots' margin units (ascending): what a slot's unit health sums."""
    unit_slot: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Per row of ``unit_rows``: its unit, numbered 0.. over the slots' units."""
    slot_in_unit_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Position of each slot's row in ``unit_rows``."""
    slot_unit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Each slot's unit in the ``unit_slot`` numbering."""
    accounts: list[str] = field(default_factory=list)
    """Each slot's account address (aligned with ``rows``)."""
    market_list: list[int] = field(default_factory=list)
    """``market`` as Python ints (the per-call loops index it)."""
    row_list: list[int] = field(default_factory=list)
    """``rows`` as Python ints (the per-call loops index it)."""
    at: slice | np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """``rows`` as a slice when they are contiguous (the slots follow the opening book): a
    step's per-slot reads are then views, not gathers."""
    cooldown_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Each slot's kind's cooldown (steps)."""
    own_units: bool = False
    """Every slot is its margin unit's only row (its unit's health is its own)."""
    group: np.ndarray | None = None
    """Each slot's (kind, market) group as the arrivals number it
    (:func:`simulator.agents.flow.slot_groups`; fixed for the run)."""
    steps: StepStream | None = None
    """Step ``t``'s generator of ``stream`` (:func:`flow_agents.step_generators`: what
    :func:`flow_agents.step_rng` gives, without a SeedSequence per step)."""
    tables: KernelTables | None = None
    """The run's constants and the step's work tables packed for :func:`plan_flow`'s kernels
    (:func:`kernel_tables`, built at the first step)."""
    array_calls: bool = True
    """The fast mirror runs the flow's calls from :func:`plan_arrays`' arrays
    (:mod:`simulator.mirror.sim.flow`); False: through :func:`flow_actions`' Actions, the
    path the chain engine and the exact mirror take (the tests' reference)."""
    slot_calls: Any = None
    """The fast mirror's per-slot call table (:class:`simulator.mirror.sim.flow.SlotCalls`,
    built at its first step)."""

    @property
    def close_reasons(self) -> dict[int, str]:
        """This step's planned closes: book row -> reason (read back by :func:`record_flow`;
        built from the plan's arrays at the first read: a tuning path, which keeps no close
        row, never builds it)."""
        closes = self.closes
        if closes is None:
            return {}
        if not isinstance(closes, dict):
            slots, codes = closes
            reasons, row_list = flow_agents.EXIT_REASONS, self.row_list
            closes = self.closes = {row_list[i]: reasons[code] for i, code in
                                    zip(slots.tolist(), codes.tolist(), strict=True)}  # fmt: skip
        return closes

    @close_reasons.setter
    def close_reasons(self, reasons: dict[int, str]) -> None:
        self.closes = reasons


def slot_layout(book, units: MarginUnits, rows: np.ndarray) -> dict:
    """The fixed per-slot fields of :class:`FlowRun` for the slots at book ``rows``
    (ascending): their market and ticket, the rows of their margin units
    (``unit_rows``, ``unit_slot``, ``slot_in_unit_rows``, ``slot_unit``, ``own_units``) and
    ``at``, the rows as a slice when they are contiguous."""
    unit_rows = units.rows_of(units.units_of(rows))
    unit_ids, unit_slot = np.unique(units.unit_of_row[unit_rows], return_inverse=True)
    market = book.market[rows].astype(np.int64)
    contiguous = len(rows) > 0 and rows[-1] - rows[0] + 1 == len(rows)
    return {
        "market": market,
        "market_list": market.tolist(),
        "row_list": rows.tolist(),
        "ticket_usd": book.collateral_usd[rows],
        "unit_rows": unit_rows,
        "unit_slot": unit_slot.astype(np.int64),
        "slot_in_unit_rows": np.searchsorted(unit_rows, rows),
        "slot_unit": np.searchsorted(unit_ids, units.unit_of_row[rows]),
        "own_units": len(unit_ids) == len(unit_rows) == len(rows),
        "at": slice(int(rows[0]), int(rows[-1]) + 1) if contiguous else rows,
    }


def flow_run(ctx: Context) -> FlowRun | None:
    """The run's order flow, ``None`` when the scenario has none (with the slots' fixed
    per-row constants, :func:`slot_layout`, so that a step indexes no book array it could
    have kept)."""
    spec = ctx.scenario.order_flow
    if spec is None:
        return None
    book = ctx.world.book
    rows = np.flatnonzero(book.start_flat)
    kind = book.flow_kind[rows].astype(np.int64)
    params = flow_agents.FlowParams.from_spec(spec, ctx.scenario.step_seconds)
    stream = ctx.scenario.random_streams().flow
    return FlowRun(
        params=params,
        rows=rows,
        kind=kind,
        stream=stream,
        steps=flow_agents.step_generators(stream),
        max_leverage=np.array([m.params.max_leverage for m in ctx.world.params.markets]),
        accounts=[ctx.accounts[a] for a in book.account[rows]],
        cooldown_steps=params.cooldown_steps[kind],
        group=flow_agents.slot_groups(kind, book.market[rows], ctx.n_markets),
        **slot_layout(book, ctx.units, rows),
    )


def init_state(ctx: Context, s: EngineState) -> None:
    """The per-row order-flow arrays at step 0 (every run: ``opens`` and ``opened_step``
    cover the opening book too), and the flow slots' outcome ``idle``."""
    w = ctx.world
    book, n = w.book, w.book.count
    flat = book.start_flat
    s.opens = w.opened.astype(np.int64)
    s.opened_step = np.where(w.opened, 0, -1).astype(np.int64)
    s.outcome[flat] = IDLE
    s.outcome_step[flat] = -1
    s.flow_open_size_base = np.zeros(n)
    s.flow_open_entry_usd = np.full(n, np.nan)
    s.flow_open_equity_usd = np.zeros(n)
    s.flow_exit_step = np.full(n, -1, dtype=np.int64)


class FlowPlan(NamedTuple):
    """Step ``t``'s flow calls as the plan's arrays (:func:`plan_arrays`): the closes, then
    the opens, by slot (index into :class:`FlowRun`'s ``rows``)."""

    close_slots: np.ndarray
    """The slots that close (int64, ascending)."""
    close_reason: np.ndarray
    """Each close's reason (int8, into :data:`simulator.agents.flow.EXIT_REASONS`)."""
    open_slots: np.ndarray
    """The slots that open (int64)."""
    open_side: np.ndarray
    """Each open's side (+1 long, -1 short; int8)."""
    open_size: np.ndarray
    """Each open's size (base units, float64; the call's delta is ``side * to_wad(round(size,
    12))``)."""

    @property
    def count(self) -> int:
        """The number of venue calls."""
        return len(self.close_slots) + len(self.open_slots)


def plan_flow(
    ctx: Context,
    s: EngineState,
    t: int,
    levels: dict,
    run: FlowRun | None,
    step_events: list[dict],
) -> list[Action]:
    """Step ``t``'s flow closes then opens (``levels``: the last block's, for the funding
    rates) as venue calls (:func:`plan_arrays`, then :func:`flow_actions`); unfilled arrivals
    go to ``step_events``."""
    if run is None:
        return []
    return flow_actions(ctx, run, plan_arrays(ctx, s, t, levels, run, step_events))


def flow_actions(ctx: Context, run: FlowRun, plan: FlowPlan) -> list[Action]:
    """The venue calls of ``plan``: a ``closePosition`` per close, then a ``trade`` (cross) per
    open, each an :class:`Action` of kind ``flow_close`` / ``flow_open`` on the slot's row."""
    v = ctx.venue.venue
    market_ids = ctx.market_ids
    accounts, markets, row_list = run.accounts, run.market_list, run.row_list
    actions: list[Action] = []
    for i in plan.close_slots.tolist():
        m = markets[i]
        actions.append(Action(v.close_position(accounts[i], market_ids[m]), "flow_close",
                              row_list[i], m))  # fmt: skip
    for i, side, size in zip(plan.open_slots.tolist(), plan.open_side.tolist(),
                             plan.open_size.tolist(), strict=True):  # fmt: skip
        m = markets[i]
        call = v.trade(accounts[i], market_ids[m], side * to_wad(round(size, 12)))
        actions.append(Action(call, "flow_open", row_list[i], m))
    return actions


def plan_arrays(
    ctx: Context,
    s: EngineState,
    t: int,
    levels: dict,
    run: FlowRun,
    step_events: list[dict],
) -> FlowPlan:
    """Step ``t``'s flow decisions up to the venue calls: the closes (slots, reasons; their
    reasons by row in ``run.close_reasons``), then the opens (slots, sides, sizes), the
    planned change of open interest in ``run``; unfilled arrivals go to ``step_events``.

    One compiled call (:func:`simulator.agents.flow_jit.plan_step`, over the run's
    :class:`KernelTables`): ``plan_before`` (one pass over the slots: their carried equity, the
    closes, the slots that may enter; then the signals and the intensity, over the run's log
    prices, numpy's log of each feed row taken here once), the draws (numpy's PCG64 draws, made
    in the kernel on the step generator's state in memory, :meth:`StepStream.draw_state`: a
    Poisson count per (kind, market) with arrivals expected -- one of intensity 0 draws
    nothing -- then four uniforms per slot, of which only those read are computed, the
    generator left where numpy's draws leave it), ``plan_after`` (the eligible slots the
    arrivals take and their opens, the planned change of open interest, the opening slots'
    side, equity at open and exit step). Rare cases in Python: the ``order_flow_unfilled``
    rows, an exit step numpy's ``log1p`` settles (``recheck_exit_steps``), the draws by numpy
    where the kernel drew nothing (:func:`_draw_by_numpy`). The same plan, rows, state and
    generator state as session 28's plan (``tests/engine/test_flow_plan_step.py``) and the
    same calls, rows and state as the phase before session 28, float for float
    (``tests/engine/test_flow_plan.py`` keeps the forms before and compares).

    The plan's arrays, ``run.planned_long_base`` / ``planned_short_base`` and
    ``run.close_reasons`` are views of the run's tables: valid until the next step's plan."""
    fj = flow_jit
    tables = run.tables
    feed = s.feed_prices_usd
    if tables is None or tables.feed is not feed:  # the log table is this feed array's
        tables = kernel_tables(run, ctx, feed, t)
    iparams = tables.iparams
    logged = iparams[fj.I_LOGGED]
    if logged <= t:  # numpy's log of the feed rows not logged yet (one a step)
        block, out = feed[logged : t + 1], tables.logs[fj.LOG_PRICE, logged : t + 1]
        if np.minimum.reduce(block, axis=None) > 0.0:  # np.log warns on a zero, < 0 or NaN
            np.log(block, out=out)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                np.log(block, out=out)
    funding = levels["funding_rate_per_hour"]
    if type(funding) is not np.ndarray or funding.dtype != np.float64:
        funding = np.asarray(funding, dtype=np.float64)
    tr, slots, codes, work, km = s.trader, tables.slots, tables.codes, tables.work, tables.km
    if tables.words is not None:  # the plan in one call, the draws inside
        status, n_close, n_open = fj.plan_step(
            *tables.head, feed, funding, s.oracle_price_usd, tr.read_price_usd, tr.side,
            tr.size_base, tr.equity_usd, tr.maintenance_usd, s.outcome, s.outcome_step,
            s.flow_exit_step, s.flow_open_equity_usd, s.opens, t,
        )  # fmt: skip
    else:
        fj.plan_before(
            slots, tables.units, codes, tables.kinds, tables.params, iparams, work, km,
            tables.lam, tables.markets, tables.logs, feed, funding, s.oracle_price_usd,
            tr.read_price_usd, tr.side, tr.size_base, tr.equity_usd, tr.maintenance_usd,
            s.outcome, s.outcome_step, s.flow_exit_step, s.flow_open_equity_usd, s.opens, t,
        )  # fmt: skip
        status, n_close, n_open = fj.STATUS_NO_STATE, iparams[fj.I_N_CLOSE], 0
    if status:  # unfilled arrivals, or a rarer case: draws by numpy, exit steps to recheck
        if status < 0:
            status, n_open = _draw_by_numpy(run, tables, s, t)
        elif status & fj.STATUS_RECHECK:
            log_keep = work[fj.WORK_LOG_KEEP]
            np.negative(work[fj.WORK_HOLD], out=log_keep)
            np.log1p(log_keep, out=log_keep)  # numpy's log1p(-u) of the holding-time uniforms
            fj.recheck_exit_steps(slots, tables.kinds, iparams, work, t, s.flow_exit_step)
        if status & fj.STATUS_UNFILLED and ctx.keeps("order_flow_unfilled"):
            _unfilled_rows(ctx, km, t, step_events)
    markets = tables.markets
    run.planned_long_base = markets[fj.MARKET_LONG]
    run.planned_short_base = markets[fj.MARKET_SHORT]
    close_slots = slots[fj.STEP_CLOSE, :n_close]
    close_reason = codes[fj.CODE_CLOSE_REASON, :n_close]
    run.closes = (close_slots, close_reason)
    return _new_plan(FlowPlan, (close_slots, close_reason, slots[fj.STEP_OPEN, :n_open],
                                codes[fj.CODE_OPEN_SIDE, :n_open],
                                work[fj.WORK_OPEN_SIZE, :n_open]))  # fmt: skip


_new_plan = tuple.__new__
"""``_new_plan(FlowPlan, fields)``: what ``FlowPlan(*fields)`` does (a named tuple's
``__new__`` is ``tuple.__new__`` of its fields), without its Python-level ``__new__``."""


def _draw_by_numpy(run: FlowRun, tables: KernelTables, s: EngineState, t: int) -> tuple[int, int]:
    """Step ``t``'s draws by numpy's Generator, then ``plan_after`` (after ``plan_before``):
    what :func:`plan_arrays` does where ``plan_step`` drew nothing (no state views, the step
    beyond the states table, a Poisson mean numpy refuses: it raises). Returns ``plan_step``'s
    status bits and the number of opens; keeps the tables' states table up to date with the
    stream's."""
    fj = flow_jit
    iparams, work, km = tables.iparams, tables.work, tables.km
    rng = flow_agents.step_rng(run.stream, t) if run.steps is None else run.steps.generator(t)
    # numpy's poisson(lam) of the (K, M) intensities draws group after group and nothing for a
    # zero intensity: the same draws, one scalar call per group with arrivals expected.
    drawn, poisson = km[fj.KM_DRAWN], rng.poisson
    for i, lam in enumerate(tables.lam[: iparams[fj.I_N_ACTIVE]].tolist()):
        drawn[i] = poisson(lam)
    rng.random(out=work[fj.WORK_KEY : fj.WORK_KEY + flow_agents.DRAWS_PER_SLOT])  # (4, R)
    log_keep = work[fj.WORK_LOG_KEEP]
    np.negative(work[fj.WORK_HOLD], out=log_keep)
    np.log1p(log_keep, out=log_keep)  # numpy's log1p(-u) of the holding-time uniforms
    n_open, any_unfilled = fj.plan_after(
        tables.slots, tables.codes, tables.kinds, tables.params, iparams, work, km,
        tables.markets, s.feed_prices_usd, t, s.trader.side, s.flow_open_equity_usd,
        s.flow_exit_step,
    )  # fmt: skip
    if tables.words is not None and t + 1 >= len(tables.states):  # the next step's state
        drawing = run.steps.draw_state(t + 1)
        if drawing is not None:
            run.tables = replace(tables, states=drawing[0])
    return (fj.STATUS_UNFILLED if any_unfilled else 0), n_open


def _unfilled_rows(ctx: Context, km: np.ndarray, t: int, step_events: list[dict]) -> None:
    """The step's ``order_flow_unfilled`` rows (per (kind, market) with arrivals left
    unfilled, kind-major as ``np.nonzero`` of (K, M)) into ``step_events``."""
    fj = flow_jit
    n_markets, symbols = ctx.n_markets, ctx.symbols
    arrivals, unfilled = km[fj.KM_COUNT].tolist(), km[fj.KM_UNFILLED]
    for g in unfilled.nonzero()[0].tolist():
        k, m = divmod(g, n_markets)
        detail = unfilled_detail(FLOW_KINDS[k], arrivals[g], int(unfilled[g]))
        step_events.append(event_row(t, "order_flow_unfilled", market=symbols[m], detail=detail))


@dataclass(frozen=True)
class KernelTables:
    """A run's constants as :func:`plan_flow`'s kernels read them, and the step's work
    tables they write (the layout of :mod:`simulator.agents.flow_jit`)."""

    slots: np.ndarray
    """(``SLOT_FIELDS``, R) int64: each slot's row, kind, market, group, cooldown, place in
    the units' rows and unit; then the step's eligible, closing and opening slots and the
    eligible slots' last side."""
    units: np.ndarray
    """(``UNIT_FIELDS``, U) int64: every row of the slots' margin units, its unit and market."""
    codes: np.ndarray
    """(``CODE_FIELDS``, R) int8: the step's closes' reasons and opens' sides."""
    kinds: np.ndarray
    """(``KIND_FIELDS``, K) float64: per kind, take-profit and stop-loss fractions, rate per
    hour, leverage shares, mean holding time (steps)."""
    params: np.ndarray
    """(``PARAM_FIELDS``,) float64: the flow's scalar parameters."""
    iparams: np.ndarray
    """(``INT_FIELDS``,) int64: windows (steps), own units, the idle code, markets; the rows
    logged and the step's counts."""
    work: np.ndarray
    """(``WORK_FIELDS``, R) float64: the step's uniforms and holding-time logs, the tickets
    (USD), the eligible slots' carried equity (USD), the opens' sizes (base units)."""
    km: np.ndarray
    """(``KM_FIELDS``, K × M) int64: per (kind, market) group the side, the groups with
    arrivals expected and their draws, the arrivals and the unfilled ones."""
    lam: np.ndarray
    """(K × M,) float64: the intensity of the groups with arrivals expected."""
    markets: np.ndarray
    """(``MARKET_FIELDS``, M) float64: maximum leverage; the step's closes and planned change
    of open interest by side (base units)."""
    logs: np.ndarray
    """(2, T, M) float64: numpy's log of the feed prices of the steps so far, and their
    one-step differences."""
    feed: np.ndarray
    """The feed prices array (``EngineState.feed_prices_usd``, written in place a row a step)
    whose rows ``logs`` holds: another array (a resumed state) builds the tables again."""
    states: np.ndarray | None = None
    """(n, 4) uint64: the flow stream's PCG64 state of steps 0 .. n - 1
    (:meth:`StepStream.draw_state`); None: ``plan_step`` is not called, numpy draws."""
    words: np.ndarray | None = None
    """(4,) uint64: the stream's generator's state in memory (``plan_step`` sets and advances
    it)."""
    flags: np.ndarray | None = None
    """(2,) uint32: the generator's buffered 32-bit draw in memory (cleared at a step)."""

    def __post_init__(self) -> None:
        # plan_step's leading arguments, packed once (read as one tuple a step, not 14 fields)
        object.__setattr__(self, "head", (
            self.states, self.words, self.flags, self.slots, self.units, self.codes, self.kinds,
            self.params, self.iparams, self.work, self.km, self.lam, self.markets, self.logs,
        ))  # fmt: skip


def kernel_tables(run: FlowRun, ctx: Context, feed: np.ndarray, t: int = 0) -> KernelTables:
    """The run's :class:`KernelTables` (kept in ``run.tables``: built once a run, at step
    ``t``), with log tables for the feed prices ``feed`` (steps + 1, M) and the flow stream's
    step states from step ``t`` on (:meth:`StepStream.draw_state`; none without a
    :class:`StepStream` or its state views: the draws are numpy's then)."""
    fj, params = flow_jit, run.params
    n = len(run.rows)
    slots = np.zeros((fj.SLOT_FIELDS, n), dtype=np.int64)
    slots[fj.SLOT_ROW] = run.rows
    slots[fj.SLOT_KIND] = run.kind
    slots[fj.SLOT_MARKET] = run.market
    group = run.group
    if group is None:
        group = flow_agents.slot_groups(run.kind, run.market, ctx.n_markets)
    slots[fj.SLOT_GROUP] = group
    slots[fj.SLOT_COOLDOWN] = run.cooldown_steps
    slots[fj.SLOT_IN_UNIT_ROWS] = run.slot_in_unit_rows
    slots[fj.SLOT_UNIT] = run.slot_unit
    n_kinds = len(params.rate_per_hour)
    kinds = np.empty((fj.KIND_FIELDS, n_kinds))
    kinds[fj.KIND_TAKE_PROFIT] = params.take_profit_fraction
    kinds[fj.KIND_STOP_LOSS] = params.stop_loss_fraction
    kinds[fj.KIND_RATE_PER_HOUR] = params.rate_per_hour
    kinds[fj.KIND_LEVERAGE_MIN_SHARE] = params.leverage_min_share
    kinds[fj.KIND_LEVERAGE_MAX_SHARE] = params.leverage_max_share
    kinds[fj.KIND_HOLD_STEPS] = params.hold_steps
    scalars = np.empty(fj.PARAM_FIELDS)
    scalars[fj.P_STEP_HOURS] = params.step_hours
    scalars[fj.P_VOLATILITY_SENSITIVITY] = params.volatility_sensitivity
    scalars[fj.P_MOMENTUM_SENSITIVITY] = params.momentum_sensitivity
    scalars[fj.P_MIN_RETURN] = params.min_return
    scalars[fj.P_DIP_MIN_FALL] = params.dip_min_fall
    scalars[fj.P_SHORT_MIN_FALL] = params.short_min_fall
    scalars[fj.P_MIN_FUNDING_RATE] = params.min_funding_rate_per_hour
    scalars[fj.P_MIN_EQUITY] = params.min_equity_usd
    scalars[fj.P_REENTRY_LONG_SHARE] = params.reentry_long_share
    scalars[fj.P_HOLD_MARGIN] = fj.HOLD_MARGIN
    iparams = np.zeros(fj.INT_FIELDS, dtype=np.int64)
    iparams[fj.I_LOOKBACK] = params.lookback_steps
    iparams[fj.I_REFERENCE] = params.reference_steps
    iparams[fj.I_OWN_UNITS] = int(run.own_units)
    iparams[fj.I_IDLE] = IDLE
    iparams[fj.I_N_MARKETS] = ctx.n_markets
    work = np.zeros((fj.WORK_FIELDS, n))
    work[fj.WORK_TICKET] = run.ticket_usd
    markets = np.zeros((fj.MARKET_FIELDS, ctx.n_markets))
    markets[fj.MARKET_MAX_LEVERAGE] = run.max_leverage
    book_market = np.asarray(ctx.world.book.market, dtype=np.int64)
    drawing = None if run.steps is None else run.steps.draw_state(t)
    states, words, flags = (None, None, None) if drawing is None else drawing
    tables = KernelTables(
        slots=slots,
        units=np.stack([run.unit_rows, run.unit_slot, book_market[run.unit_rows]]).astype(np.int64),
        codes=np.zeros((fj.CODE_FIELDS, n), dtype=np.int8),
        kinds=kinds,
        params=scalars,
        iparams=iparams,
        work=work,
        km=np.zeros((fj.KM_FIELDS, n_kinds * ctx.n_markets), dtype=np.int64),
        lam=np.zeros(n_kinds * ctx.n_markets),
        markets=markets,
        logs=np.zeros((2, *feed.shape)),
        feed=feed,
        states=states,
        words=words,
        flags=flags,
    )
    run.tables = tables
    return tables


def unfilled_detail(kind: str, arrivals: int, unfilled: int) -> str:
    """The ``detail`` of an ``order_flow_unfilled`` row: ``json.dumps({"kind": kind,
    "arrivals": arrivals, "unfilled": unfilled})`` written out (a kind is a plain identifier
    of :data:`~simulator.scenario.flow.FLOW_KINDS`, the counts ints), without the encoder's
    per-call cost; ``tests/engine/test_flow_glue.py`` compares both."""
    return f'{{"kind": "{kind}", "arrivals": {arrivals}, "unfilled": {unfilled}}}'


def spot_inputs_after_flow(inputs: dict, run: FlowRun | None) -> dict:
    """The spot phase's inputs of a quiet block (``inputs``: the last levels less the traders'
    closes, :func:`simulator.engine.spot.spot_inputs_after_closes`) with this step's planned
    flow opens and closes in the open interest, so that the hedger follows them in the same
    block as after a pending read (a refused open is the one case where the two differ)."""
    if run is None or run.planned_long_base is None:
        return inputs
    return {
        **inputs,
        "oi_long_base": inputs["oi_long_base"] + run.planned_long_base,
        "oi_short_base": inputs["oi_short_base"] + run.planned_short_base,
    }


def record_flow(
    ctx: Context,
    s: EngineState,
    results: list[TxResult],
    actions: list[Action],
    t: int,
    run: FlowRun | None,
) -> list[dict]:
    """The events of the block's flow calls, and the slots' opens and outcomes (after
    :func:`simulator.engine.events.decode_block` wrote the sizes the venue reported): the
    mined transactions' outcomes and last ``PositionModified`` read into
    :func:`record_flow_calls`."""
    if run is None:
        return []
    ok: list[bool] = []
    errors: list = []
    modified: list[tuple | None] = []
    for result, action in zip(results, actions, strict=True):
        fields = None
        if action.kind in _FLOW_CALLS and result.ok:
            events = [e for e in result.events if e.name == "PositionModified"]
            if events:
                a = events[-1].args
                fields = (a["account"], a["market"], a["sizeDelta"], a["fill"], a["newSize"],
                          a["entryPrice"], a["realizedPnl"], a["fee"], a["funding"])  # fmt: skip
        ok.append(result.ok)
        errors.append(result.error)
        modified.append(fields)
    return record_flow_calls(ctx, s, actions, ok, errors, modified, t, run)


_FLOW_CALLS = ("flow_open", "flow_close")


def record_flow_calls(
    ctx: Context,
    s: EngineState,
    actions: list[Action],
    ok: list[bool],
    errors: list,
    modified: list[tuple | None],
    t: int,
    run: FlowRun | None,
) -> list[dict]:
    """:func:`record_flow` from each call's outcome: ``ok[i]``, ``errors[i]`` (the revert's
    text where it failed) and ``modified[i]``, its last ``PositionModified``'s (``account``,
    ``market``, ``sizeDelta``, ``fill``, ``newSize``, ``entryPrice``, ``realizedPnl``,
    ``fee``, ``funding``; WAD: the chain's integers or the fast mirror's floats) or None."""
    if run is None:
        return []
    book = ctx.world.book
    symbols, accounts, account_of, kind_of = ctx.symbols, ctx.accounts, book.account, book.flow_kind
    reasons = run.close_reasons
    keep_open, keep_close = ctx.keeps("open"), ctx.keeps("close")  # the rows; state regardless
    out: list[dict] = []
    for action, done, error, fields in zip(actions, ok, errors, modified, strict=True):
        kind = action.kind
        if kind != "flow_open" and kind != "flow_close":
            continue
        r, m = action.who, action.market
        account = accounts[account_of[r]]
        if not done:
            what = "open" if kind == "flow_open" else "close"
            detail = f"{FLOW_KINDS[kind_of[r]]}: {error}"
            out.append(
                event_row(t, f"{what}_reverted", market=symbols[m], account=account, detail=detail)
            )
            continue
        if fields is None:
            continue
        event_account, market_id, delta, fill, new_size, entry, realized, fee, funding = fields
        if kind == "flow_open":
            s.opens[r] += 1
            s.opened_step[r] = t
            s.outcome[r], s.outcome_step[r] = OPEN, -1
            s.realized_pnl_usd[r] = np.nan
            s.flow_open_size_base[r] = abs(from_wad(new_size))
            s.flow_open_entry_usd[r] = from_wad(entry)
            if not keep_open:
                continue
            size, price = abs(delta / WAD), fill / WAD  # from_wad inlined: the same division
            out.append({  # event_row's row (same keys, same order), built inline
                "step": t, "kind": "open", "market": symbols[m], "account": account,
                "side": "long" if delta > 0 else "short", "size_base": size, "price_usd": price,
                "notional_usd": size * price, "amount_usd": int(fee) / WAD,
                "detail": FLOW_KINDS[kind_of[r]],
            })  # fmt: skip
        elif new_size == 0:
            if keep_close:
                out.append(close_row_of(ctx, t, reasons.get(r, "close"), event_account,
                                        market_id, delta, fill, realized, fee, funding))  # fmt: skip
            s.outcome[r], s.outcome_step[r] = CLOSED, t
            s.realized_pnl_usd[r] = np.nan
    return out


def record_flow_slots(
    ctx: Context,
    s: EngineState,
    t: int,
    run: FlowRun | None,
    slots: np.ndarray,
    opens_from: int,
    ok: np.ndarray,
    errors: dict[int, str],
    fields: np.ndarray,
) -> list[dict]:
    """:func:`record_flow_calls` from the calls' arrays (the fast mirror's,
    :class:`simulator.mirror.sim.flow.ArrayBlock`): call ``k`` on slot ``slots[k]`` (a close
    before ``opens_from``, then an open), ``ok[k]``, ``errors[k]`` where it failed, and its
    ``PositionModified`` fields in ``fields[k]`` (``sizeDelta``, ``fill``, ``newSize``,
    ``entryPrice``, ``realizedPnl``, ``fee``, ``funding``: WAD floats). The same rows, in the
    same order, and the same state as :func:`record_flow_calls` on the calls' Actions: the
    slots' state in one compiled pass (:func:`_record_slot_state`), a row built only for a
    call that has one."""
    if run is None or not len(slots):
        return []
    keep = ctx.memo.get(_KEEPS)
    if keep is None or keep[0] is not ctx.event_kinds:
        keep = ctx.memo[_KEEPS] = (ctx.event_kinds, ctx.keeps("open"), ctx.keeps("close"))
    _, keep_open, keep_close = keep
    if not _record_slot_state(slots, run.rows, opens_from, ok, fields, t, OPEN, CLOSED,
                              keep_open, keep_close, s.opens, s.opened_step, s.outcome,
                              s.outcome_step, s.realized_pnl_usd, s.flow_open_size_base,
                              s.flow_open_entry_usd):  # fmt: skip
        return []
    is_open = np.arange(len(slots)) >= opens_from
    with_rows = ~ok
    if keep_open:
        with_rows |= ok & is_open
    if keep_close:
        with_rows |= ok & ~is_open & (fields[:, 2] == 0.0)
    kind_of, symbols, market_ids = ctx.world.book.flow_kind, ctx.symbols, ctx.market_ids
    accounts, markets, row_list = run.accounts, run.market_list, run.row_list
    reasons = run.close_reasons
    out: list[dict] = []
    for k in np.flatnonzero(with_rows).tolist():
        i = int(slots[k])
        r, m = row_list[i], markets[i]
        if not ok[k]:
            what = "open" if is_open[k] else "close"
            detail = f"{FLOW_KINDS[kind_of[r]]}: {errors[k]}"
            out.append(event_row(t, f"{what}_reverted", market=symbols[m], account=accounts[i],
                                 detail=detail))  # fmt: skip
            continue
        delta, fill, _, _, realized, fee, funding = fields[k].tolist()
        if is_open[k]:
            size, price = abs(delta / WAD), fill / WAD  # from_wad inlined: the same division
            out.append({  # event_row's row (same keys, same order), built inline
                "step": t, "kind": "open", "market": symbols[m], "account": accounts[i],
                "side": "long" if delta > 0 else "short", "size_base": size, "price_usd": price,
                "notional_usd": size * price, "amount_usd": int(fee) / WAD,
                "detail": FLOW_KINDS[kind_of[r]],
            })  # fmt: skip
        else:
            out.append(close_row_of(ctx, t, reasons.get(r, "close"), accounts[i],
                                    market_ids[m], delta, fill, realized, fee, funding))  # fmt: skip
    return out


_KEEPS = "engine.flow.record_flow_slots.keeps"
"""``ctx.memo``'s key of (the run's ``event_kinds``, whether it keeps ``open`` rows, ``close``
rows): read again when ``event_kinds`` is replaced."""


@kernel
def _record_slot_state(slots, slot_rows, opens_from, ok, fields, t, open_code, closed_code,
                       keep_open, keep_close, opens, opened_step, outcome, outcome_step,
                       realized_pnl_usd, flow_open_size_base, flow_open_entry_usd):  # fmt: skip
    """:func:`record_flow_calls`' state writes, call by call in order: call ``k`` on the book
    row of slot ``slots[k]`` (``slot_rows``; an open from ``opens_from``), if it succeeded
    (``ok[k]``): an open counts and its size and entry (``fields[k, 2]``, ``fields[k, 3]``,
    WAD) are kept, a close to size 0 ends the slot at step ``t``; the realized PnL is left
    for the step's end (NaN). Returns the number of calls with a row: the failed ones, the
    opens made when ``keep_open``, the closes to size 0 when ``keep_close``."""
    with_rows = 0
    for k in range(slots.shape[0]):
        if not ok[k]:
            with_rows += 1
            continue
        r = slot_rows[slots[k]]
        if k >= opens_from:
            with_rows += keep_open
            opens[r] += 1
            opened_step[r] = t
            outcome[r] = open_code
            outcome_step[r] = -1
            realized_pnl_usd[r] = np.nan
            flow_open_size_base[r] = abs(fields[k, 2] / 1e18)  # from_wad: the same division
            flow_open_entry_usd[r] = fields[k, 3] / 1e18
        elif fields[k, 2] == 0.0:
            with_rows += keep_close
            outcome[r] = closed_code
            outcome_step[r] = t
            realized_pnl_usd[r] = np.nan
    return with_rows
