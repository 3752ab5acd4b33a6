"""The order flow's plan kernel made cheaper (session 29, hZ: nothing allocated a step, the
group buckets and picks walk the eligible slots, both volatility windows in one two-pass walk
four markets at a time, PCG64 skips by a constant jump table) gives, bit for bit, what its
former form gave (``tests/engine/flow_jit_reference.py``, the module at 806a81c): every
output and state array, the counts, the generator's state after each step. Held on drawn
books step after step (``plan_arrays`` on either module), on oct-2025's steps on the mirror
(each step's inputs through both kernels), and piece by piece on drawn inputs (the windows'
standard deviations with NaN, inf, one and two rows; the intensity; the skips)."""

from __future__ import annotations

import copy

import flow_jit_reference as ref
import numpy as np
import pytest
from test_flow_plan import _bits, _same_state, drawn_case, steps_of
from test_flow_plan_step import generator_state, old_run_of

from simulator.agents import flow_jit
from simulator.engine import flow as engine_flow
from simulator.engine.flow import FlowPlan

#: Tables whose rows the rewrite extended: their first rows are the former form's.
_EXTENDED = {3: ref.SLOT_FIELDS, 5: ref.CODE_FIELDS, 10: ref.KM_FIELDS, 12: ref.MARKET_FIELDS}
#: plan_step's arguments: the intensities (valid up to the active count), the run's int table.
_LAM, _IPARAMS = 11, 8


def _same(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(_bits(a), _bits(b))


def _plan_old(ctx, s, t, levels, run, events):
    """``plan_arrays`` on the former kernels (``engine_flow``'s module swapped for the step)."""
    engine_flow.flow_jit = ref
    try:
        return engine_flow.plan_arrays(ctx, s, t, levels, run, events)
    finally:
        engine_flow.flow_jit = flow_jit


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(10))
def test_plan_arrays_equals_its_former_kernels_step_by_step(shared, seed):
    """Drawn books, step after step: the plan, rows, run fields, state and generator state of
    the rewritten kernel are the former kernel's; some step opens."""
    ctx, s, run, n_hist, levels = drawn_case(seed, shared)
    run_old, s_old = old_run_of(run), copy.deepcopy(s)
    opens = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in steps_of(n_hist):
            want_events: list[dict] = []
            want = _plan_old(ctx, s_old, t, levels, run_old, want_events)
            events: list[dict] = []
            got = engine_flow.plan_arrays(ctx, s, t, levels, run, events)
            assert type(got) is FlowPlan
            for a, b in zip(got, want, strict=True):
                assert _same(a, b)
            assert repr(events) == repr(want_events)
            assert run.close_reasons == run_old.close_reasons
            assert _same(run.planned_long_base, run_old.planned_long_base)
            assert _same(run.planned_short_base, run_old.planned_short_base)
            _same_state(s, s_old)
            assert generator_state(run) == generator_state(run_old)
            opens += len(got.open_slots)
    assert run.tables.words is not None
    if seed == 0:
        assert opens > 0


def test_mirror_oct_2025_each_steps_inputs_through_both_kernels(monkeypatch):
    """oct-2025 on the mirror (fast, 720 steps, the shock at 600): each step's ``plan_step``
    inputs also go through the former kernel (on copies, its tables the first rows of the
    run's): the same returns and arrays after the call, the generator's words included."""
    from benchmarks.mirror import bench_scenario
    from simulator.mirror.sim import MirrorEngine

    new = flow_jit.plan_step
    seen = []

    def both(*args):
        old_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        for i, n in _EXTENDED.items():
            old_args[i] = np.ascontiguousarray(old_args[i][:n])
        want = ref.plan_step(*old_args)
        got = new(*args)
        assert got == want
        n_active = args[_IPARAMS][flow_jit.I_N_ACTIVE]
        for i, (a, b) in enumerate(zip(args, old_args, strict=True)):
            if not isinstance(a, np.ndarray):
                continue
            if i in _EXTENDED:
                a = a[: _EXTENDED[i]]
            if i == _LAM:
                a, b = a[:n_active], b[:n_active]
            assert _same(np.ascontiguousarray(a), b), (len(seen), i)
        seen.append(got[2])
        return got

    monkeypatch.setattr(flow_jit, "plan_step", both)
    engine = MirrorEngine(bench_scenario("oct-2025", [], None, 720), mode="fast")
    engine.run(on_step=lambda o: None)
    assert len(seen) == 721 and sum(seen) > 1000


def _returns(rng, n_rows, n_markets):
    x = rng.normal(0.0, 0.01, (n_rows, n_markets))
    if rng.random() < 0.3:
        x[rng.random(x.shape) < 0.05] = np.nan
    if rng.random() < 0.2:
        x[rng.integers(n_rows), rng.integers(n_markets)] = np.inf
    if rng.random() < 0.2:
        x[:, rng.integers(n_markets)] = 0.0  # a flat market: sigma 0
    return x


@pytest.mark.parametrize("seed", range(40))
def test_window_stds_are_the_former_two_pass_stds(seed):
    """Both windows' standard deviations, four markets at a time, are the former kernel's
    column-wise two-pass ones (1 to 9 markets; windows of two rows up to the reference,
    the short one down to one row; NaN, inf and flat columns)."""
    rng = np.random.default_rng(seed)
    n_markets = int(rng.integers(1, 10))
    n_rows = int(rng.integers(3, 300))
    x = _returns(rng, n_rows, n_markets)
    first_long = int(rng.integers(0, n_rows - 1))
    last = int(rng.integers(first_long + 2, n_rows + 1))
    first_short = int(rng.integers(first_long, last))
    markets = np.full((flow_jit.MARKET_FIELDS, n_markets), 7.0)
    with np.errstate(invalid="ignore"):
        flow_jit._window_stds(markets, x, first_long, first_short, last)
        want_long = ref._std_returns(x, first_long, last)
        want_short = ref._std_returns(x, first_short, last)
    assert _same(markets[flow_jit.MARKET_VAR_LONG], want_long)
    assert _same(markets[flow_jit.MARKET_VAR_SHORT], want_short)
    assert np.all(markets[flow_jit.MARKET_MAX_LEVERAGE : flow_jit.MARKET_SHORT + 1] == 7.0)


@pytest.mark.parametrize("seed", range(30))
def test_intensity_is_the_former_kernels(seed):
    """The signals and intensity over drawn feeds (steps from the first on, funding rates
    with NaN and inf): the same sides, active groups and intensities, log returns and
    counts as the former kernel's."""
    rng = np.random.default_rng(seed)
    n_markets = int(rng.integers(1, 8))
    n_steps = int(rng.integers(1, 400))
    feed = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_steps, n_markets)), axis=0))
    if seed % 5 == 0:
        feed[rng.integers(n_steps), rng.integers(n_markets)] = np.nan
    logs = np.zeros((2, n_steps, n_markets))
    with np.errstate(invalid="ignore"):
        logs[flow_jit.LOG_PRICE] = np.log(feed)
    kinds = rng.random((flow_jit.KIND_FIELDS, 5))
    params = rng.random(flow_jit.PARAM_FIELDS) * np.array([1, 2, 20, 0.01, 0.05, 0.05, 1e-4, 1,
                                                           1, 1e-9])  # fmt: skip
    funding = rng.normal(0, 1e-4, n_markets)
    funding[rng.random(n_markets) < 0.2] = rng.choice([np.nan, np.inf, -np.inf, 0.0])
    iparams = np.zeros(flow_jit.INT_FIELDS, dtype=np.int64)
    iparams[flow_jit.I_LOOKBACK] = int(rng.integers(1, 40))
    iparams[flow_jit.I_REFERENCE] = iparams[flow_jit.I_LOOKBACK] + int(rng.integers(0, 250))
    km = np.zeros((flow_jit.KM_FIELDS, 5 * n_markets), dtype=np.int64)
    lam = np.zeros(5 * n_markets)
    markets = np.zeros((flow_jit.MARKET_FIELDS, n_markets))
    old = [km[: ref.KM_FIELDS].copy(), lam.copy(), iparams.copy(), logs.copy()]
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in sorted({0, 1, 2, *rng.integers(0, n_steps, 6).tolist(), n_steps - 1}):
            flow_jit._intensity(km, lam, kinds, params, iparams, logs, feed, funding, t,
                                markets)  # fmt: skip
            ref._intensity(old[0], old[1], kinds, params, old[2], old[3], feed, funding, t)
            n_active = iparams[flow_jit.I_N_ACTIVE]
            assert _same(iparams, old[2]) and _same(logs, old[3])
            assert _same(np.ascontiguousarray(km[: ref.KM_FIELDS]), old[0])
            assert _same(lam[:n_active], old[1][:n_active])


@pytest.mark.parametrize("seed", range(20))
def test_skip_by_the_jump_table_is_the_former_skip(seed):
    """A PCG64 state skipped ``n`` steps by the jump table is the former skip's (by steps or
    squaring): counts around the thresholds and the digits' edges, and large ones."""
    rng = np.random.default_rng(seed)
    low, high, inc_low, inc_high = (
        np.uint64(v) for v in rng.integers(0, 2**63, 4, dtype=np.uint64)
    )
    inc_low |= np.uint64(1)  # PCG64's increment is odd
    counts = [0, 1, 2, 3, 4, 5, 23, 24, 25, 63, 64, 65, 127, 4095, 4096, 4097, 262143, 262144]
    counts += rng.integers(0, 2**20, 10).tolist() + rng.integers(0, 2**62, 4).tolist()
    for n in counts:
        got = flow_jit._skip(low, high, inc_low, inc_high, n)
        assert got == ref._skip(low, high, inc_low, inc_high, n), n
