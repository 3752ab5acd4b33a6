"""``simulator.engine.flow.record_flow_slots`` (the fast mirror's flow rows and slot state from
the calls' arrays) equals ``record_flow_calls`` (from the calls' Actions and their
``PositionModified`` tuples) on drawn blocks: reverts, closes to zero and partial ones, a slot
called twice (the call-by-call branch), with every row kept and with none."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from simulator.engine.context import Action
from simulator.engine.flow import record_flow_calls, record_flow_slots
from simulator.mirror.run import EVALUATION_EVENT_KINDS
from simulator.mirror.sim import MirrorEngine
from simulator.scenario import load_scenario


@pytest.fixture(scope="module")
def engine():
    return MirrorEngine(load_scenario("oct-2025", []), mode="fast")


def _draw_block(rng, run, n_markets, twice: bool):
    n_slots = len(run.rows)
    n_close, n_open = int(rng.integers(0, 6)), int(rng.integers(0, 8))
    slots = rng.choice(n_slots, size=n_close + n_open, replace=False).astype(np.int64)
    if twice and n_close and n_open:  # a slot closes, then opens again
        slots[n_close] = slots[0]
    n = len(slots)
    ok = rng.random(n) < 0.8
    fields = np.empty((n, 7))
    fields[:, 0] = rng.choice([-1.0, 1.0], n) * rng.uniform(1e15, 1e21, n)  # sizeDelta
    fields[:, 1] = rng.uniform(1e18, 1e23, n)  # fill
    fields[:, 2] = np.where(rng.random(n) < 0.7, 0.0, rng.uniform(-1e21, 1e21, n))  # newSize
    fields[:, 3] = rng.uniform(1e18, 1e23, n)  # entryPrice
    fields[:, 4:7] = rng.uniform(-1e20, 1e20, (n, 3))  # realizedPnl, fee, funding
    errors = {k: f"InsufficientMargin(equity={k}, required=1)" for k in np.flatnonzero(~ok)}
    reasons = ("take_profit", "stop_loss", "hold_expired")
    run.close_reasons = {int(run.rows[i]): reasons[int(rng.integers(0, 3))]
                         for i in slots[:n_close]}  # fmt: skip
    return slots, n_close, ok, errors, fields


def _actions_of(ctx, run, slots, n_close, ok, errors, fields):
    actions, oks, errs, modified = [], [], [], []
    for k, i in enumerate(slots.tolist()):
        m = run.market_list[i]
        kind = "flow_close" if k < n_close else "flow_open"
        actions.append(Action(None, kind, run.row_list[i], m))
        oks.append(bool(ok[k]))
        errs.append(errors.get(k))
        modified.append((run.accounts[i], ctx.market_ids[m], *fields[k].tolist()) if ok[k]
                        else None)  # fmt: skip
    return actions, oks, errs, modified


def _same_rows(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert list(a) == list(b)
        for key in a:
            x, y = a[key], b[key]
            assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), key


STATE = ("opens", "opened_step", "outcome", "outcome_step", "realized_pnl_usd",
         "flow_open_size_base", "flow_open_entry_usd")  # fmt: skip


@pytest.mark.parametrize("kept", [True, False], ids=["all-rows", "evaluation"])
@pytest.mark.parametrize("seed", range(12))
def test_record_from_arrays_equals_record_from_actions(engine, seed, kept):
    rng = np.random.default_rng(seed)
    ctx, run = engine.ctx, engine.flow
    ctx.event_kinds = None if kept else EVALUATION_EVENT_KINDS
    rows, twice = 0, 0
    try:
        for step in range(4):
            block = _draw_block(rng, run, ctx.n_markets, twice=seed % 3 == 0)
            slots = block[0]
            twice += len(set(slots.tolist())) < len(slots)
            s_got, s_want = copy.deepcopy(engine.state), copy.deepcopy(engine.state)
            got = record_flow_slots(ctx, s_got, step, run, *block)
            want = record_flow_calls(ctx, s_want, *_actions_of(ctx, run, *block), step, run)
            _same_rows(got, want)
            rows += len(got)
            for name in STATE:
                x, y = getattr(s_got, name), getattr(s_want, name)
                assert np.array_equal(x, y, equal_nan=True), name
            changed = s_got.opens != engine.state.opens
            assert changed.sum() == (block[2] & (np.arange(len(slots)) >= block[1])).sum()
    finally:
        ctx.event_kinds = None
    assert rows > 0  # reverts' rows at least, both modes
    assert twice > 0 or seed % 3 != 0


def test_empty_block_records_nothing(engine):
    s = copy.deepcopy(engine.state)
    empty = np.zeros(0, dtype=np.int64)
    got = record_flow_slots(engine.ctx, s, 3, engine.flow, empty, 0, np.zeros(0, bool), {},
                            np.zeros((0, 7)))  # fmt: skip
    assert got == []
    assert np.array_equal(s.opens, engine.state.opens)
