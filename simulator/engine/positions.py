"""``positions.parquet`` rows: every trader's opening position with its outcome."""

from __future__ import annotations

import math

from simulator.engine.context import Context
from simulator.engine.state import OUTCOME_NAMES, EngineState


def position_rows(ctx: Context, s: EngineState) -> list[dict]:
    """One row per trader's opening position with its outcome (positions.parquet), in the
    venue's one market (``market``: the scenario's market symbol).

    Size, entry and liquidation price are what the market held right after the opens
    (read back from the chain), collateral is what it credited at the deposit, leverage is
    their notional at entry over that collateral. A refused open is outcome ``refused`` at
    step 0 with size 0, NaN entry / leverage / liquidation price, and its realized PnL
    (equity less deposits: 0 unless something moved its idle collateral)."""
    w = ctx.world
    rows = []
    for i, account in enumerate(ctx.accounts):
        opened = bool(w.opened[i])
        outcome = OUTCOME_NAMES[int(s.outcome[i])]
        collateral = float(w.collateral_in_usd[i])
        size = float(w.opened_size_base[i]) if opened else 0.0
        entry = float(w.entry_price_usd[i]) if opened else math.nan
        rows.append(
            {
                "account": account,
                "market": ctx.scenario.market.market_symbol,
                "side": "long" if w.book.side[i] > 0 else "short",
                "collateral_usd": collateral,
                "size_base": size,
                "entry_price_usd": entry,
                "leverage": size * entry / collateral if opened and collateral else math.nan,
                "liquidation_price_at_open_usd": float(w.liquidation_price_usd[i])
                if opened
                else math.nan,
                "opened_step": 0,
                "outcome": outcome,
                "outcome_step": None if s.outcome_step[i] < 0 else int(s.outcome_step[i]),
                # Account value change: what the trader holds in the market after the
                # outcome minus all it put in (fees, funding, penalties included).
                "realized_pnl_usd": None
                if outcome == "open"
                else float(s.trader.equity_usd[i] - s.trader.collateral_in_usd[i]),
            }
        )
    return rows
