"""The order-flow phase's compiled glue of session 26, kept in ``flow_reference.py``:
``slot_inputs`` behind ``slot_inputs_of``, and ``planned_change``) gives, bit for bit, what the
numpy lines of ``plan_flow`` it replaced gave (kept below as the reference): each slot's
carried equity and unit health (``_slot_health`` before session 26), whether it may enter,
the side it held last, and the flow's planned change of open interest per market and side.
Drawn books whose slots are their units' only rows and books where they share cross
accounts; outcomes idle, open, ended within and past the cooldown; empty and one-slot
steps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from flow_reference import planned_change, slot_inputs_of
from test_flow_slot_health import book_and_slots

from simulator.engine.flow import FlowRun, slot_layout
from simulator.engine.margin import MarginUnits
from simulator.engine.state import CLOSED, IDLE, LIQUIDATED, OPEN


def slot_health_reference(s, market_of_row: np.ndarray, run: FlowRun):
    """``simulator.engine.flow._slot_health`` as numpy code (session 25)."""
    tr = s.trader
    if run.own_units:  # a one-row unit's sum is its row's (0.0 + x: x, as compared)
        r, price = run.at, s.oracle_price_usd[run.market]
    else:
        r = run.unit_rows
        price = s.oracle_price_usd[market_of_row[r]]
    read = tr.read_price_usd[r]
    side = tr.side[r].astype(np.float64)
    equity = tr.equity_usd[r] + side * tr.size_base[r] * (price - read)
    maintenance = tr.maintenance_usd[r] * (price / read)
    if run.own_units:
        return equity, equity > maintenance
    n = len(run.slot_unit) and int(run.unit_slot.max()) + 1
    healthy = np.bincount(run.unit_slot, weights=equity, minlength=n) > np.bincount(
        run.unit_slot, weights=maintenance, minlength=n
    )
    return equity[run.slot_in_unit_rows], healthy[run.slot_unit]


def ready_and_last_side_reference(s, run: FlowRun, t: int):
    """``plan_flow``'s numpy lines (session 25): may each slot enter, and its last side."""
    at = run.at
    outcome_step = s.outcome_step[at]
    ready = (s.outcome[at] == IDLE) | (
        (outcome_step >= 0) & (t >= outcome_step + run.cooldown_steps)
    )
    last_side = np.where(s.opens[at] > 0, s.trader.side[at], 0)
    return ready, last_side


def planned_change_reference(orders, market, size_now, side_now, n_markets):
    """``plan_flow``'s ``change`` (session 25): per market, opens less closes by side."""
    close_market = market[orders.close_rows]
    open_market = market[orders.open_rows]
    close_size, close_side = size_now[orders.close_rows], side_now[orders.close_rows]
    sent = orders.size_base.round(12)

    def change(side: int) -> np.ndarray:
        closed = close_size * (close_side == side)
        opened = sent * (orders.side == side)
        return np.bincount(open_market, weights=opened, minlength=n_markets) - np.bincount(
            close_market, weights=closed, minlength=n_markets
        )

    return change(1), change(-1)


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.int64) if a.dtype == np.float64 else a


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_slot_inputs_equal_the_numpy_formulation(shared, seed):
    rng = np.random.default_rng(seed)
    book, state, slots, prices = book_and_slots(rng, shared)
    units = MarginUnits.of_book(book)
    layout = slot_layout(book, units, slots)
    n, k = len(book.market), len(slots)
    run = FlowRun(params=None, rows=slots, kind=rng.integers(0, 5, k), stream=None,
                  max_leverage=None, cooldown_steps=rng.integers(0, 6, k), **layout)  # fmt: skip
    t = 20
    s = SimpleNamespace(
        trader=state, oracle_price_usd=prices,
        outcome=rng.choice(np.array([OPEN, CLOSED, LIQUIDATED, IDLE], dtype=np.int8), n),
        outcome_step=np.where(rng.random(n) < 0.3, -1, rng.integers(10, 21, n)),
        opens=rng.integers(0, 3, n),
    )  # fmt: skip
    if seed == 0:
        state.read_price_usd[slots[0]] = 0.0  # a zero read: inf / NaN alike
    with np.errstate(divide="ignore", invalid="ignore"):
        equity, healthy, ready, last_side = slot_inputs_of(s, book.market, run, t)
        want_equity, want_healthy = slot_health_reference(s, book.market, run)
    want_ready, want_side = ready_and_last_side_reference(s, run, t)
    for got, want in ((equity, want_equity), (healthy, want_healthy), (ready, want_ready),
                      (last_side, want_side)):  # fmt: skip
        assert got.dtype == want.dtype and np.array_equal(_bits(got), _bits(want))
    assert ready.any() and not ready.all() and (last_side == 0).any() and last_side.any()


@pytest.mark.parametrize("seed", range(8))
def test_planned_change_equals_the_bincounts(seed):
    rng = np.random.default_rng(seed)
    n_slots, n_markets = int(rng.choice([0, 1, 9, 300])), int(rng.choice([1, 3, 5]))
    market = rng.integers(0, n_markets, n_slots)
    size_now = np.where(rng.random(n_slots) < 0.5, 0.0, rng.lognormal(0, 2, n_slots))
    side_now = rng.choice(np.array([-1, 1], dtype=np.int8), n_slots)
    chosen = rng.random(n_slots)
    orders = SimpleNamespace(
        close_rows=np.flatnonzero(chosen < 0.2),
        open_rows=np.flatnonzero(chosen > 0.7),
        side=rng.choice(np.array([-1, 1], dtype=np.int8), int((chosen > 0.7).sum())),
        size_base=rng.lognormal(0, 3, int((chosen > 0.7).sum())),
    )
    got = planned_change(
        orders.close_rows, orders.open_rows, orders.side, orders.size_base.round(12), market,
        size_now, side_now, n_markets,
    )  # fmt: skip
    want = planned_change_reference(orders, market, size_now, side_now, n_markets)
    for a, b in zip(got, want, strict=True):
        assert a.shape == (n_markets,) and np.array_equal(_bits(a), _bits(b))
