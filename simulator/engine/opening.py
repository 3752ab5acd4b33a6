"""Step 0: the opening book is the run's first orders, and step 0 an ordinary step.

The world (:func:`simulator.world.build_world`) sends the opening book's trades before the
engine's first block, with the batched sender in blocks of at most
:data:`~simulator.world.SETUP_BLOCK_CALLS` calls (one block could not hold 10,000 opens: see
``perpsim bench setup``). The engine then mines step 0's block like any other
(:meth:`simulator.engine.loop.Engine.step` with ``t = 0``): the oracles post step 0's price
from their sources, the order flow's arrivals of step 0 open, the market-making vault quotes,
keepers read the units near liquidation, the arbitrageurs pull every AMM toward step 1's
outside price. This module records the opening trades as step 0's orders
(:func:`with_opening`): an ``open`` event per opened row (``detail`` ``book``), an
``open_reverted`` event per refused one, their transactions in step 0's ``transactions`` and
their fees in its ``fees_usd`` (:func:`opening_fees_by_market`, taken out of the fee level
the engine starts from).

The one way step 0 still differs from a later step: the pool's hedger does not trade the
opening book's net position. The book stands for the open interest the venue held when the
run starts, built up before it; its hedge was built with it (``hedged_base`` starts at the
book's net, :meth:`simulator.engine.loop.Engine._initial_state`). Buying it in one block
instead would move the outside market by the square-root law as if all of it had been
bought at once: on oct-2025, +1.8% (BTC) to +37% (ALT) at step 0, a pump the October day did
not have.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.context import Context
from simulator.engine.events import event_rows
from simulator.engine.state import StepOutcome
from simulator.results import VENUE

#: ``detail`` of an opening-book ``open`` / ``open_reverted`` event (an order-flow open's is
#: its kind).
BOOK_DETAIL = "book"


def opening_events(ctx: Context) -> list[dict]:
    """Step 0's event rows of the opening book, in book order: ``open`` per opened row
    (market, account, side, size and fill the venue recorded, the fee paid in ``amount_usd``)
    and ``open_reverted`` per row the venue refused (``detail``: ``book: <error>``). Order-flow
    slots (flat at setup) have none. The rows are built a column at a time
    (:func:`~simulator.engine.events.event_rows`)."""
    w, book = ctx.world, ctx.world.book
    symbols, accounts = ctx.symbols, ctx.accounts  # per-row lookups below are list indexing
    booked = np.flatnonzero(~book.start_flat)
    opened = w.opened[booked]
    if opened.all():
        return _open_rows(ctx, booked)
    # Book order: each row's ``open`` or ``open_reverted`` row at its place.
    rows: list[dict] = [{}] * len(booked)
    done, refused = np.flatnonzero(opened), np.flatnonzero(~opened)
    for place, row in zip(done.tolist(), _open_rows(ctx, booked[done]), strict=True):
        rows[place] = row
    r = booked[refused]
    reverted = event_rows(
        0, "open_reverted",
        market=[symbols[m] for m in book.market[r].tolist()],
        account=[accounts[a] for a in book.account[r].tolist()],
        side=["long" if s > 0 else "short" for s in book.side[r].tolist()],
        detail=[f"{BOOK_DETAIL}: {w.open_reverts.get(i, '')}" for i in r.tolist()],
    )  # fmt: skip
    for place, row in zip(refused.tolist(), reverted, strict=True):
        rows[place] = row
    return rows


def _open_rows(ctx: Context, r: np.ndarray) -> list[dict]:
    """The ``open`` rows of the opened book rows ``r`` (in that order)."""
    w, book = ctx.world, ctx.world.book
    symbols, accounts = ctx.symbols, ctx.accounts
    return event_rows(
        0, "open",
        market=[symbols[m] for m in book.market[r].tolist()],
        account=[accounts[a] for a in book.account[r].tolist()],
        side=["long" if s > 0 else "short" for s in book.side[r].tolist()],
        size=w.opened_size_base[r], price=w.open_fill_usd[r], amount=w.open_fee_usd[r],
        detail=BOOK_DETAIL,
    )  # fmt: skip


def opening_fees_by_market(ctx: Context) -> np.ndarray:
    """Per market (M): the fees the opening trades paid (USD)."""
    w = ctx.world
    return np.bincount(w.book.market, weights=w.open_fee_usd, minlength=ctx.n_markets)


def with_opening(ctx: Context, outcome: StepOutcome) -> StepOutcome:
    """Step 0's outcome with the opening book's orders: their events first (they were sent
    first), their transactions added to the venue row's ``transactions``. Their fees are
    already in the rows' ``fees_usd`` (the engine starts from the fee level before them)."""
    rows = [dict(row) for row in outcome.rows]
    for row in rows:
        if row["market"] == VENUE:
            row["transactions"] += ctx.world.opening_transactions
    kept = ctx.keeps("open") or ctx.keeps("open_reverted")
    return StepOutcome(rows=rows, events=(opening_events(ctx) if kept else []) + outcome.events)
