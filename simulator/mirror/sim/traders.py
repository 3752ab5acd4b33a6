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
from simulator.engine import jit_rows
from simulator.engine import traders as engine_traders
from simulator.engine.context import Context
from simulator.engine.events import _set_outcome, close_reason, event_row
from simulator.engine.state import CLOSED, EngineState
from simulator.mirror.sim.levels import floats, to_float
from simulator.mirror.sim.venue import Reverted, VenueState
from simulator.units import to_units_array

plan = engine_traders.decisions_and_sums
"""This step's decisions, exactly as :func:`simulator.engine.traders.plan_traders` makes
them, every row's notional and its sums per margin unit (USD, as
:meth:`~simulator.engine.margin.MarginUnits.notional_sums` makes them of the sizes and oracle
prices the keepers' phase reads: the block's calls change no size before it is decoded), and
the carried estimate's sums per margin unit (the keepers' estimate), in one compiled pass and
the draws: :func:`simulator.engine.traders.decisions_and_sums` itself (one call a step; the
per-row estimate, which the mirror's step does not read, is not kept). A step where no row
decides gets :data:`NO_DECISIONS`, whose block has no traders' call (:data:`NO_TRADES`)."""

NO_DECISIONS = trader_agents.NO_DECISIONS
"""The decisions of a step where no row closes or tops up (the same object every time)."""


def _nothing() -> None:
    """The decoding of a block without the traders' calls."""


NO_TRADES = ((), (), 0, _nothing)
"""What :func:`execute` returns for :data:`NO_DECISIONS` (no event row, no row, no
transaction, nothing to decode): the step takes it without the call."""


def execute(
    ctx: Context, s: EngineState, venue: VenueState, decisions, wallet_units: np.ndarray, t: int
) -> tuple[list[dict], list[int], int, Callable[[], None]]:
    """The closes then the top-ups on the venue: (event rows, the rows they concern,
    transactions sent, ``decode``). ``wallet_units``: each account's collateral tokens outside
    the venue (base units; spent by the top-ups). The traders' view of the rows (size, entry,
    outcome, collateral put in, wallet) changes only when ``decode()`` is called: on chain
    the engine decodes the block's events after it is mined, so the keepers' phase of the
    same block still sees the rows as they were."""
    closes, top_ups = decisions.close, decisions.top_up
    if not len(closes) and not len(top_ups):  # no call, nothing to decode
        return [], [], 0, _nothing
    book = ctx.world.book
    symbols, accounts = ctx.symbols, ctx.accounts
    rows: list[dict] = []
    # What the block's decoding writes: each close's (row, new size, entry) as the venue
    # reported them (WAD), each top-up's (row, USD credited).
    modified: list[tuple[int, object, object]] = []
    credited: list[tuple[int, float]] = []
    keep_close, keep_top_up = ctx.keeps("close"), ctx.keeps("top_up")  # the rows only
    close_accounts, close_markets = book.account[closes].tolist(), book.market[closes].tolist()
    results = venue.close_many(close_accounts, close_markets) if close_accounts else []
    for r, a, m, behaviour, got in zip(
        closes.tolist(), close_accounts, close_markets, book.behaviour[closes].tolist(), results,
        strict=True,
    ):  # fmt: skip
        if got is None or isinstance(got, Reverted):
            detail = (
                str(got)
                if got is not None
                else f"NoPosition(account={accounts[a]}, market={m + 1})"
            )
            rows.append(event_row(t, "close_reverted", market=symbols[m], account=accounts[a],
                                  detail=detail))  # fmt: skip
            continue
        size, (fill, new_size, entry, realized, fee, paid) = got
        modified.append((r, new_size, entry))
        if new_size == 0 and keep_close:  # the close's row, as event_row builds it
            pnl = to_float(realized - fee - paid)
            closed, price = to_float(abs(size)), to_float(fill)
            rows.append({
                "step": t, "kind": "close", "market": symbols[m], "account": accounts[a],
                "side": "long" if size > 0 else "short", "size_base": closed, "price_usd": price,
                "notional_usd": closed * price, "amount_usd": pnl,
                "detail": close_reason(behaviour),
            })  # fmt: skip
    if len(top_ups):  # the deposits in block order, batched
        top_up_accounts = book.account[top_ups]
        units = to_units_array(decisions.top_up_usd)  # deposit_units of each
        # ZeroAmount / ERC20InsufficientBalance: reverted, not recorded (the wallets in order)
        done = jit_rows.top_ups_within(top_up_accounts, units, wallet_units)
        paid = top_ups[done]
        usd = floats(venue.deposit_many(top_up_accounts[done], units[done])).tolist()
        credited = list(zip(paid.tolist(), usd, strict=True))
        if keep_top_up:
            for a, m, amount in zip(
                top_up_accounts[done].tolist(), book.market[paid].tolist(), usd, strict=True
            ):  # fmt: skip
                rows.append(event_row(t, "top_up", market=symbols[m], account=accounts[a],
                                      amount=amount))  # fmt: skip

    def decode() -> None:
        decode_trades(s, modified, credited, t)

    return rows, closes.tolist() + top_ups.tolist(), len(closes) + len(top_ups), decode


def decode_trades(
    s: EngineState, modified: list[tuple[int, object, object]], credited: list[tuple[int, float]],
    t: int,
) -> None:  # fmt: skip
    """The closes' ``PositionModified`` and the top-ups' ``Deposited`` decoded, in block
    order: each closed row's size and entry (``modified``: row, new size and entry in WAD;
    flat: closed at ``t``), then each topped-up row's collateral put in and wallet
    (``credited``: row, USD)."""
    tr = s.trader
    for r, new_size, entry in modified:
        tr.size_base[r] = abs(to_float(new_size))
        tr.entry_price_usd[r] = to_float(entry)
        if new_size == 0:
            _set_outcome(s, r, CLOSED, t)
    for r, usd in credited:
        tr.collateral_in_usd[r] += usd
        tr.wallet_usd[r] -= usd
