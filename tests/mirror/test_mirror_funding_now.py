"""Fast mode's funding at now of every market (:func:`simulator.mirror.sim.scalar.
funding_now`, its clamps inlined and columns zipped in session 27) held to the form it
replaced (:func:`old_funding_now`) bit for bit and type for type, on drawn markets: both
funding models, a skew scale of 0, caps of 0 and hit, clamps hit on both sides, no time
elapsed, and NaN and infinities."""

from __future__ import annotations

import math

import numpy as np
from funding_reference import drawn_wads, old_funding_now

from simulator.mirror.sim.scalar import FundingParams, funding_now


def _wad(rng: np.random.Generator, m: int, special: float = 0.1) -> list[float]:
    """:func:`drawn_wads` as Python floats (the old form took lists)."""
    return drawn_wads(rng, m, special).tolist()


def _same(got, want) -> bool:
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        return math.copysign(1.0, got) == math.copysign(1.0, want) and (
            got == want or (math.isnan(got) and math.isnan(want))
        )
    return got == want


def test_funding_now_equals_the_old_form_on_drawn_markets():
    rng = np.random.default_rng(2705)
    clamped = 0
    for n in range(4_000):
        m = int(rng.integers(1, 7))
        special = 0.0 if n % 2 else 0.1
        fp = FundingParams(
            model=[int(x) for x in rng.integers(0, 2, m)],
            skew_scale=[0.0 if rng.random() < 0.15 else abs(x) for x in _wad(rng, m, special)],
            max_velocity=[abs(x) for x in _wad(rng, m, special)],
            interest=[x / 1e4 for x in _wad(rng, m, special)],
            band=[abs(x) / 1e3 for x in _wad(rng, m, special)],
            cap=[0.0 if rng.random() < 0.3 else abs(x) / 1e2 for x in _wad(rng, m, special)],
        )
        dt = [0 if rng.random() < 0.2 else int(x) for x in rng.integers(1, 90_000, m)]
        args = (_wad(rng, m, special), _wad(rng, m, special), _wad(rng, m, special),
                _wad(rng, m, special), [abs(x) for x in _wad(rng, m, special)], dt)  # fmt: skip
        want = old_funding_now(fp, *args)
        got = funding_now(fp, *args)
        for g, w in zip(got, want, strict=True):
            assert len(g) == len(w)
            assert all(_same(a, b) for a, b in zip(g, w, strict=True)), (n, g, w)
        clamped += sum(abs(r) == c for r, c in zip(want[2], fp.cap, strict=True) if c)
    assert clamped > 100
