"""Margin units' store (simulator.engine.margin.MarginUnits.store): the read units' rows get
their share of the unit's equity and maintenance (summing back to the unit's), bit for bit as
the per-unit formulation over every unit of the book; rows of units not read keep their view."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from simulator.agents.traders import TraderState
from simulator.engine.margin import MarginUnits


def reference_store(units: MarginUnits, state, read, equity, maintenance, prices, market_of_row):
    """The views written with sums over every unit of the book (bincounts of its size)."""
    rows = units.rows_of(read)
    slot = np.full(units.count, -1, dtype=np.int64)
    slot[read] = np.arange(len(read))
    u = units.unit_of_row[rows]
    price = prices[market_of_row[rows]]
    side = state.side[rows].astype(np.float64)
    pnl = side * state.size_base[rows] * (price - state.entry_price_usd[rows])
    pnl = np.where(state.size_base[rows] > 0, pnl, 0.0)
    weight = state.size_base[rows] * price * units.maintenance_fraction[market_of_row[rows]]
    collateral = state.collateral_in_usd[rows]
    pnl_sum = np.bincount(u, weights=pnl, minlength=units.count)[u]
    weight_sum = np.bincount(u, weights=weight, minlength=units.count)[u]
    collateral_sum = np.bincount(u, weights=collateral, minlength=units.count)[u]
    count = np.bincount(u, minlength=units.count)[u]
    share = np.where(
        collateral_sum > 0,
        collateral / np.where(collateral_sum > 0, collateral_sum, 1),
        1.0 / count,
    )
    eq_u, mm_u = equity[slot[u]], maintenance[slot[u]]
    eq = share * (eq_u - pnl_sum) + pnl
    mm = np.where(
        weight_sum > 0, mm_u * weight / np.where(weight_sum > 0, weight_sum, 1), share * mm_u
    )
    return rows, eq, mm  # fmt: skip


@pytest.mark.parametrize("read_one_in", [3, 40])  # a pass over the book; a few units' rows
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_store_writes_each_read_units_share_as_the_per_unit_formulation(seed, read_one_in):
    rng = np.random.default_rng(seed)
    n, n_markets = 200, 3
    book = SimpleNamespace(
        account=rng.integers(0, 90, n), isolated=rng.random(n) < 0.2,
        market=rng.integers(0, n_markets, n), n_accounts=90,
    )  # fmt: skip
    units = MarginUnits.of_book(book, [0.02, 0.05, 0.1])
    state = TraderState(
        side=rng.choice(np.array([-1, 1], dtype=np.int8), n),
        size_base=np.where(rng.random(n) < 0.8, rng.uniform(0.1, 5.0, n), 0.0),
        equity_usd=np.full(n, -1.0), maintenance_usd=np.full(n, -1.0),
        collateral_in_usd=np.where(rng.random(n) < 0.9, rng.uniform(10.0, 500.0, n), 0.0),
        entry_price_usd=rng.uniform(90.0, 110.0, n), wallet_usd=np.zeros(n),
        read_price_usd=np.zeros(n), read_funding_index_usd=np.zeros(n),
        read_margin_scale=np.zeros(n),
    )  # fmt: skip
    read = rng.choice(units.count, max(3, units.count // read_one_in), replace=False)
    read = np.concatenate([read, read[:3]])  # a unit read twice: its last reading counts
    equity = rng.uniform(-100.0, 1000.0, len(read))
    maintenance = rng.uniform(0.0, 200.0, len(read))
    prices = rng.uniform(80.0, 120.0, n_markets)
    funding = rng.standard_normal((n_markets, 2))
    scale = rng.uniform(1.0, 2.0, n_markets)

    units.store(state, read, equity, maintenance, prices, book.market, funding, scale)

    rows, want_eq, want_mm = reference_store(
        units, state, read, equity, maintenance, prices, book.market
    )
    assert np.array_equal(state.equity_usd[rows], want_eq)
    assert np.array_equal(state.maintenance_usd[rows], want_mm)
    others = np.setdiff1d(np.arange(n), rows)
    assert len(others) and (state.equity_usd[others] == -1.0).all()
    short = (state.side[rows] < 0).astype(np.int64)
    assert np.array_equal(state.read_funding_index_usd[rows], funding[book.market[rows], short])
    assert np.array_equal(state.read_margin_scale[rows], scale[book.market[rows]])
    assert np.array_equal(state.read_price_usd[rows], prices[book.market[rows]])
    # Summed over a unit's rows, the views give back the unit's reading.
    last = {int(u): i for i, u in enumerate(read)}
    for u, i in last.items():
        mine = rows[units.unit_of_row[rows] == u]
        assert state.equity_usd[mine].sum() == pytest.approx(equity[i], rel=1e-9, abs=1e-6)
        assert state.maintenance_usd[mine].sum() == pytest.approx(
            maintenance[i], rel=1e-9, abs=1e-9
        )


def test_store_reads_a_replaced_state_array_again():
    """MarginUnits.store keeps the state arrays it checked (the run's, the same objects step
    after step): one replaced between calls, or converted (not float64), is read anew; the
    result is always a fresh MarginUnits' store of the same state."""
    rng = np.random.default_rng(5)
    n, n_markets = 40, 3
    book = SimpleNamespace(
        account=rng.integers(0, 15, n), isolated=rng.random(n) < 0.3,
        market=rng.integers(0, n_markets, n), n_accounts=15,
    )  # fmt: skip

    def state():
        return TraderState(
            side=np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8),
            size_base=rng.lognormal(0, 1, n), equity_usd=np.zeros(n),
            maintenance_usd=np.zeros(n), collateral_in_usd=rng.uniform(10, 100, n),
            entry_price_usd=rng.uniform(50, 150, n), wallet_usd=np.zeros(n),
            read_price_usd=np.zeros(n),
        )  # fmt: skip

    kept, prices = MarginUnits.of_book(book, [0.05, 0.1, 0.2]), rng.uniform(50, 150, n_markets)
    s = state()
    units = np.arange(kept.count)
    for step in range(5):
        eq, mm = rng.normal(0, 100, kept.count), rng.uniform(0, 50, kept.count)
        if step == 1:
            s.size_base = rng.lognormal(0, 1, n)  # replaced
        if step == 2:
            s.entry_price_usd = rng.uniform(50, 150, n).astype(np.float32)  # converted
        if step == 3:  # changed in place (the same objects)
            s.size_base[5:10] = 0.0
            s.entry_price_usd[:5] = 10.0
        if step == 4:
            s.collateral_in_usd = s.collateral_in_usd * 2.0
        fresh = TraderState(**{k: np.array(v, copy=True) if v is not None else None
                               for k, v in vars(s).items()})  # fmt: skip
        kept.store(s, units, eq, mm, prices, book.market)
        MarginUnits.of_book(book, [0.05, 0.1, 0.2]).store(fresh, units, eq, mm, prices,
                                                          book.market)  # fmt: skip
        for name in ("equity_usd", "maintenance_usd", "read_price_usd"):
            assert np.array_equal(getattr(s, name), getattr(fresh, name)), (step, name)
