"""Fast mode's one-account shortcuts give the vectorized kernels' floats to the bit: the venue's
``cross_health`` of a few accounts and ``mark`` in plain floats
(:meth:`simulator.mirror.sim.venue.VenueState._cross_health_floats`), checked against the
kernels on every step of small runs; and a fast trade that reverts leaves the state exactly as
it found it (its checks run on the values after it before any is stored); the markets'
precomputed margin tiers (:func:`simulator.mirror.sim.scalar.tiers_of`) give
:func:`~simulator.mirror.sim.scalar.requirement`'s floats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mirror_run_helpers import parse, small_scenarios

from simulator.mirror import fills, health
from simulator.mirror.sim import MirrorEngine, scalar
from simulator.mirror.sim.calls import Reverted
from simulator.mirror.sim.venue import VenueState


def _same_bits(got: np.ndarray, want: np.ndarray) -> bool:
    """Equal values, dtypes, shapes and signs of zero."""
    got, want = np.asarray(got), np.asarray(want)
    return (got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
            and np.array_equal(np.signbit(got), np.signbit(want)))  # fmt: skip


def _check_views(venue: VenueState) -> int:
    """Compare the float shortcuts with the kernels on groups of the venue's accounts; the
    number of accounts with a position checked."""
    f = venue.funding()
    held = np.flatnonzero((venue.size != 0).any(axis=1))
    groups = [held[:1], held[:3], held] if len(held) else []
    for accounts in groups:
        got = venue._cross_health_floats(accounts, f)
        h = health.cross_health(venue.book(accounts), venue.price, venue.markets, f)
        for g, w in zip(got, (h.equity, h.maintenance, h.initial), strict=True):
            assert _same_bits(g, w)
    kernel = fills.fill_price(venue.price, venue.long_oi - venue.short_oi,
                              np.zeros(venue.n_markets), venue.markets.skew_scale)  # fmt: skip
    assert _same_bits(venue.mark(), kernel)
    return len(held)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(d=small_scenarios())
def test_float_views_equal_the_kernels_to_the_bit(d):
    engine = MirrorEngine(parse(d), mode="fast")
    checked = []
    engine.run(on_step=lambda o: checked.append(_check_views(engine.venue)))
    assert sum(checked) > 0


def _arrays(venue: VenueState) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in vars(venue).items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("isolated", [False, True])
def test_a_reverted_fast_trade_leaves_the_state_unchanged(isolated):
    d = {
        "name": "fast-revert", "seed": 5, "steps": 4, "venue": {"preset": "hyperliquid-like"},
        "markets": [{"symbol": "BTC"}, {"symbol": "ETH"}],
        "controls": {"insurance_fund_usd": 50_000, "feedback": False},
        "traders": {"kind": "random", "count": 6, "leverage": {"min": 5, "max": 10},
                    "markets_per_account": {1: 1.0}},
        "price_path": {"kind": "factor"}, "keepers": {"count": 1}, "arbitrageurs": {"count": 0},
    }  # fmt: skip
    engine = MirrorEngine(parse(d), mode="fast")
    engine.run(on_step=lambda o: None)
    venue = engine.venue
    a = int(np.flatnonzero((venue.size != 0).any(axis=1) & ~venue.isolated.any(axis=1))[0])
    m = int(np.flatnonzero(venue.size[a] == 0)[0])  # a market it holds nothing in
    venue.begin_block(venue.now + 60)  # a new block: the trade accrues and marks market m
    before, scalars = _arrays(venue), (venue.fund, venue.pool, venue.open_markets(a))
    # 100x the account's collateral in notional: beyond its margin, within the OI caps
    delta = float(venue.collateral[a]) * 100 / float(venue.price[m]) * 1e18
    with pytest.raises(Reverted, match="InsufficientMargin"):
        venue.trade(a, m, delta, isolated=isolated)
    after = _arrays(venue)
    assert before.keys() == after.keys()
    for k in before:
        assert _same_bits(after[k], before[k]) if after[k].dtype.kind == "f" else (
            np.array_equal(after[k], before[k])), k  # fmt: skip
    assert (venue.fund, venue.pool, venue.open_markets(a)) == scalars


@settings(max_examples=200, deadline=None)
@given(
    n=st.floats(0, 1e30),
    base=st.floats(1e14, 1e18),
    scale=st.floats(5e17, 3e18),
    tiers=st.lists(st.tuples(st.floats(1e18, 1e30), st.floats(1e14, 2e18)), max_size=4),
)
def test_precomputed_tiers_give_the_requirement_to_the_bit(n, base, scale, tiers):
    floors = sorted(f for f, _ in tiers)
    rates = [r for _, r in tiers]
    want = scalar.requirement(n, base, floors, rates, scale)
    assert _same_bits(scalar.tiered(n, scalar.tiers_of(base, floors, rates, scale)), want)
