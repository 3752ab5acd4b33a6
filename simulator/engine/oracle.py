"""Phase 1a: the oracle posts this step's price, and the dynamic margin controller is poked.

The oracle's source is the spot AMM's price at the end of the previous block with feedback on,
the exogenous price with it off; the scenario's oracle faults (lag, stale, bad print) act on
the source's history (:class:`~simulator.pricepaths.OracleFaultSchedule`)."""

from __future__ import annotations

from simulator.engine.context import Action, Context
from simulator.engine.state import EngineState
from simulator.units import to_wad


def plan_oracle(ctx: Context, s: EngineState, t: int, exo_usd: float) -> list[Action]:
    """The price push of step ``t`` (none when a fault holds the oracle) and the controller's
    poke; records the source price and the price the oracle will hold in ``s``."""
    actions: list[Action] = []
    v = ctx.venue
    s.feed_prices_usd.append(s.amm_price_usd if ctx.feedback else exo_usd)
    feed = ctx.faults.feed(t, s.feed_prices_usd)
    if feed is not None:
        actions.append(Action(v.push_price(to_wad(round(feed, 8))), "oracle"))
        s.oracle_price_usd = feed
    if ctx.world.params.controller.enabled:
        actions.append(Action(v.controller.poke(ctx.keeper(0)), "controller"))
    return actions
