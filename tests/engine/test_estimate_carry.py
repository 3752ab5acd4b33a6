"""The keepers' off-chain estimate of a margin unit's health against the venue's own views.

Keepers read on chain only the units whose estimate is near maintenance
(:data:`simulator.engine.keepers.WATCH_MARGIN_RATIO`), and everyone only every
:data:`~simulator.engine.keepers.FULL_REFRESH_STEPS`; that is safe only while the estimate
carried from a unit's last read tracks the venue: price, funding accrued since the read
(:func:`simulator.engine.state.advance_funding_index`) and the margin scale."""

from __future__ import annotations

import numpy as np
from engine_helpers import small_oct

from simulator.agents import traders as trader_agents
from simulator.chain.connect import open_chain
from simulator.engine import Engine, keepers, traders
from simulator.runner import GENESIS_TIMESTAMP_S, run_node_config
from simulator.world import build_world


def test_the_carried_estimate_tracks_the_venues_health_with_funding_and_without_reads():
    # Five markets, no shock, fewer steps than a full refresh: most units are never read
    # again after step 0 while funding accrues (the ALT market's rate is ~0.1% per hour).
    steps = 200
    assert steps < keepers.FULL_REFRESH_STEPS
    scenario = small_oct(all_markets=True, steps=steps, **{"price_path.shocks": []})
    with open_chain(anvil=run_node_config()) as chain:
        chain.use_fixed_clock(GENESIS_TIMESTAMP_S)
        engine = Engine(chain, build_world(chain, scenario))
        engine.run()
        ctx, s = engine.ctx, engine.state
        units = np.flatnonzero(ctx.units.unit_sum(s.trader.size_base) > 0)
        equity, maintenance = ctx.units.parse_health(
            units, chain.read(traders.health_views(ctx, units))
        )
    assert np.abs(s.funding_index_usd).max() > 0
    carried_eq, carried_mm = (ctx.units.unit_sum(x)[units] for x in traders.estimate_rows(ctx, s))
    plain_eq, _ = (
        ctx.units.unit_sum(x)[units]
        for x in trader_agents.estimate(s.trader, traders.row_prices(ctx, s))
    )
    carried_error = np.abs(carried_eq - equity) / maintenance
    plain_error = np.abs(plain_eq - equity) / maintenance
    # Without the funding carry the estimate drifts by a visible share of maintenance; with it
    # the drift is a small fraction of what the watch list's margin (1.25) allows for.
    assert plain_error.max() > 5 * carried_error.max()
    assert carried_error.max() < 0.01
    # Keepers act on the estimate without a read outside a band around each boundary
    # (keepers.confirm_list): the estimate must be well inside it.
    assert carried_error.max() < keepers.CONFIRM_BAND / 10
    np.testing.assert_allclose(carried_mm, maintenance, rtol=1e-6)
