"""The fast venue's compiled calls over many units (:mod:`simulator.mirror.sim.jit_calls`):
``healthOf`` / ``isolatedHealth`` of many accounts in one call against the numpy kernels
(:func:`simulator.mirror.health.cross_health` / ``isolated_health``, the reference), bit for
bit, on states drawn as :mod:`test_mirror_jit_calls` draws them (after the drawn calls ran),
with empty and one-element selections; and a block's calls batched against the same calls
made one by one."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mirror_jit_calls import _bits, _call, _setup, _state, base, draws  # noqa: F401

from simulator.mirror import health
from simulator.mirror.sim import jit_calls


def _hex(values) -> list[str]:
    return [float(x).hex() for x in np.asarray(values, dtype=np.float64)]


def _health_matches(v, accounts: np.ndarray, markets: np.ndarray) -> None:
    f = v.funding()
    ref = health.cross_health(v.book(accounts), v.price, v.markets, f)
    got = v.cross_health(accounts, f)
    for g, want in zip(got, (ref.equity, ref.maintenance, ref.initial), strict=True):
        assert _hex(g) == _hex(want)
    eq, mm, im = v.cross_health(accounts, f, initial=False)  # the initial margins skipped
    assert _hex(eq) == _hex(ref.equity) and _hex(mm) == _hex(ref.maintenance) and im is None
    eq, mm = health.isolated_health(v.book(accounts), v.price, v.markets, f)
    rows = np.arange(len(accounts))
    got_eq, got_mm = v.isolated_health(accounts, markets, f)
    assert _hex(got_eq) == _hex(eq[rows, markets]) and _hex(got_mm) == _hex(mm[rows, markets])


def test_health_of_many_units_is_the_numpy_kernels(base):  # noqa: F811
    """Every account's cross health and every (account, market)'s isolated health of drawn
    states equal the numpy kernels', bit for bit; so do an empty and a one-unit read."""

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw=draws())
    def run(draw):
        v = _setup(base, draw)
        for call in draw["calls"]:
            _call(v, call)
        n_acc, n_mkt = len(v.collateral), v.n_markets
        assert n_mkt < jit_calls.HEALTH_MAX_MARKETS  # the compiled path is the one under test
        everyone = np.repeat(np.arange(n_acc), n_mkt)
        _health_matches(v, everyone, np.tile(np.arange(n_mkt), n_acc))
        _health_matches(v, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        _health_matches(v, np.array([n_acc - 1]), np.array([n_mkt - 1]))

    run()


def _result_bits(x):
    if isinstance(x, Exception):
        return ("reverted", str(x))
    return _bits(x)


def test_closes_batched_equal_the_closes_one_by_one(base):  # noqa: F811
    """``close_many`` of drawn closes (flat positions, the same position twice, stale prices,
    a guardian's pause, a breaker: calls the batch stops at, makes alone and resumes after)
    gives each call's result or revert and leaves the venue's whole state (pool, fund,
    ``_open`` order, funding views) as the same closes made one by one; the draws reach a
    batch that stops and resumes."""
    stops: Counter = Counter()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw=draws(), closes=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 2)),
                                         max_size=25))  # fmt: skip
    def run(draw, closes):
        v = _setup(base, draw)
        for call in draw["calls"]:
            _call(v, call)
        # mostly open positions, some flat ones
        opened = [(a, m) for a, m in zip(*np.nonzero(v.size), strict=True)]
        picks = [opened[(a * 3 + m) % len(opened)] if opened and (a + m) % 4 else (a, m)
                 for a, m in closes]  # fmt: skip
        picks = [(int(a), int(m)) for a, m in picks]
        one = _setup(base, draw)
        for call in draw["calls"]:
            _call(one, call)
        want = [one._close_one(a, m) for a, m in picks]
        got = v.close_many([a for a, _ in picks], [m for _, m in picks])
        assert [_result_bits(g) for g in got] == [_result_bits(w) for w in want]
        assert _state(v) == _state(one)
        for g in got:
            stops["none" if g is None else type(g).__name__] += 1

    run()
    if settings.default.derandomize:
        assert stops["Reverted"] > 0 and stops["none"] > 0 and stops["tuple"] > 0, stops


def test_liquidations_batched_equal_the_liquidations_one_by_one(base):  # noqa: F811
    """``liquidate_many`` of drawn keeper calls (cross and isolated, the same unit twice,
    stale prices, breakers that halt liquidations, reverts, deficits the fund covers or not:
    calls the batch stops at or after, and resumes) gives each call's :class:`Liquidation` or
    revert and leaves the venue's whole state as the same calls made one by one; the draws
    reach each of those."""
    seen: Counter = Counter()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw=draws(), units=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 2),
                                                  st.booleans()), max_size=25),
           fund=st.sampled_from([None, None, 0.0, 3e18]))  # fmt: skip
    def run(draw, units, fund):
        v, one = _setup(base, draw), _setup(base, draw)
        if fund is not None:  # a fund short of the deficits: absorbed in Python
            v.fund = one.fund = fund
        for call in draw["calls"]:
            _call(v, call)
            _call(one, call)
        # an isolated call mostly on an isolated position
        iso_pairs = [(int(a), int(m)) for a, m in zip(*np.nonzero(v.isolated), strict=True)]
        picks = []
        for a, m, iso in units:
            if iso and iso_pairs and (a + m) % 3:
                a, m = iso_pairs[(a * 3 + m) % len(iso_pairs)]
            picks.append((a, m, iso))
        want = [one._liquidate_one(a, m, iso) for a, m, iso in picks]
        got = v.liquidate_many(*(list(c) for c in zip(*picks, strict=True))) if picks else []
        assert [_result_bits(g) for g in got] == [_result_bits(w) for w in want]
        assert _state(v) == _state(one)
        for g in got:
            if isinstance(g, Exception):
                seen[str(g).split("(")[0]] += 1
                continue
            seen["ok"] += 1
            seen["deficit"] += bool(g.deficits)
            seen["uncovered"] += any(d[4] != 0 for d in g.deficits)

    run()
    if settings.default.derandomize:
        want = {"ok", "deficit", "uncovered", "StalePrice", "NotLiquidatable", "NoPosition",
                "CircuitBreakerTripped"}  # fmt: skip
        assert want <= {k for k, c in seen.items() if c}, seen


def test_a_batch_of_socialized_deficits_equals_the_calls_one_by_one(base):  # noqa: F811
    """A crash with an empty fund under the socialized policy: every account liquidated in
    one batch, the uncovered deficits charged to the open interest (the funding indices
    moved) between the calls, as one by one."""
    draw = {"params": [{"adlPolicy": 4}] * 3, "partial": [False] * 3, "dt": 60,
            "moves": [0.3, 2.5, 0.3], "ages": [0] * 3, "marks": [], "used": [0.0] * 3,
            "breaker": False, "paused": None, "calls": []}  # fmt: skip
    v, one = _setup(base, draw), _setup(base, draw)
    v.fund = one.fund = 0.0
    picks = [(a, 0, False) for a in range(40)]
    picks += [(int(a), int(m), True) for a, m in zip(*np.nonzero(v.isolated), strict=True)]
    want = [one._liquidate_one(a, m, iso) for a, m, iso in picks]
    got = v.liquidate_many(*(list(c) for c in zip(*picks, strict=True)))
    assert [_result_bits(g) for g in got] == [_result_bits(w) for w in want]
    assert _state(v) == _state(one)
    charged = [d for g in got if not isinstance(g, Exception) for d in g.deficits if d[5]]
    assert len(charged) > 1  # socialized more than once in the batch
