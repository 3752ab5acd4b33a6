"""The order flow's plan in one compiled call a step (``simulator.engine.flow.plan_arrays`` on
``simulator.agents.flow_jit.plan_step``: ``plan_before``, the step's draws from numpy's PCG64
inside the kernel, ``plan_after``) gives, bit for bit, what the plan of session 28 gave (kept
below verbatim: :func:`plan_arrays_before`, ``plan_before``, numpy's draws from the step's
``StepStream`` generator, ``plan_after``): the plan's arrays (closes, reasons, opens, sides,
sizes), the ``order_flow_unfilled`` rows, the planned change of open interest, every state
array, and the flow stream's generator's state after each step (the stream ends where it
ended). On drawn books at several steps, over oct-2025's steps on the mirror, and on the rare
paths: exit steps left to ``recheck_exit_steps``, a step beyond the states table, no state
views (numpy draws), a Poisson mean numpy refuses."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from test_flow_plan import _bits, _same_state, compare_step, drawn_case, steps_of

from simulator.agents import flow as flow_agents
from simulator.agents import flow_jit
from simulator.engine import flow as engine_flow
from simulator.engine.events import event_row
from simulator.engine.flow import FlowPlan, kernel_tables, unfilled_detail
from simulator.scenario import randomness
from simulator.scenario.flow import FLOW_KINDS


def plan_arrays_before(ctx, s, t: int, levels: dict, run, step_events: list[dict]) -> FlowPlan:
    """``plan_arrays`` of session 28, verbatim (its draws numpy's, from ``run.steps``)."""
    fj = flow_jit
    tables = run.tables
    feed = s.feed_prices_usd
    if tables is None or tables.feed is not feed:  # the log table is this feed array's
        tables = kernel_tables(run, ctx, feed)
    iparams = tables.iparams
    logged = iparams[fj.I_LOGGED]
    if logged <= t:  # numpy's log of the feed rows not logged yet (one a step)
        block, out = feed[logged : t + 1], tables.logs[fj.LOG_PRICE, logged : t + 1]
        if np.minimum.reduce(block, axis=None) > 0.0:  # np.log warns on a zero, < 0 or NaN
            np.log(block, out=out)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                np.log(block, out=out)
    funding = levels["funding_rate_per_hour"]
    if type(funding) is not np.ndarray or funding.dtype != np.float64:
        funding = np.asarray(funding, dtype=np.float64)
    tr, slots, codes, work, km = s.trader, tables.slots, tables.codes, tables.work, tables.km
    fj.plan_before(
        slots, tables.units, codes, tables.kinds, tables.params, iparams, work, km, tables.lam,
        tables.markets, tables.logs, feed, funding, s.oracle_price_usd, tr.read_price_usd,
        tr.side, tr.size_base, tr.equity_usd, tr.maintenance_usd, s.outcome, s.outcome_step,
        s.flow_exit_step, s.flow_open_equity_usd, s.opens, t,
    )  # fmt: skip
    rng = flow_agents.step_rng(run.stream, t) if run.steps is None else run.steps.generator(t)
    # numpy's poisson(lam) of the (K, M) intensities draws group after group and nothing for a
    # zero intensity: the same draws, one scalar call per group with arrivals expected.
    drawn, poisson = km[fj.KM_DRAWN], rng.poisson
    for i, lam in enumerate(tables.lam[: iparams[fj.I_N_ACTIVE]].tolist()):
        drawn[i] = poisson(lam)
    rng.random(out=work[fj.WORK_KEY : fj.WORK_KEY + flow_agents.DRAWS_PER_SLOT])  # (4, R)
    log_keep = work[fj.WORK_LOG_KEEP]
    np.negative(work[fj.WORK_HOLD], out=log_keep)
    np.log1p(log_keep, out=log_keep)  # numpy's log1p(-u) of the holding-time uniforms
    n_open, any_unfilled = fj.plan_after(
        slots, codes, tables.kinds, tables.params, iparams, work, km, tables.markets, feed, t,
        tr.side, s.flow_open_equity_usd, s.flow_exit_step,
    )  # fmt: skip
    markets, n_close = tables.markets, iparams[fj.I_N_CLOSE]
    run.planned_long_base = markets[fj.MARKET_LONG]
    run.planned_short_base = markets[fj.MARKET_SHORT]
    close_slots = slots[fj.STEP_CLOSE, :n_close]
    close_reason = codes[fj.CODE_CLOSE_REASON, :n_close]
    run.closes = (close_slots, close_reason)
    if any_unfilled and ctx.keeps("order_flow_unfilled"):
        n_markets, symbols = ctx.n_markets, ctx.symbols
        arrivals, unfilled = km[fj.KM_COUNT].tolist(), km[fj.KM_UNFILLED]
        for g in unfilled.nonzero()[0].tolist():  # kind-major, as np.nonzero of (K, M)
            k, m = divmod(g, n_markets)
            detail = unfilled_detail(FLOW_KINDS[k], arrivals[g], int(unfilled[g]))
            step_events.append(
                event_row(t, "order_flow_unfilled", market=symbols[m], detail=detail)
            )
    return FlowPlan(close_slots, close_reason, slots[fj.STEP_OPEN, :n_open],
                    codes[fj.CODE_OPEN_SIDE, :n_open], work[fj.WORK_OPEN_SIZE, :n_open])  # fmt: skip


def generator_state(run) -> dict:
    """The state of this thread's generator of the run's flow ``StepStream``."""
    return run.steps._local.generator[0].bit_generator.state


def old_run_of(run):
    """The run as the old form plans it: its own ``StepStream`` (generator) and tables."""
    return dataclasses.replace(run, steps=flow_agents.step_generators(run.stream), tables=None)


def compare(ctx, s, t: int, levels: dict, run, run_old, s_old, before=None) -> FlowPlan:
    """``plan_arrays`` on ``s`` / ``run`` and the old form on ``s_old`` / ``run_old`` (their
    copies, planned step after step alongside): the same plan, rows, run fields, state and
    generator state. ``before(tables)`` runs on the new run's tables first."""
    events_want: list[dict] = []
    want = plan_arrays_before(ctx, s_old, t, levels, run_old, events_want)
    if before is not None:
        if run.tables is None:
            run.tables = kernel_tables(run, ctx, s.feed_prices_usd, t)
        before(run)
    events: list[dict] = []
    got = engine_flow.plan_arrays(ctx, s, t, levels, run, events)
    assert type(got) is FlowPlan and len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.dtype == b.dtype and np.array_equal(_bits(a), _bits(b))
    assert events == events_want and repr(events) == repr(events_want)
    assert run.close_reasons == run_old.close_reasons
    for a, b in ((run.planned_long_base, run_old.planned_long_base),
                 (run.planned_short_base, run_old.planned_short_base)):  # fmt: skip
        assert a.dtype == b.dtype and np.array_equal(_bits(a), _bits(b))
    _same_state(s, s_old)
    assert generator_state(run) == generator_state(run_old)
    return got


def _drawn(seed: int, shared: bool):
    ctx, s, run, n_hist, levels = drawn_case(seed, shared)
    return ctx, s, run, n_hist, levels, old_run_of(run), copy.deepcopy(s)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(12))
def test_the_plan_in_one_call_equals_the_plan_of_session_28(shared, seed):
    """Drawn books, at several steps: the plan, rows, state and generator state are the old
    form's; at least one step of the kernel's common path has opens."""
    ctx, s, run, n_hist, levels, run_old, s_old = _drawn(seed, shared)
    opens = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in steps_of(n_hist):
            opens += len(compare(ctx, s, t, levels, run, run_old, s_old).open_slots)
    assert run.tables.words is not None  # the kernel drew
    if seed == 0:
        assert opens > 0


@pytest.mark.parametrize("seed", range(8))
def test_every_exit_step_left_to_the_recheck_is_the_old_forms(seed):
    """With the margin around a whole holding time infinite every open's exit step is left
    to ``recheck_exit_steps`` (numpy's ``log1p`` of the row): the same as the old form."""
    ctx, s, run, n_hist, levels, run_old, s_old = _drawn(seed, bool(seed % 2))
    rechecked = 0

    def everything(run):
        run.tables.params[flow_jit.P_HOLD_MARGIN] = np.inf

    with np.errstate(divide="ignore", invalid="ignore"):
        for t in steps_of(n_hist):
            n_open = len(compare(ctx, s, t, levels, run, run_old, s_old, before=everything)[2])
            assert run.tables.iparams[flow_jit.I_N_RECHECK] == n_open
            rechecked += n_open
    if seed == 0:
        assert rechecked > 0


@pytest.mark.parametrize("seed", range(6))
def test_a_step_beyond_the_states_table_draws_by_numpy_then_the_table_grows(seed):
    """A states table that ends before the step: numpy draws that step (the same plan and
    generator state), and the next step the kernel draws from the stream's longer table."""
    ctx, s, run, n_hist, levels, run_old, s_old = _drawn(seed, bool(seed % 2))
    short = []

    def cut(run):
        short.append(len(run.tables.states))
        run.tables = dataclasses.replace(run.tables, states=run.tables.states[:t])

    with np.errstate(divide="ignore", invalid="ignore"):
        for t in steps_of(n_hist):
            compare(ctx, s, t, levels, run, run_old, s_old, before=cut)
            assert len(run.tables.states) > t + 1  # grown back for the next step
        t = n_hist + 3  # a step past the history's rows: the table reaches it
        s.feed_prices_usd = s_old.feed_prices_usd = np.vstack(
            [s.feed_prices_usd, np.repeat(s.feed_prices_usd[-1:], 4, axis=0)]
        )
        run.tables = run_old.tables = None
        compare(ctx, s, t, levels, run, run_old, s_old)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_without_state_views_numpy_draws_the_plan_before_session_27(monkeypatch, shared, seed):
    """Where the probe of the generator's memory fails (another layout) the plan draws by
    numpy, ``plan_before`` / ``plan_after`` around: the plan before session 27 (the
    ``step_orders`` reference of ``test_flow_plan``), calls, rows and state."""
    monkeypatch.setattr(randomness, "_state_words", lambda bit_generator: (None, None))
    ctx, s, run, n_hist, levels = drawn_case(seed, shared)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in steps_of(n_hist):
            compare_step(ctx, s, t, levels, run)
    assert run.tables.words is None


def test_a_poisson_mean_numpy_refuses_raises_as_numpy_does():
    """A NaN intensity (a NaN rate): the kernel draws nothing, numpy's ``poisson`` raises
    its ValueError, as the old form's."""
    ctx, s, run, n_hist, levels, run_old, s_old = _drawn(0, False)
    for r, state in ((run, s), (run_old, s_old)):
        r.tables = kernel_tables(r, ctx, state.feed_prices_usd)
        r.tables.kinds[flow_jit.KIND_RATE_PER_HOUR, :] = np.nan
    t = n_hist - 1
    with pytest.raises(ValueError) as old, np.errstate(divide="ignore", invalid="ignore"):
        plan_arrays_before(ctx, s_old, t, levels, run_old, [])
    with pytest.raises(ValueError) as new, np.errstate(divide="ignore", invalid="ignore"):
        engine_flow.plan_arrays(ctx, s, t, levels, run, [])
    assert str(new.value) == str(old.value)


def test_mirror_oct_2025_step_by_step(monkeypatch):
    """oct-2025's first 900 steps (the shock at 600) on the fast mirror (every event kind
    kept, as a run folder: the ``order_flow_unfilled`` rows too; a tuning path runs the same
    kernel): every step's plan and rows equal the old form's on a copy of the run's own
    state, the flow stream's generator where the old form leaves it."""
    from benchmarks.mirror import bench_scenario
    from simulator.mirror.sim import MirrorEngine

    seen, olds, unfilled = [], {}, []
    plan_arrays = engine_flow.plan_arrays

    def compared(ctx, s, t, levels, run, step_events):
        if id(run) not in olds:
            olds[id(run)] = old_run_of(run)
        run_old, s_old, events_old = olds[id(run)], copy.deepcopy(s), []
        want = plan_arrays_before(ctx, s_old, t, levels, run_old, events_old)
        got = plan_arrays(ctx, s, t, levels, run, step_events)
        for a, b in zip(got, want, strict=True):
            assert a.dtype == b.dtype and np.array_equal(_bits(a), _bits(b))
        assert step_events == events_old and repr(step_events) == repr(events_old)
        unfilled.extend(step_events)
        _same_state(s, s_old)
        assert generator_state(run) == generator_state(run_old)
        seen.append(len(got.open_slots) + len(got.close_slots))
        return got

    monkeypatch.setattr(engine_flow, "plan_arrays", compared)
    sc = bench_scenario("oct-2025", [], None, 900)
    engine = MirrorEngine(sc, mode="fast")
    engine.run(on_step=lambda o: None)
    assert len(seen) == 901 and sum(seen) > 5000 and len(unfilled) > 50
    assert engine.flow.tables.words is not None
