"""The fast mirror's flow block in one compiled batch (:func:`simulator.mirror.sim.flow.
execute_arrays` over :meth:`~simulator.mirror.sim.venue_trades.TradesMixin.flow_step` and
:func:`~simulator.mirror.sim.jit_calls.flow_step`) is held to the form it replaced (session
27's: the deltas from ``to_wad`` in a list, the batch through ``venue.trade_batch``; kept
below): two fast engines on oct-2025 stepped side by side, one with the old form, compared
after every step (the block's arrays bit for bit, the venue's state, ``_open`` order, pool and
fund, the step's rows and events), on blocks where drawn accounts lose their collateral and
a guardian's pause is wired (reverts, calls made alone) and where the opens' sizes are drawn
over the whole range (below and above the compiled conversion's bound, zeros)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.mirror.sim import MirrorEngine, jit_calls, planned
from simulator.mirror.sim import flow as mirror_flow
from simulator.mirror.sim.flow import ArrayBlock, slot_calls
from simulator.scenario import load_scenario
from simulator.units import to_wad

VENUE_FIELDS = ("size", "entry", "snapshot", "margin", "collateral", "long_oi", "short_oi",
                "long_index", "short_index", "fees")  # fmt: skip
STATE_FIELDS = ("opens", "opened_step", "outcome", "outcome_step", "flow_open_size_base",
                "flow_open_entry_usd")  # fmt: skip


def old_execute_arrays(ctx, venue, plan, run) -> ArrayBlock:
    """Session 27's ``execute_arrays`` (the reference)."""
    n = plan.count
    if n == 0 or run is None:
        return ArrayBlock(np.zeros(0, dtype=np.int64), 0, np.zeros(0, dtype=bool), {},
                          np.zeros((0, jit_calls.N_BATCH_OUT)), run)  # fmt: skip
    tab = slot_calls(ctx, run)
    close_calls, open_calls = _slot_call_rows(tab)
    n_close = len(plan.close_slots)
    slots = np.concatenate([plan.close_slots, plan.open_slots]).astype(np.int64, copy=False)
    calls = np.concatenate([close_calls[plan.close_slots], open_calls[plan.open_slots]])
    values = np.zeros((n, 2))
    deltas = [side * to_wad(round(size, 12)) for side, size in
              zip(plan.open_side.tolist(), plan.open_size.tolist(), strict=True)]  # fmt: skip
    values[n_close:, jit_calls.V_DELTA] = [float(d) for d in deltas]
    outs = np.zeros((n, jit_calls.N_BATCH_OUT))
    ok = np.zeros(n, dtype=bool)
    errors: dict[int, str] = {}
    i = 0
    while i < n:
        stop, _ = venue.trade_batch(i, calls, values, outs)
        ok[i:stop] = True
        if stop < n:
            slot = int(slots[stop])
            sender, market_id = run.accounts[slot], tab.market_id[slot]
            if stop < n_close:
                call = planned.Planned("closePosition", sender, market_id)
            else:
                call = planned.Planned("trade", sender, market_id, int(deltas[stop - n_close]))
            result = planned.execute(ctx, venue, call)
            ok[stop] = result.ok
            if result.ok:
                planned.write_values(outs[stop], result.events[-1].args)
            else:
                errors[stop] = result.error
        i = stop + 1
    return ArrayBlock(slots, n_close, ok, errors, outs, run)


def _slot_call_rows(tab) -> tuple[np.ndarray, np.ndarray]:
    """Session 27's ``SlotCalls.close_calls`` / ``open_calls``: each slot's ``closePosition``
    and ``trade`` as rows of :func:`jit_calls.trade_batch`'s ``calls``."""
    account = tab.account
    calls = np.empty((len(account), 3), dtype=np.int64)
    calls[:, jit_calls.C_ACCOUNT] = np.maximum(account, 0)
    calls[:, jit_calls.C_MARKET] = tab.market
    close_calls, open_calls = calls.copy(), calls
    close_calls[:, jit_calls.C_KIND] = np.where(account < 0, jit_calls.K_PYTHON, jit_calls.K_CLOSE)
    open_calls[:, jit_calls.C_KIND] = np.where(account < 0, jit_calls.K_PYTHON, jit_calls.K_TRADE)
    return close_calls, open_calls


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("oct-2025", [])


def _same_block(got: ArrayBlock, want: ArrayBlock, t: int) -> None:
    assert np.array_equal(got.slots, want.slots), f"step {t}: slots"
    assert got.opens_from == want.opens_from
    assert np.array_equal(got.ok, want.ok), f"step {t}: ok"
    assert got.errors == want.errors, f"step {t}: errors"
    assert got.values.tobytes() == want.values.tobytes(), f"step {t}: values"


def _same_venue(a: MirrorEngine, b: MirrorEngine, t: int) -> None:
    for name in VENUE_FIELDS:
        x, y = getattr(a.venue, name), getattr(b.venue, name)
        assert np.array_equal(x, y, equal_nan=True), f"step {t}: venue.{name}"
    for name in STATE_FIELDS:
        assert np.array_equal(getattr(a.state, name), getattr(b.state, name), equal_nan=True)
    va, vb = a.venue, b.venue
    assert type(va.pool) is type(vb.pool) and va.pool == vb.pool, f"step {t}: pool"
    assert type(va.fund) is type(vb.fund) and va.fund == vb.fund, f"step {t}: fund"
    assert va.open_order == vb.open_order, f"step {t}: _open order"
    assert va.version == vb.version, f"step {t}: version"


def _lockstep(scenario, steps, perturb=None, sizes=None, fee_share_bps=0.0):
    """The new form's engine and the old form's, stepped ``steps`` times and compared; the
    blocks' counts (calls, failed ones, calls made alone, sizes above the bound).
    ``fee_share_bps``: the insurance fund's share of the fees, in every market of both (0 in
    oct-2025: the fund's side of the batch is then not exercised)."""
    a = MirrorEngine(scenario, mode="fast")
    b = MirrorEngine(scenario, mode="fast")
    for engine in (a, b):
        engine.venue.markets.insurance_fee_share_bps[:] = fee_share_bps
        engine.venue._jit_cache = None  # the kernels' packed parameters, packed again
    blocks: dict[int, ArrayBlock] = {}
    seen = {"calls": 0, "failed": 0, "big": 0}
    fund = a.venue.fund
    real_execute, real_plan = mirror_flow.execute_arrays, mirror_flow.engine_flow.plan_arrays

    def execute(ctx, venue, plan, run):
        form = old_execute_arrays if venue is b.venue else real_execute
        block = blocks[id(venue)] = form(ctx, venue, plan, run)
        return block

    def plan(ctx, s, t, last, run, unfilled):
        got = real_plan(ctx, s, t, last, run, unfilled)
        if sizes is None or not len(got.open_size):
            return got
        return got._replace(open_size=sizes(t, len(got.open_size)))

    mirror_flow.execute_arrays = execute
    mirror_flow.engine_flow.plan_arrays = plan
    try:
        for _ in range(steps):
            t = a.state.step + 1
            if perturb is not None:
                perturb(a, b, t)
            got, want = a.step(), b.step()
            ga, gb = blocks.pop(id(a.venue)), blocks.pop(id(b.venue))
            _same_block(ga, gb, t)
            assert got.rows == want.rows and len(got.events) == len(want.events)
            for x, y in zip(got.events, want.events, strict=True):
                assert x.keys() == y.keys() and all(
                    x[k] == y[k] or (x[k] != x[k] and y[k] != y[k]) for k in x
                ), f"step {t}"
            _same_venue(a, b, t)
            seen["calls"] += ga.count
            seen["failed"] += int((~ga.ok).sum())
            if len(ga.slots) > ga.opens_from:
                big = np.abs(ga.values[ga.opens_from :, jit_calls.T_DELTA]) >= 8192e18
                seen["big"] += int(big.sum())
    finally:
        mirror_flow.execute_arrays = real_execute
        mirror_flow.engine_flow.plan_arrays = real_plan
    seen["fund_moved"] = a.venue.fund != fund
    return seen


def test_the_batch_equals_the_old_form_on_oct_2025(scenario):
    seen = _lockstep(scenario, 400, fee_share_bps=2500.0)
    assert seen["calls"] > 1000 and seen["big"] > 50 and seen["fund_moved"]


def test_the_batch_equals_the_old_form_with_reverts_and_pauses(scenario):
    draw = np.random.default_rng(20261205)
    n_markets = 3

    def perturb(a: MirrorEngine, b: MirrorEngine, t: int) -> None:
        if t < 5:
            return
        accounts = np.array([a.ctx.index(x) for x in a.flow.accounts])
        pick = draw.choice(len(accounts), size=min(len(accounts), 40), replace=False)
        drain, pause = draw.random() < 0.3, draw.random()
        market = int(draw.integers(0, n_markets))
        for engine in (a, b):
            if drain:
                engine.venue.collateral[accounts[pick]] = 0.0
            if pause < 0.2:
                engine.venue.risk_paused = np.zeros(engine.ctx.n_markets, dtype=bool)
            elif pause < 0.3:
                engine.venue.risk_paused = np.arange(engine.ctx.n_markets) == market
            else:
                engine.venue.risk_paused = None

    seen = _lockstep(scenario, 250, perturb=perturb)
    assert seen["failed"] > 10 and seen["calls"] > 500


def test_the_batch_equals_the_old_form_on_drawn_sizes(scenario):
    """The opens' sizes drawn log-uniform over 1e-14 .. 1e7 base units, some 0 (a trade of
    0: ``ZeroAmount``, made alone), some exactly at the bound."""
    draw = np.random.default_rng(5)

    drawn: dict[int, np.ndarray] = {}

    def sizes(t: int, n: int) -> np.ndarray:  # the same for both engines
        if t not in drawn:
            out = 10 ** draw.uniform(-14, 7, n)
            out[draw.random(n) < 0.1] = 0.0
            out[draw.random(n) < 0.05] = 8192.0
            drawn[t] = out
        return drawn[t]

    seen = _lockstep(scenario, 150, sizes=sizes)
    assert seen["calls"] > 300 and seen["failed"] > 0 and seen["big"] > 10
