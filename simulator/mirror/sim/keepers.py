"""Phase 2 on the mirror: the keepers' plan (:func:`plan`, the selection of
:func:`simulator.engine.keepers.plan_keepers`: reaction delay, capacity, profit threshold,
largest notional first) and the calls executed on the venue in block order, batched
(:func:`execute_many`; :func:`execute` of one unit), with the event rows and the position
outcomes the chain engine derives from the calls' events
(:func:`simulator.engine.events.decode_block`). This module's calls are liquidations only:
with a backstop vault the keepers' plan and takeovers are
:func:`simulator.mirror.sim.backstop.plan` / ``execute``, and the liquidations it leaves come
here."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

import numpy as np

from simulator.engine import keepers as engine_keepers
from simulator.engine.context import Context
from simulator.engine.events import _FLAT_BASE, _set_outcome, event_row, final_bad_debt_row
from simulator.engine.state import LIQUIDATED, EngineState
from simulator.mirror.fixed import WAD
from simulator.mirror.sim.levels import to_float
from simulator.mirror.sim.venue import Liquidation, Reverted, VenueState


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
    keeper's plan, as on chain)."""
    if not len(targets):  # most steps
        return []
    units = ctx.units
    us = np.asarray(targets, dtype=np.int64)
    accounts, markets = units.account[us].tolist(), units.market[us].tolist()
    isolated = units.isolated[us].tolist()
    out: list[dict] = []
    for a, m, iso, done in zip(accounts, markets, isolated,
                               venue.liquidate_many(accounts, markets, isolated), strict=True):  # fmt: skip
        if isinstance(done, Reverted):
            out.append(event_row(t, "liquidate_reverted", market=ctx.symbols[m] if iso else None,
                                 account=ctx.accounts[a], detail=str(done)))  # fmt: skip
        else:
            out += liquidation_rows(ctx, s, done, t, row_of, decoded)
    return out


def liquidation_rows(
    ctx: Context,
    s: EngineState,
    done: Liquidation,
    t: int,
    row_of: np.ndarray,
    decoded: list[Callable[[], None]],
) -> list[dict]:
    """The rows of one liquidation's ``Liquidated`` events (sizes and outcomes written into
    the traders' rows as the chain engine does), then its ``DeficitAttributed`` (an insurance
    payout) and ``BadDebtRecorded`` rows. ``row_of``: the book row of every (account, market),
    -1 for none; the rows' updates go to ``decoded``."""
    out: list[dict] = []
    account, symbols = ctx.accounts[done.account], ctx.symbols
    row_of_market = row_of[done.account].tolist()  # the account's book row per market
    closes: list[tuple[int, float, bool]] = []  # (row, base units closed, whole), decoded later
    # The ``Liquidated`` rows built as :func:`event_row` builds them (same keys, same order,
    # ``notional_usd`` size × price), their WAD values read as :func:`to_float` reads them
    # (one list per field: no call per value on the per-event path).
    for m, closed, size, price, amount, full in zip(
        done.markets, done.closed, _floats_of(done.closed), _floats_of(done.fill),
        _floats_of(done.penalty), done.full, strict=True,
    ):  # fmt: skip
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
    if closes:
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


def _floats_of(values: list) -> list[float]:
    """:func:`to_float` of each of ``values`` (WAD: Python ints in exact mode, floats in fast
    mode), value for value."""
    return [x / WAD if isinstance(x, int) else float(x) / 1e18 for x in values]


def decode_liquidated(s: EngineState, closes: list[tuple[int, float, bool]], t: int) -> None:
    """A liquidation's ``Liquidated`` events decoded, in order: each row's size less the base
    units closed (flat below :data:`~simulator.engine.events._FLAT_BASE`), and when whole,
    the row flat and liquidated at ``t``."""
    size_base = s.trader.size_base
    for row, size, full in closes:
        left = size_base[row] - size
        size_base[row] = 0.0 if full or left < _FLAT_BASE else left
        if full:
            _set_outcome(s, row, LIQUIDATED, t)


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
