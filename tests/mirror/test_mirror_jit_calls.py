"""The fast mode's compiled venue calls (:mod:`simulator.mirror.sim.jit_calls`: a trade with its
``_checkAfterTrade``, a cross and an isolated liquidation) against the plain-Python fast paths
they replaced (``fast_reference.py``), bit for bit: on states drawn around a small opened book
(the markets' parameters, prices, time, funding, marks, caps and stale oracles drawn), each
call's result or revert text, then the venue's whole state (every array, the pool, the fund,
the accounts' ``_open`` order, the funding views) are the reference's; a reverted call leaves
the state as it found it. A seeded sweep shows the draws reach every revert and the rare
branches (partial closes, the per-block cap, deficits)."""

from __future__ import annotations

import copy
import pickle
from collections import Counter
from typing import Any

import numpy as np
import pytest
from fast_reference import reference_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.mirror import bench_scenario
from simulator.mirror.sim import MirrorEngine, jit_calls
from simulator.mirror.sim.calls import Liquidation, Reverted
from simulator.mirror.sim.controls import Breaker
from simulator.mirror.sim.venue import VenueState

WAD = 10**18


@pytest.fixture(scope="module")
def base() -> VenueState:
    """A fast-mode venue with a small book opened (40 accounts on three markets, cross and
    isolated)."""
    return MirrorEngine(bench_scenario(None, ["traders.count=40"], None, None), mode="fast").venue


def _bits(x: Any) -> Any:
    """``x`` with every float as its bits (``float.hex``: signed zeros apart)."""
    if isinstance(x, float | np.floating):
        return float(x).hex()
    if isinstance(x, dict):
        return {k: _bits(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_bits(v) for v in x)
    if isinstance(x, Liquidation):
        return _bits(vars(x))
    if isinstance(x, np.bool_ | np.integer):
        return x.item()
    return x


def _state(v: VenueState) -> dict:
    """The venue's whole state, comparable bit for bit."""
    out = {k: (a.dtype.str, a.tobytes()) for k, a in vars(v).items() if isinstance(a, np.ndarray)}
    f = v.funding()
    out["funding"] = [a.tobytes() for a in (f.long_funding_index, f.short_funding_index,
                                            f.funding_rate_per_day)]  # fmt: skip
    out["pool"], out["fund"] = _bits(v.pool), _bits(v.fund)
    out["open_order"] = [list(o) for o in v.open_order]
    return out


def _call(v: VenueState, call: tuple) -> tuple[str, Any]:
    kind, *args = call
    try:
        if kind == "trade":
            a, m, delta, isolated, margin_delta, acceptable = args
            got = v.trade(a, m, delta, isolated=isolated, margin_delta=margin_delta,
                          acceptable=acceptable)  # fmt: skip
        elif kind == "liquidate":
            got = v.liquidate(args[0])
        else:
            got = v.liquidate_isolated(*args)
    except Reverted as e:
        return "reverted", str(e)
    return "ok", _bits(got)


def _setup(base: VenueState, draw: dict) -> VenueState:
    """A copy of ``base`` with the drawn parameters and state."""
    v = base.copy()
    v.open_order = [list(o) for o in base.open_order]
    v.params_chain = list(base.params_chain)
    for m, changes in enumerate(draw["params"]):
        if draw["partial"][m]:  # positions above $1,000 closed in parts
            changes = {**changes, "partialLiquidationThreshold": 1000 * USD}
        if changes:
            v.set_parameters(m, {**v.params_chain[m][0], **changes})
    if draw["breaker"]:  # a circuit breaker wired (its check in Python where it has a band)
        v.breaker = Breaker(v, v.now - 600)
    v.begin_block(v.now + draw["dt"])
    v.price[:] = v.price * np.array(draw["moves"])  # in place: packed views in fast mode
    v.updated_at[:] = v.now - np.array(draw["ages"], dtype=np.int64)
    for a, m, mark in draw["marks"]:
        if v.size[a, m] != 0:
            v.partial_at[a, m] = v.now - mark
            v.last_liquidation_block[a, m] = v.block if mark % 2 else v.block - 1
    if draw["paused"] is not None:  # a guardian's pause wired: the trade's checks in Python
        v.risk_paused = np.array(draw["paused"])
    for m, used in enumerate(draw["used"]):
        v.rate_used[m], v.rate_block[m] = used, v.block
    v.version += 1
    return v


def _check(base: VenueState, draw: dict, seen: Counter | None = None) -> None:
    v = _setup(base, draw)
    r = reference_state(v)
    for call in draw["calls"]:
        before = _state(v)
        got, want = _call(v, call), _call(r, call)
        assert got == want, call
        after = _state(v)
        assert after == _state(r), call
        if got[0] == "reverted":
            assert after == before, call
        if seen is not None:
            seen[call[0], got[1].split("(")[0] if got[0] == "reverted" else "ok"] += 1
            if got[0] == "ok" and call[0] != "trade":
                seen["deficit"] += bool(got[1]["deficits"])
                seen["partial"] += not all(got[1]["full"])


USD = 10**18  # one USD, WAD
_param_changes = st.fixed_dictionaries({}, optional={
    "liquidationPenaltyBps": st.sampled_from([0, 50, 300]),
    "keeperShareBps": st.sampled_from([0, 2000, 10_000]),
    "insuranceFeeShareBps": st.sampled_from([0, 5000, 10_000]),
    "takerFeeBps": st.sampled_from([0, 5, 60]),
    "partialLiquidationThreshold": st.sampled_from([0, 1000 * USD, 10**6 * USD]),
    "maxLiquidationNotionalPerBlock": st.sampled_from([0, 500 * USD, 50_000 * USD]),
    "maxLongOpenInterest": st.sampled_from([0, 10**18, 10**23]),
    "maxShortOpenInterest": st.sampled_from([0, 10**18, 10**23]),
    "oiImfLowerCap": st.sampled_from([0, 10**4 * USD]),
    "oiImfUpperCap": st.sampled_from([0, 10**5 * USD, 10**9 * USD]),
    "maxLiquidationImpactBps": st.sampled_from([0, 100, 20_000]),
    "fullLiquidationAfterCooldown": st.booleans(),
    "adlPolicy": st.sampled_from([1, 2, 3, 4]),
    "skewScale": st.sampled_from([0, 10**18, 10**20, 10**24]),
    "circuitBreakerBandBps": st.sampled_from([0, 100, 5000]),
    "liquidationsHaltOnBreaker": st.booleans(),
})  # fmt: skip


@st.composite
def draws(draw, accounts: int = 40, markets: int = 3) -> dict:
    a = st.integers(0, accounts - 1)
    m = st.integers(0, markets - 1)
    trade = st.tuples(st.just("trade"), a, m,
                      st.sampled_from([-1, 1]).flatmap(lambda s: st.floats(1e-3, 3.0).map(
                          lambda x: s * x * 10**18)),
                      st.booleans(), st.sampled_from([0.0, 0.0, 50.0 * USD, -50.0 * USD, 1e30]),
                      st.sampled_from([0.0, 0.0, 1.0, 1e40]))  # fmt: skip
    per_market = lambda s: st.lists(s, min_size=markets, max_size=markets)  # noqa: E731
    call = st.one_of(trade, st.tuples(st.just("liquidate"), a),
                     st.tuples(st.just("liquidate_isolated"), a, m))  # fmt: skip
    return {
        "params": draw(per_market(_param_changes)),
        "partial": draw(per_market(st.booleans())),
        "dt": draw(st.sampled_from([0, 1, 60, 3000])),
        "moves": draw(per_market(st.sampled_from([1.0, 0.97, 1.05, 0.8, 0.5, 0.3, 1.6, 2.5]))),
        "ages": draw(per_market(st.sampled_from([0, 0, 5000]))),
        "marks": draw(st.lists(st.tuples(a, m, st.sampled_from([1, 20, 45, 100])), max_size=8)),
        "used": draw(per_market(st.sampled_from([0.0, 400.0 * USD, 600.0 * USD]))),
        "breaker": draw(st.booleans()),
        "paused": draw(
            st.sampled_from([None, None, (False,) * markets, (True,) + (False,) * (markets - 1)])
        ),
        "calls": draw(st.lists(call, min_size=1, max_size=5)),
    }


def test_compiled_calls_equal_the_python_fast_paths(base):
    """Drawn states and calls: the comparisons hold, and (under the suite's fixed examples,
    the same on every run) the draws reach every error a fast call raises, partial and full
    closes, and deficits."""
    seen: Counter = Counter()

    @settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw=draws())
    def run(draw):
        _check(base, draw, seen)

    run()
    if not settings.default.derandomize:
        return  # exploring at random (make soak-all): the comparisons only
    names = {key[1] for key in seen if isinstance(key, tuple)}
    want = {"InsufficientBalance", "InvalidFillPrice", "RiskPaused", "CircuitBreakerTripped",
            "PriceLimitExceeded", "OpenInterestCapExceeded", "InsufficientMargin", "StalePrice",
            "NoPosition", "WrongMarginMode", "NotLiquidatable", "NothingLiquidatableNow",
            "ok"}  # fmt: skip
    assert want <= names, (want - names, seen)
    assert seen["deficit"] > 0 and seen["partial"] > 0, seen


def test_packed_state_survives_copies_and_pickles_and_refuses_a_rebound_array(base):
    """The fast venue's packed arrays (:data:`jit_calls.PACKED`): a copy, a pickle and a deep
    copy each have their own, the attributes views of them, and trade alike; an attribute
    rebound (not written in place) is refused at the next block."""
    copies = [base.copy(), pickle.loads(pickle.dumps(base)), copy.deepcopy(base)]
    results = []
    for v in copies:
        v.open_order = [list(o) for o in base.open_order]
        for packed, names, _ in jit_calls.PACKED:
            rows = getattr(v, packed)
            assert not np.shares_memory(rows, getattr(base, packed))
            assert all(getattr(v, k).base is rows for k in names)
        v.begin_block(v.now + 60)
        results.append(_call(v, ("trade", 3, 0, 1e17, False, 0.0, 0.0)))
        assert _state(v) == _state(copies[0])
    assert results[0][0] == "ok" and results.count(results[0]) == 3
    v = base.copy()
    v.long_index = v.long_index.copy()
    with pytest.raises(RuntimeError, match="'long_index' was rebound"):
        v.begin_block(v.now + 60)
