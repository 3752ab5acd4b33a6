"""Phase 2: keepers on the pending block -- backstop takeovers and liquidations.

Keepers watch every margin unit off chain (a cross account, or an isolated position: see
:mod:`simulator.engine.margin`), its equity carried to the new oracle prices by
:func:`simulator.agents.traders.estimate` from its last read. They act on that estimate, as a
keeper acts on its own view of the chain: the units near liquidation (the watch list,
:func:`watch_list`) are read again after every block, in the mining round trip, and a unit
is confirmed on the pending block before the keepers act only when its estimate cannot decide
(:func:`confirm_list`: within :data:`CONFIRM_BAND` of a boundary, or changed by a call already
in the block). Everyone is read every :data:`FULL_REFRESH_STEPS` and after a socialized loss.
These reads are also the traders' view for their next decisions.
:func:`plan_keepers` then sends backstop takeovers (``backstopTakeover(account)``: the whole
cross account), cross liquidations (``liquidate(account)``: the venue goes market by market)
and isolated ones (``liquidateIsolated(account, market)``), within the keepers' capacity,
reaction delay and profit threshold (:func:`simulator.agents.keepers.plan_liquidations`),
round robin over the keepers."""

from __future__ import annotations

import numpy as np

from simulator.agents import keepers as keeper_agents
from simulator.engine import jit_rows
from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState

#: Keepers confirm on chain every unit whose estimated equity is under this multiple of its
#: estimated maintenance margin. The estimate carries price, the engine's funding index and the
#: margin scale (:func:`simulator.engine.traders.estimate_rows`); what it misses (a tier crossed
#: since the read, the venue's funding accrued at one price over an untouched interval) was
#: measured on oct-2025 with its order flow and vault (session 19): over 16,343 pending reads,
#: shock included, the estimate's equity / maintenance was at most 1.0004x the venue's, so a 5%
#: margin is over 100 times the largest error seen.
WATCH_MARGIN_RATIO = 1.05
#: Every this many steps keepers (and traders) read every open margin unit on chain (4 h of
#: one-minute steps), and after any block that charged a loss through the funding indices.
FULL_REFRESH_STEPS = 240
#: Keepers act on the carried estimate without a read unless it is within this fraction of
#: maintenance of a boundary they act on (:func:`confirm_list`). The estimate's largest error
#: measured on oct-2025 was 0.04% of maintenance (see :data:`WATCH_MARGIN_RATIO`), so the band
#: is over ten times that; a unit the estimate misjudges beyond it is a liquidation the venue
#: refuses, or one a step late (the watch list is read after every block).
CONFIRM_BAND = 0.005


def watch_list(
    ctx: Context,
    s: EngineState,
    t: int,
    eq: np.ndarray,
    mm: np.ndarray,
    notional: np.ndarray,
    everyone: bool = False,
) -> np.ndarray:
    """Units to read on chain at step ``t`` (estimated equity, maintenance margin and
    notional per unit, USD): the ones near liquidation, or every open one each
    :data:`FULL_REFRESH_STEPS` and when ``everyone``. What is read becomes the traders' view,
    so this list does not depend on ``full_health_every_step`` (see :func:`confirm_list`)."""
    if notional.__class__ is not np.ndarray or notional.dtype != _F64:
        notional = np.asarray(notional, dtype=np.float64)
    n = notional.shape[0]
    since = s.liquidatable_since
    if not _ready(eq, mm, n):
        eq, mm = _units(eq, n), _units(mm, n)
    if since.__class__ is not np.ndarray or since.shape != (n,):
        since = _units(since, n, None)
    return jit_rows.watch_rows(
        eq, mm, notional, since,
        True if (everyone or t % FULL_REFRESH_STEPS == 0) else False, WATCH_MARGIN_RATIO,
    )  # fmt: skip


def _ready(eq, mm, n: int) -> bool:
    """Whether ``eq`` and ``mm`` are ``n`` float64 values each already (the step's own
    arrays: no conversion)."""
    return (
        eq.__class__ is np.ndarray and mm.__class__ is np.ndarray
        and eq.shape == (n,) and mm.shape == (n,) and eq.dtype == _F64 and mm.dtype == _F64
    )  # fmt: skip


_F64 = np.dtype(np.float64)


def _units(a, n: int, dtype=_F64) -> np.ndarray:
    """``a`` as one value per unit of the ``n`` (``dtype``: None keeps its own; broadcast as
    numpy would, or an error): ``a`` itself, with no call, when it is that already."""
    if a.__class__ is np.ndarray and a.shape == (n,) and (dtype is None or a.dtype == dtype):
        return a
    a = np.asarray(a, dtype=dtype)
    if a.shape != (n,):
        a = np.ascontiguousarray(np.broadcast_to(a, (n,)))
    return a


def track_marked(
    s: EngineState, t: int, eq: np.ndarray, mm: np.ndarray, notional: np.ndarray
) -> int:
    """:func:`track_liquidatable` in one compiled call
    (:func:`simulator.engine.jit_rows.track_liquidatable`), with the count of units it marks
    liquidatable (0: the keepers have nothing to plan)."""
    since = s.liquidatable_since
    if since.__class__ is not np.ndarray:
        since = np.asarray(since)
    n = since.shape[0]
    if not _ready(eq, mm, n):
        eq, mm = _units(eq, n), _units(mm, n)
    s.liquidatable_since, marked = jit_rows.track_liquidatable(
        since, eq, mm, _units(notional, n), int(t)
    )
    return marked


def confirm_list(
    ctx: Context,
    watch: np.ndarray,
    eq: np.ndarray,
    mm: np.ndarray,
    notional_row: np.ndarray,
    touched: np.ndarray,
    everyone: bool = False,
    full: bool | None = None,
) -> np.ndarray:
    """Units the keepers confirm on the pending block before they act (one batched read).

    Keepers act on the carried estimate (``eq``, ``mm``: USD per unit), which tracks the venue
    to far within :data:`CONFIRM_BAND`; they read on chain only the units of the watch list
    whose estimate cannot decide: within the band of a boundary they act on (maintenance, and
    the backstop threshold ``backstop_fraction × maintenance``), or ``touched`` by a call
    already in the block (a close changes what the estimate carries from). ``everyone`` (a full
    refresh: the watch list is then every open unit) reads them all. With
    ``full_health_every_step`` every open unit is read each step, which is the check that the
    estimate decides as the chain would: the run must be the same, and only the watch list's
    reads reach the traders' view. ``full`` overrides ``ctx.full_health_every_step``."""
    if ctx.full_health_every_step if full is None else full:
        return np.flatnonzero(ctx.units.unit_sum(notional_row) > 0)
    if everyone or not len(watch):
        return watch
    w_eq, w_mm = eq[watch], mm[watch]
    near = np.abs(w_eq - w_mm) < CONFIRM_BAND * w_mm
    if ctx.backstop_fraction is not None:  # without a vault there is no takeover threshold
        _, backstop = unit_fractions(ctx, notional_row)
        with np.errstate(invalid="ignore"):  # NaN: an isolated unit, never taken over
            near |= np.abs(w_eq - backstop[watch] * w_mm) < CONFIRM_BAND * w_mm
    changed = np.zeros(ctx.units.count, dtype=bool)  # the touched units, as a mask
    changed[np.asarray(touched, dtype=np.int64)] = True
    return watch[near | changed[watch]]


def track_liquidatable(
    s: EngineState, t: int, eq: np.ndarray, mm: np.ndarray, notional: np.ndarray
) -> None:
    """Record since when each unit is liquidatable (equity ``eq`` below maintenance ``mm``,
    USD; notional in USD), for the keepers' reaction delay."""
    s.liquidatable_since = keeper_agents.update_liquidatable_since(
        s.liquidatable_since, eq, mm, notional, t
    )


def unit_fractions(ctx: Context, notional_row: np.ndarray, notional: np.ndarray | None = None):
    """Per unit: the keeper's reward fraction and the backstop threshold fraction (NaN for an
    isolated position, which the backstop does not take over; None without a vault), each the
    notional-weighted mean of its markets' (the venue sums ``backstopFraction × MM`` over
    the account's markets). ``notional``: the units' sums of ``notional_row`` when the caller
    has them (``unit_sum(notional_row)``; summed here when None)."""
    units = ctx.units
    rows = len(units.unit_of_row)
    has_backstop = ctx.backstop_fraction is not None
    # One compiled pass (:func:`simulator.engine.jit_rows.unit_fractions`): the sums in row
    # order as unit_sum's, each divided by the unit's notional (1 where it is 0).
    reward, backstop = jit_rows.unit_fractions(
        units.unit_of_row, np.asarray(ctx.world.book.market, dtype=np.int64),
        _units(notional_row, rows), units.count,
        notional is not None, _NONE if notional is None else _units(notional, units.count),
        np.asarray(ctx.keeper_reward_fraction, dtype=np.float64),
        has_backstop, np.asarray(ctx.backstop_fraction, dtype=np.float64) if has_backstop
        else _NONE, units.isolated,
    )  # fmt: skip
    return reward, (backstop if has_backstop else None)


_NONE = np.zeros(0)
"""An optional array left out (the kernels' flag says so)."""


def scenario_plan(
    ctx: Context,
    s: EngineState,
    t: int,
    eq: np.ndarray,
    mm: np.ndarray,
    notional: np.ndarray,
    reward: np.ndarray,
    backstop_fraction: np.ndarray | None,
) -> keeper_agents.KeeperPlan:
    """The keepers' plan at step ``t`` under the scenario's keepers (capacity, reaction delay,
    gas cost, profit threshold), per margin unit (equity, maintenance, notional in USD; the
    keeper's reward fraction; the backstop threshold, ``None`` without a vault), for the chain
    engine and the mirror alike."""
    ks = ctx.scenario.keepers
    return keeper_agents.plan_liquidations(
        eq, mm, notional, s.liquidatable_since, t,
        capacity=ks.count * ks.max_liquidations_per_block,
        reaction_delay_steps=ks.reaction_delay_steps,
        backstop_fraction=backstop_fraction,
        keeper_reward_fraction=reward,
        gas_cost_usd=ks.gas_cost_usd,
        min_profit_usd=ks.min_profit_usd,
    )  # fmt: skip


def plan_keepers(
    ctx: Context, s: EngineState, t: int, eq: np.ndarray, mm: np.ndarray, notional_row: np.ndarray
) -> list[Action]:
    """Backstop takeovers, then liquidations, of the units whose equity ``eq`` is below
    maintenance ``mm`` (USD per unit; confirmed on chain or estimated); ``notional_row`` is
    every row's notional (USD). Updates ``s.liquidatable_since`` first. A unit whose takeover
    the venue refused before (``s.takeover_refused``) is liquidated instead."""
    notional = ctx.units.unit_sum(notional_row)
    track_liquidatable(s, t, eq, mm, notional)
    reward, backstop_fraction = unit_fractions(ctx, notional_row, notional)
    plan = scenario_plan(ctx, s, t, eq, mm, notional, reward, backstop_fraction)
    refused = s.takeover_refused[plan.backstop]
    backstop = plan.backstop[~refused]
    liquidate = np.concatenate([plan.backstop[refused], plan.liquidate])
    v, units = ctx.venue.venue, ctx.units
    actions: list[Action] = []
    for n, u in enumerate(np.concatenate([backstop, liquidate]).astype(np.int64)):
        keeper = ctx.keeper(n)
        account = ctx.accounts[units.account[u]]
        if n < len(backstop):
            actions.append(Action(v.backstop_takeover(keeper, account), "backstop", unit=int(u)))
        elif units.isolated[u]:
            m = int(units.market[u])
            call = v.liquidate_isolated(keeper, account, ctx.market_ids[m])
            actions.append(Action(call, "liquidate", market=m, unit=int(u)))
        else:
            actions.append(Action(v.liquidate(keeper, account), "liquidate", unit=int(u)))
    return actions


#: The venue's custom error for a takeover that would leave the vault below maintenance.
TAKEOVER_REFUSED_ERROR = "BackstopWouldBeUnderwater"


def record_refused_takeovers(s: EngineState, results: list, actions: list[Action]) -> None:
    """Mark the units whose backstop takeover reverted ``BackstopWouldBeUnderwater`` in the
    mined block, so keepers liquidate them from the next step on instead of trying the
    takeover again every step."""
    for result, action in zip(results, actions, strict=True):
        if action.kind == "backstop" and action.unit >= 0 and not result.ok:
            if getattr(result.error, "name", None) == TAKEOVER_REFUSED_ERROR:
                s.takeover_refused[action.unit] = True


#: Market parameters a liquidation's fill depends on: a governance change of one of them
#: makes :func:`may_leave_deficit` answer True for the rest of the run (it reads them once).
_FILL_PARAMETERS = ("skew_scale", "max_liquidation_impact_bps")


def may_leave_deficit(
    ctx: Context,
    s: EngineState,
    actions: list[Action],
    eq: np.ndarray,
    mm: np.ndarray,
    oi_long_base: np.ndarray,
    oi_short_base: np.ndarray,
) -> bool:
    """Whether the keepers' ``actions`` may leave a deficit in this block: some unit they
    liquidate or hand over could end below zero equity after its fills.

    The venue caps the penalty at the equity left, so a deficit comes only from a unit already
    under water or from the liquidation fill's adverse move. For a unit the bound is
    ``eq <= Σ_m notional_m × adverse_m + CONFIRM_BAND × mm`` (USD; ``eq``, ``mm`` as the
    keepers saw them), with ``adverse_m`` the largest adverse fill fraction in market ``m`` over
    any order of this block's liquidations: the fill is ``price × (1 + (2·skew + Δ) /
    (2·skewScale))`` clamped to ``±maxLiquidationImpactBps``, and the skew stays within
    ``[skew0 − L, skew0 + S]`` (``skew0`` from ``oi_long_base − oi_short_base`` before the
    keepers' calls, ``L`` / ``S`` the long / short base units of every position they touch), so
    a long closing ``d <= L`` fills at most ``(3L − 2·skew0) / (2·skewScale)`` under the price
    and a short at most ``(3S + 2·skew0) / (2·skewScale)`` over it. Plus a 1e-6 share of
    notional for the contracts' rounding. When False, the deficits after the keepers' calls are
    the ones before them, so the ADL keeper acts on them in the same block without reading the
    keepers' effects (:mod:`simulator.engine.loop`)."""
    units = np.array([a.unit for a in actions if a.unit >= 0], dtype=np.int64)
    if not len(units):
        return False
    change = ctx.scenario.controls.governance_change
    if change is not None and change.parameter in _FILL_PARAMETERS:
        return True
    book, tr = ctx.world.book, s.trader
    params = [m.params for m in ctx.world.params.markets]
    scale = np.array([float(p.skew_scale) for p in params])
    band = np.array([p.max_liquidation_impact_bps / 1e4 for p in params])
    skew0 = np.asarray(oi_long_base - oi_short_base, dtype=np.float64)  # NaN to 0 there
    count = ctx.units.count
    if units.max() >= count:
        raise IndexError(f"may_leave_deficit: a unit out of 0..{count - 1} in {units.tolist()}")
    # One compiled pass over the units' rows (:func:`simulator.engine.jit_rows.
    # deficit_bound_reached`): the markets' adverse fractions, each unit's bound summed in row
    # order (as np.bincount adds), the test.
    return bool(
        jit_rows.deficit_bound_reached(
            units, count, *ctx.units.grouping(), ctx.units.unit_of_row,
            np.asarray(tr.size_base, dtype=np.float64),
            tr.side, np.asarray(book.market, dtype=np.int64),
            np.asarray(s.oracle_price_usd, dtype=np.float64), scale, band,
            _units(skew0, len(scale)), _units(eq, count), _units(mm, count), CONFIRM_BAND,
        )
    )  # fmt: skip
