"""The fast mirror's order flow from the plan's arrays (:func:`simulator.engine.flow.
plan_arrays` -> :func:`simulator.mirror.sim.flow.execute_arrays` -> the slots' decode and
:func:`simulator.engine.flow.record_flow_slots`) is held to the Actions' path it replaced
(:func:`~simulator.engine.flow.plan_flow`'s Actions -> :func:`simulator.mirror.sim.planned.
execute_many` -> :func:`~simulator.engine.events.decode_positions` /
:func:`~simulator.engine.flow.record_flow_calls`, ``FlowRun.array_calls`` False): two engines
side by side on oct-2025, compared after every step (step rows, event rows, the slots' state,
the venue's positions and balances), in both modes of ``event_kinds``, and on blocks where
drawn flow accounts lose their collateral so that their calls revert (the batch stops at
them and they are made alone)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.mirror.run import EVALUATION_EVENT_KINDS
from simulator.mirror.sim import MirrorEngine
from simulator.scenario import load_scenario

STATE_FIELDS = ("opens", "opened_step", "outcome", "outcome_step", "realized_pnl_usd",
                "flow_open_size_base", "flow_open_entry_usd", "flow_open_equity_usd",
                "flow_exit_step")  # fmt: skip
TRADER_FIELDS = ("size_base", "entry_price_usd", "equity_usd", "maintenance_usd")
VENUE_FIELDS = ("size", "entry", "collateral", "long_oi", "short_oi")


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("oct-2025", [])


def _pair(scenario, event_kinds):
    """The arrays' engine and the Actions' engine (fast mode, same scenario)."""
    arrays = MirrorEngine(scenario, mode="fast", event_kinds=event_kinds)
    actions = MirrorEngine(scenario, mode="fast", event_kinds=event_kinds)
    assert arrays.flow is not None and arrays.flow.array_calls
    actions.flow.array_calls = False
    return arrays, actions


def _same_value(x, y) -> bool:
    """The same row field: equal, of the same type (a float and numpy's float64 alike), NaN
    equal to NaN."""
    if isinstance(x, float) and isinstance(y, float):  # np.float64 is a float
        return x == y or (math.isnan(x) and math.isnan(y))
    return type(x) is type(y) and x == y


def _same_rows(got: list[dict], want: list[dict], what: str, t: int) -> None:
    assert len(got) == len(want), f"step {t}: {what}: {len(got)} rows, want {len(want)}"
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert list(a) == list(b), f"step {t}: {what}[{k}] keys {list(a)} != {list(b)}"
        for key in a:
            assert _same_value(a[key], b[key]), (
                f"step {t}: {what}[{k}][{key!r}]: {a[key]!r} != {b[key]!r}"
            )


def _same_state(a: MirrorEngine, b: MirrorEngine, t: int) -> None:
    for name in STATE_FIELDS:
        x, y = getattr(a.state, name), getattr(b.state, name)
        assert np.array_equal(x, y, equal_nan=True), f"step {t}: state.{name}"
    for name in TRADER_FIELDS:
        x, y = getattr(a.state.trader, name), getattr(b.state.trader, name)
        assert np.array_equal(x, y, equal_nan=True), f"step {t}: trader.{name}"
    for name in VENUE_FIELDS:
        x, y = getattr(a.venue, name), getattr(b.venue, name)
        assert np.array_equal(x, y, equal_nan=True), f"step {t}: venue.{name}"
    assert a.venue.pool == b.venue.pool and a.venue.fund == b.venue.fund, f"step {t}: pool/fund"
    assert a.state.transactions == b.state.transactions, f"step {t}: transactions"


def _lockstep(a: MirrorEngine, b: MirrorEngine, steps: int, before_step=None):
    """Step both engines ``steps`` times, comparing after each; the event kinds seen (counts)
    and the reverts' details."""
    kinds: dict[str, int] = {}
    details: set[str] = set()
    for _ in range(steps):
        if before_step is not None:
            before_step(a, b, a.state.step + 1)
        got, want = a.step(), b.step()
        t = a.state.step
        assert b.state.step == t
        _same_rows(got.rows, want.rows, "rows", t)
        _same_rows(got.events, want.events, "events", t)
        _same_state(a, b, t)
        for e in got.events:
            kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
            if e["kind"].endswith("_reverted"):
                details.add(e["detail"])
    return kinds, details


@pytest.mark.parametrize("event_kinds", [None, EVALUATION_EVENT_KINDS], ids=["all", "evaluation"])
def test_oct_2025_steps_equal_the_actions_path(scenario, event_kinds):
    a, b = _pair(scenario, event_kinds)
    kinds, _ = _lockstep(a, b, scenario.steps + 1)
    assert a.state.step == scenario.steps
    if event_kinds is None:  # the flow's rows were made, by both paths
        assert kinds.get("open", 0) > 1000 and kinds.get("close", 0) > 1000
    assert (a.state.opens[a.flow.rows] > 0).sum() > 100  # the slots traded


def test_drawn_reverts_equal_the_actions_path(scenario):
    """At drawn steps (the same on both engines), drawn flow slots' accounts lose their cross
    collateral: their opens revert (``InsufficientMargin``), some closes too; and a guardian's
    pause is wired (every market's checks Python's: each call made alone, succeeding), some
    steps with a market paused (its opens revert ``RiskPaused``, its closes go through)."""
    a, b = _pair(scenario, None)
    draw = np.random.default_rng(20261205)
    slots = a.flow.rows
    accounts = np.array([a.ctx.index(x) for x in a.flow.accounts])
    n_markets = a.ctx.n_markets

    def perturb(x: MirrorEngine, y: MirrorEngine, t: int) -> None:
        if t < 5:
            return
        pick = draw.choice(len(slots), size=min(len(slots), 40), replace=False)
        drain = draw.random() < 0.3
        pause = draw.random()
        market = int(draw.integers(0, n_markets))
        for engine in (x, y):
            if drain:
                engine.venue.collateral[accounts[pick]] = 0.0
            if pause < 0.3:
                engine.venue.risk_paused = np.zeros(n_markets, dtype=bool)
            elif pause < 0.4:
                engine.venue.risk_paused = np.arange(n_markets) == market
            else:
                engine.venue.risk_paused = None

    kinds, details = _lockstep(a, b, 600, before_step=perturb)
    assert kinds.get("open_reverted", 0) > 10 and kinds.get("close_reverted", 0) > 10
    assert any("RiskPaused" in d for d in details) and any(
        "InsufficientMargin" in d for d in details
    )
    assert kinds.get("open", 0) > 100 and kinds.get("close", 0) > 100
