"""Phase 1c on the mirror: the traders' closes and top-ups, decided by the chain engine's
agents (:func:`simulator.agents.traders.decide` on the carried estimate, drawing from the
agents' stream as :func:`simulator.engine.traders.plan_traders` does) and executed on the venue
in block order: every close (``closePosition``) first, then every top-up (``deposit`` from the
account's wallet of collateral tokens), with the event rows and traders' view the chain engine
derives from their results (:func:`simulator.engine.events.decode_block`): a close's
``PositionModified`` sets the row's size and entry and, flat, its ``close`` row and outcome; a
refused close is a ``close_reverted`` row; a top-up credits what the venue recorded."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulator.agents import traders as trader_agents
from simulator.engine import traders as engine_traders
from simulator.engine.context import Context
from simulator.engine.events import _set_outcome, _side, close_reason, event_row
from simulator.engine.state import CLOSED, EngineState
from simulator.mirror.sim.levels import to_float
from simulator.mirror.sim.venue import Reverted, VenueState


def plan(ctx: Context, s: EngineState):
    """This step's decisions, every row's carried estimate (equity, maintenance; USD), exactly
    as :func:`simulator.engine.traders.plan_traders` makes them, and its sums per margin unit
    (the keepers' estimate)."""
    book, units = ctx.world.book, ctx.units
    prices = engine_traders.row_prices(ctx, s)
    funding_index, scale = engine_traders.row_carry(ctx, s)
    with np.errstate(invalid="ignore"):  # flat rows never read: 0 / 0
        carried = trader_agents.estimate(s.trader, prices, funding_index, scale)
    equity, maintenance = carried
    unit_equity, unit_maintenance = units.unit_sum(equity), units.unit_sum(maintenance)
    healthy = unit_equity > unit_maintenance
    decisions = trader_agents.decide(
        s.trader, book, prices, ctx.rng,
        can_top_up=~book.isolated, can_close=healthy[units.unit_of_row],
        funding_index_usd=funding_index, margin_scale=scale, carried=carried,
    )  # fmt: skip
    return decisions, carried, (unit_equity, unit_maintenance)


def execute(
    ctx: Context, s: EngineState, venue: VenueState, decisions, wallet_units: np.ndarray, t: int
) -> tuple[list[dict], list[int], int, Callable[[], None]]:
    """The closes then the top-ups on the venue: (event rows, the rows they concern,
    transactions sent, ``decode``). ``wallet_units``: each account's collateral tokens outside
    the venue (base units; spent by the top-ups). The traders' view of the rows (size, entry,
    outcome, collateral put in, wallet) changes only when ``decode()`` is called: on chain
    the engine decodes the block's events after it is mined, so the keepers' phase of the
    same block still sees the rows as they were."""
    book, tr = ctx.world.book, s.trader
    rows: list[dict] = []
    who: list[int] = []
    updates: list[Callable[[], None]] = []
    for r in decisions.close:
        r = int(r)
        a, m = int(book.account[r]), int(book.market[r])
        who.append(r)
        size = venue.size[a, m]
        try:
            if size == 0:
                raise Reverted(f"NoPosition(account={ctx.accounts[a]}, market={m + 1})")
            got = venue.trade(a, m, -size, isolated=bool(venue.isolated[a, m]))
        except Reverted as exc:
            rows.append(event_row(t, "close_reverted", market=ctx.symbols[m],
                                  account=ctx.accounts[a], detail=str(exc)))  # fmt: skip
            continue
        updates.append(_position_update(s, r, got, t))
        if got["new_size"] == 0:
            pnl = to_float(got["realized"] - got["fee"] - got["funding"])
            rows.append(event_row(t, "close", market=ctx.symbols[m], account=ctx.accounts[a],
                                  side=_side(1 if size > 0 else -1),
                                  size=to_float(abs(size)), price=to_float(got["fill"]),
                                  amount=pnl, detail=close_reason(book.behaviour[r])))  # fmt: skip
    for r, amount in zip(decisions.top_up, decisions.top_up_usd, strict=True):
        r = int(r)
        a = int(book.account[r])
        who.append(r)
        units = engine_traders.deposit_units(amount)
        if units == 0 or units > wallet_units[a]:
            continue  # ZeroAmount / ERC20InsufficientBalance: reverted, not recorded
        wallet_units[a] -= units
        credited = to_float(venue.deposit(a, units))
        updates.append(_top_up_update(tr, r, credited))
        rows.append(event_row(t, "top_up", market=ctx.symbols[book.market[r]],
                              account=ctx.accounts[a], amount=credited))  # fmt: skip

    def decode() -> None:
        for update in updates:
            update()

    return rows, who, len(decisions.close) + len(decisions.top_up), decode


def _position_update(s: EngineState, r: int, got: dict, t: int) -> Callable[[], None]:
    """A close's ``PositionModified`` decoded: the row's size and entry, flat: closed."""

    def update() -> None:
        s.trader.size_base[r] = abs(to_float(got["new_size"]))
        s.trader.entry_price_usd[r] = to_float(got["entry"])
        if got["new_size"] == 0:
            _set_outcome(s, r, CLOSED, t)

    return update


def _top_up_update(tr, r: int, credited: float) -> Callable[[], None]:
    """A top-up's ``Deposited`` decoded: the row's collateral put in and its wallet."""

    def update() -> None:
        tr.collateral_in_usd[r] += credited
        tr.wallet_usd[r] -= credited

    return update
