"""Per-step kernels rewritten for speed give, bit for bit, what their former formulation gave
on drawn inputs: the carried estimate into three buffers (simulator.agents.traders.estimate
against estimate_reference), the keepers' confirm list with the touched units as a mask
(against np.isin) and their reward fractions from the units' notional the caller already
summed."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from agent_references import estimate_reference, update_liquidatable_since_reference

from simulator.agents import keepers as keeper_agents
from simulator.agents.traders import TraderState, estimate
from simulator.engine import keepers
from simulator.engine.margin import MarginUnits


def _trader(rng, n: int) -> TraderState:
    size = rng.lognormal(0.0, 3.0, n)
    size[rng.random(n) < 0.2] = 0.0  # flat rows
    return TraderState(
        side=np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8),
        size_base=size,
        equity_usd=rng.standard_normal(n) * 1e4,
        maintenance_usd=rng.lognormal(5.0, 2.0, n),
        collateral_in_usd=rng.lognormal(7.0, 1.0, n),
        entry_price_usd=rng.lognormal(4.0, 2.0, n),
        wallet_usd=rng.lognormal(7.0, 1.0, n),
        read_price_usd=np.where(rng.random(n) < 0.05, 0.0, rng.lognormal(4.0, 2.0, n)),
        read_funding_index_usd=rng.standard_normal(n),
        read_margin_scale=rng.uniform(0.5, 3.0, n),
    )


@pytest.mark.parametrize("seed", range(8))
def test_estimate_equals_its_formulas_one_array_per_operation(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    state = _trader(rng, n)
    price = rng.lognormal(4.0, 2.0, n)
    funding, scale = rng.standard_normal(n), rng.uniform(0.5, 3.0, n)
    cases = [(price, funding, scale), (price, None, None), (float(price[0]), funding, None),
             (price, None, scale)]  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):  # a 0 read price: inf / NaN alike
        for args in cases:
            got, want = estimate(state, *args), estimate_reference(state, *args)
            for g, w in zip(got, want, strict=True):
                assert np.array_equal(g, w, equal_nan=True)


def _ctx(rng, n_rows: int, n_markets: int = 3):
    book = SimpleNamespace(
        account=rng.integers(0, n_rows // 2 + 1, n_rows),
        isolated=rng.random(n_rows) < 0.2,
        market=rng.integers(0, n_markets, n_rows),
    )
    book.n_accounts = int(book.account.max()) + 1
    return SimpleNamespace(
        units=MarginUnits.of_book(book),
        world=SimpleNamespace(book=book),
        keeper_reward_fraction=rng.uniform(0.0, 0.01, n_markets),
        backstop_fraction=rng.uniform(0.3, 0.7, n_markets),
        full_health_every_step=False,
    )


@pytest.mark.parametrize("seed", range(8))
def test_confirm_list_equals_the_isin_formulation(seed):
    rng = np.random.default_rng(seed)
    ctx = _ctx(rng, int(rng.integers(5, 400)))
    count = ctx.units.count
    notional_row = rng.lognormal(8.0, 1.0, len(ctx.world.book.market))
    mm = rng.lognormal(5.0, 1.0, count)
    eq = mm * rng.choice([0.5, 1.0 - 1e-3, 1.0 + 1e-3, 1.2, 2.0], count)
    watch = np.flatnonzero(rng.random(count) < 0.5)
    for touched in (np.zeros(0, dtype=np.int64), np.unique(rng.integers(0, count, 7)),
                    np.arange(count)):  # fmt: skip
        got = keepers.confirm_list(ctx, watch, eq, mm, notional_row, touched)
        # Session 24's: the units near a boundary or in ``touched`` (np.isin).
        w_eq, w_mm = eq[watch], mm[watch]
        near = np.abs(w_eq - w_mm) < keepers.CONFIRM_BAND * w_mm
        _, backstop = keepers.unit_fractions(ctx, notional_row)
        with np.errstate(invalid="ignore"):
            near |= np.abs(w_eq - backstop[watch] * w_mm) < keepers.CONFIRM_BAND * w_mm
        assert np.array_equal(got, watch[near | np.isin(watch, touched)])


@pytest.mark.parametrize("seed", range(4))
def test_unit_fractions_from_the_callers_notional_equal_its_own_sums(seed):
    rng = np.random.default_rng(seed)
    ctx = _ctx(rng, 300)
    notional_row = rng.lognormal(8.0, 1.0, 300) * (rng.random(300) < 0.8)
    given = keepers.unit_fractions(ctx, notional_row, ctx.units.unit_sum(notional_row))
    own = keepers.unit_fractions(ctx, notional_row)
    for g, o in zip(given, own, strict=True):
        assert np.array_equal(g, o, equal_nan=True)


@pytest.mark.parametrize("seed", range(6))
def test_bincount_adds_as_add_at_into_zeros(seed):
    """What keepers.may_leave_deficit's per-unit bound relies on: np.bincount's weighted sums
    are np.add.at's into zeros, float for float (each unit's terms added in row order)."""
    rng = np.random.default_rng(seed)
    n, count = int(rng.integers(0, 500)), int(rng.integers(1, 60))
    index = rng.integers(0, count, n)
    weights = rng.standard_normal(n) * 10.0 ** rng.integers(-10, 10, n)
    weights[rng.random(n) < 0.1] = -0.0
    want = np.zeros(count)
    np.add.at(want, index, weights)
    got = np.bincount(index, weights=weights, minlength=count)
    assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
@pytest.mark.parametrize("seed", range(6))
def test_liquidatable_since_on_the_units_under_equals_the_whole_book_formula(seed, dtype):
    rng = np.random.default_rng(seed)
    n, step = int(rng.integers(0, 3000)), int(rng.integers(0, 500))
    since = np.where(rng.random(n) < 0.3, rng.integers(0, step + 1, n), -1).astype(dtype)
    mm = rng.lognormal(3.0, 1.0, n)
    eq = mm * rng.choice([0.5, 0.999, 1.0, 1.5], n)
    eq[rng.random(n) < 0.05] = np.nan  # never read: not under
    notional = np.where(rng.random(n) < 0.2, 0.0, rng.lognormal(8.0, 1.0, n))
    got = keeper_agents.update_liquidatable_since(since, eq, mm, notional, step)
    want = update_liquidatable_since_reference(since, eq, mm, notional, step)
    assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("seed", range(8))
def test_store_finds_a_few_units_rows_as_the_pass_over_the_book(seed):
    """MarginUnits.store on a few units (their rows found unit by unit, rows_by_unit) writes
    what the pass over the book writes (rows_by_unit None), units read twice included."""
    rng = np.random.default_rng(seed)
    ctx = _ctx(rng, int(rng.integers(20, 3000)))
    book, units = ctx.world.book, ctx.units
    n = len(book.market)
    assert units.rows_by_unit is not None
    by_pass = dataclasses.replace(units, rows_by_unit=None, unit_start=None)
    for k in (1, 2, max(1, units.count // 50), max(1, units.count // 17)):
        read = rng.integers(0, units.count, k)  # duplicates: the last reading counts
        equity, maintenance = rng.standard_normal(k) * 1e3, rng.lognormal(3.0, 1.0, k)
        prices = rng.lognormal(4.0, 1.0, 3)
        funding, scale = rng.standard_normal((3, 2)), rng.uniform(1.0, 2.0, 3)
        states = []
        for mu in (units, by_pass):
            state = _trader(np.random.default_rng(seed), n)
            mu.store(state, read, equity, maintenance, prices, book.market, funding, scale)
            states.append(state)
        for name, got in vars(states[0]).items():
            assert np.array_equal(got, getattr(states[1], name), equal_nan=True), name
