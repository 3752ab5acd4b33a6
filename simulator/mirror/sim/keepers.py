"""Phase 2 on the mirror: the keepers' plan (:func:`plan`, the selection of
:func:`simulator.engine.keepers.plan_keepers`: reaction delay, capacity, profit threshold,
largest notional first) and the calls executed on the venue in block order, batched
(:func:`execute_many`; :func:`execute` of one unit), with the event rows and the position
outcomes the chain engine derives from the calls' events
(:func:`simulator.engine.events.decode_block`). This module's calls are liquidations only:
with a backstop vault the keepers' plan and takeovers are
:func:`simulator.mirror.sim.backstop.plan` / ``execute``, and the liquidations it leaves come
here.

The step's keepers' segment: :func:`pending` (the watch list, the units touched by the
block's calls, those confirmed on the pending block, read and stored, and the plan) and
:func:`read_candidates` (the units read again after the block). On a fast venue each is one
compiled call (:func:`simulator.engine.jit_rows.keepers_pending`,
:func:`simulator.engine.jit_rows.read_candidates`); exact mode, a venue of
:data:`~simulator.mirror.sim.jit_calls.HEALTH_MAX_MARKETS` markets or more and
``full_health_every_step`` take the Python path (:func:`_pending_python`,
:func:`_candidates_python`), which is the same computation call by call."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

import numpy as np

from simulator.engine import jit_rows
from simulator.engine import keepers as engine_keepers
from simulator.engine.context import Context
from simulator.engine.events import _FLAT_BASE, _set_outcome, event_row, final_bad_debt_row
from simulator.engine.state import LIQUIDATED, EngineState
from simulator.mirror.fixed import WAD
from simulator.mirror.sim import backstop, jit_calls
from simulator.mirror.sim.levels import to_float, unit_health
from simulator.mirror.sim.venue import Liquidation, Reverted, VenueState

#: Where the fused kernels read the venue's packed arrays
#: (:func:`simulator.engine.jit_rows.units_health`'s ``at``): the position floats' rows of
#: size, entry, snapshot and margin, the parameters' columns of the maintenance base and tier
#: count, and the tiers' index of the maintenance fraction.
HEALTH_AT = np.array([jit_calls.P_SIZE, jit_calls.P_ENTRY, jit_calls.P_SNAPSHOT,
                      jit_calls.P_MARGIN, jit_calls.P_MM_BASE, jit_calls.P_MM_TIERS,
                      jit_calls.MM], dtype=np.int64)  # fmt: skip

#: ``ctx.memo`` key of the run's fixed inputs of the fused kernels (:func:`_fused`; None: the
#: Python path).
FUSED_MEMO = "mirror.keepers.fused"

_NONE = np.zeros(0)
_NO_UNITS = np.zeros(0, dtype=np.int64)


def _fused(ctx: Context, s: EngineState, venue: VenueState) -> tuple | None:
    """The run's fixed inputs of the fused kernels, made at its first step and kept in
    ``ctx.memo`` (:data:`FUSED_MEMO`): the constants (watch ratio, confirm band, gas cost and
    minimum profit in USD, refresh period, capacity, reaction delay, whether there is a
    backstop threshold), the margin units' arrays with the store's flags, the markets' keeper
    reward and backstop fractions, whether the keepers' plan is the kernel's (no backstop
    vault: its takeovers are :func:`simulator.mirror.sim.backstop.plan`'s), empty stand-ins
    of the funding at now and the venue's parameters and tiers (a pass with nothing to read),
    and the (4, units) buffer the pass writes its watch list, touched units, targets and
    confirmed units into
    (a step's are views of it, dead by the next step's pass), and the units' arrays the pass
    reads without a read (:func:`simulator.engine.jit_rows.keepers_watch`'s ``lean_t``). None where the Python path runs: exact mode, :data:`~simulator.mirror.sim.
    jit_calls.HEALTH_MAX_MARKETS` markets or more (the venue sums a health otherwise),
    ``full_health_every_step``, or a traders' state without the funding and scale views."""
    tr = s.trader
    value = None
    if (
        not venue.exact_mode
        and venue.n_markets < jit_calls.HEALTH_MAX_MARKETS
        and not ctx.full_health_every_step
        and tr.read_funding_index_usd is not None
        and tr.read_margin_scale is not None
    ):
        units = ctx.units
        rows_by_unit, unit_start = units.grouping()
        fraction = units.maintenance_fraction
        ks = ctx.scenario.keepers
        has_backstop = ctx.backstop_fraction is not None
        consts = np.array([
            engine_keepers.WATCH_MARGIN_RATIO, engine_keepers.CONFIRM_BAND,
            float(ks.gas_cost_usd), float(ks.min_profit_usd), engine_keepers.FULL_REFRESH_STEPS,
            int(ks.count * ks.max_liquidations_per_block), int(ks.reaction_delay_steps),
            1.0 if has_backstop else 0.0,
        ], dtype=np.float64)  # fmt: skip
        unit_t = (
            units.unit_of_row, rows_by_unit, unit_start, units.account, units.isolated,
            units.market, np.asarray(ctx.world.book.market, dtype=np.int64),
            _NONE if fraction is None else np.asarray(fraction, dtype=np.float64),
            np.array([fraction is not None, True, True]),
        )  # fmt: skip
        fractions = (
            np.asarray(ctx.keeper_reward_fraction, dtype=np.float64),
            np.asarray(ctx.backstop_fraction, dtype=np.float64) if has_backstop else _NONE,
        )
        value = (consts, unit_t, fractions, venue.backstop is None, np.zeros((3, 0)),
                 np.zeros((0, jit_calls.N_PARAMS)), np.zeros((0, 2, 1, 3)),
                 np.zeros((4, units.count), dtype=np.int64),
                 (unit_t[0], unit_t[1], unit_t[2], unit_t[4], unit_t[6]))  # fmt: skip
    ctx.memo[FUSED_MEMO] = value
    return value


def pending(
    ctx: Context, s: EngineState, venue: VenueState, t: int, eq: np.ndarray, mm: np.ndarray,
    notional_row: np.ndarray, notional: np.ndarray, trade_rows, everyone: bool,
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, int]:  # fmt: skip
    """The keepers on the pending block of step ``t``: (watch list, units touched by
    ``trade_rows``, how many units were confirmed, the units acted on in call order, how many
    of the first are takeovers). The confirmed units are read on ``venue`` and written into
    the traders' view and into ``eq`` / ``mm`` (the units' estimate, USD) in place;
    ``s.liquidatable_since`` is updated (:func:`simulator.engine.keepers.watch_list`,
    :func:`~simulator.engine.keepers.confirm_list`, :func:`plan` or
    :func:`simulator.mirror.sim.backstop.plan`). ``everyone``: a full refresh (every open
    unit read). On a fast venue one compiled call (two when units are read: the funding at now
    is fetched only then; :func:`simulator.engine.jit_rows.keepers_watch` first)."""
    memo = ctx.memo
    fused = memo[FUSED_MEMO] if FUSED_MEMO in memo else _fused(ctx, s, venue)
    if fused is None:
        return _pending_python(ctx, s, venue, t, eq, mm, notional_row, notional, trade_rows,
                               everyone)  # fmt: skip
    consts, unit_t, fractions, plan_here, fn, params, tiers, out, lean_t = fused
    rows = np.asarray(trade_rows, dtype=np.int64)
    # Most steps read no unit: the pass on the arrays it reads then (a third of the
    # arguments), else the whole pass again with the read's (the funding at now fetched).
    status, n_watch, n_touched, confirmed, n_targets = jit_rows.keepers_watch(
        eq, mm, notional, notional_row, s.liquidatable_since, rows, t, everyone, plan_here,
        consts, lean_t, fractions, out,
    )  # fmt: skip
    if status:
        tr = s.trader
        trader_t = (tr.size_base, tr.side, tr.entry_price_usd, tr.collateral_in_usd,
                    tr.equity_usd, tr.maintenance_usd, tr.read_price_usd,
                    tr.read_funding_index_usd, tr.read_margin_scale)  # fmt: skip
        view_t = (s.oracle_price_usd, s.funding_index_usd, s.margin_scale)
        venue_t = (venue.price, venue._position_floats, venue.isolated, venue.collateral,
                   HEALTH_AT)  # fmt: skip
        params, tiers = venue.jit_buffers()[:2]  # units to read: the funding at now
        status, n_watch, n_touched, confirmed, n_targets = jit_rows.keepers_pending(
            eq, mm, notional, notional_row, s.liquidatable_since, rows, t, everyone, plan_here,
            True, consts, unit_t, fractions, trader_t, view_t, venue_t,
            venue.funding_now()[1], params, tiers, out,
        )  # fmt: skip
    watch, touched = out[0, :n_watch], out[1, :n_touched]
    if plan_here:
        return watch, touched, confirmed, out[2, :n_targets], 0
    targets, takeovers = backstop.plan(ctx, s, t, eq, mm, notional_row, notional)
    return watch, touched, confirmed, targets, takeovers


def _pending_python(ctx, s, venue, t, eq, mm, notional_row, notional, trade_rows, everyone):
    """:func:`pending` call by call (exact mode and the cases :func:`_fused` leaves out)."""
    units = ctx.units
    watch = engine_keepers.watch_list(ctx, s, t, eq, mm, notional, everyone=everyone)
    # np.unique of a few units: the same sorted int64 array, without its Python layers.
    touched = np.array(
        sorted(set(units.unit_of_row[np.asarray(trade_rows, dtype=np.int64)].tolist())),
        dtype=np.int64,
    )
    confirm = engine_keepers.confirm_list(
        ctx, watch, eq, mm, notional_row, touched, everyone=everyone
    )
    if len(confirm):
        got_eq, got_mm = unit_health(ctx, venue, confirm)
        # Only the watch list's reads reach the traders' view: every unit confirmed is on
        # it (:func:`~simulator.engine.keepers.confirm_list` picks from it) unless every
        # open unit is read (``full_health_every_step``, off on the mirror).
        keep = np.isin(confirm, watch) if ctx.full_health_every_step else None
        store_read(ctx, s, confirm, got_eq, got_mm, keep=keep)
        eq[confirm], mm[confirm] = got_eq, got_mm
    if venue.backstop is None:
        targets, takeovers = plan(ctx, s, t, eq, mm, notional_row, notional), 0
    else:  # takeovers first (:mod:`~simulator.mirror.sim.backstop`)
        targets, takeovers = backstop.plan(ctx, s, t, eq, mm, notional_row, notional)
    return watch, touched, len(confirm), targets, takeovers


def read_candidates(
    ctx: Context, s: EngineState, venue: VenueState, targets: np.ndarray, touched: np.ndarray,
    watch: np.ndarray, winner_rows: set[int], everyone: bool,
) -> None:  # fmt: skip
    """After the block: the units the keepers acted on (``targets``), those ``touched`` by
    phase 1, the ADL winners' (``winner_rows``: book rows) and, unless ``everyone`` was read
    on the pending block, the watch list, read on ``venue`` and written into the traders'
    view -- sorted and distinct, as the chain engine's candidates. On a fast venue one
    compiled call."""
    memo = ctx.memo
    fused = memo[FUSED_MEMO] if FUSED_MEMO in memo else _fused(ctx, s, venue)
    if fused is None:
        _candidates_python(ctx, s, venue, targets, touched, watch, winner_rows, everyone)
        return
    units = ctx.units
    extra = (
        units.unit_of_row[np.fromiter(winner_rows, dtype=np.int64)] if winner_rows else _NO_UNITS
    )
    with_watch = not everyone
    if not (targets.shape[0] or touched.shape[0] or extra.shape[0]
            or (with_watch and watch.shape[0])):  # fmt: skip
        return  # nothing to read
    unit_t = fused[1]
    tr = s.trader
    trader_t = (tr.size_base, tr.side, tr.entry_price_usd, tr.collateral_in_usd, tr.equity_usd,
                tr.maintenance_usd, tr.read_price_usd, tr.read_funding_index_usd,
                tr.read_margin_scale)  # fmt: skip
    params, tiers = venue.jit_buffers()[:2]
    jit_rows.read_candidates(
        targets, touched, watch, with_watch, extra, unit_t[3].shape[0], unit_t,
        trader_t, (s.oracle_price_usd, s.funding_index_usd, s.margin_scale),
        (venue.price, venue._position_floats, venue.isolated, venue.collateral, HEALTH_AT),
        venue.funding_now()[1], params, tiers,
    )  # fmt: skip


def _candidates_python(ctx, s, venue, targets, touched, watch, winner_rows, everyone) -> None:
    """:func:`read_candidates` call by call."""
    units = ctx.units
    chosen = np.zeros(units.count, dtype=bool)
    chosen[targets] = True
    chosen[touched] = True
    if winner_rows:
        chosen[units.unit_of_row[np.fromiter(winner_rows, dtype=np.int64)]] = True
    if not everyone:
        chosen[watch] = True
    candidates = np.flatnonzero(chosen)
    if len(candidates):
        store_read(ctx, s, candidates, *unit_health(ctx, venue, candidates))


def store_read(ctx: Context, s: EngineState, units, equity, maintenance, keep=None) -> None:
    """The traders' view of ``units`` read as (equity, maintenance) USD
    (:meth:`simulator.engine.margin.MarginUnits.store` at the step's oracle prices, funding
    index and margin scale; ``keep``: a mask of the units to write, None for all)."""
    kept = slice(None) if keep is None else np.asarray(keep, dtype=bool)
    ctx.units.store(
        s.trader, np.asarray(units)[kept], equity[kept], maintenance[kept],
        s.oracle_price_usd, ctx.world.book.market, s.funding_index_usd, s.margin_scale,
    )  # fmt: skip


def plan(
    ctx: Context,
    s: EngineState,
    t: int,
    eq: np.ndarray,
    mm: np.ndarray,
    notional_row: np.ndarray,
    notional: np.ndarray,
) -> np.ndarray:
    """The margin units the keepers liquidate this block, in call order (USD inputs as
    :func:`simulator.engine.keepers.plan_keepers` takes them, ``notional`` the units' sums of
    ``notional_row``); updates ``s.liquidatable_since``. A block with no unit under
    maintenance has no call (the plan's other inputs are not computed)."""
    if not engine_keepers.track_marked(s, t, eq, mm, notional):  # no unit under maintenance
        return np.zeros(0, dtype=np.int64)
    reward, _ = engine_keepers.unit_fractions(ctx, notional_row, notional)
    chosen = engine_keepers.scenario_plan(ctx, s, t, eq, mm, notional, reward, None)
    return chosen.liquidate.astype(np.int64)


def execute(
    ctx: Context,
    s: EngineState,
    venue: VenueState,
    u: int,
    t: int,
    row_of: np.ndarray,
    decoded: list[Callable[[], None]],
) -> list[dict]:
    """Liquidate margin unit ``u`` (``liquidate`` or ``liquidateIsolated``) on the venue:
    :func:`execute_many` of the one unit."""
    return execute_many(ctx, s, venue, [u], t, row_of, decoded)


def execute_many(
    ctx: Context,
    s: EngineState,
    venue: VenueState,
    targets: np.ndarray | list[int],
    t: int,
    row_of: np.ndarray,
    decoded: list[Callable[[], None]],
) -> list[dict]:
    """Liquidate margin units ``targets`` in order (each ``liquidate`` or
    ``liquidateIsolated``) on the venue, batched (:meth:`VenueState.liquidate_many`); the
    step's event rows of the calls in order (``liquidate_reverted`` when the venue refuses
    one; ``row_of`` as :func:`liquidation_rows` takes it). What the calls do to the traders'
    rows is appended to ``decoded`` (applied when the block is decoded, after the ADL
    keeper's plan, as on chain): one :func:`decode_liquidated` of every call's closes in
    order. A batched call without a deficit comes back as its legs (``legs=True``) and its
    ``Liquidated`` rows are built here in one pass, as :func:`liquidation_rows` builds them,
    without a call per liquidation; the others (a revert, a deficit, a call made alone, exact
    mode) go through :func:`liquidation_rows`."""
    if not len(targets):  # most steps
        return []
    units = ctx.units
    us = np.asarray(targets, dtype=np.int64)
    accounts, markets = units.account[us].tolist(), units.market[us].tolist()
    isolated = units.isolated[us].tolist()
    out: list[dict] = []
    symbols, names = ctx.symbols, ctx.accounts
    closes: list[tuple[int, float, bool]] = []  # every call's, decoded in order
    done_all = venue.liquidate_many(accounts, markets, isolated, legs=True)
    for a, m, iso, done in zip(accounts, markets, isolated, done_all, strict=True):
        if done.__class__ is tuple:  # (account, legs): fast mode's floats (WAD)
            account = names[a]
            for j, closed, fill, penalty, full in done[1]:
                size = closed / 1e18
                if size <= 0.0:  # abs(size), inlined (-0.0 to 0.0 as abs gives it)
                    size = -size if size else 0.0
                price = fill / 1e18
                row = row_of[a, j]
                if row >= 0:
                    closes += ((row, size, full),)
                out += ({
                    "step": t, "kind": "liquidation" if full else "partial_liquidation",
                    "market": symbols[j], "account": account,
                    "side": "long" if closed > 0 else "short", "size_base": size,
                    "price_usd": price, "notional_usd": size * price,
                    "amount_usd": penalty / 1e18, "detail": "",
                },)  # fmt: skip
        elif done.__class__ is Reverted or isinstance(done, Reverted):
            out.append(event_row(t, "liquidate_reverted", market=symbols[m] if iso else None,
                                 account=names[a], detail=str(done)))  # fmt: skip
        else:
            out += liquidation_rows(ctx, s, done, t, row_of, decoded, symbols, closes)
    if closes:
        decoded.append(partial(decode_liquidated, s, closes, t))
    return out


def liquidation_rows(
    ctx: Context,
    s: EngineState,
    done: Liquidation,
    t: int,
    row_of: np.ndarray,
    decoded: list[Callable[[], None]],
    symbols: list[str] | None = None,
    closes: list[tuple[int, float, bool]] | None = None,
) -> list[dict]:
    """The rows of one liquidation's ``Liquidated`` events (sizes and outcomes written into
    the traders' rows as the chain engine does), then its ``DeficitAttributed`` (an insurance
    payout) and ``BadDebtRecorded`` rows. ``row_of``: the book row of every (account, market),
    -1 for none; the rows' updates go to ``decoded``. ``symbols``: ``ctx.symbols`` when the
    caller holds them. ``closes``: the caller's list of closes to decode (it appends the
    :func:`decode_liquidated` of them to ``decoded``), None for this call's own."""
    out: list[dict] = []
    account = ctx.accounts[done.account]
    if symbols is None:
        symbols = ctx.symbols
    row_of_market = row_of[done.account].tolist()  # the account's book row per market
    own = closes is None
    if own:  # (row, base units closed, whole), decoded later
        closes = []
    # The ``Liquidated`` rows built as :func:`event_row` builds them (same keys, same order,
    # ``notional_usd`` size × price), their WAD values read as :func:`to_float` reads them
    # (inlined for a float, fast mode's, and a Python int, exact mode's: no call per value
    # on the per-event path; :func:`_float_of` for any other type).
    for m, closed, fill, penalty, full in zip(
        done.markets, done.closed, done.fill, done.penalty, done.full, strict=True
    ):
        c = closed.__class__
        size = closed / 1e18 if c is float else (closed / WAD if c is int else _float_of(closed))
        c = fill.__class__
        price = fill / 1e18 if c is float else (fill / WAD if c is int else _float_of(fill))
        c = penalty.__class__
        amount = (
            penalty / 1e18 if c is float else (penalty / WAD if c is int else _float_of(penalty))
        )
        size = abs(size)
        row = row_of_market[m]
        if row >= 0:
            closes.append((row, size, full))
        out.append({
            "step": t, "kind": "liquidation" if full else "partial_liquidation",
            "market": symbols[m], "account": account, "side": "long" if closed > 0 else "short",
            "size_base": size, "price_usd": price, "notional_usd": size * price,
            "amount_usd": amount, "detail": "",
        })  # fmt: skip
    if own and closes:
        decoded.append(partial(decode_liquidated, s, closes, t))
    for m, longs, _deficit, paid, remaining, charged, final in done.deficits:
        if paid:  # as event_row builds it
            out.append({
                "step": t, "kind": "insurance_payout", "market": symbols[m], "account": account,
                "side": None, "size_base": None, "price_usd": None, "notional_usd": None,
                "amount_usd": to_float(paid), "detail": "",
            })  # fmt: skip
        if remaining and charged is not None:
            out.append(socialized_row(ctx, t, m, longs, remaining, charged))
        elif remaining:
            out.append(event_row(t, "bad_debt", market=symbols[m],
                                 side="long" if longs else "short",
                                 amount=to_float(remaining)))  # fmt: skip
        if final is not None:
            out.append(final_bad_debt_row(t, symbols[m], longs, to_float(final[0]),
                                          to_float(final[1])))  # fmt: skip
    return out


def _float_of(x) -> float:
    """:func:`to_float` of ``x`` (WAD: a Python int in exact mode, a float in fast mode)."""
    return x / WAD if isinstance(x, int) else float(x) / 1e18


def decode_liquidated(s: EngineState, closes: list[tuple[int, float, bool]], t: int) -> None:
    """A liquidation's ``Liquidated`` events decoded, in order: each row's size less the base
    units closed (flat below :data:`~simulator.engine.events._FLAT_BASE`), and when whole,
    the row flat and liquidated at ``t`` (the outcomes written at once: the same values)."""
    size_base = s.trader.size_base
    whole: list[int] = []
    for row, size, full in closes:
        left = size_base[row] - size
        size_base[row] = 0.0 if full or left < _FLAT_BASE else left
        if full:
            whole += (row,)
    if whole:
        _set_outcome(s, np.array(whole, dtype=np.int64), LIQUIDATED, t)


def socialized_row(ctx: Context, t: int, m: int, longs: bool, loss, charged) -> dict:
    """The ``socialized_loss`` row of a loss charged to the open interest (the chain's
    ``AdlExecuted`` of the SOCIALIZED policy: deficit, minimum haircut and covered the loss,
    haircuts what was charged, overshoot the difference)."""
    detail = {
        "deficit_usd": to_float(loss),
        "minimum_haircut_usd": to_float(loss),
        "covered_usd": to_float(loss),
        "overshoot_usd": to_float(charged - loss),
        "to_fund_usd": 0.0,
        "contracts_closed_base": 0.0,
        "notional_closed_usd": 0.0,
        "accounts": 0,
        "policy": "socialized",
    }
    return event_row(t, "socialized_loss", market=ctx.symbols[m],
                     side="long" if longs else "short", amount=to_float(charged),
                     detail=json.dumps(detail))  # fmt: skip
