"""The traders' phase in one compiled pass (simulator.engine.traders.carried_decisions,
simulator.engine.jit_rows.plan_pass) gives what its parts give one after the other --
row_prices, row_carry, estimate, MarginUnits.unit_sum of both, decide with the cross rows
topping up and the rows of a unit above maintenance closing -- bit for bit, on drawn books
and states, and leaves the agents' stream where they leave it; so does the mirror's form without the
per-row estimate (decisions_and_sums). And the book's rules are remembered in the run's
context (ctx.memo) only for a read-only book."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from agent_references import estimate_reference

from simulator.agents import traders as trader_agents
from simulator.agents.traders import TraderState
from simulator.engine import traders as engine_traders
from simulator.engine.margin import MarginUnits
from simulator.population import Behaviour


def _case(seed: int, n: int, n_markets: int = 3):
    rng = np.random.default_rng(seed)
    book = SimpleNamespace(
        account=rng.integers(0, n // 2 + 1, n),
        isolated=rng.random(n) < 0.2,
        market=rng.integers(0, n_markets, n),
        side=np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8),
        behaviour=rng.integers(0, 5, n).astype(np.int8),
        collateral_usd=rng.uniform(100, 10_000, n),
        take_profit_fraction=rng.uniform(0.0, 0.5, n),
        stop_loss_fraction=rng.uniform(0.0, 0.5, n),
        panic_drawdown=rng.uniform(-0.05, 0.1, n),
        top_up_probability=rng.uniform(0, 1, n),
        top_up_fraction=rng.uniform(0, 1, n),
        top_up_margin_ratio=rng.uniform(0.5, 3.0, n),
    )
    book.n_accounts = int(book.account.max()) + 1 if n else 1
    size = np.where(rng.random(n) < 0.8, rng.lognormal(0, 1, n), 0.0)
    collateral_in = book.collateral_usd * rng.uniform(0.5, 2.0, n)
    read_price = np.where(rng.random(n) < 0.05, 0.0, rng.lognormal(4, 0.3, n))  # 0: NaN
    state = TraderState(
        side=book.side.copy(),
        size_base=size,
        equity_usd=collateral_in * rng.uniform(-0.5, 2.5, n),
        maintenance_usd=collateral_in * rng.uniform(0.0, 1.2, n),
        collateral_in_usd=collateral_in,
        entry_price_usd=np.where(rng.random(n) < 0.05, 1e-320, rng.lognormal(4, 0.3, n)),
        wallet_usd=rng.uniform(0, 5_000, n),
        read_price_usd=read_price,
        read_funding_index_usd=rng.standard_normal(n) if seed % 3 else None,
        read_margin_scale=rng.uniform(0.8, 1.5, n) if seed % 4 else None,
    )
    s = SimpleNamespace(
        trader=state,
        oracle_price_usd=rng.lognormal(4, 0.3, n_markets),
        funding_index_usd=rng.standard_normal((n_markets, 2)),
        margin_scale=rng.uniform(0.8, 1.5, n_markets),
    )
    ctx = SimpleNamespace(
        world=SimpleNamespace(book=book),
        units=MarginUnits.of_book(book),
        rng=np.random.default_rng(seed + 1000),
    )
    return ctx, s


def _by_parts(ctx, s):
    """The phase as session 25 made it (the mirror's plan, the chain's plan_traders)."""
    book, units = ctx.world.book, ctx.units
    prices = engine_traders.row_prices(ctx, s)
    funding_index, scale = engine_traders.row_carry(ctx, s)
    with np.errstate(invalid="ignore", divide="ignore"):
        carried = estimate_reference(s.trader, prices, funding_index, scale)
    equity, maintenance = carried
    unit_equity = np.bincount(units.unit_of_row, weights=equity, minlength=units.count)
    unit_maintenance = np.bincount(units.unit_of_row, weights=maintenance, minlength=units.count)
    healthy = unit_equity > unit_maintenance
    decisions = trader_agents.decide(
        s.trader, book, prices, ctx.rng, can_top_up=~book.isolated,
        can_close=healthy[units.unit_of_row], funding_index_usd=funding_index,
        margin_scale=scale, carried=carried,
    )  # fmt: skip
    return decisions, carried, (unit_equity, unit_maintenance)


@pytest.mark.parametrize("n", [1, 2, 9, 400, 3000])
@pytest.mark.parametrize("seed", range(6))
def test_carried_decisions_equal_the_phase_by_parts(seed, n):
    ctx, s = _case(seed, n)
    got = engine_traders.carried_decisions(ctx, s)
    ctx_b, s_b = _case(seed, n)
    want = _by_parts(ctx_b, s_b)
    for g, w in zip((*got[1], *got[2]), (*want[1], *want[2]), strict=True):
        assert g.dtype == w.dtype and np.array_equal(g, w, equal_nan=True)
    for name in ("close", "top_up", "top_up_usd"):
        g, w = getattr(got[0], name), getattr(want[0], name)
        assert g.dtype == w.dtype and np.array_equal(g, w), name
    assert ctx.rng.bit_generator.state == ctx_b.rng.bit_generator.state
    if n >= 400:  # the drawn cases decide something
        assert len(got[0].close) and len(got[0].top_up)


def test_the_books_rules_are_remembered_in_the_run_only_while_the_book_cannot_change():
    ctx, s = _case(1, 50)
    ctx.memo = {}
    book = ctx.world.book
    first = engine_traders._book_rules(ctx)
    assert engine_traders._RULES not in ctx.memo  # a writable book: never kept
    book.top_up_margin_ratio[:] = 7.0  # changed in place: made again
    again = engine_traders._book_rules(ctx)
    top_up = book.behaviour == Behaviour.TOP_UP
    assert np.all(again.rules[0][top_up] == 7.0) and not np.array_equal(first.rules, again.rules)
    for name in (*trader_agents._RULE_ARRAYS, "market", "isolated", "top_up_probability"):
        getattr(book, name).flags.writeable = False
    kept = engine_traders._book_rules(ctx)
    assert engine_traders._book_rules(ctx) is kept and ctx.memo[engine_traders._RULES] is kept
    other = _case(2, 50)[0]  # another run's context: its own rules
    other.memo = {}
    assert engine_traders._book_rules(other) is not kept
    assert not hasattr(trader_agents, "_last_rules")  # no module-level cache of a book


@pytest.mark.parametrize("n", [0, 1, 9, 3000])
@pytest.mark.parametrize("seed", range(4))
def test_the_mirrors_decisions_and_sums_are_the_carried_decisions(seed, n):
    """decisions_and_sums (the mirror's: the per-row estimate in the run's buffers) gives the
    decisions and the unit sums of carried_decisions, and the notionals per row and per unit
    of the numpy form the mirror's step used (size × price, np.bincount), step after step on the same buffers,
    and leaves the stream where it does; a state array replaced between steps is checked and
    read again."""
    ctx, s = _case(seed, n)
    ctx.memo = {}
    ctx_b, s_b = _case(seed, n)
    for step in range(3):
        got = engine_traders.decisions_and_sums(ctx, s)
        want = engine_traders.carried_decisions(ctx_b, s_b)
        for g, w in zip(got[2], want[2], strict=True):
            assert g.dtype == w.dtype and np.array_equal(g, w, equal_nan=True)
        # the notionals as the step made them before (numpy: size × price, np.bincount)
        row = s_b.trader.size_base * s_b.oracle_price_usd[ctx_b.world.book.market]
        units = ctx_b.units
        per_unit = np.bincount(units.unit_of_row, weights=row, minlength=units.count) * 1.0
        for g, w in zip(got[1], (row, per_unit), strict=True):
            assert g.dtype == w.dtype and np.array_equal(g, w, equal_nan=True)
            assert np.array_equal(np.signbit(g), np.signbit(w))
        for name in ("close", "top_up", "top_up_usd"):
            g, w = getattr(got[0], name), getattr(want[0], name)
            assert g.dtype == w.dtype and np.array_equal(g, w), name
        assert ctx.rng.bit_generator.state == ctx_b.rng.bit_generator.state
        # the next step: new prices, and one state array replaced by another object
        s.oracle_price_usd = s.oracle_price_usd * 1.01
        s_b.oracle_price_usd = s_b.oracle_price_usd * 1.01
        s.trader.equity_usd = s.trader.equity_usd * (0.9 + 0.1 * step)
        s_b.trader.equity_usd = s_b.trader.equity_usd * (0.9 + 0.1 * step)
    s.trader.wallet_usd = s.trader.wallet_usd[:-1] if n else np.zeros(1)
    with pytest.raises(ValueError, match="wallet_usd"):
        engine_traders.decisions_and_sums(ctx, s)


def _flat_edge_case(seed: int, n: int):
    """A drawn case whose flat rows mostly have no maintenance, with edge operands: zeros of
    both signs, NaN and infinite equities, read prices and scales tiny, huge, 0 and NaN,
    funding indices huge."""
    ctx, s = _case(seed, n)
    rng = np.random.default_rng(seed + 7)
    tr = s.trader
    flat = tr.size_base == 0
    tr.maintenance_usd[flat & (rng.random(n) < 0.8)] = 0.0
    tr.maintenance_usd[flat & (rng.random(n) < 0.1)] = -0.0

    def spray(a, values, share=0.08):
        for v in values:
            a[rng.random(n) < share] = v

    spray(tr.equity_usd, [0.0, -0.0, np.nan, np.inf, -np.inf, 1e250])
    spray(tr.read_price_usd, [0.0, -0.0, 1e-200, 1e-100, 1e250, np.nan, np.inf, -3.0])
    if tr.read_funding_index_usd is not None:
        spray(tr.read_funding_index_usd, [1e250, -1e250, np.inf, np.nan, -0.0])
    if tr.read_margin_scale is not None:
        spray(tr.read_margin_scale, [0.0, 1e-200, 1e250, np.nan, np.inf])
    s.oracle_price_usd[0] = [np.inf, 1e250, -0.0, np.nan, 1e-300, 5.0][seed % 6]
    s.funding_index_usd[1, 1] = [1e250, np.inf, np.nan, 0.0][seed % 4]
    s.margin_scale[2] = [1e250, np.inf, np.nan, 0.0, 1.0][seed % 5]
    return ctx, s


@pytest.mark.parametrize("n", [1, 7, 2000])
@pytest.mark.parametrize("seed", range(12))
def test_the_mirrors_pass_on_edge_operands_is_the_full_computation(seed, n):
    """The mirror's pass (decisions_and_sums: the per-row terms in one vectorized loop, the
    sums in another, the estimate in the run's buffers) gives the unit sums, notionals,
    decisions and stream of carried_decisions and of the numpy form, to the bit (the sign of
    a zero too), on flat rows, zeros, NaN and infinities."""
    ctx, s = _flat_edge_case(seed, n)
    ctx.memo = {}
    ctx_b, s_b = _flat_edge_case(seed, n)
    with np.errstate(all="ignore"):
        got = engine_traders.decisions_and_sums(ctx, s)
        want = engine_traders.carried_decisions(ctx_b, s_b)
    for g, w in zip(got[2], want[2], strict=True):
        assert np.array_equal(g, w, equal_nan=True)
        assert np.array_equal(np.signbit(g), np.signbit(w))
    row = s_b.trader.size_base * s_b.oracle_price_usd[ctx_b.world.book.market]
    assert np.array_equal(got[1][0], row, equal_nan=True)
    assert np.array_equal(np.signbit(got[1][0]), np.signbit(row))
    for name in ("close", "top_up", "top_up_usd"):
        assert np.array_equal(getattr(got[0], name), getattr(want[0], name)), name
    assert ctx.rng.bit_generator.state == ctx_b.rng.bit_generator.state


@pytest.mark.parametrize("n", [0, 1, 9, 400])
@pytest.mark.parametrize("seed", range(3))
def test_the_stream_ends_where_the_draws_leave_it_with_a_half_draw_held(seed, n):
    """A stream holding a 32-bit half draw (has_uint32: another phase drew an int32) is never
    jumped (numpy's advance drops the half draw): the pass draws as draws_at does, and the
    stream ends where the phase by parts leaves it, with or without rows to draw for."""
    ctx, s = _case(seed, n)
    ctx.memo = {}
    ctx_b, s_b = _case(seed, n)
    for rng in (ctx.rng, ctx_b.rng):
        rng.integers(0, 2**31, size=1, dtype=np.int32)
        assert rng.bit_generator.state["has_uint32"]
    got = engine_traders.decisions_and_sums(ctx, s)
    want = _by_parts(ctx_b, s_b)
    for name in ("close", "top_up", "top_up_usd"):
        assert np.array_equal(getattr(got[0], name), getattr(want[0], name)), name
    assert ctx.rng.bit_generator.state == ctx_b.rng.bit_generator.state
