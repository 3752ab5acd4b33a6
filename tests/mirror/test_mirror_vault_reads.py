"""The venue's compiled batch of planned trades and the market-making vault's compiled reads,
as session 30 rewrote them (:func:`simulator.mirror.sim.jit_calls.trade_batch` /
``trade_batch_moves`` on a private, inlined copy of ``trade``; ``vault_health_reads`` with
``cross_health``'s sums for one account in the kernel and its outputs in one array), held
bit for bit to the forms they replaced, kept here: the batch calling the shared
:func:`~simulator.mirror.sim.jit_calls.trade` per call (compiled here), and the read as
``cross_health`` of ``[account]`` then ``size / 1e18`` and ``health / 1e18``. On venue states
drawn around a small opened book (``test_mirror_jit_calls``' draws: parameters, prices, time,
funding, stale oracles, a breaker or a guardian's pause), with drawn batches of trades and
closes (reverts, bounds, flat positions, calls for Python: batches that stop and resume)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mirror_jit_calls import _bits, _call, _setup, _state, base, draws  # noqa: F401

from simulator.jit import kernel
from simulator.mirror.sim import jit_calls as jc

# -- the old forms -----------------------------------------------------------------------------


@kernel
def _old_trade_batch(start, calls, values, python_checks, now, block, params, tiers, mf, mi, pf,
                     pi, isolated_flag, collateral, fn, outs):  # fmt: skip
    """``trade_batch`` as it was before session 30: the shared ``trade`` per call."""
    size = pf[jc.P_SIZE]
    for i in range(start, calls.shape[0]):
        a, m, kind = calls[i, jc.C_ACCOUNT], calls[i, jc.C_MARKET], calls[i, jc.C_KIND]
        if kind == jc.K_PYTHON or python_checks[m]:
            return i
        s = size[a, m]
        if kind == jc.K_CLOSE:
            if s == 0:
                return i
            delta, isolated = -s, isolated_flag[a, m]
        else:
            delta, isolated = values[i, jc.V_DELTA], False
            if delta == 0:
                return i
        out = outs[i]
        code = jc.trade(a, m, delta, isolated, 0.0, values[i, jc.V_ACCEPTABLE], True, False,
                        True, now, block, params, tiers, mf, mi, pf, pi, isolated_flag,
                        collateral, fn, out)  # fmt: skip
        if code != jc.OK:
            return i
        out[jc.T_SIZE0], out[jc.T_ISOLATED], out[jc.T_DELTA] = s, 1.0 if isolated else 0.0, delta
    return calls.shape[0]


@kernel
def _old_trade_batch_moves(start, calls, values, python_checks, now, block, params, tiers, mf,
                           mi, pf, pi, isolated_flag, collateral, fn, outs, moves, acc):  # fmt: skip
    """``trade_batch_moves`` as it was before session 30 (on :func:`_old_trade_batch`)."""
    stop = _old_trade_batch(start, calls, values, python_checks, now, block, params, tiers, mf,
                            mi, pf, pi, isolated_flag, collateral, fn, outs)  # fmt: skip
    for k in range(start, stop):
        out = outs[k]
        size0, size1 = out[jc.T_SIZE0], out[jc.T_SIZE]
        moves[k, jc.M_ACCOUNT], moves[k, jc.M_MARKET] = (
            calls[k, jc.C_ACCOUNT],
            calls[k, jc.C_MARKET],
        )
        moves[k, jc.M_OPENED] = 1 if (size0 == 0 and size1 != 0) else (
            -1 if (size0 != 0 and size1 == 0) else 0)  # fmt: skip
        acc[0] = acc[0] + out[jc.T_FUNDING] - out[jc.T_REALIZED]
        if out[jc.T_FEE] != 0:
            acc[1] = acc[1] + out[jc.T_FUND_ADD]
    return stop


def _old_reads(v, a: int) -> tuple:
    """``with_levels``' compiled read before session 30: ``cross_health`` of ``[a]`` into a
    (3, 1) array, the sizes ``/ 1e18``, the health ``/ 1e18``."""
    params, tiers = v.jit_buffers()[:2]
    f, fn = v.funding_now()
    health = np.full((3, 1), np.nan)
    jc.cross_health(np.array([a], dtype=np.int64), params, tiers, v.price, v._position_floats,
                    v.isolated, v.collateral, fn[0], fn[1], f.long_open_interest,
                    f.short_open_interest, True, health[0], health[1], health[2])  # fmt: skip
    size_base = v._position_floats[jc.P_SIZE][a] / 1e18
    usd = (health[0, 0] / 1e18, health[1, 0] / 1e18, health[2, 0] / 1e18)
    return health[:, 0], size_base, usd


# -- drawn batches -----------------------------------------------------------------------------

_batch_call = st.tuples(
    st.integers(0, 39), st.integers(0, 2),
    st.sampled_from([jc.K_TRADE, jc.K_TRADE, jc.K_TRADE, jc.K_CLOSE, jc.K_PYTHON]),
    st.sampled_from([-1.0, 1.0]).flatmap(
        lambda s: st.sampled_from([0.0, 1e-6, 1e-4, 1e-3, 1e-3, 0.01, 0.01, 0.05, 0.3]).map(lambda x: s * x * 1e18)),
    st.sampled_from([0.0, 0.0, 0.0, 0.0, 1.0, 1e40]),
)  # fmt: skip


def _batch_arrays(batch: list) -> tuple[np.ndarray, np.ndarray]:
    calls = np.array([(a, m, k) for a, m, k, _, _ in batch], dtype=np.int64).reshape(-1, 3)
    values = np.array([(d, b) for _, _, _, d, b in batch], dtype=np.float64).reshape(-1, 2)
    return calls, values


def _run_batches(v, kernel_, calls, values) -> list:
    """``kernel_`` (a ``trade_batch_moves``) over the whole batch from call 0, resumed after
    each call it stops at (that call skipped): each stop, then the outputs' bits, then the
    number of calls made."""
    n = calls.shape[0]
    outs = np.full((n, jc.N_BATCH_OUT), np.nan)
    moves = np.full((n, 3), -7, dtype=np.int64)
    acc = np.array([float(v.pool), float(v.fund)])
    stops, i, made = [], 0, 0
    while i < n:
        cache, python_checks, fn = v._batch_inputs()
        stop = kernel_(i, calls, values, python_checks, int(v.now), int(v.block), cache[1],
                       cache[2], v._market_floats, v._market_ints, v._position_floats,
                       v._position_ints, v.isolated, v.collateral, fn, outs, moves, acc)  # fmt: skip
        stops.append(stop)
        made += stop - i
        v.version += 1  # as a call made alone: the funding at now recomputed from the state
        i = stop + 1
    return [stops, outs.tobytes(), moves.tobytes(), acc.tobytes(), made]


def test_the_batches_equal_their_old_form_on_drawn_states(base):  # noqa: F811
    """``trade_batch_moves`` (and the ``trade_batch`` it runs) gives the old form's stops,
    outputs, moves, pool and fund, and leaves the venue's whole state as it does, on drawn
    states and batches; the draws reach trades made, reverts and calls for Python."""
    seen = {"made": 0, "stopped": 0}

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw=draws(), batch=st.lists(_batch_call, min_size=0, max_size=16), fresh=st.booleans())
    def run(draw, batch, fresh):
        if fresh:  # the book's parameters and prices, fresh, no pause nor breaker: batches
            # that run (drawn caps, moves and stale prices stop most calls)
            m = len(draw["params"])
            draw = {**draw, "params": [{}] * m, "ages": [0] * m, "moves": [1.0] * m,
                    "paused": None, "breaker": False}  # fmt: skip
        new, old = _setup(base, draw), _setup(base, draw)
        for call in draw["calls"]:
            assert _call(new, call) == _call(old, call)
        calls, values = _batch_arrays(batch)
        got = _run_batches(new, jc.trade_batch_moves, calls, values)
        want = _run_batches(old, _old_trade_batch_moves, calls, values)
        assert got == want
        assert _state(new) == _state(old)
        seen["stopped"] += sum(1 for s in got[0] if s < len(batch))
        seen["made"] += got[-1]

    run()
    assert seen["made"] > 100 and seen["stopped"] > 50, seen


def test_the_vaults_reads_equal_their_old_form_on_drawn_states(base):  # noqa: F811
    """``vault_health_reads`` of every account of drawn states (cross and isolated positions,
    flat ones, after drawn calls) gives the old form's health (WAD), sizes and USD floats."""

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw=draws())
    def run(draw):
        v = _setup(base, draw)
        for call in draw["calls"]:
            _call(v, call)
        n = v.n_markets
        params, tiers = v.jit_buffers()[:2]
        f, fn = v.funding_now()
        for a in range(len(v.collateral)):
            health, size_base, usd = _old_reads(v, a)
            reads = np.full(3 + n, np.nan)
            got = jc.vault_health_reads(a, params, tiers, v._market_floats, v._position_floats,
                                        v.isolated, v.collateral, fn, f.long_open_interest,
                                        f.short_open_interest, reads)  # fmt: skip
            assert type(got) is tuple and all(type(x) is float for x in got)
            assert _bits(got) == _bits(usd), a
            assert reads[:3].tobytes() == health.tobytes(), a
            assert reads[3:].tobytes() == size_base.tobytes(), a

    run()
