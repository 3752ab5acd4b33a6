"""Fast mode's oracle pushes of every market in one compiled call
(:func:`simulator.mirror.sim.oracle.post`, session 28) held to the form it replaced
(:func:`old_post`: one :meth:`VenueState.push_price` per market) on drawn feeds: the venue's
prices and push times to the bit, its version, the breaker's histories (values and types), the
agents' belief and the pushes counted. Drawn: NaN (a held oracle), prices outside the compiled
rounding's range, ``maxDeviationBps`` of 0 and not, moves well inside and beyond the band and
exactly on its edge (a whole number of 1e-8 on either side: the Python integers decide)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim.oracle import _price_units, post, posted_wad
from simulator.scenario import load_scenario


def old_post(s, venue, feed) -> int:
    """``push_prices``' pushes as they were before session 28."""
    units = _price_units(feed)
    sent = 0
    for m, (price, unit) in enumerate(zip(feed.tolist(), units.tolist(), strict=True)):
        if price == price:  # not NaN: the oracle posts
            venue.push_price(m, posted_wad(price, unit))
            s.oracle_price_usd[m] = price
            sent += 1
    return sent


def _clone(venue):
    """A copy of ``venue`` whose parts a push writes are its own: the packed arrays (copied by
    :meth:`VenueState._pack`), the oracles' bands and the breaker."""
    c = copy.copy(venue)
    c._pack()
    c.max_deviation_bps = venue.max_deviation_bps.copy()
    c.breaker = copy.deepcopy(venue.breaker)
    return c


@pytest.fixture(scope="module")
def base_venue():
    return MirrorEngine(load_scenario("oct-2025"), mode="fast").venue


def _feed(rng: np.random.Generator, previous_wad: np.ndarray, bps: np.ndarray) -> np.ndarray:
    """Per market a price (USD): a move inside or beyond the band, on its edge (± one 1e-8),
    NaN, or outside the compiled rounding's range."""
    m = len(previous_wad)
    previous_units = np.round(previous_wad / 1e10)
    kind = rng.integers(0, 6, m)
    sign = np.where(rng.random(m) < 0.5, -1.0, 1.0)
    move = np.where(kind == 0, rng.random(m) * bps / 1e4 * 0.99,
                    (1 + rng.random(m)) * np.maximum(bps, 1) / 1e4)  # fmt: skip
    feed = previous_units * (1 + sign * move) / 1e8
    edge = kind == 2
    exact = np.floor(previous_units * bps / 1e4)  # a whole number of units on the edge
    feed[edge] = (previous_units + sign * (exact + rng.integers(-1, 2, m)))[edge] / 1e8
    feed[kind == 3] = np.nan
    feed[kind == 4] = rng.choice([2.5e-7, 3e7, 1e7], int((kind == 4).sum()))
    return feed


def test_post_equals_one_push_per_market_on_drawn_feeds(base_venue):
    rng = np.random.default_rng(2806)
    outcomes = {"accepted": 0, "refused": 0, "held": 0}
    for n in range(300):
        old, new = _clone(base_venue), _clone(base_venue)
        m = old.n_markets
        bps = np.where(rng.random(m) < 0.25, 0, rng.integers(1, 2_000, m)).astype(np.int64)
        now = int(old.now) + int(rng.integers(0, 3)) * 60
        for v in (old, new):
            v.max_deviation_bps[:] = bps
            v.now = now
        # the previous prices: whole multiples of 1e-8 USD, some divisible by the bps' 1e4
        units = rng.integers(10**6, 10**14, m) // np.where(rng.random(m) < 0.5, 1, 10**4)
        units = np.where(rng.random(m) < 0.5, units, units * 10**4).astype(np.float64)
        for v in (old, new):
            v.price[:] = units * 1e10
        feed = _feed(rng, old.price.copy(), bps)
        s_old = SimpleNamespace(oracle_price_usd=np.full(m, -1.0))
        s_new = SimpleNamespace(oracle_price_usd=np.full(m, -1.0))
        sent_old = old_post(s_old, old, feed.copy())
        sent_new = post(s_new, new, feed.copy())
        assert sent_new == sent_old
        assert np.array_equal(new.price.view(np.int64), old.price.view(np.int64)), n
        assert np.array_equal(new.updated_at, old.updated_at)
        assert new.version == old.version
        assert np.array_equal(s_new.oracle_price_usd, s_old.oracle_price_usd)
        for h_new, h_old in zip(new.breaker.history, old.breaker.history, strict=True):
            assert h_new == h_old
            assert [type(p) for _, p in h_new] == [type(p) for _, p in h_old]
        accepted = old.version - base_venue.version  # one bump per accepted push
        outcomes["accepted"] += accepted
        outcomes["refused"] += sent_old - accepted
        outcomes["held"] += int(np.isnan(feed).sum())
    assert min(outcomes.values()) > 50, outcomes


def test_post_of_no_push(base_venue):
    venue = _clone(base_venue)
    before = venue.price.copy()
    s = SimpleNamespace(oracle_price_usd=np.full(venue.n_markets, 7.0))
    assert post(s, venue, np.full(venue.n_markets, np.nan)) == 0
    assert np.array_equal(venue.price, before) and (s.oracle_price_usd == 7.0).all()
