"""Fast mode's funding at now of every market in one compiled call
(:func:`simulator.mirror.sim.scalar.funding_rows`, session 28) held to the form it replaced
(:func:`old_funding_now`, the plain-float loop over lists) bit for bit, on drawn markets: both
funding models, a skew scale of 0, caps of 0 and hit, clamps hit on both sides, no time
elapsed, NaN and infinities (any NaN for a NaN); and the venue's cached funding
(:meth:`VenueState.funding`) built from it as before (its lists and its (3, M) array)."""

from __future__ import annotations

import math

import numpy as np
from funding_reference import drawn_wads, old_funding_now

from simulator.mirror.sim import MirrorEngine, jit_calls
from simulator.mirror.sim.scalar import FundingParams, funding_now, funding_params_of, funding_rows
from simulator.mirror.sim.venue import _FUNDING_AT
from simulator.scenario import load_scenario


def _bits(values) -> np.ndarray:
    """The floats' bits, every NaN as one (a NaN's sign and payload are not a value: the
    compiled and the interpreted ``inf - inf`` may differ there)."""
    x = np.asarray(values, dtype=np.float64).copy()
    x[np.isnan(x)] = np.nan
    return x.view(np.int64)


def test_funding_rows_equals_the_old_form_on_drawn_markets():
    rng = np.random.default_rng(2805)
    clamped = elapsed_none = 0
    for n in range(3_000):
        m = int(rng.integers(1, 7))
        special = 0.0 if n % 2 else 0.1
        fp = FundingParams(
            model=[int(x) for x in rng.integers(0, 2, m)],
            skew_scale=[
                0.0 if rng.random() < 0.15 else abs(x) for x in drawn_wads(rng, m, special)
            ],
            max_velocity=[abs(x) for x in drawn_wads(rng, m, special)],
            interest=[x / 1e4 for x in drawn_wads(rng, m, special)],
            band=[abs(x) / 1e3 for x in drawn_wads(rng, m, special)],
            cap=[0.0 if rng.random() < 0.3 else abs(x) / 1e2 for x in drawn_wads(rng, m, special)],
        )
        packed = np.array([[float(x) for x in fp.model], fp.skew_scale, fp.max_velocity,
                           fp.interest, fp.band, fp.cap], dtype=np.float64)  # fmt: skip
        mf = np.zeros((len(jit_calls.MARKET_FLOATS), m))
        mi = np.zeros((len(jit_calls.MARKET_INTS), m), dtype=np.int64)
        long_oi, short_oi = np.abs(drawn_wads(rng, m, special)), np.abs(drawn_wads(rng, m, special))
        rate, li, si = (
            drawn_wads(rng, m, special),
            drawn_wads(rng, m, special),
            drawn_wads(rng, m, special),
        )
        price = np.abs(drawn_wads(rng, m, special))
        now = int(rng.integers(1_700_000_000, 1_800_000_000))
        dt = np.where(rng.random(m) < 0.2, 0, rng.integers(1, 90_000, m))
        mf[jit_calls.F_PRICE], mf[jit_calls.F_LONG_OI], mf[jit_calls.F_SHORT_OI] = (
            price, long_oi, short_oi)  # fmt: skip
        mf[jit_calls.F_RATE], mf[jit_calls.F_LONG_INDEX], mf[jit_calls.F_SHORT_INDEX] = rate, li, si
        mi[jit_calls.I_LAST_FUNDING_TIME] = now - dt
        want = old_funding_now(fp, (long_oi - short_oi).tolist(), rate.tolist(), li.tolist(),
                               si.tolist(), price.tolist(), dt.tolist())  # fmt: skip
        got = funding_rows(packed, mf, mi, now, _FUNDING_AT, np.empty((3, m)))
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(_bits(g), _bits(w)), (n, g, w)
        clamped += sum(abs(r) == c for r, c in zip(want[2], fp.cap, strict=True) if c)
        elapsed_none += int((dt == 0).sum())
    assert clamped > 100 and elapsed_none > 100


def test_funding_rows_of_no_market_and_of_one():
    empty = funding_rows(np.zeros((6, 0)), np.zeros((13, 0)), np.zeros((5, 0), dtype=np.int64),
                         10, _FUNDING_AT, np.empty((3, 0)))  # fmt: skip
    assert empty.shape == (3, 0)
    fp = FundingParams(model=[1], skew_scale=[1e24], max_velocity=[0.0], interest=[1e14],
                       band=[5e14], cap=[0.0])  # fmt: skip
    mf = np.zeros((13, 1))
    mf[jit_calls.F_PRICE], mf[jit_calls.F_LONG_OI] = 2e21, 3e20
    mi = np.zeros((5, 1), dtype=np.int64)
    got = funding_rows(np.array([[1.0], [1e24], [0.0], [1e14], [5e14], [0.0]]), mf, mi, 3600,
                       _FUNDING_AT, np.empty((3, 1)))  # fmt: skip
    want = old_funding_now(fp, [3e20], [0.0], [0.0], [0.0], [2e21], [3600])
    assert [float(x) for x in got[:, 0]] == [w[0] for w in want]
    assert not math.isnan(got[0, 0]) and got[0, 0] != 0.0


def test_the_venues_funding_is_the_lists_form_after_trading_steps():
    """:meth:`VenueState.funding` (its MarketState, its float lists and its (3, M) array) as
    :func:`funding_now` of the venue's lists gave them, on oct-2025's venue after 40 steps,
    an hour on."""
    engine = MirrorEngine(load_scenario("oct-2025"), mode="fast")
    for _ in range(40):
        engine.step()
    venue = engine.venue
    assert (venue.long_oi > 0).all()
    venue.now += 3_600
    venue.version += 1
    f, li, si, fn = venue.funding_rows()
    want = funding_now(funding_params_of(venue.markets), (venue.long_oi - venue.short_oi).tolist(),
                       venue.rate.tolist(), venue.long_index.tolist(), venue.short_index.tolist(),
                       venue.price.tolist(), (venue.now - venue.last_funding_time).tolist())  # fmt: skip
    assert li == want[0] and si == want[1] and all(type(x) is float for x in li + si)
    assert np.array_equal(fn, np.array(want, dtype=np.float64))
    assert f.funding_rate_per_day.tolist() == want[2] and f.long_open_interest is venue.long_oi
    assert venue.funding() is f  # cached until the state moves
