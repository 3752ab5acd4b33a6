"""Order-flow kernels (simulator.agents.flow): the arrivals' rate, who arrives after a fall and
who does not on a calm flat path, the slot picking against its row-by-row reference, the
exits, and the scenario section's bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.agents import flow
from simulator.scenario import ScenarioError, load_scenario
from simulator.scenario.flow import FLOW_KINDS, OrderFlow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from flow_reference import step_orders  # noqa: E402

M = 2  # markets
SLOTS = 400  # per kind and market: far more than any step's arrivals
MAX_LEVERAGE = np.array([40.0, 3.0])


def slots(spec: OrderFlow):
    """Per-row arrays of ``SLOTS`` flat slots per (kind, market)."""
    kind = np.repeat(np.arange(len(FLOW_KINDS)), SLOTS * M)
    market = np.tile(np.repeat(np.arange(M), SLOTS), len(FLOW_KINDS))
    return kind, market


def run_steps(spec: OrderFlow, history: np.ndarray, steps: int, funding=None, seed: int = 1):
    """Opens per (kind, market) over ``steps`` independent steps on the same price history
    (every slot flat and ready each step), their sides, and the kernel's intensity."""
    params = flow.FlowParams.from_spec(spec, 60)
    kind, market = slots(spec)
    n = len(kind)
    funding = np.zeros(M) if funding is None else np.asarray(funding, dtype=float)
    stream = np.random.default_rng(seed)
    opens = np.zeros((len(FLOW_KINDS), M))
    sides = {k: set() for k in range(len(FLOW_KINDS))}
    lam = None
    for t in range(steps):
        orders = step_orders(
            params, flow.step_rng(stream, t), t, history, funding,
            kind=kind, market=market, size_base=np.zeros(n), equity_usd=np.full(n, 1_000.0),
            ready=np.ones(n, dtype=bool), last_side=np.zeros(n, dtype=np.int8),
            open_equity_usd=np.zeros(n), exit_step=np.full(n, -1), can_close=np.ones(n, bool),
            max_leverage=MAX_LEVERAGE,
        )  # fmt: skip
        assert not orders.unfilled.any()
        np.add.at(opens, (kind[orders.open_rows], market[orders.open_rows]), 1)
        for k, s in zip(kind[orders.open_rows], orders.side, strict=True):
            sides[int(k)].add(int(s))
        lam = orders.intensity
    return opens / steps, sides, lam


def flat_history(steps: int = 300) -> np.ndarray:
    return np.tile([100_000.0, 1.0], (steps, 1))


def falling_history(fall: float, steps: int = 300, over: int = 20) -> np.ndarray:
    """Flat, then the last ``over`` steps fall by ``fall`` (both markets)."""
    h = flat_history(steps)
    h[-over:] *= np.linspace(1.0, 1.0 - fall, over)[:, None]
    return h


def test_mean_arrivals_per_step_match_the_intensity():
    spec = OrderFlow()
    history = falling_history(0.10)  # every kind but funding arbitrage active
    steps = 3_000
    mean, _, lam = run_steps(spec, history, steps, funding=[0.0, 0.0002])
    # The formula: rate/h x 1/60 h x (1 + a_vol x vol excess + a_mom x |return over 30 min|).
    signals = flow.market_signals(history, 30, 240)
    boost = 1 + spec.volatility_sensitivity * signals.vol_excess + 20.0 * np.abs(signals.ret)
    assert np.allclose(lam[flow.MOMENTUM], 30.0 / 60.0 * boost)
    assert np.allclose(lam[flow.DIP_BUYERS], 60.0 / 60.0 * boost)
    assert lam[flow.FUNDING_ARBITRAGE, 0] == 0.0  # no funding in market 0
    assert lam[flow.FUNDING_ARBITRAGE, 1] > 0.0
    # Poisson mean within 4 standard errors of the intensity, in every (kind, market).
    se = np.sqrt(np.maximum(lam, 1e-12) / steps)
    assert np.all(np.abs(mean - lam) <= 4 * se + 1e-12), (mean, lam)
    assert (lam > 0).sum() == 9


def test_dip_buyers_and_short_sellers_arrive_after_a_fall_and_not_on_a_calm_flat_path():
    spec = OrderFlow()
    calm, calm_sides, _ = run_steps(spec, flat_history(), 500)
    assert calm[flow.DIP_BUYERS].sum() == 0
    assert calm[flow.SHORT_SELLERS].sum() == 0
    assert calm[flow.MOMENTUM].sum() == 0  # no return on a flat path
    assert calm[flow.REENTRY].sum() > 0  # re-entry arrives at its base rate

    fell, sides, _ = run_steps(spec, falling_history(0.10), 500)
    assert np.all(fell[flow.DIP_BUYERS] > 0.5)
    assert np.all(fell[flow.SHORT_SELLERS] > 0.5)
    assert sides[flow.DIP_BUYERS] == {1}
    assert sides[flow.SHORT_SELLERS] == {-1}
    assert sides[flow.MOMENTUM] == {-1}  # momentum followers sell a fall

    # A fall of 3%: the short sellers (from 2%) come, the dip buyers (from 4%) not yet.
    small, _, _ = run_steps(spec, falling_history(0.03), 300)
    assert small[flow.DIP_BUYERS].sum() == 0
    assert np.all(small[flow.SHORT_SELLERS] > 0)


def test_funding_arbitrage_takes_the_side_that_receives_funding():
    spec = OrderFlow()
    _, sides, _ = run_steps(spec, flat_history(), 300, funding=[0.0005, 0.0005])
    assert sides[flow.FUNDING_ARBITRAGE] == {-1}  # longs pay: go short
    _, sides, _ = run_steps(spec, flat_history(), 300, funding=[-0.0005, -0.0005])
    assert sides[flow.FUNDING_ARBITRAGE] == {1}


def test_open_sizes_follow_equity_leverage_and_price():
    spec = OrderFlow()
    params = flow.FlowParams.from_spec(spec, 60)
    kind, market = slots(spec)
    n = len(kind)
    history = falling_history(0.10)
    equity = np.random.default_rng(3).uniform(100, 5_000, n)
    orders = step_orders(
        params, flow.step_rng(np.random.default_rng(0), 7), 7, history, np.zeros(M),
        kind=kind, market=market, size_base=np.zeros(n), equity_usd=equity,
        ready=np.ones(n, bool), last_side=np.zeros(n, np.int8), open_equity_usd=np.zeros(n),
        exit_step=np.full(n, -1), can_close=np.ones(n, bool), max_leverage=MAX_LEVERAGE,
    )  # fmt: skip
    rows = orders.open_rows
    k, m = kind[rows], market[rows]
    assert len(rows) > 0
    low = MAX_LEVERAGE[m] * params.leverage_min_share[k]
    high = MAX_LEVERAGE[m] * params.leverage_max_share[k]
    assert np.all((orders.leverage >= low) & (orders.leverage <= high))
    assert np.allclose(orders.size_base * history[-1][m], equity[rows] * orders.leverage)
    assert np.all(orders.exit_step >= 8)


def test_an_open_stakes_at_most_the_slots_ticket():
    """A slot whose equity grew past its setup collateral (its ticket) opens on the ticket:
    winners do not compound their gains into ever larger orders."""
    params = flow.FlowParams.from_spec(OrderFlow(), 60)
    kind, market = slots(OrderFlow())
    n = len(kind)
    equity, ticket = np.full(n, 50_000.0), np.full(n, 1_000.0)
    args = dict(
        kind=kind, market=market, size_base=np.zeros(n), equity_usd=equity,
        ready=np.ones(n, bool), last_side=np.zeros(n, np.int8), open_equity_usd=np.zeros(n),
        exit_step=np.full(n, -1), can_close=np.ones(n, bool), max_leverage=MAX_LEVERAGE,
    )  # fmt: skip
    history = falling_history(0.10)
    rng = np.random.default_rng(0)
    capped = step_orders(params, flow.step_rng(rng, 3), 3, history, np.zeros(M), **args,
                              ticket_usd=ticket)  # fmt: skip
    m = market[capped.open_rows]
    assert len(m) and np.allclose(capped.size_base * history[-1][m], 1_000.0 * capped.leverage)
    # Take-profit and stop-loss are shares of that stake: +30% of 1,000, not of 50,000.
    size = np.zeros(n)
    size[0] = 1.0
    rows, reason = flow.exits(params, kind, size, np.full(n, 50_300.0), equity,
                              np.full(n, 99), 3, np.ones(n, bool), ticket)  # fmt: skip
    assert rows.tolist() == [0] and flow.EXIT_REASONS[reason[0]] == "take_profit"


def test_pick_slots_matches_the_row_by_row_reference():
    rng = np.random.default_rng(5)
    n = 500
    kind = rng.integers(0, 5, n)
    market = rng.integers(0, 3, n)
    eligible = rng.random(n) < 0.6
    keys = rng.random(n)
    counts = rng.integers(0, 30, (5, 3))
    rows, unfilled = flow.pick_slots(counts, eligible, kind, market, keys)
    ref_rows, ref_unfilled = flow.pick_slots_reference(counts, eligible, kind, market, keys)
    assert rows.tolist() == ref_rows
    assert np.array_equal(unfilled, ref_unfilled)
    assert unfilled.sum() > 0  # some groups ran out of slots: counted


def test_exits_take_profit_stop_loss_and_holding_time():
    params = flow.FlowParams.from_spec(OrderFlow(), 60)
    kind = np.array([0, 0, 0, 0, 0, 3, -1])
    size = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    open_eq = np.full(7, 1_000.0)
    equity = np.array([1_300.0, 700.0, 1_000.0, 1_000.0, 2_000.0, 100.0, 5_000.0])
    exit_step = np.array([99, 99, 10, 99, 10, 99, 10])
    can_close = np.array([True] * 6 + [True])
    rows, reason = flow.exits(params, kind, size, equity, open_eq, exit_step, 10, can_close)
    assert rows.tolist() == [0, 1, 2]  # row 4 flat, row 5 re-entry has no stop loss, 6 no slot
    assert [flow.EXIT_REASONS[r] for r in reason] == ["take_profit", "stop_loss", "hold_expired"]
    can_close[0] = False  # under maintenance: the keepers' business
    rows, _ = flow.exits(params, kind, size, equity, open_eq, exit_step, 10, can_close)
    assert rows.tolist() == [1, 2]


def test_same_seed_same_orders_another_step_other_orders():
    spec = OrderFlow()
    a, _, _ = run_steps(spec, falling_history(0.1), 50, seed=7)
    b, _, _ = run_steps(spec, falling_history(0.1), 50, seed=7)
    c, _, _ = run_steps(spec, falling_history(0.1), 50, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("order_flow.momentum.rate_per_hour", -1, "order_flow.momentum.rate_per_hour"),
        (
            "order_flow.dip_buyers.rate_per_hour",
            float("nan"),
            "order_flow.dip_buyers.rate_per_hour",
        ),
        ("order_flow.short_sellers.leverage_max_share", 1.5, "leverage_max_share"),
        ("order_flow.reentry.leverage_min_share", 0, "leverage_min_share"),
        ("order_flow.funding_arbitrage.leverage_min_share", 0.9, "must not exceed"),
        ("order_flow.lookback_minutes", 500, "reference_minutes"),
    ],
)
def test_bad_order_flow_input_is_one_line_naming_the_key(key, value, words):
    with pytest.raises(ScenarioError) as err:
        load_scenario("calm", {"order_flow": {}, key: value})
    message = str(err.value)
    assert words in message
    assert "\n" not in message
    assert err.value.exit_code == 2


def test_bench_prints_the_plan_time_per_step_for_1k_and_10k_slots():
    from benchmarks.run import flow_plan_timing

    figures = flow_plan_timing(steps=3)
    assert set(figures) == {
        "flow_plan_ms_per_step_1000_slots",
        "flow_plan_ms_per_step_10000_slots",
    }
    assert all(v > 0 for v in figures.values())
