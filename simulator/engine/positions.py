"""``positions.parquet`` rows: every opening position of the book with its outcome."""

from __future__ import annotations

import math

from simulator.engine.context import Context
from simulator.engine.state import OUTCOME_NAMES, EngineState


def position_rows(ctx: Context, s: EngineState) -> list[dict]:
    """One row per position of the book (an account with positions in several markets has
    several rows) with its outcome (positions.parquet).

    Size and entry are what the venue recorded at the opening trade, the liquidation price
    what ``liquidationPrice(account, market)`` said right after all the opens; collateral is
    the row's collateral (a cross row's part of its account's deposit, an isolated row's
    margin); leverage is notional at entry over it. A refused open is outcome ``refused`` at
    step 0 with size 0 and NaN entry / leverage / liquidation price. The realized PnL is the
    row's share of its margin unit's equity less the collateral put in, taken when the
    position ended (:mod:`simulator.engine.margin`; for a one-position account, its account
    value change: fees, funding and penalties included); 0 for a refused row, whose collateral
    was never at risk as that position.

    An order-flow slot (:mod:`simulator.engine.flow`) has one row too, with its last open:
    ``opened_step`` the step of that open (null: never opened, outcome ``idle``), size and
    entry what the venue recorded at it, leverage its notional at entry over the account's
    equity then, no liquidation price at open (NaN: the slot's account is read only by health),
    and the realized PnL over all its trades (equity less the collateral deposited at setup).
    ``opens`` counts the row's opens (the opening trade counts one)."""
    w, book = ctx.world, ctx.world.book
    flow = book.start_flat
    # An order-flow slot's side is its last open's (the book holds a placeholder).
    side = [s.trader.side[r] if flow[r] else book.side[r] for r in range(book.count)]
    rows = []
    for r in range(book.count):
        opened = bool(w.opened[r])
        outcome = OUTCOME_NAMES[int(s.outcome[r])]
        collateral = float(w.collateral_in_usd[r])
        size = float(w.opened_size_base[r]) if opened else 0.0
        entry = float(w.entry_price_usd[r]) if opened else math.nan
        leverage = size * entry / collateral if opened and collateral else math.nan
        realized = s.realized_pnl_usd[r]
        if flow[r]:
            opened = False  # no liquidation price read at setup
            size = float(s.flow_open_size_base[r])
            entry = float(s.flow_open_entry_usd[r])
            equity = float(s.flow_open_equity_usd[r])
            leverage = size * entry / equity if s.opens[r] and equity > 0 else math.nan
        if outcome in ("refused", "idle"):
            # Never opened: its collateral stayed in the account's balance, never at risk
            # as this position (a unit's equity is shared by notional, of which it has none).
            realized = 0.0
        rows.append(
            {
                "account": ctx.accounts[book.account[r]],
                "market": ctx.symbols[book.market[r]],
                "side": "long" if side[r] > 0 else "short",
                "collateral_usd": collateral,
                "size_base": size,
                "entry_price_usd": entry,
                "leverage": leverage,
                "liquidation_price_at_open_usd": float(w.liquidation_price_usd[r])
                if opened
                else math.nan,
                "opened_step": None if s.opened_step[r] < 0 else int(s.opened_step[r]),
                "opens": int(s.opens[r]),
                "outcome": outcome,
                "outcome_step": None if s.outcome_step[r] < 0 else int(s.outcome_step[r]),
                "realized_pnl_usd": None
                if outcome == "open" or math.isnan(realized)
                else float(realized),
            }
        )
    return rows
