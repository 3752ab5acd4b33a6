"""The mirror's spot phase on planned rows equals its former form on every step of small runs.

:func:`simulator.mirror.sim.spot.run_phase` (the kernel's rows executed by
:meth:`~simulator.mirror.sim.spot.SpotBook.swap_rows`, the inventories moved by
:func:`~simulator.engine.jit_spot.apply_fills`; since session 28 in one compiled call,
:mod:`simulator.mirror.jit_amm`) is held to the phase before session 27 (kept here:
:func:`simulator.engine.spot.plan_spot`'s calls, each through
:meth:`~simulator.mirror.sim.spot.IntBook.execute` on the pools in Python ints, the inventories by
:func:`simulator.engine.events.update_inventories`) on copies of the run's state and pools:
the run's own, and one whose hedger's inventory is cut to 1e-6 and its tokens to 1e-7 (its
swaps are capped, and go beyond the tokens it holds and revert). Compared: the calls sent, the
pools' reserves and every token balance to the unit, the inventories and impacts to the bit.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings

from simulator.engine import events as engine_events
from simulator.engine import spot as engine_spot
from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim import spot as mirror_spot
from simulator.scenario import load_scenario

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mirror_run_helpers import feedback_scenarios, parse  # noqa: E402

SPOT_ARRAYS = ("arb_inventory", "hedger_inventory", "hedged_base", "permanent_log_impact",
               "transient_log_impact", "metaorder_sale_usd")  # fmt: skip


def _run_phase_ref(ctx, s, book, t, inputs):
    """The phase before session 27."""
    actions = engine_spot.plan_spot(ctx, s, t, inputs)
    results = [book.execute(a.call) for a in actions]
    engine_events.update_inventories(s, results, actions)
    return len(actions), sum(not r.ok for r in results)


def _copies(s, book, hedger: str, poor: bool, compiled: bool):
    """A copy of the state and of the book: a :class:`~simulator.mirror.sim.spot.SpotBook`
    (``compiled``) or the Python ints it holds (:class:`~simulator.mirror.sim.spot.IntBook`,
    the form before session 28)."""
    state = copy.copy(s)
    for name in SPOT_ARRAYS:
        setattr(state, name, getattr(s, name).copy())
    pools = copy.deepcopy(book.ints())
    if poor:  # 1e-6 of its inventory, 1e-7 of its tokens: capped swaps, reverts
        state.hedger_inventory *= 1e-6
        pools.collateral[hedger] = pools.collateral.get(hedger, 0) // 10**7
        for key in [k for k in pools.base if k[0] == hedger]:
            pools.base[key] //= 10**7
    if compiled:
        pools = mirror_spot.SpotBook(pools, book.holders)
    return state, pools


def _held(book) -> tuple:
    """A book's reserves, fees and nonzero balances, as integers."""
    ints = book.ints() if isinstance(book, mirror_spot.SpotBook) else book
    return (ints.reserve_collateral, ints.reserve_base, list(ints.fee_bps),
            {k: v for k, v in ints.collateral.items() if v},
            {k: v for k, v in ints.base.items() if v})  # fmt: skip


def _bits(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    return np.where(np.isnan(a), np.nan, a).view(np.uint64)


def _check(real, ctx, s, book, t, inputs, seen: list) -> None:
    for poor in (False, True):
        mine_s, mine_book = _copies(s, book, ctx.world.hedger, poor, compiled=True)
        ref_s, ref_book = _copies(s, book, ctx.world.hedger, poor, compiled=False)
        sent = real(ctx, mine_s, mine_book, t, inputs)
        want, reverted = _run_phase_ref(ctx, ref_s, ref_book, t, inputs)
        assert sent == want
        assert _held(mine_book) == _held(ref_book)  # reserves and every balance, as integers
        assert mine_book.python_swaps == 0  # every swap compiled
        for name in SPOT_ARRAYS:
            np.testing.assert_array_equal(
                _bits(getattr(mine_s, name)), _bits(getattr(ref_s, name)), err_msg=name
            )
        seen.append((poor, sent, reverted))


def _run(scenario, monkeypatch) -> list:
    engine = MirrorEngine(scenario, mode="fast")
    real, seen = mirror_spot.run_phase, []

    def run_phase(ctx, s, book, t, inputs):
        _check(real, ctx, s, book, t, inputs, seen)
        return real(ctx, s, book, t, inputs)

    with monkeypatch.context() as patch:
        patch.setattr(mirror_spot, "run_phase", run_phase)
        engine.run(on_step=lambda outcome: None)
    return seen


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(d=feedback_scenarios())
def test_run_phase_equals_its_former_form(d, monkeypatch):
    d["arbitrageurs"]["count"] = max(d["arbitrageurs"]["count"], 1)
    d["outside_market"]["volume_scale"] = 1e-3  # the hedger's sales move the outside market
    seen = _run(parse(d), monkeypatch)
    assert seen and any(sent for _, sent, _ in seen)


def test_run_phase_equals_its_former_form_on_oct_2025(monkeypatch):
    """oct-2025's first 200 steps (three arbitrageurs, five pools): the poorer hedger's
    swaps revert beyond its tokens."""
    seen = _run(load_scenario("oct-2025").model_copy(update={"steps": 200}), monkeypatch)
    assert any(sent for poor, sent, _ in seen if not poor)
    assert any(reverted for poor, _, reverted in seen if poor)
