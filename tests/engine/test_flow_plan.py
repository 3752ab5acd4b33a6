"""The order-flow phase's step (``simulator.engine.flow.plan_flow``: three compiled calls
around the draws, ``plan_before`` / ``plan_after`` / ``write_exit_steps`` of
``simulator.agents.flow_jit``, a generator per step from ``StepStream``) gives, bit for
bit, what it gave before session 27 (kept below: :func:`plan_flow_reference`, the numpy
glue around ``step_orders`` with ``step_rng``): the venue calls it returns (closes then
opens, in order, their WAD sizes), the ``order_flow_unfilled`` rows, the planned change of
open interest, the closes' reasons and every state array (the opening slots' side, equity at
open and exit step; nothing else). On drawn books (slots their units' only rows, or sharing
cross accounts spread through the book; flat, open, ended and cooling slots; NaN equity, a
zero read price, a zero / NaN / infinite price in the history, NaN / infinite funding rates;
histories of one row to hundreds) at several steps, and over the first steps of oct-2025 on
the mirror, step after step."""

from __future__ import annotations

import copy
import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from flow_reference import planned_change, slot_inputs_of, step_orders
from test_flow_slot_health import book_and_slots

from simulator.agents import flow as flow_agents
from simulator.agents import flow_jit
from simulator.engine import flow as engine_flow
from simulator.engine.context import Action
from simulator.engine.events import event_row
from simulator.engine.flow import FlowRun, slot_layout, unfilled_detail
from simulator.engine.margin import MarginUnits
from simulator.engine.state import CLOSED, IDLE, LIQUIDATED, OPEN
from simulator.mirror.sim.planned import PlannedCalls
from simulator.scenario.flow import FLOW_KINDS, OrderFlow
from simulator.units import to_wad


def plan_flow_reference(
    ctx,
    s,
    t: int,
    levels: dict,
    run,
    step_events: list[dict],
):
    """``plan_flow`` before session 27, verbatim (its numpy glue around
    ``simulator.agents.flow.step_orders``, a generator per step from ``step_rng``)."""
    if run is None:
        return []
    run_closes: dict[int, str] = {}
    tr = s.trader
    rows, at = run.rows, run.at
    equity, healthy, ready, last_side = slot_inputs_of(s, ctx.world.book.market, run, t)
    side_now = tr.side[at]
    size_now = tr.size_base[at]
    orders = step_orders(
        run.params,
        flow_agents.step_rng(run.stream, t),
        t,
        s.feed_prices_usd[: t + 1],
        levels["funding_rate_per_hour"],
        kind=run.kind,
        market=run.market,
        size_base=size_now,
        equity_usd=equity,
        ready=ready,
        last_side=last_side,
        open_equity_usd=s.flow_open_equity_usd[at],
        exit_step=s.flow_exit_step[at],
        can_close=healthy,
        max_leverage=run.max_leverage,
        ticket_usd=run.ticket_usd,
        group_of_slot=run.group,
    )
    v = ctx.venue.venue
    market_ids = ctx.market_ids
    accounts, markets, row_list = run.accounts, run.market_list, run.row_list
    actions: list[Action] = []
    for i, reason in zip(orders.close_rows.tolist(), orders.close_reason.tolist(), strict=True):
        r = row_list[i]
        m = markets[i]
        call = v.close_position(accounts[i], market_ids[m])
        actions.append(Action(call, "flow_close", r, m))
        run_closes[r] = flow_agents.EXIT_REASONS[reason]
    run.close_reasons = run_closes
    # Per market and side: the opens (their sizes as sent) less the closes, summed in row order
    # (np.bincount's order; tests/engine/test_flow_glue_jit.py holds it to that formulation).
    sent = orders.size_base.round(12)  # np.round's own call, without its wrapper
    run.planned_long_base, run.planned_short_base = planned_change(
        orders.close_rows, orders.open_rows, orders.side, sent, run.market, size_now, side_now,
        ctx.n_markets,
    )  # fmt: skip
    opening = rows[orders.open_rows]
    tr.side[opening] = orders.side
    s.flow_open_equity_usd[opening] = equity[orders.open_rows]
    s.flow_exit_step[opening] = orders.exit_step
    for i, side, size in zip(
        orders.open_rows.tolist(), orders.side.tolist(), orders.size_base.tolist(), strict=True
    ):
        m = markets[i]
        size_wad = side * to_wad(round(size, 12))
        call = v.trade(accounts[i], market_ids[m], size_wad)
        actions.append(Action(call, "flow_open", row_list[i], m))
    if orders.unfilled.any():
        arrivals, unfilled = orders.arrivals.tolist(), orders.unfilled.tolist()
        kinds, unfilled_markets = np.nonzero(orders.unfilled)
        for k, m in zip(kinds.tolist(), unfilled_markets.tolist(), strict=True):
            detail = unfilled_detail(FLOW_KINDS[k], arrivals[k][m], unfilled[k][m])
            step_events.append(
                event_row(t, "order_flow_unfilled", market=ctx.symbols[m], detail=detail)
            )
    return actions


def _bits(a):
    a = np.asarray(a)
    return a.view(np.int64) if a.dtype == np.float64 else a


def _same_state(got, want) -> None:
    """Every array of two engine states (and of their traders') equal, bit for bit."""
    for name, a in vars(want).items():
        if isinstance(a, np.ndarray):
            b = getattr(got, name)
            assert a.dtype == b.dtype and np.array_equal(_bits(b), _bits(a)), name
    if hasattr(want, "trader"):
        _same_state(got.trader, want.trader)


#: The phase under test (the run-level test below wraps the module's name).
PLAN_FLOW = engine_flow.plan_flow


def compare_step(ctx, s, t: int, levels: dict, run: FlowRun, step_events=None) -> list:
    """``plan_flow`` on ``s`` and the reference on a copy of it: the same calls, rows, run
    fields and state. Returns the calls (the rows go to ``step_events``)."""
    s_want, run_want, events_want = copy.deepcopy(s), dataclasses.replace(run), []
    want = plan_flow_reference(ctx, s_want, t, levels, run_want, events_want)
    events = [] if step_events is None else step_events
    got = PLAN_FLOW(ctx, s, t, levels, run, events)
    assert repr(got) == repr(want)  # the calls, their order and their values' types
    assert got == want and events == events_want and repr(events) == repr(events_want)
    assert run.close_reasons == run_want.close_reasons
    for a, b in ((run.planned_long_base, run_want.planned_long_base),
                 (run.planned_short_base, run_want.planned_short_base)):  # fmt: skip
        assert a.dtype == b.dtype and np.array_equal(_bits(a), _bits(b))
    _same_state(s, s_want)
    return got


def _spec(rng: np.random.Generator) -> OrderFlow:
    """A flow section with drawn rates (some high: more arrivals than slots), holding times,
    exits (some off) and leverage shares."""
    data = OrderFlow().model_dump()
    for name in ("momentum", "dip_buyers", "short_sellers", "reentry", "funding_arbitrage"):
        kind = data[name]
        kind["rate_per_hour"] = float(rng.choice([0.0, 30.0, 600.0, 6000.0]))
        kind["hold_minutes"] = float(rng.choice([1.0, 30.0, 600.0]))
        kind["cooldown_minutes"] = float(rng.choice([0.0, 2.0, 10.0]))
        kind["take_profit_fraction"] = None if rng.random() < 0.3 else float(rng.uniform(0.01, 1))
        kind["stop_loss_fraction"] = None if rng.random() < 0.3 else float(rng.uniform(0.01, 1))
        lo = float(rng.uniform(0.05, 0.9))
        kind["leverage_min_share"], kind["leverage_max_share"] = lo, float(rng.uniform(lo, 1.0))
    data["lookback_minutes"] = float(rng.choice([1.0, 2.0, 30.0]))
    data["reference_minutes"] = data["lookback_minutes"] * float(rng.choice([1.0, 2.0, 8.0]))
    return OrderFlow.model_validate(data)


def steps_of(n_hist: int) -> list[int]:
    """The steps a drawn case is planned at (its price history's first, middle and last)."""
    return sorted({0, n_hist // 2, n_hist - 1})


def drawn_case(seed: int, shared: bool):
    """A drawn book with flow slots, its run, state, context and price history."""
    rng = np.random.default_rng(seed)
    book, state, slots, prices = book_and_slots(rng, shared)
    n, n_slots, n_markets = len(book.market), len(slots), 3
    spec = _spec(rng)
    params = flow_agents.FlowParams.from_spec(spec, 60)
    kind = rng.integers(0, len(FLOW_KINDS), n_slots)
    if seed % 2:  # every slot a re-entry (always active): 3 groups of ~13 slots, ~1 or ~6 arrivals
        kind[:] = FLOW_KINDS.index("reentry")
        spec = spec.model_copy(update={"reentry": spec.reentry.model_copy(
            update={"rate_per_hour": float(rng.choice([60.0, 360.0]))})})  # fmt: skip
        params = flow_agents.FlowParams.from_spec(spec, 60)
    stream = np.random.default_rng(seed + 100)
    units = MarginUnits.of_book(book)
    run = FlowRun(
        params=params, rows=slots, kind=kind, stream=stream,
        max_leverage=rng.choice([3.0, 20.0, 50.0], n_markets),
        accounts=[f"0x{a:040x}" for a in book.account[slots]],
        cooldown_steps=params.cooldown_steps[kind],
        group=None if rng.random() < 0.3 else flow_agents.slot_groups(
            kind, book.market[slots], n_markets),
        steps=flow_agents.step_generators(stream),
        **slot_layout(book, units, slots),
    )  # fmt: skip
    n_hist = int(rng.choice([1, 3, 40, 400]))
    history = 100.0 * np.exp(np.cumsum(0.01 * rng.standard_normal((n_hist, n_markets)), axis=0))
    if n_hist > 8 and rng.random() < 0.5:
        history[-8:] *= np.linspace(1.0, 0.8, 8)[:, None]  # a fall: dip buyers, shorts
    quiet = np.setdiff1d(np.arange(n_hist), steps_of(n_hist))  # never a tested step's price
    if len(quiet) and rng.random() < 0.3:  # a bad price in the signals' window
        bad = rng.choice([0.0, np.nan, np.inf])
        history[rng.choice(quiet), rng.integers(0, n_markets)] = bad
    flat = rng.random(n) < (0.85 if seed % 2 else 0.5)
    state.size_base[slots] = np.where(flat[slots], 0.0, state.size_base[slots])
    if rng.random() < 0.3:
        state.equity_usd[slots[1]] = np.nan
    if rng.random() < 0.3:
        state.read_price_usd[slots[2]] = 0.0
    s = SimpleNamespace(
        trader=state, oracle_price_usd=prices, feed_prices_usd=history,
        outcome=rng.choice(np.array([OPEN, CLOSED, LIQUIDATED, IDLE], dtype=np.int8), n),
        outcome_step=np.where(rng.random(n) < 0.3, -1, rng.integers(0, n_hist + 1, n)),
        opens=rng.integers(0, 3, n),
        flow_open_equity_usd=rng.lognormal(5.0, 1.0, n) * (rng.random(n) < 0.9),
        flow_exit_step=rng.integers(-1, n_hist + 5, n),
    )  # fmt: skip
    if seed % 2:  # most slots idle: groups with more eligible slots than arrivals
        s.outcome[slots] = np.where(rng.random(n_slots) < 0.9, IDLE, s.outcome[slots])
    ctx = SimpleNamespace(
        venue=SimpleNamespace(venue=PlannedCalls()), market_ids=[7, 8, 9],
        symbols=["BTC", "ETH", "SOL"], n_markets=n_markets, world=SimpleNamespace(book=book),
        keeps=lambda kind: True,  # a run folder's: every row (Context.keeps)
    )  # fmt: skip
    funding = rng.normal(0.0, 2e-4, n_markets)
    if rng.random() < 0.3:
        funding[rng.integers(0, n_markets)] = rng.choice([np.nan, np.inf, -np.inf])
    return ctx, s, run, n_hist, {"funding_rate_per_hour": funding}


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("seed", range(10))
def test_plan_equals_its_form_before(shared, seed):
    """Drawn books: ``plan_flow`` at several steps equals its form before session 27."""
    ctx, s, run, n_hist, levels = drawn_case(seed, shared)
    calls = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in steps_of(n_hist):
            calls += compare_step(ctx, s, t, levels, run)
    if seed == 0:  # both kinds of call are exercised
        assert {a.kind for a in calls} == {"flow_open", "flow_close"}


def test_round12_is_ndarray_round():
    """``flow_jit.round12`` is ``ndarray.round(12)`` (the sizes as sent), element by element."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.lognormal(0.0, 6.0, 5000), rng.uniform(0, 1e-9, 100),
                        [0.0, -0.0, 0.5e-12, 1.5e-12, 2.5e-12, np.nan, np.inf, -np.inf, 1e300,
                         -3.25e-12]])  # fmt: skip
    got = np.array([flow_jit.round12(v) for v in x])
    with np.errstate(over="ignore", invalid="ignore"):
        want = x.round(12)
    assert np.array_equal(_bits(got), _bits(want))


def test_mirror_oct_2025_step_by_step(monkeypatch):
    """The first 720 steps of oct-2025 (the shock at 600) on the mirror: every step's plan equals its form
    before, on the run's own states."""
    from benchmarks.mirror import bench_scenario
    from simulator.mirror.sim import MirrorEngine

    seen = []

    def compared(ctx, s, t, levels, run, step_events):
        got = compare_step(ctx, s, t, levels, run, step_events)
        seen.append(len(got))
        return got

    monkeypatch.setattr(engine_flow, "plan_flow", compared)
    sc = bench_scenario("oct-2025", [], None, 720)
    engine = MirrorEngine(sc, mode="fast")
    # the Actions' path, through plan_flow (the arrays' path, plan_arrays, is held to it step
    # by step: tests/mirror/test_mirror_flow_arrays.py)
    engine.flow.array_calls = False
    engine.run(on_step=lambda o: None)
    assert len(seen) == 721 and sum(seen) > 5000


@pytest.mark.parametrize("seed", range(20))
def test_take_smallest_is_a_stable_argsorts_first(seed):
    """A group's few arrivals take the slots a stable argsort of the keys puts first (ties to
    the earlier row, NaN last), among members in row order, other groups' picks untouched."""
    rng = np.random.default_rng(seed)
    n_rows = int(rng.integers(1, 60))
    keys = rng.choice(np.array([0.1, 0.2, 0.5, np.nan]), n_rows) if seed % 3 == 0 else (
        rng.random(n_rows))  # fmt: skip
    members = np.sort(rng.choice(n_rows, int(rng.integers(1, n_rows + 1)), replace=False))
    picked = rng.random(n_rows) < 0.2
    picked[members] = False
    before = picked.copy()
    wanted = int(rng.integers(1, len(members) + 1))
    flow_jit._take_smallest(keys, members, 0, len(members), wanted, picked)
    order = np.argsort(keys[members], kind="mergesort")
    want = before.copy()
    want[members[order[:wanted]]] = True
    assert np.array_equal(picked, want)
