"""Phase 1a: every market's oracle posts this step's price, and the dynamic margin controller
pokes every market (one ``pokeMany``).

Each oracle's source is its market's spot AMM price at the end of the previous block with
feedback on, the exogenous price with it off; the scenario's oracle faults (lag, stale, bad
print; per market) act on the source's history
(:meth:`~simulator.pricepaths.OracleFaultSchedule.feed_markets`)."""

from __future__ import annotations

import numpy as np

from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
from simulator.units import to_wad


def plan_oracle(ctx: Context, s: EngineState, t: int, exo_usd: np.ndarray) -> list[Action]:
    """The price pushes of step ``t`` (none for a market whose fault holds its oracle) and the
    controller's poke; records the source prices and the prices the oracles will hold in
    ``s``."""
    actions: list[Action] = []
    v = ctx.venue
    source = s.amm_price_usd if ctx.feedback else exo_usd
    s.feed_prices_usd[t] = source
    feed = ctx.faults.feed_markets(t, s.feed_prices_usd[: t + 1])
    for m, market in enumerate(ctx.market_ids):
        if not np.isnan(feed[m]):
            price = float(feed[m])
            actions.append(Action(v.push_price(market, to_wad(round(price, 8))), "oracle", -1, m))
            s.oracle_price_usd[m] = price
    if v.margin_controller is not None:
        actions.append(
            Action(v.margin_controller.poke_many(ctx.keeper(0), ctx.market_ids), "controller")
        )
    return actions
