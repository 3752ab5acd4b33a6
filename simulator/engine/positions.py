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
    was never at risk as that position."""
    w, book = ctx.world, ctx.world.book
    rows = []
    for r in range(book.count):
        opened = bool(w.opened[r])
        outcome = OUTCOME_NAMES[int(s.outcome[r])]
        collateral = float(w.collateral_in_usd[r])
        size = float(w.opened_size_base[r]) if opened else 0.0
        entry = float(w.entry_price_usd[r]) if opened else math.nan
        realized = s.realized_pnl_usd[r]
        if outcome == "refused":
            # Never opened: its collateral stayed in the account's balance, never at risk
            # as this position (a unit's equity is shared by notional, of which it has none).
            realized = 0.0
        rows.append(
            {
                "account": ctx.accounts[book.account[r]],
                "market": ctx.symbols[book.market[r]],
                "side": "long" if book.side[r] > 0 else "short",
                "collateral_usd": collateral,
                "size_base": size,
                "entry_price_usd": entry,
                "leverage": size * entry / collateral if opened and collateral else math.nan,
                "liquidation_price_at_open_usd": float(w.liquidation_price_usd[r])
                if opened
                else math.nan,
                "opened_step": 0,
                "outcome": outcome,
                "outcome_step": None if s.outcome_step[r] < 0 else int(s.outcome_step[r]),
                "realized_pnl_usd": None
                if outcome == "open" or math.isnan(realized)
                else float(realized),
            }
        )
    return rows
