"""The spot phase in Python floats equals its numpy form to the bit.

:func:`carry_metaorder` (per market in Python floats, now ``tests/prices/impact_reference.py``) is held to its
array form (kept here as the reference) on seeded draws: signs, zeros of both signs, NaN, one
and no market, scalar or per-market volatility and volume. :func:`simulator.engine.spot.plan_spot`
(lists instead of numpy scalars, no arbitrage split without arbitrageurs) is held to its former
body (kept here, with ``swap_call``'s) on every step of small mirror runs with arbitrageurs,
feedback and impact drawn: on the run's state, with the hedger's inventory cut to a tenth, and
with eight drawn sales the hedger's base caps (a capped swap's amount is a numpy scalar, which
:func:`simulator.engine.spot.swap_amount` rounds as numpy does: a Python float's rounding differs
in a few percent of amounts, which these draws catch).
"""

from __future__ import annotations

import copy
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from simulator.engine import spot as engine_spot
from simulator.engine.context import Action
from simulator.engine.oracle import run_oracle_model
from simulator.mirror.sim import MirrorEngine
from simulator.mirror.sim import spot as mirror_spot
from simulator.prices.impact import decay_per_step
from simulator.units import to_units, to_wad

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mirror"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agents"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "prices"))
import liquidity_reference as liquidity  # noqa: E402
from impact_reference import carry_metaorder  # noqa: E402
from mirror_run_helpers import feedback_scenarios, parse  # noqa: E402

SPOT_ARRAYS = ("permanent_log_impact", "transient_log_impact", "metaorder_sale_usd")


# -- the reference forms (the code before session 26's rewrite) ---------------------------------


def _sqrt_impact_log_ref(net_sale_usd, y, sigma_daily, volume_daily_usd):
    q = np.asarray(net_sale_usd, dtype=np.float64)
    return -np.sign(q) * y * np.asarray(sigma_daily) * np.sqrt(np.abs(q) / volume_daily_usd)


def _carry_metaorder_ref(permanent_log, metaorder_usd, net_sale_usd, y, sigma_daily,
                         volume_daily_usd, persistent_share, half_life_steps):  # fmt: skip
    kept = np.asarray(metaorder_usd, dtype=np.float64) * decay_per_step(half_life_steps) ** 2
    total = kept + np.asarray(net_sale_usd, dtype=np.float64)
    before = _sqrt_impact_log_ref(kept, y, sigma_daily, volume_daily_usd)
    after = _sqrt_impact_log_ref(total, y, sigma_daily, volume_daily_usd)
    permanent = permanent_log + persistent_share * (after - before)
    return permanent, (1.0 - persistent_share) * after, total


def _swap_call_ref(ctx, m, agent, swap):
    amount = (
        to_wad(round(swap.amount_in, 12)) if swap.base_in else to_units(round(swap.amount_in, 6))
    )
    amm = ctx.venue.amms[ctx.market_ids[m]]
    return amm.swap(agent, swap.base_in, max(amount, 1), 0, agent)


def _after_swap_ref(reserve_usd, reserve_base, swap, fee):
    k = reserve_usd * reserve_base
    if swap.base_in:
        new_base = reserve_base + swap.amount_in * (1 - fee)
        return k / new_base, reserve_base + swap.amount_in
    new_usd = reserve_usd + swap.amount_in * (1 - fee)
    return reserve_usd + swap.amount_in, k / new_usd


def _plan_spot_ref(ctx, s, t, levels):
    actions = []
    arb = ctx.scenario.arbitrageurs
    model = run_oracle_model(ctx.scenario)
    decay = decay_per_step(model.half_life_steps)
    net_sale_usd = np.zeros(ctx.n_markets)
    fees = np.asarray(ctx.amm_fee, dtype=np.float64).tolist()
    reserves_usd = np.asarray(levels["amm_reserve_usd"], dtype=np.float64).tolist()
    reserves_base = np.asarray(levels["amm_reserve_base"], dtype=np.float64).tolist()
    inventories = s.arb_inventory.transpose(1, 0, 2).tolist()
    for m in range(ctx.n_markets):
        fee = fees[m]
        reserve_usd = reserves_usd[m]
        reserve_base = reserves_base[m]
        if t < len(ctx.exogenous_usd) - 1:
            log_impact = s.permanent_log_impact[m] + s.transient_log_impact[m] * decay
            target = float(ctx.exogenous_usd[t + 1, m]) * math.exp(log_impact)
            swaps = liquidity.arbitrage(
                reserve_usd, reserve_base, fee, target, inventories[m],
                arb.capital_usd * arb.max_trade_fraction,
            )  # fmt: skip
            for n, sw in enumerate(swaps):
                if sw is not None:
                    call = _swap_call_ref(ctx, m, ctx.world.arbitrageurs[n], sw)
                    actions.append(Action(call, "arb", n, m))
                    reserve_usd, reserve_base = _after_swap_ref(reserve_usd, reserve_base, sw, fee)
        net_oi = float(levels["oi_long_base"][m] - levels["oi_short_base"][m])
        price = reserve_usd / reserve_base
        swap = liquidity.hedge(
            net_oi * engine_spot.HEDGE_RATIO, float(s.hedged_base[m]), price,
            *s.hedger_inventory[m],
        )  # fmt: skip
        if swap is not None:
            call = _swap_call_ref(ctx, m, ctx.world.hedger, swap)
            actions.append(Action(call, "hedge", -1, m))
            net_sale_usd[m] = swap.amount_in * price if swap.base_in else -swap.amount_in
    s.permanent_log_impact, s.transient_log_impact, s.metaorder_sale_usd = _carry_metaorder_ref(
        s.permanent_log_impact, s.metaorder_sale_usd, net_sale_usd, model.impact_y,
        model.sigma_daily, model.volume_daily_usd, model.persistent_share, model.half_life_steps,
    )  # fmt: skip
    return actions


# -- checks -------------------------------------------------------------------------------------


def _bits(x: np.ndarray) -> np.ndarray:
    """The float64 bit patterns, every NaN as one (numpy's and Python's NaN signs may differ)."""
    x = np.array(x, dtype=np.float64)
    x[np.isnan(x)] = np.nan
    return np.abs(x).view(np.uint64), np.signbit(x) & ~np.isnan(x)


def _assert_same_floats(got, want) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype == np.float64
    for a, b in zip(_bits(got), _bits(want), strict=True):
        np.testing.assert_array_equal(a, b)


def _draw_sales(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-3, 9, n)
    special = rng.random(n)
    x[special < 0.1] = 0.0
    x[(special >= 0.1) & (special < 0.15)] = -0.0
    return x


@pytest.mark.parametrize("seed", range(40))
def test_carry_metaorder_equals_its_array_form(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.choice([0, 1, 2, 3, 7]))
    permanent = rng.normal(0, 0.05, n)
    metaorder, sale = _draw_sales(rng, n), _draw_sales(rng, n)
    if n and seed % 5 == 0:
        sale[rng.integers(n)] = np.nan
    per_market = bool(rng.random() < 0.7)
    sigma = rng.uniform(0.005, 0.2, n) if per_market else float(rng.uniform(0.005, 0.2))
    volume = 10.0 ** rng.uniform(2, 10, n) if per_market else float(10.0 ** rng.uniform(2, 10))
    args = (float(rng.choice([0.0, 0.5, 1.0, 3.0])), sigma, volume,
            float(rng.choice([0.0, 0.3, 0.5, 1.0])), float(rng.choice([2.0, 30.0, np.inf])))  # fmt: skip
    got = carry_metaorder(permanent, metaorder, sale, *args)
    want = _carry_metaorder_ref(permanent, metaorder, sale, *args)
    for g, w in zip(got, want, strict=True):
        _assert_same_floats(g, w)


def test_carry_metaorder_reads_a_zero_sale_as_numpy_signs_it():
    # -sign(0) is -0.0: the transient impact of no sale at all is -0.0 in both forms.
    got = carry_metaorder(
        np.zeros(2), np.zeros(2), np.array([0.0, -0.0]), 1.0, 0.02, 1e8, 0.5, 30.0
    )
    want = _carry_metaorder_ref(
        np.zeros(2), np.zeros(2), np.array([0.0, -0.0]), 1.0, 0.02, 1e8, 0.5, 30.0
    )
    assert np.signbit(want[1]).all()
    for g, w in zip(got, want, strict=True):
        _assert_same_floats(g, w)


def _check_step(plan_spot, ctx, s, t, levels, checked: list) -> None:
    """``plan_spot`` (the module's) against its former body on copies of ``s``: the run's, one
    whose hedger holds a tenth of what it holds, and one whose hedger must sell more base than
    it holds (its inventory caps the hedge)."""
    capped = copy.copy(s)
    capped.hedger_inventory = s.hedger_inventory * 0.1
    states = [s, capped]
    # Sales capped by the base it holds, drawn (a numpy scalar's rounding to 12 decimals
    # differs from a Python float's in a few percent of amounts).
    rng = np.random.default_rng(t)
    for _ in range(8):
        selling = copy.copy(s)
        selling.hedged_base = s.hedged_base + 1e6
        selling.hedger_inventory = s.hedger_inventory.copy()
        selling.hedger_inventory[:, 1] = 10.0 ** rng.uniform(-4, 5, len(s.hedged_base))
        states.append(selling)
    for state in states:
        mine, theirs = copy.copy(state), copy.copy(state)
        got = plan_spot(ctx, mine, t, levels)
        want = _plan_spot_ref(ctx, theirs, t, levels)
        assert got == want
        for name in SPOT_ARRAYS:
            _assert_same_floats(getattr(mine, name), getattr(theirs, name))
        checked.append((len(got), sum(a.kind == "arb" for a in got)))


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(d=feedback_scenarios())
def test_plan_spot_equals_its_former_body(d, monkeypatch):
    d["arbitrageurs"]["count"] = max(d["arbitrageurs"]["count"], 1)
    d["outside_market"]["volume_scale"] = 1e-3  # the hedger's sales move the outside market
    engine = MirrorEngine(parse(d), mode="fast")
    # The mirror's spot phase plans plan_swaps' rows (plan_spot's, before the calls) with its
    # kernel: each step is checked on the phase's inputs before it runs.
    real_plan, real_phase, checked = engine_spot.plan_spot, mirror_spot.run_phase, []

    def run_phase(ctx, s, book, t, levels):
        _check_step(real_plan, ctx, s, t, levels, checked)
        return real_phase(ctx, s, book, t, levels)

    with monkeypatch.context() as patch:
        patch.setattr(mirror_spot, "run_phase", run_phase)
        engine.run(on_step=lambda outcome: None)
    assert checked and any(n for n, _ in checked)
    assert any(arbs for _, arbs in checked)  # the arbitrageurs traded
