"""The order-flow phase's view of its slots (simulator.engine.flow._slot_inputs): each slot's
carried equity and whether its margin unit is above maintenance are, bit for bit, the whole
book's :func:`~simulator.agents.traders.estimate` summed per unit, whether the slots are their
units' only rows (a slice of the book) or share cross accounts with other positions (rows
spread through the book)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from flow_reference import slot_inputs_of

from simulator.agents.traders import TraderState, estimate
from simulator.engine.flow import FlowRun, slot_layout
from simulator.engine.margin import MarginUnits


def book_and_slots(rng: np.random.Generator, shared: bool):
    """A book of 60 opening rows (some isolated, some accounts with two positions) and 40
    flow slots: their own accounts after the book, or (``shared``) spread through the book
    with half of them in opening accounts."""
    n_open, n_flow, n_markets = 60, 40, 3
    n = n_open + n_flow
    account = np.concatenate([rng.integers(0, 45, n_open), 45 + np.arange(n_flow)])
    isolated = np.concatenate([rng.random(n_open) < 0.2, np.zeros(n_flow, dtype=bool)])
    market = rng.integers(0, n_markets, n)
    slots = np.arange(n_open, n)
    if shared:
        order = rng.permutation(n)
        account, isolated, market = account[order], isolated[order], market[order]
        slots = np.sort(np.flatnonzero(order >= n_open))
        half = slots[: n_flow // 2]
        cross_accounts = np.unique(account[~isolated & (account < 45)])
        account[half] = rng.choice(cross_accounts, len(half))
    book = SimpleNamespace(
        account=account, isolated=isolated, market=market, n_accounts=45 + n_flow,
        collateral_usd=rng.uniform(100.0, 1000.0, n),
    )  # fmt: skip
    size = np.where(rng.random(n) < 0.7, rng.uniform(0.1, 5.0, n), 0.0)
    state = TraderState(
        side=rng.choice(np.array([-1, 1], dtype=np.int8), n),
        size_base=size,
        equity_usd=rng.uniform(-50.0, 500.0, n),
        maintenance_usd=rng.uniform(0.0, 300.0, n),
        collateral_in_usd=rng.uniform(100.0, 1000.0, n),
        entry_price_usd=rng.uniform(90.0, 110.0, n),
        wallet_usd=np.zeros(n),
        read_price_usd=rng.uniform(90.0, 110.0, n),
    )
    return book, state, slots, rng.uniform(85.0, 115.0, n_markets)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_slot_health_is_the_books_estimate_summed_per_unit(shared, seed):
    book, state, slots, prices = book_and_slots(np.random.default_rng(seed), shared)
    units = MarginUnits.of_book(book)
    layout = slot_layout(book, units, slots)
    assert layout["own_units"] is not shared
    assert isinstance(layout["at"], slice) is not shared
    run = FlowRun(params=None, rows=slots, kind=np.zeros(len(slots), dtype=np.int64),
                  stream=None, max_leverage=None, **layout)  # fmt: skip
    n = len(book.market)
    s = SimpleNamespace(trader=state, oracle_price_usd=prices, outcome=np.zeros(n, np.int8),
                        outcome_step=np.full(n, -1), opens=np.zeros(n, np.int64))  # fmt: skip
    equity, healthy, _, _ = slot_inputs_of(s, book.market, run, 0)

    want_equity, want_mm = estimate(state, prices[book.market])
    want_healthy = units.unit_sum(want_equity) > units.unit_sum(want_mm)
    assert np.array_equal(equity, want_equity[slots])
    assert np.array_equal(healthy, want_healthy[units.unit_of_row[slots]])
    assert healthy.any() and not healthy.all()  # both outcomes are exercised
