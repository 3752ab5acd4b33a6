"""The keepers' segment of a fast mirror step, fused (:func:`simulator.mirror.sim.keepers.pending`,
:func:`~simulator.mirror.sim.keepers.read_candidates`, their kernels in
:mod:`simulator.engine.jit_rows`), held to the call-by-call form bit for bit:

- the health read (:func:`simulator.engine.jit_rows.units_health`) to the venue's compiled views
  (:func:`simulator.mirror.sim.levels.unit_health`: ``jit_calls.cross_health`` /
  ``isolated_health``) on drawn units of drawn venue states;
- the pending pass (watch list, touched units, confirmed units read and stored, ``eq`` / ``mm``
  written, the liquidatable marks and the plan) to the reference below on drawn estimates,
  marks and calls, and the step-end read to its reference;
- :func:`simulator.mirror.sim.adl.leave_deficit` to
  :func:`simulator.engine.keepers.may_leave_deficit` on drawn calls;
- a whole oct-2025 path as a tune runs it, step by step, to the same path on the Python path
  (``ctx.memo[FUSED_MEMO] = None``): every step's events and the traders' views.

The reference forms are the session-28 loop's lines, kept here."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.mirror import bench_scenario
from simulator.engine import jit_rows
from simulator.engine import keepers as engine_keepers
from simulator.engine.context import Action
from simulator.engine.metrics import FIGURES_MEMO, StepFigures
from simulator.mirror.run import EVALUATION_EVENT_KINDS
from simulator.mirror.sim import MirrorEngine, adl
from simulator.mirror.sim import keepers as mirror_keepers
from simulator.mirror.sim.keepers import FUSED_MEMO, HEALTH_AT
from simulator.mirror.sim.levels import unit_health

VIEWS = ("equity_usd", "maintenance_usd", "read_price_usd", "read_funding_index_usd",
         "read_margin_scale")  # fmt: skip


#: oct-2025 with a backstop vault: takeovers planned in Python, the confirm band's backstop
#: threshold in the kernel.
WITH_BACKSTOP = ["controls.backstop_vault_usd=2000000"]


def _engine(python_path: bool = False, overrides: list[str] | None = None) -> MirrorEngine:
    sc = bench_scenario("oct-2025", overrides or [], None, None)
    e = MirrorEngine(sc, mode="fast", event_kinds=EVALUATION_EVENT_KINDS)
    e.ctx.memo[FIGURES_MEMO] = StepFigures(sc.steps, e.symbols, rows=False)
    if python_path:
        e.ctx.memo[FUSED_MEMO] = None
    return e


@pytest.fixture(scope="module")
def mid_run() -> MirrorEngine:
    """oct-2025 after 700 steps (the shock is around then: units near and under maintenance)."""
    e = _engine()
    for _ in range(700):
        e.step()
    return e


def _old_pending(ctx, s, venue, t, eq, mm, notional_row, notional, trade_rows, everyone):
    """The session-28 loop's keepers' lines (no backstop vault)."""
    units = ctx.units
    watch = engine_keepers.watch_list(ctx, s, t, eq, mm, notional, everyone=everyone)
    touched = np.array(
        sorted(set(units.unit_of_row[np.asarray(trade_rows, dtype=np.int64)].tolist())),
        dtype=np.int64,
    )
    confirm = engine_keepers.confirm_list(
        ctx, watch, eq, mm, notional_row, touched, everyone=everyone
    )
    if len(confirm):
        got_eq, got_mm = unit_health(ctx, venue, confirm)
        ctx.units.store(s.trader, confirm, got_eq, got_mm, s.oracle_price_usd,
                        ctx.world.book.market, s.funding_index_usd, s.margin_scale)  # fmt: skip
        eq[confirm], mm[confirm] = got_eq, got_mm
    targets = mirror_keepers.plan(ctx, s, t, eq, mm, notional_row, notional)
    return watch, touched, len(confirm), targets


def _old_candidates(ctx, s, venue, targets, touched, watch, winner_rows, everyone):
    units = ctx.units
    chosen = np.zeros(units.count, dtype=bool)
    chosen[targets] = True
    chosen[touched] = True
    if winner_rows:
        chosen[units.unit_of_row[np.fromiter(winner_rows, dtype=np.int64)]] = True
    if not everyone:
        chosen[watch] = True
    candidates = np.flatnonzero(chosen)
    if len(candidates):
        got = unit_health(ctx, venue, candidates)
        ctx.units.store(s.trader, candidates, *got, s.oracle_price_usd, ctx.world.book.market,
                        s.funding_index_usd, s.margin_scale)  # fmt: skip


def _snapshot(s) -> dict:
    out = {k: getattr(s.trader, k).copy() for k in VIEWS}
    out["since"] = s.liquidatable_since.copy()
    return out


def _restore(s, snap: dict) -> None:
    for k in VIEWS:
        np.copyto(getattr(s.trader, k), snap[k])
    s.liquidatable_since = snap["since"].copy()


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def test_units_health_equals_the_venue_views_on_drawn_units(mid_run):
    e = mid_run
    ctx, venue = e.ctx, e.venue
    rng = np.random.default_rng(7)
    n = ctx.units.count
    fn = venue.funding_now()[1]
    params, tiers = venue.jit_buffers()[:2]
    unit_t = mirror_keepers._fused(ctx, e.state, venue)[1]
    isolated = np.flatnonzero(ctx.units.isolated)
    assert len(isolated) and len(isolated) < n  # both kinds drawn
    draws = [np.zeros(0, dtype=np.int64), np.array([0]), isolated[:1], isolated[:5]]
    draws += [np.sort(rng.choice(n, size=k, replace=False)) for k in (1, 7, 60, 400)]
    draws += [rng.integers(0, n, size=30)]  # repeats and any order
    for units in draws:
        units = units.astype(np.int64)
        got = jit_rows.units_health(units, unit_t[3], unit_t[4], unit_t[5], params, tiers,
                                    venue.price, venue._position_floats, venue.isolated,
                                    venue.collateral, fn, HEALTH_AT)  # fmt: skip
        want = unit_health(ctx, venue, units)
        assert _same(got[0], want[0]) and _same(got[1], want[1]), units[:10]


def test_pending_and_candidates_equal_the_old_lines_on_drawn_estimates(mid_run):
    e = mid_run
    ctx, s, venue = e.ctx, e.state, e.venue
    rng = np.random.default_rng(11)
    units = ctx.units
    t = s.step + 1
    confirmed = planned = 0
    for draw in range(40):
        everyone = draw % 10 == 9
        notional_row = s.trader.size_base * s.oracle_price_usd[ctx.world.book.market]
        notional = units.unit_sum(notional_row)
        eq0 = s.trader.equity_usd.copy()
        mm0 = np.abs(units.unit_sum(s.trader.maintenance_usd))
        eq0 = units.unit_sum(eq0)
        # Draw estimates around maintenance (in and out of the confirm band and the watch
        # ratio), marks, and the block's calls.
        scale = rng.choice([0.9, 0.999, 1.0, 1.003, 1.04, 1.2], size=units.count)
        eq0 = np.where(rng.random(units.count) < 0.3, mm0 * scale, eq0)
        since0 = np.where(rng.random(units.count) < 0.05, t - rng.integers(0, 4, units.count), -1)
        rows = rng.integers(0, len(s.trader.side), size=int(rng.integers(0, 12))).tolist()
        base = _snapshot(s)
        s.liquidatable_since = since0.astype(np.int64)
        eq_a, mm_a = eq0.copy(), mm0.copy()
        old = _old_pending(ctx, s, venue, t, eq_a, mm_a, notional_row, notional, rows, everyone)
        _old_candidates(ctx, s, venue, old[3], old[1], old[0], set(), everyone)
        want = _snapshot(s)
        _restore(s, base)
        s.liquidatable_since = since0.astype(np.int64)
        eq_b, mm_b = eq0.copy(), mm0.copy()
        got = mirror_keepers.pending(ctx, s, venue, t, eq_b, mm_b, notional_row, notional, rows,
                                     everyone)  # fmt: skip
        mirror_keepers.read_candidates(ctx, s, venue, got[3], got[1], got[0], set(), everyone)
        have = _snapshot(s)
        _restore(s, base)
        for a, b in zip(old, got[:4], strict=True):
            assert _same(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)), draw
        assert got[4] == 0
        confirmed += got[2] > 0
        planned += len(got[3]) > 0
        assert _same(eq_a, eq_b) and _same(mm_a, mm_b), draw
        for k in (*VIEWS, "since"):
            assert _same(want[k], have[k]), (draw, k)
    assert confirmed > 5 and planned > 5  # the draws read units and plan liquidations


@pytest.mark.parametrize("overrides", [[], WITH_BACKSTOP], ids=["oct-2025", "backstop"])
def test_an_oct_2025_path_equals_the_python_path_step_by_step(overrides):
    fused = _engine(overrides=overrides)
    python = _engine(python_path=True, overrides=overrides)
    assert (fused.venue.backstop is not None) == bool(overrides)
    while fused.state.step < fused.scenario.steps:
        a, b = fused.step(), python.step()
        t = fused.state.step
        assert a.events == b.events, t
        for k in VIEWS:
            assert _same(getattr(fused.state.trader, k), getattr(python.state.trader, k)), (t, k)
        assert _same(fused.state.liquidatable_since, python.state.liquidatable_since), t
    assert fused.ctx.memo[FUSED_MEMO] is not None and python.ctx.memo[FUSED_MEMO] is None


def test_leave_deficit_equals_may_leave_deficit_on_drawn_calls(mid_run):
    e = mid_run
    ctx, s = e.ctx, e.state
    rng = np.random.default_rng(5)
    n, m = ctx.units.count, len(e.symbols)
    answers = set()
    for draw in range(200):
        targets = rng.choice(n, size=int(rng.integers(0, 20)), replace=False).astype(np.int64)
        mm = rng.random(n) * 1e4
        # one fraction of maintenance a draw, around the confirm band (0.005): the answer
        # then turns on the bound's terms
        eq = mm * rng.choice([-0.5, 0.0, 0.001, 0.004, 0.0049, 0.0051, 0.006, 0.01, 0.2, 1.0])
        oi_long, oi_short = rng.random(m) * 1e3, rng.random(m) * 1e3
        old = engine_keepers.may_leave_deficit(
            ctx, s, [Action(None, "liquidate", -1, -1, int(u)) for u in targets], eq, mm,
            oi_long, oi_short,
        )  # fmt: skip
        got = adl.leave_deficit(ctx, s, targets, eq, mm, oi_long, oi_short)
        assert got is old, draw
        answers.add(got)
    assert answers == {True, False}
