"""The order flow's block kernel (:func:`simulator.mirror.sim.jit_calls.flow_step`) on its
private trade (session 30: ``_flow_trade``, the packed arrays read and written at their
indices, not through ``_views``) held to its form before, kept below (``old_flow_step``: the
kernel at 4ea87ca, each call a :func:`~simulator.mirror.sim.jit_calls.trade` of the shared
helper), bit for bit: the returned index and every array after the call (the venue's packed
state, the collateral, the margin modes, the block's tables, the pool and the fund).

- drawn venues (``test_mirror_jit_calls``' draws: parameters, prices, time, funding, marks,
  caps, stale oracles, isolated and cross positions after drawn calls) and drawn blocks on
  them (closes of open and flat positions, opens of drawn sides and sizes from 1e-14 to
  1e17 base units, NaN and 0, a slot not the venue's, a market whose checks are Python's),
  the block resumed after each call it stops at, as the caller resumes it;
- oct-2025's blocks on the mirror (720 steps, the shock at 600): each step's call through
  both kernels, on copies."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mirror_jit_calls import _call, _setup, base, draws  # noqa: F401

from simulator.jit import kernel
from simulator.mirror.sim import jit_calls
from simulator.mirror.sim.flow import wad_delta
from simulator.mirror.sim.jit_calls import (
    M_ACCOUNT,
    M_MARKET,
    M_OPENED,
    OK,
    P_SIZE,
    S_ACCOUNT,
    S_MARKET,
    T_DELTA,
    T_FEE,
    T_FUND_ADD,
    T_FUNDING,
    T_ISOLATED,
    T_REALIZED,
    T_SIZE,
    T_SIZE0,
    trade,
    wad_of_repr,
    wad_of_size,
)


@kernel
def old_flow_step(init, start, n_close, close_slots, open_slots, open_side, open_size, slot_tab,
                  python_checks, now, block, params, tiers, mf, mi, pf, pi, isolated_flag,
                  collateral, fn, slots, deltas, outs, ok, moves, acc):  # fmt: skip
    """``jit_calls.flow_step`` at 4ea87ca, verbatim (its docstring aside)."""
    n = n_close + open_slots.shape[0]
    if init:
        missing = False
        for k in range(n_close):
            slots[k] = close_slots[k]
        for j in range(open_slots.shape[0]):
            k = n_close + j
            slots[k] = open_slots[j]
            size = open_size[j]
            wad = wad_of_size(size)
            if wad != wad:
                wad = wad_of_repr(size)
            if wad == wad:
                deltas[k] = open_side[j] * wad + 0.0  # +0.0: float(0), never -0.0
            else:
                deltas[k] = np.nan
                missing = True
        for k in range(n):
            ok[k] = False
            for c in range(outs.shape[1]):
                outs[k, c] = 0.0
        if missing:
            return -1
    size = pf[P_SIZE]
    for k in range(start, n):
        slot = slots[k]
        a, m = slot_tab[slot, S_ACCOUNT], slot_tab[slot, S_MARKET]
        if a < 0 or python_checks[m]:
            return k
        s = size[a, m]
        if k < n_close:
            if s == 0:
                return k
            delta, isolated = -s, isolated_flag[a, m]
        else:
            delta, isolated = deltas[k], False
            if delta == 0:
                return k
        out = outs[k]
        code = trade(a, m, delta, isolated, 0.0, 0.0, True, False, True, now, block, params,
                     tiers, mf, mi, pf, pi, isolated_flag, collateral, fn, out)  # fmt: skip
        if code != OK:
            return k
        out[T_SIZE0], out[T_ISOLATED], out[T_DELTA] = s, 1.0 if isolated else 0.0, delta
        ok[k] = True
        size1 = out[T_SIZE]
        moves[k, M_ACCOUNT], moves[k, M_MARKET] = a, m
        moves[k, M_OPENED] = 1 if (s == 0 and size1 != 0) else (-1 if (s != 0 and size1 == 0)
                                                                 else 0)  # fmt: skip
        acc[0] = acc[0] + out[T_FUNDING] - out[T_REALIZED]
        if out[T_FEE] != 0:
            acc[1] = acc[1] + out[T_FUND_ADD]
    return n


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


def _copies(args: tuple) -> list:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _both(args: tuple) -> int:
    """``flow_step`` on ``args`` (in place) and ``old_flow_step`` on copies: the same return
    and arrays after."""
    old = _copies(args)
    want = old_flow_step(*old)
    got = jit_calls.flow_step(*args)
    assert got == want
    for i, (a, b) in enumerate(zip(args, old, strict=True)):
        assert _same(a, b), i
    return got


_SIZES = st.one_of(  # base units (prices 120,000, 4,300 and 220 USD; ~2,000 USD a account)
    st.floats(1e-5, 0.05), st.floats(1e-5, 0.05), st.floats(1e-3, 50.0), st.floats(8192.0, 1e15),
    st.sampled_from([0.0, 1e-14, 4e-13, 0.5, 1e17, float("nan"), float("inf")]),
)  # fmt: skip


@st.composite
def blocks(draw, accounts: int = 40, markets: int = 3) -> dict:
    a = st.integers(-1, accounts - 1)  # -1: not the venue's account
    m = st.integers(0, markets - 1)
    return {
        "slots": draw(st.lists(st.tuples(a, m), min_size=1, max_size=12)),
        "closes": draw(st.lists(st.integers(0, 11), max_size=6)),
        "opens": draw(
            st.lists(st.tuples(st.integers(0, 11), st.sampled_from([-1, 1]), _SIZES), max_size=8)
        ),
        "fresh": draw(st.sampled_from([True, True, False])),  # every oracle fresh
        "python_checks": draw(st.sampled_from([-1, -1, -1, None, 0, 2])),  # -1: none
        "pool": draw(st.sampled_from([0.0, 1e24])),
    }


def _run_block(v, block: dict) -> tuple[int, int]:
    """The drawn block on venue ``v`` through both kernels as ``execute_arrays`` drives it:
    init, the deltas the kernel leaves written by ``wad_delta``, the block resumed after each
    call it stops at (skipped here). Returns (calls made, calls)."""
    held = [(int(a), int(m)) for a, m in zip(*np.nonzero(v.size), strict=True)][:12]
    tab = np.array([*block["slots"], *held], dtype=np.int64)  # the drawn slots, then held ones
    n_slots, n_drawn = len(tab), len(block["slots"])
    close_slots = np.array([n_drawn + i % len(held) if held and i % 4 else i % n_slots
                            for i in block["closes"]], dtype=np.int64)  # fmt: skip
    opens = [(i % n_slots, side, size) for i, side, size in block["opens"]]
    open_slots = np.array([o[0] for o in opens], dtype=np.int64)
    open_side = np.array([o[1] for o in opens], dtype=np.int8)
    open_size = np.array([o[2] for o in opens], dtype=np.float64)
    n_close, n = len(close_slots), len(close_slots) + len(opens)
    cache, python_checks, fn = v._batch_inputs()
    python_checks = python_checks.copy()  # None: the venue's (a pause, a breaker's band)
    if block["python_checks"] is not None:
        python_checks[:] = False
        if block["python_checks"] >= 0:
            python_checks[block["python_checks"] % len(python_checks)] = True
    if block["fresh"]:
        v.updated_at[:] = v.now  # in place: a view of the packed ints
    slots, deltas = np.zeros(n, dtype=np.int64), np.zeros(n)
    outs, ok = np.zeros((n, jit_calls.N_BATCH_OUT)), np.zeros(n, dtype=bool)
    moves, acc = np.zeros((n, 3), dtype=np.int64), np.array([block["pool"], 3e20])

    def call(init: bool, start: int) -> int:
        return _both((init, start, n_close, close_slots, open_slots, open_side, open_size, tab,
                      python_checks, int(v.now), int(v.block), cache[1], cache[2],
                      v._market_floats, v._market_ints, v._position_floats,
                      v._position_ints, v.isolated, v.collateral, fn, slots, deltas, outs, ok,
                      moves, acc))  # fmt: skip

    stop = call(True, 0)
    if stop < 0:
        for j in np.flatnonzero(np.isnan(deltas[n_close:n])).tolist():
            try:
                deltas[n_close + j] = wad_delta(int(open_side[j]), float(open_size[j]))
            except (ValueError, OverflowError):  # NaN, inf: Python's error (the caller's)
                deltas[n_close + j] = 0.0
        stop = call(False, 0)
    while stop < n:
        stop = call(False, stop + 1)
    return int(ok.sum()), n


def test_flow_step_on_drawn_venues_and_blocks_is_its_former_form(base):  # noqa: F811
    """Drawn venues and blocks: every call of the block through both kernels gives the same
    return and arrays; some blocks make calls (closes and opens), some stop."""
    made = [0, 0]

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(draw=draws(), block=blocks())
    def run(draw, block):
        v = _setup(base, draw)
        for c in draw["calls"]:
            _call(v, c)
        done, n = _run_block(v, block)
        made[0] += done
        made[1] += n - done

    run()
    assert made[0] > 200 and made[1] > 200, made


def test_flow_step_on_oct_2025_is_its_former_form(monkeypatch):
    """oct-2025 on the mirror (fast, 720 steps, the shock at 600): each step's ``flow_step``
    call also through the former kernel, on copies: the same return and arrays."""
    from benchmarks.mirror import bench_scenario
    from simulator.mirror.sim import MirrorEngine

    new = jit_calls.flow_step
    seen = []

    def both(*args):
        old = _copies(args)
        want = old_flow_step(*old)
        got = new(*args)
        assert got == want
        for i, (a, b) in enumerate(zip(args, old, strict=True)):
            assert _same(a, b), (len(seen), i)
        seen.append(max(got, 0))  # the calls made from start 0 (a block resumed: more)
        return got

    monkeypatch.setattr(jit_calls, "flow_step", both)
    engine = MirrorEngine(bench_scenario("oct-2025", [], None, 720), mode="fast")
    engine.run(on_step=lambda o: None)
    assert len(seen) >= 720 and sum(seen) > 1000
