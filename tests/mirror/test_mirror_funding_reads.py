"""The fast venue's funding at now (:meth:`VenueState.funding`, session 28: recomputed in place
into the venue's own (3, M) array and :class:`MarketState`, its float lists made at the first
ask; kept across the compiled trades and liquidations by ``VenueState.kept``) held to the
form it replaced (session 27's, :class:`OldFunding` below: a new array, state and lists at
every recompute) and to a fresh computation at every read:

- oct-2025 stepped a few hundred steps by two fast engines in lockstep, one with the old form:
  every read of the new one equal to the funding computed afresh from the venue's state (bit
  for bit, its open interests the venue's own rows), at most one recompute a step, and the
  two venues' state equal after every step;
- drawn venue states: blocks, oracle pushes, trades, closes and liquidations drawn on a
  venue, the funding (state, lists, array) equal to a fresh computation after every call;
- a copy's funding its own (the cache not shared)."""

from __future__ import annotations

import types

import numpy as np

from simulator.mirror.markets import MarketState
from simulator.mirror.sim import MirrorEngine, scalar
from simulator.mirror.sim.calls import Liquidation, Reverted
from simulator.mirror.sim.venue import _FUNDING_AT, VenueState
from simulator.scenario import load_scenario

STATE = ("price", "long_oi", "short_oi", "long_index", "short_index", "rate",
         "last_funding_time", "last_mark", "size", "entry", "snapshot", "margin", "collateral",
         "fees", "penalties", "partial_at")  # fmt: skip


class OldFunding:
    """Session 27's fast-mode funding cache (the reference), bound onto one venue's instance:
    keyed by (now, version) alone, a new (3, M) array, :class:`MarketState` and float lists at
    every recompute. The venue's calls no longer call ``_keep_funding`` (they bump
    ``VenueState.kept``), so this form recomputes after every call that bumps the version:
    the funding the new form keeps across a call is held to the one computed after it."""

    def __init__(self, venue: VenueState):
        self.v = venue
        self.cache = None
        for name in ("funding", "funding_rows", "funding_now", "_keep_funding"):
            setattr(venue, name, getattr(self, name))

    def funding(self) -> MarketState:
        v = self.v
        key = (v.now, v.version)
        if self.cache is not None and self.cache[0] == key:
            return self.cache[1]
        fn = scalar.funding_rows(v.scalar_funding, v._market_floats, v._market_ints, v.now,
                                 _FUNDING_AT, np.empty((3, v.n_markets)))  # fmt: skip
        f = MarketState(v.long_oi, v.short_oi, fn[0], fn[1], fn[2])
        self.cache = (key, f, fn[0].tolist(), fn[1].tolist(), fn)
        return f

    def funding_rows(self):
        f = self.funding()
        return f, self.cache[2], self.cache[3], self.cache[4]

    def funding_now(self):
        f = self.funding()
        return f, self.cache[4]

    def _keep_funding(self, f, li=None, si=None):
        cache = self.cache
        if cache is not None and cache[1] is f:
            li, si, fn = cache[2], cache[3], cache[4]
        else:
            fn = np.array([f.long_funding_index, f.short_funding_index,
                           f.funding_rate_per_day], dtype=np.float64)  # fmt: skip
            li, si = fn[0].tolist(), fn[1].tolist()
        self.cache = ((self.v.now, self.v.version), f, li, si, fn)


def fresh(venue: VenueState) -> np.ndarray:
    """The funding at now computed from the venue's state (no cache)."""
    return scalar.funding_rows(venue.scalar_funding, venue._market_floats, venue._market_ints,
                               venue.now, _FUNDING_AT, np.empty((3, venue.n_markets)))  # fmt: skip


def same_bits(got, want) -> bool:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return got.shape == want.shape and bool(np.all(got.view(np.int64) == want.view(np.int64)))


def assert_current(venue: VenueState, f: MarketState) -> None:
    """``f`` is the funding at now of the venue's state, to the bit."""
    want = fresh(venue)
    got = (f.long_funding_index, f.short_funding_index, f.funding_rate_per_day)
    for name, g, w in zip(("long index", "short index", "rate"), got, want, strict=True):
        assert same_bits(g, w), f"{name}: {g} != {w} (now {venue.now}, v{venue.version})"
    assert f.long_open_interest is venue.long_oi and f.short_open_interest is venue.short_oi


def checked_reads(venue: VenueState, reads: list, recomputes: list) -> None:
    """Every :meth:`VenueState.funding` and :meth:`VenueState.funding_now` read of ``venue``
    checked (:func:`assert_current`) and counted, and every recompute counted."""
    funding, now, rows = venue.funding, venue.funding_now, venue._funding_now_rows

    def read() -> MarketState:
        f = funding()
        assert_current(venue, f)
        reads[-1] += 1
        return f

    def read_now():
        f, fn = now()
        assert_current(venue, f)
        assert same_bits(
            fn, [f.long_funding_index, f.short_funding_index, f.funding_rate_per_day]
        )  # the compiled calls' input: the same
        reads[-1] += 1
        return f, fn

    def recompute(self, out=None):
        recomputes[-1] += 1
        return rows(out)

    venue.funding, venue.funding_now = read, read_now
    venue._funding_now_rows = types.MethodType(recompute, venue)


def test_funding_at_every_read_equals_a_fresh_one_and_the_old_form_in_lockstep():
    scenario = load_scenario("oct-2025")
    new, old = MirrorEngine(scenario, mode="fast"), MirrorEngine(scenario, mode="fast")
    OldFunding(old.venue)
    reads, recomputes = [], []
    checked_reads(new.venue, reads, recomputes)
    for t in range(300):
        reads.append(0)
        recomputes.append(0)
        new.step()
        old.step()
        for k in STATE:
            assert same_bits(getattr(new.venue, k), getattr(old.venue, k)), f"step {t}: {k}"
        assert new.venue.pool == old.venue.pool and new.venue.fund == old.venue.fund
        got, _, _, fn = new.venue.funding_rows()
        want, li, si, fn_old = old.venue.funding_rows()
        assert same_bits(fn, fn_old) and fn[0].tolist() == li and fn[1].tolist() == si
    assert sum(reads) > 3 * len(reads)  # several reads a step (levels, trades, keepers)
    assert max(recomputes) == 1  # one recompute a block at most, however many reads


def _step_venue(steps: int = 30) -> VenueState:
    engine = MirrorEngine(load_scenario("oct-2025"), mode="fast")
    for _ in range(steps):
        engine.step()
    return engine.venue


def _check_all(venue: VenueState) -> None:
    f, li, si, fn = venue.funding_rows()
    assert_current(venue, f)
    assert venue.funding() is f and venue.funding_now()[1] is fn
    assert same_bits(fn, fresh(venue)) and li == fn[0].tolist() and si == fn[1].tolist()


def test_funding_equals_a_fresh_one_after_every_drawn_call():
    venue = _step_venue()
    rng = np.random.default_rng(28)
    n_acc, m = venue.size.shape
    held = lambda: np.argwhere(venue.size != 0)  # noqa: E731
    made = {"trade": 0, "liquidate": 0}
    kinds = {"block": 0, "push": 0, "shock": 0, "trade": 0, "close": 0, "liquidate": 0}
    for _ in range(400):
        kind = rng.choice(list(kinds), p=[0.15, 0.15, 0.05, 0.3, 0.15, 0.2])
        if kind == "block":
            venue.begin_block(venue.now + int(rng.choice([0, 1, 12, 600, 86_400])))
        elif kind == "push":
            j = int(rng.integers(m))
            venue.push_price(j, round(float(venue.price[j]) * (1 + rng.normal(0, 0.003))))
        elif kind == "shock":  # every market 3-8% one way, within a block of its own
            venue.begin_block(venue.now + 12)
            move = rng.choice([-1, 1]) * rng.uniform(0.03, 0.08)
            for j in range(m):
                venue.push_price(j, round(float(venue.price[j]) * (1 + move)))
        elif kind == "trade":
            a, j = int(rng.integers(n_acc)), int(rng.integers(m))
            leverage = float(rng.uniform(-25, 25))  # beyond the margin at times: reverts
            delta = float(venue.collateral[a]) * leverage / float(venue.price[j]) * 1e18
            try:
                venue.trade(a, j, delta, isolated=bool(venue.isolated[a, j]))
                made["trade"] += 1
            except Reverted:
                pass
        elif kind == "close" and len(held()):
            a, j = held()[rng.integers(len(held()))].tolist()
            if rng.random() < 0.5:
                venue.close_many([a], [j])
            else:
                venue.close_many([a, a], [j, (j + 1) % m])
        elif kind == "liquidate" and len(held()):
            rows = held()[rng.integers(len(held()), size=3)].tolist()
            iso = [bool(venue.isolated[a, j]) for a, j in rows]
            got = venue.liquidate_many([a for a, _ in rows], [j for _, j in rows], iso)
            made["liquidate"] += sum(isinstance(x, Liquidation) for x in got)
        kinds[kind] += 1
        _check_all(venue)
    assert min(kinds.values()) > 10 and min(made.values()) > 10
    assert venue.total_deficit.sum() > 0  # deficits absorbed on the way


def test_a_copy_keeps_its_own_funding():
    venue = _step_venue(10)
    f = venue.funding()
    twin = venue.copy()
    assert twin.funding() is not f
    twin.begin_block(twin.now + 3_600)
    twin.push_price(0, round(float(twin.price[0]) * 1.01))
    a, j = np.argwhere(twin.size != 0)[0].tolist()
    twin.close_many([a], [j])
    _check_all(twin)
    _check_all(venue)
    assert venue.funding() is f
