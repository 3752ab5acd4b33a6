"""The per-step passes compiled in simulator/engine/jit_rows.py give, bit for bit, what the
numpy forms they replaced (session 25's, copied below as the references) gave, on drawn inputs:
empty and one-element arrays, NaN where the code admits it (an estimate from a 0 / 0 read, a
unit never read), duplicates and ties. Each kernel is reached through the function that calls
it (whose signature is unchanged): row_carry, estimate, MarginUnits.unit_sum / store,
watch_list, unit_fractions, plan_liquidations, may_leave_deficit."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from agent_references import estimate_reference, update_liquidatable_since_reference

from simulator.agents import keepers as keeper_agents
from simulator.agents.traders import TraderState, estimate
from simulator.engine import keepers
from simulator.engine import traders as engine_traders
from simulator.engine.context import Action
from simulator.engine.margin import MarginUnits

SIZES = [0, 1, 2, 7, 300, 2500]


def _same(got, want) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=True)
    # The same floats: the sign of a zero too.
    assert np.array_equal(np.signbit(got), np.signbit(want)) if got.dtype.kind == "f" else True


def _with_nan(rng, a: np.ndarray, share: float = 0.05) -> np.ndarray:
    a = a.copy()
    a[rng.random(len(a)) < share] = np.nan
    return a


def _book(rng, n: int, n_markets: int = 3):
    book = SimpleNamespace(
        account=rng.integers(0, n // 2 + 1, n),
        isolated=rng.random(n) < 0.2,
        market=rng.integers(0, n_markets, n),
        side=np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8),
    )
    book.n_accounts = int(book.account.max()) + 1 if n else 1
    return book


def _trader(rng, n: int) -> TraderState:
    size = rng.lognormal(0.0, 3.0, n)
    size[rng.random(n) < 0.2] = 0.0  # flat rows
    return TraderState(
        side=np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8),
        size_base=size,
        equity_usd=rng.standard_normal(n) * 1e4,
        maintenance_usd=rng.lognormal(5.0, 2.0, n),
        collateral_in_usd=np.where(rng.random(n) < 0.1, 0.0, rng.lognormal(7.0, 1.0, n)),
        entry_price_usd=rng.lognormal(4.0, 2.0, n),
        wallet_usd=rng.lognormal(7.0, 1.0, n),
        read_price_usd=np.where(rng.random(n) < 0.05, 0.0, rng.lognormal(4.0, 2.0, n)),
        read_funding_index_usd=rng.standard_normal(n),
        read_margin_scale=rng.uniform(0.5, 3.0, n),
    )


# -- the traders' rows ------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(3))
def test_row_carry_equals_the_flat_gather(seed, n):
    rng = np.random.default_rng(seed)
    book = _book(rng, n)
    s = SimpleNamespace(
        trader=SimpleNamespace(side=book.side),
        funding_index_usd=_with_nan(rng, rng.standard_normal(6), 0.2).reshape(3, 2),
        margin_scale=rng.uniform(1.0, 2.0, 3),
    )
    ctx = SimpleNamespace(world=SimpleNamespace(book=book))
    got = engine_traders.row_carry(ctx, s)
    # Session 25's: (M, 2) read flat at 2·market + (short).
    side_column = 2 * book.market + (s.trader.side < 0)
    want = np.ravel(s.funding_index_usd)[side_column], s.margin_scale[book.market]
    for g, w in zip(got, want, strict=True):
        _same(g, w)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(3))
def test_estimate_equals_its_formulas_on_nan_empty_and_one_row(seed, n):
    rng = np.random.default_rng(seed)
    state = _trader(rng, n)
    state.equity_usd = _with_nan(rng, state.equity_usd)
    price = _with_nan(rng, rng.lognormal(4.0, 2.0, n))
    funding, scale = rng.standard_normal(n), _with_nan(rng, rng.uniform(0.5, 3.0, n))
    cases = [(price, funding, scale), (price, None, None), (123.25, funding, None),
             (price, None, scale), (0.0, funding, scale)]  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        for args in cases:
            got, want = estimate(state, *args), estimate_reference(state, *args)
            for g, w in zip(got, want, strict=True):
                _same(g, w)


# -- the margin units -------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(3))
def test_unit_sum_equals_bincount(seed, n):
    rng = np.random.default_rng(seed)
    units = MarginUnits.of_book(_book(rng, n))
    per_row = _with_nan(rng, rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n))
    per_row[rng.random(n) < 0.1] = -0.0
    for values in (per_row, rng.random(n) < 0.5, rng.integers(-5, 5, n)):
        want = np.bincount(units.unit_of_row, weights=values, minlength=units.count)
        if n == 0:  # np.bincount of no rows is int64 (a quirk); the sums are floats
            want = want.astype(np.float64)
        _same(units.unit_sum(values), want)
    with pytest.raises(ValueError, match="unit_sum"):
        units.unit_sum(np.zeros(n + 1))


def store_reference(units: MarginUnits, state, units_read, equity, maintenance, prices_usd,
                    market_of_row, funding_index_usd=None, margin_scale=None) -> None:  # fmt: skip
    """Session 25's ``MarginUnits.store`` (numpy; its rows found by the pass over the book)."""
    units_read = np.asarray(units_read, dtype=np.int64)
    if not len(units_read):
        return
    slot = np.full(units.count, -1, dtype=np.int64)
    slot[units_read] = np.arange(len(units_read))
    slot_of_row = slot[units.unit_of_row]
    rows = np.flatnonzero(slot_of_row >= 0)
    k = slot_of_row[rows]
    n = len(units_read)
    market = market_of_row[rows]
    price = prices_usd[market]
    size = state.size_base[rows]
    side = state.side[rows].astype(np.float64)
    pnl = side * size * (price - state.entry_price_usd[rows])
    pnl = np.where(size > 0, pnl, 0.0)
    weight = size * price
    if units.maintenance_fraction is not None:
        weight = weight * units.maintenance_fraction[market]
    collateral = state.collateral_in_usd[rows]
    pnl_sum = np.bincount(k, weights=pnl, minlength=n)[k]
    weight_sum = np.bincount(k, weights=weight, minlength=n)[k]
    collateral_sum = np.bincount(k, weights=collateral, minlength=n)[k]
    rows_in_unit = np.bincount(k, minlength=n)[k]
    share = np.where(
        collateral_sum > 0,
        collateral / np.where(collateral_sum > 0, collateral_sum, 1),
        1.0 / rows_in_unit,
    )
    eq_u, mm_u = equity[k], maintenance[k]
    state.equity_usd[rows] = share * (eq_u - pnl_sum) + pnl
    state.maintenance_usd[rows] = np.where(
        weight_sum > 0, mm_u * weight / np.where(weight_sum > 0, weight_sum, 1), share * mm_u
    )
    state.read_price_usd[rows] = price
    if funding_index_usd is not None and state.read_funding_index_usd is not None:
        side_column = 2 * market + (state.side[rows] < 0)
        state.read_funding_index_usd[rows] = np.ravel(funding_index_usd)[side_column]
    if margin_scale is not None and state.read_margin_scale is not None:
        state.read_margin_scale[rows] = margin_scale[market]


@pytest.mark.parametrize("n", SIZES[1:])
@pytest.mark.parametrize("seed", range(4))
def test_store_equals_the_numpy_form(seed, n):
    rng = np.random.default_rng(seed)
    book = _book(rng, n)
    fraction = rng.uniform(0.005, 0.05, 3) if seed % 2 else None
    units = MarginUnits.of_book(book, fraction)
    without_grouping = dataclasses.replace(units, rows_by_unit=None, unit_start=None)
    for k in (0, 1, 3, max(1, units.count // 3), units.count):
        read = rng.integers(0, units.count, k)  # duplicates: the last reading counts
        equity = _with_nan(rng, rng.standard_normal(k) * 1e3)
        maintenance = rng.lognormal(3.0, 1.0, k)
        prices = rng.lognormal(4.0, 1.0, 3)
        funding, scale = rng.standard_normal((3, 2)), rng.uniform(1.0, 2.0, 3)
        for extra in ((funding, scale), (None, None), (funding, None)):
            want = _trader(np.random.default_rng(seed), n)
            store_reference(units, want, read, equity, maintenance, prices, book.market, *extra)
            for mu in (units, without_grouping):
                got = _trader(np.random.default_rng(seed), n)
                mu.store(got, read, equity, maintenance, prices, book.market, *extra)
                for name, value in vars(got).items():
                    _same(value, getattr(want, name))


def test_store_refuses_a_unit_that_is_not_one_and_writes_nothing():
    rng = np.random.default_rng(0)
    book = _book(rng, 50)
    units = MarginUnits.of_book(book)
    state = _trader(rng, 50)
    before = {k: v.copy() for k, v in vars(state).items()}
    with pytest.raises(IndexError, match="out of 0"):
        units.store(state, np.array([0, units.count]), np.ones(2), np.ones(2),
                    np.ones(3), book.market)  # fmt: skip
    for name, value in vars(state).items():
        assert np.array_equal(value, before[name])


# -- the keepers ------------------------------------------------------------------------------


def _unit_inputs(rng, count: int):
    mm = rng.lognormal(5.0, 1.0, count)
    eq = mm * rng.choice([0.3, 0.5, 1.0 - 1e-3, 1.0, 1.0 + 1e-3, 1.04, 1.2, 2.0], count)
    eq[rng.random(count) < 0.05] = np.nan  # never read
    notional = np.where(rng.random(count) < 0.2, 0.0, rng.lognormal(8.0, 1.0, count))
    notional[rng.integers(0, count, count // 4)] = 5000.0  # ties in notional
    since = np.where(rng.random(count) < 0.3, rng.integers(0, 50, count), -1)
    return eq, mm, notional, since


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(3))
def test_watch_list_equals_the_masks(seed, n):
    rng = np.random.default_rng(seed)
    eq, mm, notional, since = _unit_inputs(rng, n)
    s = SimpleNamespace(liquidatable_since=since)
    for t, everyone in ((7, False), (7, True), (keepers.FULL_REFRESH_STEPS, False)):
        got = keepers.watch_list(None, s, t, eq, mm, notional, everyone=everyone)
        active = notional > 0
        if everyone or t % keepers.FULL_REFRESH_STEPS == 0:
            want = np.flatnonzero(active)
        else:
            want = np.flatnonzero(
                active & ((eq < keepers.WATCH_MARGIN_RATIO * mm) | (s.liquidatable_since >= 0))
            )
        _same(got, want)


def _ctx(rng, n_rows: int, backstop: bool):
    book = _book(rng, n_rows)
    return SimpleNamespace(
        units=MarginUnits.of_book(book),
        world=SimpleNamespace(book=book),
        keeper_reward_fraction=rng.uniform(0.0, 0.01, 3),
        backstop_fraction=rng.uniform(0.3, 0.7, 3) if backstop else None,
    )


@pytest.mark.parametrize("backstop", [True, False])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(2))
def test_unit_fractions_equal_the_weighted_means_of_unit_sums(seed, n, backstop):
    rng = np.random.default_rng(seed)
    ctx = _ctx(rng, n, backstop)
    units, market = ctx.units, ctx.world.book.market
    notional_row = _with_nan(rng, rng.lognormal(8.0, 1.0, n) * (rng.random(n) < 0.7))
    for given in (None, units.unit_sum(notional_row)):
        got = keepers.unit_fractions(ctx, notional_row, given)
        # Session 25's: unit sums of the weighted fractions over the safe total.
        total = np.bincount(units.unit_of_row, weights=notional_row, minlength=units.count)
        safe = np.where(total > 0, total, 1.0)
        reward = units.unit_sum(notional_row * ctx.keeper_reward_fraction[market]) / safe
        _same(got[0], reward)
        if not backstop:
            assert got[1] is None
            continue
        backstop_sum = units.unit_sum(notional_row * ctx.backstop_fraction[market]) / safe
        _same(got[1], np.where(units.isolated, np.nan, backstop_sum))


def plan_reference(equity_usd, maintenance_usd, notional_usd, liquidatable_since, step, *,
                   capacity, reaction_delay_steps, backstop_fraction, keeper_reward_fraction,
                   gas_cost_usd, min_profit_usd):  # fmt: skip
    """Session 25's ``plan_liquidations`` (numpy)."""
    has_position = notional_usd > 0
    under = has_position & (equity_usd < maintenance_usd)
    seen_long_enough = (liquidatable_since >= 0) & (
        step - liquidatable_since >= reaction_delay_steps
    )
    eligible = under & seen_long_enough
    reward = np.broadcast_to(np.asarray(keeper_reward_fraction, dtype=np.float64), under.shape)
    eligible &= (reward <= 0) | (notional_usd * reward - gas_cost_usd >= min_profit_usd)
    candidates = np.flatnonzero(eligible)
    order = np.lexsort((candidates, -notional_usd[candidates]))
    chosen = candidates[order][:capacity]
    if backstop_fraction is None:
        return np.array([], dtype=np.int64), chosen
    fraction = np.broadcast_to(np.asarray(backstop_fraction, dtype=np.float64), under.shape)
    deep = equity_usd[chosen] < fraction[chosen] * maintenance_usd[chosen]
    return chosen[deep], chosen[~deep]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(3))
def test_plan_liquidations_equals_the_numpy_form(seed, n):
    rng = np.random.default_rng(seed)
    eq, mm, notional, since = _unit_inputs(rng, n)
    per_account = rng.uniform(0.0, 0.02, n)
    per_account[rng.random(n) < 0.2] = 0.0
    fractions = _with_nan(rng, rng.uniform(0.2, 0.9, n), 0.3)
    for capacity, delay, backstop, reward, gas, floor in (
        (60, 1, None, 0.005, 1.0, 5.0), (3, 0, 0.5, per_account, 0.5, 2.0),
        (0, 2, fractions, 0.0, 0.0, 0.0), (10_000, 1, fractions, per_account, 2, 1),
        (-2, 0, None, per_account, 0.0, 0.0),
    ):  # fmt: skip
        kw = dict(capacity=capacity, reaction_delay_steps=delay, backstop_fraction=backstop,
                  keeper_reward_fraction=reward, gas_cost_usd=gas, min_profit_usd=floor)  # fmt: skip
        got = keeper_agents.plan_liquidations(eq, mm, notional, since, 40, **kw)
        want = plan_reference(eq, mm, notional, since, 40, **kw)
        _same(got.backstop, want[0])
        _same(got.liquidate, want[1])


def deficit_reference(ctx, s, units, eq, mm, oi_long_base, oi_short_base) -> bool:
    """Session 25's ``may_leave_deficit`` after its early answers (numpy)."""
    book, tr = ctx.world.book, s.trader
    rows = ctx.units.rows_of(units)
    rows = rows[tr.size_base[rows] > 0]
    market = book.market[rows]
    size, side = tr.size_base[rows], tr.side[rows]
    n = ctx.n_markets
    longs = np.bincount(market, weights=size * (side > 0), minlength=n)
    shorts = np.bincount(market, weights=size * (side < 0), minlength=n)
    params = [m.params for m in ctx.world.params.markets]
    scale = np.array([float(p.skew_scale) for p in params])
    band = np.array([p.max_liquidation_impact_bps / 1e4 for p in params])
    skew0 = np.nan_to_num(np.asarray(oi_long_base - oi_short_base, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf skews: ±max
        long_adverse = np.where(scale > 0, (3 * longs - 2 * skew0) / (2 * scale), 0.0)
        short_adverse = np.where(scale > 0, (3 * shorts + 2 * skew0) / (2 * scale), 0.0)
    long_adverse = np.clip(long_adverse, 0.0, band)
    short_adverse = np.clip(short_adverse, 0.0, band)
    price = s.oracle_price_usd[market]
    adverse = (
        size * price * (np.where(side > 0, long_adverse[market], short_adverse[market]) + 1e-6)
    )
    bound = np.bincount(ctx.units.unit_of_row[rows], weights=adverse, minlength=ctx.units.count)
    return bool((eq[units] <= bound[units] + keepers.CONFIRM_BAND * np.abs(mm[units])).any())


@pytest.mark.parametrize("n", SIZES[1:])
@pytest.mark.parametrize("seed", range(6))
def test_may_leave_deficit_equals_the_numpy_form(seed, n):
    rng = np.random.default_rng(seed)
    book = _book(rng, n)
    markets = [SimpleNamespace(params=SimpleNamespace(
        skew_scale=float(rng.choice([0.0, 50.0, 1e4])),
        max_liquidation_impact_bps=int(rng.integers(10, 600))))
        for _ in range(3)]  # fmt: skip
    ctx = SimpleNamespace(
        units=MarginUnits.of_book(book), n_markets=3,
        world=SimpleNamespace(book=book, params=SimpleNamespace(markets=markets)),
        scenario=SimpleNamespace(controls=SimpleNamespace(governance_change=None)),
    )  # fmt: skip
    state = _trader(rng, n)
    s = SimpleNamespace(trader=state, oracle_price_usd=rng.lognormal(4.0, 1.0, 3))
    count = ctx.units.count
    seen = set()
    for _ in range(12):
        k = int(rng.integers(1, 6))
        units = rng.integers(0, count, k)  # duplicates too
        mm = rng.lognormal(3.0, 1.0, count) * rng.choice([1.0, -1.0], count)
        eq = _with_nan(rng, rng.uniform(-10.0, 200.0, count))
        oi_long = rng.uniform(0.0, 100.0, 3)
        oi_long[rng.random(3) < 0.1] = np.inf  # np.nan_to_num's ±inf to the largest float
        oi_short = _with_nan(rng, rng.uniform(0.0, 100.0, 3), 0.2)
        actions = [Action(call=None, kind="liquidate", unit=int(u)) for u in units]
        actions.append(Action(call=None, kind="close", unit=-1))  # not a keeper's unit
        got = keepers.may_leave_deficit(ctx, s, actions, eq, mm, oi_long, oi_short)
        want = deficit_reference(ctx, s, units, eq, mm, oi_long, oi_short)
        assert got is want
        seen.add(got)
    assert n < 7 or seen == {True, False}  # both answers reached on a book of some size
    assert keepers.may_leave_deficit(ctx, s, [], np.zeros(count), np.zeros(count),
                                     np.zeros(3), np.zeros(3)) is False  # fmt: skip


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", range(3))
def test_track_marked_equals_the_formula_and_counts_the_marked(seed, n):
    """keepers.track_marked (jit_rows.track_liquidatable) writes the numpy formula's
    liquidatable_since and returns how many units it marks (>= 0), for NaN estimates too."""
    rng = np.random.default_rng(seed)
    eq, mm, notional, since = _unit_inputs(rng, n)
    eq, mm = _with_nan(rng, eq), _with_nan(rng, mm)
    for t in (0, 7, 300):
        s = SimpleNamespace(liquidatable_since=since.copy())
        marked = keepers.track_marked(s, t, eq, mm, notional)
        want = update_liquidatable_since_reference(since, eq, mm, notional, t)
        _same(s.liquidatable_since, want)
        assert marked == int(np.count_nonzero(want >= 0))
