"""The order flow's compiled step before session 28 (``step_orders`` on its kernels, kept in
``tests/engine/flow_reference.py`` as the engine plan's reference) gives, bit for bit, what its numpy formulation gave (below,
:func:`step_orders_reference`: the body of ``step_orders`` before session 26, on the numpy
kernels ``exits``, ``market_signals``, ``intensity`` and ``pick_slots``), draws included: the
same generator ends in the same state. Drawn inputs: one to seven markets, histories of one to
hundreds of rows (with a zero, a NaN or an infinite price), no slot, one slot, hundreds, rows
that are not flow slots, NaN and infinite funding rates, NaN equity, with and without tickets
and the run's slot groups, take-profit and stop-loss off (inf)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.agents import flow
from simulator.agents.flow import (
    DRAWS_PER_SLOT,
    exits,
    intensity,
    market_signals,
    pick_slots,
)
from simulator.scenario.flow import FLOW_KINDS, OrderFlow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from flow_reference import FlowOrders, step_orders  # noqa: E402


def step_orders_reference(
    params, rng, t, history_usd, funding_rate_per_hour, kind, market, size_base, equity_usd,
    ready, last_side, open_equity_usd, exit_step, can_close, max_leverage, ticket_usd=None,
    group_of_slot=None,
) -> FlowOrders:  # fmt: skip
    """``step_orders`` as numpy code (session 25's body, unchanged)."""
    close_rows, reason = exits(
        params, kind, size_base, equity_usd, open_equity_usd, exit_step, t, can_close, ticket_usd
    )
    signals = market_signals(history_usd, params.lookback_steps, params.reference_steps)
    lam, side_km = intensity(params, signals, funding_rate_per_hour)
    counts = rng.poisson(lam)
    draws = rng.random((DRAWS_PER_SLOT, len(kind)))
    eligible = (kind >= 0) & (size_base == 0) & ready & (equity_usd >= params.min_equity_usd)
    rows, unfilled = pick_slots(counts, eligible, kind, market, draws[0], group_of_slot)
    k, m = kind[rows].astype(np.int64), market[rows]
    lo, hi = params.leverage_min_share[k], params.leverage_max_share[k]
    leverage = max_leverage[m] * (lo + (hi - lo) * draws[1, rows])
    hold = np.maximum(np.ceil(-np.log1p(-draws[2, rows]) * params.hold_steps[k]), 1.0)
    first_side = np.where(draws[3, rows] < params.reentry_long_share, 1, -1)
    own = np.where(last_side[rows] != 0, last_side[rows], first_side)
    side = np.where(side_km[k, m] != 0, side_km[k, m], own).astype(np.int8)
    price = np.asarray(history_usd, dtype=np.float64).reshape(len(history_usd), -1)[-1]
    stake = equity_usd[rows] if ticket_usd is None else np.minimum(equity_usd, ticket_usd)[rows]
    size = stake * leverage / price[m]
    return FlowOrders(
        open_rows=rows,
        side=side,
        leverage=leverage,
        size_base=size,
        exit_step=t + hold.astype(np.int64),
        close_rows=close_rows,
        close_reason=reason,
        arrivals=counts,
        unfilled=unfilled,
        intensity=lam,
    )


FIELDS = ("open_rows", "side", "leverage", "size_base", "exit_step", "close_rows",
          "close_reason", "arrivals", "unfilled", "intensity")  # fmt: skip


def _spec(rng: np.random.Generator) -> OrderFlow:
    """A flow section with drawn rates, shares and exits (some off)."""
    spec = OrderFlow()
    data = spec.model_dump()
    for name in ("momentum", "dip_buyers", "short_sellers", "reentry", "funding_arbitrage"):
        kind = data[name]
        kind["rate_per_hour"] = float(rng.choice([0.0, 5.0, 200.0, 3000.0]))
        kind["hold_minutes"] = float(rng.choice([1.0, 30.0, 600.0]))
        kind["take_profit_fraction"] = None if rng.random() < 0.3 else float(rng.uniform(0.05, 1))
        kind["stop_loss_fraction"] = None if rng.random() < 0.3 else float(rng.uniform(0.05, 1))
        lo = float(rng.uniform(0.05, 0.9))
        kind["leverage_min_share"], kind["leverage_max_share"] = lo, float(rng.uniform(lo, 1.0))
    data["lookback_minutes"] = float(rng.choice([1.0, 2.0, 30.0]))
    data["reference_minutes"] = data["lookback_minutes"] * float(rng.choice([1.0, 2.0, 8.0]))
    return OrderFlow.model_validate(data)


def _inputs(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n_markets = int(rng.choice([1, 2, 5, 7]))
    n_hist = int(rng.choice([1, 2, 3, 31, 300]))
    n_rows = int(rng.choice([0, 1, 7, 300, 1300]))
    history = 100.0 * np.exp(np.cumsum(0.02 * rng.standard_normal((n_hist, n_markets)), axis=0))
    if n_hist > 3 and rng.random() < 0.5:
        history[-8:] *= np.linspace(1.0, 0.5, min(8, n_hist))[:, None]  # a fall: dip buyers
    if rng.random() < 0.25:
        i, j = rng.integers(0, n_hist), rng.integers(0, n_markets)
        history[i, j] = rng.choice([0.0, np.nan, np.inf])
    funding = rng.normal(0, 1e-4, n_markets)
    if rng.random() < 0.3:
        funding[0] = rng.choice([np.nan, np.inf, -np.inf, 0.0])
    kind = rng.integers(-1 if rng.random() < 0.3 else 0, len(FLOW_KINDS), n_rows)
    market = rng.integers(0, n_markets, n_rows)
    flat = rng.random(n_rows) < 0.6
    size_base = np.where(flat, 0.0, rng.uniform(0.01, 5.0, n_rows))
    equity = rng.lognormal(6.0, 2.0, n_rows) * np.where(rng.random(n_rows) < 0.1, -1.0, 1.0)
    if n_rows and rng.random() < 0.3:
        equity[0] = np.nan
    params = flow.FlowParams.from_spec(_spec(rng), 60)
    ticket = None if rng.random() < 0.3 else rng.lognormal(6.0, 1.0, n_rows)
    groups = None if rng.random() < 0.4 else flow.slot_groups(kind, market, n_markets)
    return {
        "params": params,
        "t": n_hist - 1,
        "history_usd": history,
        "funding_rate_per_hour": funding,
        "kind": kind,
        "market": market,
        "size_base": size_base,
        "equity_usd": equity,
        "ready": rng.random(n_rows) < 0.8,
        "last_side": rng.choice(np.array([-1, 0, 1], dtype=np.int8), n_rows),
        "open_equity_usd": rng.lognormal(6.0, 1.0, n_rows) * (rng.random(n_rows) < 0.9),
        "exit_step": rng.integers(-1, n_hist + 5, n_rows),
        "can_close": rng.random(n_rows) < 0.9,
        "max_leverage": rng.choice([3.0, 20.0, 50.0], n_markets),
        "ticket_usd": ticket,
        "group_of_slot": groups,
        "stream_seed": seed,
    }


def _same_orders(got: FlowOrders, want: FlowOrders) -> None:
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if a.dtype.kind == "f":
            assert np.array_equal(a.view(np.int64), b.view(np.int64)), name  # bit for bit
        else:
            assert np.array_equal(a, b), name


@pytest.mark.parametrize("seed", range(60))
def test_compiled_step_orders_equal_the_numpy_formulation(seed):
    inputs = _inputs(seed)
    stream_seed = inputs.pop("stream_seed")
    rng_a, rng_b = np.random.default_rng(stream_seed), np.random.default_rng(stream_seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        want = step_orders_reference(rng=rng_b, **inputs)
    got = step_orders(rng=rng_a, **inputs)
    _same_orders(got, want)
    assert rng_a.random() == rng_b.random()  # the stream ends where it did


def test_a_step_with_arrivals_closes_and_unfilled_groups_is_covered():
    """The drawn inputs reach every branch that matters: opens, closes of each reason,
    unfilled arrivals, and a group with more eligible slots than arrivals."""
    reasons, opened, unfilled, crowded = set(), 0, 0, 0
    for seed in range(60):
        inputs = _inputs(seed)
        stream_seed = inputs.pop("stream_seed")
        orders = step_orders(rng=np.random.default_rng(stream_seed), **inputs)
        reasons |= set(orders.close_reason.tolist())
        opened += len(orders.open_rows)
        unfilled += int(orders.unfilled.sum())
        crowded += int((orders.arrivals.sum() > 0) and len(orders.open_rows) > 0)
    assert reasons == {0, 1, 2} and opened > 100 and unfilled > 0 and crowded > 5


def test_a_run_of_steps_on_its_own_state_equals_the_reference():
    """Twenty steps of one slot book where the opens and closes feed the next step's state
    (sizes, equity at open, exit steps), both ways side by side."""
    spec = OrderFlow()
    params = flow.FlowParams.from_spec(spec, 60)
    n_markets, per = 3, 40
    kind = np.repeat(np.arange(len(FLOW_KINDS)), per * n_markets)
    market = np.tile(np.repeat(np.arange(n_markets), per), len(FLOW_KINDS))
    n = len(kind)
    rng = np.random.default_rng(9)
    history = 100.0 * np.exp(np.cumsum(0.03 * rng.standard_normal((300, n_markets)), axis=0))
    state = {
        "size_base": np.zeros(n),
        "open_equity_usd": np.zeros(n),
        "exit_step": np.full(n, -1),
        "last_side": np.zeros(n, dtype=np.int8),
    }
    stream_a, stream_b = np.random.default_rng(4), np.random.default_rng(4)
    for t in range(250, 270):
        equity = 1_000.0 + 200.0 * rng.standard_normal(n)
        args = {
            "params": params, "t": t, "history_usd": history[: t + 1],
            "funding_rate_per_hour": np.full(n_markets, 2e-4), "kind": kind, "market": market,
            "equity_usd": equity, "ready": np.ones(n, bool), "can_close": np.ones(n, bool),
            "max_leverage": np.array([50.0, 20.0, 5.0]), "ticket_usd": np.full(n, 900.0),
            "group_of_slot": flow.slot_groups(kind, market, n_markets), **state,
        }  # fmt: skip
        want = step_orders_reference(rng=flow.step_rng(stream_b, t), **args)
        got = step_orders(rng=flow.step_rng(stream_a, t), **args)
        _same_orders(got, want)
        state["size_base"][got.close_rows] = 0.0
        state["size_base"][got.open_rows] = got.size_base
        state["open_equity_usd"][got.open_rows] = equity[got.open_rows]
        state["exit_step"][got.open_rows] = got.exit_step
        state["last_side"][got.open_rows] = got.side
