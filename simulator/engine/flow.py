"""Phase 1d: the order flow -- traders who arrive, trade and leave through the run.

The scenario's ``order_flow`` (:mod:`simulator.scenario.flow`) adds flow *slots* to the book:
rows that start flat, each its own cross account funded at setup. Every step, after the
traders of the opening book, :func:`plan_flow` runs the flow's decisions
(:func:`simulator.agents.flow.step_orders`' model, compiled over the book-wide state:
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

from dataclasses import dataclass, field
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
    close_reasons: dict[int, str] = field(default_factory=dict)
    """This step's planned closes: row -> reason (read back by :func:`record_flow`)."""
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
    """The run's constants packed for :func:`plan_flow`'s kernels (:func:`kernel_tables`,
    built at the first step)."""
    array_calls: bool = True
    """The fast mirror runs the flow's calls from :func:`plan_arrays`' arrays
    (:mod:`simulator.mirror.sim.flow`); False: through :func:`flow_actions`' Actions, the
    path the chain engine and the exact mirror take (the tests' reference)."""
    slot_calls: Any = None
    """The fast mirror's per-slot call table (:class:`simulator.mirror.sim.flow.SlotCalls`,
    built at its first step)."""


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
    """Each close's reason (int64, into :data:`simulator.agents.flow.EXIT_REASONS`)."""
    open_slots: np.ndarray
    """The slots that open (int64)."""
    open_side: np.ndarray
    """Each open's side (+1 long, -1 short; int64)."""
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
    reasons by row into ``run.close_reasons``), then the opens (slots, sides, sizes), the
    planned change of open interest in ``run``; unfilled arrivals go to ``step_events``.

    Three compiled calls around the step's draws (:mod:`simulator.agents.flow_jit`):
    ``plan_before`` (one pass over the slots: their carried equity, the closes, the slots
    that may enter; then the signals and the intensity), the draws (numpy's, from the step's
    generator), ``plan_after`` (the eligible slots the arrivals take and their opens, the
    planned change of open interest, the slots' side and equity at open) and
    ``write_exit_steps``. The same as
    :func:`simulator.agents.flow.step_orders` with this phase's numpy glue, float for float
    (``tests/engine/test_flow_plan.py`` keeps that form and compares)."""
    tables = run.tables if run.tables is not None else kernel_tables(run, ctx)
    tr = s.trader
    p = s.feed_prices_usd[: t + 1]
    window = p[max(0, len(p) - 1 - run.params.reference_steps) :]
    if np.minimum.reduce(window, axis=None) > 0.0:  # np.log warns on a zero, negative or NaN
        log_window = np.log(window)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_window = np.log(window)
    close_rows, close_reason, lam, side_km, n_eligible = flow_jit.plan_before(
        tables.slots, tables.units, tables.kinds, tables.params, tables.iparams, run.ticket_usd,
        tables.market_of_row, s.oracle_price_usd, tr.read_price_usd, tr.side, tr.size_base,
        tr.equity_usd, tr.maintenance_usd, s.outcome, s.outcome_step, s.flow_exit_step,
        s.flow_open_equity_usd, p, log_window,
        np.asarray(levels["funding_rate_per_hour"], dtype=np.float64), t, tables.work,
        tables.eligible,
    )  # fmt: skip
    rng = flow_agents.step_rng(run.stream, t) if run.steps is None else run.steps.generator(t)
    counts = rng.poisson(lam)
    draws = rng.random(out=tables.draws)  # (DRAWS_PER_SLOT, R): random((4, R))'s draws
    open_rows, unfilled, open_side, open_size, long_change, short_change, any_unfilled = (
        flow_jit.plan_after(
            counts, draws, tables.eligible, n_eligible, close_rows, side_km, tables.slots,
            tables.kinds, tables.params, run.ticket_usd, tables.work, p[-1],
            tables.max_leverage, tr.side, tr.size_base, s.opens, s.flow_open_equity_usd,
        )
    )  # fmt: skip
    flow_jit.write_exit_steps(
        np.log1p(-draws[2, open_rows]), open_rows, tables.slots, tables.kinds, t,
        s.flow_exit_step,
    )  # fmt: skip
    run.planned_long_base, run.planned_short_base = long_change, short_change
    reasons, row_list = flow_agents.EXIT_REASONS, run.row_list
    run.close_reasons = {row_list[i]: reasons[reason]
                         for i, reason in zip(close_rows.tolist(), close_reason.tolist(),
                                              strict=True)}  # fmt: skip
    if any_unfilled and ctx.keeps("order_flow_unfilled"):
        arrivals, unfilled_list = counts.tolist(), unfilled.tolist()
        kinds, unfilled_markets = np.nonzero(unfilled)
        for k, m in zip(kinds.tolist(), unfilled_markets.tolist(), strict=True):
            detail = unfilled_detail(FLOW_KINDS[k], arrivals[k][m], unfilled_list[k][m])
            step_events.append(
                event_row(t, "order_flow_unfilled", market=ctx.symbols[m], detail=detail)
            )
    return FlowPlan(close_rows, close_reason, open_rows, open_side, open_size)


@dataclass(frozen=True)
class KernelTables:
    """A run's constants as :func:`plan_flow`'s kernels read them (packed tables, the layout
    of :mod:`simulator.agents.flow_jit`), and its per-slot work table."""

    slots: np.ndarray
    """(``SLOT_FIELDS``, R) int64: each slot's row, kind, market, group, cooldown, place in
    the units' rows and unit."""
    units: np.ndarray
    """(2, U) int64: every row of the slots' margin units and its unit."""
    kinds: np.ndarray
    """(``KIND_FIELDS``, K) float64: per kind, take-profit and stop-loss fractions, rate per
    hour, leverage shares, mean holding time (steps)."""
    params: np.ndarray
    """(``PARAM_FIELDS``,) float64: the flow's scalar parameters."""
    iparams: np.ndarray
    """(``INT_FIELDS``,) int64: lookback (steps), own units, the idle code, markets."""
    market_of_row: np.ndarray
    """The book's market per row (int64)."""
    max_leverage: np.ndarray
    """Per market: the venue's maximum leverage (float64)."""
    work: np.ndarray
    """(``WORK_FIELDS``, R) float64: what ``plan_before`` hands ``plan_after`` (the
    eligible slots' equity)."""
    eligible: np.ndarray
    """(R,) int64: the slots that may enter, ascending (its first ``n_eligible`` entries)."""
    draws: np.ndarray
    """(``DRAWS_PER_SLOT``, R) float64: the step's uniforms, drawn into it."""


def kernel_tables(run: FlowRun, ctx: Context) -> KernelTables:
    """The run's :class:`KernelTables` (kept in ``run.tables``: built once a run)."""
    fj, params = flow_jit, run.params
    n = len(run.rows)
    slots = np.empty((fj.SLOT_FIELDS, n), dtype=np.int64)
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
    kinds = np.empty((fj.KIND_FIELDS, len(params.rate_per_hour)))
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
    iparams = np.empty(fj.INT_FIELDS, dtype=np.int64)
    iparams[fj.I_LOOKBACK] = params.lookback_steps
    iparams[fj.I_OWN_UNITS] = int(run.own_units)
    iparams[fj.I_IDLE] = IDLE
    iparams[fj.I_N_MARKETS] = ctx.n_markets
    tables = KernelTables(
        slots=slots,
        units=np.stack([run.unit_rows, run.unit_slot]).astype(np.int64),
        kinds=kinds,
        params=scalars,
        iparams=iparams,
        market_of_row=np.asarray(ctx.world.book.market, dtype=np.int64),
        max_leverage=np.asarray(run.max_leverage, dtype=np.float64),
        work=np.empty((fj.WORK_FIELDS, n)),
        eligible=np.empty(n, dtype=np.int64),
        draws=np.empty((flow_agents.DRAWS_PER_SLOT, n)),
    )
    run.tables = tables
    return tables


def unfilled_detail(kind: str, arrivals: int, unfilled: int) -> str:
    """The ``detail`` of an ``order_flow_unfilled`` row: ``json.dumps({"kind": kind,
    "arrivals": arrivals, "unfilled": unfilled})`` written out (a kind is a plain identifier
    of :data:`~simulator.scenario.flow.FLOW_KINDS`, the counts ints), without the encoder's
    per-call cost; ``tests/engine/test_flow_glue.py`` compares both."""
    return f'{{"kind": "{kind}", "arrivals": {arrivals}, "unfilled": {unfilled}}}'


def _slot_inputs(
    s: EngineState, market_of_row: np.ndarray, run: FlowRun, t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per slot at step ``t``: its equity carried to this step's oracle price (USD; funding
    and the margin scale left out: :func:`simulator.agents.traders.estimate` without them),
    whether its margin unit is above maintenance (from the rows of the slots' units alone:
    the same float operations, row for row and in the same order per unit, as on the whole
    book), whether it may enter (idle, or its kind's cooldown over since its position ended)
    and the side it held last (0: never opened). One compiled pass
    (:func:`simulator.agents.flow_jit.slot_inputs`; ``tests/engine/test_flow_glue_jit.py``
    keeps the numpy formulation it replaced)."""
    tr = s.trader
    return flow_jit.slot_inputs(
        run.rows, run.unit_rows, run.own_units, run.unit_slot, run.slot_in_unit_rows,
        run.slot_unit, market_of_row, s.oracle_price_usd, tr.read_price_usd, tr.side,
        tr.size_base, tr.equity_usd, tr.maintenance_usd, s.outcome, s.outcome_step,
        run.cooldown_steps, s.opens, IDLE, t,
    )  # fmt: skip


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
