"""The keepers' kernels of a fast mirror step as rewritten in session 29 (hY:
:func:`simulator.engine.jit_rows.keepers_pending` without a per-step mask or watch list
allocated, the plan's reward summed over the candidates' rows only, and
:func:`~simulator.engine.jit_rows.keepers_watch`, the pass of a step without a read on a
third of the arguments;
:func:`~simulator.engine.jit_rows.read_candidates` sorting few units rather than marking a
mask of every unit) held bit for bit to their former forms
(``tests/mirror/keepers_pass_reference.py``):

- on drawn estimates, marks and calls around maintenance of an oct-2025 state mid-shock
  (with a backstop threshold too), including no call, more calls than units, a refresh, and
  the two-call protocol (status 1 without the funding at now);
- step by step along a whole oct-2025 path as a tune runs it: every call's inputs copied and
  given to the former form, every output and every array either writes compared."""

from __future__ import annotations

import numpy as np
import pytest
from keepers_pass_reference import old_keepers_pending, old_read_candidates

from benchmarks.mirror import bench_scenario
from simulator.engine import jit_rows
from simulator.engine.metrics import FIGURES_MEMO, StepFigures
from simulator.mirror.run import EVALUATION_EVENT_KINDS
from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim import keepers as mirror_keepers
from simulator.mirror.sim.keepers import FUSED_MEMO, HEALTH_AT

#: The rewritten kernels (the step-by-step test puts its checks in their places).
NEW_PENDING, NEW_WATCH = jit_rows.keepers_pending, jit_rows.keepers_watch
NEW_CANDIDATES = jit_rows.read_candidates

#: ``keepers_pending``'s arguments that :func:`~simulator.engine.jit_rows.keepers_watch` takes
#: (the units' arrays as its ``lean_t``: unit_t's 0, 1, 2, 4, 6).
WATCH_ARGS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 19)


def _engine(overrides: list[str] | None = None) -> MirrorEngine:
    sc = bench_scenario("oct-2025", overrides or [], None, None)
    e = MirrorEngine(sc, mode="fast", event_kinds=EVALUATION_EVENT_KINDS)
    e.ctx.memo[FIGURES_MEMO] = StepFigures(sc.steps, e.symbols, rows=False)
    return e


def _copy(x):
    """Arrays copied, tuples of arrays copied element by element, the rest as is."""
    if isinstance(x, np.ndarray):
        return x.copy()
    if isinstance(x, tuple):
        return tuple(_copy(v) for v in x)
    return x


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _same_args(a: tuple, b: tuple) -> bool:
    """Every array of two argument lists (into tuples) equal to the bit."""
    for x, y in zip(a, b, strict=True):
        if isinstance(x, tuple):
            if not _same_args(x, y):
                return False
        elif isinstance(x, np.ndarray) and not _same(x, y):
            return False
    return True


def check_pending(args: tuple) -> tuple:
    """The rewritten pass on ``args`` (written in place, as the step does) and the former
    form on a copy; every output and argument array compared. Returns the result."""
    old_args = list(_copy(args))
    out = args[-1]
    old_args[-1] = np.zeros((3, out.shape[1]), dtype=np.int64)
    want = old_keepers_pending(*old_args)
    got = NEW_PENDING(*args)
    assert tuple(got) == tuple(want), (got, want)
    _, n_watch, n_touched, _, n_targets = got
    for row, n in ((0, n_watch), (1, n_touched), (2, n_targets)):
        assert _same(out[row, :n], old_args[-1][row, :n]), row
    assert _same_args(args[:-1], tuple(old_args[:-1]))
    return got


def check_watch(args: tuple) -> tuple:
    """:func:`~simulator.engine.jit_rows.keepers_watch` on ``args`` (``keepers_pending``'s
    with ``have_fn`` False; in place) held to the former pass on a copy, as
    :func:`check_pending`."""
    assert args[9] is False
    old_args = list(_copy(args))
    out = args[-1]
    old_args[-1] = np.zeros((3, out.shape[1]), dtype=np.int64)
    want = old_keepers_pending(*old_args)
    unit_t = args[11]
    lean = [args[k] for k in WATCH_ARGS]
    lean[10] = (unit_t[0], unit_t[1], unit_t[2], unit_t[4], unit_t[6])
    got = NEW_WATCH(*lean)
    assert tuple(got) == tuple(want), (got, want)
    _, n_watch, n_touched, _, n_targets = got
    for row, n in ((0, n_watch), (1, n_touched), (2, n_targets)):
        assert _same(out[row, :n], old_args[-1][row, :n]), row
    assert _same_args(args[:-1], tuple(old_args[:-1]))
    return got


def check_candidates(args: tuple):
    old_args = _copy(args)
    want = old_read_candidates(*old_args)
    got = NEW_CANDIDATES(*args)
    assert got == want
    assert _same_args(args, old_args)
    return got


@pytest.fixture(scope="module", params=[[], ["controls.backstop_vault_usd=2000000"]],
                ids=["oct-2025", "backstop"])  # fmt: skip
def mid_run(request) -> MirrorEngine:
    """oct-2025 after 700 steps (the shock: units near and under maintenance)."""
    e = _engine(request.param)
    for _ in range(700):
        e.step()
    return e


def _pending_args(e, t, eq, mm, notional_row, notional, since, rows, everyone, have_fn, plan):
    ctx, s, venue = e.ctx, e.state, e.venue
    fused = ctx.memo.get(FUSED_MEMO) or mirror_keepers._fused(ctx, s, venue)
    consts, unit_t, fractions, _, fn, params, tiers, out, _ = fused
    if have_fn:
        params, tiers = venue.jit_buffers()[:2]
        fn = venue.funding_now()[1]
    tr = s.trader
    trader_t = (tr.size_base, tr.side, tr.entry_price_usd, tr.collateral_in_usd, tr.equity_usd,
                tr.maintenance_usd, tr.read_price_usd, tr.read_funding_index_usd,
                tr.read_margin_scale)  # fmt: skip
    view_t = (s.oracle_price_usd, s.funding_index_usd, s.margin_scale)
    venue_t = (venue.price, venue._position_floats, venue.isolated, venue.collateral, HEALTH_AT)
    return (eq, mm, notional, notional_row, since, rows, t, everyone, plan, have_fn, consts,
            unit_t, fractions, trader_t, view_t, venue_t, fn, params, tiers, out)  # fmt: skip


def test_the_kernels_equal_their_former_forms_on_drawn_inputs(mid_run):
    e = mid_run
    ctx, s = e.ctx, e.state
    units = ctx.units
    rng = np.random.default_rng(29)
    t = s.step + 1
    n_rows = len(s.trader.side)
    seen = {"read": 0, "status": 0, "targets": 0, "many": 0}
    for draw in range(48):
        everyone = draw % 12 == 11
        notional_row = s.trader.size_base * s.oracle_price_usd[ctx.world.book.market]
        notional = units.unit_sum(notional_row)
        mm = np.abs(units.unit_sum(s.trader.maintenance_usd))
        eq = units.unit_sum(s.trader.equity_usd)
        scale = rng.choice([0.5, 0.9, 0.999, 1.0, 1.003, 1.04, 1.2], size=units.count)
        eq = np.where(rng.random(units.count) < 0.3, mm * scale, eq)
        if draw % 8 == 3:
            eq[rng.integers(0, units.count, 5)] = np.nan
        since = np.where(rng.random(units.count) < 0.05, t - rng.integers(0, 5, units.count), -1)
        since = since.astype(np.int64)
        k = [0, 1, 12, 40, units.count + 7][draw % 5]  # no call ... more calls than units
        rows = rng.integers(0, n_rows, size=k).astype(np.int64)
        step = t + 240 - t % 240 if draw % 16 == 7 else t  # a refresh step
        plan = e.venue.backstop is None or draw % 2 == 0
        for have_fn in (False, True):
            args = _pending_args(e, step, eq.copy(), mm.copy(), notional_row, notional,
                                 since.copy(), rows, everyone, have_fn, plan)  # fmt: skip
            got = check_pending(args)
            if not have_fn:
                args = _pending_args(e, step, eq.copy(), mm.copy(), notional_row, notional,
                                     since.copy(), rows, everyone, have_fn, plan)  # fmt: skip
                assert check_watch(args) == got
            seen["status"] += got[0] == 1
            seen["read"] += got[3] > 0 and got[0] == 0
            seen["targets"] += got[4] > 0
            seen["many"] += k > units.count
            if got[0] == 0:
                out = args[-1]
                fused = ctx.memo[FUSED_MEMO]
                extra = units.unit_of_row[rng.integers(0, n_rows, size=draw % 3)]
                params, tiers = e.venue.jit_buffers()[:2]
                # the step's lists, then few units (sorted, not masked) with repeats
                for watch in (out[0, : got[1]], out[0, : got[1]][::-40][:25]):
                    check_candidates((
                        out[2, : got[4]].copy(), out[1, : got[2]].copy(), watch.copy(),
                        not everyone, np.concatenate([extra, extra]).astype(np.int64),
                        units.count, fused[1], args[13], args[14], args[15],
                        e.venue.funding_now()[1], params, tiers,
                    ))  # fmt: skip
    assert all(v > 0 for v in seen.values()), seen


def test_the_quiet_pass_equals_the_former_form_on_drawn_inputs(mid_run):
    """The pass of a step that watches no unit (session 30: the watch list and the marks
    counted first, :func:`~simulator.engine.jit_rows._quiet_counts`): every unit well above
    maintenance, but stale marks (a unit marked, then flat: its mark cleared), flat units
    under maintenance (never marked), NaN estimates; with and without the plan and calls.
    The marks written and the lists equal the former pass's."""
    e = mid_run
    ctx, s = e.ctx, e.state
    units = ctx.units
    rng = np.random.default_rng(30)
    t = s.step + 1
    t += 1 if t % 240 == 0 else 0  # not a refresh step
    n_rows = len(s.trader.side)
    seen = {"quiet": 0, "cleared": 0, "kept": 0}
    for draw in range(32):
        notional_row = s.trader.size_base * s.oracle_price_usd[ctx.world.book.market]
        notional = units.unit_sum(notional_row).copy()
        mm = np.abs(units.unit_sum(s.trader.maintenance_usd))
        eq = mm * rng.uniform(1.2, 4.0, units.count) + 1.0
        since = np.full(units.count, -1, dtype=np.int64)
        flat = rng.choice(units.count, size=1 + draw % 6, replace=False)
        notional[flat] = [0.0, -0.0][draw % 2]
        if draw % 4 != 3:  # stale marks: cleared by the pass (none when the plan is not ours)
            since[flat[: 1 + draw % 3]] = t - rng.integers(0, 9, size=len(flat[: 1 + draw % 3]))
        eq[flat[-1]] = mm[flat[-1]] * 0.5  # flat and under maintenance: never marked
        if draw % 5 == 2:
            eq[rng.integers(0, units.count, 4)] = np.nan
        rows = rng.integers(0, n_rows, size=[0, 3, 30][draw % 3]).astype(np.int64)
        plan = e.venue.backstop is None or draw % 2 == 0
        args = _pending_args(e, t, eq.copy(), mm.copy(), notional_row, notional, since.copy(),
                             rows, False, False, plan)  # fmt: skip
        got = check_watch(args)
        seen["quiet"] += got[1] == 0
        seen["cleared"] += bool(plan and (since >= 0).any() and (args[4] < 0).all())
        seen["kept"] += bool(not plan and (since >= 0).any() and _same(args[4], since))
    assert seen["quiet"] == 32 and seen["cleared"] > 0, seen
    assert e.venue.backstop is None or seen["kept"] > 0, seen


def test_the_kernels_equal_their_former_forms_step_by_step(monkeypatch):
    """A whole oct-2025 tune path, every call of the two kernels checked as it is made."""
    calls = {"pending": 0, "candidates": 0}

    def pending(*args):
        calls["pending"] += 1
        return check_pending(args)

    def candidates(*args):
        calls["candidates"] += 1
        return check_candidates(args)

    def watch(eq, mm, notional, notional_row, since, rows, t, everyone, plan, consts, lean_t,
              fractions, out):  # fmt: skip
        calls["watch"] += 1
        fused = e.ctx.memo[FUSED_MEMO]
        assert lean_t is fused[8] and out is fused[7] and consts is fused[0]
        args = _pending_args(e, t, eq, mm, notional_row, notional, since, rows, everyone, False,
                             plan)  # fmt: skip
        assert args[-1] is out
        return check_watch(args)

    calls["watch"] = 0
    monkeypatch.setattr(jit_rows, "keepers_pending", pending)
    monkeypatch.setattr(jit_rows, "keepers_watch", watch)
    monkeypatch.setattr(jit_rows, "read_candidates", candidates)
    e = _engine()
    e.run()
    assert calls["watch"] > e.scenario.steps and calls["candidates"] > 1000, calls
    assert calls["pending"] > 20, calls  # the steps with units to read
