"""Phase 1a on the mirror: every market's oracle posts the step's price, as
:func:`simulator.engine.oracle.plan_oracle` plans it: without feedback the exogenous price, with
feedback the lower weighted median of the outside venues (the outside price carried with the
hedger's impact, the ``oracle`` stream's noise) and the spot AMM's price at the end of the
previous block (:func:`simulator.engine.oracle.source_median_usd`); through the scenario's oracle
faults (lag, stale, bad print), rounded to 8 decimals as the
engine sends it. A push the oracle refuses (a move beyond its ``maxDeviationBps``) keeps the
old price in the venue, while the agents believe the new one, as on chain."""

from __future__ import annotations

import numpy as np

from simulator.engine.context import Context
from simulator.engine.oracle import OracleModel, source_median_usd
from simulator.engine.state import EngineState
from simulator.mirror.sim.venue import VenueState
from simulator.units import to_wad


def push_prices(
    ctx: Context, s: EngineState, venue: VenueState, t: int, exo_usd, model: OracleModel | None
) -> int:
    """Post step ``t``'s prices; returns the transactions sent (one per push). ``model``: the
    scenario's oracle sources (:func:`simulator.engine.oracle.oracle_model`, built once by the
    run), ``None`` without feedback."""
    s.outside_price_usd[t] = exo_usd * np.exp(s.permanent_log_impact + s.transient_log_impact)
    if ctx.feedback:
        s.feed_prices_usd[t] = source_median_usd(model, s.outside_price_usd, s.amm_price_usd, t)
    else:
        s.feed_prices_usd[t] = exo_usd
    if ctx.scenario.oracle_faults:
        feed = ctx.faults.feed_markets(t, s.feed_prices_usd[: t + 1]).tolist()
    else:  # no lag, no stale step, no bad print: every oracle posts its source price
        feed = s.feed_prices_usd[t].tolist()
    sent = 0
    for m, price in enumerate(feed):
        if price == price:  # not NaN: the oracle posts
            venue.push_price(m, to_wad(round(price, 8)))
            s.oracle_price_usd[m] = price
            sent += 1
    return sent
