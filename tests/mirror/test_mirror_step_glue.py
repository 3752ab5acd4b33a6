"""The fast mirror step's glue of session 29 (hA2) held to the forms it replaced, step by step:

- the market-making vault's batch through :meth:`~simulator.mirror.sim.venue_trades.
  TradesMixin.trade_batch_moves` (the pool, the fund and the ``_open`` moves computed in
  :func:`~simulator.mirror.sim.jit_calls.trade_batch_moves`) against the Python wrapper it
  replaced there, :meth:`~simulator.mirror.sim.venue_trades.TradesMixin.trade_batch` (kept
  in production for the rarer callers, the reference here), on drawn batches of calls (drawn
  accounts, markets, kinds, deltas, zeros and calls left to Python) on the venue of a running
  oct-2025, the fund's side exercised (a fee share of the insurance fund);
- the vault's reads after a block (:func:`~simulator.mirror.sim.mm_vault.with_levels`) in one
  compiled call (:func:`~simulator.mirror.sim.jit_calls.vault_health_reads`) against the two
  it replaced (``cross_health`` then ``vault_reads``, through ``funding()`` and
  ``jit_buffers()``: :func:`old_with_levels`), and the kernel against that pair on drawn
  accounts of the running venue (cross and isolated positions, flat ones);
- the LP phase skipped when :func:`simulator.engine.lps.lps_may_withdraw` says the planner
  plans nothing, against the step that runs the phase every step (the old form), on oct-2025
  and on oct-2025 with a backstop vault and LPs that withdraw early (AMMs and the vault).

Two fast engines, the new form's and the old form's, are stepped side by side and compared
after every step: the step's rows and events, the venue's state (positions, open interest,
funding, pool, fund, ``_open`` order, version), the traders' and LPs' state and the agents'
random stream."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.engine import lps as engine_lps
from simulator.engine import mm_vault_jit as vault_jit
from simulator.mirror.sim import MirrorEngine, jit_calls
from simulator.mirror.sim import mm_vault as mirror_vault
from simulator.mirror.sim.venue import VenueState
from simulator.scenario import load_scenario

VENUE_FIELDS = ("size", "entry", "snapshot", "margin", "collateral", "long_oi", "short_oi",
                "long_index", "short_index", "fees", "isolated")  # fmt: skip
STATE_FIELDS = ("opens", "opened_step", "outcome", "outcome_step", "peak_price_usd",
                "lps_withdrew", "oracle_price_usd", "mm_vault_size_base",
                "mm_vault_planned_base", "realized_pnl_usd")  # fmt: skip


def old_trade_batch_moves(venue, start, calls, values, outs, moves, acc) -> int:
    """The vault's batch as it was made before (the old form): the Python wrapper
    :meth:`~simulator.mirror.sim.venue_trades.TradesMixin.trade_batch` (its pool, fund and
    ``_open`` loop over the calls made), ``moves`` and ``acc`` unused."""
    stop, _ = venue.trade_batch(start, calls, values, outs)
    return stop


def old_with_levels(ctx, venue, levels):
    """:func:`~simulator.mirror.sim.mm_vault.with_levels`' compiled read as it was (the old
    form): ``funding()``, ``jit_buffers()``, ``cross_health`` then ``vault_reads``."""
    tab = ctx.memo["mm_vault_tab"] if "mm_vault_tab" in ctx.memo else None
    if tab is None or not tab.compiled:
        return REAL_WITH_LEVELS(ctx, venue, levels)
    size = venue.size[tab.account]
    f = venue.funding()
    params, tiers = venue.jit_buffers()[:2]
    health = np.empty((3, 1))  # the tab's (3, 1) array, before it became one with the sizes
    equity, maintenance, initial = health
    jit_calls.cross_health(tab.rows, params, tiers, venue.price, venue._position_floats,
                           venue.isolated, venue.collateral, f.long_funding_index,
                           f.short_funding_index, f.long_open_interest,
                           f.short_open_interest, True, equity, maintenance,
                           initial)  # fmt: skip
    size_base, wad = tab.size_base, tab.size_wad
    usd = vault_jit.vault_reads(size, health, size_base)
    wad[:] = list(size)
    levels["mm_vault_size_wad"] = wad
    levels["mm_vault_size_base"] = size_base
    levels["mm_vault_equity_usd"] = usd[0]
    levels["mm_vault_maintenance_usd"] = usd[1]
    levels["mm_vault_initial_usd"] = usd[2]
    return levels


REAL_WITH_LEVELS = mirror_vault.with_levels
VAULT_LEVELS = ("mm_vault_size_base", "mm_vault_equity_usd", "mm_vault_maintenance_usd",
                "mm_vault_initial_usd")  # fmt: skip


def _health_side_by_side(draw, venue: VenueState, t: int) -> None:
    """:func:`jit_calls.vault_health_reads` against ``cross_health`` then ``vault_reads`` on
    drawn accounts of ``venue`` (the funding at now, the run's packed parameters)."""
    f, fn = venue.funding_now()
    params, tiers = venue.jit_buffers()[:2]
    n = venue.size.shape[1]
    for a in draw.integers(0, venue.size.shape[0], 12).tolist():
        rows = np.array([a], dtype=np.int64)
        reads = np.full(3 + n, np.nan)  # health (WAD), then the sizes (base units)
        want_health, want_base = np.full((3, 1), np.nan), np.full(n, np.nan)
        got = jit_calls.vault_health_reads(
            a, params, tiers, venue._market_floats, venue._position_floats, venue.isolated,
            venue.collateral, fn, f.long_open_interest, f.short_open_interest, reads,
        )  # fmt: skip
        got_health, got_base = reads[:3].reshape(3, 1), reads[3:]
        eq, mm, im = want_health
        jit_calls.cross_health(rows, params, tiers, venue.price, venue._position_floats,
                               venue.isolated, venue.collateral, f.long_funding_index,
                               f.short_funding_index, f.long_open_interest,
                               f.short_open_interest, True, eq, mm, im)  # fmt: skip
        want = vault_jit.vault_reads(venue.size[a], want_health, want_base)
        assert got_health.tobytes() == want_health.tobytes(), f"step {t}, account {a}"
        assert got_base.tobytes() == want_base.tobytes(), f"step {t}, account {a}"
        assert np.array(got).tobytes() == np.array(want).tobytes(), f"step {t}, account {a}"


def _same_events(got, want, t: int) -> None:
    assert got.rows == want.rows, f"step {t}: rows"
    assert len(got.events) == len(want.events), f"step {t}: events"
    for x, y in zip(got.events, want.events, strict=True):
        assert x.keys() == y.keys() and all(
            x[k] == y[k] or (x[k] != x[k] and y[k] != y[k]) for k in x
        ), f"step {t}: {x} != {y}"


def _same_engines(a: MirrorEngine, b: MirrorEngine, t: int) -> None:
    va, vb = a.venue, b.venue
    for name in VENUE_FIELDS:
        x, y = getattr(va, name), getattr(vb, name)
        assert np.array_equal(x, y, equal_nan=True), f"step {t}: venue.{name}"
    for name in STATE_FIELDS:
        x, y = getattr(a.state, name), getattr(b.state, name)
        assert np.array_equal(x, y, equal_nan=True), f"step {t}: state.{name}"
    assert a.state.vault_lps_withdrew == b.state.vault_lps_withdrew, f"step {t}: vault LPs"
    assert a.state.transactions == b.state.transactions, f"step {t}: transactions"
    assert type(va.pool) is type(vb.pool) and va.pool == vb.pool, f"step {t}: pool"
    assert type(va.fund) is type(vb.fund) and va.fund == vb.fund, f"step {t}: fund"
    assert va.open_order == vb.open_order, f"step {t}: _open order"
    assert va.version == vb.version and va.kept == vb.kept, f"step {t}: version"
    assert a.spot.reserve_collateral == b.spot.reserve_collateral, f"step {t}: AMM reserves"
    assert a.spot.reserve_base == b.spot.reserve_base, f"step {t}: AMM reserves"
    backstop_a, backstop_b = va.backstop, vb.backstop
    if backstop_a is not None:
        assert backstop_a.supply == backstop_b.supply, f"step {t}: vault shares"
        assert backstop_a.idle_units == backstop_b.idle_units, f"step {t}: vault idle"
    assert a.rng.bit_generator.state == b.rng.bit_generator.state, f"step {t}: stream"
    la, lb = a._last_levels, b._last_levels
    for key in VAULT_LEVELS:
        if key in lb:
            x, y = np.asarray(la[key]), np.asarray(lb[key])
            assert x.tobytes() == y.tobytes(), f"step {t}: levels {key}"
    if "mm_vault_size_wad" in lb:
        assert la["mm_vault_size_wad"].tolist() == lb["mm_vault_size_wad"].tolist()


def _drawn_batch(draw, venue: VenueState, n: int):
    """``n`` drawn calls in :func:`jit_calls.trade_batch`'s form: accounts among those with a
    position (and any), markets, kinds (mostly trades and closes, some left to Python),
    deltas in WAD of drawn size and sign (some 0), price bounds 0."""
    size = venue.size
    held = np.argwhere(size != 0)
    calls = np.zeros((n, 3), dtype=np.int64)
    values = np.zeros((n, 2))
    for i in range(n):
        if len(held) and draw.random() < 0.7:
            a, m = held[draw.integers(len(held))]
        else:
            a, m = draw.integers(size.shape[0]), draw.integers(size.shape[1])
        kind = draw.choice([jit_calls.K_TRADE, jit_calls.K_CLOSE, jit_calls.K_PYTHON],
                           p=[0.6, 0.3, 0.1])  # fmt: skip
        calls[i] = a, m, kind
        if kind == jit_calls.K_TRADE and draw.random() > 0.1:  # else a trade of 0
            scale = abs(size[a, m]) if size[a, m] != 0 else 1e18
            values[i, jit_calls.V_DELTA] = float(
                np.trunc(draw.choice([-1.0, 1.0]) * scale * 10 ** draw.uniform(-3, 0.5))
            )
    return calls, values


def _batch_side_by_side(draw, a: MirrorEngine, b: MirrorEngine, t: int, seen: dict) -> None:
    """A drawn batch made on both venues, the new form on ``a``'s, the old on ``b``'s, each
    call the batch stops at skipped (the caller's): the stops and outs compared."""
    n = int(draw.integers(1, 30))
    calls, values = _drawn_batch(draw, a.venue, n)
    outs_a, outs_b = np.zeros((n, jit_calls.N_BATCH_OUT)), np.zeros((n, jit_calls.N_BATCH_OUT))
    moves, acc = np.zeros((n, 3), dtype=np.int64), np.zeros(2)
    i = 0
    while i < n:
        stop = a.venue.trade_batch_moves(i, calls, values, outs_a, moves, acc)
        want = old_trade_batch_moves(b.venue, i, calls, values, outs_b, None, None)
        assert stop == want, f"step {t}: batch stopped at {stop}, not {want}"
        assert outs_a[i:stop].tobytes() == outs_b[i:stop].tobytes(), f"step {t}: outs"
        seen["made"] += stop - i
        seen["stops"] += stop < n
        i = stop + 1
    _same_engines(a, b, t)


def _lockstep(scenario, steps: int, *, fee_share_bps: float = 0.0, batches=None) -> dict:
    """The new form's engine ``a`` and the old form's ``b`` (the vault's batch through the
    Python wrapper, the LP phase run every step), stepped ``steps`` times and compared after
    each; counts of what was exercised."""
    a = MirrorEngine(scenario, mode="fast")
    b = MirrorEngine(scenario, mode="fast")
    for engine in (a, b):
        engine.venue.markets.insurance_fee_share_bps[:] = fee_share_bps
        engine.venue._jit_cache = None  # the kernels' packed parameters, packed again
    seen = {"made": 0, "stops": 0, "skipped": 0, "lp_steps": 0, "vault_steps": 0, "lp_rows": 0}
    fund = a.venue.fund
    real_may, real_moves = engine_lps.lps_may_withdraw, VenueState.trade_batch_moves
    calls_of_b = {"moves": 0}

    def old_moves(venue, start, calls, values, outs, moves, acc):
        calls_of_b["moves"] += 1
        return old_trade_batch_moves(venue, start, calls, values, outs, moves, acc)

    def always(ctx, s):
        return ctx.scenario.lps.withdraw_on_drawdown is not None  # the old step: every step

    def counted(ctx, s):
        got = real_may(ctx, s)
        seen["skipped" if not got else "lp_steps"] += 1
        return got

    for _ in range(steps):
        t = a.state.step + 1
        engine_lps.lps_may_withdraw = counted
        try:
            got = a.step()
        finally:
            engine_lps.lps_may_withdraw = real_may
        engine_lps.lps_may_withdraw, VenueState.trade_batch_moves = always, old_moves
        mirror_vault.with_levels = old_with_levels
        try:
            before = calls_of_b["moves"]
            want = b.step()
            seen["vault_steps"] += calls_of_b["moves"] > before
        finally:
            engine_lps.lps_may_withdraw, VenueState.trade_batch_moves = real_may, real_moves
            mirror_vault.with_levels = REAL_WITH_LEVELS
        _same_events(got, want, t)
        _same_engines(a, b, t)
        seen["lp_rows"] += sum(e["kind"] == "lp_withdrawal" for e in got.events)
        if batches is not None and t > 0:
            batches(a, b, t, seen)
    seen["fund_moved"] = a.venue.fund != fund
    return seen


@pytest.fixture(scope="module")
def oct_2025():
    return load_scenario("oct-2025", [])


def test_the_vault_batch_and_the_lp_skip_equal_the_old_forms_on_oct_2025(oct_2025):
    seen = _lockstep(oct_2025, oct_2025.steps + 1, fee_share_bps=2500.0)
    assert seen["vault_steps"] > 1000 and seen["fund_moved"]
    assert seen["skipped"] > 1000  # the phase skipped on most steps


def test_drawn_batches_equal_the_old_wrapper(oct_2025):
    """Drawn batches on the running venue (every 7th step), the fund's side on."""
    draw = np.random.default_rng(20261205)

    def batches(a, b, t, seen):
        if t % 7 == 0:
            _batch_side_by_side(draw, a, b, t, seen)
        if t % 11 == 0:
            _health_side_by_side(draw, a.venue, t)

    seen = _lockstep(oct_2025, 300, fee_share_bps=2500.0, batches=batches)
    assert seen["made"] > 300 and seen["stops"] > 40


def test_the_lp_skip_equals_the_old_step_with_a_backstop_vault(oct_2025):
    """oct-2025 with a backstop vault and LPs (AMMs' and vault's) that withdraw on a 2%
    drawdown: the phase acts on some steps (rows written), is skipped on the others."""
    scenario = load_scenario("oct-2025", ["controls.backstop_vault_usd=2000000",
                                          "lps.withdraw_on_drawdown=0.02",
                                          "venue.timelock_delay_s=60"])  # fmt: skip
    seen = _lockstep(scenario, 500)
    assert seen["lp_steps"] >= 1 and seen["lp_rows"] >= 1 and seen["skipped"] > 100


def test_the_lp_test_is_the_planners():
    """:func:`lps_may_withdraw` is True exactly when the planner plans a withdrawal, on drawn
    prices, peaks and withdrawn flags (ties at the keep fraction included)."""
    from types import SimpleNamespace

    draw = np.random.default_rng(7)
    for _ in range(300):
        n = int(draw.integers(1, 6))
        peak = 10 ** draw.uniform(-2, 5, n)
        drawdown = float(draw.choice([0.02, 0.1, 0.5]))
        price = peak * draw.choice([1.0, 1 - drawdown, 0.5, 0.99], n)
        withdrew = draw.random(n) < 0.3
        s = SimpleNamespace(oracle_price_usd=price, peak_price_usd=peak, lps_withdrew=withdrew)
        lps = SimpleNamespace(withdraw_on_drawdown=drawdown)
        ctx = SimpleNamespace(scenario=SimpleNamespace(lps=lps), memo={})
        want = bool(np.flatnonzero(~withdrew & (price <= peak * (1 - drawdown))).size)
        assert engine_lps.lps_may_withdraw(ctx, s) is want  # type: ignore[arg-type]
    ctx = SimpleNamespace(scenario=SimpleNamespace(lps=SimpleNamespace(withdraw_on_drawdown=None)),
                          memo={})  # fmt: skip
    assert engine_lps.lps_may_withdraw(ctx, s) is False  # type: ignore[arg-type]
