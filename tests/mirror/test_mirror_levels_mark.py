"""The mirror's fast-mode levels with the mark priced in their compiled call
(:func:`simulator.mirror.sim.levels.levels_of`, session 27) held bit for bit to the form before
it (``old_levels_of`` of ``test_mirror_levels_kernel``: every value converted apart, the mark
by :meth:`~simulator.mirror.sim.venue.VenueState.mark`) on a venue whose open interest,
prices and skew scales are drawn: skews of both signs and none, a skew scale of 0 (the mark
is the price), fills below 0 (the mark is 0), NaN and infinities."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from mirror_run_helpers import parse
from test_mirror_levels_kernel import _check, _drawn, old_levels_of

from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim.levels import levels_of


def test_the_mark_and_the_levels_equal_the_old_form_on_drawn_skews_and_scales():
    d = {
        "name": "levels-mark",
        "seed": 5,
        "steps": 2,
        "step_seconds": 60,
        "markets": [{"symbol": s, "path": {"beta": 1.0, "vol_per_year": 0.5}}
                    for s in ("BTC", "ETH", "SOL", "XRP")],
        "traders": {"kind": "random", "count": 20},
        "price_path": {"kind": "factor", "factor": {"vol_per_year": 0.4}},
    }  # fmt: skip
    venue = MirrorEngine(parse(d), mode="fast").venue
    rng = np.random.default_rng(2705)
    m = venue.n_markets
    fills_below_zero = 0
    for n in range(400):
        venue.price[:] = _drawn(rng, (m,)) if n % 3 == 0 else rng.lognormal(40, 3, m)
        venue.long_oi[:] = _drawn(rng, (m,)) if n % 4 == 0 else rng.lognormal(40, 4, m)
        venue.short_oi[:] = _drawn(rng, (m,)) if n % 5 == 0 else rng.lognormal(40, 4, m)
        scales = np.where(rng.random(m) < 0.2, 0.0, rng.lognormal(42, 3, m))
        if n % 7 == 0:
            scales = _drawn(rng, (m,))
        venue.scalar_params = [
            replace(p, skew_scale=float(x))
            for p, x in zip(venue.scalar_params, scales, strict=True)
        ]
        venue.version += 1  # a new funding state at the drawn values
        with np.errstate(all="ignore"):
            got, want = levels_of(venue), old_levels_of(venue)
        _check(got, want)
        fills_below_zero += int(np.sum((want["mark_usd"] == 0) & (want["index_usd"] > 0)))
    assert fills_below_zero > 10
