"""Account health (``VenueStorage._crossHealth``, ``PerpVenue.healthOf`` / ``accountHealth`` /
``isolatedHealth``), vectorized over accounts.

A :class:`Book` holds A accounts over M markets: arrays of shape (A, M) for positions (size,
entry, funding snapshot, isolated margin, isolated flag) and (A,) for cross collateral.

Cross equity = collateral + Σ over cross positions (uPnL − funding owed); maintenance and
initial margin are the sums of each cross position's requirement; an account is liquidatable
iff it has a requirement and equity < maintenance (equality is healthy). Isolated positions are
priced alone: equity = margin + uPnL − funding owed. Units WAD USD. No rounding beyond each
term's (the sums are exact integers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.mirror.fills import unrealized_pnl
from simulator.mirror.fixed import Array, where
from simulator.mirror.funding import funding_owed
from simulator.mirror.margins import initial_margin, maintenance_margin
from simulator.mirror.markets import MarketArrays, MarketState


@dataclass(frozen=True)
class Book:
    """Positions and collateral of A accounts over M markets.

    ``size`` WAD base units (+ long), ``entry`` WAD USD, ``snapshot`` the funding index of the
    position's side at its last settlement (WAD USD per base unit), ``margin`` an isolated
    position's margin (WAD USD, 0 for cross), ``isolated`` bool; ``collateral`` (A,) the cross
    collateral (WAD USD, may be negative).
    """

    size: Array
    entry: Array
    snapshot: Array
    margin: Array
    isolated: Array
    collateral: Array


@dataclass(frozen=True)
class Health:
    """Cross health of A accounts: equity, maintenance, initial (WAD USD, (A,)) and the
    liquidatable mask."""

    equity: Array
    maintenance: Array
    initial: Array
    liquidatable: Array


def position_values(book: Book, price: Any, state: MarketState) -> tuple[Any, Any]:
    """(uPnL, funding owed) of every position at `price` and the state's funding indices."""
    pnl = unrealized_pnl(book.size, book.entry, price)
    owed = funding_owed(
        book.size, book.snapshot, state.long_funding_index, state.short_funding_index
    )
    return pnl, owed


def cross_health(book: Book, price: Any, markets: MarketArrays, state: MarketState) -> Health:
    """Cross equity, maintenance and initial margin of every account, with funding owed at the
    state's indices (accrue them first with :func:`simulator.mirror.funding.funding_now`)."""
    pnl, owed = position_values(book, price, state)
    cross = ~book.isolated.astype(bool)
    zero = 0
    equity = book.collateral + where(cross, pnl - owed, zero).sum(axis=-1)
    mm = where(cross, maintenance_margin(book.size, price, markets), zero).sum(axis=-1)
    im = where(cross, initial_margin(book.size, price, markets, state), zero).sum(axis=-1)
    liquidatable = (mm != 0) & (equity < mm)
    return Health(equity, mm, im, np.asarray(liquidatable, dtype=bool))


def isolated_health(
    book: Book, price: Any, markets: MarketArrays, state: MarketState
) -> tuple[Array, Array]:
    """(equity, maintenance) of every isolated position, (A, M); (0, 0) where the position is
    not isolated (as ``isolatedHealth`` returns)."""
    pnl, owed = position_values(book, price, state)
    iso = book.isolated.astype(bool)
    eq = where(iso, book.margin + pnl - owed, 0)
    mm = where(iso, maintenance_margin(book.size, price, markets), 0)
    return eq, mm
