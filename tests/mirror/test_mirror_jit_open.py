"""The block's opening in one compiled call (:func:`simulator.mirror.sim.jit_open.open_block`,
session 29) held to the form it replaces (:func:`old_open`: the oracle's pushes, the
controller's poke, the funding index's step, the socialized check and the governance plan,
one Python call each, as :meth:`MirrorEngine.step` made them before; the breaker's histories
as lists, :class:`OldBreaker`):

- oct-2025 stepped a few hundred steps by two fast engines in lockstep, one on the Python
  path with the old breaker: every array of the engine state and of the venue equal to the
  bit after every step, and the breaker's histories (values and types);
- drawn inputs on copies of a running engine's state: outside prices, impacts, the AMM's
  prices (NaN among them: the Python path raises), the venues' noise, rates and socialized
  losses, pushes on their oracle's ``maxDeviationBps`` edge, outside the compiled rounding's
  range, a breaker history full (it grows), without feedback: the outcome and every written
  array equal to the old form's, the run's tables kept across the draws (the kernel's
  scratch in them written again by each call);
- 40 steps in lockstep without feedback, with a governance change (its submission's and its
  execution's steps on the Python path), with a margin controller (every step on it);
- the Python path where it must be (a margin controller, a governance call, exact mode);
- the run's noise table held to each step's own draws (the compiled draws and numpy's
  construction), the fast breaker's compiled TWAP to :func:`twap_of` on drawn histories."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from simulator.engine.state import advance_funding_index
from simulator.mirror.fixed import BPS
from simulator.mirror.sim import MirrorEngine, governance, jit_open, oracle
from simulator.mirror.sim.calls import Reverted, error_text
from simulator.mirror.sim.controls import twap_of
from simulator.scenario import load_scenario
from simulator.scenario.models import GovernanceChange

# -- the old form ---------------------------------------------------------------------------


class OldBreaker:
    """The breaker before session 29 (histories as lists of (time, price) tuples)."""

    def __init__(self, history):
        self.history = [list(h) for h in history]
        self._cache = {}

    def pushed(self, m, now, price):
        h = self.history[m]
        if h[-1][0] == now:
            h[-1] = (now, price)
        else:
            h.append((now, price))
        self._cache.clear()

    def pushed_many(self, codes, accepted, now, prices):
        for m, h in enumerate(self.history):
            if codes[m] == accepted:
                if h[-1][0] == now:
                    h[-1] = (now, prices[m])
                else:
                    h.append((now, prices[m]))
        self._cache.clear()

    def reference(self, venue, m, window):
        key = (m, venue.now, window)
        if key not in self._cache:
            self._cache[key] = twap_of(self.history[m], venue.now, window, venue.exact_mode)
        return self._cache[key]

    def check(self, venue, m, *, liquidation=False):
        params = venue.params_chain[m][0]
        band = int(params.get("circuitBreakerBandBps", 0))
        if band == 0 or (liquidation and not params.get("liquidationsHaltOnBreaker", False)):
            return
        price = venue.price[m]
        ref = self.reference(venue, m, int(params["circuitBreakerWindow"]))
        move = price - ref if price > ref else ref - price
        if move * BPS > band * ref:
            raise Reverted(error_text("CircuitBreakerTripped", market=m + 1, indexPrice=price,
                                      referencePrice=ref, bandBps=band))  # fmt: skip


def old_open(engine, ctx, s, venue, t, exo):
    """The step's lines from ``venue.begin_block`` (excluded) through ``governance.plan``
    before session 29: (transactions, socialized, planned rows, executed rows)."""
    transactions = oracle.push_prices(ctx, s, venue, t, exo, engine.oracle_model)
    transactions += engine.controls.poke(venue)
    last = engine._last_levels
    advance_funding_index(
        s, last["funding_rate_per_day"], engine.scenario.step_seconds, s.oracle_price_usd
    )
    socialized = bool((last["socialized_cum_usd"] > s.last_socialized_usd).any())
    s.last_socialized_usd = last["socialized_cum_usd"].copy()
    planned, executed, sent = governance.plan(ctx, s, venue, t)
    return transactions + sent, socialized, planned, executed


# -- comparisons ----------------------------------------------------------------------------


def _same(a, b) -> bool:
    """Equal to the bit (NaN where NaN), same dtype and shape."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == np.float64:
        return np.array_equal(a.view(np.int64), b.view(np.int64))
    return np.array_equal(a, b)


def assert_states_equal(s_new, s_old, where) -> None:
    for f in dataclasses.fields(s_new):
        a, b = getattr(s_new, f.name), getattr(s_old, f.name)
        if isinstance(a, np.ndarray):
            assert _same(a, b), (where, f.name)
        elif not dataclasses.is_dataclass(a):
            assert a == b, (where, f.name)


def assert_venues_equal(new, old, where) -> None:
    for name in ("_market_floats", "_market_ints", "_position_floats", "_position_ints",
                 "max_deviation_bps"):  # fmt: skip
        assert _same(getattr(new, name), getattr(old, name)), (where, name)
    assert (new.version, new.now, new.block) == (old.version, old.now, old.block), where
    for h_new, h_old in zip(new.breaker.history, old.breaker.history, strict=True):
        assert h_new == h_old, where
        assert [(type(a), type(p)) for a, p in h_new] == [(type(a), type(p)) for a, p in h_old]


def python_path(engine) -> None:
    """Put ``engine`` on the old form: the Python path every step and the old breaker."""
    e = engine
    tab = jit_open.tables(e.ctx, e.venue, e.oracle_model, e.scenario.step_seconds,
                          e.scenario.steps, e.controls)  # fmt: skip
    tab.eligible = False
    e.venue.breaker = OldBreaker(e.venue.breaker.history)


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("oct-2025")


# -- lockstep on oct-2025 -------------------------------------------------------------------


def test_lockstep_on_oct_2025(monkeypatch, scenario):
    new = MirrorEngine(scenario, mode="fast")
    old = MirrorEngine(scenario, mode="fast")
    python_path(old)
    assert jit_open.MEMO not in new.ctx.memo
    kernel, done = jit_open._open_block, []

    def counted(*args):
        got = kernel(*args)
        done.append(got[0])
        return got

    monkeypatch.setattr(jit_open, "_open_block", counted)
    for _ in range(360):
        a, b = new.step(), old.step()
        t = new.state.step
        assert a.rows == b.rows and a.events == b.events, t
        assert_states_equal(new.state, old.state, t)
        assert_venues_equal(new.venue, old.venue, t)
    # the compiled path every step (the old engine none), the histories grown on the way
    assert done.count(jit_open.DONE) == 360
    assert done.count(jit_open.HISTORY_FULL) == len(done) - 360 > 0
    assert new.ctx.memo[jit_open.MEMO].noisy
    assert isinstance(new.venue.breaker.count, np.ndarray)
    assert new.venue.breaker.times.shape[1] > 64  # the histories grew on the way


@pytest.mark.parametrize(
    "overrides,change_at,compiled",
    [(["controls.feedback=false"], None, 40), (["venue.timelock_delay_s=600"], 5, 38),
     (["controls.dynamic_margin=true"], None, 0)],
    ids=["no-feedback", "governance", "controller"],
)  # fmt: skip
def test_lockstep_variants(monkeypatch, overrides, change_at, compiled):
    """40 steps in lockstep without feedback, with a timelocked governance change (its
    submission's and its execution's steps on the Python path), with a margin controller
    (every step on it)."""
    scenario = load_scenario("oct-2025", overrides)
    if change_at is not None:
        scenario = with_change(scenario, step=change_at)
    new = MirrorEngine(scenario, mode="fast")
    old = MirrorEngine(scenario, mode="fast")
    python_path(old)
    kernel, done = jit_open._open_block, []

    def counted(*args):
        got = kernel(*args)
        done.append(got[0])
        return got

    monkeypatch.setattr(jit_open, "_open_block", counted)
    for _ in range(40):
        a, b = new.step(), old.step()
        t = new.state.step
        assert a.rows == b.rows and a.events == b.events, t
        assert_states_equal(new.state, old.state, t)
        assert_venues_equal(new.venue, old.venue, t)
    assert done.count(jit_open.DONE) == compiled
    if change_at is not None:
        assert new.state.governance.get("executed")


# -- drawn inputs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running(scenario):
    """A fast engine 40 steps into oct-2025."""
    e = MirrorEngine(scenario, mode="fast")
    for _ in range(40):
        e.step()
    return e


def _draw(rng, e, s, venue, ctx, feedback):
    """Draw the step's inputs into the copies ``s``, ``venue`` (and the levels): returns
    (t, exo, last)."""
    m = venue.n_markets
    t = s.step = s.step + 1
    venue.begin_block(venue.now + int(rng.integers(0, 3)) * 60)
    exo = e.exogenous_usd[t] * (1 + rng.normal(0, 0.02, m))
    s.permanent_log_impact = rng.normal(0, 0.01, m) * (rng.random(m) < 0.7)
    s.transient_log_impact = rng.normal(0, 0.01, m) * (rng.random(m) < 0.7)
    amm = s.amm_price_usd * (1 + rng.normal(0, 0.01, m))
    if rng.random() < 0.05:
        amm[rng.integers(0, m)] = np.nan
    s.amm_price_usd = amm
    bps = np.where(rng.random(m) < 0.3, 0, rng.integers(1, 2_000, m)).astype(np.int64)
    venue.max_deviation_bps[:] = bps
    if not feedback:  # the fed price is the exogenous one: put some on the band's edge
        units = np.round(venue.price / 1e10)
        whole = rng.random(m) < 0.5  # a previous price whose edge is a whole number of units
        units = np.where(whole, np.round(units / 1e4) * 1e4, units)
        venue.price[:] = units * 1e10
        kind = rng.integers(0, 5, m)
        sign = np.where(rng.random(m) < 0.5, -1.0, 1.0)
        edge = np.floor(units * bps / 1e4) + rng.integers(-1, 2, m)
        exo = np.where(kind == 1, (units + sign * edge) / 1e8, exo)
        exo = np.where(kind == 2, units * (1 + sign * 1.5 * bps / 1e4) / 1e8, exo)
        exo = np.where(kind == 3, np.nan, exo)
        exo = np.where(kind == 4, rng.choice([2.5e-7, 3e7, 5.0]), exo)
    last = dict(e._last_levels)
    last["funding_rate_per_day"] = rng.normal(0, 1e-3, m)
    cum = s.last_socialized_usd + np.where(rng.random(m) < 0.2, rng.random(m), 0.0)
    last["socialized_cum_usd"] = cum
    if rng.random() < 0.2:  # a history full: it grows
        br = venue.breaker
        cap = int(br.count.max())
        br.times, br.prices = br.times[:, :cap].copy(), br.prices[:, :cap].copy()
    return t, exo, last


@pytest.mark.parametrize("feedback", [True, False])
def test_drawn_openings_equal_the_old_form(running, feedback):
    rng = np.random.default_rng(2911 + feedback)
    e = running
    outcomes = {"compiled": 0, "python": 0, "raised": 0, "grew": 0, "socialized": 0}
    tab = None  # the run's tables, made at the first draw and kept: the kernel's scratch reused
    for n in range(150):
        ctx = copy.copy(e.ctx)
        ctx.memo, ctx.feedback = ({} if tab is None else {jit_open.MEMO: tab}), feedback
        s, venue = copy.deepcopy((e.state, e.venue))
        t, exo, last = _draw(rng, e, s, venue, ctx, feedback)
        cap = venue.breaker.times.shape[1]
        s_old, v_old = copy.deepcopy((s, venue))
        v_old.breaker = OldBreaker(venue.breaker.history)
        engine = copy.copy(e)
        engine._last_levels = last
        try:
            want = old_open(engine, ctx, s_old, v_old, t, exo.copy())
        except ValueError as exc:
            want = exc
        try:
            got = jit_open.open_block(ctx, s, venue, t, exo.copy(), e.oracle_model, last,
                                      e.scenario.step_seconds, e.controls)  # fmt: skip
            outcomes["compiled" if got is not None else "python"] += 1
            tab = ctx.memo.get(jit_open.MEMO, tab)
            if got is None:
                got = old_open(engine, ctx, s, venue, t, exo.copy())
            else:
                got = (*got, [], [])
        except ValueError as exc:
            got = exc
        if isinstance(want, ValueError):
            assert isinstance(got, ValueError) and str(got) == str(want), n
            outcomes["raised"] += 1
            continue
        assert got == want, n
        outcomes["socialized"] += want[1]
        outcomes["grew"] += venue.breaker.times.shape[1] > cap
        assert_states_equal(s, s_old, n)
        assert_venues_equal(venue, v_old, n)
    if not feedback:  # a NaN AMM price is no source: nothing raises
        del outcomes["raised"]
    assert min(outcomes.values()) > 0, outcomes


def test_python_path_with_a_controller_a_governance_call_or_exact_mode(scenario, running):
    e = running
    s, venue = copy.deepcopy((e.state, e.venue))
    t = s.step + 1
    args = (e.exogenous_usd[t], e.oracle_model, e._last_levels, e.scenario.step_seconds)
    ctx = copy.copy(e.ctx)
    ctx.memo = {}
    controls = copy.copy(e.controls)
    controls.controller = object()  # a margin controller: its poke is Python's
    assert jit_open.open_block(ctx, s, venue, t, *args, controls) is None
    assert governance.quiet(e.ctx, s, t)  # no change in oct-2025
    ctx = copy.copy(e.ctx)
    ctx.memo = {}
    ctx.scenario = with_change(scenario, step=t)
    assert not governance.quiet(ctx, s, t)
    assert jit_open.open_block(ctx, s, venue, t, *args, e.controls) is None
    s.governance = {"submitted": True, "executed": False, "ready_step": t + 1}
    assert governance.quiet(ctx, s, t) and not governance.quiet(ctx, s, t + 1)
    assert jit_open.open_block(ctx, s, venue, t, *args, e.controls) is not None
    exact = MirrorEngine(scenario, mode="exact")
    exact.step()
    assert not exact.ctx.memo[jit_open.MEMO].eligible


def with_change(scenario, *, step):
    """``scenario`` with a timelocked change of every market's max leverage at ``step``."""
    change = GovernanceChange(step=step, parameter="max_leverage", value=3, path="timelock")
    controls = scenario.controls.model_copy(update={"governance_change": change})
    return scenario.model_copy(update={"controls": controls})


# -- the noise table and the TWAP -----------------------------------------------------------


@pytest.mark.parametrize("compiled", [True, False])
def test_noise_table_is_each_steps_draws(monkeypatch, running, compiled):
    model = running.oracle_model
    if not compiled:
        monkeypatch.setattr(jit_open, "_state_words_of", lambda gen: None)
    steps, m, k = 300, running.venue.n_markets, len(model.lag_steps)
    table = jit_open.noise_factors(model, steps, m)
    assert table.shape == (steps + 1, k, m)
    for t in range(steps + 1):
        want = np.exp(model.noise_scale * model.noise.normal(t, (k, m)))
        assert _same(table[t], want), t


def test_compiled_twap_equals_twap_of():
    rng = np.random.default_rng(29)
    for n in range(400):
        count = int(rng.integers(1, 40))
        gaps = rng.choice([0, 1, 7, 60, 600], count)
        gaps[0] = 0
        times = int(rng.integers(0, 10**6)) + np.cumsum(gaps)
        prices = rng.integers(10**8, 10**14, count).astype(np.float64) * 1e10
        history = list(zip(times.tolist(), prices, strict=True))
        now = int(times[-1]) + int(rng.choice([0, 1, 30, 3_000]))
        window = int(rng.choice([0, 1, 60, 600, 3_600, 10**7]))
        want = twap_of(history, now, window, False)
        got = jit_open.twap(times.astype(np.int64), prices, count, now, window)
        assert float(got) == float(want) or (got != got and want != want), n
        assert np.float64(got).view(np.int64) == np.float64(want).view(np.int64), n
